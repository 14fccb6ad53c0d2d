//! JWT-SVIDs: the SPIFFE bundle, the validator, signing keys and the claims, translated from
//! `meshtls_core::jwt`; an enrolled identity's token source from `meshtls_net::enroll`. Every
//! token rule is the core's.

use std::sync::Arc;

use meshtls_core::jwt::{
    JwtAlgorithm, JwtSigningKey as CoreKey, JwtValidator as CoreValidator,
    SpiffeBundle as CoreBundle, TokenClaims as CoreClaims, TokenRequest,
};
use meshtls_net::enroll::JwtSource as NetSource;
use pyo3::prelude::*;

use crate::bridge::{self, Failure};
use crate::certificate::Certificate;
use crate::encoding::{chain, input_bytes};
use crate::error::to_py;
use crate::identity::{spiffe_id_arg, trust_domain, SpiffeId};
use crate::validity::{opt_duration, timestamp, to_datetime};
use crate::verify::Policy;

fn algorithm(name: &str) -> PyResult<JwtAlgorithm> {
    JwtAlgorithm::parse(name).map_err(to_py)
}

/// The first certificate of `cert` (a `Certificate`, PEM or DER), as DER.
fn cert_der(cert: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(c) = cert.cast::<Certificate>() {
        return Ok(c.get().inner.der().to_vec());
    }
    chain(cert, what)?.into_iter().next().ok_or_else(|| {
        to_py(meshtls_core::Error::new(
            meshtls_core::ErrorCode::Malformed,
            format!("{what}: no certificate"),
        ))
    })
}

/// A SPIFFE trust bundle (JWKS): the X.509 authorities and the JWT keys of a trust domain.
/// `SpiffeBundle(json, trust_domain=None)`; `SpiffeBundle.empty(trust_domain=None)`.
#[pyclass(frozen, module = "meshtls._native")]
#[derive(Clone)]
pub struct SpiffeBundle {
    pub(crate) inner: CoreBundle,
}

#[pymethods]
impl SpiffeBundle {
    #[new]
    #[pyo3(signature = (json, trust_domain=None))]
    fn new(py: Python<'_>, json: &Bound<'_, PyAny>, trust_domain: Option<&str>) -> PyResult<Self> {
        let bytes = input_bytes(json, "json")?;
        let mut inner = py.detach(|| CoreBundle::parse(&bytes)).map_err(to_py)?;
        if let Some(td) = trust_domain {
            inner = inner.with_trust_domain(self::trust_domain(td)?);
        }
        Ok(SpiffeBundle { inner })
    }

    /// An empty bundle, to which JWT keys are added (`with_key`).
    #[staticmethod]
    #[pyo3(signature = (trust_domain=None))]
    fn empty(trust_domain: Option<&str>) -> PyResult<Self> {
        let td = trust_domain.map(self::trust_domain).transpose()?;
        Ok(SpiffeBundle {
            inner: CoreBundle::new(td),
        })
    }

    /// A bundle with one more JWT key (the public half of `key`).
    fn with_key(&self, key: &JwtSigningKey) -> PyResult<Self> {
        let mut inner = self.inner.clone();
        inner
            .add_jwt_key(key.inner.public_key().clone())
            .map_err(to_py)?;
        Ok(SpiffeBundle { inner })
    }

    /// The key IDs of the JWT keys.
    #[getter]
    fn jwt_key_ids(&self) -> Vec<String> {
        self.inner
            .jwt_keys()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect()
    }

    /// The X.509 authorities (CA certificates).
    #[getter]
    fn x509_authorities(&self) -> PyResult<Vec<Certificate>> {
        self.inner
            .x509_authorities()
            .iter()
            .map(|d| {
                meshtls_core::Certificate::from_der(d)
                    .map(Certificate::from_core)
                    .map_err(to_py)
            })
            .collect()
    }

    /// `spiffe_sequence`, if any.
    #[getter]
    fn sequence(&self) -> Option<u64> {
        self.inner.sequence()
    }

