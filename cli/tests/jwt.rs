//! `meshtls jwt`: every case of the shared token vectors (`fixtures/jwt.json`) through `jwt
//! verify`, with the exit status of its code's family; and mint, bundle and verify against a
//! real `meshtls serve`.

mod common;

use std::path::PathBuf;

use common::service::serve;
use common::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The exit status the CLI gives a code (README, "Exit codes").
fn exit_status(code: &str) -> i32 {
    match code {
        "ok" => 0,
        "token_malformed" | "malformed" | "invalid_request" => 2,
        _ => 1,
    }
}

#[test]
fn every_token_case_gets_its_verdict_and_exit_status() {
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("jwt.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    for case in file["cases"].as_array().unwrap() {
        let mut cmd = meshtls();
        cmd.args(["jwt", "verify", "--jwks"])
            .arg(fixtures().join(file["jwks"].as_str().unwrap()))
            .args(["--trust-domain", file["trust_domain"].as_str().unwrap()])
            .args(["--at", &file["at"].to_string()]);
        for a in file["audience"].as_array().unwrap() {
            cmd.args(["--audience", a.as_str().unwrap()]);
        }
        for p in file["allow"].as_array().unwrap() {
            cmd.args(["--allow-id", p.as_str().unwrap()]);
        }
        if let Some(l) = case["leeway"].as_u64() {
            cmd.args(["--leeway", &format!("{l}s")]);
        }
        for alg in case["algorithms"].as_array().into_iter().flatten() {
            cmd.args(["--algorithm", alg.as_str().unwrap()]);
        }
        if let Some(p) = case["peer"].as_str() {
            cmd.arg("--peer-cert").arg(fixtures().join(p));
        }
        if case["require_binding"].as_bool() == Some(true) {
            cmd.arg("--require-binding");
        }
        // The token through stdin, as the help advises.
        cmd.arg("-").write_stdin(case["token"].as_str().unwrap());
        let out = cmd.output().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let got = if out.status.success() {
            "ok".to_owned()
        } else {
            stderr
                .trim()
                .strip_prefix("error: ")
                .and_then(|r| r.split(':').next())
                .unwrap_or("?")
                .to_owned()
        };
        let status = out.status.code().unwrap_or(-1);
        if got != expect || status != exit_status(expect) {
            failures.push(format!(
                "{}: expected {expect} (exit {}), got {got} (exit {status}): {stderr}",
                case["name"],
                exit_status(expect)
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn verify_refuses_bad_input_with_usage_exit() {
    let pki = Pki::new();
    std::fs::write(pki.path("bad.jwks"), "{\"keys\": 3}").unwrap();
    let a = meshtls()
        .args(["jwt", "verify", "--audience", "orders", "--jwks"])
        .arg(pki.path("bad.jwks"))
        .arg("e30.e30.e30")
        .assert()
        .code(2);
    assert_error_line(&a, "malformed");
    let a = meshtls()
        .args(["jwt", "verify", "--audience", "orders", "--jwks"])
        .arg(pki.path("missing.jwks"))
        .arg("e30.e30.e30")
        .assert()
        .code(3);
    assert_error_line(&a, "io");
}

#[test]
fn mint_bundle_and_verify_against_meshtls_serve() {
    let pki = Pki::new();
    let api = pki.issue(
        "spiffe://mesh.internal/service/api",
        "api",
        &["--usage", "client"],
    );
    let web = pki.issue(
        "spiffe://mesh.internal/service/web",
        "web",
        &["--usage", "client"],
    );
    let server = serve(&pki, "sqlite");
    let service = |args: &[&str]| {
        let mut cmd = meshtls();
        cmd.arg("jwt")
            .args(args)
            .args(["--url", &server.url, "--bundle"])
            .arg(pki.bundle());
        cmd
    };
    let minted = json(
        &service(&["mint", "--audience", "orders", "--ttl", "2m", "--bind"])
            .arg("--cert")
            .arg(&api)
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(minted["subject"], "spiffe://mesh.internal/service/api");
    assert_eq!(minted["bound"], true);
    let token = minted["token"].as_str().unwrap().to_owned();
    let text = service(&["mint", "--audience", "billing"])
        .arg("--cert")
        .arg(&web)
        .assert()
        .success();
    let unbound = String::from_utf8_lossy(&text.get_output().stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    service(&["bundle"])
        .arg("--out")
        .arg(pki.path("bundle.jwks"))
        .assert()
        .success();
    let verify = |token: &str, audience: &str, peer: Option<&str>| {
        let mut cmd = meshtls();
        cmd.args(["jwt", "verify", "--audience", audience, "--jwks"])
            .arg(pki.path("bundle.jwks"));
        if let Some(p) = peer {
            cmd.arg("--peer-cert").arg(pki.path(p));
        }
        cmd.arg(token);
        cmd
    };
    let ok = json(
        &verify(&token, "orders", Some("api/cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(ok["subject"], "spiffe://mesh.internal/service/api");
    // The bound token replayed with another service's certificate, or with none.
    let a = verify(&token, "orders", Some("web/cert.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "token_binding");
    let a = verify(&token, "orders", None).assert().code(1);
    assert_error_line(&a, "token_binding");
    let a = verify(&token, "billing", Some("api/cert.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "token_audience");
    verify(&unbound, "billing", None).assert().success();
    // A lifetime above the service's maximum (15 minutes): refused by the service, exit 2
    // with its code.
    let a = service(&["mint", "--audience", "orders", "--ttl", "2h"])
        .arg("--cert")
        .arg(&api)
        .assert()
        .code(2);
    assert!(stderr(&a).contains("invalid_request"), "{}", stderr(&a));
}
