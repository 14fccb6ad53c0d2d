//! The enrollment client of the meshtls CA service (`meshtls serve`, crate meshtls-enroll):
//! enroll with a join token, then renew and refresh on a schedule.
//!
//! The key is generated here (core [`create_csr`]) and never leaves the process; the service
//! only ever sees the CSR. The CA service is verified by the core against the trust bundle
//! the node was given with its token, and must present the service identity
//! (`spiffe://<td>/meshtls/ca` unless set otherwise).
//!
//! ```no_run
//! # async fn demo(bundle_pem: String) -> Result<(), meshtls_net::enroll::EnrollError> {
//! use meshtls_core::SpiffeId;
//! use meshtls_net::enroll::{enroll, EnrollOptions};
//!
//! let id = SpiffeId::parse("spiffe://mesh.internal/service/api").expect("valid ID");
//! let node = enroll("https://ca.mesh.internal:8443", "5f1e…", &id,
//!                   EnrollOptions::new(bundle_pem)).await?;
//! let identity = node.identity();   // hand to MtlsServer / MtlsClient: renews itself
//! let trust = node.trust();         // bundle + CRL, refreshed in the background
//! # Ok(()) }
//! ```
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::{Identity, IdentityHandle, RotationDriver, RotationEvent, RotationTask, TrustHandle};
use meshtls_core::{
    create_csr, Error as CoreError, ErrorCode, KeyAlgorithm, Policy, RotationPolicy, SpiffeId,
    TrustBundle, Verifier,
};
use tokio::task::JoinHandle;

mod admin;
pub mod api;
mod bootstrap;
mod client;
mod jwt;
mod layout;
mod refresh;
mod state;

pub use self::admin::CertFilter;
pub use self::bootstrap::{bootstrap_root, root_matching};
pub use self::client::{CaClient, PemDocument};
pub use self::jwt::JwtSource;
pub use self::layout::{replace_file, write_atomic, FileLayout, KEY_MODE, PUBLIC_MODE};
use self::refresh::TrustRefresh;
pub use self::refresh::{TrustCallback, TrustEvent};
use self::state::{load_crl, load_state, save_state};
pub use self::state::{CRL_FILE, STATE_FILE};

/// Why an enrollment client call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum EnrollError {
    /// The core refused something: here (bad bundle, key/cert mismatch, a chain it cannot
    /// verify), or at the service, which refused our certificate in the TLS handshake with an
    /// alert that names the core's code (`expired`, `revoked`, `unknown_issuer`...).
    Core(CoreError),
    /// The service answered with an error: HTTP status and its stable code.
    Service {
        /// HTTP status.
        status: u16,
        /// The service's code (`token_used`, `identity_mismatch`, `revoked`...).
        code: String,
        /// Its message.
        message: String,
    },
    /// Connecting, TLS (including the core rejecting the service's certificate) or HTTP.
    Transport(String),
    /// An argument was unusable (e.g. the URL).
    Invalid(String),
}

/// The family of an enrollment error code, the same in every binding: a core code's own
/// family; `io` for `transport`, `unavailable`, `timeout` and `unexpected_answer` (the service
/// could not be reached or did not answer as one); `request` for every other service refusal
/// (`token_used`, `identity_mismatch`, `not_authorized`...).
pub fn family_of_code(code: &str) -> meshtls_core::ErrorFamily {
    match meshtls_core::ErrorCode::from_name(code) {
        Some(c) => c.family(),
        None => match code {
            "transport" | "unavailable" | "timeout" | "unexpected_answer" => {
                meshtls_core::ErrorFamily::Io
            }
            _ => meshtls_core::ErrorFamily::Request,
        },
    }
}

impl EnrollError {
    /// The family of [`code`](Self::code) ([`family_of_code`]).
    pub fn family(&self) -> meshtls_core::ErrorFamily {
        family_of_code(self.code())
    }

