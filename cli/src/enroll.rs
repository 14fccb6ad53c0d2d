//! `meshtls enroll` and the pieces every CA-service client command shares: how the service
//! is trusted (`--bundle` or `--ca-fingerprint`), the join token, and the enrollment
//! client's errors as CLI errors.
//!
//! The calls are meshtls-net's enrollment client (`meshtls_net::enroll`), the same one the
//! bindings use: the key is made here and only a CSR leaves the machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use meshtls_core::validity::parse_duration;
use meshtls_core::{Certificate, ErrorCode, ErrorFamily, Fingerprint, KeyAlgorithm, SpiffeId};
use meshtls_net::enroll::{self, EnrollError, EnrollOptions, FileLayout};
use meshtls_net::Identity;
use serde::Serialize;

use crate::error::{CliError, InFile};
use crate::files;
use crate::output::{self, Fields, Time};

/// How the CA service is trusted: a bundle file, or the SHA-256 of its root.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct TrustArgs {
    /// CA certificates that vouch for the service (the CA's ca.crt).
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Trust the service's root whose SHA-256 (of its DER; hex, colons optional, any case) is
    /// this: the bundle is fetched once without trust and checked against it
    /// (`meshtls inspect ca.crt` prints it as sha256).
    #[arg(long, value_name = "SHA256", value_parser = Fingerprint::from_hex)]
    pub ca_fingerprint: Option<Fingerprint>,
}

/// Where a trust comes from, for the commands that take one.
#[derive(Debug, Clone)]
pub enum TrustSource {
    /// A bundle file.
    Bundle(PathBuf),
    /// A root's fingerprint.
    Fingerprint(Fingerprint),
}

impl TrustArgs {
    /// The source named by the flags.
    pub fn source(&self) -> Result<TrustSource, CliError> {
        match (&self.bundle, &self.ca_fingerprint) {
            (Some(p), None) => Ok(TrustSource::Bundle(p.clone())),
            (None, Some(f)) => Ok(TrustSource::Fingerprint(*f)),
            _ => Err(CliError::invalid(
                "give exactly one of --bundle and --ca-fingerprint",
            )),
        }
    }
}

/// The PEM to trust the service at `url` with: the bundle file (checked), or the root
/// fetched and checked against the fingerprint.
pub async fn trust_pem(
    url: &str,
    source: &TrustSource,
    timeout: Duration,
) -> Result<String, CliError> {
    match source {
        TrustSource::Bundle(path) => {
            let pem = files::read_text(path)?;
            meshtls_core::TrustBundle::from_pem(pem.as_bytes()).in_file(path)?;
            Ok(pem)
        }
        TrustSource::Fingerprint(fp) => enroll::bootstrap_root(url, fp, timeout)
            .await
            .map_err(enroll_error),
    }
}

/// An enrollment client error as a CLI error: the core's code when there is one (exit status
/// by its family), `io` when the service could not be reached or answered as no service does,
/// else `invalid_request` with the service's code in the message.
pub fn enroll_error(e: EnrollError) -> CliError {
    match (&e, e.error_code()) {
        (EnrollError::Core(c), _) => c.clone().into(),
        (_, Some(code)) => CliError::new(code, e.to_string()),
        (_, None) if e.family() == ErrorFamily::Io => CliError::new(ErrorCode::Io, e.to_string()),
        _ => CliError::invalid(e.to_string()),
    }
}

/// A small runtime for one call.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(ErrorCode::Internal, format!("runtime: {e}")))
}

/// The join token: from `file`, else `$MESHTLS_JOIN_TOKEN`.
pub fn read_token(file: Option<&Path>) -> Result<String, CliError> {
    files::read_secret(file, "MESHTLS_JOIN_TOKEN", "join token").map(|t| t.trim().to_owned())
}

pub fn parse_spiffe_id(s: &str) -> Result<SpiffeId, String> {
    SpiffeId::parse(s).map_err(|e| e.message().to_owned())
}

/// `enroll`
#[derive(Debug, Args)]
#[command(after_help = "\
Makes a key here (it never leaves the machine), sends a CSR with the one-time join token to
POST /v1/enroll, and writes DIR/key.pem (0600), DIR/chain.pem (leaf + intermediates),
DIR/cert.pem (the leaf) and DIR/ca.pem (the bundle the service returned over the verified
connection), each atomically. With --ca-fingerprint the service's bundle is fetched once
without trust and only its root with that SHA-256 is trusted (unknown_issuer otherwise).
Renew later with `meshtls renew --url URL --cert DIR`, or keep it fresh with `meshtls agent`.

