//! The transport edge (`meshtls-net`): a swappable identity shared by Node's TLS stacks
//! (`lib/tls.js` reads its PEM and generation) and the native rustls transport.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use meshtls_core::encoding as core_enc;
use meshtls_net::{Identity as NetIdentity, IdentityHandle};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::encoding::{bytes, Input};
use crate::error::{edge, IntoJs, JsResult};
use crate::issue::Issued;

/// Our certificate chain and key, swappable while servers run: `update()` changes what new
/// handshakes present and leaves open connections alone.
///
/// One copy only: the chain and key are read from the handle's current identity, so an
/// identity renewed in Rust (an enrolled one) hands Node's TLS stacks the renewed pair.
#[napi]
pub struct Identity {
    pub(crate) handle: IdentityHandle,
}

/// The chain and key of one generation, read together (what Node's `cert` and `key` take).
#[napi(object)]
pub struct IdentityPem {
    /// The chain, leaf first, PEM.
    pub chain_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

fn load(chain: &[u8], key: &[u8]) -> JsResult<NetIdentity> {
    let chain_der = core_enc::parse_certificates(chain).js()?;
    let key_der = core_enc::parse_private_key(key).js()?;
    NetIdentity::from_der(chain_der, key_der).js()
}

fn from_source(
    source: &Either3<ClassInstance<Issued>, String, Uint8Array>,
    key: Option<Input>,
) -> JsResult<NetIdentity> {
    match source {
        Either3::A(issued) => {
            if key.is_some() {
                return Err(edge(
                    meshtls_core::ErrorCode::InvalidRequest,
                    "an Issued carries its key: pass no separate key",
                ));
            }
            let key = issued.inner.key_der.as_ref().ok_or_else(|| {
                edge(
                    meshtls_core::ErrorCode::InvalidRequest,
                    "issued from a CSR: this Issued has no private key",
                )
            })?;
            load(issued.inner.chain_pem.as_bytes(), key)
        }
        Either3::B(_) | Either3::C(_) => {
            let chain = match source {
                Either3::B(s) => s.as_bytes().to_vec(),
                Either3::C(b) => b.to_vec(),
                Either3::A(_) => Vec::new(),
            };
            let key = key.ok_or_else(|| {
                edge(
                    meshtls_core::ErrorCode::InvalidRequest,
                    "a certificate chain needs its private key",
                )
            })?;
            load(&chain, &bytes(&key))
        }
    }
}

impl Identity {
    /// An identity whose handle is renewed elsewhere (an enrolled identity).
    pub(crate) fn from_handle(handle: IdentityHandle) -> Self {
        Identity { handle }
    }
}

#[napi]
impl Identity {
    /// An identity from an `Issued` (with its generated key), or from a chain (leaf first) and
    /// its private key, each PEM text or PEM/DER bytes. A key that does not match the leaf is
    /// refused.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        source: Either3<ClassInstance<Issued>, String, Uint8Array>,
        key: Option<Input>,
    ) -> napi::Result<Self> {
        Ok(Identity {
            handle: IdentityHandle::new(from_source(&source, key)?),
        })
    }

    /// Swaps in a renewed certificate and key (same forms as the constructor). New handshakes
    /// present it; established connections keep theirs.
    #[napi(catch_unwind)]
    pub fn update(
        &self,
        source: Either3<ClassInstance<Issued>, String, Uint8Array>,
        key: Option<Input>,
    ) -> napi::Result<()> {
        self.handle.replace(from_source(&source, key)?);
        Ok(())
    }

    /// The chain presented (leaf first), PEM.
    #[napi(getter, catch_unwind)]
    pub fn chain_pem(&self) -> String {
        self.handle.current().chain_pem()
    }

    /// The private key, PKCS#8 PEM.
    #[napi(getter, catch_unwind)]
    pub fn key_pem(&self) -> String {
        self.handle.current().key_pem().to_string()
    }

    /// The chain and key of the same generation: read both through this when the identity may
    /// be renewed in between (an enrolled identity renews on a tokio thread).
    #[napi(catch_unwind)]
    pub fn pem(&self) -> IdentityPem {
        let current = self.handle.current();
        IdentityPem {
            chain_pem: current.chain_pem(),
            key_pem: current.key_pem().to_string(),
        }
    }

    /// Grows by one at each `update()` or renewal: Node servers compare it to refresh their
    /// context.
    #[napi(getter, catch_unwind)]
    pub fn generation(&self) -> f64 {
        self.handle.generation() as f64
    }

    /// The leaf, parsed.
    #[napi(getter, catch_unwind)]
    pub fn certificate(&self) -> napi::Result<Certificate> {
        Ok(Certificate::new(self.handle.current().leaf().js()?))
    }
}

