//! The CA service: HTTP/1.1 over meshtls-net TLS, client certificate optional but verified by
//! the core when presented.
//!
//! Certificate rules stay in `meshtls-core` (issuance from the CSR, identity matching with
//! [`IdPattern`], CRL building); this module decides tokens, the ledger and HTTP only. A reader
//! finds the HTTP plumbing (routing, errors, JSON bodies, limits) in `http`, join tokens in
//! `tokens`, enrollment and renewal in `issuance`, revocation in `revocation`, and the
//! documents it hands out (bundle, CRL, health, metrics) in `documents`.

mod audit;
mod documents;
mod http;
mod issuance;
mod jwt;
mod limits;
mod revocation;
mod tokens;

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshtls_core::{
    check_lifetime, Authority, Error as CoreError, IdPattern, IssueRequest, Policy, Reserved,
    RevocationList, SpiffeId, Timestamp, TrustBundle, Usage, Verifier,
};
use meshtls_net::{
    Identity, IdentityHandle, MtlsServer, RotationDriver, RotationTask, TrustHandle,
};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;

use self::audit::AuditLog;
pub use self::documents::revocation_list;
use self::documents::{CachedCrl, Document, ExtraCrl};
use self::http::accept_loop;
use self::issuance::record_of;
use self::jwt::JwtState;
pub use self::jwt::{
    JwtConfig, DEFAULT_MAX_TTL as DEFAULT_JWT_MAX_TTL, DEFAULT_MINTS_PER_MINUTE,
    DEFAULT_ROTATE_EVERY as DEFAULT_JWT_ROTATE_EVERY, PREPUBLISH as JWT_PREPUBLISH,
};
use self::limits::{ConnectionLimit, FailureLimit};
use crate::metrics::Metrics;
use crate::store::{IssueKind, Store, StoreError};

/// Default largest request body (64 KiB: a CSR is about 1 KiB).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Default join-token lifetime.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest join-token lifetime an admin may ask for.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default limit of open connections per client address.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Default number of failed join-token attempts per client address and window.
pub const DEFAULT_TOKEN_FAILURES: u32 = 10;
/// Default window of the failed join-token attempts.
pub const DEFAULT_TOKEN_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Default grace period in which a renewed certificate may renew again.
pub const DEFAULT_RENEW_GRACE: Duration = Duration::from_secs(5 * 60);
/// Default leaf lifetime of enrolled and renewed certificates.
pub const DEFAULT_LEAF_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Lifetime of the service's own TLS certificate (renewed by a rotation driver).
const SERVICE_CERT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// A cached CRL is rebuilt at the latest after this long, so it never nears its nextUpdate.
const CRL_REFRESH: Duration = Duration::from_secs(24 * 3600);
/// How long a request body may take to arrive (headers: 10 s).
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Most connections served at once.
const MAX_CONNECTIONS: usize = 4096;
/// Inventory page size: default and largest.
const DEFAULT_LIST_LIMIT: u32 = 1000;
const MAX_LIST_LIMIT: u32 = 100_000;

/// The path of the service's own SPIFFE ID in the CA's trust domain: `spiffe://<td>/meshtls/ca`.
/// The core builds it ([`SpiffeId::ca_service`]); no join token can obtain it.
pub fn service_id(authority: &Authority) -> Result<SpiffeId, CoreError> {
    Ok(SpiffeId::ca_service(authority.trust_domain()))
}

