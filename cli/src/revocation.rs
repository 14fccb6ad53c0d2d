//! `meshtls revoke` and `meshtls crl`: the CA directory's revocation records and signed CRLs.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use meshtls_core::validity::parse_duration;
use meshtls_core::{Certificate, CrlParams, RevocationReason, Serial};
use serde::Serialize;

use crate::ca::{self, PassphraseArgs};
use crate::clock;
use crate::error::{CliError, InFile};
use crate::files::{self, PUBLIC};
use crate::output::{self, Fields, Time};

/// `revoke`
#[derive(Debug, Args)]
#[command(after_help = "\
Records the revocation in DIR/revocations.txt (replaced atomically); run `meshtls crl` to
publish it. Revoking a serial already revoked changes nothing and succeeds. Do not run two
revoke/crl commands on the same CA directory at once.

Exit codes: 0 ok, 2 bad input, 3 I/O. See `meshtls --help`.")]
pub struct RevokeArgs {
    /// The CA directory.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// Serial number to revoke (hex, colons allowed, as `meshtls inspect` or OpenSSL print it).
    #[arg(long, value_name = "HEX", value_parser = Serial::from_hex, required_unless_present = "cert", conflicts_with = "cert")]
    serial: Option<Serial>,
    /// Revoke the certificate in this file (its serial).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Reason: unspecified (default), key_compromise, ca_compromise, affiliation_changed,
    /// superseded, cessation_of_operation, certificate_hold, privilege_withdrawn, aa_compromise.
    #[arg(long, value_name = "REASON")]
    reason: Option<RevocationReason>,
}

#[derive(Debug, Serialize)]
struct RevokeOut {
    serial: String,
    reason: &'static str,
    revoked_at: Time,
    /// False when the serial was already revoked (nothing changed).
    newly_revoked: bool,
    revoked_count: usize,
}

/// Runs `revoke`.
pub fn revoke(a: &RevokeArgs, json: bool) -> Result<(), CliError> {
    ca::check_dir(&a.ca)?;
    let serial = match (&a.serial, &a.cert) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) => {
            Certificate::from_pem_or_der(&files::read(path)?)
                .in_file(path)?
                .serial
        }
        (None, None) => return Err(CliError::invalid("give --serial or --cert")),
    };
    let mut records = ca::read_records(&a.ca)?;
    let newly = records.revoke(serial.clone(), a.reason.unwrap_or_default(), clock::now()?)?;
    if newly {
        ca::write_records(&a.ca, &records)?;
    }
    let entry = records
        .get(&serial)
        .ok_or_else(|| CliError::new(meshtls_core::ErrorCode::Internal, "record vanished"))?;
    let out = RevokeOut {
        serial: serial.to_hex(),
        reason: entry.reason.as_str(),
        revoked_at: entry.revoked_at.into(),
        newly_revoked: newly,
        revoked_count: records.len(),
    };
    output::emit(json, &out, || {
        if newly {
            format!(
                "revoked {} ({}); run `meshtls crl` to publish\n",
                out.serial, out.reason
            )
        } else {
            format!(
                "{} was already revoked at {} ({})\n",
                out.serial, out.revoked_at.rfc3339, out.reason
            )
        }
    })
}

/// `crl`
#[derive(Debug, Args)]
#[command(after_help = "\
Signs a CRL of DIR/revocations.txt with the next CRL number (recorded in the same file
before the CRL is written, so a number is never reused). Both files are replaced atomically.

Exit codes: 0 ok, 2 bad input, 3 I/O, 4 wrong passphrase. See `meshtls --help`.")]
pub struct CrlArgs {
    /// The CA directory.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// Where to write the CRL (PEM).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// How long verifiers may use this CRL (nextUpdate), e.g. 7d (default), 24h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    next_update: Option<Duration>,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

#[derive(Debug, Serialize)]
struct CrlOut {
    file: String,
    number: u64,
    this_update: Time,
    next_update: Option<Time>,
    revoked_count: usize,
}

/// Runs `crl`.
pub fn crl(a: &CrlArgs, json: bool) -> Result<(), CliError> {
    let passphrase = a.passphrase.read()?;
    let authority = ca::load(&a.ca, &passphrase)?;
    let mut records = ca::read_records(&a.ca)?;
    let number = records
        .last_crl_number
        .checked_add(1)
        .ok_or_else(|| CliError::invalid("the CRL number is exhausted"))?;
    let now = clock::now()?;
    let mut params = CrlParams::new(number, now);
    if let Some(d) = a.next_update {
        params.next_update = now.add(d);
    }
    let crl = authority.build_crl(&records, &params)?;
    records.last_crl_number = number;
    ca::write_records(&a.ca, &records)?;
    files::write_atomic(&a.out, crl.to_pem().as_bytes(), PUBLIC)?;
    let out = CrlOut {
        file: a.out.display().to_string(),
        number,
        this_update: crl.this_update.into(),
        next_update: crl.next_update.map(Time::from),
        revoked_count: crl.revoked_count,
    };
    output::emit(json, &out, || {
        let mut f = Fields::new();
        f.add("number", number.to_string())
            .add("this update", &out.this_update.rfc3339)
            .add(
                "next update",
                out.next_update
                    .as_ref()
                    .map(|t| t.rfc3339.clone())
                    .unwrap_or_else(|| "none".into()),
            )
            .add("revoked", out.revoked_count.to_string())
            .add("wrote", &out.file);
        format!("signed CRL\n{}", f.render(2))
    })
}
