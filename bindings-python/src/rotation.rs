//! When to renew: the core's rotation policy and its verdict.

use meshtls_core::{RotationPolicy as CoreRotation, RotationStatus as CoreStatus};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::certificate::certificate_arg;
use crate::error::to_py;
use crate::validity::{opt_duration, timestamp, to_datetime};

/// When to renew: `RotationPolicy()` (2/3 of the lifetime, 5 % jitter),
/// `RotationPolicy(renew_at_fraction=0.5)`, `RotationPolicy(renew_before=timedelta(days=7))`.
#[pyclass(frozen, module = "meshtls._native")]
pub struct RotationPolicy {
    inner: CoreRotation,
}

#[pymethods]
impl RotationPolicy {
    #[new]
    #[pyo3(signature = (*, renew_at_fraction=None, renew_before=None, jitter=None))]
    fn new(
        renew_at_fraction: Option<f64>,
        renew_before: Option<&Bound<'_, PyAny>>,
        jitter: Option<f64>,
    ) -> PyResult<Self> {
        let before = opt_duration(renew_before)?;
        let mut inner = match (renew_at_fraction, before) {
            (None, None) => CoreRotation::default(),
            (Some(f), None) => CoreRotation::at_fraction(f).map_err(to_py)?,
            (None, Some(d)) => CoreRotation::before_expiry(d),
            (Some(_), Some(_)) => {
                return Err(PyTypeError::new_err(
                    "pass renew_at_fraction or renew_before, not both",
                ))
            }
        };
        if let Some(j) = jitter {
            inner = inner.with_jitter(j).map_err(to_py)?;
        }
        Ok(RotationPolicy { inner })
    }

    /// Where `cert` (a `Certificate`, `Issued` or PEM/DER) stands at `now` (default now).
    #[pyo3(signature = (cert, now=None))]
    fn status(
        &self,
        py: Python<'_>,
        cert: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<RotationStatus> {
        let cert = certificate_arg(py, cert)?;
        Ok(RotationStatus {
            inner: self.inner.status(&cert, timestamp(now)?),
        })
    }

    fn __repr__(&self) -> String {
        format!("<RotationPolicy {:?}>", self.inner)
    }
}

/// A rotation verdict: `kind` is `"fresh"` (with `renew_at`), `"renew_due"` or `"expired"`.
#[pyclass(frozen, module = "meshtls._native")]
pub struct RotationStatus {
    inner: CoreStatus,
}

#[pymethods]
impl RotationStatus {
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner {
            CoreStatus::Fresh { .. } => "fresh",
            CoreStatus::RenewDue => "renew_due",
            CoreStatus::Expired => "expired",
        }
    }
    /// When renewal becomes due, for a fresh certificate; None otherwise.
    #[getter]
    fn renew_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.inner {
            CoreStatus::Fresh { renew_at } => to_datetime(py, renew_at).map(Some),
            _ => Ok(None),
        }
    }
    #[getter]
    fn is_fresh(&self) -> bool {
        matches!(self.inner, CoreStatus::Fresh { .. })
    }
    #[getter]
    fn renew_due(&self) -> bool {
        self.inner == CoreStatus::RenewDue
    }
    #[getter]
    fn expired(&self) -> bool {
        self.inner == CoreStatus::Expired
    }
    fn __repr__(&self) -> String {
        format!("<RotationStatus {}>", self.kind())
    }
}
