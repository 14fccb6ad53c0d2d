//! Live trust (meshtls-net `TrustHandle`): the verifier of the moment, replaceable while
//! connections run.
//!
//! A `Verifier` is a snapshot; a `Trust` is the handle an enrolled identity refreshes (CA
//! bundle and CRL from the CA service on its schedule). `verify()` reads the current verifier
//! (an `Arc`: no copy of the bundle or CRL per call), so the stdlib `ssl` contexts built on a
//! `Trust` check every handshake against the trust of that moment.

use meshtls_core::Verifier as CoreVerifier;
use meshtls_net::TrustHandle;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::encoding::to_bytes;
use crate::verify::{verify_chain, PeerIdentity, Policy, TrustBundle, Verifier};

/// Who we trust, replaceable while connections run: every `verify()` (and every handshake of
/// an `ssl_context()` made with it) uses the verifier current at that moment.
/// `EnrolledIdentity.trust` is refreshed from the CA service; `Trust(verifier)` and
/// `replace()` do it by hand.
#[pyclass(frozen, module = "meshtls._native")]
pub struct Trust {
    pub(crate) handle: TrustHandle,
}

impl Trust {
    /// A trust whose handle is refreshed elsewhere (an enrolled identity).
    pub(crate) fn from_handle(handle: TrustHandle) -> Self {
        Trust { handle }
    }
}

#[pymethods]
impl Trust {
    /// `Trust(verifier)`: a trust holding a copy of `verifier` (generation 0).
    #[new]
    fn new(verifier: &Verifier) -> Self {
        Trust::from_handle(TrustHandle::new(verifier.inner.clone()))
    }

    /// Swaps in another verifier for every later `verify()` and handshake; open connections
    /// keep what they were admitted with. On an enrolled identity's trust, the next scheduled
    /// refresh replaces it again.
    fn replace(&self, verifier: &Verifier) {
        self.handle.replace(verifier.inner.clone());
    }

    /// Verifies `chain` (leaf first) with the current bundle, CRL and policy, for a peer
    /// acting as `usage` (`"client"` or `"server"`) at `at` (default now). Returns the
    /// `PeerIdentity`, or raises a `VerificationError` with the core's code (`revoked`...).
    #[pyo3(signature = (chain, usage="client", at=None))]
    fn verify(
        &self,
        py: Python<'_>,
        chain: &Bound<'_, PyAny>,
        usage: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PeerIdentity> {
        let current = self.handle.current();
        verify_chain(py, &current, chain, usage, at)
    }

    /// Bumped by every replacement (a refresh of an enrolled identity's trust that brought a new
    /// bundle or CRL; an unchanged one leaves it).
    #[getter]
    fn generation(&self) -> u64 {
        self.handle.generation()
    }

    /// The current CA certificates, PEM (without the CRLs).
    #[getter]
    fn ca_pem(&self) -> String {
        self.handle.current().bundle().to_pem()
    }

    /// A copy of the current trust bundle (CAs and CRLs).
    #[getter]
    fn bundle(&self) -> TrustBundle {
        TrustBundle {
            inner: self.handle.current().bundle().clone(),
        }
    }

    /// The current policy.
    #[getter]
    fn policy(&self) -> Policy {
        Policy {
            inner: self.handle.current().policy().clone(),
        }
    }

    /// The current verifier, as a snapshot (a copy of the bundle and CRL).
    fn verifier(&self) -> Verifier {
        Verifier {
            inner: (*self.handle.current()).clone(),
        }
    }

    /// `(generation, ca_pem, intermediates_der)` of one verifier, for the stdlib `ssl`
    /// integration: the CAs OpenSSL builds chains with, and the bundle's intermediates that
    /// `check_peer` appends to a bare leaf on Python < 3.13. Read from one `current()`, the
    /// generation first: a replacement in between makes it look older than the material, so
    /// the caller reloads once more, never less.
    fn _ssl_material<'py>(&self, py: Python<'py>) -> (u64, String, Vec<Bound<'py, PyBytes>>) {
        let generation = self.handle.generation();
        let current = self.handle.current();
        let (ca_pem, intermediates) = material(py, &current);
        (generation, ca_pem, intermediates)
    }

    fn __repr__(&self) -> String {
        let current = self.handle.current();
        format!(
            "<Trust generation={} cas={} crls={}>",
            self.handle.generation(),
            current.bundle().len(),
            current.bundle().crls().len()
        )
    }
}

/// The CA PEM and the DER of the intermediates (CAs not self-issued) of a verifier.
fn material<'py>(py: Python<'py>, verifier: &CoreVerifier) -> (String, Vec<Bound<'py, PyBytes>>) {
    let bundle = verifier.bundle();
    let intermediates = bundle
        .cas()
        .filter(|c| !c.self_issued)
        .map(|c| to_bytes(py, c.der()))
        .collect();
    (bundle.to_pem(), intermediates)
}

/// The handle behind a `verifier` argument of the transport: a `Trust`'s own handle (shared:
/// its refreshes reach the connections), or a new one holding a copy of a `Verifier`.
pub fn trust_handle(value: &Bound<'_, PyAny>) -> PyResult<TrustHandle> {
    if let Ok(trust) = value.cast::<Trust>() {
        return Ok(trust.get().handle.clone());
    }
    if let Ok(verifier) = value.cast::<Verifier>() {
        return Ok(TrustHandle::new(verifier.get().inner.clone()));
    }
    Err(PyTypeError::new_err(format!(
        "expected a meshtls.Verifier or meshtls.Trust, got {}",
        value.get_type().name()?
    )))
}
