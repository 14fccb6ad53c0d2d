//! Verification: a chain against a trust bundle (rustls-webpki does the path building and
//! signature checks), the stricter profile meshtls adds (`profile`: key and signature
//! strength, key identifiers, critical basicConstraints, serial numbers, name syntax, anchors
//! inside their validity), then revocation, the X509-SVID leaf rules and the identity policy.

mod profile;

use std::collections::BTreeSet;
use std::time::Duration;

use pki_types::{CertificateDer, ServerName, TrustAnchor};
use webpki::{CertRevocationList, EndEntityCert, KeyUsage, RevocationOptionsBuilder};

use crate::backend::SIGNATURE_ALGORITHMS;
use crate::certificate::{Certificate, Fingerprint, Serial};
use crate::encoding;
use crate::error::{Error, ErrorCode, Result};
use crate::identity::{IdPattern, SpiffeId, TrustDomain};
use crate::revocation::Crl;
use crate::validity::Timestamp;

/// The role the verified peer plays, which decides the extended key usage it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerUsage {
    /// The peer is a TLS client: it needs clientAuth.
    Client,
    /// The peer is a TLS server: it needs serverAuth.
    Server,
}

impl PeerUsage {
    /// `client` or `server`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PeerUsage::Client => "client",
            PeerUsage::Server => "server",
        }
    }
}

