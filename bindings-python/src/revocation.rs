//! Revocation records, CRLs.

use meshtls_core::{Crl as CoreCrl, RevocationList as CoreList, RevocationReason, RevokedEntry};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::certificate::serial_arg;
use crate::encoding::{input_bytes, to_bytes};
use crate::error::to_py;
use crate::validity::{timestamp, to_datetime};

/// One revoked certificate: `serial` (hex), `revoked_at` (datetime), `reason` (snake_case).
#[pyclass(frozen, module = "meshtls._native")]
pub struct Revoked {
    inner: RevokedEntry,
}

#[pymethods]
impl Revoked {
    #[getter]
    fn serial(&self) -> String {
        self.inner.serial.to_hex()
    }
    #[getter]
    fn revoked_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.inner.revoked_at)
    }
    #[getter]
    fn reason(&self) -> &'static str {
        self.inner.reason.as_str()
    }
    fn __repr__(&self) -> String {
        format!(
            "<Revoked serial={} reason={}>",
            self.inner.serial, self.inner.reason
        )
    }
}

/// A CA's revocation records, the source of its CRLs. Persist with `to_text()` /
/// `RevocationList.from_text()`.
#[pyclass(module = "meshtls._native")]
#[derive(Default)]
pub struct RevocationList {
    inner: CoreList,
}

impl RevocationList {
    pub(crate) fn snapshot(&self) -> PyResult<CoreList> {
        Ok(self.inner.clone())
    }
}

#[pymethods]
impl RevocationList {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Parses `to_text()` output.
    #[staticmethod]
    fn from_text(text: &str) -> PyResult<Self> {
        Ok(RevocationList {
            inner: CoreList::from_text(text).map_err(to_py)?,
        })
    }

    /// Records a revocation of `serial` (hex, or a `Certificate`/`Issued`/`PeerIdentity`);
    /// returns False when it was already revoked. `reason` is an RFC 5280 reason in
    /// snake_case (`key_compromise`, `superseded`...).
    #[pyo3(signature = (serial, reason=None, at=None))]
    fn revoke(
        &mut self,
        serial: &Bound<'_, PyAny>,
        reason: Option<&str>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let serial = serial_arg(serial)?;
        let reason = match reason {
            Some(r) => r.parse::<RevocationReason>().map_err(to_py)?,
            None => RevocationReason::default(),
        };
        self.inner
            .revoke(serial, reason, timestamp(at)?)
            .map_err(to_py)
    }

    /// The record for a serial, or None.
    fn get(&self, serial: &Bound<'_, PyAny>) -> PyResult<Option<Revoked>> {
        let serial = serial_arg(serial)?;
        Ok(self
            .inner
            .get(&serial)
            .map(|e| Revoked { inner: e.clone() }))
    }

    /// Every record, by serial.
    #[getter]
    fn entries(&self) -> Vec<Revoked> {
        self.inner
            .entries()
            .map(|e| Revoked { inner: e.clone() })
            .collect()
    }

    /// The number of the last CRL built from these records.
    #[getter]
    fn last_crl_number(&self) -> u64 {
        self.inner.last_crl_number
    }
    #[setter]
    fn set_last_crl_number(&mut self, n: u64) {
        self.inner.last_crl_number = n;
    }

    fn to_text(&self) -> String {
        self.inner.to_text()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, serial: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.get(&serial_arg(serial)?).is_some())
    }
}

/// A signed certificate revocation list. `Crl(pem_or_der)` parses one.
#[pyclass(frozen, module = "meshtls._native")]
#[derive(Clone)]
pub struct Crl {
    pub(crate) inner: CoreCrl,
}

impl Crl {
    pub(crate) fn from_core(inner: CoreCrl) -> Self {
        Crl { inner }
    }
}

#[pymethods]
impl Crl {
    #[new]
    fn new(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let input = input_bytes(data, "crl")?;
        let inner = py
            .detach(move || CoreCrl::from_pem_or_der(&input))
            .map_err(to_py)?;
        Ok(Crl { inner })
    }
    #[getter]
    fn issuer(&self) -> &str {
        &self.inner.issuer
    }
    #[getter]
    fn number(&self) -> Option<u64> {
        self.inner.number
    }
    #[getter]
    fn this_update<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.inner.this_update)
    }
    #[getter]
    fn next_update<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .next_update
            .map(|t| to_datetime(py, t))
            .transpose()
    }
    #[getter]
    fn revoked_count(&self) -> usize {
        self.inner.revoked_count
    }
    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        to_bytes(py, self.inner.der())
    }
    #[getter]
    fn pem(&self) -> String {
        self.inner.to_pem()
    }
    /// The entry for `serial` if this CRL revokes it.
    fn lookup(&self, serial: &Bound<'_, PyAny>) -> PyResult<Option<Revoked>> {
        let serial = serial_arg(serial)?;
        Ok(self
            .inner
            .lookup(&serial)
            .map_err(to_py)?
            .map(|inner| Revoked { inner }))
    }
    /// Whether the CRL is past its nextUpdate at `at` (default now).
    #[pyo3(signature = (at=None))]
    fn is_stale(&self, at: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        Ok(self.inner.is_stale(timestamp(at)?))
    }
    fn __repr__(&self) -> String {
        format!(
            "<Crl issuer={:?} number={} revoked={}>",
            self.inner.issuer,
            crate::certificate::py_repr(self.inner.number.map(|n| n.to_string())).replace('\'', ""),
            self.inner.revoked_count
        )
    }
}
