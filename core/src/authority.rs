//! The certificate authority: root and intermediate creation, loading and saving.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, GeneralSubtree, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, NameConstraints, SanType,
};

use crate::backend;
use crate::certificate::{Certificate, Serial};
use crate::encoding::{self, PrivateKeyPem};
use crate::error::{Error, Result};
use crate::hostname::{self, Wildcard};
use crate::identity::TrustDomain;
use crate::validity::Timestamp;

/// Seconds a new certificate is backdated, so that peers whose clocks run a little behind
/// accept it at once.
pub const BACKDATE: Duration = Duration::from_secs(60);
const DAY: u64 = 86_400;

/// Key algorithms meshtls generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA 2048 with PKCS#1 v1.5 SHA-256 signatures.
    Rsa2048,
    /// RSA 4096 with PKCS#1 v1.5 SHA-256 signatures.
    Rsa4096,
}

impl KeyAlgorithm {
    /// Every algorithm.
    pub const ALL: &'static [KeyAlgorithm] = &[
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa4096,
    ];

    /// The stable name: `ecdsa-p256`, `ecdsa-p384`, `ed25519`, `rsa-2048`, `rsa-4096`.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
        }
    }

    pub(crate) fn of_key(kp: &KeyPair) -> KeyAlgorithm {
        let alg = kp.algorithm();
        if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
            KeyAlgorithm::EcdsaP384
        } else if alg == &rcgen::PKCS_ED25519 {
            KeyAlgorithm::Ed25519
        } else if alg == &rcgen::PKCS_RSA_SHA256
            || alg == &rcgen::PKCS_RSA_SHA384
            || alg == &rcgen::PKCS_RSA_SHA512
        {
            if kp.public_key_raw().len() > 300 {
                KeyAlgorithm::Rsa4096
            } else {
                KeyAlgorithm::Rsa2048
            }
        } else {
            KeyAlgorithm::EcdsaP256
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        KeyAlgorithm::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                Error::unsupported(format!(
                    "key algorithm {s:?}: use one of ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-4096"
                ))
            })
    }
}

/// How to create a root CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootParams {
    /// The trust domain the CA vouches for; written as a URI SAN `spiffe://<td>`.
    pub trust_domain: TrustDomain,
    /// Subject common name; default `<td> root CA <random id>` (distinct per CA, so that an
    /// old and a new CA can overlap during rotation).
    pub common_name: Option<String>,
    /// Key algorithm (default ECDSA P-256).
    pub key: KeyAlgorithm,
    /// Lifetime (default 10 years).
    pub validity: Duration,
    /// Path length constraint (default none).
    pub path_len: Option<u8>,
    /// DNS name constraints (permitted subtrees); empty for none.
    pub permitted_dns: Vec<String>,
}

impl RootParams {
    /// Defaults for the trust domain.
    pub fn new(trust_domain: TrustDomain) -> Self {
        RootParams {
            trust_domain,
            common_name: None,
            key: KeyAlgorithm::EcdsaP256,
            validity: Duration::from_secs(3650 * DAY),
            path_len: None,
            permitted_dns: Vec::new(),
        }
    }
}

/// How to create an intermediate CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntermediateParams {
    /// Subject common name; default `<td> intermediate CA <random id>`.
    pub common_name: Option<String>,
    /// Key algorithm (default ECDSA P-256).
    pub key: KeyAlgorithm,
    /// Lifetime (default 3 years; never past the parent's end).
    pub validity: Duration,
    /// Path length constraint (default 0: it issues leaves only).
    pub path_len: Option<u8>,
    /// DNS name constraints (permitted subtrees); empty for none.
    pub permitted_dns: Vec<String>,
}

impl Default for IntermediateParams {
    fn default() -> Self {
        IntermediateParams {
            common_name: None,
            key: KeyAlgorithm::EcdsaP256,
            validity: Duration::from_secs(3 * 365 * DAY),
            path_len: Some(0),
            permitted_dns: Vec::new(),
        }
    }
}