/// A `Verifier` (a snapshot, fixed for the server's or client's life) or a `Trust` (live: each
/// handshake verifies with its current verifier).
pub type VerifierOrTrust<'a> =
    Either<ClassInstance<'a, crate::verify::Verifier>, ClassInstance<'a, crate::trust::Trust>>;

fn trust_handle(v: &VerifierOrTrust) -> meshtls_net::TrustHandle {
    match v {
        Either::A(verifier) => meshtls_net::TrustHandle::new(verifier.inner.clone()),
        Either::B(trust) => trust.handle.clone(),
    }
}

/// A failure of the transport (an `io::Error` carrying a core error when the core refused the
/// peer) as a JavaScript error with the core's code; plain I/O failures are `io`.
fn io_to_core(e: &std::io::Error) -> meshtls_core::Error {
    let code = meshtls_net::error_code(e).unwrap_or(meshtls_core::ErrorCode::Io);
    meshtls_core::Error::new(code, e.to_string())
}

type Sink = futures_util::stream::SplitSink<meshtls_net::WsStream, Message>;
type Source = futures_util::stream::SplitStream<meshtls_net::WsStream>;

/// A WebSocket over mTLS, backed by rustls end to end (`meshtls-net`).
#[napi]
pub struct WssConnection {
    sink: Arc<tokio::sync::Mutex<Sink>>,
    source: Arc<tokio::sync::Mutex<Source>>,
    peer: Option<meshtls_core::PeerIdentity>,
    token: Option<meshtls_core::jwt::TokenClaims>,
}

fn connection(
    ws: meshtls_net::WsStream,
    peer: Option<meshtls_core::PeerIdentity>,
    token: Option<meshtls_core::jwt::TokenClaims>,
) -> WssConnection {
    let (sink, source) = ws.split();
    WssConnection {
        sink: Arc::new(tokio::sync::Mutex::new(sink)),
        source: Arc::new(tokio::sync::Mutex::new(source)),
        peer,
        token,
    }
}

/// Runs a transport future on napi's tokio runtime; its core failure rejects the promise with
/// an `Error` carrying the core's code.
fn spawn<'env, T, V, F>(
    env: &'env Env,
    fut: F,
    finish: fn(T) -> V,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: std::future::Future<Output = meshtls_core::error::Result<T>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, out| match out {
        Ok(v) => Ok(finish(v)),
        Err(e) => crate::error::reject(env, e),
    })
    .map_err(|e| edge(meshtls_core::ErrorCode::Internal, e.reason.clone()))
}

#[napi]
impl WssConnection {
    /// The peer as the core verified it (`null` for a bearer-token client in hybrid mode).
    #[napi(getter, catch_unwind)]
    pub fn peer(&self) -> Option<crate::verify::PeerIdentity> {
        self.peer.clone().map(crate::verify::peer_identity)
    }

    /// The claims of the JWT-SVID the client presented, on a server listening with a
    /// `JwtValidator` (always for a certificate-less client; for an mTLS client when it sent
    /// one); `null` otherwise.
    #[napi(getter, catch_unwind)]
    pub fn token(&self) -> Option<crate::jwt::TokenClaims> {
        self.token.clone().map(crate::jwt::TokenClaims::from)
    }

    /// The next message: a string (text) or a Buffer (binary); `null` once the peer closed.
    #[napi(ts_return_type = "Promise<string | Buffer | null>", catch_unwind)]
    pub fn recv<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<Either<String, Buffer>>>> {
        let source = self.source.clone();
        spawn(
            env,
            async move {
                let mut source = source.lock().await;
                loop {
                    match source.next().await {
                        None | Some(Ok(Message::Close(_))) => return Ok(None),
                        Some(Ok(Message::Text(t))) => return Ok(Some(Either::A(t.to_string()))),
                        Some(Ok(Message::Binary(b))) => return Ok(Some(Either::B(b.to_vec()))),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            return Err(meshtls_core::Error::new(
                                meshtls_core::ErrorCode::Io,
                                e.to_string(),
                            ))
                        }
                    }
                }
            },
            |m| {
                m.map(|m| match m {
                    Either::A(s) => Either::A(s),
                    Either::B(b) => Either::B(Buffer::from(b)),
                })
            },
        )
    }

    /// Sends a text (string) or binary (Buffer/Uint8Array) message.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        data: Either<String, Uint8Array>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let msg = match data {
            Either::A(s) => Message::text(s),
            Either::B(b) => Message::binary(b.to_vec()),
        };
        let sink = self.sink.clone();
        spawn(
            env,
            async move {
                sink.lock().await.send(msg).await.map_err(|e| {
                    meshtls_core::Error::new(meshtls_core::ErrorCode::Io, e.to_string())
                })
            },
            |()| (),
        )
    }

    /// Closes the WebSocket.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let sink = self.sink.clone();
        spawn(
            env,
            async move {
                let _ = sink.lock().await.close().await;
                Ok(())
            },
            |()| (),
        )
    }
}

