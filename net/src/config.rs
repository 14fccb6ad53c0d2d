//! rustls configurations from an [`IdentityHandle`] and a [`TrustHandle`], with secure defaults.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use meshtls_core::{Error, ErrorCode, PeerUsage, Timestamp};
use rustls::crypto::aws_lc_rs::{default_provider, kx_group, ALL_CIPHER_SUITES};
use rustls::crypto::CryptoProvider;
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::ServerName;
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::error::{to_io, HandshakeFailure};
use crate::identity::{IdentityHandle, Resolver};
use crate::jwt::JwtAuth;
use crate::profile::{self, TlsProfile, TlsVersion};
use crate::stream::MtlsStream;
use crate::trust::TrustHandle;
use crate::verify::{CoreCertVerifier, KeepRejection};
use crate::ws::TokenValidator;

/// How long a handshake may take before the connection is dropped, unless set otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many handshakes a listener runs at once, unless set otherwise.
pub const DEFAULT_MAX_CONCURRENT_HANDSHAKES: usize = 1024;
/// Sessions kept for resumption.
const SESSION_CACHE_SIZE: usize = 4096;
/// TLS 1.3 tickets a server sends after a full handshake (rustls's default), and the most it
/// sends to a client that asks for a number (RFC 9149 `ticket_request`).
const TLS13_TICKETS: usize = 2;

/// The aws-lc-rs provider as meshtls uses it: the groups and suites of [`crate::profile`], in
/// its order (X25519MLKEM768 offered first; TLS 1.3 suites, and for opt-in TLS 1.2 only ECDHE
/// + AEAD suites).
pub(crate) fn provider() -> CryptoProvider {
    let mut p = default_provider();
    let groups = [
        kx_group::X25519MLKEM768,
        kx_group::X25519,
        kx_group::SECP256R1,
        kx_group::SECP384R1,
    ];
    p.kx_groups = profile::GROUPS
        .iter()
        .filter_map(|g| groups.iter().find(|k| u16::from(k.name()) == g.id).copied())
        .collect();
    p.cipher_suites = profile::CIPHER_SUITES
        .iter()
        .filter_map(|s| {
            ALL_CIPHER_SUITES
                .iter()
                .find(|c| u16::from(c.suite()) == s.id)
                .copied()
        })
        .collect();
    p
}

static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&TLS13];
static TLS13_AND_12: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

fn versions(tls12: bool) -> &'static [&'static SupportedProtocolVersion] {
    match TlsProfile::new(tls12).min_version() {
        TlsVersion::Tls12 => TLS13_AND_12,
        TlsVersion::Tls13 => TLS13_ONLY,
    }
}

fn provider_for(tls12: bool) -> Arc<CryptoProvider> {
    let mut p = provider();
    let allowed: Vec<u16> = TlsProfile::new(tls12)
        .cipher_suites()
        .map(|s| s.id)
        .collect();
    p.cipher_suites
        .retain(|s| allowed.contains(&u16::from(s.suite())));
    Arc::new(p)
}

/// The wall clock, read at this edge only.
pub(crate) fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn config_error(e: rustls::Error) -> Error {
    Error::new(ErrorCode::Unsupported, format!("TLS configuration: {e}"))
}

/// Where a listener reports handshakes it gave up on.
pub(crate) type FailureCallback = Arc<dyn Fn(&HandshakeFailure) + Send + Sync>;

/// Options for [`MtlsServer`]; made by [`MtlsServer::builder`].
pub struct MtlsServerBuilder {
    identity: IdentityHandle,
    trust: TrustHandle,
    tls12: bool,
    resumption: bool,
    alpn: Vec<Vec<u8>>,
    handshake_timeout: Duration,
    max_concurrent_handshakes: usize,
    bearer: Option<TokenValidator>,
    jwt: Option<JwtAuth>,
    client_cert_optional: bool,
    on_handshake_error: Option<FailureCallback>,
}

impl MtlsServerBuilder {
    /// Also accept TLS 1.2 (ECDHE + AEAD suites only). Off by default.
    pub fn allow_tls12(mut self, allow: bool) -> Self {
        self.tls12 = allow;
        self
    }

