//! meshtls-net: the transport edge of meshtls.
//!
//! rustls configurations built from a meshtls [`Identity`] and a core
//! [`Verifier`](meshtls_core::Verifier), with the core's verdict enforced *during* the TLS
//! handshake; hot-swappable identity and trust; a tokio mTLS listener and connector; a
//! rotation driver; WebSocket (`wss://`) over mTLS; and the [`enroll`] client of the CA
//! service (join token, then renewal over mTLS, bundle and CRL refreshed on a schedule).
//!
//! Certificate rules live in `meshtls-core` only: this crate never validates a path or an
//! identity itself, it asks [`Verifier::verify`](meshtls_core::Verifier::verify) with the whole
//! presented chain and the wall clock, and carries the core's error code through rustls so a
//! failed handshake can be told apart by [`error_code`].
//!
//! Defaults: TLS 1.3 only, aws-lc-rs with X25519MLKEM768 offered first, client certificates
//! required, session resumption on. TLS 1.2 is opt-in and then only ECDHE + AEAD suites.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use meshtls_core::{Authority, IssueRequest, Policy, RootParams, SpiffeId, Timestamp,
//!                    TrustBundle, TrustDomain, Verifier};
//! use meshtls_net::{Identity, IdentityHandle, MtlsClient, MtlsListener, MtlsServer, TrustHandle};
//!
//! let now = Timestamp::from_unix(1_790_000_000);
//! let ca = Authority::create_root(&RootParams::new(TrustDomain::new("mesh.internal")?), now)?;
//! let issued = ca.issue(&IssueRequest::new(SpiffeId::parse("spiffe://mesh.internal/service/a")?)
//!     .with_dns(["localhost"]), now)?;
//! let bundle = TrustBundle::from_pem(ca.certificate_pem().as_bytes())?;
//! let trust = TrustHandle::new(Verifier::new(bundle, Policy::builder().allow_any().build()?));
//! let identity = IdentityHandle::new(Identity::from_issued(&issued)?);
//!
//! let server = MtlsServer::builder(identity.clone(), trust.clone()).build()?;
//! let mut listener = MtlsListener::bind("127.0.0.1:0", server).await?;
//! let addr = listener.local_addr();
//! tokio::spawn(async move {
//!     while let Ok(stream) = listener.accept().await {
//!         println!("peer {:?}", stream.peer_identity().and_then(|p| p.spiffe_id.as_ref()));
//!     }
//! });
//! let client = MtlsClient::builder(identity, trust).build()?;
//! let stream = client.connect(addr, "localhost").await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod enroll;
pub mod error;
pub mod identity;
pub mod jwt;
pub mod listener;
pub mod profile;
pub mod rotation;
pub mod stream;
pub mod trust;
mod verify;
pub mod ws;

pub use config::{MtlsClient, MtlsClientBuilder, MtlsServer, MtlsServerBuilder};
pub use error::{error_code, HandshakeFailure};
pub use identity::{Identity, IdentityHandle};
pub use jwt::JwtAuth;
pub use listener::MtlsListener;
pub use rotation::{RenewError, RotationDriver, RotationEvent, RotationTask};
pub use stream::MtlsStream;
pub use trust::TrustHandle;
pub use verify::server_cert_verifier;
pub use ws::{BearerPeer, TokenValidator, WsListener, WsPeer, WsStream};
