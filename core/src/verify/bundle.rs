//! The trust bundle: the CA certificates a verifier trusts (those it cannot use are skipped and
//! listed) and the CRLs it holds, which never step back.

use pki_types::{CertificateDer, TrustAnchor};

use super::profile;
use crate::certificate::{Certificate, Fingerprint};
use crate::encoding;
use crate::error::{Error, ErrorCode, Result};
use crate::identity::TrustDomain;
use crate::revocation::Crl;
use crate::validity::Timestamp;

#[derive(Debug, Clone)]
pub(super) struct BundleCa {
    pub(super) cert: Certificate,
    pub(super) anchor: TrustAnchor<'static>,
    pub(super) trust_domain: Option<TrustDomain>,
    /// Why a path ending at this anchor is refused (a weak key, a profile breach).
    pub(super) flaw: Option<Error>,
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
    pub(super) cas: Vec<BundleCa>,
    pub(super) crls: Vec<Crl>,
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
                    reason: Error::unsupported(format!(
                        "unusable trust anchor: {}",
                        crate::error::words_of(&e)
                    )),
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
