//! `meshtls renew`: reissue a certificate directory when the core rotation policy says so.

use std::path::PathBuf;

use clap::Args;
use meshtls_core::{Certificate, IssueRequest, RotationPolicy, RotationStatus};
use serde::Serialize;

use crate::ca::{self, PassphraseArgs};
use crate::clock;
use crate::error::{CliError, InFile};
use crate::files;
use crate::issue::{self, IssuedOut};
use crate::output::{self, Time};

/// `renew`
#[derive(Debug, Args)]
#[command(after_help = "\
Renewal is due at 2/3 of the lifetime (with a per-certificate jitter of up to 5%), as the
core rotation policy decides; before that, renew prints when it will be due and changes
nothing (exit 0). An expired certificate is renewed too.

The new certificate keeps the SPIFFE ID, DNS and IP SANs, common name, usage, CRL URLs,
lifetime and key algorithm of the old one, with a NEW key: key.pem, chain.pem and cert.pem
are each replaced atomically (key first). A process that reads the three files while
renew runs may see the new key beside the old certificate for an instant; load them again
if they do not match. A PFX is not rewritten: run `meshtls issue --force --pfx` for that.

Exit codes: 0 renewed or not due, 2 bad input, 3 I/O, 4 wrong passphrase. See `meshtls --help`.")]
pub struct RenewArgs {
    /// The CA directory that signs.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// The certificate directory (cert.pem, chain.pem, key.pem) to renew in place.
    #[arg(long, value_name = "DIR")]
    cert: PathBuf,
    /// Renew even if renewal is not due yet.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

#[derive(Debug, Serialize)]
struct RenewOut {
    renewed: bool,
    /// `fresh`, `renew_due` or `expired` before renewal.
    status: &'static str,
    renew_at: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued: Option<IssuedOut>,
}

/// Runs `renew`.
pub fn run(a: &RenewArgs, json: bool) -> Result<(), CliError> {
    let cert_path = a.cert.join(issue::CERT_FILE);
    let old = Certificate::from_pem_or_der(&files::read(&cert_path)?).in_file(&cert_path)?;
    let now = clock::now()?;
    let status = RotationPolicy::default().status(&old, now);
    let (status_name, renew_at) = match status {
        RotationStatus::Fresh { renew_at } => ("fresh", Some(renew_at)),
        RotationStatus::RenewDue => ("renew_due", None),
        RotationStatus::Expired => ("expired", None),
    };
    if matches!(status, RotationStatus::Fresh { .. }) && !a.force {
        let out = RenewOut {
            renewed: false,
            status: status_name,
            renew_at: renew_at.map(Time::from),
            issued: None,
        };
        return output::emit(json, &out, || {
            format!(
                "not due: renewal is due at {} (use --force to renew now)\n",
                out.renew_at
                    .as_ref()
                    .map(|t| t.rfc3339.as_str())
                    .unwrap_or("?")
            )
        });
    }
    let req = IssueRequest::renewal_of(&old).in_file(&cert_path)?;
    let passphrase = a.passphrase.read()?;
    let authority = ca::load(&a.ca, &passphrase)?;
    let issued = authority.renew(&old, now).in_file(&cert_path)?;
    let written = issue::write_issued(&a.cert, &issued, &req, None)?;
    let out = RenewOut {
        renewed: true,
        status: status_name,
        renew_at: renew_at.map(Time::from),
        issued: Some(written),
    };
    output::emit(json, &out, || {
        format!(
            "renewed ({})\n{}",
            status_name.replace('_', " "),
            out.issued.as_ref().map(|i| i.render(2)).unwrap_or_default()
        )
    })
}
