//! `meshtls serve` as a real process: kill -9 during a burst of enrollments loses nothing a
//! client received (the ledger is written before the answer), and the service restarts on
//! the same ledger.
#![cfg(feature = "serve")]

mod common;

use std::sync::Arc;

use common::service::{self, admin_identity, client, mint, Server, ADMIN};
use common::*;
use hyper::Method;
use meshtls_core::{create_csr, KeyAlgorithm, SpiffeId};
use meshtls_enroll::store::CertFilter;
use meshtls_enroll::{SqliteStore, Store};
use meshtls_net::{Identity, IdentityHandle};

/// `meshtls serve` with more arguments and environment; its audit log goes to
/// CA_DIR/audit.log.
fn serve_with(pki: &Pki, db: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
    let audit = pki.ca().join("audit.log");
    let mut all = vec!["--audit-log", audit.to_str().unwrap()];
    all.extend_from_slice(args);
    service::serve_with(pki, db, "127.0.0.1:0", &all, env)
}

fn serve(pki: &Pki, db: &str) -> Server {
    serve_with(pki, db, &[], &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_burst_loses_no_issued_certificate() {
    let pki = Pki::new();
    let ledger = pki.ca().join("ledger.db");
    burst_and_kill(&pki, "sqlite", move || {
        Box::new(SqliteStore::open(&ledger).unwrap()) as Box<dyn Store>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_burst_loses_no_issued_certificate_postgres() {
    let Ok(url) = std::env::var("MESHTLS_TEST_PG_URL") else {
        eprintln!("SKIPPED: MESHTLS_TEST_PG_URL is unset (scripts/ci/postgres starts a server)");
        return;
    };
    let pki = Pki::new();
    let u = url.clone();
    burst_and_kill(&pki, &url, move || {
        Box::new(meshtls_enroll::PostgresStore::connect(&u, 1).unwrap()) as Box<dyn Store>
    })
    .await;
}

async fn burst_and_kill(
    pki: &Pki,
    db: &str,
    open_ledger: impl FnOnce() -> Box<dyn Store> + Send + 'static,
) {
    let admin_dir = pki.issue(ADMIN, "admin", &[]);
    let admin = IdentityHandle::new(
        Identity::from_pem(
            &std::fs::read(admin_dir.join("chain.pem")).unwrap(),
            &std::fs::read(admin_dir.join("key.pem")).unwrap(),
        )
        .unwrap(),
    );
    // The burst comes from one address: let it open a connection per enrollment.
    let mut server = serve_with(pki, db, &["--max-connections-per-address", "1000"], &[]);
    let c = Arc::new(client(pki, &server.url));

    const N: usize = 100;
    let mut tokens = Vec::new();
    for i in 0..N {
        let body = format!(r#"{{"identity":"spiffe://mesh.internal/node/n{i}"}}"#);
        let (status, bytes) = c
            .request(
                Method::POST,
                "/v1/tokens",
                Some(body.into_bytes()),
                Some(&admin),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{bytes:?}");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        tokens.push(v["token"].as_str().unwrap().to_owned());
    }
    // Keys and CSRs made up front, so the burst is only enrollments.
    let csrs: Vec<String> = (0..N)
        .map(|i| {
            let id = SpiffeId::parse(&format!("spiffe://mesh.internal/node/n{i}")).unwrap();
            create_csr(&id, &[], KeyAlgorithm::EcdsaP256)
                .unwrap()
                .csr_pem
        })
        .collect();

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for (token, csr) in tokens.iter().cloned().zip(csrs) {
        let c = c.clone();
        let done_tx = done_tx.clone();
        tokio::spawn(async move {
            let r = c.enroll_csr(&token, &csr).await;
            let _ = done_tx.send(r.map(|issued| issued.serial));
        });
    }
    drop(done_tx);
    // Let a few finish, then SIGKILL the service in the middle of the rest.
    let mut received = Vec::new();
    let mut failed = 0;
    while received.len() < 20 {
        match done_rx.recv().await.unwrap() {
            Ok(serial) => received.push(serial),
            Err(_) => failed += 1,
        }
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    while let Some(r) = done_rx.recv().await {
        match r {
            Ok(serial) => received.push(serial),
            Err(_) => failed += 1,
        }
    }
    assert!(
        failed > 0,
        "the kill came after the burst: nothing was interrupted"
    );
    eprintln!(
        "received {} certificates, {failed} requests cut off",
        received.len()
    );

    // Every certificate a client received is in the ledger.
    let ledger: std::collections::HashSet<String> = tokio::task::spawn_blocking(move || {
        let store = open_ledger();
        let rows = store
            .certs(&CertFilter {
                limit: 100_000,
                ..CertFilter::default()
            })
            .unwrap();
        drop(store);
        rows.into_iter().map(|r| r.serial).collect()
    })
    .await
    .unwrap();
    for serial in &received {
        assert!(
            ledger.contains(serial),
            "{serial} was handed out but is not in the ledger"
        );
    }

    // The service comes back on the same ledger and keeps serving.
    let server = serve(pki, db);
    let (status, _) = client(pki, &server.url)
        .request(Method::GET, "/healthz", None, None)
        .await
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revoked_with_meshtls_revoke_is_refused_and_in_the_crl() {
    let pki = Pki::new();
    let admin_dir = pki.issue(ADMIN, "admin", &[]);
    meshtls()
        .args(["revoke", "--ca"])
        .arg(pki.ca())
        .arg("--cert")
        .arg(admin_dir.join("cert.pem"))
        .assert()
        .success();
    let admin = IdentityHandle::new(
        Identity::from_pem(
            &std::fs::read(admin_dir.join("chain.pem")).unwrap(),
            &std::fs::read(admin_dir.join("key.pem")).unwrap(),
        )
        .unwrap(),
    );
    let server = serve(&pki, "sqlite");
    let c = client(&pki, &server.url);
    let body = br#"{"identity":"spiffe://mesh.internal/node/x"}"#.to_vec();
    let (status, bytes) = c
        .request(Method::POST, "/v1/tokens", Some(body), Some(&admin))
        .await
        .unwrap();
    assert_eq!(status, 403, "{bytes:?}");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "revoked");
    let crl = c.get_pem("/v1/crl").await.unwrap();
    let crl = meshtls_core::Crl::from_pem_or_der(&crl).unwrap();
    let serial = admin.current().leaf().unwrap().serial;
    assert!(crl.lookup(&serial).unwrap().is_some());
}

#[test]
fn serve_has_help_and_refuses_bad_input() {
    use predicates::prelude::*;
    meshtls()
        .args(["serve", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("/v1/enroll"));
    let pki = Pki::new();
    meshtls()
        .args(["serve", "--db", "mysql://x", "--ca"])
        .arg(pki.ca())
        .assert()
        .code(2);
    meshtls()
        .args(["serve", "--admin-id", "not an id", "--ca"])
        .arg(pki.ca())
        .assert()
        .code(2);
}

/// The operator's side of enrollment with the CLI alone: mint a token, see the node in the
/// ledger, revoke it through the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meshtls_admin_mints_tokens_lists_and_revokes() {
    let pki = Pki::new();
    let admin_dir = pki.issue(ADMIN, "admin", &["--usage", "client"]);
    let other_dir = pki.issue("spiffe://mesh.internal/service/other", "other", &[]);
    let server = serve(&pki, "sqlite");
    let admin = |args: &[&str], cert: &std::path::Path| {
        let mut cmd = meshtls();
        cmd.arg("admin")
            .args(args)
            .args(["--url", &server.url, "--cert"])
            .arg(cert)
            .arg("--bundle")
            .arg(pki.bundle());
        cmd
    };
    const NODE: &str = "spiffe://mesh.internal/service/api";

    let out = admin(&["token", "--id", NODE, "--ttl", "1h"], &admin_dir)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let token = stdout.lines().next().unwrap().to_owned();
    assert_eq!(token.len(), 64, "{stdout}");
    assert!(stdout.contains(NODE), "{stdout}");

    let bundle_pem = std::fs::read_to_string(pki.bundle()).unwrap();
    let id = SpiffeId::parse(NODE).unwrap();
    let options = meshtls_net::enroll::EnrollOptions::new(bundle_pem);
    let node = meshtls_net::enroll::enroll(&server.url, &token, &id, options)
        .await
        .unwrap();
    let serial = node.identity().current().leaf().unwrap().serial.to_hex();

    let listed = json(
        &admin(&["certs", "--identity", NODE], &admin_dir)
            .arg("--json")
            .assert()
            .success(),
    );
    let certs = listed["certs"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{listed}");
    assert_eq!(certs[0]["serial"], serial.as_str());
    assert_eq!(certs[0]["kind"], "enroll");

    // A renewal: the listing shows which certificate it renews.
    node.renew_now().await.unwrap();
    let renewed = node.identity().current().leaf().unwrap().serial.to_hex();
    let text = admin(&["certs", "--identity", NODE], &admin_dir)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with(&renewed)).unwrap();
    assert!(line.contains(&format!("renews {serial}")), "{text}");

    // Key compromise of the first takes its renewal with it.
    let out = admin(
        &["revoke", "--serial", &serial, "--reason", "key_compromise"],
        &admin_dir,
    )
    .assert()
    .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains(&format!("revoked {renewed} (descendant)")),
        "{stdout}"
    );
    let e = node.renew_now().await.unwrap_err();
    assert_eq!(e.code(), "revoked");
    let revoked = json(
        &admin(&["certs", "--revoked"], &admin_dir)
            .arg("--json")
            .assert()
            .success(),
    );
    let revoked: Vec<(&str, &str)> = revoked["certs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["serial"].as_str().unwrap(),
                c["revocation_reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        revoked.contains(&(serial.as_str(), "key_compromise")),
        "{revoked:?}"
    );
    assert!(
        revoked.contains(&(renewed.as_str(), "key_compromise")),
        "{revoked:?}"
    );

    // A second token leaks before use: list the tokens, revoke it by its id.
    let minted = json(
        &admin(&["token", "--id", NODE], &admin_dir)
            .arg("--json")
            .assert()
            .success(),
    );
    let leaked_id = minted["id"].as_str().unwrap().to_owned();
    let tokens = json(
        &admin(&["tokens"], &admin_dir)
            .arg("--json")
            .assert()
            .success(),
    );
    let states: Vec<(&str, &str)> = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t["state"].as_str().unwrap()))
        .collect();
    assert!(states.contains(&(leaked_id.as_str(), "unused")), "{tokens}");
    assert!(states.iter().any(|(_, s)| *s == "used"), "{tokens}");
    let out = admin(&["revoke-token", "--id", &leaked_id], &admin_dir)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("revoked token"), "{stdout}");
    let options =
        meshtls_net::enroll::EnrollOptions::new(std::fs::read_to_string(pki.bundle()).unwrap());
    let leaked = minted["token"].as_str().unwrap();
    let e = meshtls_net::enroll::enroll(&server.url, leaked, &id, options)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "token_revoked");
    let text = admin(&["tokens"], &admin_dir).assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    assert!(text.contains(&format!("{leaked_id}  revoked")), "{text}");

    // Refusals keep the service's code (not_admin, unknown_certificate); no service is I/O.
    let a = admin(&["token", "--id", NODE], &other_dir).assert().code(2);
    assert_error_line(&a, "invalid_request");
    assert!(stderr(&a).contains("not_admin"), "{}", stderr(&a));
    let a = admin(&["revoke", "--serial", "0abc"], &admin_dir)
        .assert()
        .code(2);
    assert!(stderr(&a).contains("unknown_certificate"), "{}", stderr(&a));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let a = meshtls()
        .args(["admin", "token", "--id", NODE, "--timeout", "5s"])
        .args(["--url", &format!("https://localhost:{port}"), "--cert"])
        .arg(&admin_dir)
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(3);
    assert_error_line(&a, "io");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_commit_and_answer_then_a_retry_gets_the_certificate() {
    let pki = Pki::new();
    let admin = admin_identity(&pki);
    // The test hook aborts the process right after the enrollment's commit.
    let mut server = serve_with(
        &pki,
        "sqlite",
        &[],
        &[("MESHTLS_TEST_ABORT_AFTER_ENROLL_COMMIT", "1")],
    );
    let c = client(&pki, &server.url);
    let node = "spiffe://mesh.internal/node/crash";
    let token = mint(&c, &admin, node).await;
    let csr = create_csr(
        &SpiffeId::parse(node).unwrap(),
        &[],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let e = c.enroll_csr(&token, &csr.csr_pem).await.unwrap_err();
    assert_eq!(e.code(), "transport", "{e}");
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "the service died: {status:?}");

    // The ledger has the certificate and the token is used...
    let ledger = pki.ca().join("ledger.db");
    let rows = tokio::task::spawn_blocking(move || {
        SqliteStore::open(&ledger)
            .unwrap()
            .certs(&CertFilter {
                identity: Some(node.to_owned()),
                limit: 10,
                ..CertFilter::default()
            })
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    // ...and the retry on the restarted service gets that very certificate.
    let server = serve(&pki, "sqlite");
    let c = client(&pki, &server.url);
    let issued = c.enroll_csr(&token, &csr.csr_pem).await.unwrap();
    assert_eq!(issued.serial, rows[0].serial);
    Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes()).unwrap();
    // Another key is still refused.
    let other = create_csr(
        &SpiffeId::parse(node).unwrap(),
        &[],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let e = c.enroll_csr(&token, &other.csr_pem).await.unwrap_err();
    assert_eq!(e.code(), "token_used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_writes_an_audit_line_per_request_without_secrets() {
    let pki = Pki::new();
    let admin = admin_identity(&pki);
    let server = serve(&pki, "sqlite");
    let c = client(&pki, &server.url);
    let node = "spiffe://mesh.internal/node/audited";
    let token = mint(&c, &admin, node).await;
    let csr = create_csr(
        &SpiffeId::parse(node).unwrap(),
        &[],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    c.enroll_csr(&token, &csr.csr_pem).await.unwrap();
    // Not JSON: 415, logged with its code.
    let (status, _) = c
        .request(Method::POST, "/v1/enroll", None, None)
        .await
        .unwrap();
    assert_eq!(status, 415);
    drop(server);
    let log = std::fs::read_to_string(pki.ca().join("audit.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert_eq!(lines[0]["peer"], ADMIN);
    assert_eq!(lines[0]["endpoint"], "/v1/tokens");
    assert_eq!(lines[1]["endpoint"], "/v1/enroll");
    assert_eq!(lines[1]["status"], 200);
    assert_eq!(lines[2]["code"], "unsupported_media_type");
    for l in &lines {
        assert!(l["time"].as_str().unwrap().ends_with('Z'), "{l}");
        assert!(l["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    assert!(!log.contains(&token));
    assert!(!log.contains("BEGIN"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(pki.ca().join("audit.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the audit log is private: {mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_never_enrolls_a_reserved_identity_nor_a_weak_csr_through_a_token() {
    let pki = Pki::new();
    let admin = admin_identity(&pki);
    let server = serve_with(
        &pki,
        "sqlite",
        &["--admin-id", "spiffe://mesh.internal/ops/*"],
        &[],
    );
    let c = client(&pki, &server.url);
    let token = mint(&c, &admin, "spiffe://mesh.internal").await;
    for reserved in [
        "spiffe://mesh.internal/meshtls/ca",
        ADMIN,
        "spiffe://mesh.internal/ops/alice",
    ] {
        let csr = create_csr(
            &SpiffeId::parse(reserved).unwrap(),
            &[],
            KeyAlgorithm::EcdsaP256,
        )
        .unwrap();
        let e = c.enroll_csr(&token, &csr.csr_pem).await.unwrap_err();
        assert_eq!(e.code(), "not_authorized", "{reserved}: {e}");
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/requests");
    for (csr, code) in [
        ("rsa-1024.csr.pem", "weak_key"),
        ("rsa-sha1.csr.pem", "weak_signature"),
    ] {
        let pem = std::fs::read_to_string(fixtures.join(csr)).unwrap();
        let e = c.enroll_csr(&token, &pem).await.unwrap_err();
        assert_eq!(e.code(), code, "{csr}: {e}");
    }
    // None of that used the token up; what it enrolls is no administrator.
    let member = "spiffe://mesh.internal/service/api";
    let csr = create_csr(
        &SpiffeId::parse(member).unwrap(),
        &[],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let issued = c.enroll_csr(&token, &csr.csr_pem).await.unwrap();
    let node = IdentityHandle::new(
        Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes()).unwrap(),
    );
    let body = br#"{"identity":"spiffe://mesh.internal/ops/bob"}"#.to_vec();
    let (status, bytes) = c
        .request(Method::POST, "/v1/tokens", Some(body), Some(&node))
        .await
        .unwrap();
    assert_eq!(status, 403, "{bytes:?}");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "not_admin");
}
