//! WebSocket (`wss://`) over mTLS, with an optional token fallback (hybrid mode): JWT-SVIDs
//! checked by the core ([`crate::JwtAuth`]), or a custom [`TokenValidator`].
//!
//! TLS is done by this crate (tokio-rustls with the core's verifiers); tungstenite only speaks
//! WebSocket over the established [`MtlsStream`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use meshtls_core::jwt::TokenClaims;
use meshtls_core::{Error, ErrorCode, PeerIdentity};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Response};
use tokio_tungstenite::tungstenite::http::{header, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

use crate::config::{MtlsClient, MtlsServer};
use crate::error::to_io;
use crate::jwt::{token_of, JwtAuth, JWT_SUBPROTOCOL};
use crate::listener::{accept_loop, READY_QUEUE};
use crate::stream::MtlsStream;

/// WebSocket buffers sized for many mostly idle connections: tungstenite's 128 KiB defaults
/// would hold 128 KiB per connection waiting in a read; 16 KiB is one TLS record.
pub fn default_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
}

/// A WebSocket over an mTLS stream; `ws.get_ref().peer_identity()` is the verified peer.
pub type WsStream = WebSocketStream<MtlsStream>;

/// Checks a bearer token from a hybrid-mode upgrade request: `Some(subject)` accepts the client
/// as that subject, `None` rejects it (HTTP 401).
///
/// It runs on the connection's task during the upgrade: keep it quick (a signature or table
/// check), it must not block.
pub type TokenValidator = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A client accepted by bearer token in hybrid mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerPeer {
    /// What the [`TokenValidator`] returned for the token.
    pub subject: String,
}

/// Who is on the other end of an accepted WebSocket.
// One value per accepted connection, matched once: boxing the larger variant would cost an
// allocation per connection for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WsPeer {
    /// A client certificate the core verified.
    Mtls(PeerIdentity),
    /// A TLS-only client that presented a valid bearer token (hybrid mode only).
    Bearer(BearerPeer),
}

impl WsPeer {
    /// The verified certificate identity, for mTLS peers.
    pub fn identity(&self) -> Option<&PeerIdentity> {
        match self {
            WsPeer::Mtls(p) => Some(p),
            WsPeer::Bearer(_) => None,
        }
    }
}

/// A `wss://` listener: TLS handshake, core verification and the HTTP upgrade all run in the
/// connection's own task within the server's handshake timeout; [`accept`](Self::accept) yields
/// upgraded WebSockets with their peer.
#[derive(Debug)]
pub struct WsListener {
    ready: mpsc::Receiver<Accepted>,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for WsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WsListener {
    /// Bind and start accepting. Hybrid mode follows the server's
    /// [`bearer_fallback`](crate::MtlsServerBuilder::bearer_fallback).
    pub async fn bind(addr: impl ToSocketAddrs, server: MtlsServer) -> io::Result<Self> {
        let tcp = TcpListener::bind(addr).await?;
        Self::from_tcp(tcp, server)
    }

    /// Start accepting on a bound TCP listener (within a tokio runtime).
    pub fn from_tcp(tcp: TcpListener, server: MtlsServer) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let auth = match (&server.inner.jwt, &server.inner.bearer) {
            (Some(jwt), _) => Auth::Jwt(jwt.clone()),
            (None, Some(custom)) => Auth::Custom(custom.clone()),
            (None, None) => Auth::None,
        };
        let task = tokio::spawn(accept_loop(tcp, server, tx, move |stream| {
            upgrade(stream, auth.clone())
        }));
        Ok(WsListener {
            ready,
            local_addr,
            task,
        })
    }

    /// The next upgraded WebSocket and its peer. An error means the listener stopped.
    pub async fn accept(&mut self) -> io::Result<(WsStream, WsPeer)> {
        let (ws, peer, _) = self.accept_with_token().await?;
        Ok((ws, peer))
    }

    /// The next upgraded WebSocket, its peer, and the claims of the JWT-SVID it presented
    /// when the server checks them ([`jwt_svids`](crate::MtlsServerBuilder::jwt_svids)): a
    /// certificate-less client always has them (its [`BearerPeer::subject`] is their `sub`);
    /// an mTLS client when it sent a token too. An error means the listener stopped.
    pub async fn accept_with_token(
        &mut self,
    ) -> io::Result<(WsStream, WsPeer, Option<TokenClaims>)> {
        self.ready
            .recv()
            .await
            .map(|a| (a.ws, a.peer, a.claims))
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "listener stopped"))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// How a listener checks tokens.
#[derive(Clone)]
enum Auth {
    /// No hybrid mode: certificates only.
    None,
    /// A caller-written validator (certificate-less clients only).
    Custom(TokenValidator),
    /// The core's JWT-SVID validator.
    Jwt(JwtAuth),
}

/// An upgraded WebSocket ready for the application.
pub(crate) struct Accepted {
    ws: WsStream,
    peer: WsPeer,
    claims: Option<TokenClaims>,
}

