//! End-to-end tests of the `meshtls` binary: every command, its files, its errors and exit codes.

mod common;

use common::*;
use predicates::prelude::*;

const NOW_PLUS_1Y: &str = "2099-01-01T00:00:00Z";

#[test]
fn every_command_has_help() {
    meshtls()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("wrong_passphrase"));
    for cmd in [
        &["ca"][..],
        &["ca", "init"],
        &["ca", "intermediate"],
        &["issue"],
        &["inspect"],
        &["verify"],
        &["revoke"],
        &["crl"],
        &["renew"],
        #[cfg(feature = "probe")]
        &["probe"],
    ] {
        meshtls()
            .args(cmd)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: meshtls"));
    }
    meshtls().args(["verify", "--help"]).assert().stdout(
        predicate::str::contains("trust\ndomain(s)")
            .or(predicate::str::contains("trust domain(s)")),
    );
}

#[test]
fn bad_usage_exits_2() {
    meshtls().arg("frobnicate").assert().code(2);
    meshtls().args(["issue", "--ca"]).assert().code(2);
    meshtls()
        .args(["ca", "init", "--trust-domain", "Not Valid", "--out", "x"])
        .assert()
        .code(2);
    meshtls()
        .args(["verify", "--bundle", "a", "--at", "yesterday", "b"])
        .assert()
        .code(2);
}

