//! `meshtls serve` and its ledger as real processes: a CA that has issued refuses to start on a
//! missing, empty, foreign or rolled-back ledger (exit 6, one line); `admin backup` and
//! `admin restore` bring a ledger back and CRL numbers keep rising; a bad revocation record
//! stops the service at start.
#![cfg(feature = "serve")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::service::{self, admin_identity, client, serve, Server, ADMIN};
use common::*;
use hyper::Method;
use meshtls_core::{create_csr, Crl, KeyAlgorithm, SpiffeId};
use meshtls_enroll::client::CaClient;
use meshtls_enroll::ledger::{CaState, STATE_FILE};
use meshtls_enroll::SqliteStore;
use meshtls_net::IdentityHandle;

const NODE: &str = "spiffe://mesh.internal/node/n1";

fn serve_at(pki: &Pki, db: &str, listen: &str) -> Server {
    service::serve_with(pki, db, listen, &[], &[])
}

/// `meshtls serve` expected to refuse to start: its assertion (bounded: a service that
/// starts anyway is killed after 30 s and the test fails on the status).
fn serve_refused(pki: &Pki, db: &str) -> assert_cmd::assert::Assert {
    meshtls()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-id",
            ADMIN,
            "--db",
            db,
            "--ca",
        ])
        .arg(pki.ca())
        .timeout(Duration::from_secs(30))
        .assert()
}

