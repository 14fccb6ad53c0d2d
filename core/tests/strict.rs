//! The stricter path validator, rule by rule, on the OpenSSL-made chains of `fixtures/strict/`
//! (`examples/strict_fixtures.sh`): each rule's negative chain gets its exact code and its
//! positive twin — the same chain but for that rule — passes, so each test proves the rule and
//! not something else. `fixtures.rs` replays every case; these add what a verdict alone does not
//! show (the skipped CA, the held CRL, the messages).

use std::path::PathBuf;
use std::time::Duration;

use meshtls_core::{
    ErrorCode, ErrorFamily, IdPattern, PeerUsage, Policy, Timestamp, TrustBundle, Verifier,
};

fn read(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn cases() -> serde_json::Value {
    serde_json::from_slice(&read("cases.json")).unwrap()
}

fn case(name: &str) -> serde_json::Value {
    cases()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == format!("strict-{name}").as_str())
        .unwrap_or_else(|| panic!("no case strict-{name}"))
        .clone()
}

/// The outcome of a strict case, built step by step as the replays do.
fn run(name: &str) -> Result<meshtls_core::PeerIdentity, meshtls_core::Error> {
    let c = case(name);
    let mut bundle = TrustBundle::from_pem(&read(c["bundle"].as_str().unwrap()))?;
    for crl in c["crls"].as_array().cloned().unwrap_or_default() {
        bundle.add_crl(&read(crl.as_str().unwrap()))?;
    }
    let policy = Policy::builder()
        .allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*")?)
        .clock_leeway(Duration::from_secs(c["leeway"].as_u64().unwrap_or(0)))
        .max_intermediates(c["max_intermediates"].as_u64().unwrap_or(4) as usize)
        .build()?;
    let usage = if c["usage"] == "server" {
        PeerUsage::Server
    } else {
        PeerUsage::Client
    };
    Verifier::new(bundle, policy).verify_pem(
        &read(c["chain"].as_str().unwrap()),
        usage,
        Timestamp::from_unix(c["at"].as_i64().unwrap()),
    )
}

/// The code of a case that must fail, checked against its committed verdict too.
fn code(name: &str) -> ErrorCode {
    let err = match run(name) {
        Ok(p) => panic!("strict-{name}: accepted {:?}", p.spiffe_id),
        Err(e) => e,
    };
    assert_eq!(
        err.code().as_str(),
        case(name)["expect"].as_str().unwrap(),
        "strict-{name}: {}",
        err.message()
    );
    err.code()
}

fn passes(name: &str) {
    if let Err(e) = run(name) {
        panic!("strict-{name}: {}: {}", e.code(), e.message());
    }
    assert_eq!(case(name)["expect"], "ok");
}

#[test]
fn the_good_chain_passes_both_ways() {
    passes("good");
    passes("good-as-server");
}

#[test]
fn time_has_no_hidden_leeway_and_anchors_must_be_in_validity() {
    assert_eq!(code("leaf-expired-by-20s"), ErrorCode::Expired);
    passes("leaf-expired-by-20s-leeway-30");
    assert_eq!(code("leaf-expired-by-40s-leeway-30"), ErrorCode::Expired);
    passes("anchor-in-validity");
    let err = run("anchor-expired").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Expired);
    assert!(
        err.message().contains("trust anchor"),
        "the anchor is named: {}",
        err.message()
    );
    assert_eq!(
        Policy::allow_any().clock_leeway(),
        Duration::ZERO,
        "zero by default"
    );
}

#[test]
fn an_anchor_not_yet_valid_is_not_trusted() {
    let err = run("anchor-not-yet-valid").unwrap_err();
    assert_eq!(code("anchor-not-yet-valid"), ErrorCode::NotYetValid);
    assert!(
        err.message().contains("trust anchor") && err.message().contains("strict late root"),
        "the anchor is named: {}",
        err.message()
    );
    // The same anchor once its validity has begun, and a current anchor of the same key and
    // name beside it, build the path: only the time of the anchor was wrong.
    passes("anchor-not-yet-valid-later-in-validity");
    passes("anchor-not-yet-valid-beside-a-current-one");
    let both = TrustBundle::from_pem(&read("strict/late-and-current-roots.pem")).unwrap();
    assert_eq!(
        both.len(),
        2,
        "both roots are held; time decides per verification"
    );
}

