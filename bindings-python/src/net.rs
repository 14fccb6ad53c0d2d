//! The transport (meshtls-net) for asyncio: a hot-swappable identity, `wss://` and raw mTLS
//! streams over rustls + tokio. Keys stay in memory; rotation changes new handshakes only.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use meshtls_core::PeerIdentity as CorePeer;
use meshtls_net::{
    Identity as NetIdentity, IdentityHandle, MtlsClient, MtlsListener, MtlsServer, MtlsStream,
    TrustHandle, WsListener, WsPeer, WsStream,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyType};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{Mutex as AsyncMutex, Notify};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::bridge::{self, io_failure, Failure};
use crate::certificate::Certificate;
use crate::encoding::{self, to_bytes};
use crate::error::to_py;
use crate::issue::Issued;
use crate::runtime;
use crate::trust::trust_handle;
use crate::verify::{PeerIdentity, Verifier};

/// Our certificate chain and private key, replaceable while connections run: `replace()`
/// changes what new handshakes present and leaves open connections alone. The key lives in
/// the handle's current `meshtls_net::Identity`, nowhere else.
#[pyclass(frozen, subclass, module = "meshtls._native")]
pub struct Identity {
    handle: IdentityHandle,
}

impl Identity {
    /// The handle behind this identity (its current chain and key).
    pub(crate) fn handle(&self) -> &IdentityHandle {
        &self.handle
    }

    /// An identity whose handle is kept current elsewhere (an enrolled identity renewed by
    /// meshtls-enroll): every read follows the handle.
    pub(crate) fn from_handle(handle: IdentityHandle) -> Self {
        Identity { handle }
    }
}

/// A handle to share, passed to `Identity(...)` so that the Python subclass
/// (`meshtls.Identity`) can wrap a handle renewed in Rust. Not exported by the module.
#[pyclass(frozen, module = "meshtls._native")]
pub(crate) struct SharedHandle {
    pub(crate) handle: IdentityHandle,
}

fn load(
    py: Python<'_>,
    chain: &Bound<'_, PyAny>,
    key: Option<&Bound<'_, PyAny>>,
    passphrase: Option<&str>,
) -> PyResult<NetIdentity> {
    let key = key.filter(|k| !k.is_none());
    if let (Ok(issued), None) = (chain.cast::<Issued>(), key) {
        let issued = &issued.get().inner;
        return py
            .detach(|| NetIdentity::from_issued(issued))
            .map_err(to_py);
    }
    let Some(key) = key else {
        return Err(PyTypeError::new_err(
            "a private key is needed (or pass an Issued with its generated key)",
        ));
    };
    let chain = encoding::chain(chain, "chain")?;
    let key = encoding::private_key(key, passphrase)?;
    py.detach(move || NetIdentity::from_der(chain, key))
        .map_err(to_py)
}

#[pymethods]
impl Identity {
    /// `Identity(chain, key, passphrase=None)`: the chain leaf first (PEM, DER or a list), the
    /// leaf's private key (PEM or PKCS#8 DER; encrypted PEM with `passphrase`).
    /// `Identity(issued)` takes an `Issued` with its generated key.
    #[new]
    #[pyo3(signature = (chain, key=None, passphrase=None))]
    fn new(
        py: Python<'_>,
        chain: &Bound<'_, PyAny>,
        key: Option<&Bound<'_, PyAny>>,
        passphrase: Option<&str>,
    ) -> PyResult<Self> {
        if let (Ok(shared), None) = (chain.cast::<SharedHandle>(), key) {
            return Ok(Identity::from_handle(shared.get().handle.clone()));
        }
        let identity = load(py, chain, key, passphrase)?;
        Ok(Identity::from_handle(IdentityHandle::new(identity)))
    }

