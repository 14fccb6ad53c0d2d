//! `meshtls admin`: an operator's calls to a running CA service (`meshtls serve`): mint, list
//! and revoke join tokens, revoke certificates through the service, list its ledger.
//!
//! The calls are meshtls-net's enrollment client ([`CaClient`]); this module loads the admin
//! identity from files, runs one call on a small runtime and prints the answer.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use meshtls_core::validity::parse_duration;
use meshtls_core::{
    Certificate, ErrorCode, Grant, IdPattern, RevocationReason, Serial, SpiffeId, Timestamp,
    TrustBundle,
};
use meshtls_net::enroll::api::{RevokeRequest, TokenRequest};
use meshtls_net::enroll::{CaClient, CertFilter, EnrollError};
use meshtls_net::IdentityHandle;
use serde::Serialize;

use crate::clock;
use crate::error::{CliError, InFile};
use crate::files;
use crate::output::{self, Fields, Time};
use crate::probe;

/// `admin`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Mint a one-time join token for a SPIFFE ID or pattern (POST /v1/tokens).
    #[command(after_help = "\
Prints the token on the first line (it is shown only once; the service keeps its hash), then
what it grants and its id (for `admin tokens` and `admin revoke-token`). Give the token and the
CA's ca.crt to the node, which enrolls with them.

Exit codes: 0 ok, 2 refused by the service or bad input, 3 I/O or service unreachable.")]
    Token(TokenArgs),
    /// Revoke a certificate through the service (POST /v1/revoke); the served CRL is rebuilt.
    #[command(after_help = "\
Unlike `meshtls revoke` (the CA directory's offline records), this reaches the running
service's ledger: the certificate can no longer renew or act as an admin, and GET /v1/crl
carries it at once, so nodes pick it up at their next trust refresh.

Exit codes: 0 ok, 2 refused by the service (e.g. unknown_certificate) or bad input, 3 I/O.")]
    Revoke(RevokeArgs),
    /// List the certificates in the service's ledger (GET /v1/certs), newest first.
    #[command(after_help = "Exit codes: 0 ok, 2 refused by the service or bad input, 3 I/O.")]
    Certs(CertsArgs),
    /// List the join tokens (GET /v1/tokens), newest first: id, state, what they grant.
    #[command(after_help = "\
States: unused, used (with the serial it enrolled), revoked, expired. The secrets are never
shown again.

Exit codes: 0 ok, 2 refused by the service or bad input, 3 I/O.")]
    Tokens(TokensArgs),
    /// Revoke an unused join token (POST /v1/tokens/revoke): it can no longer enroll anything.
    #[command(after_help = "\
A token that enrolled a certificate already is refused (token_used): revoke the certificate
with `admin revoke`.

Exit codes: 0 ok, 2 refused by the service (token_used, token_invalid) or bad input, 3 I/O.")]
    RevokeToken(RevokeTokenArgs),
    /// Copy the ledger (SQLite) to a file, consistently, while the service runs.
    #[cfg(feature = "serve")]
    #[command(after_help = "\
Reads the ledger file directly (not through the service): run it on the CA's host. The copy is
one read transaction of SQLite (VACUUM INTO), written to a temporary file, synced and renamed,
and never overwrites. For a PostgreSQL ledger it prints pg_dump guidance and exits 2
(unsupported).

Exit codes: 0 ok, 2 bad input or PostgreSQL, 3 I/O (e.g. no ledger, FILE exists).")]
    Backup(crate::ledger::BackupArgs),
    /// Bring a CA's ledger back from a backup (the service stopped); CRL numbers keep rising.
    #[cfg(feature = "serve")]
    #[command(after_help = "\
Replaces the ledger (--db, default DIR/ledger.db) with --from FILE through SQLite's backup API,
then binds it to the CA directory: its CRL number is raised above every CRL the CA served
before. Certificates issued and revocations made after the backup are not in it: the command
says how many certificates; repeat such revocations with `meshtls revoke`. Refused when FILE is
another CA's ledger. With PostgreSQL: pg_restore the database first, then run this without
--from on each replica's CA directory.

Exit codes: 0 ok, 2 bad input (another CA's ledger, PostgreSQL with --from), 3 I/O.")]
    Restore(crate::ledger::RestoreArgs),
}

/// Where the service is and who we are to it.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The CA service: https://host:port.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Our admin certificate directory: chain.pem and key.pem, as `meshtls issue --usage client`
    /// writes them, for an identity the service names with --admin-id.
    #[arg(long, value_name = "DIR")]
    cert: PathBuf,
    /// CA certificates that vouch for the service (the CA directory's ca.crt); repeat.
    #[arg(long, value_name = "FILE", required = true)]
    bundle: Vec<PathBuf>,
    /// The SPIFFE ID the service must present (default spiffe://<our trust domain>/meshtls/ca).
    #[arg(long, value_name = "SPIFFE_ID", value_parser = parse_spiffe_id)]
    service_id: Option<SpiffeId>,
    /// Give up after this long, e.g. 30s (default).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
}