#[test]
fn crls_need_a_number_and_never_step_back() {
    passes("crls-in-order");
    passes("crl-again");
    assert_eq!(code("crl-rollback"), ErrorCode::StaleCrl);
    assert_eq!(code("crl-fork"), ErrorCode::StaleCrl);
    assert_eq!(code("crl-fork-revokes"), ErrorCode::Revoked);
    assert_eq!(code("crl-without-number"), ErrorCode::InvalidCrl);
    assert_eq!(code("crl-critical-number"), ErrorCode::InvalidCrl);
    assert_eq!(code("crl-of-anchor-without-crlsign"), ErrorCode::InvalidCrl);
    // An intermediate is not in the bundle: its keyUsage is checked when its CRL is used.
    assert_eq!(
        code("crl-of-intermediate-without-crlsign"),
        ErrorCode::InvalidCrl
    );
    assert!(run("crl-of-intermediate-without-crlsign")
        .unwrap_err()
        .message()
        .contains("cRLSign"));
    passes("crl-of-intermediate-with-crlsign");
    // After a refused rollback the bundle still holds number 2.
    let mut b = TrustBundle::from_pem(&read("strict/root.pem")).unwrap();
    b.add_crl(&read("strict/root-2.crl.pem")).unwrap();
    let err = b.add_crl(&read("strict/root-1.crl.pem")).unwrap_err();
    assert_eq!(err.code().family(), ErrorFamily::Input);
    assert_eq!(b.crls().len(), 1);
    assert_eq!(b.crls()[0].number, Some(2));
}

#[test]
fn key_identifiers() {
    assert_eq!(code("leaf-no-aki"), ErrorCode::InvalidCertificate);
    assert_eq!(code("leaf-aki-critical"), ErrorCode::InvalidCertificate);
    assert_eq!(code("intermediate-no-ski"), ErrorCode::InvalidCertificate);
    assert_eq!(code("intermediate-no-aki"), ErrorCode::InvalidCertificate);
    passes("anchor-aki-matches-ski");
    assert_eq!(code("anchor-aki-other-key"), ErrorCode::InvalidCertificate);
    assert_eq!(
        code("anchor-aki-issuer-serial"),
        ErrorCode::InvalidCertificate
    );
    // The flawed anchor beside its good twin (same name, key and constraints): the good one
    // anchors the path whatever the bundle's order.
    passes("anchor-flawed-twin-first");
    passes("anchor-flawed-twin-last");
}

#[test]
fn certificate_profile() {
    for (name, want) in [
        (
            "intermediate-bc-not-critical",
            ErrorCode::InvalidCertificate,
        ),
        (
            "intermediate-ku-without-keycertsign",
            ErrorCode::InvalidCertificate,
        ),
        (
            "intermediate-policyconstraints-not-critical",
            ErrorCode::InvalidCertificate,
        ),
        ("leaf-with-name-constraints", ErrorCode::InvalidCertificate),
        (
            "name-constraint-not-a-hostname",
            ErrorCode::InvalidCertificate,
        ),
        (
            "empty-subject-san-not-critical",
            ErrorCode::InvalidCertificate,
        ),
        ("serial-zero", ErrorCode::InvalidCertificate),
        ("serial-negative", ErrorCode::InvalidCertificate),
        ("serial-21-octets", ErrorCode::InvalidCertificate),
        ("san-underscore", ErrorCode::InvalidCertificate),
        ("san-leading-period", ErrorCode::InvalidCertificate),
        ("san-wildcard-over-suffix", ErrorCode::InvalidCertificate),
        (
            "leaf-unknown-critical-extension",
            ErrorCode::UnknownCriticalExtension,
        ),
    ] {
        assert_eq!(code(name), want, "{name}");
    }
    for twin in [
        "name-constraint-hostname",
        "empty-subject-san-critical",
        "serial-20-octets",
        "san-hostnames",
        "leaf-unknown-noncritical-extension",
    ] {
        passes(twin);
    }
}

