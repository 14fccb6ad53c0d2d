//! JWT-SVIDs (core `jwt`): the SPIFFE bundle, the validator, signing keys and claims; an
//! enrolled identity's token source (meshtls-net). Every token rule is the core's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use meshtls_core::jwt::{
    JwtAlgorithm, JwtSigningKey as CoreKey, JwtValidator as CoreValidator,
    SpiffeBundle as CoreBundle, TokenClaims as CoreClaims, TokenRequest,
};
use meshtls_core::{encoding as core_enc, ErrorCode, SpiffeId, TrustDomain};
use meshtls_net::enroll::JwtSource as NetSource;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::encoding::{bytes, Input};
use crate::error::{edge, IntoJs};
use crate::validity::{at, to_date};
use crate::verify::Policy;

fn algorithm(name: &str) -> napi::Result<JwtAlgorithm> {
    JwtAlgorithm::parse(name).js()
}

/// The first certificate of an input (PEM or DER), DER.
fn first_cert(input: &Input) -> napi::Result<Vec<u8>> {
    core_enc::parse_certificates(&bytes(input))
        .js()?
        .into_iter()
        .next()
        .ok_or_else(|| edge(ErrorCode::Malformed, "no certificate"))
}

/// A SPIFFE trust bundle (JWKS): the X.509 authorities and JWT keys of a trust domain.
#[napi]
#[derive(Clone)]
pub struct SpiffeBundle {
    pub(crate) inner: CoreBundle,
}

#[napi]
impl SpiffeBundle {
    /// Parses the SPIFFE bundle JSON (`GET /v1/bundle.jwks`); `trustDomain` limits its JWT keys
    /// to subjects of that domain.
    #[napi(constructor, catch_unwind)]
    pub fn new(json: Input, trust_domain: Option<String>) -> napi::Result<Self> {
        let mut inner = CoreBundle::parse(&bytes(&json)).js()?;
        if let Some(td) = trust_domain {
            inner = inner.with_trust_domain(TrustDomain::new(&td).js()?);
        }
        Ok(SpiffeBundle { inner })
    }

    /// An empty bundle, to which keys are added with `withKey`.
    #[napi(factory, catch_unwind)]
    pub fn empty(trust_domain: Option<String>) -> napi::Result<Self> {
        let td = trust_domain
            .map(|t| TrustDomain::new(&t))
            .transpose()
            .js()?;
        Ok(SpiffeBundle {
            inner: CoreBundle::new(td),
        })
    }

    /// A bundle with one more JWT key (the public half of `key`).
    #[napi(catch_unwind)]
    pub fn with_key(&self, key: &JwtSigningKey) -> napi::Result<SpiffeBundle> {
        let mut inner = self.inner.clone();
        inner.add_jwt_key(key.inner.public_key().clone()).js()?;
        Ok(SpiffeBundle { inner })
    }

    /// The key IDs of the JWT keys.
    #[napi(getter, catch_unwind)]
    pub fn jwt_key_ids(&self) -> Vec<String> {
        self.inner
            .jwt_keys()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect()
    }

    /// The X.509 authorities (CA certificates).
    #[napi(getter, catch_unwind)]
    pub fn x509_authorities(&self) -> napi::Result<Vec<Certificate>> {
        self.inner
            .x509_authorities()
            .iter()
            .map(|d| {
                meshtls_core::Certificate::from_der(d)
                    .map(Certificate::new)
                    .js()
            })
            .collect()
    }

    /// `spiffe_sequence`, if any.
    #[napi(getter, catch_unwind)]
    pub fn sequence(&self) -> Option<f64> {
        self.inner.sequence().map(|s| s as f64)
    }

    /// `spiffe_refresh_hint` in seconds, if any.
    #[napi(getter, catch_unwind)]
    pub fn refresh_hint(&self) -> Option<f64> {
        self.inner.refresh_hint().map(|d| d.as_secs() as f64)
    }

    /// The SPIFFE bundle JSON (a JWKS that `jose` and other JWT libraries read).
    #[napi(catch_unwind)]
    pub fn to_json(&self) -> napi::Result<String> {
        self.inner.to_json().js()
    }
}

/// Options of `JwtSigningKey.mint`.
#[napi(object)]
pub struct MintOptions {
    /// Lifetime in seconds (default 300).
    pub ttl_seconds: Option<f64>,
    /// The `roles` claim.
    pub roles: Option<Vec<String>>,
    /// The `scope` claim.
    pub scope: Option<String>,
    /// Bind to this certificate (PEM or DER): `cnf.x5t#S256`.
    pub bind_to: Option<Input>,
    /// Issued at (default now).
    pub at: Option<DateTime<Utc>>,
}

/// A JWT signing key (ES256, ES384, EdDSA), separate from any CA key.
#[napi]
pub struct JwtSigningKey {
    inner: CoreKey,
}

#[napi]
impl JwtSigningKey {
    /// A fresh key: `"ES256"` (default), `"ES384"` or `"EdDSA"`; its kid is its RFC 7638
    /// thumbprint.
    #[napi(factory, catch_unwind)]
    pub fn generate(algorithm: Option<String>) -> napi::Result<Self> {
        let alg = self::algorithm(algorithm.as_deref().unwrap_or("ES256"))?;
        Ok(JwtSigningKey {
            inner: CoreKey::generate(alg).js()?,
        })
    }

    /// A key from PKCS#8 PEM (encrypted with `passphrase`, or plain).
    #[napi(factory, catch_unwind)]
    pub fn from_pem(pem: Input, passphrase: Option<String>) -> napi::Result<Self> {
        Ok(JwtSigningKey {
            inner: CoreKey::from_pem(&bytes(&pem), passphrase.as_deref()).js()?,
        })
    }

