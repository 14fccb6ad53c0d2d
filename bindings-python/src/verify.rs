//! Trust bundles, policies and the verifier: the core decides, this file translates.

use meshtls_core::{
    PeerIdentity as CorePeer, PeerUsage, Policy as CorePolicy, TrustBundle as CoreBundle,
    Verifier as CoreVerifier, VerifyOptions,
};
use pyo3::prelude::*;

use crate::certificate::{fingerprint_arg, Certificate};
use crate::encoding::{chain, input_bytes};
use crate::error::to_py;
use crate::identity::{pattern, spiffe_id, trust_domain};
use crate::revocation::Crl;
use crate::validity::{opt_duration, timestamp, to_datetime};

/// The CA certificates a verifier trusts (several during a CA rotation) and its CRLs.
/// `TrustBundle(pem_or_der_or_list=None)`.
#[pyclass(module = "meshtls._native")]
#[derive(Clone, Default)]
pub struct TrustBundle {
    pub(crate) inner: CoreBundle,
}

#[pymethods]
impl TrustBundle {
    #[new]
    #[pyo3(signature = (cas=None))]
    fn new(cas: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut b = TrustBundle::default();
        if let Some(cas) = cas.filter(|c| !c.is_none()) {
            b.add_ca(cas)?;
        }
        Ok(b)
    }

    /// Adds CA certificates (PEM with any number, one DER, or a list).
    fn add_ca(&mut self, cas: &Bound<'_, PyAny>) -> PyResult<()> {
        for der in chain(cas, "ca")? {
            self.inner.add_ca_der(&der).map_err(to_py)?;
        }
        Ok(())
    }

    /// Adds a CRL (`Crl`, PEM or DER). A newer CRL of the same issuer replaces the held one;
    /// an older one (or another with the same number) is `stale_crl`.
    fn add_crl(&mut self, crl: &Bound<'_, PyAny>) -> PyResult<()> {
        let der = match crl.cast::<Crl>() {
            Ok(c) => c.get().inner.der().to_vec(),
            Err(_) => input_bytes(crl, "crl")?,
        };
        self.inner.add_crl(&der).map_err(to_py)
    }

    /// Removes the CA with this SHA-256 certificate fingerprint (hex); returns whether it
    /// was there.
    fn remove_ca(&mut self, fingerprint_sha256: &str) -> PyResult<bool> {
        Ok(self.inner.remove_ca(&fingerprint_arg(fingerprint_sha256)?))
    }

    /// Drops the CAs expired at `at` (default now); returns how many.
    #[pyo3(signature = (at=None))]
    fn prune_expired(&mut self, at: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
        Ok(self.inner.prune_expired(timestamp(at)?))
    }

    /// A bundle with the CAs and CRLs of both (the overlap of a CA rotation).
    fn merged(&self, other: &TrustBundle) -> TrustBundle {
        TrustBundle {
            inner: self.inner.merged(&other.inner),
        }
    }

    /// The CA certificates.
    #[getter]
    fn cas(&self) -> Vec<Certificate> {
        self.inner
            .cas()
            .map(|c| Certificate::from_core(c.clone()))
            .collect()
    }

    /// The CRLs.
    #[getter]
    fn crls(&self) -> Vec<Crl> {
        self.inner
            .crls()
            .iter()
            .map(|c| Crl::from_core(c.clone()))
            .collect()
    }

    /// Every CA certificate, PEM (what `ssl.SSLContext.load_verify_locations(cadata=)` takes).
    fn to_pem(&self) -> String {
        self.inner.to_pem()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<TrustBundle cas={} crls={}>",
            self.inner.len(),
            self.inner.crls().len()
        )
    }
}

/// Who may connect. At least one rule (or `allow_any=True`) is needed: an empty policy is
/// `InvalidRequest`, never "allow everyone".
#[pyclass(frozen, module = "meshtls._native")]
#[derive(Clone)]
pub struct Policy {
    pub(crate) inner: CorePolicy,
}

#[pymethods]
impl Policy {
    #[new]
    #[pyo3(signature = (*, ids=Vec::new(), patterns=Vec::new(), trust_domains=Vec::new(),
                        dns_names=Vec::new(), cert_pins=Vec::new(), spki_pins=Vec::new(),
                        allow_any=false, clock_leeway=None, max_intermediates=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        ids: Vec<String>,
        patterns: Vec<String>,
        trust_domains: Vec<String>,
        dns_names: Vec<String>,
        cert_pins: Vec<String>,
        spki_pins: Vec<String>,
        allow_any: bool,
        clock_leeway: Option<&Bound<'_, PyAny>>,
        max_intermediates: Option<usize>,
    ) -> PyResult<Self> {
        let mut b = CorePolicy::builder();
        for id in &ids {
            b = b.allow_id(spiffe_id(id)?);
        }
        for p in &patterns {
            b = b.allow_pattern(pattern(p)?);
        }
        for td in &trust_domains {
            b = b.allow_trust_domain(trust_domain(td)?);
        }
        for d in dns_names {
            b = b.allow_dns(d);
        }
        for fp in &cert_pins {
            b = b.pin_cert(fingerprint_arg(fp)?);
        }
        for fp in &spki_pins {
            b = b.pin_spki(fingerprint_arg(fp)?);
        }
        if allow_any {
            b = b.allow_any();
        }
        if let Some(leeway) = opt_duration(clock_leeway)? {
            b = b.clock_leeway(leeway);
        }
        if let Some(n) = max_intermediates {
            b = b.max_intermediates(n);
        }
        Ok(Policy {
            inner: b.build().map_err(to_py)?,
        })
    }

    /// Any peer the trust bundle vouches for (still subject to the SVID rules).
    #[staticmethod]
    #[pyo3(name = "allow_any")]
    fn any() -> Self {
        Policy {
            inner: CorePolicy::allow_any(),
        }
    }

    /// The clock leeway in seconds (default 0).
    #[getter]
    fn clock_leeway(&self) -> f64 {
        self.inner.clock_leeway().as_secs_f64()
    }

    /// The most intermediates a path may hold (default 4).
    #[getter]
    fn max_intermediates(&self) -> usize {
        self.inner.max_intermediates()
    }

    fn __repr__(&self) -> String {
        format!("<Policy {:?}>", self.inner)
    }
}

