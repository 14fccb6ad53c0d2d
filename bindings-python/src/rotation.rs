//! When to renew: the core's rotation policy and its verdict, and what a rotation driver
//! reports (`RotationEvent`).

use meshtls_core::{RotationPolicy as CoreRotation, RotationStatus as CoreStatus};
use meshtls_net::RotationEvent as NetEvent;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::certificate::certificate_arg;
use crate::error::to_py;
use crate::validity::{opt_duration, timestamp, to_datetime};

/// When to renew: `RotationPolicy()` (2/3 of the lifetime, 5 % jitter),
/// `RotationPolicy(renew_at_fraction=0.5)`, `RotationPolicy(renew_before=timedelta(days=7))`.
#[pyclass(frozen, module = "meshtls._native")]
pub struct RotationPolicy {
    pub(crate) inner: CoreRotation,
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

/// A rotation verdict: `state` is `"fresh"` (with `renew_at`), `"renew_due"` or `"expired"`
/// (the same name and values in every meshtls binding).
#[pyclass(frozen, module = "meshtls._native")]
pub struct RotationStatus {
    inner: CoreStatus,
}

#[pymethods]
impl RotationStatus {
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state()
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
        format!("<RotationStatus {}>", self.state())
    }
}

/// What a rotation driver reports (the `on_rotation` callback of `enroll`/`resume`).
///
/// `kind` is `"renewed"` (a new certificate was swapped in: `serial`, `not_after`),
/// `"failed"` (a renewal attempt failed and the current certificate is kept: `attempt`,
/// `code`, `message`, `retry_in`) or `"expiring"` (the current certificate is due for
/// renewal, or already `expired`: `serial`, `not_after`). Fields that do not apply are None.
#[pyclass(frozen, module = "meshtls._native")]
pub struct RotationEvent {
    inner: NetEvent,
}

impl From<NetEvent> for RotationEvent {
    fn from(inner: NetEvent) -> Self {
        RotationEvent { inner }
    }
}

#[pymethods]
impl RotationEvent {
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner {
            NetEvent::Renewed { .. } => "renewed",
            NetEvent::Failed { .. } => "failed",
            NetEvent::Expiring { .. } => "expiring",
            // A kind added to meshtls-net later.
            _ => "other",
        }
    }
    /// Serial (hex) of the new certificate (`renewed`) or of the current one (`expiring`).
    #[getter]
    fn serial(&self) -> Option<String> {
        match &self.inner {
            NetEvent::Renewed { serial, .. } | NetEvent::Expiring { serial, .. } => {
                Some(serial.to_hex())
            }
            _ => None,
        }
    }
    /// When that certificate expires (`renewed`, `expiring`).
    #[getter]
    fn not_after<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match &self.inner {
            NetEvent::Renewed { not_after, .. } | NetEvent::Expiring { not_after, .. } => {
                to_datetime(py, *not_after).map(Some)
            }
            _ => Ok(None),
        }
    }
    /// Whether the current certificate has expired already (`expiring`; False otherwise).
    #[getter]
    fn expired(&self) -> bool {
        matches!(self.inner, NetEvent::Expiring { expired: true, .. })
    }
    /// 1 for the first failure since the last success (`failed`).
    #[getter]
    fn attempt(&self) -> Option<u32> {
        match &self.inner {
            NetEvent::Failed { attempt, .. } => Some(*attempt),
            _ => None,
        }
    }
    /// `failed`: the core's code when there is one: the core rejected the new certificate, or
    /// the CA service refused with a core code (`revoked`); None when the service could not be
    /// reached or refused with a code of its own (see `message`).
    #[getter]
    fn code(&self) -> Option<&'static str> {
        match &self.inner {
            NetEvent::Failed { code, .. } => code.map(|c| c.as_str()),
            _ => None,
        }
    }
    /// What went wrong (`failed`).
    #[getter]
    fn message(&self) -> Option<&str> {
        match &self.inner {
            NetEvent::Failed { message, .. } => Some(message),
            _ => None,
        }
    }
    /// Delay before the next attempt (`failed`).
    #[getter]
    fn retry_in<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match &self.inner {
            NetEvent::Failed { retry_in, .. } => py
                .import("datetime")?
                .getattr("timedelta")?
                .call1((0, retry_in.as_secs_f64()))
                .map(Some),
            _ => Ok(None),
        }
    }
    fn __repr__(&self) -> String {
        match &self.inner {
            NetEvent::Failed { attempt, code, .. } => format!(
                "<RotationEvent failed attempt={attempt} code={}>",
                code.map_or("None", |c| c.as_str())
            ),
            _ => format!(
                "<RotationEvent {} serial={}>",
                self.kind(),
                self.serial().unwrap_or_default()
            ),
        }
    }
}