fn parse_spiffe_id(s: &str) -> Result<SpiffeId, String> {
    SpiffeId::parse(s).map_err(|e| e.message().to_owned())
}

/// `admin token`
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// The SPIFFE ID or pattern the token may enroll (spiffe://td/service/api,
    /// spiffe://td/worker/*).
    #[arg(long, value_name = "PATTERN")]
    id: IdPattern,
    /// How long the token stays usable, e.g. 1h (default: the service's, 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// A DNS name the enrolling node may ask for; repeat.
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
}

/// `admin revoke`
#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Serial number to revoke (hex, colons allowed).
    #[arg(long, value_name = "HEX", value_parser = Serial::from_hex, required_unless_present = "cert_file", conflicts_with = "cert_file")]
    serial: Option<Serial>,
    /// Revoke the certificate in this file (its serial).
    #[arg(long = "cert-file", value_name = "FILE")]
    cert_file: Option<PathBuf>,
    /// Reason: unspecified (default), key_compromise, ca_compromise, affiliation_changed,
    /// superseded, cessation_of_operation, certificate_hold, privilege_withdrawn, aa_compromise.
    #[arg(long, value_name = "REASON")]
    reason: Option<RevocationReason>,
    /// Revoke its descendants too (renewals of it, their renewals...); always so for
    /// key_compromise.
    #[arg(long)]
    lineage: bool,
}

/// `admin certs`
#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Only this SPIFFE ID.
    #[arg(long, value_name = "SPIFFE_ID", value_parser = parse_spiffe_id)]
    identity: Option<SpiffeId>,
    /// Only certificates expiring before this time: RFC 3339 or unix seconds.
    #[arg(long, value_name = "TIME", value_parser = clock::parse_at)]
    expiring_before: Option<Timestamp>,
    /// Only revoked certificates.
    #[arg(long, conflicts_with = "unrevoked")]
    revoked: bool,
    /// Only certificates not revoked.
    #[arg(long)]
    unrevoked: bool,
    /// At most this many.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// `admin tokens`
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// At most this many.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// `admin revoke-token`
#[derive(Debug, Args)]
pub struct RevokeTokenArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// The token's id (printed when it was minted, and by `admin tokens`).
    #[arg(long, value_name = "ID")]
    id: String,
}

/// An enrollment-client failure as a CLI error: the service's refusals are bad requests
/// (exit 2) and keep the service's code in the message; an unreachable service is I/O.
fn service_error(e: EnrollError) -> CliError {
    match e {
        EnrollError::Core(c) => c.into(),
        EnrollError::Service { .. } => CliError::invalid(e.to_string()),
        EnrollError::Transport(_) => CliError::new(ErrorCode::Io, e.to_string()),
        other => CliError::invalid(other.to_string()),
    }
}

/// Runs one call with the admin identity on a small runtime.
fn call<T, F, Fut>(s: &ServiceArgs, work: F) -> Result<T, CliError>
where
    F: FnOnce(CaClient, IdentityHandle) -> Fut,
    Fut: std::future::Future<Output = Result<T, EnrollError>>,
{
    let identity = probe::load_identity(&s.cert)?;
    let leaf = identity.leaf().in_file(&s.cert)?;
    let mut bundle = TrustBundle::new();
    for p in &s.bundle {
        bundle.add_ca_pem(&files::read(p)?).in_file(p)?;
    }
    let service = match &s.service_id {
        Some(id) => id.clone(),
        None => {
            let ours = leaf.spiffe_id.ok_or_else(|| {
                CliError::invalid("the admin certificate names no SPIFFE ID: give --service-id")
                    .in_file(&s.cert)
            })?;
            SpiffeId::ca_service(ours.trust_domain())
        }
    };
    let client = CaClient::new(&s.url, bundle, service, s.timeout).map_err(service_error)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(ErrorCode::Internal, format!("runtime: {e}")))?;
    runtime
        .block_on(work(client, IdentityHandle::new(identity)))
        .map_err(service_error)
}

#[derive(Debug, Serialize)]
struct TokenOut {
    token: String,
    id: String,
    identity: String,
    expires_at: Time,
}

#[derive(Debug, Serialize)]
struct RevokeOut {
    serial: String,
    newly_revoked: bool,
    descendants_revoked: Vec<String>,
}

/// Runs `admin`.
pub fn run(c: &AdminCommand, json: bool) -> Result<(), CliError> {
    match c {
        AdminCommand::Token(a) => token(a, json),
        AdminCommand::Revoke(a) => revoke(a, json),
        AdminCommand::Certs(a) => certs(a, json),
        AdminCommand::Tokens(a) => tokens(a, json),
        AdminCommand::RevokeToken(a) => revoke_token(a, json),
        #[cfg(feature = "serve")]
        AdminCommand::Backup(a) => crate::ledger::backup(a, json),
        #[cfg(feature = "serve")]
        AdminCommand::Restore(a) => crate::ledger::restore(a, json),
    }
}

