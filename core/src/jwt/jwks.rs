//! The SPIFFE trust bundle format: a JWKS whose keys carry `use: x509-svid` (a CA certificate
//! in `x5c`) or `use: jwt-svid` (a JWT signing key with its `kid`), with `spiffe_sequence`
//! and `spiffe_refresh_hint`.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};
use x509_parser::public_key::PublicKey;

use super::{b64url_decode, jwk_members, JwtPublicKey, KeyMaterial};
use crate::backend::JwsKind;
use crate::certificate::Certificate;
use crate::error::{Error, Result};
use crate::identity::TrustDomain;
use crate::verify::TrustBundle;

/// The most bytes of a bundle document meshtls reads.
const MAX_BUNDLE_LEN: usize = 1024 * 1024;

/// A SPIFFE trust bundle: the X.509 authorities and the JWT keys of one trust domain.
///
/// ```
/// use meshtls_core::jwt::{JwtAlgorithm, JwtSigningKey, SpiffeBundle};
/// let key = JwtSigningKey::generate(JwtAlgorithm::Es256)?;
/// let mut bundle = SpiffeBundle::new(None);
/// bundle.add_jwt_key(key.public_key().clone())?;
/// bundle.set_sequence(Some(7));
/// let again = SpiffeBundle::parse(bundle.to_json()?.as_bytes())?;
/// assert_eq!(again.jwt_keys()[0].kid(), key.kid());
/// assert_eq!(again.sequence(), Some(7));
/// # Ok::<(), meshtls_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpiffeBundle {
    trust_domain: Option<TrustDomain>,
    x509_authorities: Vec<Vec<u8>>,
    jwt_keys: Vec<JwtPublicKey>,
    sequence: Option<u64>,
    refresh_hint: Option<Duration>,
    skipped: Vec<String>,
}

impl SpiffeBundle {
    /// An empty bundle, for the trust domain if known (a validator then accepts its JWT keys
    /// only for subjects of that domain).
    pub fn new(trust_domain: Option<TrustDomain>) -> SpiffeBundle {
        SpiffeBundle {
            trust_domain,
            ..SpiffeBundle::default()
        }
    }

