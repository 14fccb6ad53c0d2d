//! A TLS stream that carries the core's verdict on its peer.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use meshtls_core::PeerIdentity;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// An established TLS connection (either side) and the peer identity the core verified.
///
/// Reads and writes go straight to the TLS stream. Replacing our identity or trust later does
/// not touch it.
pub struct MtlsStream {
    io: tokio_rustls::TlsStream<TcpStream>,
    peer: Option<PeerIdentity>,
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
        MtlsStream { io, peer }
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
