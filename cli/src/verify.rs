//! `meshtls verify`: the core's verdict on a certificate chain, as an exit status.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use meshtls_core::{
    Fingerprint, IdPattern, PeerIdentity, PeerUsage, Policy, Timestamp, TrustBundle, Verifier,
};
use serde::Serialize;

use crate::clock;
use crate::error::{CliError, InFile};
use crate::files;
use crate::output::{self, Fields, Time};

/// The role the verified peer plays.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// The peer is a TLS client (needs clientAuth).
    Client,
    /// The peer is a TLS server (needs serverAuth).
    Server,
}

impl From<Role> for PeerUsage {
    fn from(r: Role) -> Self {
        match r {
            Role::Client => PeerUsage::Client,
            Role::Server => PeerUsage::Server,
        }
    }
}

/// `verify`
#[derive(Debug, Args)]
#[command(after_help = "\
Policy: with no --allow-id, --allow-dns, --pin or --pin-spki, any identity in the trust
domain(s) of the bundle's CAs is allowed (the SPIFFE ID must be a member of a bundle CA's
trust domain). With rules, the peer must match one identity rule (--allow-id or --allow-dns),
and when pins are given, one pin.

Exit codes: 0 accepted, 1 rejected (the code says why: expired, revoked, unknown_issuer,
identity_not_allowed...), 2 bad input, 3 I/O. See `meshtls --help`.")]
pub struct VerifyArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// The role of the peer, which decides the extended key usage it needs.
    #[arg(long, value_name = "ROLE", default_value = "client")]
    usage: Role,
    /// Verify at this time instead of now: RFC 3339 (2026-09-21T14:13:20Z) or unix seconds.
    #[arg(long, value_name = "TIME", value_parser = clock::parse_at)]
    at: Option<Timestamp>,
    /// The chain to verify: PEM, leaf first, then intermediates.
    #[arg(value_name = "CHAIN")]
    chain: PathBuf,
}

/// Who is trusted: the bundle, CRLs and policy flags `verify` and `probe` share.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Trusted CA certificates (PEM, several allowed in one file); repeat for several files.
    #[arg(long, value_name = "FILE", required = true)]
    bundle: Vec<PathBuf>,
    /// A CRL to check (PEM or DER); repeat for several. With any CRL, a certificate that no
    /// CRL covers is rejected (revocation_unknown), and a CRL past nextUpdate is rejected.
    #[arg(long, value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// Allow this SPIFFE ID or pattern (spiffe://td/service/*, spiffe://td/**, spiffe://td);
    /// repeat for several.
    #[arg(long, value_name = "PATTERN")]
    allow_id: Vec<IdPattern>,
    /// Allow a peer whose certificate is valid for this DNS name or IP address; repeat.
    #[arg(long, value_name = "NAME")]
    allow_dns: Vec<String>,
    /// Require the peer certificate's SHA-256 to be one of the pins (hex, colons allowed);
    /// repeat.
    #[arg(long, value_name = "SHA256", value_parser = Fingerprint::from_hex)]
    pin: Vec<Fingerprint>,
    /// Require the peer SubjectPublicKeyInfo's SHA-256 to be one of the pins; repeat.
    #[arg(long, value_name = "SHA256", value_parser = Fingerprint::from_hex)]
    pin_spki: Vec<Fingerprint>,
    /// Tolerate this clock difference at both ends of every certificate's validity (30s, 2m).
    /// Default none: renewal well before expiry absorbs clock drift.
    #[arg(long, value_name = "DURATION", value_parser = parse_leeway)]
    clock_leeway: Option<std::time::Duration>,
    /// The most intermediates between the peer's certificate and a trusted CA (default 4).
    #[arg(long, value_name = "N")]
    max_intermediates: Option<usize>,
}

fn parse_leeway(s: &str) -> Result<std::time::Duration, String> {
    meshtls_core::validity::parse_duration(s).map_err(|e| e.message().to_string())
}

