//! The shared test vectors (fixtures/cases.json) through `meshtls verify`: the code on stderr is
//! the core's verdict, and the exit status follows its family (0 accepted, 1 a rejection, 2 bad
//! input) — never 2 for a certificate the verifier rejects.

mod common;

use std::path::PathBuf;

use common::*;
use meshtls_core::{ErrorCode, ErrorFamily};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The exit status a verdict must give.
fn status_of(verdict: &str) -> i32 {
    if verdict == "ok" {
        return 0;
    }
    let code = ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == verdict)
        .unwrap_or_else(|| panic!("unknown code {verdict}"));
    match code.family() {
        ErrorFamily::Verification => 1,
        ErrorFamily::Input | ErrorFamily::Request => 2,
        f => panic!("{verdict}: family {f:?} in a fixture"),
    }
}

#[test]
fn meshtls_verify_gives_every_committed_verdict_and_its_exit_status() {
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).unwrap()).unwrap();
    let list = cases["cases"].as_array().unwrap();
    assert!(list.len() >= 15);
    let mut wrong = Vec::new();
    let mut rejections = 0;
    for case in list {
        let name = case["name"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let mut cmd = meshtls();
        cmd.current_dir(dir()).arg("verify");
        let bundle = case["bundle"]
            .as_str()
            .or(cases["bundle"].as_str())
            .unwrap();
        cmd.args(["--bundle", bundle]);
        let crls = match case.get("crls") {
            Some(list) => list.as_array().unwrap().clone(),
            None if case["with_crls"].as_bool().unwrap_or(false) => {
                cases["crls"].as_array().unwrap().clone()
            }
            None => Vec::new(),
        };
        for crl in &crls {
            cmd.args(["--crl", crl.as_str().unwrap()]);
        }
        for p in case["allow"].as_array().unwrap() {
            cmd.args(["--allow-id", p.as_str().unwrap()]);
        }
        cmd.args([
            "--clock-leeway",
            &format!("{}s", case["leeway"].as_u64().unwrap_or(0)),
        ]);
        cmd.args([
            "--max-intermediates",
            &case["max_intermediates"].as_u64().unwrap_or(4).to_string(),
        ]);
        let at = case["at"].as_i64().or(cases["at"].as_i64()).unwrap();
        cmd.args(["--at", &at.to_string()]);
        cmd.args(["--usage", case["usage"].as_str().unwrap()]);
        cmd.arg(case["chain"].as_str().unwrap());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let got = if out.status.success() {
            "ok".to_string()
        } else {
            // `error: <code>: ...` is the last line (warnings about skipped CAs come first).
            stderr
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .and_then(|l| l.split(':').next())
                .unwrap_or("(no error line)")
                .to_string()
        };
        let status = out.status.code().unwrap_or(-1);
        if got != expect || status != status_of(expect) {
            wrong.push(format!(
                "{name}: got {got} (exit {status}), want {expect} (exit {}): {stderr}",
                status_of(expect)
            ));
        }
        if status == 1 {
            rejections += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(rejections >= 30, "{rejections} rejections");
}

#[test]
fn a_skipped_ca_is_a_warning_not_a_failure() {
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).unwrap()).unwrap();
    let case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "strict-anchor-unknown-critical-skipped")
        .unwrap();
    let out = meshtls()
        .current_dir(dir())
        .args(["verify", "--bundle", "strict/odd-and-good-roots.pem"])
        .args(["--at", &case["at"].as_i64().unwrap().to_string()])
        .arg("strict/good.chain.pem")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: unknown_critical_extension: skipping the CA CN=strict odd root"),
        "{stderr}"
    );
    // Alone, the odd CA leaves nothing to trust: a rejection (1), not bad input (2).
    meshtls()
        .current_dir(dir())
        .args(["verify", "--bundle", "strict/odd-root.pem"])
        .args(["--allow-id", "spiffe://mesh.internal/service/*"])
        .args(["--at", &case["at"].as_i64().unwrap().to_string()])
        .arg("strict/good.chain.pem")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("error: unknown_issuer"));
}
