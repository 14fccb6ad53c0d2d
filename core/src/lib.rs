//! meshtls-core: the PKI core of meshtls.
//!
//! One implementation of the rules every meshtls binding shares: SPIFFE-like identities, an
//! internal certificate authority, issuance, verification against a trust bundle with an identity
//! policy, revocation lists and the rotation policy. The crate is pure: no I/O, no clock, no
//! global state. Time is always an argument ([`Timestamp`]); only the edges read the clock.
//!
//! ```
//! use meshtls_core::{Authority, RootParams, IssueRequest, Policy, SpiffeId, TrustBundle,
//!                    TrustDomain, Verifier, Timestamp, PeerUsage};
//!
//! let now = Timestamp::from_unix(1_790_000_000);
//! let td = TrustDomain::new("mesh.internal")?;
//! let ca = Authority::create_root(&RootParams::new(td.clone()), now)?;
//! let id = SpiffeId::parse("spiffe://mesh.internal/service/user-svc")?;
//! let issued = ca.issue(&IssueRequest::new(id.clone()), now)?;
//!
//! let bundle = TrustBundle::from_pem(ca.certificate_pem().as_bytes())?;
//! let policy = Policy::builder().allow_id(id.clone()).build()?;
//! let verifier = Verifier::new(bundle, policy);
//! let peer = verifier.verify_pem(issued.chain_pem.as_bytes(), PeerUsage::Client, now)?;
//! assert_eq!(peer.spiffe_id.as_ref(), Some(&id));
//! # Ok::<(), meshtls_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithms;
pub mod authority;
mod backend;
pub mod certificate;
pub mod encoding;
pub mod error;
pub mod grant;
pub mod hostname;
pub mod identity;
pub mod issuance_policy;
pub mod issue;
pub mod jwt;
pub mod revocation;
pub mod rotation;
pub mod validity;
pub mod verify;

pub use authority::{Authority, IntermediateParams, KeyAlgorithm, RootParams};
pub use certificate::{Certificate, Fingerprint, Serial};
pub use encoding::{Pkcs12Profile, PrivateKeyPem};
pub use error::{Error, ErrorCode, ErrorFamily};
pub use grant::{Grant, GrantKind, Reserved};
pub use identity::{IdPattern, SpiffeId, TrustDomain};
pub use issue::{
    check_lifetime, create_csr, create_csr_with_key, generate_key, parse_ip, GeneratedCsr,
    IssueRequest, Issued, KeySource, Usage, MAX_LIFETIME, MIN_LIFETIME,
};

pub use revocation::{Crl, CrlParams, RevocationList, RevocationReason, RevokedEntry};
pub use rotation::{RenewTrigger, RotationPolicy, RotationStatus};
pub use validity::Timestamp;
pub use verify::{
    PeerIdentity, PeerUsage, Policy, PolicyBuilder, RevocationPolicy, SkippedCa, TrustBundle,
    Verifier, VerifyOptions,
};
