//! A parsed, read-only view of an X.509 certificate: what `inspect` shows and what policy reads.

use std::fmt;
use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::algorithms::{classify_key, classify_signature, KeyClass, SignatureClass};
use crate::encoding;
use crate::error::{Error, Result};
use crate::identity::SpiffeId;
use crate::validity::Timestamp;

/// A certificate serial number (big-endian, without the DER sign byte).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// A serial from its big-endian bytes; leading zero bytes are dropped.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let trimmed = &bytes[start..];
        Serial(if trimmed.is_empty() {
            vec![0]
        } else {
            trimmed.to_vec()
        })
    }

    /// Parses hex (upper or lower case, colons allowed), as printed by meshtls or OpenSSL.
    pub fn from_hex(s: &str) -> Result<Self> {
        let bytes = encoding::hex_decode(s)
            .ok_or_else(|| Error::malformed(format!("serial {s:?} is not hexadecimal")))?;
        if bytes.is_empty() || bytes.len() > 20 {
            return Err(Error::malformed(format!(
                "serial {s:?} must be 1 to 20 bytes"
            )));
        }
        Ok(Serial::from_bytes(&bytes))
    }

    /// The big-endian bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex without separators.
    pub fn to_hex(&self) -> String {
        encoding::hex_encode(&self.0)
    }
}

impl std::str::FromStr for Serial {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Serial::from_hex(s)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A SHA-256 fingerprint (of a certificate's DER, or of its SubjectPublicKeyInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// SHA-256 of the bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Fingerprint(crate::backend::sha256(bytes))
    }

    /// Parses 64 hex digits (colons allowed, any case).
    pub fn from_hex(s: &str) -> Result<Self> {
        let bytes = encoding::hex_decode(s)
            .ok_or_else(|| Error::malformed(format!("fingerprint {s:?} is not hexadecimal")))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::malformed(format!("fingerprint {s:?} is not 32 bytes (SHA-256)"))
        })?;
        Ok(Fingerprint(arr))
    }

    /// Lowercase hex without separators.
    pub fn to_hex(&self) -> String {
        encoding::hex_encode(&self.0)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Fingerprint::from_hex(s)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The key usage bits meshtls cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsageBits {
    /// digitalSignature
    pub digital_signature: bool,
    /// keyEncipherment
    pub key_encipherment: bool,
    /// keyCertSign
    pub key_cert_sign: bool,
    /// cRLSign
    pub crl_sign: bool,
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    /// Subject distinguished name, RFC 4514 style.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// Serial number.
    pub serial: Serial,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// Every URI SAN, as written.
    pub uris: Vec<String>,
    /// The SPIFFE ID when there is exactly one URI SAN and it is a valid SPIFFE ID.
    pub spiffe_id: Option<SpiffeId>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP address SANs.
    pub ip_addresses: Vec<IpAddr>,
    /// Basic constraints cA flag.
    pub is_ca: bool,
    /// Path length constraint of a CA.
    pub path_len: Option<u32>,
    /// Key usage, if the extension is present.
    pub key_usage: Option<KeyUsageBits>,
    /// Extended key usage: serverAuth.
    pub server_auth: bool,
    /// Extended key usage: clientAuth.
    pub client_auth: bool,
    /// Whether the certificate has an extended key usage extension at all.
    pub has_eku: bool,
    /// Human name of the key algorithm: `ECDSA P-256`, `Ed25519`, `RSA 2048`...
    pub key_algorithm: String,
    /// SHA-256 of the DER.
    pub fingerprint: Fingerprint,
    /// SHA-256 of the SubjectPublicKeyInfo (for SPKI pins).
    pub spki_fingerprint: Fingerprint,
    /// The SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// Subject key identifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// Authority key identifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// CRL distribution point URIs.
    pub crl_distribution_points: Vec<String>,
    /// DNS names permitted by the name constraints of a CA.
    pub permitted_dns: Vec<String>,
    /// Subject equals issuer.
    pub self_issued: bool,
    /// What the path validator's profile rules read (criticality flags, raw serial, key
    /// strength...).
    pub(crate) facts: Facts,
}

/// The authorityKeyIdentifier as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AkiFacts {
    pub critical: bool,
    pub key_id: Option<Vec<u8>>,
    /// authorityCertIssuer or authorityCertSerialNumber present.
    pub issuer_serial: bool,
}

