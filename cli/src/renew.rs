//! `meshtls renew`: reissue a certificate directory when the core rotation policy says so.

use std::path::PathBuf;

use clap::Args;
use meshtls_core::authority::BACKDATE;
use meshtls_core::{
    Certificate, IssueRequest, KeyAlgorithm, KeySource, RotationPolicy, RotationStatus, Usage,
};
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

/// The core's human key name back to the algorithm (presentation only: see the report).
fn key_algorithm_of(c: &Certificate) -> Option<KeyAlgorithm> {
    match c.key_algorithm.as_str() {
        "ECDSA P-256" => Some(KeyAlgorithm::EcdsaP256),
        "ECDSA P-384" => Some(KeyAlgorithm::EcdsaP384),
        "Ed25519" => Some(KeyAlgorithm::Ed25519),
        "RSA 2048" => Some(KeyAlgorithm::Rsa2048),
        "RSA 4096" => Some(KeyAlgorithm::Rsa4096),
        _ => None,
    }
}

/// The request that reissues `old`: same identity, SANs, usage, lifetime and key algorithm.
fn renewal_request(old: &Certificate) -> Result<IssueRequest, CliError> {
    let id = old.spiffe_id.clone().ok_or_else(|| {
        CliError::invalid("the certificate has no SPIFFE ID: reissue it with `meshtls issue`")
    })?;
    let usage = match (old.server_auth, old.client_auth) {
        (true, false) => Usage::Server,
        (false, true) => Usage::Client,
        _ => Usage::Both,
    };
    let mut req = IssueRequest::new(id)
        .with_dns(old.dns_names.iter().cloned())
        .with_ips(old.ip_addresses.iter().copied())
        .with_usage(usage)
        // Core backdates not_before by BACKDATE: the requested lifetime is the rest.
        .with_lifetime(old.lifetime().saturating_sub(BACKDATE));
    if let Some(cn) = &old.common_name {
        req = req.with_common_name(cn.clone());
    }
    if let Some(alg) = key_algorithm_of(old) {
        req = req.with_key(KeySource::Generate(alg));
    }
    for uri in &old.crl_distribution_points {
        req = req.with_crl_distribution_point(uri.clone());
    }
    Ok(req)
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
    let req = renewal_request(&old).in_file(&cert_path)?;
    let passphrase = a.passphrase.read()?;
    let authority = ca::load(&a.ca, &passphrase)?;
    let issued = authority.issue(&req, now)?;
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