    /// `spiffe_refresh_hint` in seconds, if any.
    #[getter]
    fn refresh_hint(&self) -> Option<u64> {
        self.inner.refresh_hint().map(|d| d.as_secs())
    }

    /// The trust domain, if known.
    #[getter]
    fn trust_domain(&self) -> Option<String> {
        self.inner.trust_domain().map(|t| t.as_str().to_owned())
    }

    /// The SPIFFE bundle JSON (a JWKS other JWT libraries read).
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(to_py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<SpiffeBundle {} CA(s), {} JWT key(s)>",
            self.inner.x509_authorities().len(),
            self.inner.jwt_keys().len()
        )
    }
}

/// A JWT signing key (ES256, ES384 or EdDSA), separate from any CA key.
#[pyclass(frozen, module = "meshtls._native")]
pub struct JwtSigningKey {
    inner: CoreKey,
}

#[pymethods]
impl JwtSigningKey {
    /// A fresh key (`"ES256"` default, `"ES384"`, `"EdDSA"`); its kid is its RFC 7638
    /// thumbprint.
    #[staticmethod]
    #[pyo3(signature = (algorithm="ES256"))]
    fn generate(py: Python<'_>, algorithm: &str) -> PyResult<Self> {
        let alg = self::algorithm(algorithm)?;
        let inner = py.detach(|| CoreKey::generate(alg)).map_err(to_py)?;
        Ok(JwtSigningKey { inner })
    }

    /// A key from PKCS#8 PEM (encrypted with `passphrase`, or plain).
    #[staticmethod]
    #[pyo3(signature = (pem, passphrase=None))]
    fn from_pem(
        py: Python<'_>,
        pem: &Bound<'_, PyAny>,
        passphrase: Option<&str>,
    ) -> PyResult<Self> {
        let bytes = input_bytes(pem, "pem")?;
        let inner = py
            .detach(|| CoreKey::from_pem(&bytes, passphrase))
            .map_err(to_py)?;
        Ok(JwtSigningKey { inner })
    }

    /// The key ID.
    #[getter]
    fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }

    /// `"ES256"`, `"ES384"` or `"EdDSA"`.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    /// Mints a JWT-SVID for `subject` and `audience` (a str or a list), living `ttl` (seconds
    /// or timedelta, default 300), with optional `roles`, `scope`, and a binding to `bind_to`
    /// (a certificate: `cnf.x5t#S256`), issued at `at` (default now).
    #[pyo3(signature = (subject, audience, *, ttl=None, roles=Vec::new(), scope=None, bind_to=None, at=None))]
    #[allow(clippy::too_many_arguments)]
    fn mint(
        &self,
        py: Python<'_>,
        subject: &Bound<'_, PyAny>,
        audience: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        roles: Vec<String>,
        scope: Option<String>,
        bind_to: Option<&Bound<'_, PyAny>>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let audience: Vec<String> = match audience.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => audience.extract()?,
        };
        let mut req = TokenRequest::new(spiffe_id_arg(subject)?, audience).roles(roles);
        if let Some(ttl) = opt_duration(ttl)? {
            req = req.ttl(ttl);
        }
        if let Some(s) = scope {
            req = req.scope(s);
        }
        if let Some(cert) = bind_to.filter(|c| !c.is_none()) {
            req = req.bind_to_certificate(&cert_der(cert, "bind_to")?);
        }
        let at = timestamp(at)?;
        py.detach(|| self.inner.mint(&req, at))
            .map(|t| t.token)
            .map_err(to_py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<JwtSigningKey {} kid={}>",
            self.inner.algorithm(),
            self.inner.kid()
        )
    }
}

/// What a valid JWT-SVID says.
#[pyclass(frozen, module = "meshtls._native")]
pub struct TokenClaims {
    inner: CoreClaims,
}

#[pymethods]
impl TokenClaims {
    /// `sub`.
    #[getter]
    fn subject(&self) -> SpiffeId {
        SpiffeId {
            inner: self.inner.subject.clone(),
        }
    }

    /// `aud`.
    #[getter]
    fn audience(&self) -> Vec<String> {
        self.inner.audience.clone()
    }

