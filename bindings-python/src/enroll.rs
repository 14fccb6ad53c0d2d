//! The enrollment client (meshtls-enroll) for asyncio: `enroll(url, token, spiffe_id, ...)`
//! and `resume(url, state_dir=...)`.
//!
//! The key is made, the CSR sent, the certificate renewed through `/v1/renew` and the bundle
//! and CRL refreshed by the Rust client on the binding's tokio runtime; this module only
//! translates arguments, results, rotation events and errors.

use std::path::PathBuf;
use std::sync::Arc;

use meshtls_net::enroll::{EnrollOptions, EnrolledIdentity as RustEnrolled};
use meshtls_net::RotationEvent as NetEvent;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::bridge::{self, Failure};
use crate::certificate::Certificate;
use crate::error::to_py;
use crate::identity::spiffe_id_arg;
use crate::issue::key_algorithm;
use crate::net::{Identity, SharedHandle};
use crate::rotation::{RotationEvent, RotationPolicy};
use crate::trust::Trust;
use crate::validity::opt_duration;
use crate::verify::{Policy, Verifier};

/// An asyncio future of the running loop already holding `value`.
fn ready<'py>(py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let future = py
        .import("asyncio")?
        .call_method0("get_running_loop")?
        .call_method0("create_future")?;
    future.call_method1("set_result", (value,))?;
    Ok(future)
}

/// An identity from the CA service: renews itself through `/v1/renew` before it expires
/// and keeps its trust bundle and CRL fresh. Closing it (or dropping it) stops both.
#[pyclass(frozen, module = "meshtls._native")]
pub struct EnrolledIdentity {
    inner: Arc<RustEnrolled>,
    identity: Py<Identity>,
}

#[pymethods]
impl EnrolledIdentity {
    /// The SPIFFE ID.
    #[getter]
    fn spiffe_id(&self) -> String {
        self.inner.id().to_string()
    }

    /// The `meshtls.Identity` for the native transport (`connect_ws`, `serve_ws`, `connect`,
    /// `serve`) and `ssl_context()`: always the current certificate and key, swapped on each
    /// renewal for new handshakes.
    #[getter]
    fn identity(&self, py: Python<'_>) -> Py<Identity> {
        self.identity.clone_ref(py)
    }

    /// The current leaf certificate.
    #[getter]
    fn certificate(&self) -> PyResult<Certificate> {
        self.inner
            .identity()
            .current()
            .leaf()
            .map(Certificate::from_core)
            .map_err(to_py)
    }

    /// The current serial (hex).
    #[getter]
    fn serial(&self) -> PyResult<String> {
        Ok(self.certificate()?.inner.serial.to_hex())
    }

    /// The current chain, PEM, leaf first.
    #[getter]
    fn chain_pem(&self) -> String {
        self.inner
            .identity()
            .current()
            .chain()
            .iter()
            .map(|c| meshtls_core::encoding::cert_pem(c))
            .collect()
    }

    /// Bumped by every renewal.
    #[getter]
    fn generation(&self) -> u64 {
        self.inner.identity().generation()
    }

    /// The peer trust, live: the CA bundle and CRL as last fetched, with the peer policy
    /// (default: the trust domain). Every `verify()`, and every handshake of an
    /// `ssl_context()` made with it, uses what the schedule (or `refresh_trust()`) last
    /// fetched; `generation` grows at each refresh that brought a new bundle or CRL.
    #[getter]
    fn trust(&self) -> Trust {
        Trust::from_handle(self.inner.trust())
    }

    /// Another live trust on the same bundle and CRL with its own `policy`, for a listener
    /// (or client) that admits other peers than `trust` does; refreshed with it while held.
    fn trust_for(&self, policy: &Policy) -> Trust {
        Trust::from_handle(self.inner.trust_for(policy.inner.clone()))
    }

    /// The peer verifier as of now: the CA bundle and CRL last fetched, with the peer policy
    /// (default: the trust domain). A snapshot that later refreshes do not reach (`trust`
    /// does); call again after `refresh_trust()` for a newer one.
    fn verifier(&self) -> Verifier {
        Verifier {
            inner: (*self.inner.trust().current()).clone(),
        }
    }