    /// Session resumption (on by default). Resumed sessions are re-verified against the
    /// current trust, and sessions never outlive a replacement of identity or trust.
    pub fn resumption(mut self, on: bool) -> Self {
        self.resumption = on;
        self
    }

    /// ALPN protocols to offer, most preferred first (none by default).
    pub fn alpn(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
    }

    /// How long a listener waits for a handshake to finish (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How many handshakes a listener runs at once (default 1024); more connections wait.
    pub fn max_concurrent_handshakes(mut self, n: usize) -> Self {
        self.max_concurrent_handshakes = n.max(1);
        self
    }

    /// Hybrid mode for WebSocket listeners: also let clients without a certificate finish the TLS
    /// handshake, and accept them only if their HTTP upgrade request carries
    /// `Authorization: Bearer <token>` that `validator` accepts. Off by default, and then a
    /// client without a certificate fails the handshake. A client that does present a
    /// certificate is still verified by the core, and rejected if that fails. Raw
    /// [`MtlsListener`](crate::MtlsListener)s drop certificate-less clients in any case.
    pub fn bearer_fallback(mut self, validator: TokenValidator) -> Self {
        self.bearer = Some(validator);
        self
    }

    /// Hybrid mode with the built-in JWT-SVID check, for WebSocket listeners: a client without
    /// a certificate finishes the TLS handshake and is accepted only if its upgrade request
    /// carries a JWT-SVID (`Authorization: Bearer <token>`, or the subprotocol
    /// `meshtls.jwt.<token>` offered beside `meshtls.jwt`, for browsers) that `auth` accepts;
    /// a bound token is refused there, since that connection has no certificate. A client
    /// with a certificate is verified by the core as always, and when it also sends a token,
    /// the token is checked against its certificate: a token bound to another certificate
    /// (replayed from another service's connection) is refused. Refusals are HTTP 401 with the
    /// token's code (`token_expired`, `token_binding`...), reported to
    /// [`on_handshake_error`](Self::on_handshake_error). Exclusive with
    /// [`bearer_fallback`](Self::bearer_fallback) (a custom validator): `build` refuses both.
    pub fn jwt_svids(mut self, auth: JwtAuth) -> Self {
        self.jwt = Some(auth);
        self
    }

    /// Let clients without a certificate finish the handshake: their stream's
    /// [`peer_identity`](crate::MtlsStream::peer_identity) is `None` and the application
    /// decides what they may do. A client that presents a certificate is still verified by the
    /// core and rejected if that fails. Off by default: an mTLS server requires client
    /// certificates. For services with an anonymous entry point (the enrollment API's
    /// `POST /v1/enroll`); [`MtlsListener`](crate::MtlsListener) then yields such streams too.
    pub fn client_cert_optional(mut self, optional: bool) -> Self {
        self.client_cert_optional = optional;
        self
    }

    /// Called for every handshake a listener gives up on (rejected peer, timeout, garbage).
    pub fn on_handshake_error(
        mut self,
        callback: impl Fn(&HandshakeFailure) + Send + Sync + 'static,
    ) -> Self {
        self.on_handshake_error = Some(Arc::new(callback));
        self
    }

    /// Build the server.
    pub fn build(self) -> Result<MtlsServer, Error> {
        if self.bearer.is_some() && self.jwt.is_some() {
            return Err(Error::new(
                meshtls_core::ErrorCode::InvalidRequest,
                "a server checks tokens with the built-in JWT-SVID validator or a custom one, not both",
            ));
        }
        let provider = provider_for(self.tls12);
        let verifier = Arc::new(CoreCertVerifier::new(
            self.trust.clone(),
            PeerUsage::Client,
            self.bearer.is_none() && self.jwt.is_none() && !self.client_cert_optional,
            provider.signature_verification_algorithms,
        ));
        let recipe = ServerRecipe {
            provider,
            verifier,
            tls12: self.tls12,
            resumption: self.resumption,
            alpn: self.alpn,
            identity: self.identity.clone(),
            trust: self.trust.clone(),
        };
        let current = ArcSwap::from_pointee(recipe.make()?);
        Ok(MtlsServer {
            inner: Arc::new(ServerInner {
                recipe,
                current,
                handshake_timeout: self.handshake_timeout,
                max_concurrent_handshakes: self.max_concurrent_handshakes,
                bearer: self.bearer,
                jwt: self.jwt,
                client_cert_optional: self.client_cert_optional,
                on_handshake_error: self.on_handshake_error,
            }),
        })
    }
}