    /// The identity of an `Issued` certificate with its generated key.
    #[classmethod]
    fn from_issued<'py>(
        cls: &Bound<'py, PyType>,
        issued: &Bound<'py, Issued>,
    ) -> PyResult<Bound<'py, PyAny>> {
        cls.call1((issued,))
    }

    /// Replaces the chain and key (or an `Issued`) for every new handshake; open connections
    /// keep theirs.
    #[pyo3(signature = (chain, key=None, passphrase=None))]
    fn replace(
        &self,
        py: Python<'_>,
        chain: &Bound<'_, PyAny>,
        key: Option<&Bound<'_, PyAny>>,
        passphrase: Option<&str>,
    ) -> PyResult<()> {
        let identity = load(py, chain, key, passphrase)?;
        self.handle.replace(identity);
        Ok(())
    }

    /// Bumped by every `replace()`.
    #[getter]
    fn generation(&self) -> u64 {
        self.handle.generation()
    }

    /// The current chain, PEM, leaf first.
    #[getter]
    fn chain_pem(&self) -> PyResult<String> {
        Ok(self
            .handle
            .current()
            .chain()
            .iter()
            .map(|c| meshtls_core::encoding::cert_pem(c))
            .collect())
    }

    /// The current chain, DER, leaf first.
    #[getter]
    fn chain_der<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        Ok(self
            .handle
            .current()
            .chain()
            .iter()
            .map(|c| to_bytes(py, c))
            .collect())
    }

    /// The current leaf, parsed.
    #[getter]
    fn leaf(&self) -> PyResult<Certificate> {
        self.handle
            .current()
            .leaf()
            .map(Certificate::from_core)
            .map_err(to_py)
    }

    /// `(generation, chain_pem, key_pem)` of one generation, the key as PKCS#8 PEM
    /// encrypted with `passphrase` when given. For the stdlib `ssl` integration, which can
    /// only load keys from files; read together so a renewal in between cannot pair a chain
    /// with another generation's key.
    #[pyo3(signature = (passphrase=None))]
    fn _ssl_material(
        &self,
        py: Python<'_>,
        passphrase: Option<&str>,
    ) -> PyResult<(u64, String, String)> {
        // Generation first: a renewal in between makes the generation look older than the
        // material, so the caller reloads once more, never less.
        let generation = self.handle.generation();
        let current = self.handle.current();
        let chain_pem = current
            .chain()
            .iter()
            .map(|c| meshtls_core::encoding::cert_pem(c))
            .collect();
        let key_pem = match passphrase {
            None => encoding::key_pem(current.key_pkcs8_der()),
            Some(p) => {
                let p = p.to_owned();
                py.detach(move || {
                    meshtls_core::encoding::encrypt_private_key(current.key_pkcs8_der(), &p)
                })
                .map(|k| k.0)
                .map_err(to_py)?
            }
        };
        Ok((generation, chain_pem, key_pem))
    }

    fn __repr__(&self) -> String {
        format!("<Identity generation={}>", self.handle.generation())
    }
}

/// Handshake failures a server keeps for inspection (most recent last).
const FAILURES_KEPT: usize = 64;

type Failures = Arc<Mutex<VecDeque<(Option<String>, String)>>>;

fn server_config(
    identity: &Identity,
    verifier: &Bound<'_, PyAny>,
    failures: &Failures,
) -> PyResult<(MtlsServer, TrustHandle)> {
    let trust = trust_handle(verifier)?;
    let sink = failures.clone();
    let server = MtlsServer::builder(identity.handle.clone(), trust.clone())
        .on_handshake_error(move |f| {
            if let Ok(mut list) = sink.lock() {
                if list.len() == FAILURES_KEPT {
                    list.pop_front();
                }
                list.push_back((f.code().map(|c| c.as_str().to_owned()), f.to_string()));
            }
        })
        .build()
        .map_err(to_py)?;
    Ok((server, trust))
}

fn client_config(identity: &Identity, verifier: &Bound<'_, PyAny>) -> PyResult<MtlsClient> {
    MtlsClient::builder(identity.handle.clone(), trust_handle(verifier)?)
        .build()
        .map_err(to_py)
}

/// How long close() waits for the peer's close frame and for the TLS shutdown.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A WebSocket message: `str` for text frames, `bytes` for binary frames.
#[derive(IntoPyObject)]
enum Received {
    Text(String),
    Binary(Vec<u8>),
}

/// An open `wss://` connection over mTLS. `await send(str | bytes)`, `await recv()`,
/// `await close()`; `peer_identity` is the peer the core verified.
#[pyclass(frozen, module = "meshtls._native")]
pub struct WsConnection {
    // None once closed: close() reunites the halves to shut the TLS stream down.
    sink: Arc<AsyncMutex<Option<SplitSink<WsStream, Message>>>>,
    stream: Arc<AsyncMutex<Option<SplitStream<WsStream>>>>,
    peer: Option<CorePeer>,
    bearer_subject: Option<String>,
}

