//! The CA service: HTTP/1.1 over meshtls-net TLS, client certificate optional but verified by
//! the core when presented.
//!
//! Certificate rules stay in `meshtls-core` (issuance from the CSR, identity matching with
//! [`IdPattern`], CRL building); this module decides tokens, the ledger and HTTP only.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use meshtls_core::CrlParams;
use meshtls_core::{
    Authority, Error as CoreError, IdPattern, IssueRequest, Issued, PeerIdentity, Policy,
    RevocationList, RevocationReason, Serial, SpiffeId, Timestamp, TrustBundle, Usage, Verifier,
};
use meshtls_net::{
    Identity, IdentityHandle, MtlsServer, RotationDriver, RotationTask, TrustHandle,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::api::{
    CertInfo, CertList, EnrollRequest, ErrorBody, ErrorDetail, IssuedResponse, RenewRequest,
    RevokeRequest, RevokeResponse, TokenInfo, TokenList, TokenRequest, TokenResponse,
    TokenRevokeRequest, TokenRevokeResponse,
};
use crate::metrics::Metrics;
use crate::store::{
    CertFilter, CertRecord, IssueKind, RevokeOutcome, Store, StoreError, TokenRecord,
    TokenRevokeOutcome,
};
use crate::token;
use sha2::{Digest, Sha256};

/// Default largest request body (64 KiB: a CSR is about 1 KiB).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Default join-token lifetime.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest join-token lifetime an admin may ask for.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
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
pub fn service_id(authority: &Authority) -> Result<SpiffeId, CoreError> {
    SpiffeId::from_segments(authority.trust_domain(), &["meshtls", "ca"])
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
        }
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

struct CachedCrl {
    revocations: u64,
    built_at: Timestamp,
    crl: Document,
}

/// A PEM document the service hands out, with its entity tag: clients that send it back in
/// `If-None-Match` get `304 Not Modified` instead of the body (a CRL can be megabytes).
#[derive(Clone)]
struct Document {
    pem: Arc<str>,
    etag: String,
}

impl Document {
    fn new(pem: impl Into<Arc<str>>) -> Self {
        let pem = pem.into();
        let etag = etag_of(&[pem.as_bytes()]);
        Document { pem, etag }
    }
}

/// A strong entity tag: the first 128 bits of SHA-256 over `parts`, quoted.
fn etag_of(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    format!("\"{}\"", hex::encode(&h.finalize()[..16]))
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
}

/// When a file was last seen changed: modification time and length.
type FileStamp = (Option<SystemTime>, u64);

/// Another CA's CRL file, served with ours; re-read when it changes.
struct ExtraCrl {
    path: PathBuf,
    cached: Mutex<(FileStamp, Document)>,
}

impl ExtraCrl {
    fn open(path: PathBuf) -> Result<Self, CoreError> {
        let (stamp, pem) = Self::read(&path)?;
        Ok(ExtraCrl {
            path,
            cached: Mutex::new((stamp, pem)),
        })
    }

    /// The file's CRLs, checked by the core and written out again as PEM.
    fn read(path: &Path) -> Result<(FileStamp, Document), CoreError> {
        let io = |e: io::Error| {
            CoreError::new(
                meshtls_core::ErrorCode::Io,
                format!("{}: {e}", path.display()),
            )
        };
        let stamp = stamp(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let mut pem = String::new();
        for der in meshtls_core::encoding::parse_crls(&bytes)? {
            let crl = meshtls_core::Crl::from_pem_or_der(&der)?;
            pem.push_str(&crl.to_pem());
        }
        Ok((stamp, Document::new(pem)))
    }

    /// The current PEM: the file again if it changed and still parses, else the last good one.
    fn current(&self) -> Document {
        let mut cached = match self.cached.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        if stamp(&self.path).ok() != Some(cached.0) {
            if let Ok(fresh) = Self::read(&self.path) {
                *cached = fresh;
            }
        }
        cached.1.clone()
    }
}

fn stamp(path: &Path) -> io::Result<FileStamp> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.modified().ok(), meta.len()))
}