/// How the service runs. Build with [`ServiceConfig::new`] and the `with_` methods.
pub struct ServiceConfig {
    authority: Authority,
    extra_bundle_pem: String,
    admins: Vec<IdPattern>,
    leaf_lifetime: Duration,
    server_dns: Vec<String>,
    server_ips: Vec<IpAddr>,
    max_body: usize,
    offline_revocations: RevocationList,
    extra_crl_files: Vec<PathBuf>,
    renew_grace: Duration,
    abort_after_enroll_commit: bool,
    max_connections_per_address: usize,
    token_failures: (u32, Duration),
    audit_log: Option<Box<dyn Write + Send>>,
    jwt: Option<JwtConfig>,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("trust_domain", self.authority.trust_domain())
            .field("admins", &self.admins)
            .field("leaf_lifetime", &self.leaf_lifetime)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    /// A service issuing from `authority`, with no admin (no one may mint tokens) until
    /// [`with_admin`](Self::with_admin), leaves of 24 h, and a server certificate for
    /// `localhost` and 127.0.0.1.
    pub fn new(authority: Authority) -> Self {
        ServiceConfig {
            authority,
            extra_bundle_pem: String::new(),
            admins: Vec::new(),
            leaf_lifetime: DEFAULT_LEAF_LIFETIME,
            server_dns: vec!["localhost".to_owned()],
            server_ips: vec![IpAddr::from([127, 0, 0, 1])],
            max_body: DEFAULT_MAX_BODY,
            offline_revocations: RevocationList::new(),
            extra_crl_files: Vec::new(),
            renew_grace: DEFAULT_RENEW_GRACE,
            abort_after_enroll_commit: false,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            token_failures: (DEFAULT_TOKEN_FAILURES, DEFAULT_TOKEN_FAILURE_WINDOW),
            audit_log: None,
            jwt: None,
        }
    }

    /// Mint JWT-SVIDs (`POST /v1/jwt`) and publish their keys in `GET /v1/bundle.jwks`.
    /// Without it `/v1/jwt` answers `404 jwt_disabled` and the JWKS holds the CA
    /// certificates only.
    pub fn with_jwt(mut self, jwt: JwtConfig) -> Self {
        self.jwt = Some(jwt);
        self
    }

    /// Most connections one client address may hold open at once (default 64, at least 1);
    /// more are closed as soon as they are accepted and counted in `/metrics`.
    pub fn with_max_connections_per_address(mut self, max: usize) -> Self {
        self.max_connections_per_address = max.max(1);
        self
    }

    /// Failed join-token attempts (unknown tokens) one client address may make per `window`
    /// (default 10 per minute, at least 1); past that its enrollments get `429` with
    /// `Retry-After` until the window ends.
    pub fn with_token_failure_limit(mut self, max: u32, window: Duration) -> Self {
        self.token_failures = (max.max(1), window);
        self
    }

    /// Write one JSON line per request to `sink` (time, client address, verified peer SPIFFE
    /// ID, method, endpoint, status, error code; never a token, key or CSR).
    pub fn with_audit_log(mut self, sink: Box<dyn Write + Send>) -> Self {
        self.audit_log = Some(sink);
        self
    }

    /// How long after a renewal its predecessor may still renew (default 5 minutes): a node
    /// whose answer was lost retries with the same key and gets the same successor; another
    /// key replaces that successor (revoked as `superseded`), so a certificate never has two
    /// live successors. After the grace period the predecessor renews no more
    /// (`already_renewed`).
    pub fn with_renew_grace(mut self, grace: Duration) -> Self {
        self.renew_grace = grace;
        self
    }

    /// Test hook: abort the process right after an enrollment is committed to the ledger and
    /// before it is answered, to test that a retry gets the certificate. Never in production;
    /// `meshtls serve` sets it only when `MESHTLS_TEST_ABORT_AFTER_ENROLL_COMMIT=1`.
    #[doc(hidden)]
    pub fn with_abort_after_enroll_commit(mut self, abort: bool) -> Self {
        self.abort_after_enroll_commit = abort;
        self
    }

    /// Revocations made outside the service (`meshtls revoke`, the CA directory's
    /// revocations.txt): they go into the CRL too, and such a certificate cannot act as an
    /// admin or renew.
    pub fn with_offline_revocations(mut self, records: RevocationList) -> Self {
        self.offline_revocations = records;
        self
    }

    /// Clients whose verified SPIFFE ID matches `pattern` are admins.
    pub fn with_admin(mut self, pattern: IdPattern) -> Self {
        self.admins.push(pattern);
        self
    }

