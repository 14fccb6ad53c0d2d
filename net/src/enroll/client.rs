//! The HTTP client of one CA service: how it is reached and verified, one request, the
//! node's own calls (`/v1/enroll`, `/v1/renew`) and the PEM documents.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, ETAG, HOST, IF_NONE_MATCH};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use meshtls_core::{Policy, SpiffeId, TrustBundle, Verifier};
use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::api::{EnrollRequest, ErrorBody, IssuedResponse, JwtRequest, JwtResponse, RenewRequest};
use super::{tls_failure, transport, EnrollError};
use crate::{IdentityHandle, MtlsClient, TrustHandle};

/// Largest answer the client reads (a chain plus bundle is a few KiB; a CRL can be large).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
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

    /// `host:port` of the service.
    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint.authority
    }

    /// Replace the bundle used to verify the service (after a refresh).
    pub(super) fn set_bundle(&self, bundle: TrustBundle) {
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
                    let verifier = crate::server_cert_verifier(self.service_trust.clone());
                    let tls = anonymous_tls(tcp, &self.endpoint.host, verifier).await?;
                    self.exchange(tls, method, path, body, if_none_match).await
                }
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| EnrollError::Transport("request timed out".to_owned()))?
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
        exchange(
            stream,
            &self.endpoint.host,
            method,
            path,
            body,
            if_none_match,
        )
        .await
    }

    pub(super) async fn call<Req: Serialize, Resp: DeserializeOwned>(
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

    /// `POST /v1/jwt`, authenticated by `identity`: a JWT-SVID for its SPIFFE ID.
    pub async fn mint_jwt(
        &self,
        identity: &IdentityHandle,
        request: &JwtRequest,
    ) -> Result<JwtResponse, EnrollError> {
        self.call("/v1/jwt", request, Some(identity)).await
    }

    /// `GET /v1/bundle.jwks`: the SPIFFE bundle (JSON) of the trust domain, JWT keys included.
    pub async fn bundle_jwks(&self) -> Result<Bytes, EnrollError> {
        self.get_pem("/v1/bundle.jwks").await
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

/// One HTTP/1.1 exchange on an established stream.
async fn exchange<S>(
    stream: S,
    host: &str,

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
        .header(HOST, host);
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

/// TLS without a client certificate (the first enrollment, the bootstrap), the server
/// checked by `verifier`.
pub(super) async fn anonymous_tls(
    tcp: TcpStream,
    host: &str,
    verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, EnrollError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(transport)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| EnrollError::Invalid(format!("server name: {e}")))?;
    let _ = tcp.set_nodelay(true);
    crate::verify::KeepRejection(
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(tls_failure)
}

/// `GET path` from the service at `url` WITHOUT verifying who answers: only for the
/// fingerprint bootstrap, which checks what it got against a fingerprint it was given.
pub(super) async fn get_untrusted(
    url: &str,
    path: &str,
    verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
    timeout: Duration,
) -> Result<Bytes, EnrollError> {
    let endpoint = Endpoint::parse(url)?;
    let work = async {
        let tcp = TcpStream::connect(&endpoint.authority)
            .await
            .map_err(transport)?;
        let tls = anonymous_tls(tcp, &endpoint.host, verifier).await?;
        exchange(tls, &endpoint.host, Method::GET, path, None, None).await
    };
    let answer = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| EnrollError::Transport("request timed out".to_owned()))??;
    if !answer.status.is_success() {
        return Err(service_error(answer.status, &answer.body));
    }
    Ok(answer.body)
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

pub(super) fn decode<T: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
) -> Result<T, EnrollError> {
    if !status.is_success() {
        return Err(service_error(status, bytes));
    }
    serde_json::from_slice(bytes).map_err(|e| transport(format!("bad answer: {e}")))
}