impl TrustArgs {
    /// The core verifier of the flags: the bundle with its CRLs, and the policy (with no
    /// rule, every trust domain the bundle's CAs name).
    pub fn verifier(&self) -> Result<Verifier, CliError> {
        let mut bundle = TrustBundle::new();
        for p in &self.bundle {
            bundle.add_ca_pem(&files::read(p)?).in_file(p)?;
        }
        // A CA the bundle cannot use (an unknown critical extension) is skipped, not fatal.
        for s in bundle.skipped() {
            eprintln!(
                "warning: {}: skipping the CA {} ({}): {}",
                s.reason.code().as_str(),
                s.subject,
                s.fingerprint,
                s.reason.message()
            );
        }
        for p in &self.crl {
            bundle.add_crl(&files::read(p)?).in_file(p)?;
        }
        let mut b = Policy::builder();
        if let Some(leeway) = self.clock_leeway {
            b = b.clock_leeway(leeway);
        }
        if let Some(n) = self.max_intermediates {
            b = b.max_intermediates(n);
        }
        for p in &self.allow_id {
            b = b.allow_pattern(p.clone());
        }
        for d in &self.allow_dns {
            b = b.allow_dns(d.clone());
        }
        for p in &self.pin {
            b = b.pin_cert(*p);
        }
        for p in &self.pin_spki {
            b = b.pin_spki(*p);
        }
        let no_rule = self.allow_id.is_empty()
            && self.allow_dns.is_empty()
            && self.pin.is_empty()
            && self.pin_spki.is_empty();
        if no_rule {
            if bundle.trust_domains().is_empty() {
                return Err(CliError::invalid(
                    "the bundle's CAs name no trust domain: give --allow-id, --allow-dns or --pin",
                ));
            }
            b = b.allow_bundle_trust_domains(&bundle);
        }
        let policy = b.build()?;
        Ok(Verifier::new(bundle, policy))
    }
}

/// A verified peer, for output.
#[derive(Debug, Serialize)]
pub struct PeerOut {
    spiffe_id: Option<String>,
    dns_names: Vec<String>,
    common_name: Option<String>,
    serial: String,
    not_before: Time,
    not_after: Time,
    fingerprint_sha256: String,
    spki_sha256: String,
    anchor: String,
}

impl From<&PeerIdentity> for PeerOut {
    fn from(p: &PeerIdentity) -> Self {
        PeerOut {
            spiffe_id: p.spiffe_id.as_ref().map(|i| i.to_string()),
            dns_names: p.dns_names.clone(),
            common_name: p.common_name.clone(),
            serial: p.serial.to_hex(),
            not_before: p.not_before.into(),
            not_after: p.not_after.into(),
            fingerprint_sha256: p.fingerprint.to_hex(),
            spki_sha256: p.spki_fingerprint.to_hex(),
            anchor: p.anchor_subject.clone(),
        }
    }
}

impl PeerOut {
    /// The human lines.
    pub fn render(&self, indent: usize) -> String {
        let mut f = Fields::new();
        f.add(
            "spiffe id",
            self.spiffe_id.clone().unwrap_or_else(|| "(none)".into()),
        )
        .add_list("dns names", &self.dns_names);
        if let Some(cn) = &self.common_name {
            f.add("common name", cn);
        }
        f.add("serial", &self.serial)
            .add("not after", &self.not_after.rfc3339)
            .add("sha256", &self.fingerprint_sha256)
            .add("trusted via", &self.anchor);
        f.render(indent)
    }
}

#[derive(Debug, Serialize)]
struct VerifyOut {
    ok: bool,
    at: Time,
    peer: PeerOut,
}

/// Runs `verify`.
pub fn run(a: &VerifyArgs, json: bool) -> Result<(), CliError> {
    let verifier = a.trust.verifier()?;
    let chain = files::read(&a.chain)?;
    let chain_der = meshtls_core::encoding::parse_certificates(&chain).in_file(&a.chain)?;
    let at = match a.at {
        Some(t) => t,
        None => clock::now()?,
    };
    let peer = verifier.verify(&chain_der, a.usage.into(), at)?;
    let out = VerifyOut {
        ok: true,
        at: at.into(),
        peer: PeerOut::from(&peer),
    };
    output::emit(json, &out, || {
        format!("ok: peer verified\n{}", out.peer.render(2))
    })
}
