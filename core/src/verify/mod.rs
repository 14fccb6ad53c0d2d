//! Verification: a chain against a trust bundle (rustls-webpki does the path building and
//! signature checks), the stricter profile meshtls adds (`profile`: key and signature
//! strength, key identifiers, critical basicConstraints, serial numbers, name syntax, anchors
//! inside their validity), then revocation, the X509-SVID leaf rules and the identity policy.

mod bundle;
mod policy;
mod profile;

pub use bundle::{SkippedCa, TrustBundle};
pub use policy::{Policy, PolicyBuilder, DEFAULT_MAX_INTERMEDIATES};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pki_types::{CertificateDer, TrustAnchor};
use webpki::{CertRevocationList, EndEntityCert, KeyUsage, RevocationOptionsBuilder};

use crate::backend::SIGNATURE_ALGORITHMS;
use crate::certificate::{Certificate, Fingerprint, Serial};
use crate::encoding;
use crate::error::{words_of, Error, ErrorCode, Result};
use crate::identity::SpiffeId;
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
    intermediates: IntermediateCache,
}

/// Most presented intermediates a verifier keeps parsed; past it the cache starts over.
const MAX_CACHED_INTERMEDIATES: usize = 256;

/// Presented intermediates, parsed once per verifier (so once per trust generation): the same
/// few CAs come with every handshake, and parsing one costs as much as the rest of the
/// verifier's own work. `None` records DER to leave out: one that does not decode (the path
/// builder cannot use it either) or a copy of one of the bundle's own CAs. Only the parse is
/// kept; every rule still runs on every verification.
#[derive(Clone, Default)]
struct IntermediateCache(Arc<Mutex<ParsedByDer>>);

/// DER -> its parse, or `None` for DER left out.
type ParsedByDer = HashMap<Vec<u8>, Option<Arc<Certificate>>>;

impl std::fmt::Debug for IntermediateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntermediateCache").finish_non_exhaustive()
    }
}

impl IntermediateCache {
    /// The parsed certificate for `der`, or `None` when it is left out.
    fn get(&self, der: &[u8], bundle: &TrustBundle) -> Option<Arc<Certificate>> {
        let lock = || match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(hit) = lock().get(der) {
            return hit.clone();
        }
        // Parsed outside the lock: concurrent handshakes wait for no one's parse.
        let parsed = Certificate::from_der_lenient(der)
            .ok()
            .filter(|c| {
                !bundle
                    .cas
                    .iter()
                    .any(|a| a.cert.fingerprint == c.fingerprint)
            })
            .map(Arc::new);
        let mut map = lock();
        if map.len() >= MAX_CACHED_INTERMEDIATES {
            map.clear();
        }
        map.insert(der.to_vec(), parsed.clone());
        parsed
    }
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
            format!("signature does not verify ({})", words_of(&e)),
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
        | W::PathLenConstraintViolated => (
            ErrorCode::ChainTooLong,
            format!("path too long ({})", words_of(&e)),
        ),
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
            format!(
                "a certificate in the path breaks the profile ({})",
                words_of(&e)
            ),
        ),
        W::UnsupportedSignatureAlgorithm
        | W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKey
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | W::UnsupportedCertVersion => (
            ErrorCode::Unsupported,
            format!("unsupported: {}", words_of(&e)),
        ),
        _ => (ErrorCode::Malformed, format!("malformed: {}", words_of(&e))),
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
            intermediates: IntermediateCache::default(),
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
                    "the peer certificate does not parse: {}",
                    words_of(&e)
                )))
            }
        };
        let leaf = Certificate::from_der_lenient(leaf_der.as_ref())?;
        // Presented intermediates that decode (one that does not is left to the path builder,
        // which cannot use it either), minus copies of the bundle's own CAs.
        let presented: Vec<Arc<Certificate>> = chain[1..]
            .iter()
            .filter_map(|c| self.intermediates.get(c.as_ref(), &self.bundle))
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
        if path.len() > self.policy.max_intermediates() {
            return Err(Error::new(
                ErrorCode::ChainTooLong,
                format!(
                    "the path has {} intermediates; at most {} are allowed",
                    path.len(),
                    self.policy.max_intermediates()
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
        let leeway = self.policy.clock_leeway();
        c.not_before <= at.add(leeway) && c.not_after >= at.sub(leeway)
    }

    /// Path building through webpki, with the policy's clock leeway, over the anchors inside
    /// their own validity. Returns the index of the anchor in the bundle and the DER of the
    /// path's intermediates.
    fn build_path(
        &self,
        end_entity: &EndEntityCert<'_>,
        leaf: &Certificate,
        presented: &[Arc<Certificate>],
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
        match self.webpki_path(end_entity, anchors, intermediates, usage, at) {
            Ok((anchor, path)) => Ok((self.index_of(&anchor, &usable)?, path)),
            Err(e) => {
                // A weak anchor the path names: the path builder cannot use its key.
                let issuers: Vec<&str> = std::iter::once(leaf)
                    .chain(presented.iter().map(|c| &**c))
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
                        let all: Vec<usize> = (0..self.anchors.len()).collect();
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
        let skew = self.policy.clock_leeway();
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
