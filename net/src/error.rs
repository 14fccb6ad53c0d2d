//! Carrying the core's error code through rustls, tokio and tungstenite.
//!
//! A rejection by the core [`Verifier`](meshtls_core::Verifier) becomes
//! `rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc<meshtls_core::Error>)))`;
//! [`error_code`] digs it back out of whatever wrapped it (an `io::Error` from tokio-rustls, a
//! tungstenite error, or the rustls error itself).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use meshtls_core::{Error, ErrorCode};
use rustls::{CertificateError, OtherError};

/// The core error code behind a failed handshake or connection, if there is one.
///
/// Works on `std::io::Error` (what tokio-rustls and this crate return), `rustls::Error`,
/// `tokio_tungstenite::tungstenite::Error` and `meshtls_core::Error`, and follows `source()`.
/// Only the side that rejected the peer sees the code: the other side receives a TLS alert, for
/// which this returns `None`. A handshake that timed out returns `Some(ErrorCode::Io)`.
///
/// ```
/// use meshtls_core::{Error, ErrorCode};
/// let io = std::io::Error::new(std::io::ErrorKind::InvalidData,
///     meshtls_net::error::to_rustls(Error::new(ErrorCode::Expired, "leaf expired")));
/// assert_eq!(meshtls_net::error_code(&io), Some(ErrorCode::Expired));
/// ```
pub fn error_code(err: &(dyn std::error::Error + 'static)) -> Option<ErrorCode> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        depth += 1;
        if depth > 16 {
            return None;
        }
        if let Some(code) = direct_code(e) {
            return Some(code);
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut {
                return Some(ErrorCode::Io);
            }
            if let Some(inner) = io.get_ref() {
                if let Some(code) = error_code(inner) {
                    return Some(code);
                }
            }
        }
        if let Some(tungstenite::Error::Io(io)) = e.downcast_ref::<tungstenite::Error>() {
            return error_code(io);
        }
        current = e.source();
    }
    None
}

use tokio_tungstenite::tungstenite;

fn direct_code(e: &(dyn std::error::Error + 'static)) -> Option<ErrorCode> {
    if let Some(core) = e.downcast_ref::<Error>() {
        return Some(core.code());
    }
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return rustls_code(tls);
    }
    None
}

fn rustls_code(err: &rustls::Error) -> Option<ErrorCode> {
    match err {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Error>().map(Error::code)
        }
        // The TLS signature checks (CertificateVerify) are rustls's, through the provider.
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            Some(ErrorCode::BadSignature)
        }
        rustls::Error::InvalidCertificate(CertificateError::BadEncoding) => {
            Some(ErrorCode::Malformed)
        }
        // rustls refuses a certificate-less client of an mTLS server before the verifier is
        // asked; it is the same verdict the core gives an empty chain.
        rustls::Error::NoCertificatesPresented => Some(ErrorCode::NoCertificate),
        _ => None,
    }
}

/// The rustls error that carries a core error: what the handshake verifiers return.
pub fn to_rustls(err: Error) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(err))))
}

/// An `io::Error` (kind `InvalidData`) that carries a core error.
pub(crate) fn to_io(err: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, to_rustls(err))
}

/// A core error from a configuration failure in rustls (bad key, key/cert mismatch, ...).
pub(crate) fn from_rustls_config(err: rustls::Error) -> Error {
    match err {
        rustls::Error::InconsistentKeys(_) => Error::new(
            ErrorCode::InvalidRequest,
            "the private key does not match the certificate",
        ),
        other => Error::new(ErrorCode::Malformed, other.to_string()),
    }
}

/// A handshake that a listener gave up on, reported to the `on_handshake_error` callback.
#[derive(Debug)]
pub struct HandshakeFailure {
    /// The remote address of the failed connection.
    pub peer_addr: SocketAddr,
    /// What went wrong; [`error_code`] gives the core code when the core rejected the peer.
    pub error: io::Error,
}

impl HandshakeFailure {
    /// The core error code, when the core rejected the peer (see [`error_code`]).
    pub fn code(&self) -> Option<ErrorCode> {
        error_code(&self.error)
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "handshake with {} failed: {}",
            self.peer_addr, self.error
        )
    }
}

impl std::error::Error for HandshakeFailure {}