/// The parts of a certificate the path validator's profile and strength rules need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// basicConstraints: None when absent, else its criticality.
    pub bc_critical: Option<bool>,
    /// nameConstraints present.
    pub nc_present: bool,
    /// dNSName bases of the name constraints (permitted and excluded).
    pub nc_dns: Vec<String>,
    /// policyConstraints: None when absent, else its criticality.
    pub pc_critical: Option<bool>,
    /// The subject DN has no attribute.
    pub subject_empty: bool,
    /// subjectAltName: None when absent, else its criticality.
    pub san_critical: Option<bool>,
    /// The serial's INTEGER content octets as encoded (sign byte included).
    pub raw_serial: Vec<u8>,
    /// subjectKeyIdentifier: None when absent, else its criticality.
    pub ski_critical: Option<bool>,
    /// authorityKeyIdentifier, if present.
    pub aki: Option<AkiFacts>,
    /// OIDs of critical extensions meshtls does not process.
    pub unknown_critical: Vec<String>,
    /// Why the subject key is too weak, if it is.
    pub weak_key: Option<String>,
    /// Why the certificate's own signature algorithm is too weak, if it is.
    pub weak_signature: Option<String>,
    /// extendedKeyUsage holds anyExtendedKeyUsage and nothing meshtls asks for.
    pub eku_any_only: bool,
}

/// Extensions meshtls (or rustls-webpki for it) processes; any other critical one is unknown.
const KNOWN_EXTENSIONS: &[&str] = &[
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.15", // keyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.19", // basicConstraints
    "2.5.29.30", // nameConstraints
    "2.5.29.31", // cRLDistributionPoints
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.37", // extKeyUsage
];

