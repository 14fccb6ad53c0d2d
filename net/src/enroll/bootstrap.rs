//! Trust in a CA service from a fingerprint: fetch its bundle without trust, keep only the
//! root certificate whose SHA-256 is the one the operator was given, then talk to the service
//! through that root alone.

use std::sync::Arc;
use std::time::Duration;

use meshtls_core::{Error as CoreError, ErrorCode, Fingerprint, TrustBundle};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::client::get_untrusted;
use super::EnrollError;

/// Fetches `GET /v1/bundle` from the service at `url` and returns the PEM of the one root
/// certificate (self-issued CA) in it whose SHA-256 (of the DER) is `fingerprint`.
///
/// The fetch does not verify the service (there is nothing to verify it with yet): what makes
/// the answer trustworthy is the fingerprint. Only the matching root is returned, never the
/// rest of the unverified bundle; the service's own certificate is then verified against it
/// by every later call, and the bundle the service returns over that verified connection (at
/// enrollment) replaces it. A bundle with no matching root fails with the core's
/// `unknown_issuer`; one that does not parse with `malformed`.
///
/// ```no_run
/// # async fn demo() -> Result<(), meshtls_net::enroll::EnrollError> {
/// use meshtls_core::Fingerprint;
/// let fp = Fingerprint::from_hex("3a:5f:…").expect("64 hex digits");
/// let root_pem = meshtls_net::enroll::bootstrap_root(
///     "https://ca.mesh.internal:8443", &fp, std::time::Duration::from_secs(30)).await?;
/// # Ok(()) }
/// ```
pub async fn bootstrap_root(
    url: &str,
    fingerprint: &Fingerprint,
    timeout: Duration,
) -> Result<String, EnrollError> {
    let verifier: Arc<dyn ServerCertVerifier> = Arc::new(AnyServer {
        algorithms: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
    });
    let body = get_untrusted(url, "/v1/bundle", verifier, timeout).await?;
    root_matching(&body, fingerprint)
}

/// The PEM of the root certificate in `bundle_pem` whose SHA-256 is `fingerprint`.
pub fn root_matching(bundle_pem: &[u8], fingerprint: &Fingerprint) -> Result<String, EnrollError> {
    let bundle = TrustBundle::from_pem(bundle_pem)?;
    let found = bundle
        .cas()
        .find(|ca| ca.fingerprint == *fingerprint && ca.subject == ca.issuer)
        .map(|ca| ca.to_pem())
        .ok_or_else(|| {
            EnrollError::Core(CoreError::new(
                ErrorCode::UnknownIssuer,
                format!(
                    "no root certificate in the service's bundle has the SHA-256 {fingerprint} \
                     ({} CA certificate(s) offered)",
                    bundle.len()
                ),
            ))
        });
    found
}

/// Accepts any server certificate (the bootstrap checks the fetched bundle instead), while
/// still checking the handshake signatures, so the connection is a real TLS 1.3 session.
#[derive(Debug)]
struct AnyServer {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn fingerprint_of(pem: &[u8]) -> Fingerprint {
        meshtls_core::Certificate::from_pem_or_der(pem)
            .unwrap()
            .fingerprint
    }

    #[test]
    fn only_the_root_with_the_fingerprint_is_kept() {
        let root = fixture("root.pem");
        let rogue = fixture("rogue-root.pem");
        // An attacker's bundle: their root beside the real one.
        let mut bundle = rogue.clone();
        bundle.extend_from_slice(&root);
        let kept = root_matching(&bundle, &fingerprint_of(&root)).unwrap();
        let kept = TrustBundle::from_pem(kept.as_bytes()).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            kept.cas().next().unwrap().fingerprint,
            fingerprint_of(&root)
        );
    }

    #[test]
    fn no_matching_root_is_unknown_issuer() {
        let root = fixture("root.pem");
        let rogue = fixture("rogue-root.pem");
        let e = root_matching(&rogue, &fingerprint_of(&root)).unwrap_err();
        assert_eq!(e.code(), "unknown_issuer");
        // An intermediate's fingerprint is not a root's, even when it is in the bundle.
        let inter = fixture("intermediate.pem");
        let mut bundle = root.clone();
        bundle.extend_from_slice(&inter);
        let e = root_matching(&bundle, &fingerprint_of(&inter)).unwrap_err();
        assert_eq!(e.code(), "unknown_issuer");
        // Not a bundle at all.
        let e = root_matching(b"<html>", &fingerprint_of(&root)).unwrap_err();
        assert_eq!(e.code(), "malformed");
    }
}
