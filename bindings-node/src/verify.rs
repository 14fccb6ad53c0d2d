//! Verification (core `verify`): trust bundles, identity policies and the verifier.

use chrono::{DateTime, Utc};
use meshtls_core::{
    Fingerprint, IdPattern, PeerIdentity as CorePeerIdentity, PeerUsage, Policy as CorePolicy,
    RevocationPolicy, SpiffeId, TrustBundle as CoreTrustBundle, TrustDomain,
    Verifier as CoreVerifier, VerifyOptions as CoreVerifyOptions,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::encoding::{bundle_bytes, Input};
use crate::error::{edge, IntoJs};
use crate::revocation::Crl;
use crate::validity::{at, duration, to_date};

/// The CA certificates a verifier trusts (several during a CA rotation) and the CRLs it checks.
#[napi]
#[derive(Clone)]
pub struct TrustBundle {
    pub(crate) inner: CoreTrustBundle,
}

#[napi]
impl TrustBundle {
    /// A bundle of every certificate in `pem` (PEM text, PEM/DER bytes, or the path of a PEM
    /// file); empty without one.
    #[napi(constructor, catch_unwind)]
    pub fn new(pem: Option<Input>) -> napi::Result<Self> {
        Ok(TrustBundle {
            inner: match pem {
                Some(p) => CoreTrustBundle::from_pem(&bundle_bytes(&p)?).js()?,
                None => CoreTrustBundle::new(),
            },
        })
    }

    /// A bundle of every certificate in the input.
    #[napi(factory, catch_unwind)]
    pub fn from_pem(pem: Input) -> napi::Result<Self> {
        Self::new(Some(pem))
    }

    /// Adds CA certificates (PEM text, PEM/DER bytes, or a file path). A non-CA certificate is
    /// refused.
    #[napi(catch_unwind)]
    pub fn add_ca(&mut self, cert: Input) -> napi::Result<()> {
        self.inner.add_ca_pem(&bundle_bytes(&cert)?).js()
    }

    /// Adds a CRL (PEM or DER, or a file path); a newer CRL of the same issuer replaces the held one, an older
    /// one (or another with the same number) is `stale_crl`, one without CRLNumber `invalid_crl`.
    #[napi(catch_unwind)]
    pub fn add_crl(&mut self, crl: Input) -> napi::Result<()> {
        self.inner.add_crl(&bundle_bytes(&crl)?).js()
    }

    /// Removes the CA with this SHA-256 certificate fingerprint (hex); whether it was there.
    #[napi(catch_unwind)]
    pub fn remove_ca(&mut self, fingerprint: String) -> napi::Result<bool> {
        Ok(self
            .inner
            .remove_ca(&Fingerprint::from_hex(&fingerprint).js()?))
    }

    /// Drops CAs expired at `at` (default now); how many were dropped.
    #[napi(catch_unwind)]
    pub fn prune_expired(&mut self, at_time: Option<DateTime<Utc>>) -> u32 {
        self.inner.prune_expired(at(at_time)) as u32
    }

    /// A new bundle with the CAs and CRLs of both (CA rotation overlap).
    #[napi(catch_unwind)]
    pub fn merged(&self, other: &TrustBundle) -> TrustBundle {
        TrustBundle {
            inner: self.inner.merged(&other.inner),
        }
    }

    /// The CA certificates.
    #[napi(getter, catch_unwind)]
    pub fn cas(&self) -> Vec<Certificate> {
        self.inner
            .cas()
            .map(|c| Certificate::new(c.clone()))
            .collect()
    }

    /// The CRLs.
    #[napi(getter, catch_unwind)]
    pub fn crls(&self) -> Vec<Crl> {
        self.inner
            .crls()
            .iter()
            .map(|c| Crl::new(c.clone()))
            .collect()
    }

    /// The CA certificates given to the bundle that it cannot use as trust anchors (an
    /// unknown critical extension...), with why: skipped, not fatal to the bundle.
    #[napi(getter, catch_unwind)]
    pub fn skipped(&self) -> Vec<SkippedCa> {
        self.inner
            .skipped()
            .iter()
            .map(|s| SkippedCa {
                subject: s.subject.clone(),
                fingerprint: s.fingerprint.to_hex(),
                code: s.reason.code().as_str().to_string(),
                message: s.reason.message().to_string(),
            })
            .collect()
    }

    /// The CA certificates as PEM (what Node's `ca` option takes).
    #[napi(catch_unwind)]
    pub fn to_pem(&self) -> String {
        self.inner.to_pem()
    }

    /// How many CA certificates.
    #[napi(getter, catch_unwind)]
    pub fn length(&self) -> u32 {
        self.inner.len() as u32
    }
}

/// A CA certificate a trust bundle skipped, and why.
#[napi(object)]
pub struct SkippedCa {
    /// Its subject.
    pub subject: String,
    /// SHA-256 of its DER, hex.
    pub fingerprint: String,
    /// Why, as an error code (`unknown_critical_extension`...).
    pub code: String,
    /// Why, in words.
    pub message: String,
}

/// Who may connect (`new Policy({...})`). A peer passes when it matches one identity rule (or
/// `allowAny`) and, when pins are set, one of the pins. A policy that allows nobody is
/// `invalid_request`: meshtls fails closed.
#[napi(object)]
pub struct PolicyOptions {
    /// Exact SPIFFE IDs.
    pub allow_ids: Option<Vec<String>>,
    /// ID patterns (`spiffe://mesh.internal/service/*`, `.../**`).
    pub allow_patterns: Option<Vec<String>>,
    /// Whole trust domains (`mesh.internal`).
    pub allow_trust_domains: Option<Vec<String>>,
    /// DNS names (or IP addresses) the certificate must be valid for.
    pub allow_dns: Option<Vec<String>>,
    /// SHA-256 fingerprints (hex) of allowed certificates.
    pub pin_certs: Option<Vec<String>>,
    /// SHA-256 fingerprints (hex) of allowed SubjectPublicKeyInfos.
    pub pin_spkis: Option<Vec<String>>,
    /// Any identity the bundle vouches for.
    pub allow_any: Option<bool>,
    /// Clock leeway at both ends of validity: seconds or text such as `"30s"` (default 0).
    pub clock_leeway: Option<Either<f64, String>>,
    /// The most intermediates between leaf and anchor (default 4).
    pub max_intermediates: Option<u32>,
}

/// An immutable identity policy.
#[napi]
#[derive(Clone)]
pub struct Policy {
    pub(crate) inner: CorePolicy,
}

#[napi]
impl Policy {
    /// Builds a policy from its rules.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: PolicyOptions) -> napi::Result<Self> {
        let mut b = CorePolicy::builder();
        for id in options.allow_ids.unwrap_or_default() {
            b = b.allow_id(SpiffeId::parse(&id).js()?);
        }
        for p in options.allow_patterns.unwrap_or_default() {
            b = b.allow_pattern(IdPattern::parse(&p).js()?);
        }
        for td in options.allow_trust_domains.unwrap_or_default() {
            b = b.allow_trust_domain(TrustDomain::new(&td).js()?);
        }
        for name in options.allow_dns.unwrap_or_default() {
            b = b.allow_dns(name);
        }
        for fp in options.pin_certs.unwrap_or_default() {
            b = b.pin_cert(Fingerprint::from_hex(&fp).js()?);
        }
        for fp in options.pin_spkis.unwrap_or_default() {
            b = b.pin_spki(Fingerprint::from_hex(&fp).js()?);
        }
        if options.allow_any.unwrap_or(false) {
            b = b.allow_any();
        }
        if let Some(leeway) = options.clock_leeway {
            b = b.clock_leeway(duration(leeway)?);
        }
        if let Some(n) = options.max_intermediates {
            b = b.max_intermediates(n as usize);
        }
        Ok(Policy {
            inner: b.build().js()?,
        })
    }

    /// Any peer the bundle vouches for (still subject to the SVID rules).
    #[napi(factory, catch_unwind)]
    pub fn allow_any() -> Self {
        Policy {
            inner: CorePolicy::allow_any(),
        }
    }

    /// The clock leeway in seconds (default 0).
    #[napi(getter, catch_unwind)]
    pub fn clock_leeway(&self) -> f64 {
        self.inner.clock_leeway().as_secs_f64()
    }

    /// The most intermediates a path may hold (default 4).
    #[napi(getter, catch_unwind)]
    pub fn max_intermediates(&self) -> u32 {
        u32::try_from(self.inner.max_intermediates()).unwrap_or(u32::MAX)
    }
}

