//! The JWT-SVID validator.

use serde_json::{Map, Value};

use super::{
    b64url_decode, certificate_thumbprint, token_error, JwtAlgorithm, JwtPublicKey, KeyMaterial,
    SpiffeBundle, TokenClaims, MAX_TOKEN_LEN,
};
use crate::backend::{self, JwsKind};
use crate::error::{Error, ErrorCode, Result};
use crate::identity::{SpiffeId, TrustDomain};
use crate::validity::Timestamp;
use crate::verify::Policy;

/// Checks JWT-SVIDs: signature by a JWT key of the bundle (looked up by `kid`), algorithm in
/// the allow-list, expiry with the policy's clock leeway, audience, subject against the policy,
/// and the certificate binding.
///
/// The checks and their codes, in order:
/// - not three base64url parts, a header or claims that are not JSON objects, a missing or
///   mistyped `sub`/`aud`/`exp`, a `typ` other than `JWT`/`JOSE`, a `crit` header:
///   `token_malformed`;
/// - `alg` `none`, any HMAC (`HS*`), an algorithm outside the allow-list, or one that does not
///   fit the key named by `kid` (an EC key used as EdDSA, a P-384 key as ES256, an RSA key):
///   `token_algorithm`;
/// - no `kid`, or a `kid` the bundle has no JWT key for (in the subject's trust domain):
///   `token_unknown_key`;
/// - a signature that does not verify: `token_signature`;
/// - now ≥ `exp` + leeway, or `iat`/`nbf` > now + leeway: `token_expired`;
/// - no `aud` among the validator's audiences: `token_audience`;
/// - `sub` not allowed by the policy: `identity_not_allowed` (the same code as a certificate
///   whose identity the policy refuses);
/// - `cnf` whose `x5t#S256` is not the thumbprint of the connection's peer certificate, no peer
///   certificate for a bound token, a `cnf` without `x5t#S256`, or an unbound token when
///   binding is required: `token_binding`.
#[derive(Debug, Clone)]
pub struct JwtValidator {
    keys: Vec<(Option<TrustDomain>, JwtPublicKey)>,
    policy: Policy,
    audiences: Vec<String>,
    algorithms: Vec<JwtAlgorithm>,
    require_binding: bool,
}