impl std::str::FromStr for PeerUsage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "client" => Ok(PeerUsage::Client),
            "server" => Ok(PeerUsage::Server),
            _ => Err(Error::invalid_request(format!(
                "peer usage {s:?}: use client or server"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
struct BundleCa {
    cert: Certificate,
    anchor: TrustAnchor<'static>,
    trust_domain: Option<TrustDomain>,
    /// Why a path ending at this anchor is refused (a weak key, a profile breach).
    flaw: Option<Error>,
}

/// A CA certificate a bundle was given but cannot use as a trust anchor, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCa {
    /// Its subject.
    pub subject: String,
    /// SHA-256 of its DER.
    pub fingerprint: Fingerprint,
    /// Why it is skipped (`unknown_critical_extension`...).
    pub reason: Error,
}

/// The CA certificates a verifier trusts (several during a CA rotation) and the CRLs it
/// checks.
#[derive(Debug, Clone, Default)]
pub struct TrustBundle {
    cas: Vec<BundleCa>,
    crls: Vec<Crl>,
    skipped: Vec<SkippedCa>,
}

impl TrustBundle {
    /// An empty bundle (it trusts nothing until a CA is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// A bundle of every certificate in the PEM (or the one DER certificate).
    pub fn from_pem(input: &[u8]) -> Result<Self> {
        let mut b = TrustBundle::new();
        for der in encoding::parse_certificates(input)? {
            b.add_ca_der(&der)?;
        }
        Ok(b)
    }

    /// Adds a CA certificate (DER). Adding one already present changes nothing. A CA the
    /// verifier cannot use as an anchor (an unknown critical extension) is not an error: it is
    /// skipped and listed by [`TrustBundle::skipped`], so one bad CA does not make the whole
    /// bundle unusable.
    pub fn add_ca_der(&mut self, der: &[u8]) -> Result<()> {
        let cert = Certificate::from_der_lenient(der)?;
        if !cert.is_ca {
            return Err(Error::invalid_request(format!(
                "{} is not a CA certificate: a trust bundle holds CAs",
                cert.subject
            )));
        }
        if self
            .cas
            .iter()
            .any(|c| c.cert.fingerprint == cert.fingerprint)
            || self
                .skipped
                .iter()
                .any(|s| s.fingerprint == cert.fingerprint)
        {
            return Ok(());
        }
        if let Some(reason) = profile::unusable_anchor(&cert) {
            self.skipped.push(SkippedCa {
                subject: cert.subject.clone(),
                fingerprint: cert.fingerprint,
                reason,
            });
            return Ok(());
        }
        let flaw = profile::strength(&cert, profile::Role::Anchor)
            .or_else(|| profile::check(&cert, profile::Role::Anchor));
        let anchor = match webpki::anchor_from_trusted_cert(&CertificateDer::from(der)) {
            Ok(a) => a.to_owned(),
            Err(e) => {
                // It decodes as a certificate but the path builder cannot use it: skipped.
                self.skipped.push(SkippedCa {
                    subject: cert.subject.clone(),
                    fingerprint: cert.fingerprint,
                    reason: Error::unsupported(format!("unusable trust anchor: {e:?}")),
                });
                return Ok(());
            }
        };
        let trust_domain = match cert.uris.as_slice() {
            [uri] => TrustDomain::parse_lenient(uri).ok(),
            _ => None,
        };
        self.cas.push(BundleCa {
            cert,
            anchor,
            trust_domain,
            flaw,
        });
        Ok(())
    }

    /// The CA certificates given to the bundle that it cannot use as trust anchors, with why.
    pub fn skipped(&self) -> &[SkippedCa] {
        &self.skipped
    }

    /// Adds every CA certificate of the PEM.
    pub fn add_ca_pem(&mut self, input: &[u8]) -> Result<()> {
        for der in encoding::parse_certificates(input)? {
            self.add_ca_der(&der)?;
        }
        Ok(())
    }

    /// Adds a CRL (DER), or every CRL of a PEM document (one per CA during a CA rotation).
    ///
    /// Each CRL must carry a non-critical CRLNumber (`invalid_crl`), and its issuer, when it is
    /// a CA of this bundle with a keyUsage extension, must have cRLSign (`invalid_crl`). A CRL
    /// of an issuer (same name and key identifier) the bundle already holds a CRL for replaces
    /// it when its number is higher; the identical CRL again changes nothing; a lower number,
    /// or the same number with other content, is `stale_crl` and the held CRL is kept (a
    /// rollback to an older CRL would un-revoke certificates). Nothing is added unless every
    /// CRL of the input is accepted.
    pub fn add_crl(&mut self, input: &[u8]) -> Result<()> {
        let crls = encoding::parse_crls(input)?
            .iter()
            .map(|der| Crl::from_pem_or_der(der))
            .collect::<Result<Vec<_>>>()?;
        let mut next = self.crls.clone();
        for crl in crls {
            crl.check_profile()?;
            self.check_crl_signer(&crl)?;
            if let Some(held) = next.iter_mut().find(|c| c.same_scope(&crl)) {
                if crl.succession(held)? == std::cmp::Ordering::Greater {
                    *held = crl;
                }
            } else {
                next.push(crl);
            }
        }
        self.crls = next;
        Ok(())
    }

    /// A CA of this bundle that issued the CRL must be allowed to sign CRLs. rustls-webpki
    /// checks this for intermediates but not for trust anchors, so the bundle does.
    fn check_crl_signer(&self, crl: &Crl) -> Result<()> {
        for ca in self.cas.iter().filter(|c| crl_issued_by(crl, &c.cert)) {
            if ca.cert.key_usage.is_some_and(|ku| !ku.crl_sign) {
                return Err(Error::new(
                    ErrorCode::InvalidCrl,
                    format!(
                        "the CRL is signed by {}, whose keyUsage lacks cRLSign",
                        ca.cert.subject
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Removes the CA with this certificate fingerprint; returns whether it was there.
    pub fn remove_ca(&mut self, fingerprint: &Fingerprint) -> bool {
        let before = self.cas.len();
        self.cas.retain(|c| &c.cert.fingerprint != fingerprint);
        before != self.cas.len()
    }

    /// Drops CAs that have expired at `at` (the last step of a CA rotation); returns how many.
    pub fn prune_expired(&mut self, at: Timestamp) -> usize {
        let before = self.cas.len();
        self.cas.retain(|c| c.cert.not_after >= at);
        before - self.cas.len()
    }

    /// A bundle with the CAs and CRLs of both: the overlap of a CA rotation. For an issuer
    /// both hold a CRL for, the higher CRLNumber wins; on a tie with different content this
    /// bundle's CRL is kept (as `add_crl` keeps the held one).
    pub fn merged(&self, other: &TrustBundle) -> TrustBundle {
        let mut b = self.clone();
        for ca in &other.cas {
            if !b
                .cas
                .iter()
                .any(|c| c.cert.fingerprint == ca.cert.fingerprint)
            {
                b.cas.push(ca.clone());
            }
        }
        for s in &other.skipped {
            if !b.skipped.iter().any(|x| x.fingerprint == s.fingerprint) {
                b.skipped.push(s.clone());
            }
        }
        for crl in &other.crls {
            if let Some(existing) = b.crls.iter_mut().find(|c| c.same_scope(crl)) {
                if matches!(crl.succession(existing), Ok(std::cmp::Ordering::Greater)) {
                    *existing = crl.clone();
                }
            } else {
                b.crls.push(crl.clone());
            }
        }
        b
    }

    /// The CA certificates.
    pub fn cas(&self) -> impl Iterator<Item = &Certificate> {
        self.cas.iter().map(|c| &c.cert)
    }

    /// The trust domains the bundle's CAs name (each CA's one `spiffe://<td>` URI SAN), once each.
    pub fn trust_domains(&self) -> Vec<TrustDomain> {
        let mut tds: Vec<TrustDomain> = Vec::new();
        for td in self.cas.iter().filter_map(|c| c.trust_domain.clone()) {
            if !tds.contains(&td) {
                tds.push(td);
            }
        }
        tds
    }

    /// The CRLs.
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// The CA certificates as PEM.
    pub fn to_pem(&self) -> String {
        self.cas.iter().map(|c| c.cert.to_pem()).collect()
    }

    /// Number of CAs.
    pub fn len(&self) -> usize {
        self.cas.len()
    }

    /// Whether the bundle has no CA.
    pub fn is_empty(&self) -> bool {
        self.cas.is_empty()
    }
}

/// Whether `cert` issued `crl`: the same name and, when both carry one, the same key identifier.
fn crl_issued_by(crl: &Crl, cert: &Certificate) -> bool {
    crl.issuer == cert.subject
        && match (&crl.authority_key_id, &cert.subject_key_id) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
}

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

    fn check(&self, leaf: &Certificate, end_entity: &EndEntityCert<'_>) -> Result<()> {
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

/// What to do about revocation when the bundle holds CRLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationPolicy {
    /// Reject when no CRL covers a certificate in the path (default true: fail closed).
    pub require_crl: bool,
    /// Reject when the covering CRL is past its nextUpdate (default true).
    pub reject_stale_crl: bool,
    /// Check the leaf only, not the intermediates (default false: the whole path).
    pub leaf_only: bool,
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        RevocationPolicy {
            require_crl: true,
            reject_stale_crl: true,
            leaf_only: false,
        }
    }
}

/// Tunables of a [`Verifier`] beyond its [`Policy`] (clock leeway and path depth are
/// policy settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Revocation checking, used when the bundle holds CRLs.
    pub revocation: RevocationPolicy,
}

/// Who the peer is, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The SPIFFE ID (None for a leaf without a URI SAN, allowed by a DNS rule or a pin).
    pub spiffe_id: Option<SpiffeId>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP address SANs.
    pub ip_addresses: Vec<std::net::IpAddr>,
    /// Subject common name.
    pub common_name: Option<String>,
    /// Serial number.
    pub serial: Serial,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// SHA-256 of the leaf DER.
    pub fingerprint: Fingerprint,
    /// SHA-256 of the leaf SubjectPublicKeyInfo.
    pub spki_fingerprint: Fingerprint,
    /// Subject of the trust anchor the path ends at.
    pub anchor_subject: String,
}

/// A trust bundle, a policy and options: decides whether a presented chain is acceptable.
#[derive(Debug, Clone)]
pub struct Verifier {
    bundle: TrustBundle,
    policy: Policy,
    options: VerifyOptions,
    anchors: Vec<TrustAnchor<'static>>,
}

#[allow(deprecated)] // webpki still returns the old unit variants in places
fn map_webpki(e: webpki::Error) -> Error {
    use webpki::Error as W;
    let (code, msg): (ErrorCode, String) = match &e {
        W::CertExpired { time, not_after } => (
            ErrorCode::Expired,
            format!(
                "certificate expired at {} (checked at {})",
                Timestamp::from_unix(not_after.as_secs() as i64),
                Timestamp::from_unix(time.as_secs() as i64)
            ),
        ),
        W::CertNotValidYet { time, not_before } => (
            ErrorCode::NotYetValid,
            format!(
                "certificate not valid before {} (checked at {})",
                Timestamp::from_unix(not_before.as_secs() as i64),
                Timestamp::from_unix(time.as_secs() as i64)
            ),
        ),
        W::UnknownIssuer => (ErrorCode::UnknownIssuer, "no path to a trusted CA".into()),
        W::InvalidSignatureForPublicKey | W::InvalidCrlSignatureForPublicKey => (
            ErrorCode::BadSignature,
            format!("signature does not verify ({e:?})"),
        ),
        W::CertRevoked => (ErrorCode::Revoked, "certificate is revoked".into()),
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => (
            ErrorCode::WrongUsage,
            "certificate lacks the extended key usage for this role".into(),
        ),
        W::CaUsedAsEndEntity => (
            ErrorCode::WrongUsage,
            "a CA certificate was presented as the peer".into(),
        ),
        W::EndEntityUsedAsCa => (
            ErrorCode::UnknownIssuer,
            "a leaf certificate was used as a CA".into(),
        ),
        W::NameConstraintViolation => (
            ErrorCode::NameConstraintViolation,
            "a name is outside a CA's name constraints".into(),
        ),
        W::UnknownRevocationStatus => (
            ErrorCode::RevocationUnknown,
            "no CRL covers a certificate in the path (CRLs are configured: failing closed)".into(),
        ),
        W::IssuerNotCrlSigner => (
            ErrorCode::InvalidCrl,
            "a CRL is signed by a CA whose keyUsage lacks cRLSign".into(),
        ),
        W::InvalidCrlNumber => (
            ErrorCode::InvalidCrl,
            "a CRL's CRLNumber is negative or longer than 20 octets".into(),
        ),
        W::CrlExpired { .. } => (
            ErrorCode::CrlExpired,
            "the CRL is past its nextUpdate".into(),
        ),
        W::MaximumPathDepthExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::PathLenConstraintViolated => {
            (ErrorCode::ChainTooLong, format!("path too long ({e:?})"))
        }
        W::MaximumNameConstraintComparisonsExceeded => (
            ErrorCode::NameConstraintsTooComplex,
            "checking the name constraints needs more comparisons than allowed".into(),
        ),
        W::UnsupportedCriticalExtension => (
            ErrorCode::UnknownCriticalExtension,
            "a certificate in the path has a critical extension meshtls does not process".into(),
        ),
        W::InvalidSerialNumber
        | W::MalformedDnsIdentifier
        | W::MalformedNameConstraint
        | W::InvalidNetworkMaskConstraint
        | W::EmptyEkuExtension
        | W::InvalidCertValidity => (
            ErrorCode::InvalidCertificate,
            format!("a certificate in the path breaks the profile ({e:?})"),
        ),
        W::UnsupportedSignatureAlgorithm
        | W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKey
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | W::UnsupportedCertVersion => (ErrorCode::Unsupported, format!("{e:?}")),
        _ => (ErrorCode::Malformed, format!("{e:?}")),
    };
    Error::new(code, msg)
}

impl Verifier {
    /// A verifier with the default options.
    pub fn new(bundle: TrustBundle, policy: Policy) -> Self {
        Self::with_options(bundle, policy, VerifyOptions::default())
    }

    /// A verifier with these options.
    pub fn with_options(bundle: TrustBundle, policy: Policy, options: VerifyOptions) -> Self {
        let anchors = bundle.cas.iter().map(|c| c.anchor.clone()).collect();
        Verifier {
            bundle,
            policy,
            options,
            anchors,
        }
    }

    /// The bundle.
    pub fn bundle(&self) -> &TrustBundle {
        &self.bundle
    }

    /// The options it was built with.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Verifies a PEM chain (leaf first).
    pub fn verify_pem(
        &self,
        chain_pem: &[u8],
        usage: PeerUsage,
        at: Timestamp,
    ) -> Result<PeerIdentity> {
        let chain = encoding::parse_certificates(chain_pem)?;
        self.verify(&chain, usage, at)
    }

    /// Verifies a chain of DER certificates (leaf first, then intermediates in any order;
    /// a root in the chain is ignored) for the peer's role at time `at`.
    pub fn verify<C: AsRef<[u8]>>(
        &self,
        chain: &[C],
        usage: PeerUsage,
        at: Timestamp,
    ) -> Result<PeerIdentity> {
        let Some(leaf_der) = chain.first() else {
            return Err(Error::new(
                ErrorCode::NoCertificate,
                "no certificate was presented",
            ));
        };
        let leaf_der = CertificateDer::from(leaf_der.as_ref());
        let end_entity = match EndEntityCert::try_from(&leaf_der) {
            Ok(ee) => ee,
            // It decodes, but the path builder refuses one of its critical extensions: a
            // profile breach (a critical AKI...) when it is one, else an unknown extension.
            Err(e @ webpki::Error::UnsupportedCriticalExtension) => {
                let leaf = Certificate::from_der_lenient(leaf_der.as_ref())?;
                return Err(
                    profile::check(&leaf, profile::Role::Leaf).unwrap_or_else(|| map_webpki(e))
                );
            }
            Err(e) => {
                return Err(Error::malformed(format!(
                    "the peer certificate does not parse: {e:?}"
                )))
            }
        };
        let leaf = Certificate::from_der_lenient(leaf_der.as_ref())?;
        // Presented intermediates that decode (one that does not is left to the path builder,
        // which cannot use it either), minus copies of the bundle's own CAs.
        let presented: Vec<Certificate> = chain[1..]
            .iter()
            .filter_map(|c| Certificate::from_der_lenient(c.as_ref()).ok())
            .filter(|c| {
                !self
                    .bundle
                    .cas
                    .iter()
                    .any(|a| a.cert.fingerprint == c.fingerprint)
            })
            .collect();
        // Weak keys and signatures first: they must never surface as bad_signature or
        // unknown_issuer from the path builder, which does not accept them.
        if let Some(e) = profile::strength(&leaf, profile::Role::Leaf) {
            return Err(e);
        }
        for c in &presented {
            if let Some(e) = profile::strength(c, profile::Role::Intermediate) {
                return Err(e);
            }
        }
        let intermediates: Vec<CertificateDer<'_>> = chain[1..]
            .iter()
            .map(|c| CertificateDer::from(c.as_ref()))
            .collect();

        let (anchor_index, path) =
            self.build_path(&end_entity, &leaf, &presented, &intermediates, usage, at)?;
        if path.len() > self.policy.max_intermediates {
            return Err(Error::new(
                ErrorCode::ChainTooLong,
                format!(
                    "the path has {} intermediates; at most {} are allowed",
                    path.len(),
                    self.policy.max_intermediates
                ),
            ));
        }
        let ca = &self.bundle.cas[anchor_index];
        if let Some(flaw) = &ca.flaw {
            return Err(flaw.clone());
        }
        for der in &path {
            if let Some(c) = presented.iter().find(|c| c.der() == der.as_slice()) {
                if let Some(e) = profile::check(c, profile::Role::Intermediate) {
                    return Err(e);
                }
            }
        }
        if let Some(e) = profile::check(&leaf, profile::Role::Leaf) {
            return Err(e);
        }
        check_leaf_purpose(&leaf, usage)?;
        check_svid_rules(&leaf)?;
        if let (Some(id), Some(td)) = (&leaf.spiffe_id, &ca.trust_domain) {
            if id.trust_domain() != td {
                return Err(Error::new(
                    ErrorCode::IdentityNotAllowed,
                    format!("{id} was vouched for by a CA of trust domain {td}"),
                ));
            }
        }
        self.policy.check(&leaf, &end_entity)?;
        let anchor_subject = ca.cert.subject.clone();
        Ok(PeerIdentity {
            spiffe_id: leaf.spiffe_id,
            dns_names: leaf.dns_names,
            ip_addresses: leaf.ip_addresses,
            common_name: leaf.common_name,
            serial: leaf.serial,
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            fingerprint: leaf.fingerprint,
            spki_fingerprint: leaf.spki_fingerprint,
            anchor_subject,
        })
    }

    /// The bundle CA among `candidates` that webpki anchored the path at: the same subject,
    /// key and name constraints. Several CAs can share all three (a CA re-issued with other
    /// extensions); then one without a flaw is the anchor, since it alone builds the path.
    fn index_of(&self, anchor: &AnchorKey, candidates: &[usize]) -> Result<usize> {
        let mut matching = candidates
            .iter()
            .copied()
            .filter(|i| anchor.is(&self.anchors[*i]));
        let first = matching.next().ok_or_else(|| {
            Error::internal("the path ends at a trust anchor the bundle does not hold")
        })?;
        if self.bundle.cas[first].flaw.is_none() {
            return Ok(first);
        }
        Ok(matching
            .find(|i| self.bundle.cas[*i].flaw.is_none())
            .unwrap_or(first))
    }

    /// Whether the bundle CA `i` is inside its validity at `at`, give or take the leeway.
    fn anchor_in_validity(&self, i: usize, at: Timestamp) -> bool {
        let c = &self.bundle.cas[i].cert;
        let leeway = self.policy.clock_leeway;
        c.not_before <= at.add(leeway) && c.not_after >= at.sub(leeway)
    }

    /// Path building through webpki, with the policy's clock leeway, over the anchors inside
    /// their own validity. Returns the index of the anchor in the bundle and the DER of the
    /// path's intermediates.
    fn build_path(
        &self,
        end_entity: &EndEntityCert<'_>,
        leaf: &Certificate,
        presented: &[Certificate],
        intermediates: &[CertificateDer<'_>],
        usage: PeerUsage,
        at: Timestamp,
    ) -> Result<(usize, Vec<Vec<u8>>)> {
        let usable: Vec<usize> = (0..self.anchors.len())
            .filter(|i| self.anchor_in_validity(*i, at))
            .collect();
        let filtered: Vec<TrustAnchor<'static>>;
        let anchors: &[TrustAnchor<'static>] = if usable.len() == self.anchors.len() {
            &self.anchors
        } else {
            filtered = usable.iter().map(|i| self.anchors[*i].clone()).collect();
            &filtered
        };
        let all: Vec<usize> = (0..self.anchors.len()).collect();
        match self.webpki_path(end_entity, anchors, intermediates, usage, at) {
            Ok((anchor, path)) => Ok((self.index_of(&anchor, &usable)?, path)),
            Err(e) => {
                // A weak anchor the path names: the path builder cannot use its key.
                let issuers: Vec<&str> = std::iter::once(leaf)
                    .chain(presented.iter())
                    .map(|c| c.issuer.as_str())
                    .collect();
                for ca in &self.bundle.cas {
                    if let Some(flaw) = &ca.flaw {
                        if matches!(flaw.code(), ErrorCode::WeakKey)
                            && issuers.contains(&ca.cert.subject.as_str())
                        {
                            return Err(flaw.clone());
                        }
                    }
                }
                // An anchor outside its own validity is not trusted; when only such an anchor
                // builds the path, its time is the verdict.
                if usable.len() != self.anchors.len()
                    && matches!(
                        e,
                        webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey
                    )
                {
                    if let Ok((anchor, _)) =
                        self.webpki_path(end_entity, &self.anchors, intermediates, usage, at)
                    {
                        let ca = &self.bundle.cas[self.index_of(&anchor, &all)?].cert;
                        let (code, when) = if ca.not_after < at {
                            (ErrorCode::Expired, format!("expired at {}", ca.not_after))
                        } else {
                            (
                                ErrorCode::NotYetValid,
                                format!("not valid before {}", ca.not_before),
                            )
                        };
                        return Err(Error::new(
                            code,
                            format!("the trust anchor {:?} {when}: not trusted", ca.subject),
                        ));
                    }
                }
                // A presented self-signed CA with the name of a trusted one: the chain ends at
                // a CA the bundle does not hold (unknown_issuer), not at a bad signature.
                if matches!(e, webpki::Error::InvalidSignatureForPublicKey) {
                    if let Some(c) = presented.iter().find(|c| {
                        c.is_ca
                            && c.self_issued
                            && c.facts
                                .aki
                                .as_ref()
                                .and_then(|a| a.key_id.as_ref())
                                .is_none_or(|k| Some(k) == c.subject_key_id.as_ref())
                    }) {
                        return Err(Error::new(
                            ErrorCode::UnknownIssuer,
                            format!(
                                "the chain ends at the self-signed CA {:?}, which the bundle does not hold",
                                c.subject
                            ),
                        ));
                    }
                }
                if matches!(e, webpki::Error::UnsupportedCriticalExtension) {
                    for c in presented {
                        if let Some(breach) = profile::check(c, profile::Role::Intermediate) {
                            return Err(breach);
                        }
                    }
                }
                Err(map_webpki(e))
            }
        }
    }

    /// One webpki path building, with the leeway retry.
    fn webpki_path(
        &self,
        end_entity: &EndEntityCert<'_>,
        anchors: &[TrustAnchor<'_>],
        intermediates: &[CertificateDer<'_>],
        usage: PeerUsage,
        at: Timestamp,
    ) -> std::result::Result<(AnchorKey, Vec<Vec<u8>>), webpki::Error> {
        let crl_refs: Vec<&CertRevocationList<'static>> =
            self.bundle.crls.iter().map(|c| c.webpki()).collect();
        let eku = match usage {
            PeerUsage::Client => KeyUsage::client_auth(),
            PeerUsage::Server => KeyUsage::server_auth(),
        };
        let attempt =
            |time: Timestamp| -> std::result::Result<(AnchorKey, Vec<Vec<u8>>), webpki::Error> {
                let revocation = match RevocationOptionsBuilder::new(&crl_refs) {
                    Ok(b) => {
                        let rp = self.options.revocation;
                        Some(
                            b.with_depth(if rp.leaf_only {
                                webpki::RevocationCheckDepth::EndEntity
                            } else {
                                webpki::RevocationCheckDepth::Chain
                            })
                            .with_status_policy(if rp.require_crl {
                                webpki::UnknownStatusPolicy::Deny
                            } else {
                                webpki::UnknownStatusPolicy::Allow
                            })
                            .with_expiration_policy(if rp.reject_stale_crl {
                                webpki::ExpirationPolicy::Enforce
                            } else {
                                webpki::ExpirationPolicy::Ignore
                            })
                            .build(),
                        )
                    }
                    Err(_) => None,
                };
                let path = end_entity.verify_for_usage(
                    SIGNATURE_ALGORITHMS,
                    anchors,
                    intermediates,
                    time.to_pki(),
                    eku,
                    revocation,
                    None,
                )?;
                Ok((
                    AnchorKey::of(path.anchor()),
                    path.intermediate_certificates()
                        .map(|c| c.der().as_ref().to_vec())
                        .collect(),
                ))
            };
        let skew = self.policy.clock_leeway;
        match attempt(at) {
            Ok(r) => Ok(r),
            Err(webpki::Error::CertNotValidYet { not_before, .. })
                if !skew.is_zero() && (not_before.as_secs() as i64) <= at.add(skew).unix() =>
            {
                attempt(at.add(skew))
            }
            Err(webpki::Error::CertExpired { not_after, .. })
                if !skew.is_zero() && (not_after.as_secs() as i64) >= at.sub(skew).unix() =>
            {
                attempt(at.sub(skew))
            }
            Err(e) => Err(e),
        }
    }
}

/// The leaf must name the asked purpose in an extendedKeyUsage of its own: a leaf without one,
/// or with only anyExtendedKeyUsage, is `wrong_usage` (a trust anchor's EKU changes nothing).
fn check_leaf_purpose(leaf: &Certificate, usage: PeerUsage) -> Result<()> {
    let has = match usage {
        PeerUsage::Client => leaf.client_auth,
        PeerUsage::Server => leaf.server_auth,
    };
    if !leaf.has_eku || leaf.facts.eku_any_only || !has {
        return Err(Error::new(
            ErrorCode::WrongUsage,
            format!(
                "the leaf's extendedKeyUsage does not name {} authentication",
                usage.as_str()
            ),
        ));
    }
    Ok(())
}

/// The X509-SVID rules for a leaf: not a CA, digitalSignature without keyCertSign/cRLSign,
/// at most one URI SAN, and that one a valid SPIFFE ID.
fn check_svid_rules(leaf: &Certificate) -> Result<()> {
    if leaf.is_ca {
        return Err(Error::new(
            ErrorCode::WrongUsage,
            "a CA certificate was presented as the peer",
        ));
    }
    if let Some(ku) = leaf.key_usage {
        if ku.key_cert_sign || ku.crl_sign {
            return Err(Error::new(
                ErrorCode::InvalidSvid,
                "the leaf may sign certificates or CRLs (keyCertSign/cRLSign): not an X509-SVID",
            ));
        }
        if !ku.digital_signature {
            return Err(Error::new(
                ErrorCode::InvalidSvid,
                "the leaf lacks digitalSignature key usage",
            ));
        }
    }
    match leaf.uris.as_slice() {
        [] => Ok(()),
        [one] => SpiffeId::parse(one).map(|_| ()).map_err(|e| {
            Error::new(
                ErrorCode::InvalidSvid,
                format!("the URI SAN is not a SPIFFE ID: {}", e.message()),
            )
        }),
        many => Err(Error::new(
            ErrorCode::InvalidSvid,
            format!(
                "the leaf has {} URI SANs; an X509-SVID has exactly one",
                many.len()
            ),
        )),
    }
}

/// What identifies the trust anchor a path ended at: its subject, key and name constraints.
struct AnchorKey {
    subject: Vec<u8>,
    spki: Vec<u8>,
    name_constraints: Option<Vec<u8>>,
}

impl AnchorKey {
    fn of(anchor: &TrustAnchor<'_>) -> Self {
        AnchorKey {
            subject: anchor.subject.as_ref().to_vec(),
            spki: anchor.subject_public_key_info.as_ref().to_vec(),
            name_constraints: anchor
                .name_constraints
                .as_ref()
                .map(|n| n.as_ref().to_vec()),
        }
    }

    fn is(&self, anchor: &TrustAnchor<'_>) -> bool {
        self.subject == anchor.subject.as_ref()
            && self.spki == anchor.subject_public_key_info.as_ref()
            && self.name_constraints.as_deref()
                == anchor.name_constraints.as_ref().map(|n| n.as_ref())
    }
}
