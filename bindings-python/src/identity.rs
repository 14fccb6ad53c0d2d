//! SPIFFE IDs and trust domains: strings at the Python edge, parsed once by the core.

use meshtls_core::{IdPattern, SpiffeId as CoreSpiffeId, TrustDomain};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::error::to_py;

/// A SPIFFE ID such as `spiffe://mesh.internal/service/api`, validated by the core.
#[pyclass(frozen, eq, hash, module = "meshtls._native")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    pub(crate) inner: CoreSpiffeId,
}

#[pymethods]
impl SpiffeId {
    #[new]
    fn new(id: &str) -> PyResult<Self> {
        Ok(SpiffeId {
            inner: spiffe_id(id)?,
        })
    }

    /// The trust domain, e.g. `mesh.internal`.
    #[getter]
    fn trust_domain(&self) -> String {
        self.inner.trust_domain().to_string()
    }

    /// The path, e.g. `/service/api`.
    #[getter]
    fn path(&self) -> String {
        self.inner.path().to_owned()
    }

    /// Whether the ID matches a pattern such as `spiffe://mesh.internal/service/*`.
    fn matches(&self, pattern: &str) -> PyResult<bool> {
        Ok(IdPattern::parse(pattern)
            .map_err(to_py)?
            .matches(&self.inner))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("SpiffeId('{}')", self.inner)
    }
}

/// Parses a SPIFFE ID argument.
pub fn spiffe_id(s: &str) -> PyResult<CoreSpiffeId> {
    CoreSpiffeId::parse(s).map_err(to_py)
}

/// A SPIFFE ID argument given as `str` or `SpiffeId`.
pub fn spiffe_id_arg(value: &Bound<'_, PyAny>) -> PyResult<CoreSpiffeId> {
    if let Ok(s) = value.cast::<PyString>() {
        return spiffe_id(&s.to_cow()?);
    }
    if let Ok(id) = value.cast::<SpiffeId>() {
        return Ok(id.get().inner.clone());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "expected a SPIFFE ID (str or SpiffeId), got {}",
        value.get_type().name()?
    )))
}

/// Parses a trust domain argument (`mesh.internal`).
pub fn trust_domain(s: &str) -> PyResult<TrustDomain> {
    TrustDomain::new(s).map_err(to_py)
}

/// Parses an ID pattern argument (`spiffe://mesh.internal/service/*`).
pub fn pattern(s: &str) -> PyResult<IdPattern> {
    IdPattern::parse(s).map_err(to_py)
}
