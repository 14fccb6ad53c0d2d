//! Issuance of X509-SVIDs: from a generated key or from a CSR.

use std::net::IpAddr;
use std::time::Duration;

use rcgen::{
    CertificateParams, CrlDistributionPoint, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyUsagePurpose, SanType,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::authority::{random_serial, Authority, KeyAlgorithm, BACKDATE};
use crate::backend;
use crate::certificate::{Certificate, Fingerprint, Serial};
use crate::encoding::{self, Pkcs12Profile};
use crate::error::{Error, Result};
use crate::grant::{Grant, Reserved};
use crate::hostname::{self, Wildcard};
use crate::identity::SpiffeId;
use crate::issuance_policy;
use crate::validity::Timestamp;

/// The default leaf lifetime: 90 days.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
/// The shortest lifetime meshtls issues.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// The longest leaf lifetime meshtls issues: 825 days, the most that TLS clients (Apple
/// platforms among them) accept from a private CA. Leaves rotate; nothing needs more.
pub const MAX_LIFETIME: Duration = Duration::from_secs(825 * 86_400);

/// Checks a leaf lifetime against [`MIN_LIFETIME`] and [`MAX_LIFETIME`]: `invalid_request` with
/// the bound otherwise. Issuance calls it for every certificate; a CA service or a grant calls
/// it when configured, so a bad setting refuses to start instead of refusing every request.
///
/// ```
/// # use std::time::Duration;
/// # use meshtls_core::issue::check_lifetime;
/// assert!(check_lifetime(Duration::from_secs(86_400)).is_ok());
/// assert_eq!(check_lifetime(Duration::from_secs(30)).unwrap_err().code().as_str(), "invalid_request");
/// assert!(check_lifetime(Duration::from_secs(36_500 * 86_400)).is_err());
/// ```
pub fn check_lifetime(lifetime: Duration) -> Result<()> {
    if lifetime < MIN_LIFETIME {
        return Err(Error::invalid_request(format!(
            "a lifetime of {} s is shorter than the minimum of {} s (one minute)",
            lifetime.as_secs(),
            MIN_LIFETIME.as_secs()
        )));
    }
    if lifetime > MAX_LIFETIME {
        return Err(Error::invalid_request(format!(
            "a lifetime of {} s is longer than the maximum of {} s (825 days)",
            lifetime.as_secs(),
            MAX_LIFETIME.as_secs()
        )));
    }
    Ok(())
}

/// What a certificate may be used for (its extended key usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Usage {
    /// TLS server only (serverAuth).
    Server,
    /// TLS client only (clientAuth).
    Client,
    /// Both (the default for mesh services, which accept and make connections).
    #[default]
    Both,
}

impl Usage {
    /// `server`, `client` or `both`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Usage::Server => "server",
            Usage::Client => "client",
            Usage::Both => "both",
        }
    }
}

impl std::str::FromStr for Usage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "server" => Ok(Usage::Server),
            "client" => Ok(Usage::Client),
            "both" => Ok(Usage::Both),
            _ => Err(Error::invalid_request(format!(
                "usage {s:?}: use server, client or both"
            ))),
        }
    }
}

/// Where the certificate's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// meshtls generates a key of this algorithm and returns it with the certificate.
    Generate(KeyAlgorithm),
    /// The requester keeps its key: a PKCS#10 CSR (DER or PEM) whose signature is checked.
    Csr(Vec<u8>),
}

impl Default for KeySource {
    fn default() -> Self {
        KeySource::Generate(KeyAlgorithm::EcdsaP256)
    }
}

/// What to issue. Build with [`IssueRequest::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// The SPIFFE ID (the one URI SAN).
    pub id: SpiffeId,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP address SANs.
    pub ip_addresses: Vec<IpAddr>,
    /// Subject common name; default: the last segment of the ID's path.
    pub common_name: Option<String>,
    /// Extended key usage (default both).
    pub usage: Usage,
    /// Lifetime from now (default 90 days, at least one minute).
    pub lifetime: Duration,
    /// Key source (default: generate ECDSA P-256).
    pub key: KeySource,
    /// CRL distribution point URIs.
    pub crl_distribution_points: Vec<String>,
    /// Whether a DNS SAN may be a wildcard (`*.suffix`); the default profile refuses them.
    pub allow_wildcard_dns: bool,
}

impl IssueRequest {
    /// A request for `id` with the defaults.
    pub fn new(id: SpiffeId) -> Self {
        IssueRequest {
            id,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            common_name: None,
            usage: Usage::Both,
            lifetime: DEFAULT_LIFETIME,
            key: KeySource::default(),
            crl_distribution_points: Vec::new(),
            allow_wildcard_dns: false,
        }
    }