/// The wall clock, read at this edge only.
pub(crate) fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn record_of(issued: &Issued, id: &SpiffeId, kind: IssueKind, at: Timestamp) -> CertRecord {
    CertRecord {
        serial: issued.serial.to_hex(),
        identity: id.to_string(),
        not_before: issued.not_before.unix(),
        not_after: issued.not_after.unix(),
        fingerprint: issued.fingerprint.to_hex(),
        kind,
        issued_at: at.unix(),
        previous_serial: None,
        cert_pem: issued.cert_pem.clone(),
        revoked_at: None,
        revocation_reason: None,
    }
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
        let authority = Arc::new(config.authority);
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
    store.record_cert(&record_of(&issued, &id, IssueKind::Service, at))?;
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

async fn accept_loop(tcp: TcpListener, server: MtlsServer, state: Arc<State>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let socket = match tcp.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // Out of descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let server = server.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(stream) = server.accept(socket).await else {
                return;
            };
            let peer = stream.peer_identity().cloned();
            let service = service_fn(move |req| {
                let state = state.clone();
                let peer = peer.clone();
                async move { Ok::<_, Infallible>(handle(&state, peer.as_ref(), req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// An error answer: HTTP status, stable code, message.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, e.code().as_str(), e.message())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TokenUnknown => {
                ApiError::new(StatusCode::UNAUTHORIZED, "token_invalid", e.to_string())
            }
            StoreError::TokenUsed => {
                ApiError::new(StatusCode::FORBIDDEN, "token_used", e.to_string())
            }
            StoreError::TokenExpired => {
                ApiError::new(StatusCode::FORBIDDEN, "token_expired", e.to_string())
            }
            StoreError::TokenRevoked => {
                ApiError::new(StatusCode::FORBIDDEN, "token_revoked", e.to_string())
            }
            StoreError::DuplicateSerial | StoreError::Backend(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
        }
    }
}

type HttpResponse = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, "application/json", body),
        Err(e) => error_response(&ApiError::internal(e.to_string())),
    }
}

fn error_response(e: &ApiError) -> HttpResponse {
    json(
        e.status,
        &ErrorBody {
            error: ErrorDetail {
                code: e.code.to_owned(),
                message: e.message.clone(),
            },
        },
    )
}

/// Run blocking ledger work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))?
}

async fn handle(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> HttpResponse {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let result = match (method, path.as_str()) {
        (Method::GET, "/healthz") => healthz(state).await,
        (Method::GET, "/metrics") => metrics(state).await,
        (Method::GET, "/v1/bundle") => Ok(document(&req, &state.bundle)),
        (Method::GET, "/v1/crl") => crl(state, &req).await,
        (Method::GET, "/v1/certs") => list_certs(state, peer, req.uri().query()).await,
        (Method::POST, "/v1/tokens") => mint_token(state, peer, req).await,
        (Method::GET, "/v1/tokens") => list_tokens(state, peer, req.uri().query()).await,
        (Method::POST, "/v1/tokens/revoke") => revoke_token(state, peer, req).await,
        (Method::POST, "/v1/enroll") => enroll(state, req).await,
        (Method::POST, "/v1/renew") => renew(state, peer, req).await,
        (Method::POST, "/v1/revoke") => revoke(state, peer, req).await,
        (
            _,
            "/healthz" | "/metrics" | "/v1/bundle" | "/v1/crl" | "/v1/certs" | "/v1/tokens"
            | "/v1/tokens/revoke" | "/v1/enroll" | "/v1/renew" | "/v1/revoke",
        ) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this path",
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such path",
        )),
    };
    result.unwrap_or_else(|e| error_response(&e))
}

/// Read a JSON body of at most `max` bytes.
async fn read_json<T: DeserializeOwned>(req: Request<Incoming>, max: usize) -> Result<T, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body exceeds {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let collect = Limited::new(req.into_body(), max).collect();
    let body = tokio::time::timeout(BODY_TIMEOUT, collect)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the body did not arrive in time",
            )
        })?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("body: {e}"))
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("the body is not the expected JSON: {e}"),
        )
    })
}