/// Which (identity, trust) replacement a rustls config was made for.
fn generations(identity: &IdentityHandle, trust: &TrustHandle) -> (u64, u64) {
    (identity.generation(), trust.generation())
}

/// Everything needed to make the server's rustls config again.
///
/// Each (identity, trust) generation gets its own `ServerConfig` and so its own session cache:
/// a session made under the old identity or trust is never resumed under the new one, even
/// when its handshake finished after the swap (a cache shared across generations would let
/// such a session, and the tickets chained from it, live on).
struct ServerRecipe {
    provider: Arc<CryptoProvider>,
    verifier: Arc<CoreCertVerifier>,
    tls12: bool,
    resumption: bool,
    alpn: Vec<Vec<u8>>,
    identity: IdentityHandle,
    trust: TrustHandle,
}

struct Generation<T> {
    generations: (u64, u64),
    value: T,
}

/// The value of the current (identity, trust) generation, made anew by `make` after a swap.
fn current_generation<T: Clone>(
    current: &ArcSwap<Generation<T>>,
    identity: &IdentityHandle,
    trust: &TrustHandle,
    make: impl FnOnce() -> Result<Generation<T>, Error>,
) -> io::Result<T> {
    let loaded = current.load();
    if loaded.generations == generations(identity, trust) {
        return Ok(loaded.value.clone());
    }
    let fresh = make().map_err(to_io)?;
    let value = fresh.value.clone();
    current.store(Arc::new(fresh));
    Ok(value)
}