Exit codes: 0 enrolled, 1 the service is not the one trusted (unknown_issuer...), 2 refused
(token_used, token_expired, identity_mismatch...) or bad input, 3 I/O or unreachable.")]
pub struct EnrollArgs {
    /// The CA service: https://host:port.
    #[arg(long, value_name = "URL")]
    url: String,
    /// File holding the join token (one trailing newline ignored); else $MESHTLS_JOIN_TOKEN.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// The SPIFFE ID to enroll (the token must grant it).
    #[arg(long, value_name = "SPIFFE_ID", value_parser = parse_spiffe_id)]
    id: SpiffeId,
    /// A DNS name to ask for (the token must grant it); repeat.
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
    /// Key algorithm: ecdsa-p256 (default), ecdsa-p384, ed25519, rsa-2048, rsa-4096.
    #[arg(long, value_name = "ALG", default_value = "ecdsa-p256")]
    key: KeyAlgorithm,
    /// The SPIFFE ID the service must present (default spiffe://<td>/meshtls/ca).
    #[arg(long, value_name = "SPIFFE_ID", value_parser = parse_spiffe_id)]
    service_id: Option<SpiffeId>,
    /// Give up on each request after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Where to write cert.pem, chain.pem, key.pem and ca.pem.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace an existing key.pem.
    #[arg(long)]
    force: bool,
}

/// What enroll and renew --url print.
#[derive(Debug, Serialize)]
pub struct EnrolledOut {
    spiffe_id: String,
    dns_names: Vec<String>,
    serial: String,
    not_before: Time,
    not_after: Time,
    fingerprint_sha256: String,
    files: Vec<String>,
}

impl EnrolledOut {
    /// From the identity written into `layout`.
    pub fn new(identity: &Identity, layout: &FileLayout) -> Result<Self, CliError> {
        let leaf: Certificate = identity.leaf()?;
        let mut files = vec![
            layout.cert.display().to_string(),
            layout.chain.display().to_string(),
            layout.key.display().to_string(),
        ];
        if let Some(b) = &layout.bundle {
            files.push(b.display().to_string());
        }
        Ok(EnrolledOut {
            spiffe_id: leaf
                .spiffe_id
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default(),
            dns_names: leaf.dns_names.clone(),
            serial: leaf.serial.to_hex(),
            not_before: leaf.not_before.into(),
            not_after: leaf.not_after.into(),
            fingerprint_sha256: leaf.fingerprint.to_hex(),
            files,
        })
    }

    /// The human lines.
    pub fn render(&self, indent: usize) -> String {
        let mut f = Fields::new();
        f.add("spiffe id", &self.spiffe_id)
            .add_list("dns names", &self.dns_names)
            .add("serial", &self.serial)
            .add(
                "valid",
                format!("{} to {}", self.not_before.rfc3339, self.not_after.rfc3339),
            )
            .add("sha256", &self.fingerprint_sha256)
            .add_list("files", &self.files);
        f.render(indent)
    }
}

/// Runs `enroll`.
pub fn run(a: &EnrollArgs, json: bool) -> Result<(), CliError> {
    let mut layout = FileLayout::flat(&a.out);
    layout.crl = None;
    files::check_overwrite(&layout.key, a.force, "")?;
    let token = read_token(a.token_file.as_deref())?;
    let source = a.trust.source()?;
    let issued = runtime()?.block_on(async {
        let trust = trust_pem(&a.url, &source, a.timeout).await?;
        let mut options = EnrollOptions::new(trust);
        options.dns_names = a.dns.clone();
        options.key_algorithm = a.key;
        options.service_id = a.service_id.clone();
        options.timeout = a.timeout;
        enroll::enroll_once(&a.url, &token, &a.id, &options)
            .await
            .map_err(enroll_error)
    })?;
    write(&layout, &issued)?;
    let out = EnrolledOut::new(&issued.identity, &layout)?;
    output::emit(json, &out, || format!("enrolled\n{}", out.render(2)))
}

/// Writes an issued identity and its bundle into `layout`.
pub fn write(layout: &FileLayout, issued: &enroll::Issued) -> Result<(), CliError> {
    layout
        .write_identity(&issued.identity)
        .map_err(enroll_error)?;
    layout
        .write_bundle(issued.bundle_pem.as_bytes())
        .map_err(enroll_error)?;
    Ok(())
}