impl WsConnection {
    fn new(ws: WsStream, peer: Option<CorePeer>, bearer_subject: Option<String>) -> Self {
        let (sink, stream) = ws.split();
        WsConnection {
            sink: Arc::new(AsyncMutex::new(Some(sink))),
            stream: Arc::new(AsyncMutex::new(Some(stream))),
            peer,
            bearer_subject,
        }
    }
}

fn ws_error(e: tokio_tungstenite::tungstenite::Error) -> Failure {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => Failure::Closed("the WebSocket is closed"),
        E::Io(io) => io_failure(io),
        other => io_failure(std::io::Error::other(other)),
    }
}

#[pymethods]
impl WsConnection {
    /// Sends a text (`str`) or binary (`bytes`) message.
    fn send<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let message = if let Ok(s) = data.cast::<PyString>() {
            Message::text(s.to_cow()?.into_owned())
        } else if let Ok(b) = data.cast::<PyBytes>() {
            Message::binary(b.as_bytes().to_vec())
        } else {
            return Err(PyTypeError::new_err(format!(
                "send() takes str or bytes, got {}",
                data.get_type().name()?
            )));
        };
        let sink = self.sink.clone();
        bridge::spawn(py, async move {
            let mut sink = sink.lock().await;
            let sink = sink
                .as_mut()
                .ok_or(Failure::Closed("the WebSocket is closed"))?;
            sink.send(message).await.map_err(ws_error)
        })
    }

    /// The next message (`str` or `bytes`); raises `ConnectionClosed` when the peer closed.
    fn recv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        bridge::spawn(py, async move {
            let mut stream = stream.lock().await;
            let stream = stream
                .as_mut()
                .ok_or(Failure::Closed("the WebSocket is closed"))?;
            loop {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => return Ok(Received::Text(t.to_string())),
                    Some(Ok(Message::Binary(b))) => return Ok(Received::Binary(b.to_vec())),
                    Some(Ok(Message::Close(_))) | None => {
                        return Err(Failure::Closed("the peer closed the WebSocket"))
                    }
                    Some(Ok(_)) => continue, // ping/pong: answered by tungstenite
                    Some(Err(e)) => return Err(ws_error(e)),
                }
            }
        })
    }

    /// Sends a close frame (`code`, `reason`), waits (bounded) for the peer's close frame,
    /// then shuts the TLS stream down. Closing twice is harmless.
    #[pyo3(signature = (code=1000, reason=String::new()))]
    fn close<'py>(
        &self,
        py: Python<'py>,
        code: u16,
        reason: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (sink, stream) = (self.sink.clone(), self.stream.clone());
        bridge::spawn(py, async move {
            let mut sink = sink.lock().await;
            if let Some(s) = sink.as_mut() {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                };
                // Errors mean the peer already closed: nothing left to tell it.
                let _ = s.send(Message::Close(Some(frame))).await;
                let _ = s.flush().await;
            }
            // A pending recv() ends when the peer's close frame arrives; then drain to it.
            let drained = tokio::time::timeout(CLOSE_TIMEOUT, async {
                let mut stream = stream.lock().await;
                if let Some(st) = stream.as_mut() {
                    while let Some(Ok(msg)) = st.next().await {
                        if msg.is_close() {
                            break;
                        }
                    }
                }
                stream.take()
            })
            .await;
            if let (Some(sink_half), Ok(Some(stream_half))) = (sink.take(), drained) {
                if let Ok(mut ws) = sink_half.reunite(stream_half) {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.get_mut().shutdown()).await;
                }
            }
            Ok(())
        })
    }

    /// The peer as the core verified it (None for a bearer-token client in hybrid mode).
    #[getter]
    fn peer_identity(&self) -> Option<PeerIdentity> {
        self.peer.clone().map(|inner| PeerIdentity { inner })
    }

    /// The subject a bearer-token validator returned (hybrid mode), else None.
    #[getter]
    fn bearer_subject(&self) -> Option<String> {
        self.bearer_subject.clone()
    }
}

/// Connects to `wss://host:port/path` over mTLS; resolves to a `WsConnection` whose
/// `peer_identity` is the server the core verified.
#[pyfunction]
pub fn connect_ws<'py>(
    py: Python<'py>,
    url: String,
    identity: &Identity,
    verifier: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let client = client_config(identity, verifier)?;
    bridge::spawn(py, async move {
        let (ws, peer) = meshtls_net::ws::connect(&client, &url)
            .await
            .map_err(io_failure)?;
        Ok(WsConnection::new(ws, Some(peer), None))
    })
}