impl IntermediateParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A certificate authority: its certificate, its key, and the certificates above it.
pub struct Authority {
    cert: Certificate,
    pub(crate) issuer: Issuer<'static, KeyPair>,
    key_algorithm: KeyAlgorithm,
    trust_domain: TrustDomain,
    /// Certificates between this CA and the root (nearest first), excluding both.
    parents: Vec<Vec<u8>>,
    /// The root's DER (this CA's own DER for a root).
    root: Vec<u8>,
    /// [`Authority::intermediates_der`] as PEM, computed once: every issuance appends it.
    intermediates_pem: String,
    /// The DNS name constraints of this CA and every CA above it, as (subject, permitted
    /// bases), parsed once: issuance checks every requested DNS name against them.
    dns_constraints: Vec<(String, Vec<String>)>,
    /// What a leaf's DER takes from this CA, learned on the first issuance (see `issue`).
    pub(crate) leaf_template: std::sync::OnceLock<Option<crate::issue::LeafTemplate>>,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &self.cert.subject)
            .field("trust_domain", &self.trust_domain)
            .field("key_algorithm", &self.key_algorithm)
            .field("is_root", &self.is_root())
            .finish_non_exhaustive()
    }
}

pub(crate) fn random_serial() -> Result<rcgen::SerialNumber> {
    let mut bytes = [0u8; 16];
    loop {
        backend::random(&mut bytes)?;
        if bytes[0] != 0 {
            return Ok(rcgen::SerialNumber::from_slice(&bytes));
        }
    }
}

fn short_id() -> Result<String> {
    let mut b = [0u8; 4];
    backend::random(&mut b)?;
    Ok(encoding::hex_encode(&b))
}

fn ca_params(
    trust_domain: &TrustDomain,
    common_name: String,
    path_len: Option<u8>,
    permitted_dns: &[String],
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "meshtls");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.subject_alt_names =
        vec![SanType::URI(trust_domain.id_string().try_into().map_err(
            |_| Error::invalid_request("trust domain is not IA5"),
        )?)];
    if !permitted_dns.is_empty() {
        let mut subtrees = Vec::new();
        for name in permitted_dns {
            let name = hostname::normalize(name, Wildcard::Refuse)?;
            subtrees.push(GeneralSubtree::DnsName(name));
        }
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: subtrees,
            excluded_subtrees: Vec::new(),
        });
    }
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before.to_offset()?;
    params.not_after = not_after.to_offset()?;
    Ok(params)
}

fn check_common_name(cn: &str) -> Result<()> {
    if cn.is_empty() || cn.len() > 64 {
        return Err(Error::invalid_request(
            "a common name must be 1 to 64 bytes",
        ));
    }
    Ok(())
}

impl Authority {
    /// Creates a self-signed root CA valid from `now` (backdated by [`BACKDATE`]).
    pub fn create_root(params: &RootParams, now: Timestamp) -> Result<Authority> {
        if params.validity < Duration::from_secs(DAY) {
            return Err(Error::invalid_request(
                "a root CA must be valid for at least a day",
            ));
        }
        let cn = match &params.common_name {
            Some(cn) => cn.clone(),
            None => format!("{} root CA {}", params.trust_domain, short_id()?),
        };
        check_common_name(&cn)?;
        let key = backend::generate(params.key)?;
        let cert_params = ca_params(
            &params.trust_domain,
            cn,
            params.path_len,
            &params.permitted_dns,
            now.sub(BACKDATE),
            now.add(params.validity),
        )?;
        let cert = cert_params
            .self_signed(&key)
            .map_err(|e| Error::internal(format!("signing the root failed: {e}")))?;
        let der = cert.der().to_vec();
        let parsed = Certificate::from_der(&der)?;
        Authority {
            cert: parsed,
            issuer: Issuer::new(cert_params, key),
            key_algorithm: params.key,
            trust_domain: params.trust_domain.clone(),
            parents: Vec::new(),
            root: der,
            intermediates_pem: String::new(),
            dns_constraints: Vec::new(),
            leaf_template: std::sync::OnceLock::new(),
        }
        .with_caches()
    }

