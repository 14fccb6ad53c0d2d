//! A TLS stream that carries the core's verdict on its peer.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use meshtls_core::PeerIdentity;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// An established TLS connection (either side) and the peer identity the core verified.
///
/// Reads and writes go straight to the TLS stream. Replacing our identity or trust later does
/// not touch it.
pub struct MtlsStream {
    io: tokio_rustls::TlsStream<TcpStream>,
    peer: Option<PeerIdentity>,
    /// Application data read by [`MtlsStream::verdict`], handed out by the next reads.
    early: Vec<u8>,
}

impl fmt::Debug for MtlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsStream")
            .field("peer", &self.peer.as_ref().map(|p| p.serial.to_string()))
            .finish_non_exhaustive()
    }
}

impl MtlsStream {
    pub(crate) fn new(io: tokio_rustls::TlsStream<TcpStream>, peer: Option<PeerIdentity>) -> Self {
        MtlsStream {
            io,
            peer,
            early: Vec::new(),
        }
    }

    /// Client side: waits up to `wait` for the server's verdict on our certificate.
    ///
    /// In TLS 1.3 the client's handshake is over before the server has checked the client's
    /// certificate (it arrives with the client's Finished); a server that refuses it sends
    /// its alert right after. This reads until application data arrives (kept for the next
    /// reads: nothing is lost), the connection closes, the alert arrives, or `wait` passes
    /// with the connection open. A refusal is returned as the error the handshake would have
    /// given: [`error_code`](crate::error_code) reads the core's code from the alert
    /// ([`profile::code_for_alert`](crate::profile::code_for_alert): `access_denied` is
    /// `identity_not_allowed`, `unknown_ca` is `unknown_issuer`...), `None` for an alert that
    /// names no reason. A close or a server that says nothing within `wait` is not a refusal:
    /// `Ok(())`. A connection reset is an `io` error. Nothing to wait for on a server-side
    /// stream or after TLS 1.2 (the client's certificate is judged before the server's
    /// Finished), which return `Ok(())` at once.
    ///
    /// ```no_run
    /// # async fn f(client: meshtls_net::MtlsClient) -> std::io::Result<()> {
    /// let mut stream = client.connect(("localhost", 8443), "localhost").await?;
    /// stream.verdict(std::time::Duration::from_millis(500)).await?; // refused: Err, with the code
    /// # Ok(()) }
    /// ```
    pub async fn verdict(&mut self, wait: Duration) -> io::Result<()> {
        let client = matches!(self.io, tokio_rustls::TlsStream::Client(_));
        if !client || self.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
            return Ok(());
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(wait, self.io.read(&mut buf)).await {
            Err(_) => Ok(()),
            Ok(Ok(n)) => {
                self.early.extend_from_slice(&buf[..n]);
                Ok(())
            }
            Ok(Err(e)) => match e.kind() {
                io::ErrorKind::UnexpectedEof => Ok(()),
                io::ErrorKind::InvalidData => Err(e),
                _ => Err(io::Error::new(
                    e.kind(),
                    meshtls_core::Error::new(
                        meshtls_core::ErrorCode::Io,
                        format!("the connection failed right after the handshake: {e}"),
                    ),
                )),
            },
        }
    }

    /// The peer as the core verified it.
    ///
    /// Always `Some` on streams from [`MtlsListener`](crate::MtlsListener),
    /// [`MtlsClient::connect`](crate::MtlsClient::connect) and a non-hybrid
    /// [`MtlsServer::accept`](crate::MtlsServer::accept). `None` only on a server in hybrid mode
    /// (see [`bearer_fallback`](crate::MtlsServerBuilder::bearer_fallback)) when the client
    /// presented no certificate.
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.peer.as_ref()
    }

    /// The peer's certificate chain as presented (leaf first).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.io.get_ref().1.peer_certificates()
    }

    /// The negotiated TLS version.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.io.get_ref().1.protocol_version()
    }

    /// The negotiated key-exchange group (e.g. `X25519MLKEM768`).
    pub fn key_exchange_group(&self) -> Option<rustls::NamedGroup> {
        self.io
            .get_ref()
            .1
            .negotiated_key_exchange_group()
            .map(|g| g.name())
    }

    /// Whether the session was resumed (abbreviated handshake).
    pub fn resumed(&self) -> bool {
        self.io.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }

    /// The ALPN protocol agreed, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.io.get_ref().1.alpn_protocol()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().0.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().0.local_addr()
    }
}

impl AsyncRead for MtlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early[..n]);
            self.early.drain(..n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for MtlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
