//! JWT-SVIDs: service tokens on top of the certificates, in the SPIFFE JWT-SVID form.
//!
//! A [`JwtSigningKey`] (ES256 by default, ES384 or EdDSA) mints a token for a SPIFFE ID and one
//! or more audiences ([`TokenRequest`]); a [`JwtValidator`] checks one against the JWT keys of a
//! [`SpiffeBundle`], the audiences it serves, the same [`Policy`](crate::Policy) patterns as
//! certificates and the policy's explicit clock leeway. A token may be bound to its holder's
//! certificate (`cnf` with `x5t#S256`, RFC 8705): the validator then requires the mTLS peer
//! certificate of the connection to have that thumbprint, so a token stolen from one service is
//! worthless on another connection.
//!
//! ```
//! use std::time::Duration;
//! use meshtls_core::jwt::{JwtAlgorithm, JwtSigningKey, JwtValidator, SpiffeBundle, TokenRequest};
//! use meshtls_core::{Policy, SpiffeId, Timestamp, TrustDomain, IdPattern};
//!
//! let now = Timestamp::from_unix(1_790_000_000);
//! let key = JwtSigningKey::generate(JwtAlgorithm::Es256)?;
//! let sub = SpiffeId::parse("spiffe://mesh.internal/service/user-svc")?;
//! let token = key.mint(&TokenRequest::new(sub.clone(), ["orders"]), now)?;
//!
//! let mut bundle = SpiffeBundle::new(Some(TrustDomain::new("mesh.internal")?));
//! bundle.add_jwt_key(key.public_key().clone())?;
//! let policy = Policy::builder().allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*")?).build()?;
//! let validator = JwtValidator::new(&bundle, policy, ["orders"])?;
//! let claims = validator.validate(&token.token, None, now.add(Duration::from_secs(60)))?;
//! assert_eq!(claims.subject, sub);
//! # Ok::<(), meshtls_core::Error>(())
//! ```

mod jwks;
mod validate;

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::backend::{self, JwsKind};
use crate::encoding::{self, PrivateKeyPem};
use crate::error::{Error, ErrorCode, Result};
use crate::identity::SpiffeId;
use crate::validity::Timestamp;

pub use jwks::SpiffeBundle;
pub use validate::JwtValidator;

/// The lifetime of a token unless the request says otherwise: five minutes.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// The longest lifetime meshtls mints, whatever the configuration: one hour.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);
/// The most audiences a minted token carries.
pub const MAX_AUDIENCES: usize = 16;
/// The longest audience a minted token carries, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 256;
/// The longest token the validator reads (longer is `token_malformed`).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .ok()
}

/// The `x5t#S256` thumbprint of a certificate (RFC 8705): the base64url SHA-256 of its DER.
/// A bound token carries it in its `cnf` claim.
pub fn certificate_thumbprint(cert_der: &[u8]) -> String {
    b64url(&backend::sha256(cert_der))
}