    /// A request for the identity a CSR names (its one URI SAN), with the CSR's key, DNS and
    /// IP address SANs. The CSR passes the issuance policy first (see [`crate::issuance_policy`]).
    pub fn from_csr(csr: &[u8]) -> Result<Self> {
        Self::from_csr_with_id(csr, None)
    }

    /// [`from_csr`](Self::from_csr) with an explicit ID: when the CSR names an ID it must be
    /// that one (`invalid_request` otherwise: the ID is never silently replaced); a CSR that
    /// names none is issued for `id`. The CSR's DNS and IP SANs are kept either way.
    pub fn from_csr_with_id(csr: &[u8], id: Option<&SpiffeId>) -> Result<Self> {
        let der = encoding::parse_csr(csr)?;
        let parsed = ParsedCsr::parse(&der)?;
        let id = match (parsed.uris.as_slice(), id) {
            ([uri], None) => SpiffeId::parse(uri)?,
            ([uri], Some(id)) => {
                let named = SpiffeId::parse(uri)?;
                if named != *id {
                    return Err(Error::invalid_request(format!(
                        "the CSR names {named}, the request is for {id}"
                    )));
                }
                named
            }
            ([], Some(id)) => id.clone(),
            ([], None) => {
                return Err(Error::invalid_request(
                    "the CSR names no SPIFFE ID (URI SAN)",
                ))
            }
            _ => {
                return Err(Error::invalid_request(
                    "the CSR names several URI SANs; an SVID has one",
                ))
            }
        };
        let mut req = IssueRequest::new(id);
        req.dns_names = parsed.dns_names;
        req.ip_addresses = parsed.ip_addresses;
        req.key = KeySource::Csr(der);
        Ok(req)
    }

    /// The request that renews `old`: the same SPIFFE ID, DNS and IP SANs, common name,
    /// usage, CRL distribution points, lifetime and key algorithm, with a new generated key.
    /// `old` must be an X509-SVID (one SPIFFE ID).
    pub fn renewal_of(old: &Certificate) -> Result<Self> {
        let id = old.spiffe_id.clone().ok_or_else(|| {
            Error::invalid_request(
                "the certificate names no SPIFFE ID: it cannot be renewed as an SVID",
            )
        })?;
        let usage = old.usage().ok_or_else(|| {
            Error::invalid_request(
                "the certificate allows neither TLS role: not renewable as an SVID",
            )
        })?;
        let key = old.key_kind().ok_or_else(|| {
            Error::unsupported(format!("cannot renew a {} key", old.key_algorithm))
        })?;
        Ok(IssueRequest {
            id,
            dns_names: old.dns_names.clone(),
            ip_addresses: old.ip_addresses.clone(),
            common_name: old.common_name.clone(),
            usage,
            // Issuance backdates by BACKDATE: the lifetime asked for is the rest.
            lifetime: old.lifetime().saturating_sub(BACKDATE).max(MIN_LIFETIME),
            key: KeySource::Generate(key),
            crl_distribution_points: old.crl_distribution_points.clone(),
            allow_wildcard_dns: old.dns_names.iter().any(|d| d.starts_with("*.")),
        })
    }

    /// Adds DNS SANs.
    pub fn with_dns<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dns_names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds IP address SANs.
    pub fn with_ips<I: IntoIterator<Item = IpAddr>>(mut self, ips: I) -> Self {
        self.ip_addresses.extend(ips);
        self
    }

    /// Sets the common name.
    pub fn with_common_name(mut self, cn: impl Into<String>) -> Self {
        self.common_name = Some(cn.into());
        self
    }

    /// Sets the usage.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Sets the lifetime.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Sets the key source.
    pub fn with_key(mut self, key: KeySource) -> Self {
        self.key = key;
        self
    }

    /// Checks the request's own rules, the ones no grant can change: the lifetime bounds
    /// ([`check_lifetime`]) and every DNS SAN is a hostname (a wildcard only when the request
    /// allows one). `invalid_request` otherwise. [`Authority::issue`] checks them too.
    pub fn check(&self) -> Result<()> {
        check_lifetime(self.lifetime)?;
        let wildcard = self.wildcard();
        for name in &self.dns_names {
            hostname::check(name, wildcard)?;
        }
        Ok(())
    }

    fn wildcard(&self) -> Wildcard {
        if self.allow_wildcard_dns {
            Wildcard::Allow
        } else {
            Wildcard::Refuse
        }
    }

    /// Allows wildcard DNS SANs (`*.suffix`) in this request's certificate.
    pub fn with_wildcard_dns(mut self, allow: bool) -> Self {
        self.allow_wildcard_dns = allow;
        self
    }