    /// More CA certificates for `/v1/bundle` (the next or previous CA during a CA rotation).
    pub fn with_extra_bundle_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_bundle_pem = pem.into();
        self
    }

    /// A CRL file of another CA of the bundle (the previous or next CA during a CA rotation,
    /// signed by that CA): served with this CA's CRL at `/v1/crl`, so nodes, which require a
    /// CRL for every CA (fail closed), keep accepting that CA's unrevoked certificates. The
    /// file is read again when it changes (a re-signed CRL); it must parse at startup, and a
    /// later unreadable version leaves the last good one served.
    pub fn with_extra_crl_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra_crl_files.push(path.into());
        self
    }

    /// Lifetime of issued leaves.
    pub fn with_leaf_lifetime(mut self, lifetime: Duration) -> Self {
        self.leaf_lifetime = lifetime;
        self
    }

    /// DNS names and IPs of the service's own certificate.
    pub fn with_server_names(mut self, dns: Vec<String>, ips: Vec<IpAddr>) -> Self {
        self.server_dns = dns;
        self.server_ips = ips;
        self
    }

    /// Largest request body accepted (larger: 413).
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

/// What went wrong starting the service.
#[derive(Debug)]
pub enum ServiceError {
    /// The core refused (e.g. the CA cannot sign any more).
    Core(CoreError),
    /// The ledger failed.
    Store(StoreError),
    /// TLS or socket setup.
    Io(io::Error),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Core(e) => write!(f, "{e}"),
            ServiceError::Store(e) => write!(f, "{e}"),
            ServiceError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<CoreError> for ServiceError {
    fn from(e: CoreError) -> Self {
        ServiceError::Core(e)
    }
}
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e)
    }
}
impl From<io::Error> for ServiceError {
    fn from(e: io::Error) -> Self {
        ServiceError::Io(e)
    }
}

struct State {
    authority: Arc<Authority>,
    store: Arc<dyn Store>,
    bundle: Document,
    admins: Vec<IdPattern>,
    leaf_lifetime: Duration,
    max_body: usize,
    offline_revocations: RevocationList,
    metrics: Metrics,
    crl: Mutex<Option<CachedCrl>>,
    extra_crls: Vec<ExtraCrl>,
    renew_grace: Duration,
    abort_after_enroll_commit: bool,
    /// The identities no join token or renewal obtains: this service's and the admins'.
    reserved: Reserved,
    connections: Arc<ConnectionLimit>,
    token_failures: FailureLimit,
    audit: Option<AuditLog>,
    jwt: Option<JwtState>,
}

/// The wall clock, read at this edge only.
pub(crate) fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// The enrollment CA service. [`spawn`](Self::spawn) it on a bound TCP listener.
pub struct CaService {
    state: Arc<State>,
    server: MtlsServer,
    identity: IdentityHandle,
    trust: TrustHandle,
}

impl std::fmt::Debug for CaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaService").finish_non_exhaustive()
    }
}

impl CaService {
    /// Prepare the service: issue (and record in the ledger) its own TLS certificate. Calls
    /// the store, so it blocks: from async code call it inside `spawn_blocking`.
    pub fn new(config: ServiceConfig, store: Arc<dyn Store>) -> Result<Self, ServiceError> {
        // A lifetime no leaf may have would refuse every enrollment: refuse to start instead.
        check_lifetime(config.leaf_lifetime)?;
        let authority = Arc::new(config.authority);
        let reserved = config
            .admins
            .iter()
            .fold(Reserved::new(authority.trust_domain()), |r, admin| {
                r.with_admin(admin.clone())
            });
        let mut bundle_pem = authority.root_pem();
        if !config.extra_bundle_pem.trim().is_empty() {
            // Parsed by the core first: a bundle with garbage in it is refused at startup.
            TrustBundle::from_pem(config.extra_bundle_pem.as_bytes())?;
            bundle_pem.push_str(&config.extra_bundle_pem);
        }
        let bundle = TrustBundle::from_pem(bundle_pem.as_bytes())?;
        let server_identity = issue_service_cert(
            &authority,
            store.as_ref(),
            &config.server_dns,
            &config.server_ips,
        )?;
        let identity = IdentityHandle::new(server_identity);
        let policy = Policy::builder()
            .allow_trust_domain(authority.trust_domain().clone())
            .build()?;
        let trust = TrustHandle::new(Verifier::new(bundle, policy));
        // `POST /v1/enroll` comes from nodes with no certificate yet; a certificate that is
        // presented is verified by the core in the handshake like on any mTLS server.
        let server = MtlsServer::builder(identity.clone(), trust.clone())
            .alpn(vec![b"http/1.1".to_vec()])
            .client_cert_optional(true)
            .build()?;
        let extra_crls = config
            .extra_crl_files
            .into_iter()
            .map(ExtraCrl::open)
            .collect::<Result<Vec<_>, _>>()?;
        let state = Arc::new(State {
            authority,
            store,
            bundle: Document::new(bundle_pem),
            admins: config.admins,
            leaf_lifetime: config.leaf_lifetime,
            max_body: config.max_body,
            offline_revocations: config.offline_revocations,
            metrics: Metrics::default(),
            crl: Mutex::new(None),
            extra_crls,
            renew_grace: config.renew_grace,
            abort_after_enroll_commit: config.abort_after_enroll_commit,
            reserved,
            connections: ConnectionLimit::new(config.max_connections_per_address),
            token_failures: FailureLimit::new(config.token_failures.0, config.token_failures.1),
            audit: config.audit_log.map(AuditLog::new),
            jwt: config.jwt.map(JwtState::new).transpose()?,
        });
        Ok(CaService {
            state,
            server,
            identity,
            trust,
        })
    }