impl ServerRecipe {
    fn make(&self) -> Result<Generation<tokio_rustls::TlsAcceptor>, Error> {
        let generations = generations(&self.identity, &self.trust);
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions(self.tls12))
            .map_err(config_error)?
            .with_client_cert_verifier(self.verifier.clone())
            .with_cert_resolver(Arc::new(Resolver(self.identity.clone())));
        config.alpn_protocols = self.alpn.clone();
        if self.resumption {
            config.session_storage =
                rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
            config.send_tls13_tickets = TLS13_TICKETS;
            // A client that asks for no tickets (one that does not resume) gets none: no
            // session minted, stored and sent for nothing after each of its handshakes.
            config.max_tls13_tickets = TLS13_TICKETS;
        } else {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        Ok(Generation {
            generations,
            value: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// The server side of mTLS: a rustls `ServerConfig` whose client verifier is the core's, plus
/// listener settings. Cheap to clone.
#[derive(Clone)]
pub struct MtlsServer {
    pub(crate) inner: Arc<ServerInner>,
}

pub(crate) struct ServerInner {
    recipe: ServerRecipe,
    current: ArcSwap<Generation<tokio_rustls::TlsAcceptor>>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_concurrent_handshakes: usize,
    pub(crate) bearer: Option<TokenValidator>,
    pub(crate) jwt: Option<JwtAuth>,
    pub(crate) client_cert_optional: bool,
    pub(crate) on_handshake_error: Option<FailureCallback>,
}

impl fmt::Debug for MtlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsServer")
            .field("handshake_timeout", &self.inner.handshake_timeout)
            .field("hybrid", &self.inner.bearer.is_some())
            .finish_non_exhaustive()
    }
}

impl MtlsServer {
    /// Start configuring a server that presents `identity` and verifies clients with `trust`.
    pub fn builder(identity: IdentityHandle, trust: TrustHandle) -> MtlsServerBuilder {
        MtlsServerBuilder {
            identity,
            trust,
            tls12: false,
            resumption: true,
            alpn: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_concurrent_handshakes: DEFAULT_MAX_CONCURRENT_HANDSHAKES,
            bearer: None,
            jwt: None,
            client_cert_optional: false,
            on_handshake_error: None,
        }
    }

    /// The rustls configuration, for use with another TLS stack integration.
    ///
    /// Note that a stream made with it directly skips the post-handshake identity pickup and the
    /// re-verification of resumed sessions that [`accept`](Self::accept) does.
    pub fn rustls_config(&self) -> io::Result<Arc<ServerConfig>> {
        Ok(self.acceptor()?.config().clone())
    }

    /// The identity this server presents.
    pub fn identity(&self) -> &IdentityHandle {
        &self.inner.recipe.identity
    }

    /// The trust this server verifies clients with.
    pub fn trust(&self) -> &TrustHandle {
        &self.inner.recipe.trust
    }

    /// The acceptor of the current (identity, trust) generation, made anew after a swap.
    fn acceptor(&self) -> io::Result<tokio_rustls::TlsAcceptor> {
        let recipe = &self.inner.recipe;
        current_generation(&self.inner.current, &recipe.identity, &recipe.trust, || {
            recipe.make()
        })
    }

    /// Run the server side of a handshake on an accepted TCP connection, within the handshake
    /// timeout. On success the stream carries the core's verdict on the client.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<MtlsStream> {
        match tokio::time::timeout(self.inner.handshake_timeout, self.accept_inner(tcp)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }

    async fn accept_inner(&self, tcp: TcpStream) -> io::Result<MtlsStream> {
        let _ = tcp.set_nodelay(true);
        let tls = KeepRejection(self.acceptor()?.accept(tcp)).await?;
        let (_, conn) = tls.get_ref();
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let peer = self
            .inner
            .recipe
            .verifier
            .peer_after_handshake(conn.peer_certificates(), resumed, now())
            .map_err(to_io)?;
        Ok(MtlsStream::new(tokio_rustls::TlsStream::Server(tls), peer))
    }

    pub(crate) fn report(&self, peer_addr: SocketAddr, error: io::Error) {
        if let Some(cb) = &self.inner.on_handshake_error {
            cb(&HandshakeFailure { peer_addr, error });
        }
    }
}

/// Options for [`MtlsClient`]; made by [`MtlsClient::builder`].
pub struct MtlsClientBuilder {
    identity: IdentityHandle,
    trust: TrustHandle,
    tls12: bool,
    resumption: bool,
    alpn: Vec<Vec<u8>>,
    handshake_timeout: Duration,
}

impl MtlsClientBuilder {
    /// Also offer TLS 1.2 (ECDHE + AEAD suites only). Off by default.
    pub fn allow_tls12(mut self, allow: bool) -> Self {
        self.tls12 = allow;
        self
    }

    /// Session resumption (on by default); the cache is dropped whenever identity or trust is
    /// replaced, and a resumed session's server chain is verified again.
    pub fn resumption(mut self, on: bool) -> Self {
        self.resumption = on;
        self
    }

    /// ALPN protocols to offer, most preferred first (none by default).
    pub fn alpn(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
    }

    /// How long [`MtlsClient::connect`] may take, TCP connect included (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Build the client.
    pub fn build(self) -> Result<MtlsClient, Error> {
        let provider = provider_for(self.tls12);
        let verifier = Arc::new(CoreCertVerifier::new(
            self.trust.clone(),
            PeerUsage::Server,
            true,
            provider.signature_verification_algorithms,
        ));
        let recipe = ClientRecipe {
            provider,
            verifier,
            tls12: self.tls12,
            resumption: self.resumption,
            alpn: self.alpn,
            identity: self.identity,
            trust: self.trust,
        };
        let current = ArcSwap::from_pointee(recipe.make()?);
        Ok(MtlsClient {
            inner: Arc::new(ClientInner {
                recipe,
                current,
                handshake_timeout: self.handshake_timeout,
            }),
        })
    }
}

/// The client's counterpart of [`ServerRecipe`]: one `ClientConfig` and session cache per
/// (identity, trust) generation.
struct ClientRecipe {
    provider: Arc<CryptoProvider>,
    verifier: Arc<CoreCertVerifier>,
    tls12: bool,
    resumption: bool,
    alpn: Vec<Vec<u8>>,
    identity: IdentityHandle,
    trust: TrustHandle,
}

impl ClientRecipe {
    fn make(&self) -> Result<Generation<tokio_rustls::TlsConnector>, Error> {
        let generations = generations(&self.identity, &self.trust);
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions(self.tls12))
            .map_err(config_error)?
            .dangerous()
            .with_custom_certificate_verifier(self.verifier.clone())
            .with_client_cert_resolver(Arc::new(Resolver(self.identity.clone())));
        config.alpn_protocols = self.alpn.clone();
        config.resumption = if self.resumption {
            rustls::client::Resumption::in_memory_sessions(SESSION_CACHE_SIZE)
        } else {
            rustls::client::Resumption::disabled()
        };
        if !self.resumption {
            // Tell the server not to mint tickets this client would throw away (RFC 9149;
            // servers that do not know the extension ignore it).
            config.send_ticket_request = Some(rustls::client::TicketRequest {
                new_session_count: 0,
                resumption_count: 0,
            });
        }
        Ok(Generation {
            generations,
            value: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }
}

/// The client side of mTLS: presents an identity, verifies the server with the core. Cheap to
/// clone; keep one per process so sessions can be resumed.
#[derive(Clone)]
pub struct MtlsClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    recipe: ClientRecipe,
    current: ArcSwap<Generation<tokio_rustls::TlsConnector>>,
    handshake_timeout: Duration,
}

impl fmt::Debug for MtlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsClient")
            .field("handshake_timeout", &self.inner.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl MtlsClient {
    /// Start configuring a client that presents `identity` and verifies servers with `trust`.
    pub fn builder(identity: IdentityHandle, trust: TrustHandle) -> MtlsClientBuilder {
        MtlsClientBuilder {
            identity,
            trust,
            tls12: false,
            resumption: true,
            alpn: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The rustls configuration, for use with another TLS stack integration (see the note on
    /// [`MtlsServer::rustls_config`]).
    pub fn rustls_config(&self) -> io::Result<Arc<ClientConfig>> {
        Ok(self.connector()?.config().clone())
    }

    /// The identity this client presents.
    pub fn identity(&self) -> &IdentityHandle {
        &self.inner.recipe.identity
    }

    /// The trust this client verifies servers with.
    pub fn trust(&self) -> &TrustHandle {
        &self.inner.recipe.trust
    }

    /// The connector of the current (identity, trust) generation, made anew after a swap.
    fn connector(&self) -> io::Result<tokio_rustls::TlsConnector> {
        let recipe = &self.inner.recipe;
        current_generation(&self.inner.current, &recipe.identity, &recipe.trust, || {
            recipe.make()
        })
    }

    /// Connect over TCP and run the handshake. `server_name` is sent as SNI (a DNS name or an IP
    /// address); whether the server is acceptable is the core policy's decision.
    pub async fn connect(
        &self,
        addr: impl ToSocketAddrs,
        server_name: &str,
    ) -> io::Result<MtlsStream> {
        let name = server_name_of(server_name)?;
        let work = async {
            let tcp = TcpStream::connect(addr).await?;
            self.handshake(tcp, name).await
        };
        match tokio::time::timeout(self.inner.handshake_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS connect timed out",
            )),
        }
    }

    /// [`connect`](Self::connect), then [`MtlsStream::verdict`]: waits up to `wait` for the
    /// server's verdict on our certificate, so that a TLS 1.3 refusal (an alert after our
    /// side of the handshake) fails here with its code instead of on the first read.
    pub async fn connect_verified(
        &self,
        addr: impl ToSocketAddrs,
        server_name: &str,
        wait: Duration,
    ) -> io::Result<MtlsStream> {
        let mut stream = self.connect(addr, server_name).await?;
        stream.verdict(wait).await?;
        Ok(stream)
    }

    /// Run the client side of a handshake on a connected TCP stream (no timeout applied).
    pub async fn connect_tcp(&self, tcp: TcpStream, server_name: &str) -> io::Result<MtlsStream> {
        let name = server_name_of(server_name)?;
        self.handshake(tcp, name).await
    }

    async fn handshake(&self, tcp: TcpStream, name: ServerName<'static>) -> io::Result<MtlsStream> {
        let _ = tcp.set_nodelay(true);
        let tls = KeepRejection(self.connector()?.connect(name, tcp)).await?;
        let (_, conn) = tls.get_ref();
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let peer = self
            .inner
            .recipe
            .verifier
            .peer_after_handshake(conn.peer_certificates(), resumed, now())
            .map_err(to_io)?;
        Ok(MtlsStream::new(tokio_rustls::TlsStream::Client(tls), peer))
    }
}

fn server_name_of(s: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(s.to_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            Error::new(ErrorCode::InvalidRequest, format!("server name {s:?}: {e}")),
        )
    })
}
