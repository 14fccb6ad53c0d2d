//! A TCP listener that hands out only streams whose peer the core accepted.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::config::MtlsServer;
use crate::error::to_io;
use crate::stream::MtlsStream;

/// Pause after a failed `accept(2)` (e.g. out of file descriptors).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Streams that finished their handshake and wait for [`MtlsListener::accept`].
pub(crate) const READY_QUEUE: usize = 1024;

/// An mTLS listener.
///
/// A background task accepts TCP connections and runs each handshake in its own task, at most
/// [`max_concurrent_handshakes`](crate::MtlsServerBuilder::max_concurrent_handshakes) at once
/// and each within the handshake timeout, so slow or garbage clients cannot stall the accept
/// loop. [`accept`](Self::accept) returns the connections whose handshake succeeded; failures
/// go to [`on_handshake_error`](crate::MtlsServerBuilder::on_handshake_error). Dropping the
/// listener stops accepting (established streams stay open).
#[derive(Debug)]
pub struct MtlsListener {
    ready: mpsc::Receiver<MtlsStream>,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for MtlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MtlsListener {
    /// Bind a TCP listener and start accepting.
    pub async fn bind(addr: impl ToSocketAddrs, server: MtlsServer) -> io::Result<Self> {
        let tcp = TcpListener::bind(addr).await?;
        Self::from_tcp(tcp, server)
    }

    /// Start accepting on a bound TCP listener (must be called within a tokio runtime).
    pub fn from_tcp(tcp: TcpListener, server: MtlsServer) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let task = if server.inner.client_cert_optional {
            tokio::spawn(accept_loop(tcp, server, tx, |s| async { Ok(s) }))
        } else {
            tokio::spawn(accept_loop(tcp, server, tx, require_peer))
        };
        Ok(MtlsListener {
            ready,
            local_addr,
            task,
        })
    }

    /// The next connection whose handshake succeeded and whose peer the core verified (or,
    /// with [`client_cert_optional`](crate::MtlsServerBuilder::client_cert_optional), that
    /// presented no certificate). An error means the listener stopped.
    pub async fn accept(&mut self) -> io::Result<MtlsStream> {
        self.ready
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "listener stopped"))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Accept TCP, run each handshake and `finish` step in its own task, queue the successes.
///
/// The timeout covers the TLS handshake and `finish` together (e.g. the WebSocket upgrade).
pub(crate) async fn accept_loop<T, F, Fut>(
    tcp: TcpListener,
    server: MtlsServer,
    tx: mpsc::Sender<T>,
    finish: F,
) where
    T: Send + 'static,
    F: Fn(MtlsStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
{
    let finish = Arc::new(finish);
    let permits = Arc::new(Semaphore::new(server.inner.max_concurrent_handshakes));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (socket, peer_addr) = match tcp.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: transient for a listener, so report it
                // and back off briefly instead of spinning.
                server.report(
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                    io::Error::new(e.kind(), format!("accept: {e}")),
                );
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        let server = server.clone();
        let tx = tx.clone();
        let finish = finish.clone();
        tokio::spawn(async move {
            let timeout = server.inner.handshake_timeout;
            let work = async {
                let stream = server.accept(socket).await?;
                finish(stream).await
            };
            let result = match tokio::time::timeout(timeout, work).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "handshake timed out",
                )),
            };
            drop(permit);
            match result {
                Ok(item) => {
                    let _ = tx.send(item).await;
                }
                Err(e) => server.report(peer_addr, e),
            }
        });
    }
}

/// The `finish` step of a raw listener: a hybrid server's certificate-less clients have no
/// place to send a bearer token over raw TLS, so they are dropped.
pub(crate) async fn require_peer(stream: MtlsStream) -> io::Result<MtlsStream> {
    if stream.peer_identity().is_none() {
        return Err(to_io(meshtls_core::Error::new(
            meshtls_core::ErrorCode::NoCertificate,
            "the client presented no certificate",
        )));
    }
    Ok(stream)
}
