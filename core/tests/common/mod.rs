//! Shared helpers for the core's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use meshtls_core::{
    Authority, IssueRequest, Issued, Policy, RootParams, SpiffeId, Timestamp, TrustBundle,
    TrustDomain, Verifier,
};

/// A fixed "now" so that every test is reproducible: 2026-09-21T14:13:20Z.
pub const NOW: Timestamp = Timestamp::from_unix(1_790_000_000);
pub const HOUR: Duration = Duration::from_secs(3600);
pub const DAY: Duration = Duration::from_secs(86_400);

pub fn td() -> TrustDomain {
    TrustDomain::new("mesh.internal").unwrap()
}

pub fn id(name: &str) -> SpiffeId {
    SpiffeId::service(&td(), name).unwrap()
}

pub fn root() -> Authority {
    Authority::create_root(&RootParams::new(td()), NOW.sub(DAY)).unwrap()
}

pub fn issue(ca: &Authority, name: &str) -> Issued {
    ca.issue(&IssueRequest::new(id(name)), NOW).unwrap()
}

pub fn bundle_of(ca: &Authority) -> TrustBundle {
    TrustBundle::from_pem(ca.root_pem().as_bytes()).unwrap()
}

pub fn verifier_for(ca: &Authority, policy: Policy) -> Verifier {
    Verifier::new(bundle_of(ca), policy)
}

pub fn any_in_domain() -> Policy {
    Policy::builder().allow_trust_domain(td()).build().unwrap()
}
