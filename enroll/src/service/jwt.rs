//! JWT-SVIDs: the signing keys of the trust domain (separate from the X.509 CA key, encrypted in
//! the ledger so that every replica signs with keys the bundle publishes, rotated with
//! overlap), `GET /v1/bundle.jwks` and `POST /v1/jwt`.
//!
//! Rotation: a key is created `PREPUBLISH` before it signs, so that validators which fetched
//! the bundle up to `spiffe_refresh_hint` ago already hold it; it signs for `rotate_every`,
//! and stays published until the last token it signed has expired (`max_ttl` later, plus the
//! same margin). Every request reads the keys from the ledger, so replicas agree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use hyper::{Request, StatusCode};
use meshtls_core::jwt::{JwtAlgorithm, JwtSigningKey, SpiffeBundle, TokenRequest};
use meshtls_core::{encoding, Error as CoreError, PeerIdentity, Timestamp};

use super::documents::etag_of;
use super::http::{blocking, check_not_revoked, json, read_json, respond, ApiError, HttpResponse};
use super::limits::FailureLimit;
use super::{now, State};
use crate::api::{JwtRequest, JwtResponse};
use crate::store::{JwtKeyRecord, JwtRecord};

/// How long a new key is published before it signs (also the bundle's `spiffe_refresh_hint`).
pub const PREPUBLISH: Duration = Duration::from_secs(5 * 60);
/// Default time a JWT key signs before the next one takes over.
pub const DEFAULT_ROTATE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Default longest lifetime of a minted token.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(15 * 60);
/// Default tokens one SPIFFE ID may mint per minute.
pub const DEFAULT_MINTS_PER_MINUTE: u32 = 60;

