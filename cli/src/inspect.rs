//! `meshtls inspect`: what a certificate (or chain) or a CRL says, for people or machines.

use std::path::PathBuf;

use clap::Args;
use meshtls_core::validity::format_duration;
use meshtls_core::{encoding, Certificate, Crl, Timestamp};
use serde::Serialize;

use crate::clock;
use crate::error::{CliError, InFile};
use crate::files;
use crate::output::{self, Fields, Time};

/// `inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A certificate or chain (PEM with any number of certificates, or one DER
    /// certificate), or a CRL (PEM or DER).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Inspected {
    Certificates { certificates: Vec<CertOut> },
    Crl(CrlOut),
}

#[derive(Debug, Serialize)]
struct CertOut {
    subject: String,
    common_name: Option<String>,
    spiffe_id: Option<String>,
    uris: Vec<String>,
    dns_names: Vec<String>,
    ip_addresses: Vec<String>,
    issuer: String,
    self_issued: bool,
    serial: String,
    not_before: Time,
    not_after: Time,
    /// `valid`, `expired` or `not_yet_valid` now.
    status: &'static str,
    /// Seconds until not_after (negative once expired).
    seconds_left: i64,
    key_algorithm: String,
    is_ca: bool,
    path_len: Option<u32>,
    key_usage: Vec<&'static str>,
    extended_key_usage: Vec<&'static str>,
    fingerprint_sha256: String,
    spki_sha256: String,
    subject_key_id: Option<String>,
    authority_key_id: Option<String>,
    crl_distribution_points: Vec<String>,
    permitted_dns: Vec<String>,
}

