//! Time at the Python edge: timezone-aware `datetime` in and out, `timedelta` for durations.
//!
//! The core takes time as an argument; this edge reads the clock when the caller passes
//! `None`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshtls_core::Timestamp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The wall clock, in whole seconds.
pub fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// A timezone-aware `datetime` (or `None` for now) as a core timestamp.
pub fn timestamp(at: Option<&Bound<'_, PyAny>>) -> PyResult<Timestamp> {
    let Some(at) = at.filter(|a| !a.is_none()) else {
        return Ok(now());
    };
    let py = at.py();
    let datetime = py.import("datetime")?.getattr("datetime")?;
    if !at.is_instance(&datetime)? {
        return Err(PyTypeError::new_err(format!(
            "expected a timezone-aware datetime, got {}",
            at.get_type().name()?
        )));
    }
    if at.call_method0("utcoffset")?.is_none() {
        return Err(PyValueError::new_err(
            "naive datetime: pass a timezone-aware datetime (e.g. datetime.now(timezone.utc))",
        ));
    }
    let secs: f64 = at.call_method0("timestamp")?.extract()?;
    Ok(Timestamp::from_unix(secs.floor() as i64))
}

/// A core timestamp as a UTC `datetime`.
pub fn to_datetime(py: Python<'_>, at: Timestamp) -> PyResult<Bound<'_, PyAny>> {
    let module = py.import("datetime")?;
    let utc = module.getattr("timezone")?.getattr("utc")?;
    let epoch = module
        .getattr("datetime")?
        .call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
    let delta = module
        .getattr("timedelta")?
        .call1((0, at.unix()))
        .map_err(|_| PyValueError::new_err(format!("time {} is out of range", at.unix())))?;
    epoch.call_method1("__add__", (delta,))
}

/// A `timedelta` (or a number of seconds) as a duration.
pub fn duration(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = value.py();
    let timedelta = py.import("datetime")?.getattr("timedelta")?;
    let secs: f64 = if value.is_instance(&timedelta)? {
        value.call_method0("total_seconds")?.extract()?
    } else if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err("expected a timedelta, got bool"));
    } else if let Ok(n) = value.extract::<f64>() {
        n
    } else {
        return Err(PyTypeError::new_err(format!(
            "expected a timedelta or a number of seconds, got {}",
            value.get_type().name()?
        )));
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(PyValueError::new_err(
            "a duration must be finite and not negative",
        ));
    }
    Ok(Duration::from_secs(secs.floor() as u64))
}

/// An optional duration argument.
pub fn opt_duration(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    value.filter(|v| !v.is_none()).map(duration).transpose()
}