/// The verified admin, or 401/403.
async fn require_admin(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
) -> Result<String, ApiError> {
    let peer = peer.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "client_certificate_required",
            "this endpoint needs an admin client certificate",
        )
    })?;
    let Some(id) = peer
        .spiffe_id
        .as_ref()
        .filter(|id| state.admins.iter().any(|p| p.matches(id)))
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_admin",
            "the client certificate is not an admin identity",
        ));
    };
    check_not_revoked(state, &peer.serial).await?;
    Ok(id.to_string())
}

/// Refuse a client certificate the ledger says is revoked.
async fn check_not_revoked(
    state: &Arc<State>,
    serial: &Serial,
) -> Result<Option<CertRecord>, ApiError> {
    if state.offline_revocations.get(serial).is_some() {
        return Err(revoked_error());
    }
    let store = state.store.clone();
    let serial = serial.to_hex();
    let record = blocking(move || Ok(store.cert(&serial)?)).await?;
    if record.as_ref().is_some_and(|r| r.revoked_at.is_some()) {
        return Err(revoked_error());
    }
    Ok(record)
}

fn revoked_error() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "revoked",
        "the client certificate is revoked",
    )
}

async fn healthz(state: &Arc<State>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    blocking(move || Ok(store.ping()?)).await?;
    Ok(respond(
        StatusCode::OK,
        "application/json",
        r#"{"status":"ok"}"#,
    ))
}

async fn metrics(state: &Arc<State>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let earliest = blocking(move || Ok(store.earliest_expiry(now().unix())?)).await?;
    Ok(respond(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.metrics.render(earliest),
    ))
}

async fn mint_token(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let admin = require_admin(state, peer).await?;
    let body: TokenRequest = read_json(req, state.max_body).await?;
    let pattern = IdPattern::parse(body.identity.trim())?;
    if pattern.trust_domain() != state.authority.trust_domain() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "{} is outside this CA's trust domain {}",
                body.identity,
                state.authority.trust_domain()
            ),
        ));
    }
    let ttl = body
        .ttl_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TOKEN_TTL);
    if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("ttl_seconds must be 1 to {}", MAX_TOKEN_TTL.as_secs()),
        ));
    }
    let secret = token::mint().map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    let at = now();
    let record = TokenRecord {
        hash: token::hash(&secret),
        pattern: body.identity.trim().to_owned(),
        created_at: at.unix(),
        expires_at: at.add(ttl).unix(),
        created_by: admin,
        dns_names: body
            .dns_names
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        used_at: None,
        used_serial: None,
    };
    let expires_at = record.expires_at;
    let id = record.hash.clone();
    let store = state.store.clone();
    blocking(move || Ok(store.add_token(&record)?)).await?;
    state.metrics.token_minted();
    Ok(json(
        StatusCode::CREATED,
        &TokenResponse {
            token: secret,
            id,
            identity: body.identity.trim().to_owned(),
            expires_at,
        },
    ))
}

/// `GET /v1/tokens?limit=N` (admin): the newest tokens with their state, never the secrets.
async fn list_tokens(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let limit = parse_filter(query)?;
    if limit.identity.is_some() || limit.expiring_before.is_some() || limit.revoked.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "GET /v1/tokens takes only limit",
        ));
    }
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.tokens(limit.limit)?)).await?;
    let at = now().unix();
    let tokens = rows
        .into_iter()
        .map(|t| TokenInfo {
            state: t.state(at).to_owned(),
            id: t.hash,
            identity: t.pattern,
            dns_names: t.dns_names,
            created_at: t.created_at,
            expires_at: t.expires_at,
            created_by: t.created_by,
            used_at: t.used_at,
            used_serial: t.used_serial,
        })
        .collect();
    Ok(json(StatusCode::OK, &TokenList { tokens }))
}