    /// The key ID.
    #[napi(getter, catch_unwind)]
    pub fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }

    /// `"ES256"`, `"ES384"` or `"EdDSA"`.
    #[napi(getter, catch_unwind)]
    pub fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    /// Mints a JWT-SVID for `subject` and `audience`.
    #[napi(catch_unwind)]
    pub fn mint(
        &self,
        subject: String,
        audience: Vec<String>,
        options: Option<MintOptions>,
    ) -> napi::Result<String> {
        let mut req = TokenRequest::new(SpiffeId::parse(&subject).js()?, audience);
        let mut when = None;
        if let Some(o) = options {
            if let Some(ttl) = o.ttl_seconds {
                if !ttl.is_finite() || ttl < 0.0 {
                    return Err(edge(
                        ErrorCode::InvalidRequest,
                        "ttlSeconds is a number of seconds",
                    ));
                }
                req = req.ttl(std::time::Duration::from_secs(ttl as u64));
            }
            if let Some(r) = o.roles {
                req = req.roles(r);
            }
            if let Some(s) = o.scope {
                req = req.scope(s);
            }
            if let Some(cert) = o.bind_to {
                req = req.bind_to_certificate(&first_cert(&cert)?);
            }
            when = o.at;
        }
        self.inner.mint(&req, at(when)).map(|t| t.token).js()
    }
}

/// What a valid JWT-SVID says.
#[napi(object)]
#[derive(Clone)]
pub struct TokenClaims {
    /// `sub`.
    pub subject: String,
    /// `aud`.
    pub audience: Vec<String>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `iat`, if present.
    pub issued_at: Option<DateTime<Utc>>,
    /// `jti`, if present.
    pub jti: Option<String>,
    /// `roles`.
    pub roles: Vec<String>,
    /// `scope`, if present.
    pub scope: Option<String>,
    /// `cnf.x5t#S256` when bound to a certificate.
    pub bound_thumbprint: Option<String>,
    /// The header's `kid`.
    pub key_id: String,
    /// The header's `alg`.
    pub algorithm: String,
}

impl From<CoreClaims> for TokenClaims {
    fn from(c: CoreClaims) -> Self {
        TokenClaims {
            subject: c.subject.to_string(),
            audience: c.audience,
            expires_at: to_date(c.expires_at),
            issued_at: c.issued_at.map(to_date),
            jti: c.jti,
            roles: c.roles,
            scope: c.scope,
            bound_thumbprint: c.bound_thumbprint,
            key_id: c.key_id,
            algorithm: c.algorithm.as_str().to_owned(),
        }
    }
}

/// Options of `JwtValidator`.
#[napi(object)]
pub struct JwtValidatorOptions {
    /// The allow-list (default `["ES256", "ES384", "EdDSA"]`).
    pub algorithms: Option<Vec<String>>,
    /// Refuse tokens that are not bound to the connection's certificate.
    pub require_binding: Option<bool>,
}

/// Checks JWT-SVIDs with the core: signature by a bundle key, algorithm, kid, expiry with the
/// policy's leeway, audience, subject against the policy, certificate binding.
#[napi]
pub struct JwtValidator {
    inner: Arc<CoreValidator>,
}

#[napi]
impl JwtValidator {
    /// A validator of tokens for one of `audiences`.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        bundle: &SpiffeBundle,
        policy: &Policy,
        audiences: Vec<String>,
        options: Option<JwtValidatorOptions>,
    ) -> napi::Result<Self> {
        let mut v = CoreValidator::new(&bundle.inner, policy.inner.clone(), audiences).js()?;
        if let Some(o) = options {
            v = v.require_binding(o.require_binding.unwrap_or(false));
            if let Some(algs) = o.algorithms {
                let algs = algs
                    .iter()
                    .map(|a| algorithm(a))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                v = v.allow_algorithms(&algs).js()?;
            }
        }
        Ok(JwtValidator { inner: Arc::new(v) })
    }

    /// The claims of a valid token; `peerCert` (PEM or DER, e.g. `socket.getPeerCertificate().raw`)
    /// is the certificate of the connection the token came on: a bound token requires it.
    /// Throws an `Error` whose `code` is the core's (`token_expired`, `token_binding`...).
    #[napi(catch_unwind)]
    pub fn validate(
        &self,
        token: String,
        peer_cert: Option<Input>,
        at_time: Option<DateTime<Utc>>,
    ) -> napi::Result<TokenClaims> {
        let peer = peer_cert.as_ref().map(first_cert).transpose()?;
        self.inner
            .validate(&token, peer.as_deref(), at(at_time))
            .map(TokenClaims::from)
            .js()
    }

    /// The audiences accepted.
    #[napi(getter, catch_unwind)]
    pub fn audiences(&self) -> Vec<String> {
        self.inner.audiences().to_vec()
    }
}

impl JwtValidator {
    /// The core validator (for a `WssServer` that checks tokens).
    pub(crate) fn core(&self) -> &CoreValidator {
        &self.inner
    }
}

/// JWT-SVIDs of an enrolled identity for one audience, kept fresh (`identity.jwtSource(...)`).
#[napi]
pub struct JwtSource {
    pub(crate) inner: Arc<NetSource>,
}

#[napi]
impl JwtSource {
    /// A token with at least a third of its lifetime left: the held one, or a new one.
    #[napi(ts_return_type = "Promise<string>", catch_unwind)]
    pub fn token<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let inner = self.inner.clone();
        crate::enroll::spawn(env, async move { inner.token().await }, |t| t)
    }
}
