//! A parsed certificate, read-only, for inspection.

use meshtls_core::{Certificate as CoreCertificate, Fingerprint, Serial};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::encoding::{input_bytes, to_bytes};
use crate::error::to_py;
use crate::validity::{timestamp, to_datetime};

/// An X.509 certificate as the core parsed it. `Certificate(pem_or_der)`.
#[pyclass(frozen, module = "meshtls._native")]
#[derive(Clone)]
pub struct Certificate {
    pub(crate) inner: CoreCertificate,
}

impl Certificate {
    pub(crate) fn from_core(inner: CoreCertificate) -> Self {
        Certificate { inner }
    }
}

#[pymethods]
impl Certificate {
    /// Parses one certificate from PEM (`str` or `bytes`) or DER (`bytes`).
    #[new]
    fn new(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let input = input_bytes(data, "certificate")?;
        let inner = py
            .detach(move || CoreCertificate::from_pem_or_der(&input))
            .map_err(to_py)?;
        Ok(Certificate { inner })
    }

    #[getter]
    fn subject(&self) -> &str {
        &self.inner.subject
    }
    #[getter]
    fn issuer(&self) -> &str {
        &self.inner.issuer
    }
    #[getter]
    fn common_name(&self) -> Option<&str> {
        self.inner.common_name.as_deref()
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
    #[getter]
    fn uris(&self) -> Vec<String> {
        self.inner.uris.clone()
    }
    #[getter]
    fn spiffe_id(&self) -> Option<String> {
        self.inner.spiffe_id.as_ref().map(|i| i.to_string())
    }
    #[getter]
    fn dns_names(&self) -> Vec<String> {
        self.inner.dns_names.clone()
    }
    #[getter]
    fn ip_addresses(&self) -> Vec<String> {
        self.inner
            .ip_addresses
            .iter()
            .map(|i| i.to_string())
            .collect()
    }
    #[getter]
    fn is_ca(&self) -> bool {
        self.inner.is_ca
    }
    #[getter]
    fn path_len(&self) -> Option<u32> {
        self.inner.path_len
    }
    #[getter]
    fn server_auth(&self) -> bool {
        self.inner.server_auth
    }
    #[getter]
    fn client_auth(&self) -> bool {
        self.inner.client_auth
    }
    #[getter]
    fn key_algorithm(&self) -> &str {
        &self.inner.key_algorithm
    }
    /// SHA-256 of the DER, lowercase hex.
    #[getter]
    fn fingerprint_sha256(&self) -> String {
        self.inner.fingerprint.to_hex()
    }
    /// SHA-256 of the SubjectPublicKeyInfo, lowercase hex (for SPKI pins).
    #[getter]
    fn spki_fingerprint_sha256(&self) -> String {
        self.inner.spki_fingerprint.to_hex()
    }
    #[getter]
    fn crl_distribution_points(&self) -> Vec<String> {
        self.inner.crl_distribution_points.clone()
    }
    #[getter]
    fn permitted_dns(&self) -> Vec<String> {
        self.inner.permitted_dns.clone()
    }
    #[getter]
    fn self_issued(&self) -> bool {
        self.inner.self_issued
    }
    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        to_bytes(py, self.inner.der())
    }
    #[getter]
    fn pem(&self) -> String {
        self.inner.to_pem()
    }
    /// Whether `at` (default now) is within the validity period.
    #[pyo3(signature = (at=None))]
    fn is_valid_at(&self, at: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        Ok(self.inner.is_valid_at(timestamp(at)?))
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Certificate>()
            .map(|o| o.get().inner.der() == self.inner.der())
            .unwrap_or(false)
    }
    fn __hash__(&self) -> u64 {
        let fp = self.inner.fingerprint.0;
        u64::from_be_bytes([fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7]])
    }
    fn __repr__(&self) -> String {
        format!(
            "<Certificate subject={:?} serial={} spiffe_id={}>",
            self.inner.subject,
            self.inner.serial,
            py_repr(self.inner.spiffe_id.as_ref().map(|i| i.to_string()))
        )
    }
}

/// `'text'` or `None`, as Python's repr shows an optional string.
pub fn py_repr(value: Option<String>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| format!("'{v}'"))
}

/// A serial argument: lowercase/uppercase hex `str`, or an object with a `.serial` hex
/// attribute (`Certificate`, `Issued`, `PeerIdentity`).
pub fn serial_arg(value: &Bound<'_, PyAny>) -> PyResult<Serial> {
    let hex = if let Ok(s) = value.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if let Ok(attr) = value.getattr("serial") {
        attr.extract::<String>()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "expected a serial (hex str) or an object with .serial, got {}",
            value.get_type().name()?
        )));
    };
    Serial::from_hex(&hex).map_err(to_py)
}

/// A SHA-256 fingerprint argument in hex (colons allowed, as the core parses it).
pub fn fingerprint_arg(hex: &str) -> PyResult<Fingerprint> {
    Fingerprint::from_hex(hex).map_err(to_py)
}

/// A certificate argument for the core: `Certificate`, an object with `.cert_der`
/// (`Issued`), or PEM/DER input.
pub fn certificate_arg(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<CoreCertificate> {
    if let Ok(c) = value.cast::<Certificate>() {
        return Ok(c.get().inner.clone());
    }
    if let Ok(issued) = value.cast::<crate::issue::Issued>() {
        let der = issued.get().inner.cert_der.clone();
        return py
            .detach(move || CoreCertificate::from_der(&der))
            .map_err(to_py);
    }
    let input = input_bytes(value, "certificate")?;
    py.detach(move || CoreCertificate::from_pem_or_der(&input))
        .map_err(to_py)
}