/// `POST /v1/tokens/revoke` (admin): an unused token can no longer enroll anything.
async fn revoke_token(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let body: TokenRevokeRequest = read_json(req, state.max_body).await?;
    let id = body.id.trim().to_ascii_lowercase();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "a token id is 64 hex characters (the SHA-256 of the token)",
        ));
    }
    let store = state.store.clone();
    let key = id.clone();
    let outcome = blocking(move || Ok(store.revoke_token(&key, now().unix())?)).await?;
    let newly_revoked = match outcome {
        TokenRevokeOutcome::Revoked => true,
        TokenRevokeOutcome::AlreadyRevoked => false,
        TokenRevokeOutcome::AlreadyUsed => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "token_used",
                "the token enrolled a certificate already: revoke the certificate",
            ))
        }
        TokenRevokeOutcome::NotFound => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "token_invalid",
                format!("no token {id} in the ledger"),
            ))
        }
    };
    Ok(json(
        StatusCode::OK,
        &TokenRevokeResponse { id, newly_revoked },
    ))
}

/// Reason label of a failed enrollment or renewal for the metrics.
fn failure_reason(e: &ApiError) -> &'static str {
    e.code
}

async fn enroll(state: &Arc<State>, req: Request<Incoming>) -> Result<HttpResponse, ApiError> {
    let result = enroll_inner(state, req).await;
    match &result {
        Ok(_) => state.metrics.issued(),
        Err(e) => state.metrics.enroll_failed(failure_reason(e)),
    }
    result
}

fn identity_mismatch(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "identity_mismatch", message)
}

fn check_dns(requested: &[String], allowed: &[String]) -> Result<(), ApiError> {
    for name in requested {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            return Err(identity_mismatch(format!(
                "the CSR asks for DNS name {name}, which is not granted"
            )));
        }
    }
    Ok(())
}

async fn enroll_inner(
    state: &Arc<State>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let body: EnrollRequest = read_json(req, state.max_body).await?;
    let state = state.clone();
    let response = blocking(move || {
        let request = IssueRequest::from_csr(body.csr.as_bytes())?;
        let hash = token::hash(body.token.trim());
        let at = now();
        let token = state.store.token(&hash)?.ok_or(StoreError::TokenUnknown)?;
        token.check_usable(at.unix())?;
        if service_id(&state.authority)? == request.id {
            // Whoever held it could impersonate this service to every client.
            return Err(identity_mismatch(format!(
                "{} is reserved for the CA service",
                request.id
            )));
        }
        let pattern = IdPattern::parse(&token.pattern)?;
        if !pattern.matches(&request.id) {
            return Err(identity_mismatch(format!(
                "the CSR names {}, the token is for {}",
                request.id, token.pattern
            )));
        }
        check_dns(&request.dns_names, &token.dns_names)?;
        let request = request
            .with_usage(Usage::Both)
            .with_lifetime(state.leaf_lifetime);
        // A serial collision (2^-128) would be refused by the ledger's key: issue again.
        for _ in 0..3 {
            let issued = state.authority.issue(&request, at)?;
            let record = record_of(&issued, &request.id, IssueKind::Enroll, at);
            match state.store.enroll(&hash, at.unix(), &record) {
                Ok(()) => return Ok(issued_response(&state, &issued, &request.id)),
                Err(StoreError::DuplicateSerial) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not allocate a unique serial"))
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

fn issued_response(state: &State, issued: &Issued, id: &SpiffeId) -> IssuedResponse {
    IssuedResponse {
        serial: issued.serial.to_hex(),
        identity: id.to_string(),
        not_before: issued.not_before.unix(),
        not_after: issued.not_after.unix(),
        chain_pem: issued.chain_pem.clone(),
        bundle_pem: state.bundle.pem.to_string(),
    }
}

async fn renew(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let result = renew_inner(state, peer, req).await;
    match &result {
        Ok(_) => state.metrics.renewed(),
        Err(e) => state.metrics.enroll_failed(failure_reason(e)),
    }
    result
}

async fn renew_inner(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let peer = peer.cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "client_certificate_required",
            "renewal needs the current certificate as the TLS client certificate",
        )
    })?;
    let body: RenewRequest = read_json(req, state.max_body).await?;
    let state = state.clone();
    let response = blocking(move || {
        let at = now();
        let current_id = peer.spiffe_id.clone().ok_or_else(|| {
            identity_mismatch("the client certificate names no SPIFFE ID".to_owned())
        })?;
        let serial = peer.serial.to_hex();
        let record = state.store.cert(&serial)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "unknown_certificate",
                "the client certificate is not in this CA's ledger",
            )
        })?;
        if record.revoked_at.is_some() || state.offline_revocations.get(&peer.serial).is_some() {
            return Err(revoked_error());
        }
        // The handshake already refused expired certificates; this holds on a clock edge too.
        if peer.not_after.unix() <= at.unix() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "expired",
                "the client certificate has expired",
            ));
        }
        if record.kind == IssueKind::Service {
            return Err(identity_mismatch(
                "the service's own certificate does not renew here".to_owned(),
            ));
        }
        let request = IssueRequest::from_csr(body.csr.as_bytes())?;
        if request.id != current_id {
            return Err(identity_mismatch(format!(
                "the CSR names {}, the client certificate {}",
                request.id, current_id
            )));
        }
        check_dns(&request.dns_names, &peer.dns_names)?;
        let request = request
            .with_usage(Usage::Both)
            .with_lifetime(state.leaf_lifetime);
        for _ in 0..3 {
            let issued = state.authority.issue(&request, at)?;
            let mut rec = record_of(&issued, &request.id, IssueKind::Renew, at);
            rec.previous_serial = Some(serial.clone());
            match state.store.record_cert(&rec) {
                Ok(()) => return Ok(issued_response(&state, &issued, &request.id)),
                Err(StoreError::DuplicateSerial) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not allocate a unique serial"))
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

fn parse_reason(name: Option<&str>) -> Result<RevocationReason, ApiError> {
    let Some(name) = name else {
        return Ok(RevocationReason::Unspecified);
    };
    RevocationReason::ALL
        .iter()
        .copied()
        .find(|r| r.as_str() == name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("unknown revocation reason {name:?}"),
            )
        })
}

