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
use rustls::{AlertDescription, CertificateError, OtherError};

/// The core error code behind a failed handshake or connection, if there is one.
///
/// Works on `std::io::Error` (what tokio-rustls and this crate return), `rustls::Error`,
/// `tokio_tungstenite::tungstenite::Error` and `meshtls_core::Error`, and follows `source()`.
/// The side that rejected the peer gets the core's error. The rejected side gets the code of
/// the TLS alert the peer sent, where the alert names a reason (meshtls sends these for the
/// core's codes, and OpenSSL-based peers send them too): `certificate_expired` → `expired`
/// (expired or not yet valid), `certificate_revoked` → `revoked`, `unknown_ca` →
/// `unknown_issuer`, `access_denied` → `identity_not_allowed` (identity or pin policy),
/// `unsupported_certificate` → `wrong_usage`, `decrypt_error` → `bad_signature`,
/// `certificate_required` → `no_certificate`. Other alerts (`bad_certificate`,
/// `certificate_unknown`, `handshake_failure`...) say nothing precise and give `None`.
/// A handshake that timed out returns `Some(ErrorCode::Io)`.
///
/// ```
/// use meshtls_core::{Error, ErrorCode};
/// let io = std::io::Error::new(std::io::ErrorKind::InvalidData,
///     meshtls_net::error::to_rustls(Error::new(ErrorCode::Expired, "leaf expired")));
/// assert_eq!(meshtls_net::error_code(&io), Some(ErrorCode::Expired));
/// ```
pub fn error_code(err: &(dyn std::error::Error + 'static)) -> Option<ErrorCode> {
    find_code(err, &direct_code)
}

/// The code of a TLS alert the peer sent, where the alert names one (see [`error_code`]);
/// `None` for every other failure, including our own rejection of the peer.
pub(crate) fn received_alert_code(err: &(dyn std::error::Error + 'static)) -> Option<ErrorCode> {
    let alert = |e: &(dyn std::error::Error + 'static)| match e.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::AlertReceived(alert)) => alert_code(*alert),
        _ => None,
    };
    find_code(err, &alert).filter(|c| *c != ErrorCode::Io)
}

/// The core's refusal of the peer carried by a failed handshake (our verifier's error, with
/// its message), if that is what failed; `None` for a received alert or any other failure.
pub(crate) fn core_rejection(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let found = std::cell::RefCell::new(None);
    let pick = |e: &(dyn std::error::Error + 'static)| {
        let core =
            e.downcast_ref::<Error>()
                .or_else(|| match e.downcast_ref::<rustls::Error>() {
                    Some(rustls::Error::InvalidCertificate(CertificateError::Other(
                        OtherError(inner),
                    ))) => inner.downcast_ref::<Error>(),
                    _ => None,
                })?;
        *found.borrow_mut() = Some(core.clone());
        Some(core.code())
    };
    find_code(err, &pick);
    found.into_inner()
}

/// Walks `err`, its `source()` chain and the errors wrapped in `io::Error`s and tungstenite
/// errors, and returns the first code `pick` finds (`io` for a timeout met on the way).
fn find_code(
    err: &(dyn std::error::Error + 'static),
    pick: &dyn Fn(&(dyn std::error::Error + 'static)) -> Option<ErrorCode>,
) -> Option<ErrorCode> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        depth += 1;
        if depth > 16 {
            return None;
        }
        if let Some(code) = pick(e) {
            return Some(code);
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut {
                return Some(ErrorCode::Io);
            }
            if let Some(inner) = io.get_ref() {
                if let Some(code) = find_code(inner, pick) {
                    return Some(code);
                }
            }
        }
        if let Some(tungstenite::Error::Io(io)) = e.downcast_ref::<tungstenite::Error>() {
            return find_code(io, pick);
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
    if let Some(enroll) = e.downcast_ref::<crate::enroll::EnrollError>() {
        return enroll.error_code();
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
        // The variants the verifier uses to choose an alert (the core's error itself is
        // restored by the handshake paths of this crate; these are for other users of the
        // rustls configs).
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Some(ErrorCode::Expired)
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Some(ErrorCode::NotYetValid)
            }
            CertificateError::Revoked => Some(ErrorCode::Revoked),
            CertificateError::UnknownIssuer => Some(ErrorCode::UnknownIssuer),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                Some(ErrorCode::WrongUsage)
            }
            CertificateError::ApplicationVerificationFailure => Some(ErrorCode::IdentityNotAllowed),
            _ => None,
        },
        // rustls refuses a certificate-less client of an mTLS server before the verifier is
        // asked; it is the same verdict the core gives an empty chain.
        rustls::Error::NoCertificatesPresented => Some(ErrorCode::NoCertificate),
        rustls::Error::AlertReceived(alert) => alert_code(*alert),
        _ => None,
    }
}

/// The code a received TLS alert names, if it names one (see [`error_code`] and
/// [`crate::profile::code_for_alert`]).
fn alert_code(alert: AlertDescription) -> Option<ErrorCode> {
    crate::profile::code_for_alert(u8::from(alert))
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
    use meshtls_core::error::{looks_like_debug_output, words_of};
    match err {
        rustls::Error::InconsistentKeys(_) => Error::new(
            ErrorCode::InvalidRequest,
            "the private key does not match the certificate",
        ),
        // rustls-webpki's errors display as their Debug form: say them in words.
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            Error::new(
                ErrorCode::Malformed,
                format!("the certificate is not usable: {}", words_of(&inner)),
            )
        }
        other => {
            let text = other.to_string();
            let text = if looks_like_debug_output(&text) {
                words_of(&other)
            } else {
                text
            };
            Error::new(ErrorCode::Malformed, text)
        }
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