/// The verified peer: `spiffe_id`, `dns_names`, `common_name`, `serial`, validity,
/// fingerprints and the trust anchor's subject.
#[pyclass(frozen, module = "meshtls._native")]
#[derive(Clone)]
pub struct PeerIdentity {
    pub(crate) inner: CorePeer,
}

#[pymethods]
impl PeerIdentity {
    #[getter]
    fn spiffe_id(&self) -> Option<String> {
        self.inner.spiffe_id.as_ref().map(|i| i.to_string())
    }
    #[getter]
    fn dns_names(&self) -> Vec<String> {
        self.inner.dns_names.clone()
    }
    #[getter]
    fn common_name(&self) -> Option<&str> {
        self.inner.common_name.as_deref()
    }
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
    fn fingerprint_sha256(&self) -> String {
        self.inner.fingerprint.to_hex()
    }
    #[getter]
    fn spki_fingerprint_sha256(&self) -> String {
        self.inner.spki_fingerprint.to_hex()
    }
    #[getter]
    fn anchor_subject(&self) -> &str {
        &self.inner.anchor_subject
    }
    fn __repr__(&self) -> String {
        format!(
            "<PeerIdentity spiffe_id={} serial={}>",
            crate::certificate::py_repr(self.inner.spiffe_id.as_ref().map(|i| i.to_string())),
            self.inner.serial
        )
    }
}

/// A trust bundle, a policy and options: decides whether a presented chain is acceptable.
/// `Verifier(bundle, policy)`; `bundle` may be a `TrustBundle` or CA PEM/DER.
#[pyclass(frozen, subclass, module = "meshtls._native")]
pub struct Verifier {
    pub(crate) inner: CoreVerifier,
}

/// `client` or `server`: the role the verified peer plays.
pub fn peer_usage(name: &str) -> PyResult<PeerUsage> {
    name.parse::<PeerUsage>().map_err(to_py)
}

#[pymethods]
impl Verifier {
    #[new]
    #[pyo3(signature = (bundle, policy, *, require_crl=None, reject_stale_crl=None,
                        crl_leaf_only=None))]
    fn new(
        bundle: &Bound<'_, PyAny>,
        policy: &Policy,
        require_crl: Option<bool>,
        reject_stale_crl: Option<bool>,
        crl_leaf_only: Option<bool>,
    ) -> PyResult<Self> {
        let bundle = match bundle.cast::<TrustBundle>() {
            Ok(b) => b.borrow().inner.clone(),
            Err(_) => TrustBundle::new(Some(bundle))?.inner,
        };
        let mut options = VerifyOptions::default();
        if let Some(v) = require_crl {
            options.revocation.require_crl = v;
        }
        if let Some(v) = reject_stale_crl {
            options.revocation.reject_stale_crl = v;
        }
        if let Some(v) = crl_leaf_only {
            options.revocation.leaf_only = v;
        }
        Ok(Verifier {
            inner: CoreVerifier::with_options(bundle, policy.inner.clone(), options),
        })
    }

    /// Verifies `chain` (leaf first: PEM, one DER, or a list) for a peer acting as `usage`
    /// (`"client"` or `"server"`) at `at` (default now). Returns the `PeerIdentity`, or raises
    /// a `VerificationError` (or `MalformedInput`) with the core's code.
    #[pyo3(signature = (chain, usage="client", at=None))]
    fn verify(
        &self,
        py: Python<'_>,
        chain: &Bound<'_, PyAny>,
        usage: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PeerIdentity> {
        verify_chain(py, &self.inner, chain, usage, at)
    }

    /// A copy of the trust bundle.
    #[getter]
    fn bundle(&self) -> TrustBundle {
        TrustBundle {
            inner: self.inner.bundle().clone(),
        }
    }

    #[getter]
    fn policy(&self) -> Policy {
        Policy {
            inner: self.inner.policy().clone(),
        }
    }

    fn __repr__(&self) -> String {
        format!("<Verifier cas={}>", self.inner.bundle().len())
    }
}

/// `Verifier.verify` and `Trust.verify`: the arguments parsed here, the verdict the core's
/// (with the GIL released).
pub fn verify_chain(
    py: Python<'_>,
    verifier: &CoreVerifier,
    chain: &Bound<'_, PyAny>,
    usage: &str,
    at: Option<&Bound<'_, PyAny>>,
) -> PyResult<PeerIdentity> {
    let usage = peer_usage(usage)?;
    let at = timestamp(at)?;
    let ders = if chain.is_none() {
        Vec::new()
    } else {
        self::chain(chain, "chain")?
    };
    let inner = py
        .detach(|| verifier.verify(&ders, usage, at))
        .map_err(to_py)?;
    Ok(PeerIdentity { inner })
}
