//! JWT-SVIDs for browsers and edge runtimes: the SPIFFE bundle, the validator (with the
//! certificate binding), and signing keys for local meshes and tests. Every rule is the core's;
//! time is an argument in milliseconds.

use meshtls_core::jwt::{
    JwtAlgorithm, JwtSigningKey as CoreKey, JwtValidator as CoreValidator,
    SpiffeBundle as CoreBundle, TokenClaims as CoreClaims, TokenRequest,
};
use meshtls_core::{SpiffeId, TrustDomain};
use wasm_bindgen::prelude::*;

use crate::encoding::{self, PemOrDer};
use crate::error::{MeshError, Result};
use crate::validity::{from_millis, to_millis};
use crate::verify::Policy;

fn first_cert(input: &PemOrDer) -> Result<Vec<u8>> {
    meshtls_core::encoding::parse_certificates(&encoding::pem_or_der(input)?)?
        .into_iter()
        .next()
        .ok_or_else(|| MeshError::malformed("no certificate"))
}

/// A SPIFFE trust bundle (JWKS): X.509 authorities and JWT keys of a trust domain.
///
/// ```js
/// const bundle = SpiffeBundle.fromJson(await (await fetch(url + "/v1/bundle.jwks")).text(), "mesh.internal");
/// ```
#[wasm_bindgen]
#[derive(Clone)]
pub struct SpiffeBundle(CoreBundle);

#[wasm_bindgen]
impl SpiffeBundle {
    /// Parses SPIFFE bundle JSON; `trustDomain` limits its JWT keys to subjects of that domain.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(json: &str, trust_domain: Option<String>) -> Result<SpiffeBundle> {
        let mut b = CoreBundle::parse(json.as_bytes())?;
        if let Some(td) = trust_domain {
            b = b.with_trust_domain(TrustDomain::new(&td)?);
        }
        Ok(SpiffeBundle(b))
    }

    /// An empty bundle; add keys with `withKey`.
    pub fn empty(trust_domain: Option<String>) -> Result<SpiffeBundle> {
        let td = trust_domain.map(|t| TrustDomain::new(&t)).transpose()?;
        Ok(SpiffeBundle(CoreBundle::new(td)))
    }

    /// A bundle with one more JWT key (the public half of `key`).
    #[wasm_bindgen(js_name = withKey)]
    pub fn with_key(&self, key: &JwtSigningKey) -> Result<SpiffeBundle> {
        let mut b = self.0.clone();
        b.add_jwt_key(key.0.public_key().clone())?;
        Ok(SpiffeBundle(b))
    }

    /// The key IDs of the JWT keys.
    #[wasm_bindgen(getter, js_name = jwtKeyIds)]
    pub fn jwt_key_ids(&self) -> Vec<String> {
        self.0
            .jwt_keys()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect()
    }

    /// The SPIFFE bundle JSON.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> Result<String> {
        Ok(self.0.to_json()?)
    }
}

/// A JWT signing key (`"ES256"`, `"ES384"`, `"EdDSA"`).
#[wasm_bindgen]
pub struct JwtSigningKey(CoreKey);

#[wasm_bindgen]
impl JwtSigningKey {
    /// A fresh key; its kid is its RFC 7638 thumbprint.
    pub fn generate(algorithm: Option<String>) -> Result<JwtSigningKey> {
        let alg = JwtAlgorithm::parse(algorithm.as_deref().unwrap_or("ES256"))?;
        Ok(JwtSigningKey(CoreKey::generate(alg)?))
    }

    /// The key ID.
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> String {
        self.0.kid().to_owned()
    }

    /// Mints a JWT-SVID issued at `at` (ms), living `ttlSeconds` (default 300).
    pub fn mint(
        &self,
        subject: &str,
        audience: Vec<String>,
        ttl_seconds: Option<u32>,
        at: f64,
    ) -> Result<String> {
        let mut req = TokenRequest::new(SpiffeId::parse(subject)?, audience);
        if let Some(ttl) = ttl_seconds {
            req = req.ttl(std::time::Duration::from_secs(ttl.into()));
        }
        Ok(self.0.mint(&req, from_millis(at)?)?.token)
    }
}

/// What a valid JWT-SVID says.
#[wasm_bindgen]
pub struct TokenClaims(CoreClaims);

#[wasm_bindgen]
impl TokenClaims {
    /// `sub`.
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> String {
        self.0.subject.to_string()
    }
    /// `aud`.
    #[wasm_bindgen(getter)]
    pub fn audience(&self) -> Vec<String> {
        self.0.audience.clone()
    }
    /// `exp`, ms.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> f64 {
        to_millis(self.0.expires_at)
    }
    /// `roles`.
    #[wasm_bindgen(getter)]
    pub fn roles(&self) -> Vec<String> {
        self.0.roles.clone()
    }
    /// `cnf.x5t#S256` when bound.
    #[wasm_bindgen(getter, js_name = boundThumbprint)]
    pub fn bound_thumbprint(&self) -> Option<String> {
        self.0.bound_thumbprint.clone()
    }
    /// The header's `kid`.
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> String {
        self.0.key_id.clone()
    }
}

/// Checks JWT-SVIDs with the core (signature, algorithm, kid, expiry with the policy's leeway,
/// audience, subject against the policy, certificate binding).
#[wasm_bindgen]
pub struct JwtValidator(CoreValidator);

#[wasm_bindgen]
impl JwtValidator {
    /// A validator for tokens addressed to one of `audiences`; `algorithms` is the allow-list
    /// (default all three).
    #[wasm_bindgen(constructor)]
    pub fn new(
        bundle: &SpiffeBundle,
        policy: &Policy,
        audiences: Vec<String>,
        algorithms: Option<Vec<String>>,
        require_binding: Option<bool>,
    ) -> Result<JwtValidator> {
        let mut v = CoreValidator::new(&bundle.0, policy.0.clone(), audiences)?
            .require_binding(require_binding.unwrap_or(false));
        if let Some(algs) = algorithms {
            let algs = algs
                .iter()
                .map(|a| JwtAlgorithm::parse(a))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            v = v.allow_algorithms(&algs)?;
        }
        Ok(JwtValidator(v))
    }

    /// The claims of a valid token at `at` (ms); `peerCert` is the certificate of the
    /// connection it came on (required for a bound token). Throws with the core's code.
    pub fn validate(
        &self,
        token: &str,
        peer_cert: Option<PemOrDer>,
        at: f64,
    ) -> Result<TokenClaims> {
        let peer = peer_cert.as_ref().map(first_cert).transpose()?;
        Ok(TokenClaims(self.0.validate(
            token,
            peer.as_deref(),
            from_millis(at)?,
        )?))
    }
}