    /// `exp`, a UTC datetime.
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.inner.expires_at)
    }

    /// `iat`, a UTC datetime, if present.
    #[getter]
    fn issued_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.issued_at.map(|t| to_datetime(py, t)).transpose()
    }

    /// `jti`, if present.
    #[getter]
    fn jti(&self) -> Option<String> {
        self.inner.jti.clone()
    }

    /// `roles` (empty when absent).
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.inner.roles.clone()
    }

    /// `scope`, if present.
    #[getter]
    fn scope(&self) -> Option<String> {
        self.inner.scope.clone()
    }

    /// `cnf.x5t#S256` when the token is bound to a certificate.
    #[getter]
    fn bound_thumbprint(&self) -> Option<String> {
        self.inner.bound_thumbprint.clone()
    }

    /// The header's `kid`.
    #[getter]
    fn key_id(&self) -> String {
        self.inner.key_id.clone()
    }

    /// The header's `alg`.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm.as_str()
    }

    fn __repr__(&self) -> String {
        format!(
            "<TokenClaims sub={} aud={:?}>",
            self.inner.subject, self.inner.audience
        )
    }
}

/// Checks JWT-SVIDs: `JwtValidator(bundle, policy, audiences, *, algorithms=None,
/// require_binding=False)`. `validate(token, peer_cert=None, at=None)` returns the claims or
/// raises with the core's code (`token_expired`, `token_binding`...).
#[pyclass(frozen, module = "meshtls._native")]
pub struct JwtValidator {
    inner: Arc<CoreValidator>,
}

#[pymethods]
impl JwtValidator {
    #[new]
    #[pyo3(signature = (bundle, policy, audiences, *, algorithms=None, require_binding=false))]
    fn new(
        bundle: &SpiffeBundle,
        policy: &Policy,
        audiences: &Bound<'_, PyAny>,
        algorithms: Option<Vec<String>>,
        require_binding: bool,
    ) -> PyResult<Self> {
        let audiences: Vec<String> = match audiences.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => audiences.extract()?,
        };
        let mut v = CoreValidator::new(&bundle.inner, policy.inner.clone(), audiences)
            .map_err(to_py)?
            .require_binding(require_binding);
        if let Some(algs) = algorithms {
            let algs = algs
                .iter()
                .map(|a| algorithm(a))
                .collect::<PyResult<Vec<_>>>()?;
            v = v.allow_algorithms(&algs).map_err(to_py)?;
        }
        Ok(JwtValidator { inner: Arc::new(v) })
    }

    /// The claims of a valid token; `peer_cert` is the certificate of the connection the
    /// token came on (a bound token requires it).
    #[pyo3(signature = (token, peer_cert=None, at=None))]
    fn validate(
        &self,
        py: Python<'_>,
        token: &str,
        peer_cert: Option<&Bound<'_, PyAny>>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<TokenClaims> {
        let peer = peer_cert
            .filter(|c| !c.is_none())
            .map(|c| cert_der(c, "peer_cert"))
            .transpose()?;
        let at = timestamp(at)?;
        let inner = py
            .detach(|| self.inner.validate(token, peer.as_deref(), at))
            .map_err(to_py)?;
        Ok(TokenClaims { inner })
    }

    /// The audiences accepted.
    #[getter]
    fn audiences(&self) -> Vec<String> {
        self.inner.audiences().to_vec()
    }
}

/// JWT-SVIDs of an enrolled identity for one audience, kept fresh:
/// `await source.token()` (made by `EnrolledIdentity.jwt_source`).
#[pyclass(frozen, module = "meshtls._native")]
pub struct JwtSource {
    pub(crate) inner: Arc<NetSource>,
}

#[pymethods]
impl JwtSource {
    /// A token with at least a third of its lifetime left (the held one, or a new one).
    fn token<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        bridge::spawn(
            py,
            async move { inner.token().await.map_err(Failure::Enroll) },
        )
    }

    /// Forget the held token.
    fn invalidate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        bridge::spawn(py, async move {
            inner.invalidate().await;
            Ok(())
        })
    }
}