    /// Parses the SPIFFE bundle JSON. Keys with an unknown `use`, or JWT keys of a type meshtls
    /// cannot use (another curve, a symmetric key), are skipped and listed by
    /// [`SpiffeBundle::skipped`]; a key missing required members, a JWT key without `kid` or
    /// with a duplicate one, or any private key member (`d`, `p`...) is `malformed`.
    pub fn parse(input: &[u8]) -> Result<SpiffeBundle> {
        if input.len() > MAX_BUNDLE_LEN {
            return Err(Error::malformed("the bundle is larger than meshtls reads"));
        }
        let doc: Value = serde_json::from_slice(input)
            .map_err(|e| Error::malformed(format!("the bundle is not JSON: {e}")))?;
        let Value::Object(doc) = doc else {
            return Err(Error::malformed("the bundle is not a JSON object"));
        };
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::malformed("the bundle has no keys array"))?;
        let mut bundle = SpiffeBundle::new(None);
        bundle.sequence = match doc.get("spiffe_sequence") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| Error::malformed("spiffe_sequence is not a whole number"))?,
            ),
        };
        bundle.refresh_hint = match doc.get("spiffe_refresh_hint") {
            None => None,
            Some(v) => Some(Duration::from_secs(v.as_u64().ok_or_else(|| {
                Error::malformed("spiffe_refresh_hint is not a whole number of seconds")
            })?)),
        };
        for (i, key) in keys.iter().enumerate() {
            let Value::Object(key) = key else {
                return Err(Error::malformed(format!("key {i} is not a JSON object")));
            };
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                if key.contains_key(private) {
                    return Err(Error::malformed(format!(
                        "key {i} carries private key material ({private}): a bundle is public"
                    )));
                }
            }
            match key.get("use").and_then(Value::as_str) {
                Some("x509-svid") => {
                    let der = x5c(key).ok_or_else(|| {
                        Error::malformed(format!(
                            "x509-svid key {i} needs x5c with exactly one base64 certificate"
                        ))
                    })?;
                    bundle.add_x509_authority(&der)?;
                }
                Some("jwt-svid") => {
                    let kid = key
                        .get("kid")
                        .and_then(Value::as_str)
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| Error::malformed(format!("jwt-svid key {i} has no kid")))?;
                    match jwt_material(key) {
                        Ok(material) => bundle
                            .add_jwt_key(JwtPublicKey::from_material(kid.to_string(), material))
                            .map_err(|e| Error::malformed(e.message().to_string()))?,
                        Err(Skip(why)) => bundle.skipped.push(format!("key {kid:?}: {why}")),
                    }
                }
                Some(other) => bundle
                    .skipped
                    .push(format!("key {i}: unknown use {other:?}")),
                None => return Err(Error::malformed(format!("key {i} has no use"))),
            }
        }
        Ok(bundle)
    }

    /// The bundle as SPIFFE bundle JSON.
    pub fn to_json(&self) -> Result<String> {
        let mut keys = Vec::new();
        for der in &self.x509_authorities {
            let mut k = spki_members(der)?;
            k.insert("use".into(), Value::from("x509-svid"));
            k.insert(
                "x5c".into(),
                Value::from(vec![base64::engine::general_purpose::STANDARD.encode(der)]),
            );
            keys.push(Value::Object(k));
        }
        for key in &self.jwt_keys {
            let mut k = key.jwk_members();
            k.insert("use".into(), Value::from("jwt-svid"));
            k.insert("kid".into(), Value::from(key.kid()));
            keys.push(Value::Object(k));
        }
        let mut doc = Map::new();
        doc.insert("keys".into(), Value::from(keys));
        if let Some(s) = self.sequence {
            doc.insert("spiffe_sequence".into(), Value::from(s));
        }
        if let Some(h) = self.refresh_hint {
            doc.insert("spiffe_refresh_hint".into(), Value::from(h.as_secs()));
        }
        serde_json::to_string_pretty(&Value::Object(doc))
            .map_err(|e| Error::internal(format!("bundle JSON: {e}")))
    }

    /// Sets the trust domain the bundle is for.
    pub fn with_trust_domain(mut self, td: TrustDomain) -> SpiffeBundle {
        self.trust_domain = Some(td);
        self
    }

    /// Adds a CA certificate (DER) as an X.509 authority; one already present changes nothing.
    pub fn add_x509_authority(&mut self, der: &[u8]) -> Result<()> {
        let cert = Certificate::from_der(der)?;
        if !cert.is_ca {
            return Err(Error::invalid_request(format!(
                "{} is not a CA certificate",
                cert.subject
            )));
        }
        if !self.x509_authorities.iter().any(|d| d == der) {
            self.x509_authorities.push(der.to_vec());
        }
        Ok(())
    }

    /// Adds a JWT key. A key ID already present with another key is `invalid_request`; the
    /// same key again changes nothing.
    pub fn add_jwt_key(&mut self, key: JwtPublicKey) -> Result<()> {
        if let Some(held) = self.jwt_keys.iter().find(|k| k.kid() == key.kid()) {
            if *held == key {
                return Ok(());
            }
            return Err(Error::invalid_request(format!(
                "two JWT keys have the kid {:?}",
                key.kid()
            )));
        }
        self.jwt_keys.push(key);
        Ok(())
    }

    /// Sets `spiffe_sequence`.
    pub fn set_sequence(&mut self, sequence: Option<u64>) {
        self.sequence = sequence;
    }

    /// Sets `spiffe_refresh_hint`.
    pub fn set_refresh_hint(&mut self, hint: Option<Duration>) {
        self.refresh_hint = hint;
    }

    /// The trust domain, if known.
    pub fn trust_domain(&self) -> Option<&TrustDomain> {
        self.trust_domain.as_ref()
    }

    /// The X.509 authorities (DER).
    pub fn x509_authorities(&self) -> &[Vec<u8>] {
        &self.x509_authorities
    }

    /// The JWT keys.
    pub fn jwt_keys(&self) -> &[JwtPublicKey] {
        &self.jwt_keys
    }

    /// `spiffe_sequence`.
    pub fn sequence(&self) -> Option<u64> {
        self.sequence
    }

    /// `spiffe_refresh_hint`.
    pub fn refresh_hint(&self) -> Option<Duration> {
        self.refresh_hint
    }

    /// The keys parsing skipped, with why.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The X.509 authorities as a [`TrustBundle`] for certificate verification.
    pub fn trust_bundle(&self) -> Result<TrustBundle> {
        let mut b = TrustBundle::new();
        for der in &self.x509_authorities {
            b.add_ca_der(der)?;
        }
        Ok(b)
    }
}