    /// The trust bundle clients need to verify this service (PEM).
    pub fn bundle_pem(&self) -> &str {
        &self.state.bundle.pem
    }

    /// Bind `addr` and serve in the background.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<RunningService> {
        let tcp = TcpListener::bind(addr).await?;
        self.spawn(tcp)
    }

    /// Serve on `tcp` in the background (within a tokio runtime). Also starts the rotation
    /// driver of the service's own certificate.
    pub fn spawn(self, tcp: TcpListener) -> io::Result<RunningService> {
        let local_addr = tcp.local_addr()?;
        let rotation = self.rotation_driver()?.spawn();
        let task = tokio::spawn(accept_loop(tcp, self.server, self.state));
        Ok(RunningService {
            local_addr,
            task,
            _rotation: rotation,
        })
    }

    fn rotation_driver(&self) -> io::Result<RotationDriver> {
        let state = self.state.clone();
        let id = service_id(&state.authority).map_err(io::Error::other)?;
        let policy = Policy::builder()
            .allow_id(id)
            .build()
            .map_err(io::Error::other)?;
        let verify_with =
            TrustHandle::new(Verifier::new(self.trust.current().bundle().clone(), policy));
        let current = self.identity.current();
        let leaf = current.leaf().map_err(io::Error::other)?;
        let dns = leaf.dns_names.clone();
        let ips = leaf.ip_addresses.clone();
        Ok(RotationDriver::new(
            self.identity.clone(),
            verify_with,
            move || {
                let state = state.clone();
                let dns = dns.clone();
                let ips = ips.clone();
                async move {
                    let identity = tokio::task::spawn_blocking(move || {
                        issue_service_cert(&state.authority, state.store.as_ref(), &dns, &ips)
                    })
                    .await??;
                    Ok(identity)
                }
            },
        ))
    }
}

fn issue_service_cert(
    authority: &Authority,
    store: &dyn Store,
    dns: &[String],
    ips: &[IpAddr],
) -> Result<Identity, ServiceError> {
    let at = now();
    let id = service_id(authority)?;
    let issued = authority.issue(
        &IssueRequest::new(id.clone())
            .with_dns(dns.iter().cloned())
            .with_ips(ips.iter().copied())
            .with_usage(Usage::Server)
            .with_lifetime(SERVICE_CERT_LIFETIME),
        at,
    )?;
    store.record_cert(&record_of(&issued, &id, IssueKind::Service, at)?)?;
    Ok(Identity::from_issued(&issued)?)
}

/// A service serving in the background; dropping it stops accepting.
#[derive(Debug)]
pub struct RunningService {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
    _rotation: RotationTask,
}

impl RunningService {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serve until the listener fails (forever, normally).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.task.abort();
    }
}