/// A JWS algorithm meshtls signs and accepts JWT-SVIDs with.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// ECDSA P-256 with SHA-256 (the default).
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl JwtAlgorithm {
    /// Every algorithm, the validator's default allow-list.
    pub const ALL: &'static [JwtAlgorithm] = &[
        JwtAlgorithm::Es256,
        JwtAlgorithm::Es384,
        JwtAlgorithm::EdDsa,
    ];

    /// The JOSE name (`ES256`, `ES384`, `EdDSA`).
    pub const fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::Es384 => "ES384",
            JwtAlgorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm of this JOSE name (exact case), if meshtls supports it.
    pub fn from_name(name: &str) -> Option<JwtAlgorithm> {
        JwtAlgorithm::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == name)
    }

    /// Parses a JOSE name; anything else is `unsupported`.
    pub fn parse(name: &str) -> Result<JwtAlgorithm> {
        JwtAlgorithm::from_name(name).ok_or_else(|| {
            Error::unsupported(format!(
                "{name:?} is not a JWT algorithm meshtls supports (ES256, ES384, EdDSA)"
            ))
        })
    }

    fn kind(self) -> JwsKind {
        match self {
            JwtAlgorithm::Es256 => JwsKind::Es256,
            JwtAlgorithm::Es384 => JwsKind::Es384,
            JwtAlgorithm::EdDsa => JwsKind::Ed25519,
        }
    }

    fn of_kind(kind: JwsKind) -> JwtAlgorithm {
        match kind {
            JwsKind::Es256 => JwtAlgorithm::Es256,
            JwsKind::Es384 => JwtAlgorithm::Es384,
            JwsKind::Ed25519 => JwtAlgorithm::EdDsa,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public material of a JWT key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyMaterial {
    /// An ECDSA key usable by one algorithm: the uncompressed point `04 || x || y`.
    Ec(JwsKind, Vec<u8>),
    /// An Ed25519 key (32 bytes).
    Ed25519(Vec<u8>),
    /// An RSA key (big-endian modulus and exponent): published in bundles by other issuers,
    /// never accepted for a token (no RSA algorithm is in meshtls' list).
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// A public JWT key of a trust bundle: its key ID and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtPublicKey {
    kid: String,
    material: KeyMaterial,
}

impl JwtPublicKey {
    /// The key ID (`kid`) tokens signed by this key name.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies, or `None` for an RSA key (which meshtls never
    /// accepts for a token).
    pub fn algorithm(&self) -> Option<JwtAlgorithm> {
        match &self.material {
            KeyMaterial::Ec(kind, _) => Some(JwtAlgorithm::of_kind(*kind)),
            KeyMaterial::Ed25519(_) => Some(JwtAlgorithm::EdDsa),
            KeyMaterial::Rsa { .. } => None,
        }
    }

    /// The same key under another key ID.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }

    pub(crate) fn from_material(kid: String, material: KeyMaterial) -> Self {
        JwtPublicKey { kid, material }
    }

    /// The RFC 7638 thumbprint of the key (base64url SHA-256 of its canonical JWK), the key
    /// ID meshtls gives the keys it generates.
    pub fn thumbprint(&self) -> String {
        b64url(&backend::sha256(canonical_jwk(&self.material).as_bytes()))
    }

    /// The JWK members of the key (`kty`, `crv`, `x`, `y`, or `n`, `e`), without `kid`/`use`.
    pub(crate) fn jwk_members(&self) -> Map<String, Value> {
        jwk_members(&self.material)
    }
}

pub(crate) fn ec_coords(kind: JwsKind, point: &[u8]) -> (&'static str, &[u8], &[u8]) {
    let crv = if kind == JwsKind::Es384 {
        "P-384"
    } else {
        "P-256"
    };
    let coords = point.get(1..).unwrap_or_default();
    let (x, y) = coords.split_at(coords.len() / 2);
    (crv, x, y)
}

pub(crate) fn jwk_members(material: &KeyMaterial) -> Map<String, Value> {
    let v = match material {
        KeyMaterial::Ec(kind, point) => {
            let (crv, x, y) = ec_coords(*kind, point);
            json!({"kty": "EC", "crv": crv, "x": b64url(x), "y": b64url(y)})
        }
        KeyMaterial::Ed25519(x) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(x)}),
        KeyMaterial::Rsa { n, e } => json!({"kty": "RSA", "n": b64url(n), "e": b64url(e)}),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The RFC 7638 canonical form: required members only, in lexicographic order, no spaces
/// (written by hand so that no serde_json feature can change the order).
fn canonical_jwk(material: &KeyMaterial) -> String {
    match material {
        KeyMaterial::Ec(kind, point) => {
            let (crv, x, y) = ec_coords(*kind, point);
            format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                b64url(x),
                b64url(y)
            )
        }
        KeyMaterial::Ed25519(x) => {
            format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64url(x))
        }
        KeyMaterial::Rsa { n, e } => {
            format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n))
        }
    }
}

/// A private JWT signing key: separate from any X.509 CA key, with the key ID its public half
/// is published under.
#[derive(Clone)]
pub struct JwtSigningKey {
    kind: JwsKind,
    pkcs8: Vec<u8>,
    public: JwtPublicKey,
}