struct Shutdown {
    closed: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    fn new() -> Arc<Self> {
        Arc::new(Shutdown {
            closed: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
    /// Runs `work` unless the server closes first.
    async fn guard<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.closed.load(Ordering::Acquire) {
            return Err(Failure::Closed("the server is closed"));
        }
        tokio::select! {
            r = work => r,
            _ = notified => Err(Failure::Closed("the server is closed")),
        }
    }
}

/// A `wss://` mTLS listener: `await accept()` yields `WsConnection`s whose client the core
/// verified; `handshake_failures()` lists rejected handshakes with their core code.
#[pyclass(frozen, module = "meshtls._native")]
pub struct WsServer {
    listener: Arc<AsyncMutex<Option<WsListener>>>,
    shutdown: Arc<Shutdown>,
    failures: Failures,
    trust: TrustHandle,
    #[pyo3(get)]
    port: u16,
    #[pyo3(get)]
    host: String,
}

/// Binds a `wss://` mTLS listener on `host:port` (port 0 picks a free port).
#[pyfunction]
pub fn bind_ws<'py>(
    py: Python<'py>,
    host: String,
    port: u16,
    identity: &Identity,
    verifier: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let failures: Failures = Arc::default();
    let (server, trust) = server_config(identity, verifier, &failures)?;
    bridge::spawn(py, async move {
        let listener = WsListener::bind((host.as_str(), port), server)
            .await
            .map_err(io_failure)?;
        let addr = listener.local_addr();
        Ok(WsServer {
            listener: Arc::new(AsyncMutex::new(Some(listener))),
            shutdown: Shutdown::new(),
            failures,
            trust,
            port: addr.port(),
            host: addr.ip().to_string(),
        })
    })
}

/// Wakes pending accepts and drops the listener (on the runtime, where its lock lives).
fn close_listener<L: Send + 'static>(
    shutdown: &Shutdown,
    listener: &Arc<AsyncMutex<Option<L>>>,
) -> PyResult<()> {
    shutdown.close();
    let listener = listener.clone();
    runtime::get()?.spawn(async move {
        listener.lock().await.take();
    });
    Ok(())
}

fn failures_of(f: &Failures) -> Vec<(Option<String>, String)> {
    f.lock()
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default()
}

#[pymethods]
impl WsServer {
    /// The next verified connection; raises `ConnectionClosed` once the server is closed.
    fn accept<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let listener = self.listener.clone();
        let shutdown = self.shutdown.clone();
        bridge::spawn(py, async move {
            shutdown
                .guard(async {
                    let mut guard = listener.lock().await;
                    let l = guard
                        .as_mut()
                        .ok_or(Failure::Closed("the server is closed"))?;
                    let (ws, peer) = l.accept().await.map_err(io_failure)?;
                    Ok(match peer {
                        WsPeer::Mtls(p) => WsConnection::new(ws, Some(p), None),
                        WsPeer::Bearer(b) => WsConnection::new(ws, None, Some(b.subject)),
                    })
                })
                .await
        })
    }

    /// Stops accepting (open connections stay open).
    fn close(&self) -> PyResult<()> {
        close_listener(&self.shutdown, &self.listener)
    }

    /// Replaces the verifier for new handshakes (new CA bundle, new CRL, new policy). On a
    /// server bound with a `Trust` this is that trust's `replace()`.
    fn replace_verifier(&self, verifier: &Verifier) {
        self.trust.replace(verifier.inner.clone());
    }

    /// Recent rejected handshakes: `(code or None, message)`, oldest first.
    fn handshake_failures(&self) -> Vec<(Option<String>, String)> {
        failures_of(&self.failures)
    }
}

/// A raw mTLS byte stream: `await read(n)`, `await write(data)`, `await close()`.
#[pyclass(frozen, module = "meshtls._native")]
pub struct TlsStream {
    reader: Arc<AsyncMutex<ReadHalf<MtlsStream>>>,
    writer: Arc<AsyncMutex<WriteHalf<MtlsStream>>>,
    peer: Option<CorePeer>,
}

impl TlsStream {
    fn new(stream: MtlsStream) -> Self {
        let peer = stream.peer_identity().cloned();
        let (r, w) = tokio::io::split(stream);
        TlsStream {
            reader: Arc::new(AsyncMutex::new(r)),
            writer: Arc::new(AsyncMutex::new(w)),
            peer,
        }
    }
}