/// Why the key is too weak for a path (the shared classification of [`crate::algorithms`]:
/// weak keys, and in a path also DSA and RSA moduli that are not a multiple of 8), or `None`.
fn weak_key_reason(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<String> {
    match classify_key(spki) {
        KeyClass::Weak(what) => Some(what),
        KeyClass::Dsa => Some("a DSA key".into()),
        KeyClass::OddRsa(bits) if bits % 8 != 0 => {
            Some(format!("an RSA key of {bits} bits (not a multiple of 8)"))
        }
        _ => None,
    }
}

/// The name of a weak signature algorithm (SHA-1, MD5...), or `None`.
fn weak_signature_name(alg: &x509_parser::x509::AlgorithmIdentifier<'_>) -> Option<String> {
    match classify_signature(alg) {
        SignatureClass::Weak(name) => Some(name),
        _ => None,
    }
}

/// The error for input that is neither a PEM nor a DER certificate, saying so in words (and
/// saying when the input looks like a file path given where contents were expected).
pub(crate) fn not_a_certificate(input: &[u8]) -> Error {
    if encoding::looks_like_path(input) {
        Error::malformed(
            "not an X.509 certificate: the input looks like a file path; pass the file's contents",
        )
    } else {
        Error::malformed("not an X.509 certificate (neither PEM nor DER)")
    }
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are an error.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (rest, x509) = X509Certificate::from_der(der).map_err(|_| not_a_certificate(der))?;
        if !rest.is_empty() {
            return Err(Error::malformed("trailing bytes after the certificate"));
        }
        Self::from_parsed(der, &x509)
    }

    /// Parses the first certificate of PEM or DER input.
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self> {
        let certs = encoding::parse_certificates(input)?;
        Self::from_der(&certs[0])
    }

    /// As [`Certificate::from_der`], but an unknown critical extension is recorded for the
    /// path validator instead of refused.
    pub(crate) fn from_der_lenient(der: &[u8]) -> Result<Self> {
        let (rest, x509) = X509Certificate::from_der(der).map_err(|_| not_a_certificate(der))?;
        if !rest.is_empty() {
            return Err(Error::malformed("trailing bytes after the certificate"));
        }
        Self::from_parsed_with(der, &x509, true)
    }

    pub(crate) fn from_parsed(der: &[u8], x509: &X509Certificate<'_>) -> Result<Self> {
        Self::from_parsed_with(der, x509, false)
    }

    fn from_parsed_with(der: &[u8], x509: &X509Certificate<'_>, lenient: bool) -> Result<Self> {
        let bad = |what: &str, e: &dyn fmt::Debug| {
            Error::malformed(format!(
                "certificate {what} does not parse ({})",
                crate::error::words_of(e)
            ))
        };
        let mut uris = Vec::new();
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let mut is_ca = false;
        let mut path_len = None;
        let mut key_usage = None;
        let (mut server_auth, mut client_auth, mut has_eku) = (false, false, false);
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        let mut crl_distribution_points = Vec::new();
        let mut permitted_dns = Vec::new();
        let mut facts = Facts {
            raw_serial: x509.raw_serial().to_vec(),
            subject_empty: x509.subject().iter_attributes().next().is_none(),
            weak_key: weak_key_reason(x509.public_key()),
            weak_signature: weak_signature_name(&x509.signature_algorithm)
                .map(|n| format!("signed with {n}")),
            ..Facts::default()
        };
        for ext in x509.extensions() {
            // id-ce (2.5.29) arcs compared as DER: spelling every OID out as a string cost more
            // than the rest of the parse.
            match ext.oid.as_bytes() {
                [0x55, 0x1d, 19] => facts.bc_critical = Some(ext.critical),
                [0x55, 0x1d, 30] => facts.nc_present = true,
                [0x55, 0x1d, 36] => facts.pc_critical = Some(ext.critical),
                [0x55, 0x1d, 17] => facts.san_critical = Some(ext.critical),
                [0x55, 0x1d, 14] => facts.ski_critical = Some(ext.critical),
                _ => {}
            }
            if ext.critical {
                let oid = ext.oid.to_id_string();
                if !KNOWN_EXTENSIONS.contains(&oid.as_str()) {
                    facts.unknown_critical.push(oid);
                }
            }
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::URI(u) => uris.push((*u).to_owned()),
                            GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                            GeneralName::IPAddress(b) => match b.len() {
                                4 => ip_addresses.push(IpAddr::from(
                                    <[u8; 4]>::try_from(*b).map_err(|e| bad("IP SAN", &e))?,
                                )),
                                16 => ip_addresses.push(IpAddr::from(
                                    <[u8; 16]>::try_from(*b).map_err(|e| bad("IP SAN", &e))?,
                                )),
                                n => {
                                    return Err(Error::malformed(format!(
                                        "IP address SAN of {n} bytes"
                                    )))
                                }
                            },
                            _ => {}
                        }
                    }
                }
                ParsedExtension::BasicConstraints(bc) => {
                    is_ca = bc.ca;
                    path_len = bc.path_len_constraint;
                }
                ParsedExtension::KeyUsage(ku) => {
                    key_usage = Some(KeyUsageBits {
                        digital_signature: ku.digital_signature(),
                        key_encipherment: ku.key_encipherment(),
                        key_cert_sign: ku.key_cert_sign(),
                        crl_sign: ku.crl_sign(),
                    })
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    has_eku = true;
                    facts.eku_any_only = eku.any && !eku.server_auth && !eku.client_auth;
                    server_auth = eku.server_auth || eku.any;
                    client_auth = eku.client_auth || eku.any;
                }
                ParsedExtension::SubjectKeyIdentifier(k) => subject_key_id = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
                    facts.aki = Some(AkiFacts {
                        critical: ext.critical,
                        key_id: authority_key_id.clone(),
                        issuer_serial: aki.authority_cert_issuer.is_some()
                            || aki.authority_cert_serial.is_some(),
                    });
                }
                ParsedExtension::CRLDistributionPoints(points) => {
                    for p in points.iter() {
                        if let Some(x509_parser::extensions::DistributionPointName::FullName(
                            names,
                        )) = &p.distribution_point
                        {
                            for n in names {
                                if let GeneralName::URI(u) = n {
                                    crl_distribution_points.push((*u).to_owned());
                                }
                            }
                        }
                    }
                }
                ParsedExtension::NameConstraints(nc) => {
                    for sub in nc.permitted_subtrees.iter().flatten() {
                        if let GeneralName::DNSName(d) = sub.base {
                            permitted_dns.push(d.to_owned());
                        }
                    }
                    for sub in nc
                        .permitted_subtrees
                        .iter()
                        .chain(nc.excluded_subtrees.iter())
                        .flatten()
                    {
                        if let GeneralName::DNSName(d) = sub.base {
                            facts.nc_dns.push(d.to_owned());
                        }
                    }
                }
                ParsedExtension::UnsupportedExtension { .. }
                | ParsedExtension::ParseError { .. }
                    if ext.critical && !lenient =>
                {
                    return Err(Error::unsupported(format!(
                        "certificate has an unsupported critical extension {}",
                        ext.oid
                    )));
                }
                _ => {}
            }
        }
        let spiffe_id = match uris.as_slice() {
            [one] => SpiffeId::parse(one).ok(),
            _ => None,
        };
        let spki = x509.public_key();
        let key_algorithm = describe_key(spki);
        let subject = x509.subject().to_string();
        let issuer = x509.issuer().to_string();
        Ok(Certificate {
            der: der.to_vec(),
            common_name: x509
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
            serial: Serial::from_bytes(x509.raw_serial()),
            not_before: Timestamp::from_unix(x509.validity().not_before.timestamp()),
            not_after: Timestamp::from_unix(x509.validity().not_after.timestamp()),
            self_issued: subject == issuer,
            subject,
            issuer,
            uris,
            spiffe_id,
            dns_names,
            ip_addresses,
            is_ca,
            path_len,
            key_usage,
            server_auth,
            client_auth,
            has_eku,
            key_algorithm,
            fingerprint: Fingerprint::of(der),
            spki_fingerprint: Fingerprint::of(spki.raw),
            spki_der: spki.raw.to_vec(),
            subject_key_id,
            authority_key_id,
            crl_distribution_points,
            permitted_dns,
            facts,
        })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM encoding.
    pub fn to_pem(&self) -> String {
        encoding::cert_pem(&self.der)
    }

    /// The key algorithm as one meshtls generates, if it is one of those.
    pub fn key_kind(&self) -> Option<crate::authority::KeyAlgorithm> {
        use crate::authority::KeyAlgorithm;
        match self.key_algorithm.as_str() {
            "ECDSA P-256" => Some(KeyAlgorithm::EcdsaP256),
            "ECDSA P-384" => Some(KeyAlgorithm::EcdsaP384),
            "Ed25519" => Some(KeyAlgorithm::Ed25519),
            "RSA 2048" => Some(KeyAlgorithm::Rsa2048),
            "RSA 4096" => Some(KeyAlgorithm::Rsa4096),
            _ => None,
        }
    }

    /// The TLS usage its extended key usage allows (None when it allows neither role).
    /// A certificate without an EKU extension may be used for both.
    pub fn usage(&self) -> Option<crate::issue::Usage> {
        use crate::issue::Usage;
        match (self.has_eku, self.server_auth, self.client_auth) {
            (false, _, _) | (true, true, true) => Some(Usage::Both),
            (true, true, false) => Some(Usage::Server),
            (true, false, true) => Some(Usage::Client),
            (true, false, false) => None,
        }
    }

    /// The total lifetime (not_after - not_before).
    pub fn lifetime(&self) -> std::time::Duration {
        self.not_after.since(self.not_before)
    }

    /// Whether `at` is within the validity period.
    pub fn is_valid_at(&self, at: Timestamp) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

fn describe_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> String {
    if crate::algorithms::is_p256(spki) {
        return "ECDSA P-256".into();
    }
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "ECDSA P-256".into(),
                Some("1.3.132.0.34") => "ECDSA P-384".into(),
                Some("1.3.132.0.35") => "ECDSA P-521".into(),
                _ => "ECDSA (unknown curve)".into(),
            }
        }
        "1.3.101.112" => "Ed25519".into(),
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
            _ => "RSA".into(),
        },
        other => format!("unknown ({other})"),
    }
}
