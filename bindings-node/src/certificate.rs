//! A parsed, read-only certificate (core `certificate`).

use chrono::{DateTime, Utc};
use meshtls_core::Certificate as CoreCertificate;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::encoding::{bytes, Input};
use crate::error::IntoJs;
use crate::validity::{at, to_date};

/// Key usage bits of a certificate.
#[napi(object)]
pub struct KeyUsage {
    /// digitalSignature
    pub digital_signature: bool,
    /// keyEncipherment
    pub key_encipherment: bool,
    /// keyCertSign
    pub key_cert_sign: bool,
    /// cRLSign
    pub crl_sign: bool,
}

/// An X.509 certificate, parsed by the core.
#[napi]
pub struct Certificate {
    pub(crate) inner: CoreCertificate,
}

impl Certificate {
    pub(crate) fn new(inner: CoreCertificate) -> Self {
        Certificate { inner }
    }
}

#[napi]
impl Certificate {
    /// Parses the first certificate of PEM text or PEM/DER bytes.
    #[napi(factory, catch_unwind)]
    pub fn parse(input: Input) -> napi::Result<Certificate> {
        Ok(Certificate::new(
            CoreCertificate::from_pem_or_der(&bytes(&input)).js()?,
        ))
    }

    /// Parses every certificate of PEM text or PEM/DER bytes, in order.
    #[napi(catch_unwind)]
    pub fn parse_all(input: Input) -> napi::Result<Vec<Certificate>> {
        meshtls_core::encoding::parse_certificates(&bytes(&input))
            .js()?
            .iter()
            .map(|der| Ok(Certificate::new(CoreCertificate::from_der(der).js()?)))
            .collect()
    }

    /// Subject distinguished name.
    #[napi(getter, catch_unwind)]
    pub fn subject(&self) -> String {
        self.inner.subject.clone()
    }

    /// Issuer distinguished name.
    #[napi(getter, catch_unwind)]
    pub fn issuer(&self) -> String {
        self.inner.issuer.clone()
    }

    /// Subject common name.
    #[napi(getter, catch_unwind)]
    pub fn common_name(&self) -> Option<String> {
        self.inner.common_name.clone()
    }

    /// Serial number, lowercase hex.
    #[napi(getter, catch_unwind)]
    pub fn serial(&self) -> String {
        self.inner.serial.to_hex()
    }

    /// Start of validity.
    #[napi(getter, catch_unwind)]
    pub fn not_before(&self) -> DateTime<Utc> {
        to_date(self.inner.not_before)
    }

    /// End of validity.
    #[napi(getter, catch_unwind)]
    pub fn not_after(&self) -> DateTime<Utc> {
        to_date(self.inner.not_after)
    }

    /// URI SANs.
    #[napi(getter, catch_unwind)]
    pub fn uris(&self) -> Vec<String> {
        self.inner.uris.clone()
    }

    /// The SPIFFE ID, when the certificate has exactly one valid SPIFFE URI SAN.
    #[napi(getter, catch_unwind)]
    pub fn spiffe_id(&self) -> Option<String> {
        self.inner.spiffe_id.as_ref().map(|id| id.to_string())
    }

    /// DNS SANs.
    #[napi(getter, catch_unwind)]
    pub fn dns_names(&self) -> Vec<String> {
        self.inner.dns_names.clone()
    }

    /// IP address SANs.
    #[napi(getter, catch_unwind)]
    pub fn ip_addresses(&self) -> Vec<String> {
        self.inner
            .ip_addresses
            .iter()
            .map(|ip| ip.to_string())
            .collect()
    }

    /// Whether this is a CA certificate.
    #[napi(getter, catch_unwind)]
    pub fn is_ca(&self) -> bool {
        self.inner.is_ca
    }

    /// Path length constraint.
    #[napi(getter, catch_unwind)]
    pub fn path_len(&self) -> Option<u32> {
        self.inner.path_len
    }

    /// Key usage, when present.
    #[napi(getter, catch_unwind)]
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.inner.key_usage.map(|k| KeyUsage {
            digital_signature: k.digital_signature,
            key_encipherment: k.key_encipherment,
            key_cert_sign: k.key_cert_sign,
            crl_sign: k.crl_sign,
        })
    }

    /// Whether the EKU allows TLS servers.
    #[napi(getter, catch_unwind)]
    pub fn server_auth(&self) -> bool {
        self.inner.server_auth
    }

    /// Whether the EKU allows TLS clients.
    #[napi(getter, catch_unwind)]
    pub fn client_auth(&self) -> bool {
        self.inner.client_auth
    }

    /// The public key algorithm.
    #[napi(getter, catch_unwind)]
    pub fn key_algorithm(&self) -> String {
        self.inner.key_algorithm.clone()
    }

    /// SHA-256 of the DER, lowercase hex.
    #[napi(getter, catch_unwind)]
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint.to_hex()
    }

    /// SHA-256 of the SubjectPublicKeyInfo, lowercase hex.
    #[napi(getter, catch_unwind)]
    pub fn spki_fingerprint(&self) -> String {
        self.inner.spki_fingerprint.to_hex()
    }

    /// CRL distribution point URIs.
    #[napi(getter, catch_unwind)]
    pub fn crl_distribution_points(&self) -> Vec<String> {
        self.inner.crl_distribution_points.clone()
    }

    /// Permitted DNS name constraints (CA certificates).
    #[napi(getter, catch_unwind)]
    pub fn permitted_dns(&self) -> Vec<String> {
        self.inner.permitted_dns.clone()
    }

    /// Whether subject and issuer are the same (a root).
    #[napi(getter, catch_unwind)]
    pub fn self_issued(&self) -> bool {
        self.inner.self_issued
    }

    /// The DER.
    #[napi(getter, catch_unwind)]
    pub fn der(&self) -> Buffer {
        self.inner.der().to_vec().into()
    }

    /// The PEM.
    #[napi(catch_unwind)]
    pub fn to_pem(&self) -> String {
        self.inner.to_pem()
    }

    /// Whether `at` (default now) is within the validity period.
    #[napi(catch_unwind)]
    pub fn is_valid_at(&self, at_time: Option<DateTime<Utc>>) -> bool {
        self.inner.is_valid_at(at(at_time))
    }
}
