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
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::trust::WeakTrust;
use crate::{
    Identity, IdentityHandle, MtlsClient, RotationDriver, RotationEvent, RotationTask, TrustHandle,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, ETAG, HOST, IF_NONE_MATCH};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use meshtls_core::{
    create_csr, Error as CoreError, ErrorCode, KeyAlgorithm, Policy, RotationPolicy, SpiffeId,
    TrustBundle, Verifier,
};
use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub mod api;

use self::api::{
    CertList, EnrollRequest, ErrorBody, IssuedResponse, RenewRequest, RevokeRequest,
    RevokeResponse, TokenList, TokenRequest, TokenResponse, TokenRevokeRequest,
    TokenRevokeResponse,
};

/// Largest answer the client reads (a chain plus bundle is a few KiB; a CRL can be large).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

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

/// A failure of the TLS connection to the service: when the service refused our certificate
/// with an alert that names a core code (`certificate_expired`...), that code, as the core's
/// refusal; any other failure is a transport error.
fn tls_failure(e: impl std::error::Error + 'static) -> EnrollError {
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
            state_dir: None,
        }
    }
}

/// Where the service is.
#[derive(Debug, Clone)]
struct Endpoint {
    authority: String,
    host: String,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Self, EnrollError> {
        let rest = url.strip_prefix("https://").ok_or_else(|| {
            EnrollError::Invalid(format!("the CA URL must start with https://: {url:?}"))
        })?;
        let authority = rest.split('/').next().unwrap_or_default().to_owned();
        if authority.is_empty() {
            return Err(EnrollError::Invalid(format!("no host in {url:?}")));
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default().to_owned()
        } else {
            authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h)
                .to_owned()
        };
        let authority = if authority.starts_with('[') || authority.contains(':') {
            authority
        } else {
            format!("{authority}:443")
        };
        Ok(Endpoint { authority, host })
    }
}

/// A client of one CA service: the endpoint, and how to verify it.
#[derive(Clone)]
pub struct CaClient {
    endpoint: Endpoint,
    /// Verifies the service: the bundle, and the service's SPIFFE ID as the only allowed peer.
    service_trust: TrustHandle,
    timeout: Duration,
}

impl fmt::Debug for CaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaClient")
            .field("endpoint", &self.endpoint.authority)
            .finish_non_exhaustive()
    }
}

impl CaClient {
    /// A client of the service at `url` (`https://host:port`), which must present
    /// `service_id` under a CA of `bundle`.
    pub fn new(
        url: &str,
        bundle: TrustBundle,
        service_id: SpiffeId,
        timeout: Duration,
    ) -> Result<Self, EnrollError> {
        let policy = Policy::builder().allow_id(service_id).build()?;
        Ok(CaClient {
            endpoint: Endpoint::parse(url)?,
            service_trust: TrustHandle::new(Verifier::new(bundle, policy)),
            timeout,
        })
    }

    /// Replace the bundle used to verify the service (after a refresh).
    fn set_bundle(&self, bundle: TrustBundle) {
        let policy = self.service_trust.current().policy().clone();
        self.service_trust.replace(Verifier::new(bundle, policy));
    }