impl fmt::Debug for JwtSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigningKey")
            .field("algorithm", &JwtAlgorithm::of_kind(self.kind))
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl JwtSigningKey {
    /// A fresh key for the algorithm; its key ID is its RFC 7638 thumbprint.
    pub fn generate(alg: JwtAlgorithm) -> Result<JwtSigningKey> {
        let (pkcs8, public) = backend::jws_generate(alg.kind())?;
        Ok(JwtSigningKey::assemble(alg.kind(), pkcs8, public))
    }

    fn assemble(kind: JwsKind, pkcs8: Vec<u8>, public: Vec<u8>) -> JwtSigningKey {
        let material = match kind {
            JwsKind::Ed25519 => KeyMaterial::Ed25519(public),
            k => KeyMaterial::Ec(k, public),
        };
        let mut public = JwtPublicKey {
            kid: String::new(),
            material,
        };
        public.kid = public.thumbprint();
        JwtSigningKey {
            kind,
            pkcs8,
            public,
        }
    }

    /// A key from PKCS#8 DER (P-256, P-384 or Ed25519; the algorithm follows the key).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<JwtSigningKey> {
        let (kind, public) = backend::jws_load(der).ok_or_else(|| {
            Error::unsupported("a JWT signing key is an ECDSA P-256 or P-384 or an Ed25519 key")
        })?;
        Ok(JwtSigningKey::assemble(kind, der.to_vec(), public))
    }

    /// A key from PEM: encrypted PKCS#8 with the passphrase, or plain PKCS#8 without one.
    pub fn from_pem(input: &[u8], passphrase: Option<&str>) -> Result<JwtSigningKey> {
        let der = match passphrase {
            Some(p) => encoding::decrypt_private_key(input, p)?,
            None => encoding::parse_private_key(input)?,
        };
        JwtSigningKey::from_pkcs8_der(&der)
    }

    /// The key as encrypted PKCS#8 PEM (as the CA key is stored at rest).
    pub fn encrypted_pem(&self, passphrase: &str) -> Result<PrivateKeyPem> {
        encoding::encrypt_private_key(&self.pkcs8, passphrase)
    }

    /// The key as plain PKCS#8 PEM.
    pub fn plaintext_pem(&self) -> PrivateKeyPem {
        PrivateKeyPem(encoding::key_pem(&self.pkcs8))
    }

    /// The algorithm the key signs with.
    pub fn algorithm(&self) -> JwtAlgorithm {
        JwtAlgorithm::of_kind(self.kind)
    }

    /// The key ID.
    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// The same key published under another key ID.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.public.kid = kid.into();
        self
    }

    /// The public half, for a bundle.
    pub fn public_key(&self) -> &JwtPublicKey {
        &self.public
    }

    /// Signs a token over arbitrary header and claims (the validator's tests use it to make
    /// tokens a careful issuer would not). Prefer [`JwtSigningKey::mint`].
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> Result<String> {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = backend::jws_sign(self.kind, &self.pkcs8, input.as_bytes())?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    /// Mints a JWT-SVID: header `alg`, `kid`, `typ: JWT`; claims `sub`, `aud`, `exp`, `iat`,
    /// `jti` (128 random bits), and `roles`, `scope`, `cnf` when asked. The request is checked
    /// first ([`TokenRequest::check`]).
    pub fn mint(&self, req: &TokenRequest, now: Timestamp) -> Result<Token> {
        req.check()?;
        let mut jti = [0u8; 16];
        backend::random(&mut jti)?;
        let claims = TokenClaims {
            subject: req.subject.clone(),
            audience: req.audience.clone(),
            expires_at: now.add(req.ttl),
            issued_at: Some(now),
            not_before: None,
            jti: Some(b64url(&jti)),
            roles: req.roles.clone(),
            scope: req.scope.clone(),
            bound_thumbprint: req.bound_thumbprint.clone(),
            key_id: self.kid().to_string(),
            algorithm: self.algorithm(),
        };
        let header = json!({"alg": self.algorithm().as_str(), "kid": self.kid(), "typ": "JWT"});
        let token = self.sign_raw(&header, &claims.to_json())?;
        Ok(Token { token, claims })
    }
}

/// What to put in a token. Build with [`TokenRequest::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    subject: SpiffeId,
    audience: Vec<String>,
    ttl: Duration,
    max_ttl: Duration,
    roles: Vec<String>,
    scope: Option<String>,
    bound_thumbprint: Option<String>,
}

