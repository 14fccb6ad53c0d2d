//! Enrollments per second through the whole service (TLS handshake, CSR check, issuance,
//! ledger commit) with the SQLite ledger and, when MESHTLS_TEST_PG_URL is set, PostgreSQL;
//! the time to rebuild the CRL with 100,000 revoked certificates; and what a node's trust
//! refresh costs with that CRL: downloaded and parsed, or answered `304 Not Modified`.
//!
//! `cargo bench -p meshtls-enroll --bench enroll` (env ENROLL_BENCH_N, default 400).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meshtls_core::{
    create_csr, Authority, CrlParams, IdPattern, KeyAlgorithm, RootParams, SpiffeId, Timestamp,
    TrustBundle, TrustDomain,
};
use meshtls_enroll::client::CaClient;
use meshtls_enroll::service::revocation_list;
use meshtls_enroll::store::{CertRecord, IssueKind, TokenRecord};
use meshtls_enroll::{token, CaService, ServiceConfig, SqliteStore, Store};

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(secs as i64)
}

fn authority() -> (Authority, String, String) {
    let td = TrustDomain::new("mesh.internal").unwrap();
    let ca = Authority::create_root(&RootParams::new(td), now()).unwrap();
    let (c, k) = (ca.certificate_pem(), ca.plaintext_key_pem().0);
    (ca, c, k)
}

async fn enroll_rate(name: &str, store: Arc<dyn Store>, n: usize, concurrency: usize) {
    let (_, cert, key) = authority();
    let ca = Authority::from_pem(cert.as_bytes(), key.as_bytes(), None).unwrap();
    let config = ServiceConfig::new(ca)
        .with_admin(IdPattern::parse("spiffe://mesh.internal/admin/ops").unwrap());
    let st = store.clone();
    let service = tokio::task::spawn_blocking(move || CaService::new(config, st))
        .await
        .unwrap()
        .unwrap();
    let bundle = TrustBundle::from_pem(service.bundle_pem().as_bytes()).unwrap();
    let running = service.bind("127.0.0.1:0").await.unwrap();
    let client = Arc::new(
        CaClient::new(
            &format!("https://localhost:{}", running.local_addr().port()),
            bundle,
            SpiffeId::ca_service(&TrustDomain::new("mesh.internal").unwrap()),
            Duration::from_secs(60),
        )
        .unwrap(),
    );
    // Tokens and CSRs up front: the measured part is the service. (block_in_place: the
    // PostgreSQL client blocks on its own runtime.)
    let work = tokio::task::block_in_place(|| {
        let mut work = Vec::new();
        let at = now().unix();
        for i in 0..n {
            let secret = token::mint().unwrap();
            let id = format!("spiffe://mesh.internal/node/{name}-{i}");
            store
                .add_token(&TokenRecord {
                    hash: token::hash(&secret),
                    pattern: id.clone(),
                    created_at: at,
                    expires_at: at + 3600,
                    created_by: "bench".into(),
                    dns_names: vec![],
                    used_at: None,
                    used_serial: None,
                })
                .unwrap();
            let csr =
                create_csr(&SpiffeId::parse(&id).unwrap(), &[], KeyAlgorithm::EcdsaP256).unwrap();
            work.push((secret, csr.csr_pem));
        }
        work
    });
    let work = Arc::new(std::sync::Mutex::new(work));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, work) = (client.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((t, csr)) = work.lock().unwrap().pop() else {
                    return;
                };
                client.enroll_csr(&t, &csr).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "enroll/{name}: {n} enrollments, {concurrency} concurrent clients: {:.0} enrollments/s ({:.2} ms each)",
        n as f64 / secs,
        secs * 1000.0 / n as f64
    );
    drop(running);
}

