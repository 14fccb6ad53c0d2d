//! WebSocket (`wss://`) over mTLS, with an optional bearer-token fallback (hybrid mode).
//!
//! TLS is done by this crate (tokio-rustls with the core's verifiers); tungstenite only speaks
//! WebSocket over the established [`MtlsStream`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
    ready: mpsc::Receiver<(WsStream, WsPeer)>,
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
        let validator = server.inner.bearer.clone();
        let task = tokio::spawn(accept_loop(tcp, server, tx, move |stream| {
            upgrade(stream, validator.clone())
        }));
        Ok(WsListener {
            ready,
            local_addr,
            task,
        })
    }

    /// The next upgraded WebSocket and its peer. An error means the listener stopped.
    pub async fn accept(&mut self) -> io::Result<(WsStream, WsPeer)> {
        self.ready
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "listener stopped"))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

fn unauthorized() -> ErrorResponse {
    let mut response =
        ErrorResponse::new(Some("bearer token or client certificate required".into()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

async fn upgrade(
    stream: MtlsStream,
    validator: Option<TokenValidator>,
) -> io::Result<(WsStream, WsPeer)> {
    if let Some(peer) = stream.peer_identity().cloned() {
        let ws = tokio_tungstenite::accept_async_with_config(stream, Some(default_config()))
            .await
            .map_err(ws_to_io)?;
        return Ok((ws, WsPeer::Mtls(peer)));
    }
    // No certificate: only a hybrid server gets here (otherwise the handshake failed).
    let Some(validator) = validator else {
        return Err(to_io(Error::new(
            ErrorCode::NoCertificate,
            "the client presented no certificate",
        )));
    };
    let subject: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let slot = subject.clone();
    // tungstenite's callback signature returns the whole error response by value.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, response: Response| {
        let accepted = bearer_token(request).and_then(|t| validator(t));
        match accepted {
            Some(s) => {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(s);
                }
                Ok(response)
            }
            None => Err(unauthorized()),
        }
    };
    let ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(default_config()))
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(_) => to_io(Error::new(
                    ErrorCode::IdentityNotAllowed,
                    "no client certificate and no valid bearer token",
                )),
                other => ws_to_io(other),
            })?;
    let subject = subject
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| {
            to_io(Error::new(
                ErrorCode::IdentityNotAllowed,
                "no client certificate and no valid bearer token",
            ))
        })?;
    Ok((ws, WsPeer::Bearer(BearerPeer { subject })))
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