    /// One HTTP request; `identity` is presented as the client certificate when given.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        identity: Option<&IdentityHandle>,
    ) -> Result<(StatusCode, Bytes), EnrollError> {
        let answer = self.send(method, path, body, identity, None).await?;
        Ok((answer.status, answer.body))
    }

    /// One HTTP request with an optional `If-None-Match`; the answer keeps the `ETag`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        identity: Option<&IdentityHandle>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, EnrollError> {
        let work = async {
            let tcp = TcpStream::connect(&self.endpoint.authority)
                .await
                .map_err(transport)?;
            match identity {
                Some(id) => {
                    let client = MtlsClient::builder(id.clone(), self.service_trust.clone())
                        .alpn(vec![b"http/1.1".to_vec()])
                        .resumption(false)
                        .build()?;
                    let tls = client
                        .connect_tcp(tcp, &self.endpoint.host)
                        .await
                        .map_err(tls_failure)?;
                    self.exchange(tls, method, path, body, if_none_match).await
                }
                None => {
                    let tls = self.anonymous_tls(tcp).await?;
                    self.exchange(tls, method, path, body, if_none_match).await
                }
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| EnrollError::Transport("request timed out".to_owned()))?
    }

    /// TLS without a client certificate (the first enrollment), the server still verified
    /// by the core's [`Verifier`].
    async fn anonymous_tls(
        &self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, EnrollError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = crate::server_cert_verifier(self.service_trust.clone());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(transport)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from(self.endpoint.host.clone())
            .map_err(|e| EnrollError::Invalid(format!("server name: {e}")))?;
        let _ = tcp.set_nodelay(true);
        crate::verify::KeepRejection(
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(transport)
    }

    async fn exchange<S>(
        &self,
        stream: S,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, EnrollError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(transport)?;
        let conn_task = tokio::spawn(conn);
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.endpoint.host.as_str());
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if let Some(tag) = if_none_match {
            builder = builder.header(IF_NONE_MATCH, tag);
        }
        let req = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(transport)?;
        let response = sender.send_request(req).await.map_err(tls_failure)?;
        let status = response.status();
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(transport)?
            .to_bytes();
        conn_task.abort();
        Ok(Answer { status, etag, body })
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        identity: Option<&IdentityHandle>,
    ) -> Result<Resp, EnrollError> {
        let body = serde_json::to_vec(body).map_err(transport)?;
        let (status, bytes) = self
            .request(Method::POST, path, Some(body), identity)
            .await?;
        decode(status, &bytes)
    }

    /// `POST /v1/enroll`.
    pub async fn enroll_csr(
        &self,
        token: &str,
        csr_pem: &str,
    ) -> Result<IssuedResponse, EnrollError> {
        self.call(
            "/v1/enroll",
            &EnrollRequest {
                token: token.to_owned(),
                csr: csr_pem.to_owned(),
            },
            None,
        )
        .await
    }

    /// `POST /v1/renew`, authenticated by `identity`.
    pub async fn renew_csr(
        &self,
        identity: &IdentityHandle,
        csr_pem: &str,
    ) -> Result<IssuedResponse, EnrollError> {
        self.call(
            "/v1/renew",
            &RenewRequest {
                csr: csr_pem.to_owned(),
            },
            Some(identity),
        )
        .await
    }

    /// `POST /v1/tokens` as the admin `admin`: a one-time join token (shown only here).
    pub async fn mint_token(
        &self,
        admin: &IdentityHandle,
        request: &TokenRequest,
    ) -> Result<TokenResponse, EnrollError> {
        self.call("/v1/tokens", request, Some(admin)).await
    }

    /// `GET /v1/tokens` as the admin `admin`: the newest `limit` tokens (default: the
    /// service's, 1000) with their state, never their secrets.
    pub async fn list_tokens(
        &self,
        admin: &IdentityHandle,
        limit: Option<u32>,
    ) -> Result<TokenList, EnrollError> {
        let path = match limit {
            Some(n) => format!("/v1/tokens?limit={n}"),
            None => "/v1/tokens".to_owned(),
        };
        let (status, bytes) = self.request(Method::GET, &path, None, Some(admin)).await?;
        decode(status, &bytes)
    }

    /// `POST /v1/tokens/revoke` as the admin `admin`: the unused token `id` can no longer
    /// enroll anything (`token_used` when it already did: revoke its certificate instead).
    pub async fn revoke_token(
        &self,
        admin: &IdentityHandle,
        id: &str,
    ) -> Result<TokenRevokeResponse, EnrollError> {
        let request = TokenRevokeRequest { id: id.to_owned() };
        self.call("/v1/tokens/revoke", &request, Some(admin)).await
    }

    /// `POST /v1/revoke` as the admin `admin`; the served CRL is rebuilt before it answers.
    pub async fn revoke(
        &self,
        admin: &IdentityHandle,
        request: &RevokeRequest,
    ) -> Result<RevokeResponse, EnrollError> {
        self.call("/v1/revoke", request, Some(admin)).await
    }

    /// `GET /v1/certs` as the admin `admin`: the ledger's certificates, newest first.
    pub async fn list_certs(
        &self,
        admin: &IdentityHandle,
        filter: &CertFilter,
    ) -> Result<CertList, EnrollError> {
        let path = format!("/v1/certs{}", filter.query());
        let (status, bytes) = self.request(Method::GET, &path, None, Some(admin)).await?;
        decode(status, &bytes)
    }

    /// `GET` a PEM document (`/v1/bundle`, `/v1/crl`).
    pub async fn get_pem(&self, path: &str) -> Result<Bytes, EnrollError> {
        // Without a known copy there is no If-None-Match, so never "not modified".
        let doc = self.get_pem_if_changed(path, None).await?;
        Ok(doc.map(|d| d.pem).unwrap_or_default())
    }

    /// `GET` a PEM document unless it is still `known` (sent as `If-None-Match`): `None` when
    /// the service answered `304 Not Modified`, else the document and its tag.
    pub async fn get_pem_if_changed(
        &self,
        path: &str,
        known: Option<&PemDocument>,
    ) -> Result<Option<PemDocument>, EnrollError> {
        let tag = known.and_then(|d| d.etag.as_deref());
        let answer = self.send(Method::GET, path, None, None, tag).await?;
        if answer.status == StatusCode::NOT_MODIFIED && tag.is_some() {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(service_error(answer.status, &answer.body));
        }
        Ok(Some(PemDocument {
            pem: answer.body,
            etag: answer.etag,
        }))
    }
}