    /// The stable code: the service's code, the core's code, or `transport`/`invalid_request`.
    pub fn code(&self) -> &str {
        match self {
            EnrollError::Core(e) => e.code().as_str(),
            EnrollError::Service { code, .. } => code,
            EnrollError::Transport(_) => "transport",
            EnrollError::Invalid(_) => ErrorCode::InvalidRequest.as_str(),
        }
    }

    /// The core's code when there is one: the core's own refusals, the service's codes that
    /// are core codes (`revoked`, `expired`, `malformed`, `invalid_request`...) and
    /// `invalid_request` for an unusable argument; `None` for transport failures and for the
    /// service's own codes (`token_used`, `identity_mismatch`...), which [`code`](Self::code)
    /// still names.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            EnrollError::Core(e) => Some(e.code()),
            EnrollError::Service { code, .. } => ErrorCode::from_name(code),
            EnrollError::Transport(_) => None,
            EnrollError::Invalid(_) => Some(ErrorCode::InvalidRequest),
        }
    }
}

impl fmt::Display for EnrollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrollError::Core(e) => write!(f, "{e}"),
            EnrollError::Service {
                status,
                code,
                message,
            } => write!(f, "CA service: {status} {code}: {message}"),
            EnrollError::Transport(m) => write!(f, "CA service unreachable: {m}"),
            EnrollError::Invalid(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for EnrollError {}

impl From<CoreError> for EnrollError {
    fn from(e: CoreError) -> Self {
        EnrollError::Core(e)
    }
}

fn transport(e: impl fmt::Display) -> EnrollError {
    EnrollError::Transport(e.to_string())
}

/// A failure of the TLS connection to the service: when the core refused the service's
/// certificate (e.g. `unknown_issuer`: not vouched for by the bundle), the core's error; when
/// the service refused ours with an alert that names a core code (`certificate_expired`...),
/// that code, as the core's refusal; any other failure is a transport error.
fn tls_failure(e: impl std::error::Error + 'static) -> EnrollError {
    if let Some(core) = crate::error::core_rejection(&e) {
        return EnrollError::Core(CoreError::new(
            core.code(),
            format!(
                "the CA service's certificate was refused: {}",
                core.message()
            ),
        ));
    }
    match crate::error::received_alert_code(&e) {
        Some(code) => EnrollError::Core(CoreError::new(
            code,
            format!("the CA service refused our certificate: {e}"),
        )),
        None => transport(e),
    }
}

/// Options of [`enroll`].
#[derive(Clone)]
pub struct EnrollOptions {
    /// CA certificates (PEM) that vouch for the service, given to the node with its token.
    pub trust_bundle_pem: String,
    /// DNS names to ask for (the token must grant them).
    pub dns_names: Vec<String>,
    /// Key algorithm of the node's key (default ECDSA P-256).
    pub key_algorithm: KeyAlgorithm,
    /// The SPIFFE ID the service must present (default `spiffe://<td>/meshtls/ca`).
    pub service_id: Option<SpiffeId>,
    /// The policy of the returned [`EnrolledIdentity::trust`] (default: the trust domain).
    pub peer_policy: Option<Policy>,
    /// When to renew (default: the core's, 2/3 of the lifetime with jitter).
    pub rotation: RotationPolicy,
    /// How often the bundle and CRL are fetched again (default 5 minutes).
    pub refresh_every: Duration,
    /// Timeout of each request to the service (default 30 s).
    pub timeout: Duration,
    /// Called with every event of the rotation driver (renewed, failed, expiring).
    pub on_rotation: Option<Arc<dyn Fn(RotationEvent) + Send + Sync>>,
    /// Called with the outcome of every bundle and CRL refresh (the first one, during
    /// [`enroll`]/[`resume`], included).
    pub on_trust: Option<TrustCallback>,
    /// Retry delays of a failed renewal: from the first to the second, doubling
    /// (default 1 s to 5 min).
    pub backoff: (Duration, Duration),
    /// Keep the certificate chain and key in `DIR/identity.pem` (mode 0600, replaced
    /// atomically on every renewal) so a restarted node can [`resume`] without a new token.
    pub state_dir: Option<PathBuf>,
}

impl fmt::Debug for EnrollOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollOptions")
            .field("dns_names", &self.dns_names)
            .field("key_algorithm", &self.key_algorithm)
            .field("service_id", &self.service_id)
            .field("rotation", &self.rotation)
            .field("refresh_every", &self.refresh_every)
            .field("timeout", &self.timeout)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

/// The shortest interval between bundle and CRL refreshes.
pub const MIN_REFRESH_EVERY: Duration = Duration::from_secs(1);
/// The longest interval between refreshes: a revocation reaches the node within it.
pub const MAX_REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);
/// The shortest request timeout.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest request timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