async fn revoke(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let body: RevokeRequest = read_json(req, state.max_body).await?;
    let serial = Serial::from_hex(body.serial.trim())?.to_hex();
    let reason = parse_reason(body.reason.as_deref())?;
    let state = state.clone();
    let response = blocking(move || {
        let outcome = state.store.revoke(&serial, reason.as_str(), now().unix())?;
        match outcome {
            RevokeOutcome::NotFound => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_certificate",
                format!("no certificate {serial} in the ledger"),
            )),
            RevokeOutcome::AlreadyRevoked => Ok(RevokeResponse {
                serial,
                newly_revoked: false,
            }),
            RevokeOutcome::Revoked => {
                state.metrics.revoked();
                // Rebuilt now so the next GET /v1/crl is fast; a failure here only delays it.
                let _ = current_crl(&state);
                Ok(RevokeResponse {
                    serial,
                    newly_revoked: true,
                })
            }
        }
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

/// The cached CRL, rebuilt when the ledger's revocation count changed (on any replica) or
/// it is a day old.
fn current_crl(state: &State) -> Result<Document, ApiError> {
    let at = now();
    let count = state.store.revocation_count()?;
    let mut cache = match state.crl.lock() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    if let Some(c) = cache.as_ref() {
        if c.revocations == count && at.since(c.built_at) < CRL_REFRESH {
            return Ok(c.crl.clone());
        }
    }
    let revocations = state.store.revocations()?;
    let count = u64::try_from(revocations.len()).unwrap_or(u64::MAX);
    let mut list = revocation_list(&revocations)?;
    for e in state.offline_revocations.entries() {
        list.revoke(e.serial.clone(), e.reason, e.revoked_at);
    }
    let number = state.store.next_crl_number()?;
    let crl = state
        .authority
        .build_crl(&list, &CrlParams::new(number, at))?;
    let crl = Document::new(crl.to_pem());
    *cache = Some(CachedCrl {
        revocations: count,
        built_at: at,
        crl: crl.clone(),
    });
    Ok(crl)
}

/// The core's revocation list from ledger rows.
pub fn revocation_list(rows: &[crate::store::Revocation]) -> Result<RevocationList, CoreError> {
    let mut list = RevocationList::new();
    for r in rows {
        let reason = RevocationReason::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == r.reason)
            .unwrap_or_default();
        list.revoke(
            Serial::from_hex(&r.serial)?,
            reason,
            Timestamp::from_unix(r.revoked_at),
        );
    }
    Ok(list)
}

