//! A parsed X.509 certificate: identity, SANs, validity, usages, fingerprints.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use crate::encoding::{self, PemOrDer};
use crate::error::Result;
use crate::validity::{from_millis, to_millis};

/// A parsed certificate. Times are milliseconds since the epoch (`new Date(cert.notAfter)`);
/// serials and fingerprints are lowercase hex without separators.
///
/// ```js
/// const cert = Certificate.parse(pem);
/// cert.spiffeId;     // "spiffe://mesh.internal/service/api"
/// cert.fingerprint;  // SHA-256 of the DER, 64 hex digits
/// cert.isValidAt(Date.now());
/// ```
#[wasm_bindgen]
#[derive(Clone)]
pub struct Certificate(pub(crate) meshtls_core::Certificate);

#[wasm_bindgen]
impl Certificate {
    /// Parses the first certificate of PEM text or DER bytes. Throws `malformed` for
    /// anything that is not a certificate (empty, truncated, garbage).
    pub fn parse(input: &PemOrDer) -> Result<Certificate> {
        let bytes = encoding::pem_or_der(input)?;
        Ok(Certificate(meshtls_core::Certificate::from_pem_or_der(
            &bytes,
        )?))
    }

    /// Parses every certificate of a PEM chain (or the one DER certificate), in order.
    #[wasm_bindgen(js_name = parseChain)]
    pub fn parse_chain(input: &PemOrDer) -> Result<Vec<Certificate>> {
        let bytes = encoding::pem_or_der(input)?;
        meshtls_core::encoding::parse_certificates(&bytes)?
            .iter()
            .map(|der| Ok(Certificate(meshtls_core::Certificate::from_der(der)?)))
            .collect()
    }

    /// The subject distinguished name, e.g. `CN=api`.
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> String {
        self.0.subject.clone()
    }