fn check_range(what: &str, d: Duration, min: Duration, max: Duration) -> Result<(), CoreError> {
    if d < min || d > max {
        return Err(CoreError::new(
            meshtls_core::ErrorCode::InvalidRequest,
            format!("{what} of {d:?} is outside {min:?} to {max:?}"),
        ));
    }
    Ok(())
}

/// The one rule for an enrollment refresh interval ([`MIN_REFRESH_EVERY`] to
/// [`MAX_REFRESH_EVERY`]): `invalid_request` otherwise. Every binding calls it, so zero or a
/// week is refused the same way everywhere.
pub fn check_refresh_every(d: Duration) -> Result<(), CoreError> {
    check_range(
        "a refresh interval",
        d,
        MIN_REFRESH_EVERY,
        MAX_REFRESH_EVERY,
    )
}

/// The one rule for an enrollment request timeout ([`MIN_TIMEOUT`] to [`MAX_TIMEOUT`]).
pub fn check_timeout(d: Duration) -> Result<(), CoreError> {
    check_range("a request timeout", d, MIN_TIMEOUT, MAX_TIMEOUT)
}

impl EnrollOptions {
    /// Checks the options' limits ([`check_refresh_every`], [`check_timeout`]); [`enroll`] and
    /// [`resume`] call it first.
    pub fn check(&self) -> Result<(), CoreError> {
        check_refresh_every(self.refresh_every)?;
        check_timeout(self.timeout)
    }

    /// Defaults, trusting the service through `trust_bundle_pem`.
    pub fn new(trust_bundle_pem: impl Into<String>) -> Self {
        EnrollOptions {
            trust_bundle_pem: trust_bundle_pem.into(),
            dns_names: Vec::new(),
            key_algorithm: KeyAlgorithm::EcdsaP256,
            service_id: None,
            peer_policy: None,
            rotation: RotationPolicy::default(),
            refresh_every: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            on_rotation: None,
            on_trust: None,
            backoff: (Duration::from_secs(1), Duration::from_secs(300)),
            state_dir: None,
        }
    }
}
/// A node's identity from the CA: renews itself through `/v1/renew` and keeps its trust
/// (bundle + CRL) fresh. Dropping it stops both background tasks.
pub struct EnrolledIdentity {
    id: SpiffeId,
    identity: IdentityHandle,
    trust: TrustHandle,
    client: CaClient,
    refresher: Arc<TrustRefresh>,
    dns_names: Vec<String>,
    key_algorithm: KeyAlgorithm,
    state_dir: Option<PathBuf>,
    _rotation: RotationTask,
    refresh: JoinHandle<()>,
    closed: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for EnrolledIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrolledIdentity")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Drop for EnrolledIdentity {
    fn drop(&mut self) {
        self.refresh.abort();
    }
}

impl EnrolledIdentity {
    /// Stops renewing and refreshing the trust now (dropping does it too): the identity and
    /// trust keep their last generation, and connections made with them stay open. For
    /// bindings whose objects outlive their use (Python `close()`, `async with`).
    pub fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self._rotation.abort();
        self.refresh.abort();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The SPIFFE ID.
    pub fn id(&self) -> &SpiffeId {
        &self.id
    }

    /// The certificate and key, swapped on each renewal: give it to `MtlsServer`/`MtlsClient`.
    pub fn identity(&self) -> IdentityHandle {
        self.identity.clone()
    }