struct Skip(String);

fn x5c(key: &Map<String, Value>) -> Option<Vec<u8>> {
    match key.get("x5c")?.as_array()?.as_slice() {
        [Value::String(b64)] => base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .ok(),
        _ => None,
    }
}

fn member(key: &Map<String, Value>, name: &str) -> std::result::Result<Vec<u8>, Skip> {
    key.get(name)
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Skip(format!("no base64url {name}")))
}

fn jwt_material(key: &Map<String, Value>) -> std::result::Result<KeyMaterial, Skip> {
    let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
    let crv = key.get("crv").and_then(Value::as_str).unwrap_or_default();
    match (kty, crv) {
        ("EC", "P-256" | "P-384") => {
            let (kind, len) = if crv == "P-256" {
                (JwsKind::Es256, 32)
            } else {
                (JwsKind::Es384, 48)
            };
            let (x, y) = (member(key, "x")?, member(key, "y")?);
            if x.len() != len || y.len() != len {
                return Err(Skip(format!("x and y of a {crv} key are {len} bytes")));
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(KeyMaterial::Ec(kind, point))
        }
        ("OKP", "Ed25519") => {
            let x = member(key, "x")?;
            if x.len() != 32 {
                return Err(Skip("x of an Ed25519 key is 32 bytes".into()));
            }
            Ok(KeyMaterial::Ed25519(x))
        }
        ("RSA", _) => Ok(KeyMaterial::Rsa {
            n: member(key, "n")?,
            e: member(key, "e")?,
        }),
        (kty, crv) => Err(Skip(format!(
            "a key of type {kty:?} {crv:?} is not usable for JWT-SVIDs"
        ))),
    }
}

/// The JWK members of a certificate's public key.
fn spki_members(der: &[u8]) -> Result<Map<String, Value>> {
    let (_, x509) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| Error::malformed("an X.509 authority does not parse"))?;
    let spki = &x509.tbs_certificate.subject_pki;
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let material = match spki.parsed() {
        Ok(PublicKey::EC(point)) => match curve.as_deref() {
            Some("1.2.840.10045.3.1.7") => KeyMaterial::Ec(JwsKind::Es256, point.data().to_vec()),
            Some("1.3.132.0.34") => KeyMaterial::Ec(JwsKind::Es384, point.data().to_vec()),
            _ => {
                return Err(Error::unsupported(
                    "an X.509 authority's EC curve has no JWK form in meshtls",
                ))
            }
        },
        Ok(PublicKey::RSA(rsa)) => KeyMaterial::Rsa {
            n: strip_zeros(rsa.modulus),
            e: strip_zeros(rsa.exponent),
        },
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => {
            KeyMaterial::Ed25519(spki.subject_public_key.data.to_vec())
        }
        _ => {
            return Err(Error::unsupported(
                "an X.509 authority's key has no JWK form in meshtls",
            ))
        }
    };
    if let KeyMaterial::Ec(kind, point) = &material {
        let len = if *kind == JwsKind::Es384 { 97 } else { 65 };
        if point.len() != len || point.first() != Some(&4) {
            return Err(Error::unsupported(
                "an X.509 authority's EC point is not uncompressed: it has no JWK form",
            ));
        }
    }
    Ok(jwk_members(&material))
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}