/// JWT-SVID settings of the service. Build with [`JwtConfig::new`] and the `with_` methods.
#[derive(Clone)]
pub struct JwtConfig {
    passphrase: String,
    algorithm: JwtAlgorithm,
    rotate_every: Duration,
    max_ttl: Duration,
    mints: (u32, Duration),
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("algorithm", &self.algorithm)
            .field("rotate_every", &self.rotate_every)
            .field("max_ttl", &self.max_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtConfig {
    /// JWT-SVIDs signed with keys encrypted at rest with `passphrase` (`meshtls serve` uses
    /// the CA's): ES256, a new key every 24 h, tokens of at most 15 minutes, 60 per minute
    /// per SPIFFE ID.
    pub fn new(passphrase: impl Into<String>) -> Self {
        JwtConfig {
            passphrase: passphrase.into(),
            algorithm: JwtAlgorithm::Es256,
            rotate_every: DEFAULT_ROTATE_EVERY,
            max_ttl: DEFAULT_MAX_TTL,
            mints: (DEFAULT_MINTS_PER_MINUTE, Duration::from_secs(60)),
        }
    }

    /// The algorithm of new keys (ES256 default, ES384, EdDSA).
    pub fn with_algorithm(mut self, alg: JwtAlgorithm) -> Self {
        self.algorithm = alg;
        self
    }

    /// How long each key signs (at least twice [`PREPUBLISH`]).
    pub fn with_rotation(mut self, every: Duration) -> Self {
        self.rotate_every = every;
        self
    }

    /// The longest lifetime a caller may ask for (at most the core's `MAX_TOKEN_TTL`).
    pub fn with_max_ttl(mut self, max: Duration) -> Self {
        self.max_ttl = max;
        self
    }

    /// At most `max` tokens per SPIFFE ID per `window` (then 429 with `Retry-After`).
    pub fn with_rate_limit(mut self, max: u32, window: Duration) -> Self {
        self.mints = (max.max(1), window);
        self
    }

    pub(super) fn check(&self) -> Result<(), CoreError> {
        if self.rotate_every < 2 * PREPUBLISH {
            return Err(CoreError::new(
                meshtls_core::ErrorCode::InvalidRequest,
                format!(
                    "JWT keys rotate every {} s at least",
                    (2 * PREPUBLISH).as_secs()
                ),
            ));
        }
        if self.max_ttl.is_zero() || self.max_ttl > meshtls_core::jwt::MAX_TOKEN_TTL {
            return Err(CoreError::new(
                meshtls_core::ErrorCode::InvalidRequest,
                format!(
                    "the JWT maximum lifetime is 1 to {} s",
                    meshtls_core::jwt::MAX_TOKEN_TTL.as_secs()
                ),
            ));
        }
        Ok(())
    }
}

/// The service's JWT state: its settings, the keys it decrypted, the mint limit.
pub(super) struct JwtState {
    config: JwtConfig,
    decrypted: Mutex<HashMap<String, JwtSigningKey>>,
    mints: FailureLimit<String>,
}

impl JwtState {
    pub(super) fn new(config: JwtConfig) -> Result<Self, CoreError> {
        config.check()?;
        let mints = FailureLimit::new(config.mints.0, config.mints.1);
        Ok(JwtState {
            config,
            decrypted: Mutex::new(HashMap::new()),
            mints,
        })
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The keys in force at `at`: a new one recorded first when the newest is due to be
/// replaced; then the key that signs and every key to publish.
pub(super) fn keys_at(
    state: &State,
    jwt: &JwtState,
    at: Timestamp,
) -> Result<(JwtSigningKey, Vec<JwtSigningKey>), ApiError> {
    let now = at.unix();
    let c = &jwt.config;
    let mut records = state.store.jwt_keys(now)?;
    let due = records
        .last()
        .is_none_or(|k| k.created_at + secs(c.rotate_every) - secs(PREPUBLISH) <= now);
    if due {
        let key = JwtSigningKey::generate(c.algorithm)?;
        let record = JwtKeyRecord {
            kid: key.kid().to_owned(),
            algorithm: key.algorithm().as_str().to_owned(),
            key_pem: key.encrypted_pem(&c.passphrase)?.0,
            created_at: now,
            retire_at: now + secs(c.rotate_every) + secs(c.max_ttl) + secs(PREPUBLISH),
        };
        state.store.add_jwt_key(&record)?;
        lock(&jwt.decrypted).insert(key.kid().to_owned(), key);
        records = state.store.jwt_keys(now)?;
    }
    let mut keys = Vec::with_capacity(records.len());
    for r in &records {
        let cached = lock(&jwt.decrypted).get(&r.kid).cloned();
        let key = match cached {
            Some(k) => k,
            None => {
                let k = JwtSigningKey::from_pem(r.key_pem.as_bytes(), Some(&c.passphrase))?
                    .with_kid(r.kid.clone());
                lock(&jwt.decrypted).insert(r.kid.clone(), k.clone());
                k
            }
        };
        keys.push((r.created_at, key));
    }
    // The newest key published long enough; on a fresh start, the only one there is.
    let signing = keys
        .iter()
        .rev()
        .find(|(created, _)| created + secs(PREPUBLISH) <= now)
        .or_else(|| keys.first())
        .map(|(_, k)| k.clone())
        .ok_or_else(|| ApiError::internal("no JWT signing key"))?;
    Ok((signing, keys.into_iter().map(|(_, k)| k).collect()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The SPIFFE bundle of the trust domain at `at`: the CA certificates of `/v1/bundle` as
/// `x509-svid` keys and, when JWT-SVIDs are on, the published JWT keys.
pub(super) fn spiffe_bundle(state: &State, at: Timestamp) -> Result<SpiffeBundle, ApiError> {
    let mut bundle = SpiffeBundle::new(Some(state.authority.trust_domain().clone()));
    for der in encoding::parse_certificates(state.bundle.pem.as_bytes())? {
        bundle.add_x509_authority(&der)?;
    }
    if let Some(jwt) = &state.jwt {
        let (_, keys) = keys_at(state, jwt, at)?;
        for k in keys {
            bundle.add_jwt_key(k.public_key().clone())?;
        }
        bundle.set_sequence(Some(state.store.jwt_key_count()?));
    } else {
        bundle.set_sequence(Some(0));
    }
    bundle.set_refresh_hint(Some(PREPUBLISH));
    Ok(bundle)
}

/// `GET /v1/bundle.jwks`: the SPIFFE bundle, with an entity tag.
pub(super) async fn bundle_jwks(
    state: &Arc<State>,
    req: &Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let text = blocking(move || Ok(spiffe_bundle(&st, now())?.to_json()?)).await?;
    let etag = etag_of(&[text.as_bytes()]);
    let matches = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == etag);
    let mut r = if matches {
        respond(StatusCode::NOT_MODIFIED, "application/json", Bytes::new())
    } else {
        respond(StatusCode::OK, "application/json", text)
    };
    if let Ok(tag) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(ETAG, tag);
    }
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// `POST /v1/jwt` (mTLS): a JWT-SVID for the caller's own SPIFFE ID.
pub(super) async fn mint_jwt(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let Some(jwt) = &state.jwt else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "jwt_disabled",
            "this service does not mint JWT-SVIDs",
        ));
    };
    let peer = peer.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "client_certificate_required",
            "a JWT-SVID is minted for the client certificate's SPIFFE ID",
        )
    })?;
    let id = peer.spiffe_id.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "identity_mismatch",
            "the client certificate names no SPIFFE ID",
        )
    })?;
    check_not_revoked(state, &peer.serial).await?;
    if let Err(wait) = jwt.mints.check(id.to_string(), Instant::now()) {
        let secs = wait.as_secs().max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{id} minted too many tokens: retry in {secs} s"),
        );
        e.retry_after = Some(secs);
        return Err(e);
    }
    let body: JwtRequest = read_json(req, state.max_body).await?;
    let mut request = TokenRequest::new(id.clone(), body.audience)
        .max_ttl(jwt.config.max_ttl)
        .ttl(
            body.ttl_seconds
                .map(Duration::from_secs)
                .unwrap_or(meshtls_core::jwt::DEFAULT_TOKEN_TTL)
                .min(Duration::from_secs(u32::MAX.into())),
        );
    if body.bind {
        request = request.bind_to_fingerprint(&peer.fingerprint);
    }
    request.check()?;
    jwt.mints.failed(id.to_string(), Instant::now());
    let st = state.clone();
    let serial = peer.serial.to_hex();
    let token = blocking(move || {
        let at = now();
        let Some(jwt) = &st.jwt else {
            return Err(ApiError::internal("JWT state vanished"));
        };
        let (key, _) = keys_at(&st, jwt, at)?;
        let token = key.mint(&request, at)?;
        let c = &token.claims;
        st.store.record_jwt(&JwtRecord {
            jti: c.jti.clone().unwrap_or_default(),
            subject: c.subject.to_string(),
            audience: c.audience.clone(),
            issued_at: at.unix(),
            expires_at: c.expires_at.unix(),
            kid: c.key_id.clone(),
            serial,
            bound_thumbprint: c.bound_thumbprint.clone(),
        })?;
        Ok(token)
    })
    .await?;
    state.metrics.jwt_minted();
    let c = token.claims;
    Ok(json(
        StatusCode::CREATED,
        &JwtResponse {
            token: token.token,
            subject: c.subject.to_string(),
            audience: c.audience,
            expires_at: c.expires_at.unix(),
            issued_at: c.issued_at.map(|t| t.unix()).unwrap_or_default(),
            jti: c.jti.unwrap_or_default(),
            kid: c.key_id,
            bound: c.bound_thumbprint.is_some(),
        },
    ))
}