    /// The CA bundle and CRL with the peer policy, refreshed in the background.
    pub fn trust(&self) -> TrustHandle {
        self.trust.clone()
    }

    /// Another peer trust on the same bundle and CRL, with its own `policy`: for a listener
    /// (or a client) that admits other peers than [`trust`](Self::trust) does. It follows
    /// every refresh as long as it is held.
    pub fn trust_for(&self, policy: Policy) -> TrustHandle {
        self.refresher.follow(policy)
    }

    /// The client of the CA service this identity came from.
    pub fn ca(&self) -> &CaClient {
        &self.client
    }

    /// JWT-SVIDs for `audience` from the CA service, for this identity's SPIFFE ID, kept
    /// fresh ([`JwtSource::token`]); `ttl` defaults to the service's (5 minutes); `bind` binds
    /// them to the current certificate (a new token follows each renewal).
    pub fn jwt_source(
        &self,
        audience: Vec<String>,
        ttl: Option<Duration>,
        bind: bool,
    ) -> JwtSource {
        JwtSource::new(
            self.client.clone(),
            self.identity.clone(),
            audience,
            ttl,
            bind,
        )
    }

    /// Renew now (the rotation driver does this on schedule): a new key, a new certificate.
    pub async fn renew_now(&self) -> Result<(), EnrollError> {
        let next = renew_once(
            &self.client,
            &self.identity,
            &self.id,
            &self.dns_names,
            self.key_algorithm,
            self.state_dir.as_deref(),
        )
        .await?;
        self.identity.replace(next);
        Ok(())
    }

    /// Fetch the bundle and CRL now (also done on schedule); what did not change since the
    /// last fetch is answered `304` and kept, and the trust handles change only if one did.
    ///
    /// A CRL that steps back from the one held (a lower CRL number, or the same number with
    /// other content) is refused: the held CRL stays, the refusal is logged (the `log`
    /// facade, warning) and counted in [`stale_crl_refusals`](Self::stale_crl_refusals), and
    /// this fails with the core's `stale_crl`.
    pub async fn refresh_trust(&self) -> Result<(), EnrollError> {
        self.refresher.run().await
    }

    /// How many CRLs fetched from the service (on schedule or by
    /// [`refresh_trust`](Self::refresh_trust)) were refused for stepping back.
    pub fn stale_crl_refusals(&self) -> u64 {
        self.refresher.stale_refusals()
    }
}

async fn renew_once(
    client: &CaClient,
    identity: &IdentityHandle,
    id: &SpiffeId,
    dns: &[String],
    alg: KeyAlgorithm,
    state_dir: Option<&Path>,
) -> Result<Identity, EnrollError> {
    let csr = create_csr(id, dns, alg)?;
    let issued = client.renew_csr(identity, &csr.csr_pem).await?;
    let next = Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes())?;
    if let Some(dir) = state_dir {
        save_state(dir, &issued.chain_pem, &csr.key_pem)?;
    }
    Ok(next)
}
/// What one enrollment or renewal returned.
#[derive(Debug)]
pub struct Issued {
    /// The new certificate chain and the key made here for it.
    pub identity: Identity,
    /// The CA certificates the service says to trust (PEM), received over the verified
    /// connection.
    pub bundle_pem: String,
    /// The service's answer (serial, validity, chain).
    pub response: api::IssuedResponse,
}

/// The service identity to expect: `options.service_id` or `spiffe://<td of id>/meshtls/ca`.
fn service_of(id: &SpiffeId, options: &EnrollOptions) -> SpiffeId {
    match options.service_id.clone() {
        Some(s) => s,
        None => SpiffeId::ca_service(id.trust_domain()),
    }
}

/// One enrollment and nothing running afterwards (for a command that writes files and
/// exits): make a key here, send the CSR with the join `token`, check the answer, return it.
/// [`enroll`] is this followed by the background renewal and refresh.
pub async fn enroll_once(
    url: &str,
    token: &str,
    id: &SpiffeId,
    options: &EnrollOptions,
) -> Result<Issued, EnrollError> {
    options.check()?;
    let bundle = TrustBundle::from_pem(options.trust_bundle_pem.as_bytes())?;
    let client = CaClient::new(url, bundle, service_of(id, options), options.timeout)?;
    enroll_with(&client, token, id, options).await
}