/// Mint a token and enroll `NODE` with it: the serial.
async fn enroll_node(c: &CaClient, admin: &IdentityHandle) -> String {
    let body = format!(r#"{{"identity":"{NODE}"}}"#).into_bytes();
    let (status, bytes) = c
        .request(Method::POST, "/v1/tokens", Some(body), Some(admin))
        .await
        .unwrap();
    assert_eq!(status, 201, "{bytes:?}");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    let csr = create_csr(
        &SpiffeId::parse(NODE).unwrap(),
        &[],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    c.enroll_csr(&token, &csr.csr_pem).await.unwrap().serial
}

async fn revoke(c: &CaClient, admin: &IdentityHandle, serial: &str) {
    let body = format!(r#"{{"serial":"{serial}","reason":"key_compromise"}}"#).into_bytes();
    let (status, bytes) = c
        .request(Method::POST, "/v1/revoke", Some(body), Some(admin))
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
}

async fn crl(c: &CaClient) -> Crl {
    Crl::from_pem_or_der(&c.get_pem("/v1/crl").await.unwrap()).unwrap()
}

fn ledger_files(ca: &Path) -> [PathBuf; 3] {
    ["ledger.db", "ledger.db-wal", "ledger.db-shm"].map(|f| ca.join(f))
}

fn state(pki: &Pki) -> CaState {
    CaState::load(&pki.ca())
        .unwrap()
        .expect("the CA directory has a state file")
}

/// A CA that has served once (its own certificate is in the ledger) and was killed.
fn served_once() -> Pki {
    let pki = Pki::new();
    serve(&pki, "sqlite").stop();
    let s = state(&pki);
    assert!(s.issued >= 1, "{s:?}");
    pki
}

fn assert_refused(a: assert_cmd::assert::Assert, why: &str) {
    let a = a.code(6);
    assert_error_line(&a, "io");
    let err = stderr(&a);
    assert!(err.contains("refusing to start"), "{err}");
    assert!(err.contains(why), "expected {why:?} in {err}");
    assert!(err.contains("meshtls admin restore"), "{err}");
}

#[test]
fn a_deleted_ledger_refuses_to_start() {
    let pki = served_once();
    for f in ledger_files(&pki.ca()) {
        let _ = std::fs::remove_file(f);
    }
    assert_refused(serve_refused(&pki, "sqlite"), "is missing");
    // And it created nothing in its place.
    assert!(!pki.ca().join("ledger.db").exists());
}

#[test]
fn a_ledger_truncated_to_zero_bytes_refuses_to_start() {
    let pki = served_once();
    std::fs::File::create(pki.ca().join("ledger.db")).unwrap(); // truncates
    assert_refused(serve_refused(&pki, "sqlite"), "is empty (0 bytes)");
}

#[test]
fn a_foreign_ledger_refuses_to_start() {
    let pki = served_once();
    // Another ledger, with certificates of its own: another CA's, or a new one.
    let other = Pki::new();
    serve(&other, "sqlite").stop();
    let foreign = format!("sqlite:{}", other.ca().join("ledger.db").display());
    assert_refused(serve_refused(&pki, &foreign), "is not this CA's");
    // A fresh ledger file in its place too.
    for f in ledger_files(&pki.ca()) {
        let _ = std::fs::remove_file(f);
    }
    drop(SqliteStore::open(&pki.ca().join("ledger.db")).unwrap());
    assert_refused(serve_refused(&pki, "sqlite"), "is not this CA's");
}

#[test]
fn a_ca_that_never_served_starts_on_a_new_ledger_and_binds_it() {
    let pki = Pki::new();
    assert!(CaState::load(&pki.ca()).unwrap().is_none());
    serve(&pki, "sqlite").stop();
    let s = state(&pki);
    assert_eq!(s.ledger_id.len(), 16, "{s:?}");
    assert_eq!(s.issued, 1, "the service's own certificate: {s:?}");
    #[cfg(unix)]
    assert_eq!(mode(&pki.ca().join(STATE_FILE)) & 0o777, 0o600);
    assert_no_temp_files(&pki.ca());
    // The same ledger again: starts.
    serve(&pki, "sqlite").stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_from_a_backup_taken_before_a_revocation_keeps_crl_numbers_rising() {
    let pki = Pki::new();
    let admin = admin_identity(&pki);
    let server = serve(&pki, "sqlite");
    let c = client(&pki, &server.url);
    let node = enroll_node(&c, &admin).await;
    let before = crl(&c).await.number.unwrap();

    // An online backup, then a revocation the backup does not hold.
    let backup = pki.path("backup.db");
    let out = meshtls()
        .args(["--json", "admin", "backup", "--ca"])
        .arg(pki.ca())
        .arg("--out")
        .arg(&backup)
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["ledger_id"], state(&pki).ledger_id);
    assert_eq!(v["issued"], 2, "{v}"); // the service's certificate and the node's
    revoke(&c, &admin, &node).await;
    let revoked = crl(&c).await;
    let served_max = revoked.number.unwrap();
    assert!(served_max > before);
    let serial = meshtls_core::Serial::from_hex(&node).unwrap();
    assert!(revoked.lookup(&serial).unwrap().is_some());
    server.stop();
    assert!(state(&pki).highest_crl_number >= served_max);

    // The backup copied in place is older than the CA remembers: refused.
    for f in ledger_files(&pki.ca()) {
        let _ = std::fs::remove_file(f);
    }
    std::fs::copy(&backup, pki.ca().join("ledger.db")).unwrap();
    assert_refused(serve_refused(&pki, "sqlite"), "is older than this CA");

    // The explicit restore accepts it, says what it lacks, and numbers keep rising.
    let out = meshtls()
        .args(["admin", "restore", "--ca"])
        .arg(pki.ca())
        .arg("--from")
        .arg(&backup)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("0 certificates issued and 1 revocations made after the backup"),
        "{text}"
    );
    let server = serve(&pki, "sqlite");
    let c = client(&pki, &server.url);
    let after = crl(&c).await;
    assert!(
        after.number.unwrap() > served_max,
        "CRL number {} after the restore, {served_max} served before",
        after.number.unwrap()
    );
    // The revocation after the backup is gone with it: made again, the CRL has it.
    assert!(after.lookup(&serial).unwrap().is_none());
    revoke(&c, &admin, &node).await;
    let again = crl(&c).await;
    assert!(again.lookup(&serial).unwrap().is_some());
    assert!(again.number.unwrap() > after.number.unwrap());
    server.stop();

    // And across a plain restart.
    let highest = state(&pki).highest_crl_number;
    let server = serve(&pki, "sqlite");
    let n = crl(&client(&pki, &server.url)).await.number.unwrap();
    assert!(n > highest, "{n} after a restart, {highest} before");
}

#[test]
fn restore_refuses_another_cas_ledger_and_backup_never_overwrites() {
    let pki = served_once();
    let other = served_once();
    let backup = other.path("other.db");
    meshtls()
        .args(["admin", "backup", "--ca"])
        .arg(other.ca())
        .arg("--out")
        .arg(&backup)
        .assert()
        .success();
    // A second backup to the same file is refused; the first is intact.
    let a = meshtls()
        .args(["admin", "backup", "--ca"])
        .arg(other.ca())
        .arg("--out")
        .arg(&backup)
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    let a = meshtls()
        .args(["admin", "restore", "--ca"])
        .arg(pki.ca())
        .arg("--from")
        .arg(&backup)
        .assert()
        .code(2);
    assert_error_line(&a, "invalid_request");
    assert!(stderr(&a).contains("not a backup of this CA's ledger"));
    // No backup of a ledger that is not there.
    for f in ledger_files(&pki.ca()) {
        let _ = std::fs::remove_file(f);
    }
    let a = meshtls()
        .args(["admin", "backup", "--ca"])
        .arg(pki.ca())
        .arg("--out")
        .arg(pki.path("none.db"))
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    assert!(!pki.ca().join("ledger.db").exists());
}

#[test]
fn backup_of_a_postgres_ledger_prints_pg_dump_guidance() {
    let pki = Pki::new();
    let a = meshtls()
        .args([
            "admin",
            "backup",
            "--db",
            "postgres://ca@db/meshtls",
            "--ca",
        ])
        .arg(pki.ca())
        .arg("--out")
        .arg(pki.path("x"))
        .assert()
        .code(2);
    assert_error_line(&a, "unsupported");
    assert!(stderr(&a).contains("pg_dump"), "{}", stderr(&a));
}

#[test]
fn a_bad_revocation_record_stops_serve_at_start_with_file_and_line() {
    let pki = Pki::new();
    let records = pki.ca().join("revocations.txt");
    let text = std::fs::read_to_string(&records).unwrap();
    assert!(
        text.starts_with("# meshtls revocation records v1\n"),
        "{text:?}"
    );
    // Line 3: a time no CRL can carry (what used to pass start-up and break every CRL).
    std::fs::write(
        &records,
        "# meshtls revocation records v1\ncrl_number 0\n0a -9223372036854775808 key_compromise\n",
    )
    .unwrap();
    let a = serve_refused(&pki, "sqlite").code(2);
    assert_error_line(&a, "malformed");
    let err = stderr(&a);
    assert!(err.contains("revocations.txt"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("outside what a CRL can carry"), "{err}");
}

/// A node holding a CRL refuses the CRL of a service whose ledger was put back without its
/// guard (the CA directory's state file deleted, an old ledger copied in): lower numbers and
/// the same number with other content are refused and counted, the held CRL stays; a CRL
/// that moves forward is taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_a_crl_that_steps_back_after_an_unguarded_rollback() {
    use meshtls_enroll::{enroll, EnrollOptions};
    let pki = Pki::new();
    let admin = admin_identity(&pki);
    let server = serve(&pki, "sqlite");
    let c = client(&pki, &server.url);
    let body = br#"{"identity":"spiffe://mesh.internal/node/watcher"}"#.to_vec();
    let (_, bytes) = c
        .request(Method::POST, "/v1/tokens", Some(body), Some(&admin))
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut options = EnrollOptions::new(std::fs::read_to_string(pki.bundle()).unwrap());
    options.refresh_every = Duration::from_secs(3600); // refreshed by hand below
    let node = enroll(
        &server.url,
        v["token"].as_str().unwrap(),
        &SpiffeId::parse("spiffe://mesh.internal/node/watcher").unwrap(),
        options,
    )
    .await
    .unwrap();
    let held = |node: &meshtls_enroll::EnrolledIdentity| {
        let v = node.trust().current();
        let crl = v.bundle().crls().first().cloned().expect("a CRL is held");
        (crl.number.unwrap(), crl.der().to_vec())
    };
    let victim = enroll_node(&c, &admin).await;
    let victim_serial = meshtls_core::Serial::from_hex(&victim).unwrap();
    node.refresh_trust().await.unwrap();
    let backup = pki.path("backup.db");
    meshtls()
        .args(["admin", "backup", "--ca"])
        .arg(pki.ca())
        .arg("--out")
        .arg(&backup)
        .assert()
        .success();
    // Two revocations after the backup, both taken by the node.
    revoke(&c, &admin, &victim).await;
    node.refresh_trust().await.unwrap();
    let other = {
        let body = format!(r#"{{"identity":"{NODE}"}}"#).into_bytes();
        let (_, bytes) = c
            .request(Method::POST, "/v1/tokens", Some(body), Some(&admin))
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let csr = create_csr(
            &SpiffeId::parse(NODE).unwrap(),
            &[],
            KeyAlgorithm::EcdsaP256,
        )
        .unwrap();
        c.enroll_csr(v["token"].as_str().unwrap(), &csr.csr_pem)
            .await
            .unwrap()
            .serial
    };
    revoke(&c, &admin, &other).await;
    node.refresh_trust().await.unwrap();
    let (top, top_der) = held(&node);
    assert_eq!(node.stale_crl_refusals(), 0);
    let port = server.url.rsplit_once(':').unwrap().1.to_owned();
    server.stop();

    // The rollback, without the guard: the state file goes, the old ledger comes back.
    std::fs::remove_file(pki.ca().join(STATE_FILE)).unwrap();
    for f in ledger_files(&pki.ca()) {
        let _ = std::fs::remove_file(f);
    }
    std::fs::copy(&backup, pki.ca().join("ledger.db")).unwrap();
    let server = serve_at(&pki, "sqlite", &format!("127.0.0.1:{port}"));
    let c = client(&pki, &server.url);
    let served = crl(&c).await.number.unwrap();
    assert!(
        served < top,
        "the rolled-back service serves {served}, the node holds {top}"
    );

    // Lower: refused, counted, the held CRL (with the revocation) stays.
    let e = node.refresh_trust().await.unwrap_err();
    assert_eq!(e.code(), "stale_crl", "{e}");
    assert_eq!(node.stale_crl_refusals(), 1);
    assert_eq!(held(&node), (top, top_der.clone()));
    assert!(node.trust().current().bundle().crls()[0]
        .lookup(&victim_serial)
        .unwrap()
        .is_some());
    // The same number with other content: refused too.
    let mut n = served;
    while n < top {
        let fresh = enroll_node(&c, &admin).await;
        revoke(&c, &admin, &fresh).await;
        n = crl(&c).await.number.unwrap();
    }
    assert_eq!(n, top);
    let e = node.refresh_trust().await.unwrap_err();
    assert_eq!(e.code(), "stale_crl", "{e}");
    assert_eq!(node.stale_crl_refusals(), 2);
    assert_eq!(held(&node), (top, top_der));
    // A CRL that moves forward is taken.
    let fresh = enroll_node(&c, &admin).await;
    revoke(&c, &admin, &fresh).await;
    node.refresh_trust().await.unwrap();
    assert!(held(&node).0 > top);
    assert_eq!(node.stale_crl_refusals(), 2);
}

/// Two replicas of one CA (each its own CA directory, the same key) on one PostgreSQL ledger:
/// whichever replica builds the CRL, its number is above every number served before, and
/// both directories name the same ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_serve_one_rising_crl_number() {
    let Ok(url) = std::env::var("MESHTLS_TEST_PG_URL") else {
        eprintln!("SKIPPED: MESHTLS_TEST_PG_URL is unset (scripts/ci/postgres starts a server)");
        return;
    };
    let pki = Pki::new();
    let admin = admin_identity(&pki);
    // The second replica's CA directory: the same key and certificate, a state of its own.
    let replica = Pki {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::create_dir(replica.ca()).unwrap();
    for f in ["ca.crt", "ca.key", "revocations.txt"] {
        std::fs::copy(pki.ca().join(f), replica.ca().join(f)).unwrap();
    }
    let a = serve(&pki, &url);
    let b = serve(&replica, &url);
    let (ca, cb) = (client(&pki, &a.url), client(&pki, &b.url));
    let mut last = 0;
    for round in 0..3 {
        let (here, there) = if round % 2 == 0 {
            (&ca, &cb)
        } else {
            (&cb, &ca)
        };
        let serial = enroll_node(here, &admin).await;
        revoke(here, &admin, &serial).await;
        for c in [here, there] {
            let n = crl(c).await.number.unwrap();
            assert!(n > last, "round {round}: CRL number {n} after {last}");
            last = n;
        }
    }
    a.stop();
    b.stop();
    assert_eq!(state(&pki).ledger_id, state(&replica).ledger_id);
}
