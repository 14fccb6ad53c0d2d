//! The rustls verifiers: every certificate decision is the core's.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use meshtls_core::{Error, ErrorCode, PeerIdentity, PeerUsage, Timestamp};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::{error_code, to_io, to_rustls};
use crate::trust::TrustHandle;

/// Most verdicts kept between a handshake's verification and the moment the stream is handed
/// out. Entries are taken right after the handshake; this only bounds what failed handshakes
/// (verified chain, then a bad CertificateVerify) can leave behind.
const MAX_PENDING_VERDICTS: usize = 4096;

thread_local! {
    /// The core's error behind the last rejection with a standard alert on this thread: taken
    /// by [`KeepRejection`] in the same poll that surfaces the handshake failure.
    static REJECTION: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// The rustls error for a core rejection. Where a TLS alert names the reason (RFC 8446
/// §6.2), the error is the rustls variant that sends it, so any peer (OpenSSL, Go, Python,
/// Node, .NET, meshtls) learns why it was refused; the core's error, with its message, is
/// kept for [`KeepRejection`]. Reasons no alert names go out as `certificate_unknown`.
fn reject(err: Error) -> rustls::Error {
    let variant = match err.code() {
        ErrorCode::Expired => CertificateError::Expired,
        ErrorCode::NotYetValid => CertificateError::NotValidYet,
        ErrorCode::Revoked => CertificateError::Revoked,
        ErrorCode::UnknownIssuer => CertificateError::UnknownIssuer,
        ErrorCode::BadSignature => CertificateError::BadSignature,
        ErrorCode::WrongUsage => CertificateError::InvalidPurpose,
        ErrorCode::IdentityNotAllowed | ErrorCode::NotPinned => {
            CertificateError::ApplicationVerificationFailure
        }
        _ => return to_rustls(err),
    };
    REJECTION.with(|r| *r.borrow_mut() = Some(err));
    rustls::Error::InvalidCertificate(variant)
}

/// Runs a handshake future and, when it fails because the core rejected the peer, gives the
/// core's error back (code and message) in place of the bare rustls variant that chose the
/// alert. The verifier runs inside the poll that fails, on the same thread, so the slot is
/// cleared before each poll and read right after it.
pub(crate) struct KeepRejection<F>(pub(crate) F);

impl<T, F: Future<Output = io::Result<T>> + Unpin> Future for KeepRejection<F> {
    type Output = io::Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        REJECTION.with(|r| r.borrow_mut().take());
        let result = Pin::new(&mut self.0).poll(cx);
        let kept = REJECTION.with(|r| r.borrow_mut().take());
        match (result, kept) {
            (Poll::Ready(Err(e)), Some(core)) if error_code(&e) == Some(core.code()) => {
                Poll::Ready(Err(to_io(core)))
            }
            (result, _) => result,
        }
    }
}

/// Calls [`meshtls_core::Verifier::verify`] from inside the handshake, for either side.
pub(crate) struct CoreCertVerifier {
    trust: TrustHandle,
    /// What the *peer* must be: `Client` when we are the server, `Server` when we are the client.
    peer_usage: PeerUsage,
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
    /// The core's verdicts, keyed by leaf DER, until the stream picks them up.
    pending: Mutex<HashMap<Vec<u8>, (PeerIdentity, u32)>>,
}

impl fmt::Debug for CoreCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreCertVerifier")
            .field("peer_usage", &self.peer_usage)
            .field("mandatory", &self.mandatory)
            .finish_non_exhaustive()
    }
}