#[test]
fn ca_init_writes_cert_and_encrypted_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ca");
    let a = meshtls()
        .args([
            "ca",
            "init",
            "--trust-domain",
            TD,
            "--key",
            "ecdsa-p384",
            "--days",
            "30",
            "--json",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let v = json(&a);
    assert_eq!(v["trust_domain"], TD);
    assert_eq!(v["is_root"], true);
    assert_eq!(v["key_algorithm"], "ecdsa-p384");
    let lifetime =
        v["not_after"]["unix"].as_i64().unwrap() - v["not_before"]["unix"].as_i64().unwrap();
    assert_eq!(
        lifetime,
        30 * 86400 + 60,
        "30 days plus the core's backdating"
    );
    let key = std::fs::read_to_string(out.join("ca.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert_eq!(mode(&out.join("ca.key")), 0o600);
    assert_eq!(mode(&out.join("ca.crt")), 0o644);
    assert!(out.join("revocations.txt").exists());
    assert_no_temp_files(&out);
}

#[test]
fn ca_init_refuses_to_replace_a_ca_without_force() {
    let pki = Pki::new();
    let before = std::fs::read(pki.path("ca/ca.key")).unwrap();
    let a = meshtls()
        .args(["ca", "init", "--trust-domain", TD, "--out"])
        .arg(pki.ca())
        .assert()
        .code(2);
    assert_error_line(&a, "invalid_request");
    assert!(stderr(&a).contains("ca.key"));
    assert_eq!(before, std::fs::read(pki.path("ca/ca.key")).unwrap());
    meshtls()
        .args(["ca", "init", "--trust-domain", TD, "--force", "--out"])
        .arg(pki.ca())
        .assert()
        .success();
    assert_ne!(before, std::fs::read(pki.path("ca/ca.key")).unwrap());
}

#[test]
fn passphrase_is_required_and_never_an_argument() {
    let dir = tempfile::tempdir().unwrap();
    let a = meshtls()
        .env_remove("MESHTLS_CA_PASSPHRASE")
        .args(["ca", "init", "--trust-domain", TD, "--out"])
        .arg(dir.path().join("ca"))
        .assert()
        .code(2);
    assert_error_line(&a, "invalid_request");
    assert!(stderr(&a).contains("MESHTLS_CA_PASSPHRASE"));
    meshtls()
        .args([
            "ca",
            "init",
            "--trust-domain",
            TD,
            "--passphrase",
            "x",
            "--out",
            "y",
        ])
        .assert()
        .code(2);
    // An empty passphrase file is refused.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    meshtls()
        .args(["ca", "init", "--trust-domain", TD, "--passphrase-file"])
        .arg(&empty)
        .arg("--out")
        .arg(dir.path().join("ca"))
        .assert()
        .code(2);
}

#[test]
fn passphrase_file_wins_and_its_newline_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "from-a-file\n").unwrap();
    let ca = dir.path().join("ca");
    meshtls()
        .args(["ca", "init", "--trust-domain", TD, "--passphrase-file"])
        .arg(&pass)
        .arg("--out")
        .arg(&ca)
        .assert()
        .success();
    // The same passphrase from the environment (no newline) opens the key.
    meshtls()
        .env("MESHTLS_CA_PASSPHRASE", "from-a-file")
        .arg("issue")
        .arg("--ca")
        .arg(&ca)
        .args(["--id", ID, "--out"])
        .arg(dir.path().join("svc"))
        .assert()
        .success();
}

#[test]
fn wrong_passphrase_exits_4_naming_the_key() {
    let pki = Pki::new();
    let a = meshtls()
        .env("MESHTLS_CA_PASSPHRASE", "not the passphrase")
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--id", ID, "--out"])
        .arg(pki.path("svc"))
        .assert()
        .code(4);
    assert_error_line(&a, "wrong_passphrase");
    assert!(stderr(&a).contains("ca.key"));
    assert!(!pki.path("svc").exists(), "nothing written");
}

#[test]
fn issue_writes_cert_chain_and_private_key() {
    let pki = Pki::new();
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args([
            "--id",
            ID,
            "--dns",
            "user-svc.mesh.internal",
            "--ip",
            "10.1.2.3",
            "--usage",
            "server",
            "--ttl",
            "12h",
            "--json",
            "--out",
        ])
        .arg(pki.path("svc"))
        .assert()
        .success();
    let v = json(&a);
    assert_eq!(v["spiffe_id"], ID);
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    let lifetime =
        v["not_after"]["unix"].as_i64().unwrap() - v["not_before"]["unix"].as_i64().unwrap();
    assert_eq!(lifetime, 12 * 3600 + 60);
    assert_eq!(mode(&pki.path("svc/key.pem")), 0o600);
    assert_eq!(mode(&pki.path("svc/cert.pem")), 0o644);
    assert_no_temp_files(&pki.path("svc"));

    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(pki.path("svc/cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    let c = &v["certificates"][0];
    assert_eq!(v["kind"], "certificates");
    assert_eq!(c["spiffe_id"], ID);
    assert_eq!(c["dns_names"][0], "user-svc.mesh.internal");
    assert_eq!(c["ip_addresses"][0], "10.1.2.3");
    assert_eq!(c["extended_key_usage"], serde_json::json!(["serverAuth"]));
    assert_eq!(c["key_algorithm"], "ECDSA P-256");
    assert_eq!(c["status"], "valid");
    assert_eq!(c["is_ca"], false);

    // Issuing over it needs --force.
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--id", ID, "--out"])
        .arg(pki.path("svc"))
        .assert()
        .code(2);
    assert!(stderr(&a).contains("cert.pem"));
}

#[test]
fn issue_rejects_requests_core_rejects() {
    let pki = Pki::new();
    for (args, code) in [
        (
            &["--id", "spiffe://other.internal/service/x"][..],
            "invalid_request",
        ),
        (&["--id", ID, "--ttl", "10s"], "invalid_request"),
        (&["--id", ID, "--ttl", "20y"], "invalid_request"),
    ] {
        let a = meshtls()
            .arg("issue")
            .arg("--ca")
            .arg(pki.ca())
            .args(args)
            .arg("--out")
            .arg(pki.path("x"))
            .assert()
            .code(2);
        assert_error_line(&a, code);
    }
    // A malformed SPIFFE ID is a usage error from the flag parser.
    meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--id", "spiffe://mesh.internal/a//b", "--out"])
        .arg(pki.path("x"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("malformed"));
}

#[test]
fn key_algorithms() {
    let pki = Pki::new();
    for (alg, name) in [
        ("ecdsa-p384", "ECDSA P-384"),
        ("ed25519", "Ed25519"),
        ("rsa-2048", "RSA 2048"),
    ] {
        let out = pki.issue(ID, alg, &["--key", alg]);
        let v = json(
            &meshtls()
                .arg("inspect")
                .arg(out.join("cert.pem"))
                .arg("--json")
                .assert()
                .success(),
        );
        assert_eq!(v["certificates"][0]["key_algorithm"], name);
        meshtls()
            .arg("verify")
            .arg("--bundle")
            .arg(pki.bundle())
            .arg(out.join("chain.pem"))
            .assert()
            .success();
    }
}

#[test]
fn missing_and_corrupt_files_are_one_line_errors() {
    let pki = Pki::new();
    let svc = pki.issue(ID, "svc", &[]);
    // Missing CA directory: io, exit 3, naming the file.
    let a = meshtls()
        .args(["issue", "--ca", "/nonexistent/ca", "--id", ID, "--out"])
        .arg(pki.path("x"))
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    assert!(stderr(&a).contains("/nonexistent/ca/ca.crt"));
    // Inspect garbage, an empty file, truncated PEM.
    for (name, content) in [
        ("garbage", &b"hello world"[..]),
        ("empty", b""),
        ("truncated", b"-----BEGIN CERTIFICATE-----\nMIIB"),
        ("binary", &[0x30, 0x82, 0xff, 0xff, 0x00]),
    ] {
        let p = pki.path(name);
        std::fs::write(&p, content).unwrap();
        let a = meshtls().arg("inspect").arg(&p).assert().code(2);
        assert_error_line(&a, "malformed");
        assert!(stderr(&a).contains(name), "{name}: {}", stderr(&a));
        // A corrupt chain or bundle in verify.
        let a = meshtls()
            .arg("verify")
            .arg("--bundle")
            .arg(pki.bundle())
            .arg(&p)
            .assert()
            .code(2);
        assert_error_line(&a, "malformed");
        assert!(stderr(&a).contains(name), "{name}: {}", stderr(&a));
        let a = meshtls()
            .arg("verify")
            .arg("--bundle")
            .arg(&p)
            .arg(svc.join("chain.pem"))
            .assert()
            .code(2);
        assert_error_line(&a, "malformed");
    }
    let a = meshtls()
        .arg("inspect")
        .arg(pki.path("nope.pem"))
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    // Corrupt CA certificate: malformed, exit 2, naming ca.crt.
    std::fs::write(
        pki.path("ca/ca.crt"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--id", ID, "--out"])
        .arg(pki.path("x"))
        .assert()
        .code(2);
    assert_error_line(&a, "malformed");
    assert!(stderr(&a).contains("ca.crt"));
}

#[test]
fn corrupt_ca_key_is_malformed() {
    let pki = Pki::new();
    std::fs::write(
        pki.path("ca/ca.key"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let a = meshtls()
        .arg("crl")
        .arg("--ca")
        .arg(pki.ca())
        .arg("--out")
        .arg(pki.path("crl.pem"))
        .assert()
        .code(2);
    assert_error_line(&a, "malformed");
    assert!(stderr(&a).contains("ca.key"));
}

#[test]
fn verify_accepts_and_prints_the_peer() {
    let pki = Pki::new();
    let svc = pki.issue(ID, "svc", &["--dns", "user-svc.local"]);
    meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .success()
        .stdout(predicate::str::contains(ID));
    let v = json(
        &meshtls()
            .args([
                "verify",
                "--json",
                "--usage",
                "server",
                "--allow-id",
                "spiffe://mesh.internal/service/*",
                "--bundle",
            ])
            .arg(pki.bundle())
            .arg(svc.join("chain.pem"))
            .assert()
            .success(),
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["peer"]["spiffe_id"], ID);
    assert_eq!(v["peer"]["dns_names"][0], "user-svc.local");
    // A DNS rule.
    meshtls()
        .args(["verify", "--allow-dns", "user-svc.local", "--bundle"])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .success();
}

#[test]
fn verify_rejects_wrong_identity() {
    let pki = Pki::new();
    let svc = pki.issue(ID, "svc", &[]);
    for rule in [
        &["--allow-id", "spiffe://mesh.internal/service/billing"][..],
        &["--allow-id", "spiffe://mesh.internal/agent/*"],
        &["--allow-dns", "other.local"],
    ] {
        let a = meshtls()
            .arg("verify")
            .args(rule)
            .arg("--bundle")
            .arg(pki.bundle())
            .arg(svc.join("chain.pem"))
            .assert()
            .code(1);
        assert_error_line(&a, "identity_not_allowed");
    }
    // --json: the verdict on stdout too.
    let a = meshtls()
        .args([
            "verify",
            "--json",
            "--allow-id",
            "spiffe://mesh.internal/service/billing",
            "--bundle",
        ])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .code(1);
    let v = json(&a);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], "identity_not_allowed");
    assert_eq!(v["error"]["exit_status"], 1);
}

#[test]
fn verify_rejects_expired_and_not_yet_valid_via_at() {
    let pki = Pki::new();
    let svc = pki.issue(ID, "svc", &["--ttl", "1h"]);
    let a = meshtls()
        .args(["verify", "--at", NOW_PLUS_1Y, "--bundle"])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "expired");
    let a = meshtls()
        .args(["verify", "--at", "1000000000", "--bundle"])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "not_yet_valid");
    // Within the hour it is fine: --at as unix seconds.
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(svc.join("cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    let mid = v["certificates"][0]["not_before"]["unix"].as_i64().unwrap() + 1800;
    meshtls()
        .args(["verify", "--at", &mid.to_string(), "--bundle"])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .success();
}

#[test]
fn verify_rejects_other_ca_wrong_usage_and_pins() {
    let pki = Pki::new();
    let other = Pki::new();
    let svc = pki.issue(ID, "svc", &["--usage", "server"]);
    let a = meshtls()
        .args(["verify", "--usage", "server", "--bundle"])
        .arg(other.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "unknown_issuer");
    let a = meshtls()
        .args(["verify", "--usage", "client", "--bundle"])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "wrong_usage");
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(svc.join("cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    let fp = v["certificates"][0]["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let spki = v["certificates"][0]["spki_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    meshtls()
        .args(["verify", "--usage", "server", "--pin", &fp, "--bundle"])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .success();
    meshtls()
        .args([
            "verify",
            "--usage",
            "server",
            "--pin-spki",
            &spki,
            "--bundle",
        ])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .success();
    let a = meshtls()
        .args([
            "verify",
            "--usage",
            "server",
            "--pin",
            &"ab".repeat(32),
            "--bundle",
        ])
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "not_pinned");
    // A CA presented as a peer.
    let a = meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg(pki.bundle())
        .assert()
        .code(1);
    assert_error_line(&a, "wrong_usage");
}

#[test]
fn revoke_crl_and_verify_rejects_revoked() {
    let pki = Pki::new();
    let bad = pki.issue("spiffe://mesh.internal/service/bad", "bad", &[]);
    let good = pki.issue("spiffe://mesh.internal/service/good", "good", &[]);
    let serial = pki.serial(&bad.join("cert.pem"));
    let v = json(
        &meshtls()
            .arg("revoke")
            .arg("--ca")
            .arg(pki.ca())
            .args(["--serial", &serial, "--reason", "key-compromise", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(v["newly_revoked"], true);
    assert_eq!(v["reason"], "key_compromise");
    // Again: nothing changes, still success.
    let v = json(
        &meshtls()
            .arg("revoke")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--cert")
            .arg(bad.join("cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(v["newly_revoked"], false);
    assert_eq!(v["revoked_count"], 1);

    let v = json(
        &meshtls()
            .arg("crl")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--out")
            .arg(pki.path("crl.pem"))
            .args(["--next-update", "1d", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(v["number"], 1);
    assert_eq!(v["revoked_count"], 1);
    assert_no_temp_files(&pki.ca());

    let a = meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg("--crl")
        .arg(pki.path("crl.pem"))
        .arg(bad.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "revoked");
    meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg("--crl")
        .arg(pki.path("crl.pem"))
        .arg(good.join("chain.pem"))
        .assert()
        .success();
    // Past the CRL's nextUpdate, verification fails closed.
    let a = meshtls()
        .args([
            "verify",
            "--at",
            &(v["next_update"]["unix"].as_i64().unwrap() + 3600).to_string(),
            "--bundle",
        ])
        .arg(pki.bundle())
        .arg("--crl")
        .arg(pki.path("crl.pem"))
        .arg(good.join("chain.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "crl_expired");

    // The CRL number grows.
    let v = json(
        &meshtls()
            .arg("crl")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--out")
            .arg(pki.path("crl2.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(v["number"], 2);

    // inspect reads the CRL.
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(pki.path("crl2.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(v["kind"], "crl");
    assert_eq!(v["number"], 2);
    assert_eq!(v["revoked_count"], 1);
    assert_eq!(v["stale"], false);
    meshtls()
        .arg("inspect")
        .arg(pki.path("crl2.pem"))
        .assert()
        .success()
        .stdout(predicate::str::contains("CRL").and(predicate::str::contains("next update")));
}

#[test]
fn revoke_validates_its_input() {
    let pki = Pki::new();
    meshtls()
        .arg("revoke")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--serial", "xyz"])
        .assert()
        .code(2);
    meshtls()
        .arg("revoke")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--serial", "01", "--reason", "because"])
        .assert()
        .code(2);
    // Not a CA directory.
    let a = meshtls()
        .arg("revoke")
        .arg("--ca")
        .arg(pki.path("nowhere"))
        .args(["--serial", "01"])
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    // Corrupt records are reported against the file, not overwritten.
    std::fs::write(pki.path("ca/revocations.txt"), "junk\n").unwrap();
    let a = meshtls()
        .arg("revoke")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--serial", "01"])
        .assert()
        .code(2);
    assert_error_line(&a, "malformed");
    assert!(stderr(&a).contains("revocations.txt"));
    assert_eq!(
        std::fs::read_to_string(pki.path("ca/revocations.txt")).unwrap(),
        "junk\n"
    );
}

#[test]
fn intermediate_ca_issues_leaves_the_root_verifies() {
    let pki = Pki::new();
    let int = pki.path("int");
    let v = json(
        &meshtls()
            .args(["ca", "intermediate", "--json", "--days", "365", "--parent"])
            .arg(pki.ca())
            .arg("--out")
            .arg(&int)
            .assert()
            .success(),
    );
    assert_eq!(v["is_root"], false);
    assert_eq!(mode(&int.join("ca.key")), 0o600);
    let out = pki.path("svc");
    meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(&int)
        .args(["--id", ID, "--out"])
        .arg(&out)
        .assert()
        .success();
    let chain = std::fs::read_to_string(out.join("chain.pem")).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf + intermediate"
    );
    meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg(out.join("chain.pem"))
        .assert()
        .success();
    // The leaf alone does not reach the root.
    let a = meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg(out.join("cert.pem"))
        .assert()
        .code(1);
    assert_error_line(&a, "unknown_issuer");
    // inspect shows both certificates of the chain.
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(out.join("chain.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(v["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(v["certificates"][1]["is_ca"], true);

    // A separate parent passphrase.
    let pass = pki.path("parent-pass");
    std::fs::write(&pass, PASS).unwrap();
    meshtls()
        .env("MESHTLS_CA_PASSPHRASE", "a different one")
        .args(["ca", "intermediate", "--parent"])
        .arg(pki.ca())
        .arg("--parent-passphrase-file")
        .arg(&pass)
        .arg("--out")
        .arg(pki.path("int2"))
        .assert()
        .success();
    let a = meshtls()
        .env("MESHTLS_CA_PASSPHRASE", "a different one")
        .args(["ca", "intermediate", "--parent"])
        .arg(pki.ca())
        .arg("--out")
        .arg(pki.path("int3"))
        .assert()
        .code(4);
    assert_error_line(&a, "wrong_passphrase");
}

#[test]
fn issue_from_csr_keeps_the_key_with_the_requester() {
    let pki = Pki::new();
    let key = pki.path("req.key");
    let csr = pki.path("req.csr");
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=csr-svc",
        ])
        .args([
            "-addext",
            "subjectAltName=URI:spiffe://mesh.internal/service/csr-svc,DNS:csr.local",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .status()
        .expect("openssl runs");
    assert!(ok.success());
    let out = pki.path("svc");
    let v = json(
        &meshtls()
            .arg("issue")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--csr")
            .arg(&csr)
            .arg("--json")
            .arg("--out")
            .arg(&out)
            .assert()
            .success(),
    );
    assert_eq!(v["spiffe_id"], "spiffe://mesh.internal/service/csr-svc");
    assert_eq!(v["dns_names"][0], "csr.local");
    assert!(!out.join("key.pem").exists());
    // A CSR for another ID than --id is refused by core.
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .arg("--csr")
        .arg(&csr)
        .args(["--id", ID, "--out"])
        .arg(pki.path("x"))
        .assert()
        .code(2);
    assert_error_line(&a, "invalid_request");
    // A corrupt CSR.
    std::fs::write(
        &csr,
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .arg("--csr")
        .arg(&csr)
        .arg("--out")
        .arg(pki.path("y"))
        .assert()
        .code(2);
    assert_error_line(&a, "malformed");
    assert!(stderr(&a).contains("req.csr"));
}

#[test]
fn renew_waits_until_due_then_reissues() {
    let pki = Pki::new();
    let svc = pki.issue(
        ID,
        "svc",
        &[
            "--dns",
            "user-svc.local",
            "--usage",
            "client",
            "--ttl",
            "2h",
            "--key",
            "ed25519",
        ],
    );
    let old_serial = pki.serial(&svc.join("cert.pem"));
    let old_key = std::fs::read(svc.join("key.pem")).unwrap();
    let v = json(
        &meshtls()
            .arg("renew")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--cert")
            .arg(&svc)
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(v["renewed"], false);
    assert_eq!(v["status"], "fresh");
    assert!(v["renew_at"]["unix"].is_i64());
    assert_eq!(pki.serial(&svc.join("cert.pem")), old_serial);

    let v = json(
        &meshtls()
            .arg("renew")
            .arg("--ca")
            .arg(pki.ca())
            .arg("--cert")
            .arg(&svc)
            .args(["--force", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(v["renewed"], true);
    assert_ne!(pki.serial(&svc.join("cert.pem")), old_serial);
    assert_ne!(
        std::fs::read(svc.join("key.pem")).unwrap(),
        old_key,
        "a new key"
    );
    assert_eq!(mode(&svc.join("key.pem")), 0o600);
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(svc.join("cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    let c = &v["certificates"][0];
    assert_eq!(c["spiffe_id"], ID);
    assert_eq!(c["dns_names"][0], "user-svc.local");
    assert_eq!(c["extended_key_usage"], serde_json::json!(["clientAuth"]));
    assert_eq!(c["key_algorithm"], "Ed25519");
    let lifetime =
        c["not_after"]["unix"].as_i64().unwrap() - c["not_before"]["unix"].as_i64().unwrap();
    assert_eq!(lifetime, 2 * 3600 + 60, "same lifetime");
    meshtls()
        .arg("verify")
        .arg("--bundle")
        .arg(pki.bundle())
        .arg(svc.join("chain.pem"))
        .assert()
        .success();
    assert_no_temp_files(&svc);

    // A certificate directory that does not exist.
    let a = meshtls()
        .arg("renew")
        .arg("--ca")
        .arg(pki.ca())
        .arg("--cert")
        .arg(pki.path("nope"))
        .assert()
        .code(3);
    assert_error_line(&a, "io");
}

#[test]
fn inspect_prints_for_people() {
    let pki = Pki::new();
    let svc = pki.issue(ID, "svc", &["--dns", "a.local"]);
    meshtls()
        .arg("inspect")
        .arg(svc.join("cert.pem"))
        .assert()
        .success()
        .stdout(
            predicate::str::contains(ID)
                .and(predicate::str::contains("a.local"))
                .and(predicate::str::contains("left"))
                .and(predicate::str::contains("ECDSA P-256"))
                .and(predicate::str::contains("sha256:")),
        );
    // DER input too.
    let der = pki.path("cert.der");
    let st = std::process::Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(svc.join("cert.pem"))
        .arg("-out")
        .arg(&der)
        .status()
        .expect("openssl runs");
    assert!(st.success());
    meshtls()
        .arg("inspect")
        .arg(&der)
        .assert()
        .success()
        .stdout(predicate::str::contains(ID));
}
