//! The shared test vectors (`fixtures/`, written by `examples/make_fixtures.rs`): the core
//! must give the committed verdict for every case. The bindings replay the same file.

use std::path::PathBuf;

use meshtls_core::{IdPattern, PeerUsage, Policy, Timestamp, TrustBundle, Verifier};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

#[test]
fn every_case_gets_its_committed_verdict() {
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).unwrap()).unwrap();
    let at = Timestamp::from_unix(cases["at"].as_i64().unwrap());
    let bundle = TrustBundle::from_pem(
        &std::fs::read(dir().join(cases["bundle"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let mut with_crls = bundle.clone();
    for crl in cases["crls"].as_array().unwrap() {
        with_crls
            .add_crl(&std::fs::read(dir().join(crl.as_str().unwrap())).unwrap())
            .unwrap();
    }
    let list = cases["cases"].as_array().unwrap();
    assert!(list.len() >= 15);
    for case in list {
        let name = case["name"].as_str().unwrap();
        let mut policy = Policy::builder();
        for p in case["allow"].as_array().unwrap() {
            policy = policy.allow_pattern(IdPattern::parse(p.as_str().unwrap()).unwrap());
        }
        let b = if case["with_crls"].as_bool().unwrap() {
            with_crls.clone()
        } else {
            bundle.clone()
        };
        let verifier = Verifier::new(b, policy.build().unwrap());
        let usage = match case["usage"].as_str().unwrap() {
            "client" => PeerUsage::Client,
            _ => PeerUsage::Server,
        };
        let chain = std::fs::read(dir().join(case["chain"].as_str().unwrap())).unwrap();
        let got = match verifier.verify_pem(&chain, usage, at) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code().as_str().to_string(),
        };
        assert_eq!(got, case["expect"].as_str().unwrap(), "case {name}");
    }
}

#[test]
fn fixture_ca_key_needs_its_passphrase() {
    let chain = std::fs::read(dir().join("root.pem")).unwrap();
    let key = std::fs::read(dir().join("root.key.enc.pem")).unwrap();
    assert!(meshtls_core::Authority::from_pem(&chain, &key, Some("fixture-passphrase")).is_ok());
    let err = meshtls_core::Authority::from_pem(&chain, &key, Some("nope")).unwrap_err();
    assert_eq!(err.code(), meshtls_core::ErrorCode::WrongPassphrase);
}