/// What one request got back.
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: Bytes,
}

/// A PEM document of the service (`/v1/bundle`, `/v1/crl`) and its entity tag, if it sent one.
#[derive(Debug, Clone)]
pub struct PemDocument {
    /// The document.
    pub pem: Bytes,
    /// The service's `ETag` for it.
    pub etag: Option<String>,
}

/// The filters of `GET /v1/certs`; all optional.
#[derive(Debug, Clone, Default)]
pub struct CertFilter {
    /// Only this SPIFFE ID.
    pub identity: Option<SpiffeId>,
    /// Only certificates whose notAfter is before this Unix time.
    pub expiring_before: Option<i64>,
    /// Only revoked (`true`) or only unrevoked (`false`) certificates.
    pub revoked: Option<bool>,
    /// At most this many (the service caps it).
    pub limit: Option<u32>,
}

impl CertFilter {
    /// `?identity=…&…`, percent-encoded; empty when no filter is set.
    fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = &self.identity {
            parts.push(format!("identity={}", percent_encode(&id.to_string())));
        }
        if let Some(t) = self.expiring_before {
            parts.push(format!("expiring_before={t}"));
        }
        if let Some(r) = self.revoked {
            parts.push(format!("revoked={r}"));
        }
        if let Some(n) = self.limit {
            parts.push(format!("limit={n}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn service_error(status: StatusCode, bytes: &[u8]) -> EnrollError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => EnrollError::Service {
            status: status.as_u16(),
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => EnrollError::Service {
            status: status.as_u16(),
            code: "unexpected_answer".to_owned(),
            message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        },
    }
}

fn decode<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T, EnrollError> {
    if !status.is_success() {
        return Err(service_error(status, bytes));
    }
    serde_json::from_slice(bytes).map_err(|e| transport(format!("bad answer: {e}")))
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
    pub async fn refresh_trust(&self) -> Result<(), EnrollError> {
        self.refresher.run().await
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

/// The state file in a state directory.
pub const STATE_FILE: &str = "identity.pem";

/// Write chain + key as one file, mode 0600, atomically (temp file, fsync, rename), so a
/// crash leaves the old pair or the new one, never a chain with the other's key.
fn save_state(dir: &Path, chain_pem: &str, key_pem: &str) -> Result<(), EnrollError> {
    let io = |e: std::io::Error| EnrollError::Invalid(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let mut f = open.open(&tmp).map_err(io)?;
    f.write_all(chain_pem.as_bytes()).map_err(io)?;
    if !chain_pem.ends_with('\n') {
        f.write_all(b"\n").map_err(io)?;
    }
    f.write_all(key_pem.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Read the identity a state directory holds.
fn load_state(dir: &Path) -> Result<Identity, EnrollError> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| EnrollError::Invalid(format!("{}: {e}", path.display())))?;
    let at = text.find("-----BEGIN PRIVATE KEY-----").ok_or_else(|| {
        EnrollError::Core(CoreError::new(
            ErrorCode::Malformed,
            format!("{}: no private key", path.display()),
        ))
    })?;
    let (chain, key) = text.split_at(at);
    Ok(Identity::from_pem(chain.as_bytes(), key.as_bytes())?)
}

/// Fetches the bundle and CRL into the trust handles. It sends back the tags of the copies it
/// applied last, so an unchanged document (a CRL can be megabytes) is neither downloaded nor
/// parsed again, and the handles' generations move only when something changed.
struct TrustRefresh {
    client: CaClient,
    /// The peer trust.
    trust: TrustHandle,
    /// The renewal check's trust (our own ID).
    own: TrustHandle,
    /// The trusts of [`EnrolledIdentity::trust_for`], while someone holds them.
    followers: std::sync::Mutex<Vec<WeakTrust>>,
    applied: tokio::sync::Mutex<Applied>,
}

/// The bundle and CRL last swapped in.
#[derive(Default)]
struct Applied {
    bundle: Option<PemDocument>,
    crl: Option<PemDocument>,
}

impl TrustRefresh {
    /// Fetch what changed; swap the bundle with the CRL into the peer trust and the renewal
    /// check's trust, and the bare bundle into the service check (a CA rotation reaches all
    /// three).
    async fn run(&self) -> Result<(), EnrollError> {
        let mut applied = self.applied.lock().await;
        let bundle = self
            .client
            .get_pem_if_changed("/v1/bundle", applied.bundle.as_ref())
            .await?;
        let crl = self
            .client
            .get_pem_if_changed("/v1/crl", applied.crl.as_ref())
            .await?;
        if bundle.is_none() && crl.is_none() {
            return Ok(());
        }
        let bundle = fresh_or_known(bundle, &applied.bundle)?;
        let crl = fresh_or_known(crl, &applied.crl)?;
        let cas = TrustBundle::from_pem(&bundle.pem)?;
        let mut with_crl = cas.clone();
        with_crl.add_crl(&crl.pem)?;
        let swap = |handle: &TrustHandle| {
            let policy = handle.current().policy().clone();
            handle.replace(Verifier::new(with_crl.clone(), policy));
        };
        swap(&self.trust);
        swap(&self.own);
        {
            let mut followers = self.followers();
            followers.retain(|weak| match weak.upgrade() {
                Some(handle) => {
                    swap(&handle);
                    true
                }
                None => false,
            });
        }
        self.client.set_bundle(cas);
        *applied = Applied {
            bundle: Some(bundle),
            crl: Some(crl),
        };
        Ok(())
    }

    /// A new trust with `policy` on the current bundle and CRL, refreshed from now on. (Made
    /// under the followers' lock, so a refresh either happened before it, and it starts on
    /// the new bundle, or swaps it too.)
    fn follow(&self, policy: Policy) -> TrustHandle {
        let mut followers = self.followers();
        let bundle = self.trust.current().bundle().clone();
        let handle = TrustHandle::new(Verifier::new(bundle, policy));
        followers.push(handle.downgrade());
        handle
    }

    fn followers(&self) -> std::sync::MutexGuard<'_, Vec<WeakTrust>> {
        match self.followers.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The document just fetched, or the one applied before when the service said "not modified".
fn fresh_or_known(
    fresh: Option<PemDocument>,
    known: &Option<PemDocument>,
) -> Result<PemDocument, EnrollError> {
    fresh.or_else(|| known.clone()).ok_or_else(|| {
        EnrollError::Transport("the service answered 304 for a document never fetched".into())
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
    let service = match options.service_id.clone() {
        Some(s) => s,
        None => SpiffeId::ca_service(id.trust_domain()),
    };
    let client = CaClient::new(url, bundle.clone(), service, options.timeout)?;
    let csr = create_csr(id, &options.dns_names, options.key_algorithm)?;
    let issued = client.enroll_csr(token, &csr.csr_pem).await?;
    let identity = IdentityHandle::new(Identity::from_pem(
        issued.chain_pem.as_bytes(),
        csr.key_pem.as_bytes(),
    )?);
    if let Some(dir) = &options.state_dir {
        save_state(dir, &issued.chain_pem, &csr.key_pem)?;
    }
    drop(csr);
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
    let trust = TrustHandle::new(Verifier::new(issued_bundle.clone(), peer_policy));
    client.set_bundle(issued_bundle.clone());
    let own_policy = Policy::builder().allow_id(id.clone()).build()?;
    let verify_own = TrustHandle::new(Verifier::new(issued_bundle, own_policy));
    let refresher = Arc::new(TrustRefresh {
        client: client.clone(),
        trust: trust.clone(),
        own: verify_own.clone(),
        followers: Default::default(),
        applied: Default::default(),
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
        .policy(options.rotation);
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
    })
}