/// A `wss://` mTLS server backed by rustls (`meshtls-net`): the handshake, the core's
/// verification and the upgrade happen before `accept()` yields a connection.
#[napi]
pub struct WssServer {
    listener: Arc<tokio::sync::Mutex<Option<meshtls_net::WsListener>>>,
    closed: tokio::sync::watch::Sender<bool>,
    port: u32,
    host: String,
}

#[napi]
impl WssServer {
    /// Binds `address` (`127.0.0.1:0` for any free port) and starts accepting. With a `Trust`
    /// (an enrolled identity's `trust`), each handshake verifies with its current bundle and CRL.
    #[napi(ts_return_type = "Promise<WssServer>", catch_unwind)]
    pub fn listen<'env>(
        env: &'env Env,
        identity: &Identity,
        #[napi(ts_arg_type = "Verifier | Trust")] verifier: VerifierOrTrust,
        address: String,
        jwt_validator: Option<&crate::jwt::JwtValidator>,
    ) -> napi::Result<PromiseRaw<'env, WssServer>> {
        let mut builder =
            meshtls_net::MtlsServer::builder(identity.handle.clone(), trust_handle(&verifier));
        if let Some(v) = jwt_validator {
            // Hybrid mode with the core's JWT-SVID check: certificate-less clients with a
            // valid unbound token (Authorization: Bearer, or the meshtls.jwt.<token>
            // subprotocol), and mTLS clients' tokens checked against their certificate.
            builder = builder.jwt_svids(meshtls_net::JwtAuth::new(v.core().clone()));
        }
        let server = builder.build().js()?;
        spawn(
            env,
            async move {
                meshtls_net::WsListener::bind(address, server)
                    .await
                    .map_err(|e| io_to_core(&e))
            },
            |listener| {
                let addr = listener.local_addr();
                WssServer {
                    port: u32::from(addr.port()),
                    host: addr.ip().to_string(),
                    listener: Arc::new(tokio::sync::Mutex::new(Some(listener))),
                    closed: tokio::sync::watch::channel(false).0,
                }
            },
        )
    }

    /// The bound port.
    #[napi(getter, catch_unwind)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// The bound address.
    #[napi(getter, catch_unwind)]
    pub fn host(&self) -> String {
        self.host.clone()
    }

    /// The next verified, upgraded connection; `null` once the server is closed.
    #[napi(ts_return_type = "Promise<WssConnection | null>", catch_unwind)]
    pub fn accept<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<WssConnection>>> {
        let listener = self.listener.clone();
        let mut closed = self.closed.subscribe();
        spawn(
            env,
            async move {
                let mut guard = listener.lock().await;
                if *closed.borrow_and_update() {
                    guard.take();
                }
                let Some(l) = guard.as_mut() else {
                    return Ok(None);
                };
                tokio::select! {
                    r = l.accept_with_token() => match r {
                        Ok((ws, peer, token)) => Ok(Some((ws, peer.identity().cloned(), token))),
                        Err(_) => Ok(None),
                    },
                    _ = closed.changed() => {
                        guard.take();
                        Ok(None)
                    }
                }
            },
            |c| c.map(|(ws, peer, token)| connection(ws, peer, token)),
        )
    }

    /// Stops accepting: a pending `accept()` resolves to `null` (open connections stay up).
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut guard) = self.listener.try_lock() {
            guard.take();
        }
    }
}

/// Connects to a `wss://host:port/path` URL over mTLS (rustls); the server is verified by the
/// core (with a `Trust`: its current bundle and CRL). Resolves to a `WssConnection` whose
/// `peer` is the server.
#[napi(ts_return_type = "Promise<WssConnection>", catch_unwind)]
pub fn wss_connect<'env>(
    env: &'env Env,
    identity: &Identity,
    #[napi(ts_arg_type = "Verifier | Trust")] verifier: VerifierOrTrust,
    url: String,
) -> napi::Result<PromiseRaw<'env, WssConnection>> {
    let client = meshtls_net::MtlsClient::builder(identity.handle.clone(), trust_handle(&verifier))
        .build()
        .js()?;
    spawn(
        env,
        async move {
            meshtls_net::ws::connect(&client, &url)
                .await
                .map_err(|e| io_to_core(&e))
        },
        |(ws, peer)| connection(ws, Some(peer), None),
    )
}