    /// Renew now (a new key and certificate); the schedule does it by itself.
    fn renew_now<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        bridge::spawn(py, async move {
            inner.renew_now().await.map_err(Failure::Enroll)?;
            Ok(inner.identity().generation())
        })
    }

    /// How many CRLs fetched from the service were refused for stepping back (a lower CRL
    /// number than the one held, or the same number with other content): the held CRL
    /// stays, and `refresh_trust()` raises `stale_crl`.
    #[getter]
    fn stale_crl_refusals(&self) -> u64 {
        self.inner.stale_crl_refusals()
    }

    /// Stops the renewals and trust refreshes (the identity and trust keep their last
    /// generation; open connections stay). `async with` calls it on exit.
    fn close(&self) {
        self.inner.close();
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        ready(slf.py(), slf.clone().into_any())
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _kind: &Bound<'py, PyAny>,
        _value: &Bound<'py, PyAny>,
        _traceback: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.inner.close();
        ready(py, py.None().into_bound(py))
    }

    /// JWT-SVIDs for `audience` (a str or a list) from the CA service, for this identity's
    /// SPIFFE ID, kept fresh: `await identity.jwt_source("orders").token()`. `ttl` defaults
    /// to the service's (5 minutes); `bind` binds them to the current certificate.
    #[pyo3(signature = (audience, *, ttl=None, bind=false))]
    fn jwt_source(
        &self,
        audience: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        bind: bool,
    ) -> PyResult<crate::jwt::JwtSource> {
        let audience: Vec<String> = match audience.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => audience.extract()?,
        };
        Ok(crate::jwt::JwtSource {
            inner: Arc::new(self.inner.jwt_source(audience, opt_duration(ttl)?, bind)),
        })
    }

    /// Fetch the bundle and CRL now; the schedule does it every `refresh_every`.
    fn refresh_trust<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        bridge::spawn(py, async move {
            inner.refresh_trust().await.map_err(Failure::Enroll)?;
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<EnrolledIdentity {} generation={}>",
            self.inner.id(),
            self.inner.identity().generation()
        )
    }
}

/// The options `enroll` and `resume` share, from their keyword arguments.
#[allow(clippy::too_many_arguments)]
fn options(
    ca_bundle: String,
    dns_names: Vec<String>,
    key: Option<&str>,
    service_id: Option<&str>,
    peer_policy: Option<&Policy>,
    rotation: Option<&RotationPolicy>,
    refresh_every: Option<&Bound<'_, PyAny>>,
    timeout: Option<&Bound<'_, PyAny>>,
    state_dir: Option<PathBuf>,
    on_rotation: Option<&Bound<'_, PyAny>>,
) -> PyResult<EnrollOptions> {
    let mut options = EnrollOptions::new(ca_bundle);
    options.dns_names = dns_names;
    options.key_algorithm = key_algorithm(key)?;
    options.service_id = service_id.map(crate::identity::spiffe_id).transpose()?;
    options.peer_policy = peer_policy.map(|p| p.inner.clone());
    if let Some(r) = rotation {
        options.rotation = r.inner;
    }
    if let Some(d) = opt_duration(refresh_every)? {
        meshtls_net::enroll::check_refresh_every(d).map_err(to_py)?;
        options.refresh_every = d;
    }
    if let Some(d) = opt_duration(timeout)? {
        meshtls_net::enroll::check_timeout(d).map_err(to_py)?;
        options.timeout = d;
    }
    options.state_dir = state_dir;
    if let Some(cb) = on_rotation.filter(|c| !c.is_none()) {
        if !cb.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "on_rotation must be callable, got {}",
                cb.get_type().name()?
            )));
        }
        options.on_rotation = Some(rotation_callback(cb.clone().unbind()));
    }
    Ok(options)
}