    /// Creates an intermediate CA signed by this CA, in the same trust domain.
    pub fn create_intermediate(
        &self,
        params: &IntermediateParams,
        now: Timestamp,
    ) -> Result<Authority> {
        if let Some(limit) = self.cert.path_len {
            if limit == 0 {
                return Err(Error::invalid_request(
                    "this CA has path length 0: it may not create intermediates",
                ));
            }
            if let Some(n) = params.path_len {
                if u32::from(n) >= limit {
                    return Err(Error::invalid_request(format!(
                        "the intermediate's path length {n} must be below its parent's {limit}"
                    )));
                }
            }
        }
        let not_after = now.add(params.validity);
        self.check_can_sign(now, not_after)?;
        for name in &params.permitted_dns {
            self.check_dns_within_constraints(name)?;
        }
        let cn = match &params.common_name {
            Some(cn) => cn.clone(),
            None => format!("{} intermediate CA {}", self.trust_domain, short_id()?),
        };
        check_common_name(&cn)?;
        let key = backend::generate(params.key)?;
        let mut cert_params = ca_params(
            &self.trust_domain,
            cn,
            params.path_len,
            &params.permitted_dns,
            now.sub(BACKDATE),
            not_after,
        )?;
        cert_params.use_authority_key_identifier_extension = true;
        let cert = cert_params
            .signed_by(&key, &self.issuer)
            .map_err(|e| Error::internal(format!("signing the intermediate failed: {e}")))?;
        let der = cert.der().to_vec();
        let mut parents = Vec::new();
        if !self.is_root() {
            parents.push(self.cert.der().to_vec());
        }
        parents.extend(self.parents.iter().cloned());
        Authority {
            cert: Certificate::from_der(&der)?,
            issuer: Issuer::new(cert_params, key),
            key_algorithm: params.key,
            trust_domain: self.trust_domain.clone(),
            parents,
            root: self.root.clone(),
            intermediates_pem: String::new(),
            dns_constraints: Vec::new(),
            leaf_template: std::sync::OnceLock::new(),
        }
        .with_caches()
    }

    /// Loads a CA from its certificate chain (this CA first, then its parents; the root may
    /// be included) and its private key (encrypted PKCS#8 with the passphrase, or plain).
    pub fn from_pem(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        passphrase: Option<&str>,
    ) -> Result<Authority> {
        let chain = encoding::parse_certificates(cert_chain_pem)?;
        let key_der = match passphrase {
            Some(p) => encoding::decrypt_private_key(key_pem, p)?,
            None => encoding::parse_private_key(key_pem)?,
        };
        let key = backend::load_key_any(&key_der)?;
        let cert = Certificate::from_der(&chain[0])?;
        if !cert.is_ca || !cert.key_usage.map(|k| k.key_cert_sign).unwrap_or(false) {
            return Err(Error::invalid_request(format!(
                "{} is not a CA certificate (needs cA=true and keyCertSign)",
                cert.subject
            )));
        }
        if rcgen::PublicKeyData::subject_public_key_info(&key) != cert.spki_der {
            return Err(Error::invalid_request(
                "the private key does not belong to the CA certificate",
            ));
        }
        let trust_domain = match cert.uris.as_slice() {
            [uri] => TrustDomain::parse_lenient(uri)?,
            _ => return Err(Error::invalid_request(
                "the CA certificate names no trust domain (one URI SAN spiffe://<td> is needed)",
            )),
        };
        let issuer = Issuer::from_ca_cert_der(&chain[0].clone().into(), key)
            .map_err(|e| Error::malformed(format!("CA certificate: {e}")))?;
        let mut parents: Vec<Vec<u8>> = chain[1..].to_vec();
        let root =
            if cert.self_issued {
                parents.clear();
                chain[0].clone()
            } else {
                match parents.last() {
                    Some(last) if Certificate::from_der(last)?.self_issued => {
                        parents.pop().unwrap_or_default()
                    }
                    _ => return Err(Error::invalid_request(
                        "an intermediate CA needs its chain up to the root in the certificate file",
                    )),
                }
            };
        let key_algorithm = KeyAlgorithm::of_key(issuer.key());
        Authority {
            cert,
            issuer,
            key_algorithm,
            trust_domain,
            parents,
            root,
            intermediates_pem: String::new(),
            dns_constraints: Vec::new(),
            leaf_template: std::sync::OnceLock::new(),
        }
        .with_caches()
    }