/// Fills a ledger with `revoked` revocations and times the CRL rebuild; returns the CA and
/// the ledger (with the directory that holds it) for [`crl_refresh`].
fn crl_rebuild(revoked: usize) -> (Authority, Arc<dyn Store>, tempfile::TempDir) {
    let (ca, _, _) = authority();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    let at = now().unix();
    let fill = Instant::now();
    for i in 0..revoked {
        let serial = format!("{:032x}", 0x1000_0000_0000_0000_u128 + i as u128);
        store
            .record_cert(&CertRecord {
                serial: serial.clone(),
                identity: format!("spiffe://mesh.internal/node/{i}"),
                not_before: at,
                not_after: at + 86_400,
                fingerprint: String::new(),
                kind: IssueKind::Enroll,
                issued_at: at,
                previous_serial: None,
                cert_pem: String::new(),
                revoked_at: None,
                revocation_reason: None,
                spki_sha256: None,
            })
            .unwrap();
        store.revoke(&serial, "key_compromise", at).unwrap();
    }
    println!(
        "crl: ledger of {revoked} revoked certificates filled in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    for _ in 0..3 {
        let start = Instant::now();
        let rows = store.revocations().unwrap();
        let read = start.elapsed();
        let list = revocation_list(&rows).unwrap();
        let crl = ca
            .build_crl(
                &list,
                &CrlParams::new(store.next_crl_number().unwrap(), now()),
            )
            .unwrap();
        let pem = crl.to_pem();
        println!(
            "crl: rebuild with {} revoked: {:.0} ms (ledger read {:.0} ms), {} KiB PEM",
            crl.revoked_count,
            start.elapsed().as_secs_f64() * 1000.0,
            read.as_secs_f64() * 1000.0,
            pem.len() / 1024
        );
    }
    (ca, Arc::new(store), dir)
}

/// A node's trust refresh against a service whose CRL is big: the first fetch (download and
/// parse into a trust bundle) and the later ones while it has not changed (`304`).
async fn crl_refresh(ca: Authority, store: Arc<dyn Store>) {
    let service =
        tokio::task::spawn_blocking(move || CaService::new(ServiceConfig::new(ca), store))
            .await
            .unwrap()
            .unwrap();
    let bundle = TrustBundle::from_pem(service.bundle_pem().as_bytes()).unwrap();
    let running = service.bind("127.0.0.1:0").await.unwrap();
    let client = CaClient::new(
        &format!("https://localhost:{}", running.local_addr().port()),
        bundle.clone(),
        SpiffeId::ca_service(&TrustDomain::new("mesh.internal").unwrap()),
        Duration::from_secs(60),
    )
    .unwrap();
    // The service builds and caches its CRL on the first request.
    client.get_pem("/v1/crl").await.unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let doc = client.get_pem_if_changed("/v1/crl", None).await.unwrap();
        let doc = doc.expect("a first fetch gets the CRL");
        let download = start.elapsed();
        let mut trust = bundle.clone();
        trust.add_crl(&doc.pem).unwrap();
        let full = start.elapsed();
        let start = Instant::now();
        let again = client
            .get_pem_if_changed("/v1/crl", Some(&doc))
            .await
            .unwrap();
        let unchanged = start.elapsed();
        assert!(
            again.is_none(),
            "the service answers 304 for an unchanged CRL"
        );
        println!(
            "crl: a node's refresh, {} KiB CRL: first {:.0} ms (download {:.0} ms, parse {:.0} ms); unchanged, 304: {:.1} ms",
            doc.pem.len() / 1024,
            full.as_secs_f64() * 1000.0,
            download.as_secs_f64() * 1000.0,
            (full - download).as_secs_f64() * 1000.0,
            unchanged.as_secs_f64() * 1000.0
        );
    }
    drop(running);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("ENROLL_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("ledger.db")).unwrap());
        enroll_rate("sqlite", sqlite, n, 16).await;
        match std::env::var("MESHTLS_TEST_PG_URL") {
            Ok(url) => {
                let store = tokio::task::spawn_blocking(move || {
                    meshtls_enroll::PostgresStore::connect(&url, 8)
                })
                .await
                .unwrap()
                .unwrap();
                enroll_rate("postgres", Arc::new(store), n, 16).await;
            }
            Err(_) => println!("enroll/postgres: skipped, MESHTLS_TEST_PG_URL is unset"),
        }
    });
    let (ca, store, _dir) = crl_rebuild(100_000);
    rt.block_on(crl_refresh(ca, store));
}
