//! The mesh scenario on the PKI core alone: one CA, four services, the attacks of the security
//! plan, revocation and rotation. Every verdict comes from `Verifier::verify`.
//!
//! Run: `cargo run -p meshtls-core --example mesh_pki`

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshtls_core::{
    Authority, CrlParams, ErrorCode, IdPattern, IntermediateParams, IssueRequest, Issued,
    PeerUsage, Policy, RevocationList, RevocationReason, RootParams, RotationPolicy, SpiffeId,
    Timestamp, TrustBundle, TrustDomain, Verifier,
};

struct Report {
    rows: Vec<(String, String, bool)>,
}

impl Report {
    fn expect_ok(
        &mut self,
        what: &str,
        r: Result<meshtls_core::PeerIdentity, meshtls_core::Error>,
    ) {
        let (text, ok) = match r {
            Ok(p) => (
                format!(
                    "accepted {}",
                    p.spiffe_id.map(|i| i.to_string()).unwrap_or_default()
                ),
                true,
            ),
            Err(e) => (format!("REJECTED {e}"), false),
        };
        println!("  {:<52} {text}", what);
        self.rows.push((what.into(), text, ok));
    }

    fn expect_err(
        &mut self,
        what: &str,
        want: ErrorCode,
        r: Result<meshtls_core::PeerIdentity, meshtls_core::Error>,
    ) {
        let (text, ok) = match r {
            Ok(p) => (
                format!("ACCEPTED {:?} (expected {want})", p.spiffe_id),
                false,
            ),
            Err(e) => (format!("rejected: {}", e.code()), e.code() == want),
        };
        println!("  {:<52} {text}", what);
        self.rows.push((what.into(), text, ok));
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, meshtls_core::Error> {
    // The edge reads the clock; the core takes it as an argument.
    let now = Timestamp::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    let td = TrustDomain::new("mesh.internal")?;
    let root = Authority::create_root(&RootParams::new(td.clone()), now)?;
    let ca = root.create_intermediate(&IntermediateParams::new(), now)?;
    println!(
        "CA: {} -> {}",
        root.certificate().subject,
        ca.certificate().subject
    );

    let mut ids = Vec::new();
    let mut issued: Vec<(SpiffeId, Issued)> = Vec::new();
    for name in ["gateway", "agent", "node", "directory"] {
        let id = SpiffeId::service(&td, name)?;
        let cert = ca.issue(
            &IssueRequest::new(id.clone()).with_dns([format!("{name}.mesh.internal")]),
            now,
        )?;
        println!(
            "issued {id}  serial {}  until {}",
            cert.serial, cert.not_after
        );
        ids.push(id.clone());
        issued.push((id, cert));
    }
    let mut bundle = TrustBundle::from_pem(root.root_pem().as_bytes())?;
    let services = Policy::builder()
        .allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*")?)
        .build()?;
    let verifier = Verifier::new(bundle.clone(), services.clone());
    let mut report = Report { rows: Vec::new() };

    println!("\nwho talks to whom:");
    for (id, cert) in &issued {
        report.expect_ok(
            &format!("{id} as a client"),
            verifier.verify(&cert.chain_der, PeerUsage::Client, now),
        );
    }

    println!("\nattacks:");
    let rogue = Authority::create_root(
        &RootParams {
            common_name: root.certificate().common_name.clone(),
            ..RootParams::new(td.clone())
        },
        now,
    )?;
    let forged = rogue.issue(&IssueRequest::new(ids[0].clone()), now)?;
    report.expect_err(
        "self-signed CA with the real CA's name",
        ErrorCode::BadSignature,
        verifier.verify(&forged.chain_der, PeerUsage::Client, now),
    );
    let only_directory = Verifier::new(
        bundle.clone(),
        Policy::builder().allow_id(ids[3].clone()).build()?,
    );
    report.expect_err(
        "valid certificate of the wrong service",
        ErrorCode::IdentityNotAllowed,
        only_directory.verify(&issued[1].1.chain_der, PeerUsage::Client, now),
    );
    let short = ca.issue(
        &IssueRequest::new(ids[1].clone()).with_lifetime(Duration::from_secs(300)),
        now,
    )?;
    report.expect_err(
        "expired certificate",
        ErrorCode::Expired,
        verifier.verify(
            &short.chain_der,
            PeerUsage::Client,
            now.add(Duration::from_secs(3600)),
        ),
    );
    let mut records = RevocationList::new();
    records.revoke(
        issued[2].1.serial.clone(),
        RevocationReason::KeyCompromise,
        now,
    )?;
    bundle.add_crl(ca.build_crl(&records, &CrlParams::new(1, now))?.der())?;
    bundle.add_crl(
        root.build_crl(&RevocationList::new(), &CrlParams::new(1, now))?
            .der(),
    )?;
    let with_crl = Verifier::new(bundle.clone(), services.clone());
    report.expect_err(
        "revoked certificate (after revoke + CRL)",
        ErrorCode::Revoked,
        with_crl.verify(&issued[2].1.chain_der, PeerUsage::Client, now),
    );
    let empty: [Vec<u8>; 0] = [];
    report.expect_err(
        "no client certificate at all",
        ErrorCode::NoCertificate,
        with_crl.verify(&empty, PeerUsage::Client, now),
    );

    println!("\nrotation:");
    let policy = RotationPolicy::default();
    let gateway = meshtls_core::Certificate::from_der(&issued[0].1.cert_der)?;
    match policy.status(&gateway, now) {
        meshtls_core::RotationStatus::Fresh { renew_at } => {
            println!("  gateway: fresh, renews at {renew_at}")
        }
        other => println!("  gateway: {other:?}"),
    }
    let renewed = ca.issue(&IssueRequest::new(ids[0].clone()), now)?;
    report.expect_ok(
        &format!("renewed gateway (serial {})", renewed.serial),
        with_crl.verify(&renewed.chain_der, PeerUsage::Client, now),
    );
    let new_root = Authority::create_root(&RootParams::new(td.clone()), now)?;
    let overlap = Verifier::new(
        TrustBundle::from_pem(root.root_pem().as_bytes())?
            .merged(&TrustBundle::from_pem(new_root.root_pem().as_bytes())?),
        services,
    );
    let under_new = new_root.issue(&IssueRequest::new(ids[0].clone()), now)?;
    report.expect_ok(
        "CA rotation: old CA during overlap",
        overlap.verify(&renewed.chain_der, PeerUsage::Client, now),
    );
    report.expect_ok(
        "CA rotation: new CA during overlap",
        overlap.verify(&under_new.chain_der, PeerUsage::Client, now),
    );

    let bad: Vec<_> = report.rows.iter().filter(|r| !r.2).collect();
    println!(
        "\nsummary: {} checks, {} as expected, {} not",
        report.rows.len(),
        report.rows.len() - bad.len(),
        bad.len()
    );
    Ok(bad.is_empty())
}
