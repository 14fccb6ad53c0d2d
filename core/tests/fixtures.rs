//! The shared test vectors (`fixtures/`, written by `examples/make_fixtures.rs`): the core
//! must give the committed verdict for every case. The bindings replay the same file.

use std::path::PathBuf;
use std::time::Duration;

use meshtls_core::{IdPattern, PeerUsage, Policy, Timestamp, TrustBundle, Verifier};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The verdict of one case, exactly as every replay computes it: the code of the first error
/// while building the bundle, adding the CRLs, building the policy or verifying, else "ok".
fn verdict(cases: &serde_json::Value, case: &serde_json::Value) -> String {
    let run = || -> Result<(), meshtls_core::Error> {
        let bundle_file = case["bundle"]
            .as_str()
            .or(cases["bundle"].as_str())
            .unwrap();
        let mut bundle = TrustBundle::from_pem(&read(bundle_file))?;
        let crls = match case.get("crls") {
            Some(list) => list.as_array().unwrap().clone(),
            None if case["with_crls"].as_bool().unwrap_or(false) => {
                cases["crls"].as_array().unwrap().clone()
            }
            None => Vec::new(),
        };
        for crl in &crls {
            bundle.add_crl(&read(crl.as_str().unwrap()))?;
        }
        let mut policy = Policy::builder()
            .clock_leeway(Duration::from_secs(case["leeway"].as_u64().unwrap_or(0)))
            .max_intermediates(case["max_intermediates"].as_u64().unwrap_or(4) as usize);
        for p in case["allow"].as_array().unwrap() {
            policy = policy.allow_pattern(IdPattern::parse(p.as_str().unwrap())?);
        }
        let verifier = Verifier::new(bundle, policy.build()?);
        let usage = match case["usage"].as_str().unwrap() {
            "client" => PeerUsage::Client,
            _ => PeerUsage::Server,
        };
        let at = Timestamp::from_unix(case["at"].as_i64().or(cases["at"].as_i64()).unwrap());
        verifier.verify_pem(&read(case["chain"].as_str().unwrap()), usage, at)?;
        Ok(())
    };
    match run() {
        Ok(()) => "ok".to_string(),
        Err(e) => {
            // Every refusal is explained in words, never as a Rust `Debug` dump.
            assert!(
                !meshtls_core::error::looks_like_debug_output(e.message()),
                "{}: {}",
                case["name"],
                e.message()
            );
            e.code().as_str().to_string()
        }
    }
}

#[test]
fn every_case_gets_its_committed_verdict() {
    let cases: serde_json::Value = serde_json::from_slice(&read("cases.json")).unwrap();
    let list = cases["cases"].as_array().unwrap();
    assert!(list.len() >= 15);
    let mut wrong = Vec::new();
    for case in list {
        let name = case["name"].as_str().unwrap();
        let got = verdict(&cases, case);
        if got != case["expect"].as_str().unwrap() {
            wrong.push(format!("{name}: got {got}, want {}", case["expect"]));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn fixture_ca_key_needs_its_passphrase() {
    let chain = std::fs::read(dir().join("root.pem")).unwrap();
    let key = std::fs::read(dir().join("root.key.enc.pem")).unwrap();
    assert!(meshtls_core::Authority::from_pem(&chain, &key, Some("fixture-passphrase")).is_ok());
    let err = meshtls_core::Authority::from_pem(&chain, &key, Some("nope")).unwrap_err();
    assert_eq!(err.code(), meshtls_core::ErrorCode::WrongPassphrase);
}