fn unauthorized(why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_owned()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

fn refused() -> Error {
    Error::new(
        ErrorCode::IdentityNotAllowed,
        "no client certificate and no valid bearer token",
    )
}

/// What the upgrade callback decided: the subject and claims of an accepted token, or why a
/// token was refused.
#[derive(Default)]
struct Verdict {
    subject: Option<String>,
    claims: Option<TokenClaims>,
    error: Option<Error>,
}

async fn upgrade(stream: MtlsStream, auth: Auth) -> io::Result<Accepted> {
    let peer = stream.peer_identity().cloned();
    let jwt = match (&peer, auth) {
        (Some(p), Auth::None | Auth::Custom(_)) => {
            let ws = tokio_tungstenite::accept_async_with_config(stream, Some(default_config()))
                .await
                .map_err(ws_to_io)?;
            return Ok(Accepted {
                ws,
                peer: WsPeer::Mtls(p.clone()),
                claims: None,
            });
        }
        // No certificate: only a hybrid server gets here (otherwise the handshake failed).
        (None, Auth::None) => {
            return Err(to_io(Error::new(
                ErrorCode::NoCertificate,
                "the client presented no certificate",
            )))
        }
        (None, Auth::Custom(validator)) => return custom(stream, validator).await,
        (_, Auth::Jwt(jwt)) => jwt,
    };
    let leaf = stream
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let verdict: Arc<Mutex<Verdict>> = Arc::default();
    let slot = verdict.clone();
    let mtls = peer.is_some();
    // tungstenite's callback signature returns the whole error response by value.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, mut response: Response| {
        let mut v = match slot.lock() {
            Ok(v) => v,
            Err(p) => p.into_inner(),
        };
        let Some((token, as_subprotocol)) = token_of(request) else {
            if mtls {
                return Ok(response);
            }
            v.error = Some(refused());
            return Err(unauthorized(
                "a JWT-SVID or a client certificate is required",
            ));
        };
        match jwt.check(token, leaf.as_deref()) {
            Ok(claims) => {
                if as_subprotocol {
                    let offered_plain = request
                        .headers()
                        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
                        .iter()
                        .filter_map(|h| h.to_str().ok())
                        .flat_map(|h| h.split(','))
                        .any(|p| p.trim() == JWT_SUBPROTOCOL);
                    let chosen = if offered_plain {
                        JWT_SUBPROTOCOL.to_owned()
                    } else {
                        format!("{JWT_SUBPROTOCOL}.{token}")
                    };
                    if let Ok(value) = header::HeaderValue::from_str(&chosen) {
                        response
                            .headers_mut()
                            .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
                    }
                }
                v.subject = Some(claims.subject.to_string());
                v.claims = Some(claims);
                Ok(response)
            }
            Err(e) => {
                let body = e.code().as_str();
                v.error = Some(e);
                Err(unauthorized(body))
            }
        }
    };
    let accepted =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(default_config()))
            .await;
    let mut verdict = match verdict.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(p) => std::mem::take(&mut *p.into_inner()),
    };
    let ws = accepted.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(_) => {
            to_io(verdict.error.take().unwrap_or_else(refused))
        }
        other => ws_to_io(other),
    })?;
    let peer = match (peer, verdict.subject) {
        (Some(p), _) => WsPeer::Mtls(p),
        (None, Some(subject)) => WsPeer::Bearer(BearerPeer { subject }),
        (None, None) => return Err(to_io(refused())),
    };
    Ok(Accepted {
        ws,
        peer,
        claims: verdict.claims,
    })
}

/// A certificate-less client checked by a caller-written validator.
async fn custom(stream: MtlsStream, validator: TokenValidator) -> io::Result<Accepted> {
    let subject: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let slot = subject.clone();
    // tungstenite's callback signature returns the whole error response by value.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, response: Response| {
        let accepted = token_of(request)
            .filter(|(_, as_subprotocol)| !as_subprotocol)
            .and_then(|(t, _)| validator(t));
        match accepted {
            Some(s) => {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(s);
                }
                Ok(response)
            }
            None => Err(unauthorized("bearer token or client certificate required")),
        }
    };
    let ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(default_config()))
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(_) => to_io(refused()),
                other => ws_to_io(other),
            })?;
    let subject = subject
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| to_io(refused()))?;
    Ok(Accepted {
        ws,
        peer: WsPeer::Bearer(BearerPeer { subject }),
        claims: None,
    })
}

fn ws_to_io(e: tokio_tungstenite::tungstenite::Error) -> io::Error {
    match e {
        tokio_tungstenite::tungstenite::Error::Io(io) => io,
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// Connect to a `wss://host:port/path` URL over mTLS and upgrade. The returned peer is the
/// server as the core verified it.
pub async fn connect(client: &MtlsClient, url: &str) -> io::Result<(WsStream, PeerIdentity)> {
    let request = url.into_client_request().map_err(bad_request)?;
    connect_request(client, request).await
}

/// Like [`connect`], with a prepared request (extra headers, subprotocols).
pub async fn connect_request(
    client: &MtlsClient,
    request: Request,
) -> io::Result<(WsStream, PeerIdentity)> {
    let uri = request.uri();
    if uri.scheme_str() != Some("wss") {
        return Err(bad_request(format!("not a wss:// URL: {uri}")));
    }
    let host = uri
        .host()
        .ok_or_else(|| bad_request(format!("no host in {uri}")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let stream = client.connect((host.as_str(), port), &host).await?;
    let peer = stream.peer_identity().cloned().ok_or_else(|| {
        to_io(Error::new(
            ErrorCode::Internal,
            "server verified without identity",
        ))
    })?;
    let (ws, _response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(default_config()))
            .await
            .map_err(ws_to_io)?;
    Ok((ws, peer))
}

fn bad_request(e: impl fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        Error::new(ErrorCode::InvalidRequest, e.to_string()),
    )
}
