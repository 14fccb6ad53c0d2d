//! `meshtls issue`: a leaf certificate (X509-SVID) from a CA directory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use meshtls_core::validity::parse_duration;
use meshtls_core::{
    parse_ip, IssueRequest, Issued, KeyAlgorithm, KeySource, Pkcs12Profile, SpiffeId, Usage,
};
use serde::Serialize;

use crate::ca::{self, PassphraseArgs};
use crate::clock;
use crate::error::{CliError, InFile};
use crate::files::{self, PUBLIC, SECRET};
use crate::output::{self, Fields, Time};

/// The leaf certificate file in a certificate directory.
pub const CERT_FILE: &str = "cert.pem";
/// The chain file (leaf, then intermediates) in a certificate directory.
pub const CHAIN_FILE: &str = "chain.pem";
/// The private key file (PKCS#8, mode 0600) in a certificate directory.
pub const KEY_FILE: &str = "key.pem";
/// The environment variable holding the PFX password.
pub const PFX_PASSWORD_ENV: &str = "MESHTLS_PFX_PASSWORD";

/// `issue`
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The CA directory that signs.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// The SPIFFE ID, e.g. spiffe://mesh.internal/service/user-svc. With --csr it defaults to
    /// the CSR's ID (and must equal it when given).
    #[arg(long, value_name = "SPIFFE_ID", required_unless_present = "csr")]
    id: Option<String>,
    /// DNS name SAN; repeat for several.
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
    /// IP address SAN; repeat for several.
    #[arg(long, value_name = "ADDR")]
    ip: Vec<String>,
    /// Allow wildcard DNS SANs (`*.suffix`); refused by default.
    #[arg(long)]
    allow_wildcard: bool,
    /// Extended key usage: both (default), server or client.
    #[arg(long, value_name = "USAGE")]
    usage: Option<String>,
    /// Lifetime, e.g. 90d (default), 12h, 30m, 1w.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Key algorithm of the generated key: ecdsa-p256 (default), ecdsa-p384, ed25519,
    /// rsa-2048, rsa-4096. Not with --csr.
    #[arg(long, value_name = "ALG", conflicts_with = "csr")]
    key: Option<String>,
    /// Subject common name (default: the last segment of the ID).
    #[arg(long, value_name = "NAME")]
    cn: Option<String>,
    /// CRL distribution point URI; repeat for several.
    #[arg(long, value_name = "URI")]
    crl_url: Vec<String>,
    /// Issue for this PKCS#10 CSR (PEM or DER): the requester keeps its key, so no key.pem
    /// and no PFX are written.
    #[arg(long, value_name = "FILE")]
    csr: Option<PathBuf>,
    /// Output directory: cert.pem, chain.pem (leaf + intermediates) and key.pem (mode 0600).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also write a password-protected PKCS#12 file with the key and chain (mode 0600).
    #[arg(long, value_name = "FILE", conflicts_with = "csr")]
    pfx: Option<PathBuf>,
    /// File holding the PFX password. Without it: $MESHTLS_PFX_PASSWORD.
    #[arg(long, value_name = "FILE", requires = "pfx")]
    pfx_password_file: Option<PathBuf>,
    /// Write the PFX with PBE-SHA1-3DES and an HMAC-SHA1 MAC, for Mono and old Windows
    /// (OpenSSL 3 reads it too). Default: AES-256-CBC + HMAC-SHA256.
    #[arg(long, requires = "pfx")]
    pfx_legacy: bool,
    /// Replace the files of a certificate already in DIR.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

/// What `issue` and `renew` report.
#[derive(Debug, Serialize)]
pub struct IssuedOut {
    spiffe_id: Option<String>,
    dns_names: Vec<String>,
    ip_addresses: Vec<String>,
    serial: String,
    not_before: Time,
    not_after: Time,
    fingerprint_sha256: String,
    files: Vec<String>,
}

impl IssuedOut {
    /// The human lines.
    pub fn render(&self, indent: usize) -> String {
        let mut f = Fields::new();
        if let Some(id) = &self.spiffe_id {
            f.add("spiffe id", id);
        }
        f.add_list("dns names", &self.dns_names)
            .add_list("ip addresses", &self.ip_addresses)
            .add("serial", &self.serial)
            .add(
                "valid",
                format!("{} to {}", self.not_before.rfc3339, self.not_after.rfc3339),
            )
            .add("sha256", &self.fingerprint_sha256)
            .add_list("wrote", &self.files);
        f.render(indent)
    }
}