    /// Adds a CRL distribution point URI.
    pub fn with_crl_distribution_point(mut self, uri: impl Into<String>) -> Self {
        self.crl_distribution_points.push(uri.into());
        self
    }
}

/// An issued certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The leaf, PEM.
    pub cert_pem: String,
    /// The chain to present: leaf first, then intermediates (no root), PEM.
    pub chain_pem: String,
    /// The generated private key, PKCS#8 PEM (None when issued from a CSR).
    pub key_pem: Option<String>,
    /// The leaf, DER.
    pub cert_der: Vec<u8>,
    /// The chain, DER, leaf first.
    pub chain_der: Vec<Vec<u8>>,
    /// The generated private key, PKCS#8 DER.
    pub key_der: Option<Vec<u8>>,
    /// The serial number.
    pub serial: Serial,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// SHA-256 of the leaf DER.
    pub fingerprint: Fingerprint,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("fingerprint", &self.fingerprint)
            .field("has_key", &self.key_der.is_some())
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// A password-protected PKCS#12 (PFX) file with the key and chain. Needs a generated key.
    pub fn to_pkcs12(&self, password: &str, profile: Pkcs12Profile) -> Result<Vec<u8>> {
        let key = self.key_der.as_ref().ok_or_else(|| {
            Error::invalid_request(
                "issued from a CSR: the key stays with the requester, so no PKCS#12",
            )
        })?;
        encoding::to_pkcs12(
            key,
            &self.chain_der,
            &encoding::pkcs12_friendly_name(&self.cert_der),
            password,
            profile,
        )
    }
}

pub(crate) struct ParsedCsr {
    pub(crate) spki_der: Vec<u8>,
    pub(crate) uris: Vec<String>,
    pub(crate) dns_names: Vec<String>,
    pub(crate) ip_addresses: Vec<IpAddr>,
}

