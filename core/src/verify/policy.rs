//! The policy: who may connect, and the two settings of path validation that belong to it
//! (clock leeway, path depth).

use std::collections::BTreeSet;
use std::time::Duration;

use pki_types::ServerName;
use webpki::EndEntityCert;

use crate::certificate::{Certificate, Fingerprint};
use crate::error::{Error, ErrorCode, Result};
use crate::identity::{IdPattern, SpiffeId, TrustDomain};

use super::TrustBundle;

/// Who may connect. Build with [`Policy::builder`]; a built policy is immutable.
///
/// A peer passes when (1) it matches at least one identity rule — an ID or pattern for its
/// SPIFFE ID, or a DNS name — or the policy allows any identity, and (2) when pins are set,
/// its certificate or SPKI SHA-256 is one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    patterns: Vec<IdPattern>,
    dns_names: Vec<String>,
    cert_pins: BTreeSet<Fingerprint>,
    spki_pins: BTreeSet<Fingerprint>,
    any: bool,
    clock_leeway: Duration,
    max_intermediates: usize,
}

/// The most intermediates a path may hold unless the policy says otherwise.
pub const DEFAULT_MAX_INTERMEDIATES: usize = 4;

/// Builds a [`Policy`].
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    patterns: Vec<IdPattern>,
    dns_names: Vec<String>,
    cert_pins: BTreeSet<Fingerprint>,
    spki_pins: BTreeSet<Fingerprint>,
    any: bool,
    clock_leeway: Duration,
    max_intermediates: usize,
}

impl Default for PolicyBuilder {
    fn default() -> Self {
        PolicyBuilder {
            patterns: Vec::new(),
            dns_names: Vec::new(),
            cert_pins: BTreeSet::new(),
            spki_pins: BTreeSet::new(),
            any: false,
            clock_leeway: Duration::ZERO,
            max_intermediates: DEFAULT_MAX_INTERMEDIATES,
        }
    }
}

impl Policy {
    /// A new builder.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Any peer the bundle vouches for (still subject to the SVID rules).
    pub fn allow_any() -> Policy {
        Policy {
            patterns: Vec::new(),
            dns_names: Vec::new(),
            cert_pins: BTreeSet::new(),
            spki_pins: BTreeSet::new(),
            any: true,
            clock_leeway: Duration::ZERO,
            max_intermediates: DEFAULT_MAX_INTERMEDIATES,
        }
    }

    /// The clock leeway tolerated at both ends of every certificate's validity (default
    /// zero: the rotation margin, not the verifier, absorbs clock drift).
    pub fn clock_leeway(&self) -> Duration {
        self.clock_leeway
    }

    /// The most intermediates a path may hold between the leaf and the trust anchor
    /// (default 4).
    pub fn max_intermediates(&self) -> usize {
        self.max_intermediates
    }

    /// Whether a token's subject passes the policy: the policy allows any identity, or one of
    /// its IDs, patterns or trust domains matches. DNS names and pins describe certificates, so
    /// a policy made only of them allows no token (tokens fail closed).
    pub fn allows_token_subject(&self, id: &SpiffeId) -> bool {
        self.any || self.patterns.iter().any(|p| p.matches(id))
    }

    pub(super) fn check(&self, leaf: &Certificate, end_entity: &EndEntityCert<'_>) -> Result<()> {
        let identity_ok = self.any
            || (self.patterns.is_empty() && self.dns_names.is_empty())
            || leaf
                .spiffe_id
                .as_ref()
                .is_some_and(|id| self.patterns.iter().any(|p| p.matches(id)))
            || self.dns_names.iter().any(|name| {
                ServerName::try_from(name.as_str())
                    .map(|sn| end_entity.verify_is_valid_for_subject_name(&sn).is_ok())
                    .unwrap_or(false)
            });
        if !identity_ok {
            let who = leaf
                .spiffe_id
                .as_ref()
                .map(|id| id.to_string())
                .or_else(|| leaf.dns_names.first().cloned())
                .unwrap_or_else(|| leaf.subject.clone());
            return Err(Error::new(
                ErrorCode::IdentityNotAllowed,
                format!("{who} is not allowed by the policy"),
            ));
        }
        if (!self.cert_pins.is_empty() || !self.spki_pins.is_empty())
            && !self.cert_pins.contains(&leaf.fingerprint)
            && !self.spki_pins.contains(&leaf.spki_fingerprint)
        {
            return Err(Error::new(
                ErrorCode::NotPinned,
                format!("certificate {} matches none of the pins", leaf.fingerprint),
            ));
        }
        Ok(())
    }
}