/// `GET /v1/crl`: this CA's CRL, then the `--crl-extra` ones; one entity tag for them all.
async fn crl(state: &Arc<State>, req: &Request<Incoming>) -> Result<HttpResponse, ApiError> {
    let state = state.clone();
    let doc = blocking(move || {
        let ours = current_crl(&state)?;
        if state.extra_crls.is_empty() {
            return Ok(ours);
        }
        let mut parts = vec![ours];
        parts.extend(state.extra_crls.iter().map(ExtraCrl::current));
        let tags: Vec<&[u8]> = parts.iter().map(|d| d.etag.as_bytes()).collect();
        let etag = etag_of(&tags);
        let pem: String = parts.iter().map(|d| &*d.pem).collect();
        Ok(Document {
            pem: pem.into(),
            etag,
        })
    })
    .await?;
    Ok(document(req, &doc))
}

/// A PEM document, or `304 Not Modified` when the request's `If-None-Match` names its tag.
fn document(req: &Request<Incoming>, doc: &Document) -> HttpResponse {
    let matches = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == doc.etag || t == "*");
    let mut r = if matches {
        respond(
            StatusCode::NOT_MODIFIED,
            "application/x-pem-file",
            Bytes::new(),
        )
    } else {
        let pem: Arc<[u8]> = Arc::from(doc.pem.clone());
        respond(
            StatusCode::OK,
            "application/x-pem-file",
            Bytes::from_owner(pem),
        )
    };
    if let Ok(tag) = HeaderValue::from_str(&doc.etag) {
        r.headers_mut().insert(ETAG, tag);
    }
    // Caches may keep it but must ask again each time: a revocation changes it at once.
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::new(StatusCode::BAD_REQUEST, "malformed", "bad percent-encoding");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn parse_filter(query: Option<&str>) -> Result<CertFilter, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m);
    let mut filter = CertFilter {
        limit: DEFAULT_LIST_LIMIT,
        ..CertFilter::default()
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v)?;
        match k {
            "identity" => filter.identity = Some(SpiffeId::parse(&v)?.to_string()),
            "expiring_before" => {
                filter.expiring_before = Some(
                    v.parse()
                        .map_err(|_| bad(format!("expiring_before: not a Unix time: {v:?}")))?,
                )
            }
            "revoked" => {
                filter.revoked = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("revoked: true or false, not {v:?}"))),
                })
            }
            "limit" => {
                let n: u32 = v
                    .parse()
                    .map_err(|_| bad(format!("limit: not a number: {v:?}")))?;
                filter.limit = n.clamp(1, MAX_LIST_LIMIT);
            }
            other => return Err(bad(format!("unknown filter {other:?}"))),
        }
    }
    Ok(filter)
}

async fn list_certs(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let filter = parse_filter(query)?;
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.certs(&filter)?)).await?;
    let certs = rows
        .into_iter()
        .map(|r| CertInfo {
            serial: r.serial,
            identity: r.identity,
            not_before: r.not_before,
            not_after: r.not_after,
            fingerprint: r.fingerprint,
            kind: r.kind.as_str().to_owned(),
            issued_at: r.issued_at,
            previous_serial: r.previous_serial,
            revoked_at: r.revoked_at,
            revocation_reason: r.revocation_reason,
        })
        .collect();
    Ok(json(StatusCode::OK, &CertList { certs }))
}