/// Runs `issue`.
pub fn run(a: &IssueArgs, json: bool) -> Result<(), CliError> {
    let cert_path = a.out.join(CERT_FILE);
    files::check_overwrite(&cert_path, a.force, " (or use `meshtls renew`)")?;
    let passphrase = a.passphrase.read()?;
    let pfx_password = match &a.pfx {
        Some(_) => Some(files::read_secret(
            a.pfx_password_file.as_deref(),
            PFX_PASSWORD_ENV,
            "PFX password (--pfx-password-file)",
        )?),
        None => None,
    };
    let id = a.id.as_deref().map(SpiffeId::parse).transpose()?;
    let mut req = match &a.csr {
        Some(path) => {
            let csr = files::read(path)?;
            // The CSR's ID is never replaced: an explicit --id must be the CSR's.
            IssueRequest::from_csr_with_id(&csr, id.as_ref()).in_file(path)?
        }
        None => {
            let id = id.ok_or_else(|| CliError::invalid("--id is required"))?;
            let mut req = IssueRequest::new(id);
            if let Some(k) = &a.key {
                req = req.with_key(KeySource::Generate(k.parse::<KeyAlgorithm>()?));
            }
            req
        }
    };
    let ips =
        a.ip.iter()
            .map(|s| parse_ip(s))
            .collect::<Result<Vec<IpAddr>, _>>()?;
    req = req
        .with_dns(a.dns.iter().cloned())
        .with_ips(ips)
        .with_wildcard_dns(a.allow_wildcard);
    if let Some(u) = &a.usage {
        req = req.with_usage(u.parse::<Usage>()?);
    }
    if let Some(t) = a.ttl {
        req = req.with_lifetime(t);
    }
    if let Some(cn) = &a.cn {
        req = req.with_common_name(cn.clone());
    }
    for uri in &a.crl_url {
        req = req.with_crl_distribution_point(uri.clone());
    }
    let ca = ca::load(&a.ca, &passphrase)?;
    let issued = ca.issue(&req, clock::now()?)?;
    let pfx = match (&a.pfx, &pfx_password) {
        (Some(path), Some(pw)) => {
            let profile = if a.pfx_legacy {
                Pkcs12Profile::Legacy
            } else {
                Pkcs12Profile::Modern
            };
            Some((path.clone(), issued.to_pkcs12(pw, profile)?))
        }
        _ => None,
    };
    let out = write_issued(
        &a.out,
        &issued,
        &req,
        pfx.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
    )?;
    output::emit(json, &out, || {
        format!("issued certificate\n{}", out.render(2))
    })
}

/// Writes cert.pem, chain.pem and (when generated) key.pem, each atomically, the key first
/// so that a new certificate never sits beside a key that is not its own for longer than
/// the next rename.
pub fn write_issued(
    dir: &Path,
    issued: &Issued,
    req: &IssueRequest,
    pfx: Option<(&Path, &[u8])>,
) -> Result<IssuedOut, CliError> {
    files::ensure_dir(dir, 0o755)?;
    let mut written = Vec::new();
    if let Some(key) = &issued.key_pem {
        let p = dir.join(KEY_FILE);
        files::write_atomic(&p, key.as_bytes(), SECRET)?;
        written.push(p);
    }
    for (name, text) in [
        (CHAIN_FILE, &issued.chain_pem),
        (CERT_FILE, &issued.cert_pem),
    ] {
        let p = dir.join(name);
        files::write_atomic(&p, text.as_bytes(), PUBLIC)?;
        written.push(p);
    }
    if let Some((path, bytes)) = pfx {
        files::write_atomic(path, bytes, SECRET)?;
        written.push(path.to_path_buf());
    }
    Ok(IssuedOut {
        spiffe_id: Some(req.id.to_string()),
        dns_names: req.dns_names.clone(),
        ip_addresses: req.ip_addresses.iter().map(|i| i.to_string()).collect(),
        serial: issued.serial.to_hex(),
        not_before: issued.not_before.into(),
        not_after: issued.not_after.into(),
        fingerprint_sha256: issued.fingerprint.to_hex(),
        files: written.iter().map(|p| p.display().to_string()).collect(),
    })
}