pub(crate) fn timestamp(now: UnixTime) -> Timestamp {
    Timestamp::from_unix(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
}

impl CoreCertVerifier {
    pub(crate) fn new(
        trust: TrustHandle,
        peer_usage: PeerUsage,
        mandatory: bool,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        CoreCertVerifier {
            trust,
            peer_usage,
            mandatory,
            algorithms,
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let verifier = self.trust.current();
        let mut chain: Vec<&[u8]> = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.as_ref());
        chain.extend(intermediates.iter().map(|c| c.as_ref()));
        let peer = verifier
            .verify(&chain, self.peer_usage, timestamp(now))
            .map_err(reject)?;
        self.stash(end_entity.as_ref(), peer);
        Ok(())
    }

    fn stash(&self, leaf: &[u8], peer: PeerIdentity) {
        let mut pending = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        if pending.len() >= MAX_PENDING_VERDICTS {
            pending.clear();
        }
        match pending.entry(leaf.to_vec()) {
            Entry::Occupied(mut e) => {
                let (p, n) = e.get_mut();
                *p = peer;
                *n += 1;
            }
            Entry::Vacant(e) => {
                e.insert((peer, 1));
            }
        }
    }

    fn take(&self, leaf: &[u8]) -> Option<PeerIdentity> {
        let mut pending = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (peer, n) = pending.get_mut(leaf)?;
        *n -= 1;
        if *n > 0 {
            return Some(peer.clone());
        }
        // The last handshake waiting on this verdict takes it without a copy.
        pending.remove(leaf).map(|(peer, _)| peer)
    }

    /// The core's verdict on the peer of a completed handshake.
    ///
    /// After a full handshake this is the verdict the verifier reached during it. A resumed
    /// session skipped the verifier, so the peer's chain (from the original session) is
    /// verified again here with the trust current now: a revoked or expired peer, or one the
    /// policy no longer allows, cannot come back through resumption.
    pub(crate) fn peer_after_handshake(
        &self,
        certs: Option<&[CertificateDer<'static>]>,
        resumed: bool,
        now: Timestamp,
    ) -> Result<Option<PeerIdentity>, Error> {
        let certs = match certs {
            Some(c) if !c.is_empty() => c,
            _ if self.mandatory => {
                return Err(Error::new(
                    ErrorCode::NoCertificate,
                    "the peer presented no certificate",
                ))
            }
            _ => return Ok(None),
        };
        let leaf = certs[0].as_ref();
        if !resumed {
            if let Some(peer) = self.take(leaf) {
                return Ok(Some(peer));
            }
        }
        let chain: Vec<&[u8]> = certs.iter().map(|c| c.as_ref()).collect();
        self.trust
            .current()
            .verify(&chain, self.peer_usage, now)
            .map(Some)
    }
}

/// A rustls [`ServerCertVerifier`] that asks the core, through `trust`, about the server's
/// whole chain: for TLS clients built outside [`crate::MtlsClient`], such as one that presents
/// no certificate (a node's first enrollment). TLS 1.3 and 1.2 signatures are checked with
/// the aws-lc-rs provider.
pub fn server_cert_verifier(trust: TrustHandle) -> std::sync::Arc<dyn ServerCertVerifier> {
    std::sync::Arc::new(CoreCertVerifier::new(
        trust,
        PeerUsage::Server,
        true,
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
    ))
}

impl ClientCertVerifier for CoreCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: the client offers the one identity it has.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for CoreCertVerifier {
    /// The server name is not checked against the certificate here: who the server may be is
    /// the core policy's decision (SPIFFE IDs, DNS names, pins), not the SNI string's.
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod alert_tests {
    use super::*;

    /// The alert rustls sends for each rejection is the one the profile names for its code.
    #[test]
    fn rejections_send_the_profile_alert() {
        for code in [
            ErrorCode::Expired,
            ErrorCode::NotYetValid,
            ErrorCode::Revoked,
            ErrorCode::UnknownIssuer,
            ErrorCode::BadSignature,
            ErrorCode::WrongUsage,
            ErrorCode::IdentityNotAllowed,
            ErrorCode::NotPinned,
            ErrorCode::Malformed,
            ErrorCode::InvalidCertificate,
        ] {
            let rustls::Error::InvalidCertificate(variant) = reject(Error::new(code, "x")) else {
                panic!("{code:?} is not a certificate error");
            };
            let sent = u8::from(rustls::AlertDescription::from(variant));
            assert_eq!(sent, crate::profile::alert_for(code).number, "{code:?}");
        }
    }
}
