//! The shared JWT-SVID vectors (`fixtures/jwt.json`, written by
//! `examples/make_jwt_fixtures.rs`): the core must give the committed verdict for every case.
//! The bindings and the CLI replay the same file.

use std::path::PathBuf;
use std::time::Duration;

use meshtls_core::jwt::{JwtAlgorithm, JwtValidator, SpiffeBundle};
use meshtls_core::{encoding, IdPattern, Policy, Timestamp, TrustDomain};
use serde_json::Value;

fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The verdict of one case, exactly as every replay computes it: parse the bundle (with the
/// file's trust domain), build the policy (allow patterns, `leeway` seconds), the validator
/// (audiences, `algorithms` when given, `require_binding`), then validate at `at` with the
/// first certificate of `peer` when given. The first error's code, else "ok".
fn verdict(file: &Value, case: &Value) -> String {
    let run = || -> Result<(), meshtls_core::Error> {
        let td = TrustDomain::new(file["trust_domain"].as_str().unwrap())?;
        let bundle =
            SpiffeBundle::parse(&read(file["jwks"].as_str().unwrap()))?.with_trust_domain(td);
        let mut policy = Policy::builder()
            .clock_leeway(Duration::from_secs(case["leeway"].as_u64().unwrap_or(0)));
        for p in file["allow"].as_array().unwrap() {
            policy = policy.allow_pattern(IdPattern::parse(p.as_str().unwrap())?);
        }
        let audiences: Vec<&str> = file["audience"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let mut v = JwtValidator::new(&bundle, policy.build()?, audiences)?
            .require_binding(case["require_binding"].as_bool().unwrap_or(false));
        if let Some(algs) = case["algorithms"].as_array() {
            let algs: Vec<JwtAlgorithm> = algs
                .iter()
                .map(|a| JwtAlgorithm::parse(a.as_str().unwrap()))
                .collect::<Result<_, _>>()?;
            v = v.allow_algorithms(&algs)?;
        }
        let peer = match case["peer"].as_str() {
            Some(f) => encoding::parse_certificates(&read(f))?.into_iter().next(),
            None => None,
        };
        let at = Timestamp::from_unix(file["at"].as_i64().unwrap());
        v.validate(case["token"].as_str().unwrap(), peer.as_deref(), at)?;
        Ok(())
    };
    match run() {
        Ok(()) => "ok".into(),
        Err(e) => e.code().as_str().into(),
    }
}

#[test]
fn every_token_case_gets_its_committed_verdict() {
    let file: Value = serde_json::from_slice(&read("jwt.json")).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for case in cases {
        let got = verdict(&file, case);
        if got != case["expect"].as_str().unwrap() {
            failures.push(format!(
                "{}: expected {}, got {got}",
                case["name"], case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_bundle_is_in_the_spiffe_format() {
    let doc: Value = serde_json::from_slice(&read("jwt/bundle.jwks")).unwrap();
    assert_eq!(doc["spiffe_sequence"], 1);
    assert_eq!(doc["spiffe_refresh_hint"], 300);
    let uses: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["use"].as_str().unwrap())
        .collect();
    assert_eq!(uses, ["x509-svid", "jwt-svid", "jwt-svid", "jwt-svid"]);
    let bundle = SpiffeBundle::parse(&read("jwt/bundle.jwks")).unwrap();
    assert_eq!(
        bundle.x509_authorities()[0],
        encoding::parse_certificates(&read("root.pem")).unwrap()[0]
    );
}