impl ParsedCsr {
    /// Parses a CSR and applies the issuance policy in its order: the signature algorithm
    /// (`weak_signature` before anything else), the key (`weak_key` or `unsupported`), then
    /// the signature itself (`bad_signature`).
    pub(crate) fn parse(der: &[u8]) -> Result<Self> {
        let (rest, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(der)
                .map_err(|e| Error::malformed(format!("not a PKCS#10 CSR: {e}")))?;
        if !rest.is_empty() {
            return Err(Error::malformed("trailing bytes after the CSR"));
        }
        issuance_policy::check_signature_algorithm(&csr.signature_algorithm)?;
        issuance_policy::check_public_key(&csr.certification_request_info.subject_pki)?;
        backend::verify_csr_signature(der, csr.certification_request_info.subject_pki.raw)?;
        let mut uris = Vec::new();
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Some(exts) = csr.requested_extensions() {
            for ext in exts {
                if let ParsedExtension::SubjectAlternativeName(san) = ext {
                    for n in &san.general_names {
                        match n {
                            GeneralName::URI(u) => uris.push((*u).to_owned()),
                            GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                            GeneralName::IPAddress(b) => ip_addresses.push(ip_of(b)?),
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(ParsedCsr {
            spki_der: csr.certification_request_info.subject_pki.raw.to_vec(),
            uris,
            dns_names,
            ip_addresses,
        })
    }
}

fn ip_of(bytes: &[u8]) -> Result<IpAddr> {
    match bytes.len() {
        4 => {
            let mut a = [0u8; 4];
            a.copy_from_slice(bytes);
            Ok(IpAddr::from(a))
        }
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            Ok(IpAddr::from(a))
        }
        n => Err(Error::invalid_request(format!(
            "an IP address SAN of {n} bytes (4 or 16 expected)"
        ))),
    }
}

/// Parses an IP address SAN given as text: `invalid_request` when it is not an IPv4 or IPv6
/// address. Every edge (CLI, bindings) parses addresses with it.
pub fn parse_ip(text: &str) -> Result<IpAddr> {
    text.parse()
        .map_err(|_| Error::invalid_request(format!("{text:?} is not an IP address")))
}

fn ia5(s: &str, what: &str) -> Result<rcgen::string::Ia5String> {
    rcgen::string::Ia5String::try_from(s.to_owned())
        .map_err(|_| Error::invalid_request(format!("{what} {s:?} is not ASCII")))
}

impl Authority {
    /// Issues an X509-SVID for the request at time `now`.
    ///
    /// The leaf has exactly one URI SAN (the SPIFFE ID), `cA=false`, a critical key usage of
    /// digitalSignature only, the EKU of the requested usage, SKI/AKI, a 128-bit random
    /// positive serial, and a validity of `[now - 60 s, now + lifetime]` that never outlives
    /// the CA. The issuance policy applies: a request outside the CA's trust domain or name
    /// constraints, with a DNS SAN that is not a hostname (or a wildcard the request does not
    /// allow) or a lifetime outside [`check_lifetime`] is `invalid_request`; a CSR signed with
    /// a weak hash is `weak_signature`, a weak key `weak_key`, a key meshtls does not certify
    /// `unsupported`, and a CSR with a bad signature `bad_signature`.
    pub fn issue(&self, req: &IssueRequest, now: Timestamp) -> Result<Issued> {
        // The CSR's signature algorithm and key are judged before anything else.
        let csr = match &req.key {
            KeySource::Csr(csr) => {
                let parsed = ParsedCsr::parse(&encoding::parse_csr(csr)?)?;
                let wanted = req.id.to_string();
                if let Some(other) = parsed.uris.iter().find(|u| **u != wanted) {
                    return Err(Error::invalid_request(format!(
                        "the CSR asks for {other}, the request is for {wanted}"
                    )));
                }
                Some(parsed)
            }
            KeySource::Generate(_) => None,
        };
        if req.id.trust_domain() != self.trust_domain() {
            return Err(Error::invalid_request(format!(
                "{} is outside this CA's trust domain {}",
                req.id,
                self.trust_domain()
            )));
        }
        check_lifetime(req.lifetime)?;
        let not_after = now.add(req.lifetime);
        self.check_can_sign(now, not_after)?;
        let wildcard = req.wildcard();
        let mut dns_names: Vec<String> = Vec::with_capacity(req.dns_names.len());
        for name in &req.dns_names {
            let name = hostname::normalize(name, wildcard)?;
            self.check_dns_within_constraints(&name)?;
            if !dns_names.contains(&name) {
                dns_names.push(name);
            }
        }
        let cn = match &req.common_name {
            Some(cn) => cn.clone(),
            None => req.id.segments().last().unwrap_or("meshtls").to_owned(),
        };
        if cn.is_empty() || cn.len() > 64 {
            return Err(Error::invalid_request(
                "a common name must be 1 to 64 bytes",
            ));
        }

        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match req.usage {
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::Both => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        let mut sans = vec![SanType::URI(ia5(&req.id.to_string(), "SPIFFE ID")?)];
        for d in &dns_names {
            sans.push(SanType::DnsName(ia5(d, "DNS name")?));
        }
        sans.extend(req.ip_addresses.iter().map(|ip| SanType::IpAddress(*ip)));
        params.subject_alt_names = sans;
        if !req.crl_distribution_points.is_empty() {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: req.crl_distribution_points.clone(),
            }];
        }
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        params.not_before = now.sub(BACKDATE).to_offset()?;
        params.not_after = not_after.to_offset()?;

        let (cert_der, key_der) = match (&req.key, csr) {
            (KeySource::Generate(alg), _) => {
                let key = backend::generate_leaf_key(*alg)?;
                let cert_der = match self.leaf_der(&params, &key)? {
                    Some(der) => der,
                    None => params
                        .signed_by(&key, &self.issuer)
                        .map_err(|e| Error::internal(format!("signing failed: {e}")))?
                        .der()
                        .to_vec(),
                };
                (cert_der, Some(key.pkcs8))
            }
            (KeySource::Csr(_), None) => {
                return Err(Error::internal("the CSR was not parsed"));
            }
            (KeySource::Csr(_), Some(parsed)) => {
                let spki = rcgen::SubjectPublicKeyInfo::from_der(&parsed.spki_der)
                    .map_err(|e| Error::unsupported(format!("the CSR's key: {e}")))?;
                let cert = params
                    .signed_by(&spki, &self.issuer)
                    .map_err(|e| Error::internal(format!("signing failed: {e}")))?;
                (cert.der().to_vec(), None)
            }
        };
        let mut chain_der = vec![cert_der.clone()];
        chain_der.extend(self.intermediates_der());
        let cert_pem = encoding::cert_pem(&cert_der);
        let chain_pem = format!("{cert_pem}{}", self.intermediates_pem());
        let serial = Serial::from_bytes(
            params
                .serial_number
                .as_ref()
                .map(|s| s.as_ref())
                .unwrap_or(&[]),
        );
        Ok(Issued {
            cert_pem,
            chain_pem,
            key_pem: key_der.as_ref().map(|k| encoding::key_pem(k)),
            fingerprint: Fingerprint::of(&cert_der),
            cert_der,
            chain_der,
            key_der,
            serial,
            not_before: now.sub(BACKDATE),
            not_after,
        })
    }
}

impl Authority {
    /// The identities of this CA's trust domain no join token may obtain: its CA service ID.
    /// Add the administrators with [`Reserved::with_admin`].
    pub fn reserved(&self) -> Reserved {
        Reserved::new(self.trust_domain())
    }

    /// Issues `req` if `grant` authorizes it: the request's own rules first
    /// ([`IssueRequest::check`], `invalid_request`), then [`Grant::authorizes`]
    /// (`not_authorized`), then [`Authority::issue`]. A CSR's key and signature were judged
    /// when the request was made from it. The CA service, the CLI and every binding issue
    /// through a grant with this one function.
    pub fn issue_granted(
        &self,
        req: &IssueRequest,
        grant: &Grant,
        reserved: &Reserved,
        now: Timestamp,
    ) -> Result<Issued> {
        req.check()?;
        grant.authorizes(req, reserved)?;
        self.issue(req, now)
    }

    /// Renews a certificate this CA issued: [`IssueRequest::renewal_of`] with a new key,
    /// issued at `now`. A certificate of another CA is `invalid_request`.
    pub fn renew(&self, old: &Certificate, now: Timestamp) -> Result<Issued> {
        let ours = old.issuer == self.certificate().subject
            && (old.authority_key_id.is_none()
                || old.authority_key_id == self.certificate().subject_key_id);
        if !ours {
            return Err(Error::invalid_request(format!(
                "{} was not issued by this CA ({})",
                old.subject,
                self.certificate().subject
            )));
        }
        self.issue(&IssueRequest::renewal_of(old)?, now)
    }
}

/// A key pair and a CSR made for it.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedCsr {
    /// The CSR, PEM.
    pub csr_pem: String,
    /// The CSR, DER.
    pub csr_der: Vec<u8>,
    /// The private key, PKCS#8 PEM (keep it: it never leaves the requester).
    pub key_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for GeneratedCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCsr")
            .field("csr_pem", &self.csr_pem)
            .finish_non_exhaustive()
    }
}

/// Generates a private key of the algorithm, as PKCS#8 DER. It stays with whoever made it.
pub fn generate_key(alg: KeyAlgorithm) -> Result<Vec<u8>> {
    Ok(backend::generate(alg)?.serialize_der())
}

/// Generates a key pair and a CSR naming `id` (and DNS names), signed by the new key.
pub fn create_csr(id: &SpiffeId, dns_names: &[String], alg: KeyAlgorithm) -> Result<GeneratedCsr> {
    create_csr_with_key(id, dns_names, &generate_key(alg)?)
}

/// A CSR naming `id` (and DNS names) for an existing key (PKCS#8, SEC1 or PKCS#1 DER or PEM):
/// a renewal that keeps its key, or a key held elsewhere.
pub fn create_csr_with_key(
    id: &SpiffeId,
    dns_names: &[String],
    key: &[u8],
) -> Result<GeneratedCsr> {
    let key_der = match encoding::parse_private_key(key) {
        Ok(der) => der,
        Err(e) if e.code() == crate::ErrorCode::Malformed => key.to_vec(),
        Err(e) => return Err(e),
    };
    let key = backend::load_key_any(&key_der)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        id.segments().last().unwrap_or("meshtls"),
    );
    params.distinguished_name = dn;
    let mut sans = vec![SanType::URI(ia5(&id.to_string(), "SPIFFE ID")?)];
    for d in dns_names {
        let d = hostname::normalize(d, Wildcard::Allow)?;
        sans.push(SanType::DnsName(ia5(&d, "DNS name")?));
    }
    params.subject_alt_names = sans;
    let csr = params
        .serialize_request(&key)
        .map_err(|e| Error::internal(format!("CSR signing failed: {e}")))?;
    let csr_der = csr.der().to_vec();
    let key_der = key.serialize_der();
    Ok(GeneratedCsr {
        csr_pem: encoding::csr_pem(&csr_der),
        csr_der,
        key_pem: encoding::key_pem(&key_der),
        key_der,
    })
}

/// What a leaf's DER takes from its CA: the issuer Name and the authority key identifier,
/// exactly as rcgen writes them for this CA (learned once from a certificate rcgen signs).
#[derive(Debug, Clone)]
pub(crate) struct LeafTemplate {
    issuer_name: Vec<u8>,
    aki: Vec<u8>,
}

impl Authority {
    /// The leaf certificate written directly as DER for the common case (a P-256 CA issuing
    /// a generated P-256 key), or `None` to let rcgen write it. Byte for byte what rcgen
    /// writes for the same parameters (a test holds the two side by side); rcgen's general
    /// DER writer cost more than a third of an issuance on top of the keygen and signature.
    fn leaf_der(
        &self,
        params: &CertificateParams,
        key: &backend::GeneratedKey,
    ) -> Result<Option<Vec<u8>>> {
        use rcgen::{PublicKeyData as _, SigningKey as _};
        if self.key_algorithm() != KeyAlgorithm::EcdsaP256
            || key.algorithm() != &rcgen::PKCS_ECDSA_P256_SHA256
        {
            return Ok(None);
        }
        let Some(template) = self
            .leaf_template
            .get_or_init(|| self.learn_leaf_template())
        else {
            return Ok(None);
        };
        let spki = leaf_der::p256_spki(key.der_bytes());
        let Some(tbs) = leaf_der::tbs(params, &spki, template) else {
            return Ok(None);
        };
        let signature = self
            .issuer
            .key()
            .sign(&tbs)
            .map_err(|e| Error::internal(format!("signing failed: {e}")))?;
        Ok(Some(leaf_der::certificate(&tbs, &signature)))
    }