async fn enroll_with(
    client: &CaClient,
    token: &str,
    id: &SpiffeId,
    options: &EnrollOptions,
) -> Result<Issued, EnrollError> {
    let csr = create_csr(id, &options.dns_names, options.key_algorithm)?;
    let response = client.enroll_csr(token, &csr.csr_pem).await?;
    let identity = Identity::from_pem(response.chain_pem.as_bytes(), csr.key_pem.as_bytes())?;
    if let Some(dir) = &options.state_dir {
        save_state(dir, &response.chain_pem, &csr.key_pem)?;
    }
    Ok(Issued {
        identity,
        bundle_pem: response.bundle_pem.clone(),
        response,
    })
}

/// One renewal of `current` through `/v1/renew` (over mTLS, presenting `current`), with a
/// new key made here for the same SPIFFE ID and DNS names (and key algorithm); the service is verified against
/// `options.trust_bundle_pem`. The new chain is checked by the core against the bundle the
/// service returned, for our own ID, before it is returned.
pub async fn renew_via(
    url: &str,
    current: Identity,
    options: &EnrollOptions,
) -> Result<Issued, EnrollError> {
    options.check()?;
    let leaf = current.leaf()?;
    let id = leaf.spiffe_id.clone().ok_or_else(|| {
        EnrollError::Core(CoreError::new(
            ErrorCode::Malformed,
            "the certificate names no SPIFFE ID",
        ))
    })?;
    let bundle = TrustBundle::from_pem(options.trust_bundle_pem.as_bytes())?;
    let client = CaClient::new(url, bundle, service_of(&id, options), options.timeout)?;
    let alg = leaf.key_kind().unwrap_or(options.key_algorithm);
    let csr = create_csr(&id, &leaf.dns_names, alg)?;
    let handle = IdentityHandle::new(current);
    let response = client.renew_csr(&handle, &csr.csr_pem).await?;
    let identity = Identity::from_pem(response.chain_pem.as_bytes(), csr.key_pem.as_bytes())?;
    let issued_bundle = TrustBundle::from_pem(response.bundle_pem.as_bytes())?;
    let chain: Vec<&[u8]> = identity.chain().iter().map(|c| c.as_ref()).collect();
    Verifier::new(issued_bundle, Policy::builder().allow_id(id).build()?).verify(
        &chain,
        meshtls_core::PeerUsage::Client,
        crate::config::now(),
    )?;
    if let Some(dir) = &options.state_dir {
        save_state(dir, &response.chain_pem, &csr.key_pem)?;
    }
    Ok(Issued {
        identity,
        bundle_pem: response.bundle_pem.clone(),
        response,
    })
}

/// Enroll `id` at the CA service `url` with a join `token`: make a key here, send only the
/// CSR, and return an identity that renews itself (at the rotation policy's time, through
/// `/v1/renew` over mTLS) with a trust bundle and CRL refreshed every
/// `options.refresh_every`. Must be called within a tokio runtime.
pub async fn enroll(
    url: &str,
    token: &str,
    id: &SpiffeId,
    options: EnrollOptions,
) -> Result<EnrolledIdentity, EnrollError> {
    options.check()?;
    let bundle = TrustBundle::from_pem(options.trust_bundle_pem.as_bytes())?;
    let client = CaClient::new(url, bundle, service_of(id, &options), options.timeout)?;
    let issued = enroll_with(&client, token, id, &options).await?;
    let identity = IdentityHandle::new(issued.identity);
    let issued_bundle = TrustBundle::from_pem(issued.bundle_pem.as_bytes())?;
    start(client, identity, id, issued_bundle, options).await
}