/// Calls `callback(RotationEvent)` from the driver's tokio thread with the GIL. An exception
/// it raises goes to `sys.unraisablehook` and the driver carries on.
fn rotation_callback(callback: Py<PyAny>) -> Arc<dyn Fn(NetEvent) + Send + Sync> {
    Arc::new(move |event| {
        bridge::attach_unless_exiting(|py| {
            let called = Py::new(py, RotationEvent::from(event))
                .and_then(|event| callback.call1(py, (event,)));
            if let Err(err) = called {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        })
    })
}

/// `enroll(url, token, spiffe_id, *, ca_bundle, dns_names=(), key=None, service_id=None,
/// peer_policy=None, rotation=None, refresh_every=None, timeout=None, state_dir=None,
/// on_rotation=None)`: resolves to an `EnrolledIdentity`.
#[pyfunction]
#[pyo3(signature = (url, token, spiffe_id, *, ca_bundle, dns_names=Vec::new(), key=None,
                    service_id=None, peer_policy=None, rotation=None, refresh_every=None,
                    timeout=None, state_dir=None, on_rotation=None))]
#[allow(clippy::too_many_arguments)]
pub fn enroll<'py>(
    py: Python<'py>,
    url: String,
    token: String,
    spiffe_id: &Bound<'py, PyAny>,
    ca_bundle: String,
    dns_names: Vec<String>,
    key: Option<&str>,
    service_id: Option<&str>,
    peer_policy: Option<&Policy>,
    rotation: Option<&RotationPolicy>,
    refresh_every: Option<&Bound<'py, PyAny>>,
    timeout: Option<&Bound<'py, PyAny>>,
    state_dir: Option<PathBuf>,
    on_rotation: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let id = spiffe_id_arg(spiffe_id)?;
    let options = options(
        ca_bundle,
        dns_names,
        key,
        service_id,
        peer_policy,
        rotation,
        refresh_every,
        timeout,
        state_dir,
        on_rotation,
    )?;
    bridge::spawn(py, async move {
        let node = meshtls_net::enroll::enroll(&url, &token, &id, options)
            .await
            .map_err(Failure::Enroll)?;
        Ok(Enrolled(node))
    })
}

/// `resume(url, *, ca_bundle, state_dir, ...)` (the other arguments as `enroll`): picks up
/// the identity an earlier `enroll(..., state_dir=...)` kept in `state_dir/identity.pem`, with
/// no token while its certificate is valid; resolves to an `EnrolledIdentity` that renews and
/// refreshes as after `enroll`.
#[pyfunction]
#[pyo3(signature = (url, *, ca_bundle, state_dir, dns_names=Vec::new(), key=None,
                    service_id=None, peer_policy=None, rotation=None, refresh_every=None,
                    timeout=None, on_rotation=None))]
#[allow(clippy::too_many_arguments)]
pub fn resume<'py>(
    py: Python<'py>,
    url: String,
    ca_bundle: String,
    state_dir: PathBuf,
    dns_names: Vec<String>,
    key: Option<&str>,
    service_id: Option<&str>,
    peer_policy: Option<&Policy>,
    rotation: Option<&RotationPolicy>,
    refresh_every: Option<&Bound<'py, PyAny>>,
    timeout: Option<&Bound<'py, PyAny>>,
    on_rotation: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = options(
        ca_bundle,
        dns_names,
        key,
        service_id,
        peer_policy,
        rotation,
        refresh_every,
        timeout,
        Some(state_dir),
        on_rotation,
    )?;
    bridge::spawn(py, async move {
        let node = meshtls_net::enroll::resume(&url, options)
            .await
            .map_err(Failure::Enroll)?;
        Ok(Enrolled(node))
    })
}

/// The Rust result, made into a Python object on delivery (under the GIL).
struct Enrolled(RustEnrolled);

impl<'py> IntoPyObject<'py> for Enrolled {
    type Target = EnrolledIdentity;
    type Output = Bound<'py, EnrolledIdentity>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        // The Python subclass (`meshtls.Identity`, with `ssl_context()`) around the handle
        // the Rust client renews.
        let shared = SharedHandle {
            handle: self.0.identity(),
        };
        let identity = py
            .import("meshtls._stdlib")?
            .getattr("Identity")?
            .call1((shared,))?
            .cast_into::<Identity>()?
            .unbind();
        Bound::new(
            py,
            EnrolledIdentity {
                inner: Arc::new(self.0),
                identity,
            },
        )
    }
}