fn token(a: &TokenArgs, json: bool) -> Result<(), CliError> {
    // The names a token grants are checked (and lowercased) here, before the service sees them.
    let grant = Grant::join_token(a.id.clone(), &a.dns)?;
    let request = TokenRequest {
        identity: a.id.to_string(),
        ttl_seconds: a.ttl.map(|d| d.as_secs().max(1)),
        dns_names: grant.dns_names().unwrap_or_default().to_vec(),
    };
    let answer = call(&a.service, |client, admin| async move {
        client.mint_token(&admin, &request).await
    })?;
    let out = TokenOut {
        token: answer.token,
        id: answer.id,
        identity: answer.identity,
        expires_at: Timestamp::from_unix(answer.expires_at).into(),
    };
    output::emit(json, &out, || {
        let mut f = Fields::new();
        f.add("for", &out.identity)
            .add("expires", &out.expires_at.rfc3339)
            .add("id", &out.id);
        format!("{}\n{}", out.token, f.render(2))
    })
}

fn tokens(a: &TokensArgs, json: bool) -> Result<(), CliError> {
    let limit = a.limit;
    let list = call(&a.service, |client, admin| async move {
        client.list_tokens(&admin, limit).await
    })?;
    output::emit(json, &list, || {
        let mut text = String::new();
        for t in &list.tokens {
            let used = match &t.used_serial {
                Some(serial) => format!("  serial {serial}"),
                None => String::new(),
            };
            text.push_str(&ledger_line(
                &t.id,
                &t.state,
                &t.identity,
                t.expires_at,
                &used,
            ));
        }
        text.push_str(&format!("{} token(s)\n", list.tokens.len()));
        text
    })
}

fn revoke_token(a: &RevokeTokenArgs, json: bool) -> Result<(), CliError> {
    let id = a.id.clone();
    let answer = call(&a.service, |client, admin| async move {
        client.revoke_token(&admin, &id).await
    })?;
    output::emit(json, &answer, || {
        if answer.newly_revoked {
            format!("revoked token {}; it can no longer enroll\n", answer.id)
        } else {
            format!("token {} was already revoked\n", answer.id)
        }
    })
}

fn revoke(a: &RevokeArgs, json: bool) -> Result<(), CliError> {
    let serial = match (&a.serial, &a.cert_file) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) => {
            Certificate::from_pem_or_der(&files::read(path)?)
                .in_file(path)?
                .serial
        }
        (None, None) => return Err(CliError::invalid("give --serial or --cert-file")),
    };
    let request = RevokeRequest {
        serial: serial.to_hex(),
        reason: a.reason.map(|r| r.as_str().to_owned()),
        lineage: a.lineage,
    };
    let answer = call(&a.service, |client, admin| async move {
        client.revoke(&admin, &request).await
    })?;
    let out = RevokeOut {
        serial: answer.serial,
        newly_revoked: answer.newly_revoked,
        descendants_revoked: answer.descendants_revoked,
    };
    output::emit(json, &out, || {
        let mut text = if out.newly_revoked {
            format!("revoked {}; the service's CRL carries it now\n", out.serial)
        } else {
            format!("{} was already revoked\n", out.serial)
        };
        for d in &out.descendants_revoked {
            text.push_str(&format!("revoked {d} (descendant)\n"));
        }
        text
    })
}

fn certs(a: &CertsArgs, json: bool) -> Result<(), CliError> {
    let filter = CertFilter {
        identity: a.identity.clone(),
        expiring_before: a.expiring_before.map(|t| t.unix()),
        revoked: match (a.revoked, a.unrevoked) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        limit: a.limit,
    };
    let list = call(&a.service, |client, admin| async move {
        client.list_certs(&admin, &filter).await
    })?;
    output::emit(json, &list, || {
        let mut text = String::new();
        for c in &list.certs {
            let revoked = match (&c.revoked_at, &c.revocation_reason) {
                (Some(_), Some(r)) => format!("  revoked ({r})"),
                (Some(_), None) => "  revoked".to_owned(),
                _ => String::new(),
            };
            // The lineage: which certificate this one renewed.
            let revoked = match &c.previous_serial {
                Some(p) => format!("  renews {p}{revoked}"),
                None => revoked,
            };
            text.push_str(&ledger_line(
                &c.serial,
                &c.kind,
                &c.identity,
                c.not_after,
                &revoked,
            ));
        }
        text.push_str(&format!("{} certificate(s)\n", list.certs.len()));
        text
    })
}

/// One line of `admin tokens` / `admin certs`: `KEY  KIND  IDENTITY  until TIME` then `tail`.
fn ledger_line(key: &str, kind: &str, identity: &str, until: i64, tail: &str) -> String {
    let until = Timestamp::from_unix(until).to_rfc3339();
    format!("{key}  {kind}  {identity}  until {until}{tail}\n")
}