/// Pick up an identity a previous [`enroll`] kept in `options.state_dir` (after a restart):
/// no token needed while its certificate is valid; it renews and refreshes as after `enroll`.
pub async fn resume(url: &str, options: EnrollOptions) -> Result<EnrolledIdentity, EnrollError> {
    options.check()?;
    let dir = options
        .state_dir
        .clone()
        .ok_or_else(|| EnrollError::Invalid("resume needs options.state_dir".to_owned()))?;
    let identity = load_state(&dir)?;
    let id = identity.leaf()?.spiffe_id.ok_or_else(|| {
        EnrollError::Core(CoreError::new(
            ErrorCode::Malformed,
            "the stored certificate names no SPIFFE ID",
        ))
    })?;
    let bundle = TrustBundle::from_pem(options.trust_bundle_pem.as_bytes())?;
    let service = match options.service_id.clone() {
        Some(s) => s,
        None => SpiffeId::ca_service(id.trust_domain()),
    };
    let client = CaClient::new(url, bundle.clone(), service, options.timeout)?;
    start(client, IdentityHandle::new(identity), &id, bundle, options).await
}

/// The background half shared by [`enroll`] and [`resume`].
async fn start(
    client: CaClient,
    identity: IdentityHandle,
    id: &SpiffeId,
    issued_bundle: TrustBundle,
    options: EnrollOptions,
) -> Result<EnrolledIdentity, EnrollError> {
    let peer_policy = match options.peer_policy.clone() {
        Some(p) => p,
        None => Policy::builder()
            .allow_trust_domain(id.trust_domain().clone())
            .build()?,
    };
    client.set_bundle(issued_bundle.clone());
    // A restarted node starts from the CRL it held (kept in its state directory), so the
    // first refresh cannot step back either; a damaged file is ignored (the refresh fetches
    // a CRL anyway).
    let mut held = issued_bundle;
    if let Some(pem) = options.state_dir.as_deref().and_then(load_crl) {
        let mut with_crl = held.clone();
        if with_crl.add_crl(&pem).is_ok() {
            held = with_crl;
        }
    }
    let trust = TrustHandle::new(Verifier::new(held.clone(), peer_policy));
    let own_policy = Policy::builder().allow_id(id.clone()).build()?;
    let verify_own = TrustHandle::new(Verifier::new(held, own_policy));
    let refresher = Arc::new(TrustRefresh {
        client: client.clone(),
        trust: trust.clone(),
        own: verify_own.clone(),
        followers: Default::default(),
        applied: Default::default(),
        stale_refusals: Default::default(),
        state_dir: options.state_dir.clone(),
        on_trust: options.on_trust.clone(),
    });
    // Best effort now (the CRL); the schedule retries.
    let _ = refresher.run().await;
    let rotation = {
        let client = client.clone();
        let handle = identity.clone();
        let id = id.clone();
        let dns = options.dns_names.clone();
        let alg = options.key_algorithm;
        let state_dir = options.state_dir.clone();
        let driver = RotationDriver::new(identity.clone(), verify_own.clone(), move || {
            let client = client.clone();
            let handle = handle.clone();
            let id = id.clone();
            let dns = dns.clone();
            let state_dir = state_dir.clone();
            async move {
                renew_once(&client, &handle, &id, &dns, alg, state_dir.as_deref())
                    .await
                    .map_err(|e| Box::new(e) as crate::RenewError)
            }
        })
        .policy(options.rotation)
        .backoff(options.backoff.0, options.backoff.1);
        match options.on_rotation.clone() {
            Some(cb) => driver.on_event(move |e| cb(e)).spawn(),
            None => driver.spawn(),
        }
    };
    let refresh_task = {
        let refresher = refresher.clone();
        let every = options.refresh_every.max(MIN_REFRESH_EVERY);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = refresher.run().await;
            }
        })
    };
    Ok(EnrolledIdentity {
        id: id.clone(),
        identity,
        trust,
        client,
        refresher,
        dns_names: options.dns_names,
        key_algorithm: options.key_algorithm,
        state_dir: options.state_dir,
        _rotation: rotation,
        refresh: refresh_task,
        closed: std::sync::atomic::AtomicBool::new(false),
    })
}
