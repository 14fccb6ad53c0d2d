//! Issuance results, requests and CSRs.

use std::net::IpAddr;

use meshtls_core::{
    create_csr as core_create_csr, parse_ip, GeneratedCsr as CoreCsr, IssueRequest,
    Issued as CoreIssued, KeyAlgorithm, KeySource, Pkcs12Profile, Usage,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::certificate::Certificate;
use crate::encoding::{input_bytes, to_bytes};
use crate::error::to_py;
use crate::identity::spiffe_id_arg;
use crate::validity::{opt_duration, to_datetime};

/// An issued certificate: `cert_pem`, `chain_pem`, `key_pem` (None when issued from a CSR)...
#[pyclass(frozen, module = "meshtls._native")]
pub struct Issued {
    pub(crate) inner: CoreIssued,
}

#[pymethods]
impl Issued {
    /// The leaf, PEM.
    #[getter]
    fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }
    /// The chain to present (leaf, then intermediates; no root), PEM.
    #[getter]
    fn chain_pem(&self) -> &str {
        &self.inner.chain_pem
    }
    /// The generated private key, PKCS#8 PEM; None when issued from a CSR.
    #[getter]
    fn key_pem(&self) -> Option<&str> {
        self.inner.key_pem.as_deref()
    }
    #[getter]
    fn cert_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        to_bytes(py, &self.inner.cert_der)
    }
    #[getter]
    fn chain_der<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner
            .chain_der
            .iter()
            .map(|c| to_bytes(py, c))
            .collect()
    }
    #[getter]
    fn key_der<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.key_der.as_ref().map(|k| to_bytes(py, k))
    }
    /// The serial number, lowercase hex.
    #[getter]
    fn serial(&self) -> String {
        self.inner.serial.to_hex()
    }
    #[getter]
    fn not_before<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.inner.not_before)
    }
    #[getter]
    fn not_after<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.inner.not_after)
    }
    /// SHA-256 of the leaf DER, lowercase hex.
    #[getter]
    fn fingerprint_sha256(&self) -> String {
        self.inner.fingerprint.to_hex()
    }
    /// The leaf, parsed.
    #[getter]
    fn certificate(&self, py: Python<'_>) -> PyResult<Certificate> {
        let der = self.inner.cert_der.clone();
        py.detach(move || meshtls_core::Certificate::from_der(&der))
            .map(Certificate::from_core)
            .map_err(to_py)
    }
    /// A password-protected PKCS#12 (PFX) with the key and chain. `legacy=True` uses
    /// SHA1/3DES for readers that know nothing newer (Mono, old keychains).
    #[pyo3(signature = (password, *, legacy=false))]
    fn to_pkcs12<'py>(
        &self,
        py: Python<'py>,
        password: &str,
        legacy: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let profile = if legacy {
            Pkcs12Profile::Legacy
        } else {
            Pkcs12Profile::Modern
        };
        let issued = &self.inner;
        let password = password.to_owned();
        let pfx = py
            .detach(|| issued.to_pkcs12(&password, profile))
            .map_err(to_py)?;
        Ok(to_bytes(py, &pfx))
    }
    fn __repr__(&self) -> String {
        format!(
            "<Issued serial={} not_after={} has_key={}>",
            self.inner.serial,
            self.inner.not_after,
            self.inner.key_der.is_some()
        )
    }
}

/// A key pair and a CSR for it, made by [`create_csr`]. The key never leaves the requester.
#[pyclass(frozen, module = "meshtls._native")]
pub struct GeneratedCsr {
    inner: CoreCsr,
}

#[pymethods]
impl GeneratedCsr {
    #[getter]
    fn csr_pem(&self) -> &str {
        &self.inner.csr_pem
    }
    #[getter]
    fn csr_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        to_bytes(py, &self.inner.csr_der)
    }
    #[getter]
    fn key_pem(&self) -> &str {
        &self.inner.key_pem
    }
    #[getter]
    fn key_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        to_bytes(py, &self.inner.key_der)
    }
    fn __repr__(&self) -> String {
        "<GeneratedCsr>".to_owned()
    }
}

/// Generates a key pair (default ECDSA P-256) and a CSR naming `spiffe_id` and `dns_names`.
#[pyfunction]
#[pyo3(signature = (spiffe_id, dns_names=Vec::new(), key=None))]
pub fn create_csr(
    py: Python<'_>,
    spiffe_id: &Bound<'_, PyAny>,
    dns_names: Vec<String>,
    key: Option<&str>,
) -> PyResult<GeneratedCsr> {
    let id = spiffe_id_arg(spiffe_id)?;
    let alg = key_algorithm(key)?;
    let inner = py
        .detach(move || core_create_csr(&id, &dns_names, alg))
        .map_err(to_py)?;
    Ok(GeneratedCsr { inner })
}

/// A key algorithm name (`ecdsa-p256`, `ecdsa-p384`, `ed25519`, `rsa-2048`, `rsa-4096`);
/// None is the core's default.
pub fn key_algorithm(name: Option<&str>) -> PyResult<KeyAlgorithm> {
    match name {
        None => Ok(KeyAlgorithm::default()),
        Some(n) => n.parse().map_err(to_py),
    }
}

/// The arguments of `Authority.issue`, before they become a core request.
pub struct RequestArgs<'a, 'py> {
    pub spiffe_id: Option<&'a Bound<'py, PyAny>>,
    pub csr: Option<&'a Bound<'py, PyAny>>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub common_name: Option<String>,
    pub usage: Option<&'a str>,
    pub lifetime: Option<&'a Bound<'py, PyAny>>,
    pub key: Option<&'a str>,
    pub crl_distribution_points: Vec<String>,
}

/// Builds the core request; every rule about it is checked by the core's `issue`.
pub fn request(args: RequestArgs<'_, '_>) -> PyResult<IssueRequest> {
    let id = args.spiffe_id.map(spiffe_id_arg).transpose()?;
    let mut req = match (id, args.csr) {
        (Some(id), None) => IssueRequest::new(id),
        (id, Some(csr)) => {
            if args.key.is_some() {
                return Err(PyTypeError::new_err(
                    "key= generates a key; with csr= the requester's key is used",
                ));
            }
            let der = input_bytes(csr, "csr")?;
            let py = csr.py();
            // A CSR naming an ID must name spiffe_id when both are given (the core decides).
            py.detach(move || IssueRequest::from_csr_with_id(&der, id.as_ref()))
                .map_err(to_py)?
        }
        (None, None) => return Err(PyTypeError::new_err("issue() needs a spiffe_id or a csr")),
    };
    if !args.dns_names.is_empty() {
        req = req.with_dns(args.dns_names);
    }
    if !args.ip_addresses.is_empty() {
        let ips = args
            .ip_addresses
            .iter()
            .map(|s| parse_ip(s).map_err(to_py))
            .collect::<PyResult<Vec<IpAddr>>>()?;
        req = req.with_ips(ips);
    }
    if let Some(cn) = args.common_name {
        req = req.with_common_name(cn);
    }
    if let Some(usage) = args.usage {
        req = req.with_usage(usage.parse::<Usage>().map_err(to_py)?);
    }
    if let Some(lifetime) = opt_duration(args.lifetime)? {
        req = req.with_lifetime(lifetime);
    }
    if args.key.is_some() {
        req = req.with_key(KeySource::Generate(key_algorithm(args.key)?));
    }
    for uri in args.crl_distribution_points {
        req = req.with_crl_distribution_point(uri);
    }
    Ok(req)
}