#[derive(Debug, Serialize)]
struct CrlOut {
    issuer: String,
    number: Option<u64>,
    this_update: Time,
    next_update: Option<Time>,
    /// Whether nextUpdate has passed now.
    stale: bool,
    revoked_count: usize,
    authority_key_id: Option<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cert_out(c: &Certificate, now: Timestamp) -> CertOut {
    let status = if now < c.not_before {
        "not_yet_valid"
    } else if now > c.not_after {
        "expired"
    } else {
        "valid"
    };
    let mut key_usage = Vec::new();
    if let Some(ku) = c.key_usage {
        for (on, name) in [
            (ku.digital_signature, "digitalSignature"),
            (ku.key_encipherment, "keyEncipherment"),
            (ku.key_cert_sign, "keyCertSign"),
            (ku.crl_sign, "cRLSign"),
        ] {
            if on {
                key_usage.push(name);
            }
        }
    }
    let mut eku = Vec::new();
    if c.server_auth {
        eku.push("serverAuth");
    }
    if c.client_auth {
        eku.push("clientAuth");
    }
    CertOut {
        subject: c.subject.clone(),
        common_name: c.common_name.clone(),
        spiffe_id: c.spiffe_id.as_ref().map(|i| i.to_string()),
        uris: c.uris.clone(),
        dns_names: c.dns_names.clone(),
        ip_addresses: c.ip_addresses.iter().map(|i| i.to_string()).collect(),
        issuer: c.issuer.clone(),
        self_issued: c.self_issued,
        serial: c.serial.to_hex(),
        not_before: c.not_before.into(),
        not_after: c.not_after.into(),
        status,
        seconds_left: c.not_after.unix().saturating_sub(now.unix()),
        key_algorithm: c.key_algorithm.clone(),
        is_ca: c.is_ca,
        path_len: c.path_len,
        key_usage,
        extended_key_usage: eku,
        fingerprint_sha256: c.fingerprint.to_hex(),
        spki_sha256: c.spki_fingerprint.to_hex(),
        subject_key_id: c.subject_key_id.as_deref().map(hex),
        authority_key_id: c.authority_key_id.as_deref().map(hex),
        crl_distribution_points: c.crl_distribution_points.clone(),
        permitted_dns: c.permitted_dns.clone(),
    }
}

fn left(until: Timestamp, now: Timestamp) -> String {
    if until >= now {
        format!("{} left", format_duration(until.since(now)))
    } else {
        format!("{} ago", format_duration(now.since(until)))
    }
}

fn render_cert(c: &CertOut, now: Timestamp) -> String {
    let mut f = Fields::new();
    f.add("subject", &c.subject);
    if let Some(id) = &c.spiffe_id {
        f.add("spiffe id", id);
    } else if !c.uris.is_empty() {
        f.add("uris", c.uris.join(", "));
    }
    f.add_list("dns names", &c.dns_names)
        .add_list("ip addresses", &c.ip_addresses)
        .add(
            "issuer",
            if c.self_issued {
                format!("{} (self-issued)", c.issuer)
            } else {
                c.issuer.clone()
            },
        )
        .add("serial", &c.serial)
        .add("not before", &c.not_before.rfc3339)
        .add(
            "not after",
            format!(
                "{} ({}, {})",
                c.not_after.rfc3339,
                c.status.replace('_', " "),
                left(Timestamp::from_unix(c.not_after.unix), now)
            ),
        )
        .add("key", &c.key_algorithm)
        .add(
            "ca",
            match (c.is_ca, c.path_len) {
                (false, _) => "no".to_owned(),
                (true, None) => "yes".to_owned(),
                (true, Some(n)) => format!("yes, path length {n}"),
            },
        );
    if !c.key_usage.is_empty() {
        f.add("key usage", c.key_usage.join(", "));
    }
    if !c.extended_key_usage.is_empty() {
        f.add("ext key usage", c.extended_key_usage.join(", "));
    }
    f.add_list("crl urls", &c.crl_distribution_points)
        .add_list("permitted dns", &c.permitted_dns)
        .add("sha256", &c.fingerprint_sha256)
        .add("spki sha256", &c.spki_sha256);
    f.render(2)
}

fn render_crl(c: &CrlOut, now: Timestamp) -> String {
    let mut f = Fields::new();
    f.add("issuer", &c.issuer)
        .add(
            "number",
            c.number
                .map(|n| n.to_string())
                .unwrap_or_else(|| "none".into()),
        )
        .add("this update", &c.this_update.rfc3339);
    match &c.next_update {
        Some(n) => f.add(
            "next update",
            format!(
                "{} ({}{})",
                n.rfc3339,
                if c.stale { "stale, " } else { "" },
                left(Timestamp::from_unix(n.unix), now)
            ),
        ),
        None => f.add("next update", "none"),
    };
    f.add("revoked", c.revoked_count.to_string());
    format!("CRL\n{}", f.render(2))
}

fn is_crl_pem(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .map(|s| s.contains("-----BEGIN X509 CRL-----"))
        .unwrap_or(false)
}

/// Runs `inspect`.
pub fn run(a: &InspectArgs, json: bool) -> Result<(), CliError> {
    let bytes = files::read(&a.file)?;
    let now = clock::now()?;
    let inspected = if is_crl_pem(&bytes) {
        Inspected::Crl(crl_out(
            &Crl::from_pem_or_der(&bytes).in_file(&a.file)?,
            now,
        ))
    } else {
        match encoding::parse_certificates(&bytes) {
            Ok(ders) => {
                let mut certificates = Vec::new();
                for der in &ders {
                    certificates.push(cert_out(&Certificate::from_der(der).in_file(&a.file)?, now));
                }
                Inspected::Certificates { certificates }
            }
            // One DER blob that is not a certificate may be a DER CRL.
            Err(cert_err) => match Crl::from_pem_or_der(&bytes) {
                Ok(crl) => Inspected::Crl(crl_out(&crl, now)),
                Err(_) => return Err(CliError::from(cert_err).in_file(&a.file)),
            },
        }
    };
    output::emit(json, &inspected, || match &inspected {
        Inspected::Certificates { certificates } => {
            let n = certificates.len();
            let mut s = String::new();
            for (i, c) in certificates.iter().enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                if n > 1 {
                    s.push_str(&format!("certificate {} of {n}\n", i + 1));
                } else {
                    s.push_str("certificate\n");
                }
                s.push_str(&render_cert(c, now));
            }
            s
        }
        Inspected::Crl(c) => render_crl(c, now),
    })
}

fn crl_out(c: &Crl, now: Timestamp) -> CrlOut {
    CrlOut {
        issuer: c.issuer.clone(),
        number: c.number,
        this_update: c.this_update.into(),
        next_update: c.next_update.map(Time::from),
        stale: c.is_stale(now),
        revoked_count: c.revoked_count,
        authority_key_id: c.authority_key_id.as_deref().map(hex),
    }
}
