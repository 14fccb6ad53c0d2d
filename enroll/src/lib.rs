//! meshtls-enroll: the enrollment CA service of meshtls. Its client lives in the transport
//! crate ([`meshtls_net::enroll`], re-exported here as [`client`]) so nodes need no ledger code.
//!
//! A node gets its first certificate by presenting a one-time join token and a CSR (its key
//! never leaves it), renews over mTLS with its current certificate, and fetches the CRL and
//! trust bundle from the CA. Every issuance, renewal and revocation is in the ledger
//! ([`store::Store`]: SQLite embedded, PostgreSQL shared by replicas) before the answer goes
//! out. The HTTP API is in `openapi.yaml` beside this crate.
//!
//! Certificate rules are `meshtls-core`'s; TLS is `meshtls-net`'s.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ledger;
pub mod metrics;
pub mod service;
pub mod store;
pub mod token;

pub use meshtls_net::enroll as client;
pub use meshtls_net::enroll::api;

pub use client::{enroll, resume, EnrollError, EnrollOptions, EnrolledIdentity};
pub use service::{service_id, CaService, RunningService, ServiceConfig, ServiceError};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
pub use store::{SqliteStore, Store, StoreError};