impl JwtValidator {
    /// A validator trusting the JWT keys of the bundle, for tokens addressed to one of the
    /// audiences. No audience is `invalid_request`.
    pub fn new<I, S>(bundle: &SpiffeBundle, policy: Policy, audiences: I) -> Result<JwtValidator>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let audiences: Vec<String> = audiences.into_iter().map(Into::into).collect();
        if audiences.is_empty() || audiences.iter().any(|a| a.is_empty()) {
            return Err(Error::invalid_request(
                "a token validator needs at least one non-empty audience",
            ));
        }
        Ok(JwtValidator {
            keys: Vec::new(),
            policy,
            audiences,
            algorithms: JwtAlgorithm::ALL.to_vec(),
            require_binding: false,
        }
        .with_bundle(bundle))
    }

    /// Also trusts the JWT keys of another bundle (a federated trust domain). Keys of a bundle
    /// that names its trust domain only vouch for subjects of that domain.
    pub fn with_bundle(mut self, bundle: &SpiffeBundle) -> JwtValidator {
        for key in bundle.jwt_keys() {
            self.keys
                .push((bundle.trust_domain().cloned(), key.clone()));
        }
        self
    }

    /// Accepts only these algorithms (default: ES256, ES384, EdDSA). An empty list is
    /// `invalid_request`.
    pub fn allow_algorithms(mut self, algorithms: &[JwtAlgorithm]) -> Result<JwtValidator> {
        if algorithms.is_empty() {
            return Err(Error::invalid_request(
                "the algorithm allow-list is empty: no token could pass",
            ));
        }
        self.algorithms = algorithms.to_vec();
        Ok(self)
    }

    /// Refuses tokens that are not bound to the connection's certificate (`token_binding`).
    pub fn require_binding(mut self, required: bool) -> JwtValidator {
        self.require_binding = required;
        self
    }

    /// The audiences accepted.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The policy subjects are checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Validates a compact JWT-SVID at `at`. `peer_cert_der` is the mTLS peer certificate of
    /// the connection the token came on (leaf, DER), if any: a bound token requires it.
    pub fn validate(
        &self,
        token: &str,
        peer_cert_der: Option<&[u8]>,
        at: Timestamp,
    ) -> Result<TokenClaims> {
        let malformed = |m: &str| token_error(ErrorCode::TokenMalformed, m);
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("the token is longer than meshtls reads"));
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(c64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(
                "a token is three base64url parts separated by dots",
            ));
        };
        let header = json_object(h64, "header")?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("the header has no alg"))?;
        let algorithm = self.check_algorithm(alg)?;
        match header.get("typ") {
            None => {}
            Some(Value::String(t)) if t == "JWT" || t == "JOSE" => {}
            Some(_) => return Err(malformed("the header's typ is not JWT or JOSE")),
        }
        if header.contains_key("crit") {
            return Err(malformed(
                "the header has critical extensions meshtls does not process",
            ));
        }
        let kid = match header.get("kid") {
            Some(Value::String(k)) if !k.is_empty() => k.as_str(),
            Some(Value::String(_)) | None => {
                return Err(token_error(
                    ErrorCode::TokenUnknownKey,
                    "the header has no kid",
                ))
            }
            Some(_) => return Err(malformed("the header's kid is not a string")),
        };
        let candidates: Vec<&(Option<TrustDomain>, JwtPublicKey)> =
            self.keys.iter().filter(|(_, k)| k.kid() == kid).collect();
        if candidates.is_empty() {
            return Err(token_error(
                ErrorCode::TokenUnknownKey,
                format!("no JWT key of the bundle has kid {kid:?}"),
            ));
        }
        let signature =
            b64url_decode(s64).ok_or_else(|| malformed("the signature is not base64url"))?;
        let signed = &token.as_bytes()[..h64.len() + 1 + c64.len()];
        let mut verified: Option<&Option<TrustDomain>> = None;
        let mut fitting = false;
        for (td, key) in &candidates {
            let Some(kind) = fits(algorithm, key.material()) else {
                continue;
            };
            fitting = true;
            let public = match key.material() {
                KeyMaterial::Ec(_, p) | KeyMaterial::Ed25519(p) => p,
                KeyMaterial::Rsa { .. } => continue,
            };
            if backend::jws_verify(kind, public, signed, &signature) {
                verified = Some(td);
                break;
            }
        }
        if !fitting {
            return Err(token_error(
                ErrorCode::TokenAlgorithm,
                format!("the key {kid:?} is not a {algorithm} key (algorithm/key confusion)"),
            ));
        }
        let Some(key_domain) = verified else {
            return Err(token_error(
                ErrorCode::TokenSignature,
                "the token's signature does not verify",
            ));
        };
        let claims = json_object(c64, "claims")?;
        let parsed = parse_claims(&claims, kid, algorithm)?;
        if let Some(td) = key_domain {
            if !parsed.subject.is_member_of(td) {
                return Err(token_error(
                    ErrorCode::TokenUnknownKey,
                    format!(
                        "the key {kid:?} belongs to {}, not to the subject's trust domain {}",
                        td.as_str(),
                        parsed.subject.trust_domain().as_str()
                    ),
                ));
            }
        }
        self.check_time(&parsed, at)?;
        if !parsed.audience.iter().any(|a| self.audiences.contains(a)) {
            return Err(token_error(
                ErrorCode::TokenAudience,
                format!(
                    "the token is for {:?}, not for {:?}",
                    parsed.audience, self.audiences
                ),
            ));
        }
        if !self.policy.allows_token_subject(&parsed.subject) {
            return Err(Error::new(
                ErrorCode::IdentityNotAllowed,
                format!("{} is not allowed by the policy", parsed.subject),
            ));
        }
        check_binding(&claims, &parsed, peer_cert_der, self.require_binding)?;
        Ok(parsed)
    }

    fn check_algorithm(&self, alg: &str) -> Result<JwtAlgorithm> {
        let refused = |m: String| token_error(ErrorCode::TokenAlgorithm, m);
        if alg.eq_ignore_ascii_case("none") {
            return Err(refused("unsigned tokens (alg none) are refused".into()));
        }
        if alg.len() >= 2 && alg[..2].eq_ignore_ascii_case("HS") {
            return Err(refused(format!(
                "HMAC tokens ({alg}) are refused: JWT-SVIDs are signed with a public-key algorithm"
            )));
        }
        let algorithm = JwtAlgorithm::from_name(alg)
            .ok_or_else(|| refused(format!("the algorithm {alg:?} is not supported")))?;
        if !self.algorithms.contains(&algorithm) {
            return Err(refused(format!(
                "the algorithm {alg} is not in the validator's allow-list"
            )));
        }
        Ok(algorithm)
    }

    fn check_time(&self, claims: &TokenClaims, at: Timestamp) -> Result<()> {
        let leeway = self.policy.clock_leeway();
        if at >= claims.expires_at.add(leeway) {
            return Err(token_error(
                ErrorCode::TokenExpired,
                format!("the token expired at {}", claims.expires_at),
            ));
        }
        for (name, t) in [("iat", claims.issued_at), ("nbf", claims.not_before)] {
            if let Some(t) = t {
                if t > at.add(leeway) {
                    return Err(token_error(
                        ErrorCode::TokenExpired,
                        format!("the token is not valid yet ({name} {t})"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The backend kind when the algorithm fits the key, or None (key confusion).
fn fits(alg: JwtAlgorithm, key: &KeyMaterial) -> Option<JwsKind> {
    match (alg, key) {
        (JwtAlgorithm::Es256, KeyMaterial::Ec(JwsKind::Es256, _)) => Some(JwsKind::Es256),
        (JwtAlgorithm::Es384, KeyMaterial::Ec(JwsKind::Es384, _)) => Some(JwsKind::Es384),
        (JwtAlgorithm::EdDsa, KeyMaterial::Ed25519(_)) => Some(JwsKind::Ed25519),
        _ => None,
    }
}

fn json_object(part: &str, what: &str) -> Result<Map<String, Value>> {
    let bytes = b64url_decode(part).ok_or_else(|| {
        token_error(
            ErrorCode::TokenMalformed,
            format!("the {what} is not base64url"),
        )
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(token_error(
            ErrorCode::TokenMalformed,
            format!("the {what} is not a JSON object"),
        )),
    }
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<Timestamp>> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            let secs = v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .ok_or_else(|| {
                    token_error(
                        ErrorCode::TokenMalformed,
                        format!("the claim {name} is not a number"),
                    )
                })?;
            Ok(Some(Timestamp::from_unix(secs)))
        }
    }
}

fn string_list(v: &Value, name: &str) -> Result<Vec<String>> {
    let bad = || {
        token_error(
            ErrorCode::TokenMalformed,
            format!("the claim {name} is not a string or a list of strings"),
        )
    };
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn parse_claims(
    claims: &Map<String, Value>,
    kid: &str,
    algorithm: JwtAlgorithm,
) -> Result<TokenClaims> {
    let malformed = |m: &str| token_error(ErrorCode::TokenMalformed, m);
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the token has no sub"))?;
    let subject = SpiffeId::parse(sub).map_err(|e| {
        token_error(
            ErrorCode::TokenMalformed,
            format!("the sub is not a SPIFFE ID: {}", e.message()),
        )
    })?;
    let audience = match claims.get("aud") {
        Some(v) => string_list(v, "aud")?,
        None => Vec::new(),
    };
    if audience.is_empty() {
        return Err(malformed("the token has no aud"));
    }
    let expires_at = time_claim(claims, "exp")?.ok_or_else(|| malformed("the token has no exp"))?;
    let roles = match claims.get("roles") {
        Some(v) => string_list(v, "roles")?,
        None => Vec::new(),
    };
    let scope = match claims.get("scope") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("the claim scope is not a string")),
    };
    let jti = match claims.get("jti") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("the claim jti is not a string")),
    };
    let bound_thumbprint = claims
        .get("cnf")
        .and_then(|c| c.get("x5t#S256"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(TokenClaims {
        subject,
        audience,
        expires_at,
        issued_at: time_claim(claims, "iat")?,
        not_before: time_claim(claims, "nbf")?,
        jti,
        roles,
        scope,
        bound_thumbprint,
        key_id: kid.to_string(),
        algorithm,
    })
}

fn check_binding(
    claims: &Map<String, Value>,
    parsed: &TokenClaims,
    peer_cert_der: Option<&[u8]>,
    required: bool,
) -> Result<()> {
    let binding = |m: String| token_error(ErrorCode::TokenBinding, m);
    match (claims.get("cnf"), &parsed.bound_thumbprint) {
        (None, _) if required => Err(binding(
            "the token is not bound to a certificate and binding is required".into(),
        )),
        (None, _) => Ok(()),
        (Some(_), None) => Err(binding(
            "the token's cnf has no x5t#S256: meshtls checks certificate bindings only".into(),
        )),
        (Some(_), Some(want)) => {
            let Some(der) = peer_cert_der else {
                return Err(binding(
                    "the token is bound to a certificate and the connection has none".into(),
                ));
            };
            if certificate_thumbprint(der) != *want {
                return Err(binding(
                    "the token is bound to another certificate than the connection's".into(),
                ));
            }
            Ok(())
        }
    }
}