    /// The issuer distinguished name.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.0.issuer.clone()
    }

    /// The subject common name, if any.
    #[wasm_bindgen(getter, js_name = commonName)]
    pub fn common_name(&self) -> Option<String> {
        self.0.common_name.clone()
    }

    /// The serial number, lowercase hex.
    #[wasm_bindgen(getter)]
    pub fn serial(&self) -> String {
        self.0.serial.to_hex()
    }

    /// Start of validity, milliseconds since the epoch.
    #[wasm_bindgen(getter, js_name = notBefore)]
    pub fn not_before(&self) -> f64 {
        to_millis(self.0.not_before)
    }

    /// End of validity, milliseconds since the epoch.
    #[wasm_bindgen(getter, js_name = notAfter)]
    pub fn not_after(&self) -> f64 {
        to_millis(self.0.not_after)
    }

    /// The lifetime (notAfter - notBefore) in seconds.
    #[wasm_bindgen(getter, js_name = lifetimeSeconds)]
    pub fn lifetime_seconds(&self) -> f64 {
        self.0.lifetime().as_secs() as f64
    }

    /// Whether `at` (milliseconds since the epoch) falls within the validity period.
    #[wasm_bindgen(js_name = isValidAt)]
    pub fn is_valid_at(&self, at: f64) -> Result<bool> {
        Ok(self.0.is_valid_at(from_millis(at)?))
    }

    /// Every URI SAN.
    #[wasm_bindgen(getter)]
    pub fn uris(&self) -> Vec<String> {
        self.0.uris.clone()
    }

    /// The SPIFFE ID (the one valid `spiffe://` URI SAN), if any.
    #[wasm_bindgen(getter, js_name = spiffeId)]
    pub fn spiffe_id(&self) -> Option<String> {
        self.0.spiffe_id.as_ref().map(|id| id.to_string())
    }

    /// DNS SANs.
    #[wasm_bindgen(getter, js_name = dnsNames)]
    pub fn dns_names(&self) -> Vec<String> {
        self.0.dns_names.clone()
    }

    /// IP address SANs, as text.
    #[wasm_bindgen(getter, js_name = ipAddresses)]
    pub fn ip_addresses(&self) -> Vec<String> {
        self.0
            .ip_addresses
            .iter()
            .map(|ip| ip.to_string())
            .collect()
    }

    /// Whether this is a CA certificate (basicConstraints cA=true).
    #[wasm_bindgen(getter, js_name = isCa)]
    pub fn is_ca(&self) -> bool {
        self.0.is_ca
    }

    /// The CA's path length constraint, if any.
    #[wasm_bindgen(getter, js_name = pathLen)]
    pub fn path_len(&self) -> Option<u32> {
        self.0.path_len
    }

    /// The key usage bits that are set (`digitalSignature`, `keyEncipherment`,
    /// `keyCertSign`, `cRLSign`), or `undefined` when the extension is absent.
    #[wasm_bindgen(getter, js_name = keyUsage)]
    pub fn key_usage(&self) -> Option<Vec<String>> {
        self.0.key_usage.map(|k| {
            [
                (k.digital_signature, "digitalSignature"),
                (k.key_encipherment, "keyEncipherment"),
                (k.key_cert_sign, "keyCertSign"),
                (k.crl_sign, "cRLSign"),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| (*name).to_owned())
            .collect()
        })
    }

    /// The TLS extended key usages (`serverAuth`, `clientAuth`); empty when the extension
    /// is absent (see `hasExtendedKeyUsage`).
    #[wasm_bindgen(getter, js_name = extendedKeyUsage)]
    pub fn extended_key_usage(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.0.server_auth {
            v.push("serverAuth".to_owned());
        }
        if self.0.client_auth {
            v.push("clientAuth".to_owned());
        }
        v
    }

    /// Whether the certificate has an extended key usage extension at all.
    #[wasm_bindgen(getter, js_name = hasExtendedKeyUsage)]
    pub fn has_extended_key_usage(&self) -> bool {
        self.0.has_eku
    }

    /// The key algorithm for people, e.g. `ECDSA P-256`, `Ed25519`, `RSA 2048`.
    #[wasm_bindgen(getter, js_name = keyAlgorithm)]
    pub fn key_algorithm(&self) -> String {
        self.0.key_algorithm.clone()
    }

    /// The key algorithm as a meshtls name (`ecdsa-p256`...), if it is one meshtls makes.
    #[wasm_bindgen(getter, js_name = keyKind)]
    pub fn key_kind(&self) -> Option<String> {
        self.0.key_kind().map(|k| k.as_str().to_owned())
    }

    /// SHA-256 of the certificate's DER, lowercase hex.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint.to_hex()
    }

    /// SHA-256 of the SubjectPublicKeyInfo, lowercase hex (a pin that survives re-issuance
    /// with the same key).
    #[wasm_bindgen(getter, js_name = spkiFingerprint)]
    pub fn spki_fingerprint(&self) -> String {
        self.0.spki_fingerprint.to_hex()
    }

    /// The subject key identifier, hex, if present.
    #[wasm_bindgen(getter, js_name = subjectKeyId)]
    pub fn subject_key_id(&self) -> Option<String> {
        self.0.subject_key_id.as_deref().map(encoding::hex)
    }

    /// The authority key identifier, hex, if present.
    #[wasm_bindgen(getter, js_name = authorityKeyId)]
    pub fn authority_key_id(&self) -> Option<String> {
        self.0.authority_key_id.as_deref().map(encoding::hex)
    }

    /// CRL distribution point URIs.
    #[wasm_bindgen(getter, js_name = crlDistributionPoints)]
    pub fn crl_distribution_points(&self) -> Vec<String> {
        self.0.crl_distribution_points.clone()
    }

    /// Permitted DNS name constraints of a CA.
    #[wasm_bindgen(getter, js_name = permittedDns)]
    pub fn permitted_dns(&self) -> Vec<String> {
        self.0.permitted_dns.clone()
    }

    /// Whether subject and issuer are the same (a root, or a self-issued certificate).
    #[wasm_bindgen(getter, js_name = selfIssued)]
    pub fn self_issued(&self) -> bool {
        self.0.self_issued
    }

    /// The certificate as PEM.
    #[wasm_bindgen(js_name = toPem)]
    pub fn to_pem(&self) -> String {
        self.0.to_pem()
    }

    /// The certificate's DER bytes.
    #[wasm_bindgen(getter)]
    pub fn der(&self) -> Uint8Array {
        Uint8Array::from(self.0.der())
    }
}
