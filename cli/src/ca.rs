//! `meshtls ca init` and `meshtls ca intermediate`, and loading a CA directory.
//!
//! A CA directory holds `ca.crt` (this CA first, then its parents up to the root), `ca.key`
//! (encrypted PKCS#8, mode 0600) and `revocations.txt` (the revocation records).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use meshtls_core::encoding;
use meshtls_core::{
    Authority, IntermediateParams, KeyAlgorithm, RevocationList, RootParams, TrustDomain,
};
use serde::Serialize;

use crate::clock;
use crate::error::{CliError, InFile};
use crate::files::{self, PUBLIC, SECRET};
use crate::output::{self, Fields, Time};

/// The CA certificate chain file in a CA directory.
pub const CERT_FILE: &str = "ca.crt";
/// The encrypted CA key file in a CA directory.
pub const KEY_FILE: &str = "ca.key";
/// The revocation records file in a CA directory.
pub const RECORDS_FILE: &str = "revocations.txt";
/// The environment variable holding the CA passphrase.
pub const PASSPHRASE_ENV: &str = "MESHTLS_CA_PASSPHRASE";
/// The environment variable holding the parent CA's passphrase (`ca intermediate`).
pub const PARENT_PASSPHRASE_ENV: &str = "MESHTLS_PARENT_CA_PASSPHRASE";

const DAY: u64 = 86_400;

/// Where the CA passphrase comes from.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// File holding the CA key passphrase (one trailing newline is ignored). Without it the
    /// passphrase is read from the MESHTLS_CA_PASSPHRASE environment variable. It is never
    /// taken on the command line.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl PassphraseArgs {
    /// The passphrase.
    pub fn read(&self) -> Result<String, CliError> {
        files::read_secret(
            self.passphrase_file.as_deref(),
            PASSPHRASE_ENV,
            "CA passphrase (--passphrase-file)",
        )
    }
}

/// Certificate authority directories.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a root CA: writes DIR/ca.crt and the encrypted DIR/ca.key (mode 0600).
    #[command(
        after_help = "Exit codes: 0 ok, 2 bad input or DIR already holds a CA, 3 I/O. See `meshtls --help`."
    )]
    Init(InitArgs),
    /// Create an intermediate CA signed by a parent CA directory.
    ///
    /// The new DIR/ca.crt holds the intermediate followed by its parents up to the root;
    /// verifiers trust the root (the parent's ca.crt), not this file.
    #[command(
        after_help = "Exit codes: 0 ok, 2 bad input, 3 I/O, 4 wrong parent passphrase. See `meshtls --help`."
    )]
    Intermediate(IntermediateArgs),
}

/// `ca init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The trust domain the CA vouches for, e.g. mesh.internal.
    #[arg(long, value_name = "NAME")]
    trust_domain: String,
    /// Key algorithm: ecdsa-p256 (default), ecdsa-p384, ed25519, rsa-2048, rsa-4096.
    #[arg(long, value_name = "ALG")]
    key: Option<KeyAlgorithm>,
    /// Lifetime in days (default 3650).
    #[arg(long, value_name = "N")]
    days: Option<u64>,
    /// Subject common name (default: "<trust domain> root CA <random id>").
    #[arg(long, value_name = "NAME")]
    cn: Option<String>,
    /// Path length constraint (default: none).
    #[arg(long, value_name = "N")]
    path_len: Option<u8>,
    /// Permitted DNS subtree (name constraint); repeat for several. Default: unconstrained.
    #[arg(long, value_name = "DOMAIN")]
    permitted_dns: Vec<String>,
    /// The CA directory to create.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace a CA already in DIR (its key is lost).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

/// `ca intermediate`
#[derive(Debug, Args)]
pub struct IntermediateArgs {
    /// The parent CA directory (root or intermediate).
    #[arg(long, value_name = "DIR")]
    parent: PathBuf,
    /// Key algorithm: ecdsa-p256 (default), ecdsa-p384, ed25519, rsa-2048, rsa-4096.
    #[arg(long, value_name = "ALG")]
    key: Option<KeyAlgorithm>,
    /// Lifetime in days (default 1095; never past the parent's end).
    #[arg(long, value_name = "N")]
    days: Option<u64>,
    /// Subject common name (default: "<trust domain> intermediate CA <random id>").
    #[arg(long, value_name = "NAME")]
    cn: Option<String>,
    /// Path length constraint (default 0: it issues leaves only).
    #[arg(long, value_name = "N")]
    path_len: Option<u8>,
    /// Permitted DNS subtree (name constraint); repeat for several.
    #[arg(long, value_name = "DOMAIN")]
    permitted_dns: Vec<String>,
    /// The CA directory to create.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace a CA already in DIR (its key is lost).
    #[arg(long)]
    force: bool,
    /// Passphrase of the new CA's key.
    #[command(flatten)]
    passphrase: PassphraseArgs,
    /// File holding the parent CA's passphrase. Default: $MESHTLS_PARENT_CA_PASSPHRASE, else
    /// the new CA's passphrase.
    #[arg(long, value_name = "FILE")]
    parent_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct CaOut {
    dir: String,
    certificate: String,
    key: String,
    subject: String,
    trust_domain: String,
    is_root: bool,
    key_algorithm: &'static str,
    serial: String,
    not_before: Time,
    not_after: Time,
    fingerprint_sha256: String,
}

/// Runs `ca ...`.
pub fn run(cmd: &CaCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        CaCommand::Init(a) => init(a, json),
        CaCommand::Intermediate(a) => intermediate(a, json),
    }
}