    /// The issuer Name and authority key identifier rcgen writes for this CA, read back from
    /// a throwaway leaf it signs (one keygen and one signature per CA, once).
    fn learn_leaf_template(&self) -> Option<LeafTemplate> {
        let key = backend::generate_leaf_key(KeyAlgorithm::EcdsaP256).ok()?;
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).ok()?;
        let (_, x509) = x509_parser::certificate::X509Certificate::from_der(cert.der()).ok()?;
        let aki = x509
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })?;
        Some(LeafTemplate {
            issuer_name: x509.tbs_certificate.issuer.as_raw().to_vec(),
            aki,
        })
    }
}

/// DER of a leaf certificate, written for the parameters `issue` sets.
mod leaf_der {
    use rcgen::{
        CertificateParams, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod,
        KeyUsagePurpose, SanType,
    };
    use time::OffsetDateTime;

    use super::LeafTemplate;

    const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
    const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];

    use crate::encoding::der_element as der;

    fn wrap(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(contents.len() + 4);
        der(&mut out, tag, contents);
        out
    }

    /// An extension: id, `critical` when true, the value in an OCTET STRING.
    fn extension(out: &mut Vec<u8>, id: &[u8], critical: bool, value: &[u8]) {
        let mut e = Vec::with_capacity(value.len() + 12);
        der(&mut e, 0x06, id);
        if critical {
            e.extend([0x01, 0x01, 0xff]);
        }
        der(&mut e, 0x04, value);
        der(out, 0x30, &e);
    }

    /// A positive INTEGER from big-endian bytes (leading zeros dropped, one added when the
    /// high bit is set), as rcgen writes serial numbers.
    fn positive_integer(out: &mut Vec<u8>, bytes: &[u8]) {
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len().saturating_sub(1));
        let bytes = &bytes[start..];
        let mut v = Vec::with_capacity(bytes.len() + 1);
        if bytes.first().is_none_or(|b| b & 0x80 != 0) {
            v.push(0);
        }
        v.extend_from_slice(bytes);
        der(out, 0x02, &v);
    }

    /// UTCTime from 1950 to 2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5).
    fn time(out: &mut Vec<u8>, t: OffsetDateTime) {
        let t = t.to_offset(time::UtcOffset::UTC);
        let y = t.year();
        let utc = (1950..2050).contains(&y);
        let mut text = [0u8; 15];
        let mut n = 0;
        let mut two = |v: u32| {
            text[n] = b'0' + (v / 10 % 10) as u8;
            text[n + 1] = b'0' + (v % 10) as u8;
            n += 2;
        };
        // Years outside 0..=9999 cannot be written; validity never comes near them.
        let year = y.clamp(0, 9999) as u32;
        if !utc {
            two(year / 100);
        }
        two(year % 100);
        for v in [
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
        ] {
            two(u32::from(v));
        }
        text[n] = b'Z';
        der(out, if utc { 0x17 } else { 0x18 }, &text[..n + 1]);
    }

    /// The SubjectPublicKeyInfo of a P-256 key from its uncompressed point.
    pub(super) fn p256_spki(point: &[u8]) -> Vec<u8> {
        let mut alg = Vec::with_capacity(21);
        der(&mut alg, 0x06, EC_PUBLIC_KEY);
        der(&mut alg, 0x06, P256);
        let mut bits = Vec::with_capacity(point.len() + 1);
        bits.push(0);
        bits.extend_from_slice(point);
        let mut body = Vec::with_capacity(alg.len() + bits.len() + 6);
        der(&mut body, 0x30, &alg);
        der(&mut body, 0x03, &bits);
        wrap(0x30, &body)
    }

    /// The TBSCertificate for `params`, or `None` when they hold anything this writer does
    /// not write (rcgen writes those).
    pub(super) fn tbs(
        params: &CertificateParams,
        spki: &[u8],
        template: &LeafTemplate,
    ) -> Option<Vec<u8>> {
        if params.is_ca != IsCa::ExplicitNoCa
            || params.key_usages != [KeyUsagePurpose::DigitalSignature]
            || !params.crl_distribution_points.is_empty()
            || !params.custom_extensions.is_empty()
            || params.name_constraints.is_some()
            || !params.use_authority_key_identifier_extension
            || !matches!(params.key_identifier_method, KeyIdMethod::Sha256)
        {
            return None;
        }
        let mut entries = params.distinguished_name.iter();
        let cn = match (entries.next(), entries.next()) {
            (Some((DnType::CommonName, DnValue::Utf8String(cn))), None) => cn,
            _ => return None,
        };
        let serial = params.serial_number.as_ref()?;

        let mut t = Vec::with_capacity(512);
        t.extend([0xa0, 0x03, 0x02, 0x01, 0x02]); // [0] version v3
        positive_integer(&mut t, serial.as_ref());
        der(&mut t, 0x30, &wrap(0x06, ECDSA_WITH_SHA256));
        t.extend_from_slice(&template.issuer_name);
        let mut validity = Vec::with_capacity(32);
        time(&mut validity, params.not_before);
        time(&mut validity, params.not_after);
        der(&mut t, 0x30, &validity);
        let mut atv = wrap(0x06, COMMON_NAME);
        der(&mut atv, 0x0c, cn.as_bytes());
        der(&mut t, 0x30, &wrap(0x31, &wrap(0x30, &atv)));
        t.extend_from_slice(spki);

        let mut exts = Vec::with_capacity(256);
        let aki = wrap(0x30, &wrap(0x80, &template.aki));
        extension(&mut exts, AUTHORITY_KEY_ID, false, &aki);
        if !params.subject_alt_names.is_empty() {
            let mut names = Vec::with_capacity(128);
            for san in &params.subject_alt_names {
                match san {
                    SanType::URI(u) => der(&mut names, 0x86, u.as_str().as_bytes()),
                    SanType::DnsName(d) => der(&mut names, 0x82, d.as_str().as_bytes()),
                    SanType::IpAddress(std::net::IpAddr::V4(a)) => {
                        der(&mut names, 0x87, &a.octets())
                    }
                    SanType::IpAddress(std::net::IpAddr::V6(a)) => {
                        der(&mut names, 0x87, &a.octets())
                    }
                    _ => return None,
                }
            }
            // Critical only for an empty subject, which a leaf here never has.
            extension(&mut exts, SUBJECT_ALT_NAME, false, &wrap(0x30, &names));
        }
        extension(&mut exts, KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]);
        if !params.extended_key_usages.is_empty() {
            let mut ids = Vec::with_capacity(24);
            for eku in &params.extended_key_usages {
                match eku {
                    ExtendedKeyUsagePurpose::ServerAuth => der(&mut ids, 0x06, SERVER_AUTH),
                    ExtendedKeyUsagePurpose::ClientAuth => der(&mut ids, 0x06, CLIENT_AUTH),
                    _ => return None,
                }
            }
            extension(&mut exts, EXT_KEY_USAGE, false, &wrap(0x30, &ids));
        }
        let digest = crate::backend::sha256(spki);
        extension(&mut exts, SUBJECT_KEY_ID, false, &wrap(0x04, &digest[..20]));
        extension(&mut exts, BASIC_CONSTRAINTS, true, &[0x30, 0x00]);
        der(&mut t, 0xa3, &wrap(0x30, &exts));
        Some(wrap(0x30, &t))
    }

    /// The Certificate: TBS, algorithm, signature.
    pub(super) fn certificate(tbs: &[u8], signature: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(tbs.len() + signature.len() + 20);
        body.extend_from_slice(tbs);
        der(&mut body, 0x30, &wrap(0x06, ECDSA_WITH_SHA256));
        let mut bits = Vec::with_capacity(signature.len() + 1);
        bits.push(0);
        bits.extend_from_slice(signature);
        der(&mut body, 0x03, &bits);
        wrap(0x30, &body)
    }
}

