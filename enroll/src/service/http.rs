//! HTTP plumbing: the accept loop, routing, error answers, JSON bodies and their limits, and
//! the admin check every admin endpoint starts with.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use meshtls_core::{Error as CoreError, ErrorCode, PeerIdentity, Serial, SpiffeId};
use meshtls_net::MtlsServer;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::audit::AuditLine;
use super::documents::{crl, document, healthz, metrics};
use super::issuance::{enroll, list_certs, renew};
use super::jwt::{bundle_jwks, mint_jwt};
use super::revocation::revoke;
use super::tokens::{list_tokens, mint_token, revoke_token};
use super::{now, State, BODY_TIMEOUT, DEFAULT_LIST_LIMIT, MAX_CONNECTIONS, MAX_LIST_LIMIT};
use crate::api::{ErrorBody, ErrorDetail};
use crate::store::{CertFilter, CertRecord, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub(super) async fn accept_loop(tcp: TcpListener, server: MtlsServer, state: Arc<State>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (socket, addr) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // One client cannot hold every slot: past its share it is closed at once.
        let Some(slot) = state.connections.try_open(addr.ip()) else {
            state.metrics.connection_refused();
            audit(
                &state,
                addr,
                None,
                "-",
                "-",
                0,
                Some("too_many_connections"),
            );
            drop(socket);
            continue;
        };
        let server = server.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            let counted = state.clone();
            let _open = counted.metrics.connection_opened();
            let Ok(stream) = server.accept(socket).await else {
                return;
            };
            let peer = stream.peer_identity().cloned();
            let service = service_fn(move |req| {
                let state = state.clone();
                let peer = peer.clone();
                async move { Ok::<_, Infallible>(handle(&state, peer.as_ref(), addr, req).await) }
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

/// One access/audit line, when the service has a log.
fn audit(
    state: &State,
    address: SocketAddr,
    peer: Option<&PeerIdentity>,
    method: &str,
    endpoint: &str,
    status: u16,
    code: Option<&str>,
) {
    let Some(log) = &state.audit else {
        return;
    };
    let peer = peer
        .and_then(|p| p.spiffe_id.as_ref())
        .map(|id| id.to_string());
    log.write(&AuditLine {
        time: now().to_rfc3339(),
        address,
        peer: peer.as_deref(),
        method,
        endpoint,
        status,
        code,
    });
}

/// An error answer: HTTP status, stable code, message.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
    /// Seconds for a `Retry-After` header (429).
    pub(super) retry_after: Option<u64>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        // Outside the grant is a refusal of who asks (403); everything else is the request.
        let status = match e.code() {
            ErrorCode::NotAuthorized => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code().as_str(), e.message())
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

pub(super) type HttpResponse = Response<Full<Bytes>>;

pub(super) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> HttpResponse {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, "application/json", body),
        Err(e) => error_response(&ApiError::internal(e.to_string())),
    }
}

pub(super) fn error_response(e: &ApiError) -> HttpResponse {
    let mut r = json(
        e.status,
        &ErrorBody {
            error: ErrorDetail {
                code: e.code.to_owned(),
                message: e.message.clone(),
            },
        },
    );
    if let Some(secs) = e.retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// Run blocking ledger work off the async threads.
pub(super) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))?
}

pub(super) async fn handle(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    address: SocketAddr,
    req: Request<Incoming>,
) -> HttpResponse {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let result = match (method.clone(), path.as_str()) {
        (Method::GET, "/healthz") => healthz(state).await,
        (Method::GET, "/metrics") => metrics(state).await,
        (Method::GET, "/v1/bundle") => Ok(document(&req, &state.bundle)),
        (Method::GET, "/v1/bundle.jwks") => bundle_jwks(state, &req).await,
        (Method::POST, "/v1/jwt") => mint_jwt(state, peer, req).await,
        (Method::GET, "/v1/crl") => crl(state, &req).await,
        (Method::GET, "/v1/certs") => list_certs(state, peer, req.uri().query()).await,
        (Method::POST, "/v1/tokens") => mint_token(state, peer, req).await,
        (Method::GET, "/v1/tokens") => list_tokens(state, peer, req.uri().query()).await,
        (Method::POST, "/v1/tokens/revoke") => revoke_token(state, peer, req).await,
        (Method::POST, "/v1/enroll") => enroll(state, address.ip(), req).await,
        (Method::POST, "/v1/renew") => renew(state, peer, req).await,
        (Method::POST, "/v1/revoke") => revoke(state, peer, req).await,
        (
            _,
            "/healthz" | "/metrics" | "/v1/bundle" | "/v1/bundle.jwks" | "/v1/jwt" | "/v1/crl"
            | "/v1/certs" | "/v1/tokens" | "/v1/tokens/revoke" | "/v1/enroll" | "/v1/renew"
            | "/v1/revoke",
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
    let (response, code) = match result {
        Ok(r) => (r, None),
        Err(e) => (error_response(&e), Some(e.code)),
    };
    audit(
        state,
        address,
        peer,
        method.as_str(),
        &path,
        response.status().as_u16(),
        code,
    );
    response
}

/// Read a JSON body of at most `max` bytes.
pub(super) async fn read_json<T: DeserializeOwned>(
    req: Request<Incoming>,
    max: usize,
) -> Result<T, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body exceeds {max} bytes"),
        )
    };
    // Only JSON: a browser cannot send it cross-site without a CORS preflight, which this
    // service never answers, so an admin's browser cannot be made to POST here.
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be application/json",
        ));
    }
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
pub(super) async fn require_admin(
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
pub(super) async fn check_not_revoked(
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

pub(super) fn revoked_error() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "revoked",
        "the client certificate is revoked",
    )
}

pub(super) fn percent_decode(s: &str) -> Result<String, ApiError> {
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

pub(super) fn parse_filter(query: Option<&str>) -> Result<CertFilter, ApiError> {
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