#[pymethods]
impl TlsStream {
    /// Up to `n` bytes; `b""` at end of stream.
    #[pyo3(signature = (n=65536))]
    fn read<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
        let reader = self.reader.clone();
        bridge::spawn(py, async move {
            let mut buf = vec![0u8; n.max(1)];
            let got = reader
                .lock()
                .await
                .read(&mut buf)
                .await
                .map_err(io_failure)?;
            buf.truncate(got);
            Ok(buf)
        })
    }

    /// Writes all of `data` and flushes.
    fn write<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyBytes>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let data = data.as_bytes().to_vec();
        let writer = self.writer.clone();
        bridge::spawn(py, async move {
            let mut w = writer.lock().await;
            w.write_all(&data).await.map_err(io_failure)?;
            w.flush().await.map_err(io_failure)
        })
    }

    /// Sends close_notify and shuts the write side.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let writer = self.writer.clone();
        bridge::spawn(py, async move {
            let _ = writer.lock().await.shutdown().await;
            Ok(())
        })
    }

    #[getter]
    fn peer_identity(&self) -> Option<PeerIdentity> {
        self.peer.clone().map(|inner| PeerIdentity { inner })
    }
}

/// Connects over mTLS to `host:port` (`server_name` for SNI, default `host`).
#[pyfunction]
#[pyo3(signature = (host, port, identity, verifier, server_name=None))]
pub fn connect_tls<'py>(
    py: Python<'py>,
    host: String,
    port: u16,
    identity: &Identity,
    verifier: &Bound<'py, PyAny>,
    server_name: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let client = client_config(identity, verifier)?;
    bridge::spawn(py, async move {
        let name = server_name.unwrap_or_else(|| host.clone());
        let stream = client
            .connect((host.as_str(), port), &name)
            .await
            .map_err(io_failure)?;
        Ok(TlsStream::new(stream))
    })
}

/// A raw mTLS listener: `await accept()` yields verified `TlsStream`s.
#[pyclass(frozen, module = "meshtls._native")]
pub struct TlsServer {
    listener: Arc<AsyncMutex<Option<MtlsListener>>>,
    shutdown: Arc<Shutdown>,
    failures: Failures,
    trust: TrustHandle,
    #[pyo3(get)]
    port: u16,
    #[pyo3(get)]
    host: String,
}

/// Binds a raw mTLS listener on `host:port` (port 0 picks a free port).
#[pyfunction]
pub fn bind_tls<'py>(
    py: Python<'py>,
    host: String,
    port: u16,
    identity: &Identity,
    verifier: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let failures: Failures = Arc::default();
    let (server, trust) = server_config(identity, verifier, &failures)?;
    bridge::spawn(py, async move {
        let listener = MtlsListener::bind((host.as_str(), port), server)
            .await
            .map_err(io_failure)?;
        let addr = listener.local_addr();
        Ok(TlsServer {
            listener: Arc::new(AsyncMutex::new(Some(listener))),
            shutdown: Shutdown::new(),
            failures,
            trust,
            port: addr.port(),
            host: addr.ip().to_string(),
        })
    })
}

#[pymethods]
impl TlsServer {
    /// The next verified stream; raises `ConnectionClosed` once the server is closed.
    fn accept<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let listener = self.listener.clone();
        let shutdown = self.shutdown.clone();
        bridge::spawn(py, async move {
            shutdown
                .guard(async {
                    let mut guard = listener.lock().await;
                    let l = guard
                        .as_mut()
                        .ok_or(Failure::Closed("the server is closed"))?;
                    let stream = l.accept().await.map_err(io_failure)?;
                    Ok(TlsStream::new(stream))
                })
                .await
        })
    }

    /// Stops accepting (open streams stay open).
    fn close(&self) -> PyResult<()> {
        close_listener(&self.shutdown, &self.listener)
    }

    /// Replaces the verifier for new handshakes (on a `Trust`'s server, its `replace()`).
    fn replace_verifier(&self, verifier: &Verifier) {
        self.trust.replace(verifier.inner.clone());
    }

    /// Recent rejected handshakes: `(code or None, message)`, oldest first.
    fn handshake_failures(&self) -> Vec<(Option<String>, String)> {
        failures_of(&self.failures)
    }
}