fn days(n: u64) -> Result<Duration, CliError> {
    n.checked_mul(DAY)
        .map(Duration::from_secs)
        .ok_or_else(|| CliError::invalid(format!("--days {n} is too long")))
}

fn init(a: &InitArgs, json: bool) -> Result<(), CliError> {
    files::check_overwrite(&a.out.join(KEY_FILE), a.force, "")?;
    let passphrase = a.passphrase.read()?;
    let mut params = RootParams::new(TrustDomain::new(&a.trust_domain)?);
    params.common_name = a.cn.clone();
    if let Some(k) = a.key {
        params.key = k;
    }
    if let Some(n) = a.days {
        params.validity = days(n)?;
    }
    params.path_len = a.path_len;
    params.permitted_dns = a.permitted_dns.clone();
    let ca = Authority::create_root(&params, clock::now()?)?;
    save(&ca, &a.out, &passphrase, json)
}

fn intermediate(a: &IntermediateArgs, json: bool) -> Result<(), CliError> {
    files::check_overwrite(&a.out.join(KEY_FILE), a.force, "")?;
    let passphrase = a.passphrase.read()?;
    let parent_passphrase = match (
        &a.parent_passphrase_file,
        std::env::var_os(PARENT_PASSPHRASE_ENV),
    ) {
        (None, None) => passphrase.clone(),
        (file, _) => files::read_secret(
            file.as_deref(),
            PARENT_PASSPHRASE_ENV,
            "parent CA passphrase (--parent-passphrase-file)",
        )?,
    };
    let parent = load(&a.parent, &parent_passphrase)?;
    let mut params = IntermediateParams::new();
    params.common_name = a.cn.clone();
    if let Some(k) = a.key {
        params.key = k;
    }
    if let Some(n) = a.days {
        params.validity = days(n)?;
    }
    if a.path_len.is_some() {
        params.path_len = a.path_len;
    }
    params.permitted_dns = a.permitted_dns.clone();
    let ca = parent.create_intermediate(&params, clock::now()?)?;
    save(&ca, &a.out, &passphrase, json)
}

fn save(ca: &Authority, dir: &Path, passphrase: &str, json: bool) -> Result<(), CliError> {
    let key = ca.encrypted_key_pem(passphrase)?;
    files::ensure_dir(dir, 0o700)?;
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let records_path = dir.join(RECORDS_FILE);
    files::write_atomic(&key_path, key.0.as_bytes(), SECRET)?;
    files::write_atomic(&cert_path, ca.chain_pem().as_bytes(), PUBLIC)?;
    files::write_atomic(
        &records_path,
        RevocationList::new().to_text().as_bytes(),
        PUBLIC,
    )?;
    let c = ca.certificate();
    let out = CaOut {
        dir: dir.display().to_string(),
        certificate: cert_path.display().to_string(),
        key: key_path.display().to_string(),
        subject: c.subject.clone(),
        trust_domain: ca.trust_domain().to_string(),
        is_root: ca.is_root(),
        key_algorithm: ca.key_algorithm().as_str(),
        serial: c.serial.to_hex(),
        not_before: c.not_before.into(),
        not_after: c.not_after.into(),
        fingerprint_sha256: c.fingerprint.to_hex(),
    };
    output::emit(json, &out, || {
        let mut f = Fields::new();
        f.add("subject", &out.subject)
            .add("trust domain", &out.trust_domain)
            .add("key", out.key_algorithm)
            .add("serial", &out.serial)
            .add(
                "valid",
                format!("{} to {}", out.not_before.rfc3339, out.not_after.rfc3339),
            )
            .add("sha256", &out.fingerprint_sha256)
            .add("certificate", &out.certificate)
            .add("key file", format!("{} (encrypted, mode 0600)", out.key));
        format!(
            "created {} CA\n{}",
            if out.is_root { "root" } else { "intermediate" },
            f.render(2)
        )
    })
}

/// Loads the CA of a directory. The key is decrypted here, once, so that a wrong passphrase
/// or a corrupt file is reported against the file it concerns.
pub fn load(dir: &Path, passphrase: &str) -> Result<Authority, CliError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let cert = files::read(&cert_path)?;
    encoding::parse_certificates(&cert).in_file(&cert_path)?;
    let key = files::read(&key_path)?;
    let key_der = encoding::decrypt_private_key(&key, passphrase).in_file(&key_path)?;
    Authority::from_pem(&cert, encoding::key_pem(&key_der).as_bytes(), None).in_file(dir)
}

/// Checks that `dir` holds a CA certificate (for commands that need no key).
pub fn check_dir(dir: &Path) -> Result<meshtls_core::Certificate, CliError> {
    let cert_path = dir.join(CERT_FILE);
    let cert = files::read(&cert_path)?;
    let c = meshtls_core::Certificate::from_pem_or_der(&cert).in_file(&cert_path)?;
    if !c.is_ca {
        return Err(CliError::invalid("not a CA certificate").in_file(&cert_path));
    }
    Ok(c)
}

/// Reads the revocation records of a CA directory (none yet when the file is missing).
pub fn read_records(dir: &Path) -> Result<RevocationList, CliError> {
    let path = dir.join(RECORDS_FILE);
    match files::read_optional(&path)? {
        None => Ok(RevocationList::new()),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                CliError::new(meshtls_core::ErrorCode::Malformed, "not UTF-8 text").in_file(&path)
            })?;
            RevocationList::from_text(&text).in_file(&path)
        }
    }
}

/// Writes the revocation records of a CA directory atomically.
pub fn write_records(dir: &Path, records: &RevocationList) -> Result<(), CliError> {
    files::write_atomic(
        &dir.join(RECORDS_FILE),
        records.to_text().as_bytes(),
        PUBLIC,
    )
}