#[test]
fn an_anchor_with_an_unknown_critical_extension_is_skipped_not_fatal() {
    passes("anchor-unknown-critical-skipped");
    assert_eq!(
        code("anchor-unknown-critical-alone"),
        ErrorCode::UnknownIssuer
    );
    let b = TrustBundle::from_pem(&read("strict/odd-and-good-roots.pem")).unwrap();
    assert_eq!(b.len(), 1, "the good root is kept");
    let skipped = b.skipped();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].subject, "CN=strict odd root");
    assert_eq!(
        skipped[0].reason.code(),
        ErrorCode::UnknownCriticalExtension
    );
    assert!(skipped[0].reason.message().contains("1.3.6.1.4.1.55555.1"));
    // Merging keeps the list.
    assert_eq!(TrustBundle::new().merged(&b).skipped().len(), 1);
}

#[test]
fn weak_keys_and_signatures_anywhere_in_the_path() {
    for (name, want) in [
        ("leaf-rsa-1024", ErrorCode::WeakKey),
        ("leaf-rsa-modulus-not-multiple-of-8", ErrorCode::WeakKey),
        ("leaf-p192", ErrorCode::WeakKey),
        ("leaf-dsa", ErrorCode::WeakKey),
        ("anchor-rsa-1024", ErrorCode::WeakKey),
        ("leaf-sha1-signature", ErrorCode::WeakSignature),
        ("leaf-md5-signature", ErrorCode::WeakSignature),
        ("intermediate-sha1-signature", ErrorCode::WeakSignature),
    ] {
        assert_eq!(code(name), want, "{name}");
        assert_eq!(want.family(), ErrorFamily::Input);
    }
    assert!(run("leaf-rsa-1024")
        .unwrap_err()
        .message()
        .contains("1024 bits"));
    passes("leaf-rsa-2048");
    passes("rsa-intermediate-sha256");
}

#[test]
fn the_leaf_names_its_purpose_and_the_anchor_eku_changes_nothing() {
    assert_eq!(code("leaf-eku-any-only"), ErrorCode::WrongUsage);
    assert_eq!(code("leaf-without-eku"), ErrorCode::WrongUsage);
    assert_eq!(code("leaf-lacks-client-auth"), ErrorCode::WrongUsage);
    passes("leaf-server-only-as-server");
    passes("anchor-eku-does-not-narrow");
    assert_eq!(code("anchor-eku-does-not-widen"), ErrorCode::WrongUsage);
}

#[test]
fn depth_is_a_policy_setting() {
    assert_eq!(code("five-intermediates"), ErrorCode::ChainTooLong);
    passes("five-intermediates-allowed");
    assert_eq!(
        code("one-intermediate-none-allowed"),
        ErrorCode::ChainTooLong
    );
}

#[test]
fn precise_verdicts() {
    assert_eq!(
        code("name-constraint-explosion"),
        ErrorCode::NameConstraintsTooComplex
    );
    passes("self-issued-intermediate");
    assert_eq!(
        code("self-signed-ca-with-the-anchor-name"),
        ErrorCode::UnknownIssuer
    );
}

#[test]
fn every_strict_case_is_covered_here() {
    // A case added to the generator without a rule test above fails this list.
    let covered = include_str!("strict.rs");
    for c in cases()["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        if let Some(short) = name.strip_prefix("strict-") {
            assert!(
                covered.contains(&format!("\"{short}\"")),
                "{name} has no rule test"
            );
        }
    }
}
