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

With --url instead of --ca, the renewal goes through a running CA service (POST /v1/renew,
over mTLS presenting DIR/chain.pem + DIR/key.pem): a new key is made here and only its CSR is
sent; the service is trusted through --bundle (default DIR/ca.pem, as `meshtls enroll`
writes it), and DIR/ca.pem is replaced by the bundle the service returns. A revoked or
expired certificate cannot renew this way (revoked / expired, exit 1): enroll again.

Exit codes: 0 renewed or not due, 1 the service or our certificate was rejected, 2 bad input
or refused, 3 I/O or unreachable, 4 wrong passphrase. See `meshtls --help`.")]
pub struct RenewArgs {
    /// The CA directory that signs (offline renewal).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "url",
        conflicts_with = "url"
    )]
    ca: Option<PathBuf>,
    /// Renew through the CA service at this URL (https://host:port) instead of --ca.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// With --url: CA certificates that vouch for the service (default DIR/ca.pem).
    #[arg(long, value_name = "FILE", requires = "url")]
    bundle: Option<PathBuf>,
    /// With --url: give up after this long.
    #[cfg(feature = "probe")]
    #[arg(long, value_name = "DURATION", value_parser = meshtls_core::validity::parse_duration, default_value = "30s", requires = "url")]
    timeout: std::time::Duration,
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
    if let Some(url) = &a.url {
        return renew_online(a, url, status_name, renew_at, json);
    }
    let ca_dir =
        a.ca.as_ref()
            .ok_or_else(|| CliError::invalid("give --ca DIR or --url URL"))?;
    let req = IssueRequest::renewal_of(&old).in_file(&cert_path)?;
    let passphrase = a.passphrase.read()?;
    let authority = ca::load(ca_dir, &passphrase)?;
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

#[cfg(feature = "probe")]
#[derive(Debug, Serialize)]
struct RenewOnlineOut {
    renewed: bool,
    status: &'static str,
    renew_at: Option<Time>,
    issued: crate::enroll::EnrolledOut,
}

/// `renew --url`: through the CA service.
#[cfg(feature = "probe")]
fn renew_online(
    a: &RenewArgs,
    url: &str,
    status_name: &'static str,
    renew_at: Option<meshtls_core::Timestamp>,
    json: bool,
) -> Result<(), CliError> {
    use crate::enroll::{enroll_error, runtime, EnrolledOut};
    use meshtls_net::enroll::{self, EnrollOptions, FileLayout};

    let identity = crate::probe::load_identity(&a.cert)?;
    let bundle_path = a.bundle.clone().unwrap_or_else(|| a.cert.join("ca.pem"));
    let trust = files::read_text(&bundle_path)?;
    meshtls_core::TrustBundle::from_pem(trust.as_bytes()).in_file(&bundle_path)?;
    let mut options = EnrollOptions::new(trust);
    options.timeout = a.timeout;
    let issued = runtime()?
        .block_on(enroll::renew_via(url, identity, &options))
        .map_err(enroll_error)?;
    let mut layout = FileLayout::flat(&a.cert);
    layout.crl = None;
    crate::enroll::write(&layout, &issued)?;
    let out = RenewOnlineOut {
        renewed: true,
        status: status_name,
        renew_at: renew_at.map(Time::from),
        issued: EnrolledOut::new(&issued.identity, &layout)?,
    };
    output::emit(json, &out, || {
        format!(
            "renewed ({}) through {url}\n{}",
            status_name.replace('_', " "),
            out.issued.render(2)
        )
    })
}

#[cfg(not(feature = "probe"))]
fn renew_online(
    _a: &RenewArgs,
    _url: &str,
    _status_name: &'static str,
    _renew_at: Option<meshtls_core::Timestamp>,
    _json: bool,
) -> Result<(), CliError> {
    Err(CliError::new(
        meshtls_core::ErrorCode::Unsupported,
        "this meshtls was built without network code (the probe feature): renew --url is unavailable",
    ))
}