    /// The CA's certificate chain as PEM: this CA, then its parents, then the root.
    pub fn chain_pem(&self) -> String {
        let mut s = self.certificate_pem();
        for p in &self.parents {
            s.push_str(&encoding::cert_pem(p));
        }
        if !self.is_root() {
            s.push_str(&encoding::cert_pem(&self.root));
        }
        s
    }

    /// The private key as encrypted PKCS#8 PEM (scrypt + AES-256-CBC).
    pub fn encrypted_key_pem(&self, passphrase: &str) -> Result<PrivateKeyPem> {
        encoding::encrypt_private_key(self.issuer.key().serialized_der(), passphrase)
    }

    /// The private key as plaintext PKCS#8 PEM. Prefer [`Authority::encrypted_key_pem`].
    pub fn plaintext_key_pem(&self) -> PrivateKeyPem {
        PrivateKeyPem(encoding::key_pem(self.issuer.key().serialized_der()))
    }

    /// This CA's certificate as PEM.
    pub fn certificate_pem(&self) -> String {
        self.cert.to_pem()
    }

    /// This CA's certificate as DER.
    pub fn certificate_der(&self) -> &[u8] {
        self.cert.der()
    }

    /// The parsed certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The root certificate above this CA (itself for a root), DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root
    }

    /// The root certificate as PEM: what a trust bundle holds.
    pub fn root_pem(&self) -> String {
        encoding::cert_pem(&self.root)
    }

    /// Intermediates to send after a leaf this CA issues (nearest first, root excluded).
    pub fn intermediates_der(&self) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        if !self.is_root() {
            v.push(self.cert.der().to_vec());
        }
        v.extend(self.parents.iter().cloned());
        v
    }

    /// The intermediates to send after a leaf, as PEM.
    pub fn intermediates_pem(&self) -> &str {
        &self.intermediates_pem
    }

    fn with_caches(mut self) -> Result<Self> {
        let mut constraints = Vec::new();
        for der in std::iter::once(self.cert.der())
            .chain(self.parents.iter().map(Vec::as_slice))
            .chain(std::iter::once(self.root.as_slice()))
        {
            let ca = Certificate::from_der(der)?;
            if !ca.permitted_dns.is_empty() {
                let bases = ca
                    .permitted_dns
                    .iter()
                    .map(|b| b.trim_start_matches('.').to_ascii_lowercase())
                    .collect();
                constraints.push((ca.subject, bases));
            }
        }
        self.dns_constraints = constraints;
        self.intermediates_pem = self
            .intermediates_der()
            .iter()
            .map(|d| encoding::cert_pem(d))
            .collect();
        Ok(self)
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// Whether this is a self-signed root.
    pub fn is_root(&self) -> bool {
        self.cert.self_issued
    }

    /// The key algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    /// The serial of the CA certificate.
    pub fn serial(&self) -> &Serial {
        &self.cert.serial
    }

    /// Checks the CA is usable at `now` and outlives `not_after`.
    pub(crate) fn check_can_sign(&self, now: Timestamp, not_after: Timestamp) -> Result<()> {
        if now > self.cert.not_after {
            return Err(Error::invalid_request(format!(
                "the CA expired at {}",
                self.cert.not_after
            )));
        }
        if now.add(BACKDATE) < self.cert.not_before {
            return Err(Error::invalid_request(format!(
                "the CA is not valid before {}",
                self.cert.not_before
            )));
        }
        if not_after > self.cert.not_after {
            return Err(Error::invalid_request(format!(
                "the certificate would end at {not_after}, after its issuer ({}); shorten the lifetime or rotate the CA",
                self.cert.not_after
            )));
        }
        Ok(())
    }

    /// Checks a DNS name against the name constraints of this CA and every CA above it.
    pub(crate) fn check_dns_within_constraints(&self, name: &str) -> Result<()> {
        let name = hostname::normalize(name, Wildcard::Allow)?;
        for (subject, bases) in &self.dns_constraints {
            let ok = bases.iter().any(|base| {
                name == *base
                    || (name.ends_with(base.as_str())
                        && name[..name.len() - base.len()].ends_with('.'))
            });
            if !ok {
                return Err(Error::invalid_request(format!(
                    "DNS name {name:?} is outside the name constraints of {subject} ({})",
                    bases.join(", ")
                )));
            }
        }
        Ok(())
    }
}