/// Revocation checking, used when the bundle holds CRLs.
#[napi(object)]
pub struct RevocationOptions {
    /// Reject when no CRL covers a certificate in the path (default true: fail closed).
    pub require_crl: Option<bool>,
    /// Reject when the covering CRL is past its nextUpdate (default true).
    pub reject_stale_crl: Option<bool>,
    /// Check the leaf only (default false: the whole path).
    pub leaf_only: Option<bool>,
}

/// Tunables of a `Verifier` (core defaults when omitted; clock leeway and path depth are
/// `Policy` settings).
#[napi(object)]
pub struct VerifierOptions {
    /// Revocation checking.
    pub revocation: Option<RevocationOptions>,
}

/// How to verify one chain.
#[napi(object)]
pub struct VerifyOptions {
    /// The role the peer plays: `client` (needs clientAuth) or `server` (needs serverAuth).
    pub usage: String,
    /// Verification time (default now).
    pub at: Option<DateTime<Utc>>,
}

/// Who the peer is, once verified.
#[napi(object)]
pub struct PeerIdentity {
    /// The SPIFFE ID (absent for a leaf allowed by a DNS rule or a pin without one).
    pub spiffe_id: Option<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// Subject common name.
    pub common_name: Option<String>,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the leaf DER, hex.
    pub fingerprint: String,
    /// SHA-256 of the leaf SubjectPublicKeyInfo, hex.
    pub spki_fingerprint: String,
    /// Subject of the trust anchor the path ends at.
    pub anchor_subject: String,
}