impl TokenRequest {
    /// A token for this SPIFFE ID and these audiences, living [`DEFAULT_TOKEN_TTL`].
    pub fn new<I, S>(subject: SpiffeId, audience: I) -> TokenRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TokenRequest {
            subject,
            audience: audience.into_iter().map(Into::into).collect(),
            ttl: DEFAULT_TOKEN_TTL,
            max_ttl: MAX_TOKEN_TTL,
            roles: Vec::new(),
            scope: None,
            bound_thumbprint: None,
        }
    }

    /// The lifetime (at most the configured maximum).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The configured maximum lifetime (at most [`MAX_TOKEN_TTL`]).
    pub fn max_ttl(mut self, max: Duration) -> Self {
        self.max_ttl = max;
        self
    }

    /// The `roles` claim.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The `scope` claim (space-separated scopes).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Binds the token to this certificate (DER): `cnf: {"x5t#S256": ...}`.
    pub fn bind_to_certificate(mut self, cert_der: &[u8]) -> Self {
        self.bound_thumbprint = Some(certificate_thumbprint(cert_der));
        self
    }

    /// Binds the token to the certificate with this SHA-256 fingerprint (of its DER), as a
    /// verified peer's [`PeerIdentity::fingerprint`](crate::PeerIdentity): the same
    /// `x5t#S256` as [`TokenRequest::bind_to_certificate`].
    pub fn bind_to_fingerprint(mut self, fingerprint: &crate::Fingerprint) -> Self {
        self.bound_thumbprint = Some(b64url(&fingerprint.0));
        self
    }

    /// The subject.
    pub fn subject(&self) -> &SpiffeId {
        &self.subject
    }

    /// The audiences.
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// The lifetime asked for.
    pub fn lifetime(&self) -> Duration {
        self.ttl
    }

    /// Checks the request: one to [`MAX_AUDIENCES`] audiences, none empty, longer than
    /// [`MAX_AUDIENCE_LEN`] or with a control character; a lifetime of at least one
    /// second and at most the maximum, itself at most [`MAX_TOKEN_TTL`]; roles not empty
    /// strings. Anything else is `invalid_request`.
    pub fn check(&self) -> Result<()> {
        if self.audience.is_empty() {
            return Err(Error::invalid_request(
                "a token needs at least one audience",
            ));
        }
        if self.audience.iter().any(|a| a.trim().is_empty()) {
            return Err(Error::invalid_request("an audience is empty"));
        }
        if self.audience.len() > MAX_AUDIENCES
            || self
                .audience
                .iter()
                .any(|a| a.len() > MAX_AUDIENCE_LEN || a.chars().any(char::is_control))
        {
            return Err(Error::invalid_request(format!(
                "at most {MAX_AUDIENCES} audiences of at most {MAX_AUDIENCE_LEN} bytes, without control characters"
            )));
        }
        let max = self.max_ttl.min(MAX_TOKEN_TTL);
        if self.ttl < Duration::from_secs(1) || self.ttl > max {
            return Err(Error::invalid_request(format!(
                "a token lives between 1s and {} (asked: {})",
                crate::validity::format_duration(max),
                crate::validity::format_duration(self.ttl)
            )));
        }
        if self.roles.iter().any(|r| r.is_empty()) {
            return Err(Error::invalid_request("a role is empty"));
        }
        Ok(())
    }
}

/// A minted token and the claims it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The compact JWS (`header.claims.signature`).
    pub token: String,
    /// What it says.
    pub claims: TokenClaims,
}

/// The claims of a JWT-SVID, as minted or as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `sub`: the SPIFFE ID of the holder.
    pub subject: SpiffeId,
    /// `aud`: one or more audiences.
    pub audience: Vec<String>,
    /// `exp`.
    pub expires_at: Timestamp,
    /// `iat`, when present.
    pub issued_at: Option<Timestamp>,
    /// `nbf`, when present.
    pub not_before: Option<Timestamp>,
    /// `jti`, when present.
    pub jti: Option<String>,
    /// `roles` (empty when absent).
    pub roles: Vec<String>,
    /// `scope`, when present.
    pub scope: Option<String>,
    /// `cnf.x5t#S256`: the thumbprint of the certificate the token is bound to.
    pub bound_thumbprint: Option<String>,
    /// The `kid` of the header.
    pub key_id: String,
    /// The `alg` of the header.
    pub algorithm: JwtAlgorithm,
}

impl TokenClaims {
    /// The claims as the JSON object of a token.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("sub".into(), Value::from(self.subject.to_string()));
        m.insert(
            "aud".into(),
            match self.audience.as_slice() {
                [one] => Value::from(one.clone()),
                many => Value::from(many.to_vec()),
            },
        );
        m.insert("exp".into(), Value::from(self.expires_at.unix()));
        if let Some(iat) = self.issued_at {
            m.insert("iat".into(), Value::from(iat.unix()));
        }
        if let Some(nbf) = self.not_before {
            m.insert("nbf".into(), Value::from(nbf.unix()));
        }
        if let Some(jti) = &self.jti {
            m.insert("jti".into(), Value::from(jti.clone()));
        }
        if !self.roles.is_empty() {
            m.insert("roles".into(), Value::from(self.roles.clone()));
        }
        if let Some(scope) = &self.scope {
            m.insert("scope".into(), Value::from(scope.clone()));
        }
        if let Some(t) = &self.bound_thumbprint {
            m.insert("cnf".into(), json!({ "x5t#S256": t }));
        }
        Value::Object(m)
    }
}

pub(crate) fn token_error(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

#[cfg(test)]
mod tests;