#[cfg(test)]
mod leaf_der_tests {
    use std::time::Duration;

    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
        KeyUsagePurpose, SanType,
    };
    use x509_parser::prelude::FromDer as _;

    use crate::authority::{random_serial, Authority, IntermediateParams, RootParams};
    use crate::backend;
    use crate::identity::TrustDomain;
    use crate::validity::Timestamp;
    use crate::KeyAlgorithm;

    fn tbs_of(der: &[u8]) -> Vec<u8> {
        let (_, x509) = x509_parser::certificate::X509Certificate::from_der(der).unwrap();
        x509.tbs_certificate.as_ref().to_vec()
    }

    /// The directly written leaf is rcgen's, byte for byte before the signature, for every
    /// shape `issue` makes (usages, SAN kinds, serials with and without the high bit, dates
    /// on both sides of 2050), from a root, an intermediate and a CA loaded from PEM; and
    /// its signature verifies under the CA key.
    #[test]
    fn direct_leaf_der_is_rcgen_der() {
        let now = Timestamp::from_unix(1_780_000_000);
        let td = TrustDomain::new("mesh.internal").unwrap();
        let root = Authority::create_root(&RootParams::new(td), now).unwrap();
        let inter = root
            .create_intermediate(&IntermediateParams::new(), now)
            .unwrap();
        let loaded = Authority::from_pem(
            inter.chain_pem().as_bytes(),
            inter.plaintext_key_pem().0.as_bytes(),
            None,
        )
        .unwrap();
        let sans = [
            vec!["uri"],
            vec!["uri", "dns"],
            vec!["uri", "dns", "dns2", "ip4", "ip6"],
        ];
        let usages = [
            vec![ExtendedKeyUsagePurpose::ServerAuth],
            vec![ExtendedKeyUsagePurpose::ClientAuth],
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        ];
        let mut checked = 0;
        for ca in [&root, &inter, &loaded] {
            for (i, names) in sans.iter().enumerate() {
                for (j, ekus) in usages.iter().enumerate() {
                    for lifetime in [3600u64, 30 * 365 * 86_400] {
                        let mut params = CertificateParams::default();
                        let mut dn = DistinguishedName::new();
                        dn.push(DnType::CommonName, "x".repeat(1 + 21 * (i + j)));
                        params.distinguished_name = dn;
                        params.is_ca = IsCa::ExplicitNoCa;
                        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                        params.extended_key_usages = ekus.clone();
                        params.subject_alt_names = names
                            .iter()
                            .map(|n| match *n {
                                "uri" => SanType::URI(
                                    "spiffe://mesh.internal/ns/prod/sa/api"
                                        .to_owned()
                                        .try_into()
                                        .unwrap(),
                                ),
                                "dns" => SanType::DnsName("api.mesh.internal".try_into().unwrap()),
                                "dns2" => SanType::DnsName(
                                    format!("{}.example", "a".repeat(120)).try_into().unwrap(),
                                ),
                                "ip4" => SanType::IpAddress([10, 0, 0, 1].into()),
                                _ => SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
                            })
                            .collect();
                        params.use_authority_key_identifier_extension = true;
                        params.serial_number = Some(random_serial().unwrap());
                        params.not_before = now.sub(Duration::from_secs(60)).to_offset().unwrap();
                        params.not_after =
                            now.add(Duration::from_secs(lifetime)).to_offset().unwrap();
                        let key = backend::generate_leaf_key(KeyAlgorithm::EcdsaP256).unwrap();
                        let direct = ca.leaf_der(&params, &key).unwrap().unwrap();
                        let by_rcgen = params.signed_by(&key, &ca.issuer).unwrap();
                        assert_eq!(
                            tbs_of(&direct),
                            tbs_of(by_rcgen.der()),
                            "{names:?} {ekus:?}"
                        );
                        let (_, x509) =
                            x509_parser::certificate::X509Certificate::from_der(&direct).unwrap();
                        let (_, issuer) = x509_parser::certificate::X509Certificate::from_der(
                            ca.certificate_der(),
                        )
                        .unwrap();
                        x509.verify_signature(Some(issuer.public_key())).unwrap();
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 54);
    }

    /// Anything the direct writer does not write goes to rcgen.
    #[test]
    fn other_shapes_are_left_to_rcgen() {
        let now = Timestamp::from_unix(1_780_000_000);
        let td = TrustDomain::new("mesh.internal").unwrap();
        let root = Authority::create_root(&RootParams::new(td), now).unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial().unwrap());
        let key = backend::generate_leaf_key(KeyAlgorithm::EcdsaP256).unwrap();
        // An empty subject (its SAN would be critical).
        params.distinguished_name = DistinguishedName::new();
        assert!(root.leaf_der(&params, &key).unwrap().is_none());
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "api");
        params.distinguished_name = dn;
        assert!(root.leaf_der(&params, &key).unwrap().is_some());
        let mut with_crl = params.clone();
        with_crl.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec!["http://crl.example/ca.crl".into()],
        }];
        assert!(root.leaf_der(&with_crl, &key).unwrap().is_none());
        let p384 = backend::generate_leaf_key(KeyAlgorithm::EcdsaP384).unwrap();
        assert!(root.leaf_der(&params, &p384).unwrap().is_none());
    }
}
