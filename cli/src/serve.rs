//! `meshtls serve`: the enrollment CA service (meshtls-enroll) on a CA directory.
//!
//! The service, its ledger and its rules are meshtls-enroll's and the core's; this module
//! loads the CA, opens the ledger, prints where it listens and runs until killed.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use meshtls_core::validity::parse_duration;
use meshtls_core::{ErrorCode, IdPattern};
use meshtls_enroll::{CaService, ServiceConfig};

use crate::ca::{self, PassphraseArgs};
use crate::error::CliError;
use crate::files;

/// `serve`
#[derive(Debug, Args)]
#[command(after_help = "\
Serves the enrollment API over HTTPS (TLS 1.3; client certificates optional, verified by the
core when presented): POST /v1/tokens, /v1/enroll, /v1/renew, /v1/revoke, /v1/jwt; GET /v1/crl,
/v1/bundle, /v1/bundle.jwks, /v1/certs, /healthz, /metrics. See enroll/README.md and
enroll/openapi.yaml.

JWT-SVIDs (POST /v1/jwt, for the client certificate's own SPIFFE ID) are signed with the trust
domain's JWT keys, kept in the ledger encrypted with the CA passphrase, separate from the CA
key, rotated daily with overlap and published in /v1/bundle.jwks (the SPIFFE bundle format).

The ledger is DIR/ledger.db (SQLite, WAL) unless --db names a PostgreSQL URL, which several
replicas of the same CA may share. Prints `listening on ADDR` once ready, then serves until
killed. Revocations made with `meshtls revoke` (DIR/revocations.txt, read at startup) are in
the served CRL and such certificates cannot act as admins or renew.

Every request is logged as one JSON line (time, address, peer SPIFFE ID, method, endpoint,
status, code; never a token, key or CSR) to stderr, or to --audit-log FILE. POST bodies must
be application/json (415). Each client address may hold --max-connections-per-address
connections and make --token-failures-per-minute failed join-token attempts (then 429).

The CA directory remembers its ledger in DIR/ca-state.json (the ledger's id, the highest CRL
number published, how many certificates it holds). Once the CA has issued, serve refuses to
start (exit 6, one line saying why) on a ledger that is missing, empty (0 bytes), another
ledger, or older than the CA directory remembers; bring a backup back with `meshtls admin
restore`. Every CRL number is above every number served before, across restarts and restores.

Exit codes: 2 bad input (e.g. a bad line in DIR/revocations.txt, named with its line number),
3 I/O (cannot bind, cannot open the ledger), 4 wrong passphrase, 6 ledger refused.")]
pub struct ServeArgs {
    /// The CA directory (ca.crt, ca.key).
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: String,
    /// The ledger: `sqlite` (DIR/ledger.db, default), `sqlite:PATH`, or a postgres:// URL.
    #[arg(long, value_name = "DB", default_value = "sqlite")]
    db: String,
    /// SPIFFE ID or pattern of the admins (mint tokens, revoke, list); repeat for several.
    #[arg(long, value_name = "PATTERN")]
    admin_id: Vec<IdPattern>,
    /// Lifetime of enrolled and renewed certificates, e.g. 24h (default), 90d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "24h")]
    lifetime: Duration,
    /// DNS name of the service's own certificate (default localhost); repeat.
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
    /// IP address of the service's own certificate (default 127.0.0.1); repeat.
    #[arg(long, value_name = "IP")]
    ip: Vec<IpAddr>,
    /// More CA certificates for /v1/bundle (the next or previous CA during a CA rotation).
    #[arg(long, value_name = "FILE")]
    bundle_extra: Vec<PathBuf>,
    /// The CRL of a --bundle-extra CA (made with `meshtls crl --ca THAT_CA`), served with ours
    /// at /v1/crl so nodes keep accepting that CA's certificates; re-read when it changes.
    #[arg(long, value_name = "FILE")]
    crl_extra: Vec<PathBuf>,
    /// Most connections one client address may hold open; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = meshtls_enroll::service::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    max_connections_per_address: usize,
    /// Failed join-token attempts one client address may make per minute before its
    /// enrollments get 429 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = meshtls_enroll::service::DEFAULT_TOKEN_FAILURES)]
    token_failures_per_minute: u32,
    /// The access/audit log, one JSON line per request: a file (appended to), `-` for stderr
    /// (default), or `off`.
    #[arg(long, value_name = "PATH|-|off", default_value = "-")]
    audit_log: String,
    /// Longest lifetime of a JWT-SVID minted by POST /v1/jwt (default 15m, at most 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "15m")]
    jwt_max_ttl: Duration,
    /// Algorithm of new JWT signing keys: ES256 (default), ES384 or EdDSA.
    #[arg(long, value_name = "ALG", value_parser = meshtls_core::jwt::JwtAlgorithm::parse, default_value = "ES256")]
    jwt_algorithm: meshtls_core::jwt::JwtAlgorithm,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

fn io_error(message: String) -> CliError {
    CliError::new(ErrorCode::Io, message)
}

/// Test hook, read once at start: `1` makes the service abort right after committing an
/// enrollment and before answering it (the crash the idempotent enrollment is tested against).
const ABORT_AFTER_ENROLL_COMMIT: &str = "MESHTLS_TEST_ABORT_AFTER_ENROLL_COMMIT";

/// The audit log's sink: stderr, an appended file (0600 when created), or none.
fn audit_sink(arg: &str) -> Result<Option<Box<dyn std::io::Write + Send>>, CliError> {
    match arg {
        "off" => Ok(None),
        "-" => Ok(Some(Box::new(std::io::stderr()))),
        path => {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options
                .open(path)
                .map_err(|e| io_error(format!("--audit-log {path}: {e}")))?;
            Ok(Some(Box::new(file)))
        }
    }
}

/// Runs `serve` (until killed).
pub fn run(a: &ServeArgs, _json: bool) -> Result<(), CliError> {
    // A lifetime no certificate may have would refuse every enrollment: refuse to start.
    meshtls_core::check_lifetime(a.lifetime)
        .map_err(|e| CliError::new(e.code(), format!("--lifetime: {}", e.message())))?;
    ca::check_dir(&a.ca)?;
    let passphrase = a.passphrase.read()?;
    let authority = ca::load(&a.ca, &passphrase)?;
    let mut extra = String::new();
    for path in &a.bundle_extra {
        extra.push_str(&files::read_text(path)?);
    }
    let jwt = meshtls_enroll::service::JwtConfig::new(passphrase.clone())
        .with_algorithm(a.jwt_algorithm)
        .with_max_ttl(a.jwt_max_ttl);
    let mut config = ServiceConfig::new(authority)
        .with_jwt(jwt)
        .with_leaf_lifetime(a.lifetime)
        .with_extra_bundle_pem(extra)
        .with_offline_revocations(ca::read_records(&a.ca)?);
    if !a.dns.is_empty() || !a.ip.is_empty() {
        config = config.with_server_names(a.dns.clone(), a.ip.clone());
    }
    for admin in &a.admin_id {
        config = config.with_admin(admin.clone());
    }
    config = config
        .with_max_connections_per_address(a.max_connections_per_address)
        .with_token_failure_limit(a.token_failures_per_minute, Duration::from_secs(60))
        .with_abort_after_enroll_commit(
            std::env::var(ABORT_AFTER_ENROLL_COMMIT).is_ok_and(|v| v == "1"),
        );
    if let Some(sink) = audit_sink(&a.audit_log)? {
        config = config.with_audit_log(sink);
    }
    for path in &a.crl_extra {
        files::read(path)?; // a missing file is named as such, before the service parses it
        config = config.with_extra_crl_file(path);
    }
    // Before the service records anything: a missing, empty, foreign or rolled-back ledger
    // of a CA that has issued stops here (exit 6).
    let store = crate::ledger::open_for_serve(&a.ca, &a.db)?;
    let service = CaService::new(config, store).map_err(|e| match e {
        meshtls_enroll::ServiceError::Core(e) => CliError::from(e),
        other => io_error(other.to_string()),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| io_error(format!("runtime: {e}")))?;
    runtime.block_on(async {
        let running = service
            .bind(a.listen.as_str())
            .await
            .map_err(|e| io_error(format!("listen on {}: {e}", a.listen)))?;
        println!("listening on {}", running.local_addr());
        running.wait().await;
        Ok(())
    })
}