/// A core peer identity as a JavaScript object.
pub fn peer_identity(p: CorePeerIdentity) -> PeerIdentity {
    PeerIdentity {
        spiffe_id: p.spiffe_id.map(|id| id.to_string()),
        dns_names: p.dns_names,
        common_name: p.common_name,
        serial: p.serial.to_hex(),
        not_before: to_date(p.not_before),
        not_after: to_date(p.not_after),
        fingerprint: p.fingerprint.to_hex(),
        spki_fingerprint: p.spki_fingerprint.to_hex(),
        anchor_subject: p.anchor_subject,
    }
}

/// `client` or `server`.
pub fn peer_usage(usage: &str) -> napi::Result<PeerUsage> {
    usage
        .parse::<PeerUsage>()
        .map_err(|e| edge(e.code(), e.message()))
}

/// Decides whether a presented chain is acceptable: a trust bundle, a policy and options.
#[napi]
pub struct Verifier {
    pub(crate) inner: CoreVerifier,
}

/// A chain: PEM text, PEM/DER bytes, or DER certificates leaf first (Node's `cert.raw`).
#[napi]
pub type ChainInput = Either3<String, Uint8Array, Vec<Uint8Array>>;

pub(crate) fn chain_ders(chain: &ChainInput) -> napi::Result<Vec<Vec<u8>>> {
    match chain {
        Either3::A(s) => meshtls_core::encoding::parse_certificates(s.as_bytes()).js(),
        Either3::B(b) => meshtls_core::encoding::parse_certificates(b).js(),
        Either3::C(list) => Ok(list.iter().map(|d| d.to_vec()).collect()),
    }
}

#[napi]
impl Verifier {
    /// A verifier of the bundle and policy.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        bundle: &TrustBundle,
        policy: &Policy,
        options: Option<VerifierOptions>,
    ) -> napi::Result<Self> {
        let mut o = CoreVerifyOptions::default();
        if let Some(opts) = options {
            if let Some(r) = opts.revocation {
                let d = RevocationPolicy::default();
                o.revocation = RevocationPolicy {
                    require_crl: r.require_crl.unwrap_or(d.require_crl),
                    reject_stale_crl: r.reject_stale_crl.unwrap_or(d.reject_stale_crl),
                    leaf_only: r.leaf_only.unwrap_or(d.leaf_only),
                };
            }
        }
        Ok(Verifier {
            inner: CoreVerifier::with_options(bundle.inner.clone(), policy.inner.clone(), o),
        })
    }

    /// Verifies a chain (leaf first) for the peer's role; returns who the peer is, or throws
    /// an `Error` whose `code` says why not (`expired`, `unknown_issuer`, `revoked`...).
    #[napi(catch_unwind)]
    pub fn verify(&self, chain: ChainInput, options: VerifyOptions) -> napi::Result<PeerIdentity> {
        let usage = peer_usage(&options.usage)?;
        let ders = chain_ders(&chain)?;
        self.inner
            .verify(&ders, usage, at(options.at))
            .map(peer_identity)
            .js()
    }

    /// The trust bundle.
    #[napi(getter, catch_unwind)]
    pub fn bundle(&self) -> TrustBundle {
        TrustBundle {
            inner: self.inner.bundle().clone(),
        }
    }

    /// The policy.
    #[napi(getter, catch_unwind)]
    pub fn policy(&self) -> Policy {
        Policy {
            inner: self.inner.policy().clone(),
        }
    }
}