impl PolicyBuilder {
    /// Allows exactly this SPIFFE ID.
    pub fn allow_id(mut self, id: SpiffeId) -> Self {
        self.patterns.push(IdPattern::exact(&id));
        self
    }

    /// Allows IDs matching the pattern.
    pub fn allow_pattern(mut self, pattern: IdPattern) -> Self {
        self.patterns.push(pattern);
        self
    }

    /// Allows every member of the trust domain.
    pub fn allow_trust_domain(mut self, td: TrustDomain) -> Self {
        self.patterns.push(IdPattern::trust_domain_member(&td));
        self
    }

    /// Allows every member of the trust domains the bundle's CAs name: "anyone my CAs vouch
    /// for, within their own domains". A bundle whose CAs name no trust domain adds nothing
    /// (and `build` then fails closed unless another rule was given).
    pub fn allow_bundle_trust_domains(mut self, bundle: &TrustBundle) -> Self {
        for td in bundle.trust_domains() {
            self.patterns.push(IdPattern::trust_domain_member(&td));
        }
        self
    }

    /// Allows a peer whose certificate is valid for this DNS name (or IP address).
    pub fn allow_dns(mut self, name: impl Into<String>) -> Self {
        self.dns_names.push(name.into());
        self
    }

    /// Requires the certificate's SHA-256 to be pinned (any one of the pins).
    pub fn pin_cert(mut self, fp: Fingerprint) -> Self {
        self.cert_pins.insert(fp);
        self
    }

    /// Requires the SubjectPublicKeyInfo's SHA-256 to be pinned (survives re-issuance
    /// with the same key).
    pub fn pin_spki(mut self, fp: Fingerprint) -> Self {
        self.spki_pins.insert(fp);
        self
    }

    /// Allows any identity the bundle vouches for.
    pub fn allow_any(mut self) -> Self {
        self.any = true;
        self
    }

    /// Tolerates this much clock difference at both ends of validity (default zero). Keep it
    /// small: a certificate is renewed well before it expires, so drift is absorbed there.
    pub fn clock_leeway(mut self, leeway: Duration) -> Self {
        self.clock_leeway = leeway;
        self
    }

    /// The most intermediates between the leaf and the trust anchor (default 4).
    pub fn max_intermediates(mut self, n: usize) -> Self {
        self.max_intermediates = n;
        self
    }

    /// Builds the policy. A policy that allows nobody — no identity rule, no pin and no
    /// `allow_any` — is `invalid_request`: meshtls fails closed, never open.
    pub fn build(self) -> Result<Policy> {
        for name in &self.dns_names {
            ServerName::try_from(name.as_str()).map_err(|_| {
                Error::invalid_request(format!("{name:?} is not a DNS name or IP address"))
            })?;
        }
        if !self.any
            && self.patterns.is_empty()
            && self.dns_names.is_empty()
            && self.cert_pins.is_empty()
            && self.spki_pins.is_empty()
        {
            return Err(Error::invalid_request(
                "the policy allows nobody: add an ID, pattern, trust domain, DNS name or pin, or allow_any()",
            ));
        }
        Ok(Policy {
            patterns: self.patterns,
            dns_names: self.dns_names,
            cert_pins: self.cert_pins,
            spki_pins: self.spki_pins,
            any: self.any,
            clock_leeway: self.clock_leeway,
            max_intermediates: self.max_intermediates,
        })
    }
}
