//! The issuance policy through `meshtls`: the shared request cases (`fixtures/requests.json`)
//! that a command line can express (every case without a grant: `ca init`, then `issue`), each
//! asserting the committed code and its exit status; and the policy's edges that only the CLI
//! has (`serve --lifetime`, `admin token --dns`).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::meshtls;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The exit status the CLI gives a code (README, "Exit codes").
fn exit_status(code: &str) -> i32 {
    match code {
        "ok" => 0,
        "io" => 3,
        "wrong_passphrase" => 4,
        "internal" => 5,
        "malformed" | "unsupported" | "invalid_request" | "weak_key" | "weak_signature"
        | "not_authorized" | "stale_crl" | "invalid_crl" | "token_malformed" => 2,
        _ => 1,
    }
}

/// The code of the one-line error on stderr (`error: <code>: ...`), or "ok" on success.
fn verdict(out: &std::process::Output) -> String {
    if out.status.success() {
        return "ok".into();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().last().unwrap_or_default();
    line.strip_prefix("error: ")
        .and_then(|l| l.split(':').next())
        .unwrap_or(line)
        .to_owned()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// A CA directory for the trust domain (made once), or the output of the failed `ca init`.
fn ca_for<'a>(
    tmp: &Path,
    cache: &'a mut HashMap<String, Result<PathBuf, std::process::Output>>,
    td: &str,
) -> &'a Result<PathBuf, std::process::Output> {
    let n = cache.len();
    cache.entry(td.to_owned()).or_insert_with(|| {
        let dir = tmp.join(format!("ca{n}"));
        let out = meshtls()
            .args(["ca", "init", "--trust-domain", td, "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        if out.status.success() {
            Ok(dir)
        } else {
            Err(out)
        }
    })
}

#[test]
fn issue_replays_the_request_cases_without_a_grant() {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("requests.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cas = HashMap::new();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (i, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        if case.get("grant").is_some() {
            continue; // a grant is the CA service's and the libraries' business
        }
        replayed += 1;
        let name = case["name"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let out = match ca_for(tmp.path(), &mut cas, case["trust_domain"].as_str().unwrap()) {
            Err(out) => out.clone(),
            Ok(ca) => {
                let mut cmd = meshtls();
                cmd.arg("issue").arg("--ca").arg(ca);
                cmd.arg("--out").arg(tmp.path().join(format!("out{i}")));
                if let Some(id) = case["id"].as_str() {
                    cmd.arg(format!("--id={id}"));
                }
                if let Some(csr) = case["csr"].as_str() {
                    cmd.arg("--csr").arg(fixtures().join(csr));
                }
                for d in strings(&case["dns"]) {
                    cmd.arg(format!("--dns={d}"));
                }
                for ip in strings(&case["ips"]) {
                    cmd.arg(format!("--ip={ip}"));
                }
                if let Some(u) = case["usage"].as_str() {
                    cmd.args(["--usage", u]);
                }
                if let Some(s) = case["lifetime_seconds"].as_u64() {
                    cmd.arg("--ttl").arg(format!("{s}s"));
                }
                if let Some(k) = case["key"].as_str() {
                    cmd.args(["--key", k]);
                }
                cmd.output().unwrap()
            }
        };
        let got = verdict(&out);
        let status = out.status.code().unwrap_or(-1);
        if got != expect || status != exit_status(expect) {
            failures.push(format!(
                "{name}: expected {expect} (exit {}), got {got} (exit {status}): {}",
                exit_status(expect),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    println!("requests.json: {replayed} cases replayed through meshtls issue");
    assert!(replayed >= 60, "{replayed}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn weak_csrs_exit_2_with_their_code() {
    let pki = common::Pki::new();
    for (csr, code) in [
        ("rsa-1024", "weak_key"),
        ("rsa-sha1", "weak_signature"),
        ("p521", "unsupported"),
    ] {
        meshtls()
            .arg("issue")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--csr")
            .arg(fixtures().join(format!("requests/{csr}.csr.pem")))
            .arg("--out")
            .arg(pki.path(csr))
            .assert()
            .code(2)
            .stderr(predicates::str::starts_with(format!("error: {code}: ")));
        assert!(!pki.path(csr).join("cert.pem").exists(), "{csr}");
    }
}

#[test]
fn serve_refuses_to_start_with_a_lifetime_out_of_bounds() {
    let pki = common::Pki::new();
    for lifetime in ["30s", "36500d"] {
        meshtls()
            .arg("serve")
            .arg("--ca")
            .arg(pki.ca())
            .args(["--listen", "127.0.0.1:0", "--lifetime", lifetime])
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "error: invalid_request: --lifetime",
            ));
    }
}

#[test]
fn admin_token_refuses_names_that_are_not_hostnames() {
    let pki = common::Pki::new();
    for dns in ["bad_name.mesh.internal", "a..b", "*.com", "sp ace.internal"] {
        meshtls()
            .args(["admin", "token", "--id", "spiffe://mesh.internal/service/*"])
            .args(["--dns", dns, "--url", "https://127.0.0.1:1"])
            .arg("--cert")
            .arg(pki.path("missing"))
            .arg("--bundle")
            .arg(pki.bundle())
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(predicates::str::starts_with("error: invalid_request: "));
    }
}

#[test]
fn wildcards_need_allow_wildcard() {
    let pki = common::Pki::new();
    let id = "--id=spiffe://mesh.internal/service/web";
    meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args([id, "--dns=*.web.mesh.internal", "--out"])
        .arg(pki.path("refused"))
        .assert()
        .code(2)
        .stderr(predicates::str::starts_with("error: invalid_request: "));
    pki.issue(
        "spiffe://mesh.internal/service/web",
        "web",
        &["--dns=*.web.mesh.internal", "--allow-wildcard"],
    );
    assert!(pki.path("web/cert.pem").exists());
}

#[test]
fn issue_reports_the_names_the_certificate_holds() {
    let pki = common::Pki::new();
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args([
            "--id=spiffe://mesh.internal/service/api",
            "--dns=API.Mesh.Internal",
        ])
        .args([
            "--dns=api.mesh.internal",
            "--ip=10.0.0.1",
            "--json",
            "--out",
        ])
        .arg(pki.path("api"))
        .assert()
        .success();
    let v = common::json(&a);
    assert_eq!(v["dns_names"], serde_json::json!(["api.mesh.internal"]));
    assert_eq!(v["ip_addresses"], serde_json::json!(["10.0.0.1"]));
}
