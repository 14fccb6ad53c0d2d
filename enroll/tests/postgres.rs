//! The shared ledger on a real PostgreSQL server (`scripts/ci/postgres` starts one and
//! `scripts/ci/run` exports MESHTLS_TEST_PG_URL). Each test gets a fresh database.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::jwt::*;
use common::*;
use hyper::Method;
use meshtls_enroll::{enroll, EnrollError, PostgresStore, Store};

async fn connect(url: &str, connections: usize) -> Arc<dyn Store> {
    let url = url.to_owned();
    let store = tokio::task::spawn_blocking(move || PostgresStore::connect(&url, connections))
        .await
        .unwrap()
        .unwrap();
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enroll_renew_revoke_on_postgres() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let h = Harness::start(connect(&url, 4).await).await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, h.options()).await.unwrap();
    let e = enroll(&h.url, &token, &node_id, h.options())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "token_used");
    node.renew_now().await.unwrap();
    let serial = serial_of(&node.identity());
    h.revoke(&serial).await;
    let e = node.renew_now().await.unwrap_err();
    assert_eq!(e.code(), "revoked");
    let (_, body) = h.admin(Method::GET, "/v1/certs?revoked=false", None).await;
    // The first certificate and the service's own.
    assert_eq!(body["certs"].as_array().unwrap().len(), 2, "{body}");
    let (status, crl) = h.get("/v1/crl").await;
    assert_eq!(status, 200);
    let crl = meshtls_core::Crl::from_pem_or_der(&crl).unwrap();
    assert_eq!(crl.revoked_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_ledger_issue_concurrently() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let ca = Arc::new(CaMaterial::new());
    let a = Harness::start_with(ca.clone(), connect(&url, 4).await).await;
    let b = Harness::start_with(ca.clone(), connect(&url, 4).await).await;

    // 12 tokens, each raced by two nodes, one through each replica.
    const N: usize = 12;
    let mut tokens = Vec::new();
    for i in 0..N {
        tokens.push(a.token(&format!("spiffe://mesh.internal/node/n{i}")).await);
    }
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        for h in [&a, &b] {
            let (url, token, opts) = (h.url.clone(), token.clone(), h.options());
            let node_id = id(&format!("spiffe://mesh.internal/node/n{i}"));
            tasks.push(tokio::spawn(async move {
                let r = enroll(&url, &token, &node_id, opts).await;
                (i, r.map(|n| serial_of(&n.identity())))
            }));
        }
    }
    let mut winners = vec![0usize; N];
    let mut serials = HashSet::new();
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match r {
            Ok(serial) => {
                winners[i] += 1;
                assert!(serials.insert(serial), "duplicate serial handed out");
            }
            Err(EnrollError::Service { code, .. }) => assert_eq!(code, "token_used"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        winners,
        vec![1; N],
        "each token buys exactly one certificate"
    );

    // Both replicas see one ledger: every certificate handed out is in it, once.
    let (_, body) = b.admin(Method::GET, "/v1/certs", None).await;
    let ledger: Vec<String> = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "enroll")
        .map(|c| c["serial"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ledger.len(), N);
    assert_eq!(ledger.iter().cloned().collect::<HashSet<_>>(), serials);

    // A revocation through one replica shows in the other's CRL.
    let one = serials.iter().next().unwrap().clone();
    a.revoke(&one).await;
    let (_, crl) = b.get("/v1/crl").await;
    let crl = meshtls_core::Crl::from_pem_or_der(&crl).unwrap();
    assert!(crl
        .lookup(&meshtls_core::Serial::from_hex(&one).unwrap())
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_reconnects_after_the_database_drops_its_connections() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let h = Harness::start(connect(&url, 2).await).await;
    let (status, _) = h.get("/healthz").await;
    assert_eq!(status, 200);
    // What a database restart or failover does to the pool: every connection is cut.
    let u = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    })
    .await
    .unwrap();
    // Each cut connection may fail one request (503, never a crash), then it is replaced.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, _) = h.get("/healthz").await;
        statuses.push(status.as_u16());
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
    }
    eprintln!("healthz after the cut: {statuses:?}");
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    // And the service issues again.
    let node_id = id("spiffe://mesh.internal/service/api");
    let mut token = None;
    for _ in 0..4 {
        let body = serde_json::json!({"identity": node_id.to_string()});
        let (status, v) = h.admin(Method::POST, "/v1/tokens", Some(body)).await;
        if status == 201 {
            token = v["token"].as_str().map(str::to_owned);
            break;
        }
    }
    enroll(&h.url, &token.unwrap(), &node_id, h.options())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocation_counter_on_postgres() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let store = connect(&url, 1).await;
    tokio::task::spawn_blocking(move || {
        check_revocation_counter(&*store);
        // A ledger from before the counter: the next replica to start counts the revocations.
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let removed = admin
            .execute("DELETE FROM meshtls_meta WHERE key = 'revocations'", &[])
            .unwrap();
        assert_eq!(removed, 1);
        let replica = PostgresStore::connect(&url, 1).unwrap();
        assert_eq!(replica.revocation_count().unwrap(), 2);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_tokens_are_listed_and_revoked_on_postgres() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let h = Harness::start(connect(&url, 4).await).await;
    check_token_revocation(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_lineage_on_postgres() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let store = connect(&url, 1).await;
    tokio::task::spawn_blocking(move || {
        check_lineage(&*store);
        // A second replica starting on the same ledger keeps the schema as it is.
        let replica = PostgresStore::connect(&url, 1).unwrap();
        assert!(replica.cert("b3").unwrap().unwrap().revoked_at.is_some());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_concurrent_renewals_across_two_replicas_leave_one_live_successor() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let ca = Arc::new(CaMaterial::new());
    let a = Arc::new(Harness::start_with(ca.clone(), connect(&url, 4).await).await);
    let b = Arc::new(Harness::start_with(ca.clone(), connect(&url, 4).await).await);
    let (node, _) = a.enroll_node("spiffe://mesh.internal/service/api").await;
    let original = serial_of(&node);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let h = if i % 2 == 0 { a.clone() } else { b.clone() };
        let node = node.clone();
        tasks.push(tokio::spawn(async move { h.renew_node(&node).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let (_, body) = b.admin(Method::GET, "/v1/certs?revoked=false", None).await;
    let live: Vec<_> = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["previous_serial"] == original.as_str())
        .collect();
    assert_eq!(live.len(), 1, "{body}");
    // Key compromise of the original, through the other replica, takes the successor too.
    let successor = live[0]["serial"].as_str().unwrap().to_owned();
    let (status, body) = a
        .admin(
            Method::POST,
            "/v1/revoke",
            Some(serde_json::json!({"serial": original, "reason": "key_compromise"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["descendants_revoked"], serde_json::json!([successor]));
}

#[test]
fn the_postgres_ledger_keeps_jwt_keys_and_tokens() {
    let Some(url) = fresh_database() else {
        return;
    };
    check_store(&PostgresStore::connect(&url, 1).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jwt_svids_on_postgres() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let ca = Arc::new(CaMaterial::new());
    let h = Harness::start_configured(ca, connect(&url, 4).await, |c| {
        c.with_jwt(common::jwt::config())
    })
    .await;
    check_mint_and_validate(&h).await;
    check_refusals(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_sign_with_the_keys_they_all_publish() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let ca = Arc::new(CaMaterial::new());
    let a = Harness::start_configured(ca.clone(), connect(&url, 2).await, |c| {
        c.with_jwt(common::jwt::config())
    })
    .await;
    let b = Harness::start_configured(ca, connect(&url, 2).await, |c| {
        c.with_jwt(common::jwt::config())
    })
    .await;
    let (api, _) = a.enroll_node("spiffe://mesh.internal/service/api").await;
    let (s, body) = post_jwt(&a, Some(&api), serde_json::json!({"audience": ["orders"]})).await;
    assert_eq!(s, 201, "{body}");
    let (s, again) = post_jwt(&b, Some(&api), serde_json::json!({"audience": ["orders"]})).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(body["kid"], again["kid"], "one key for the trust domain");
    let from_b = bundle(&b).await;
    assert_eq!(from_b.jwt_keys().len(), 1);
    assert_eq!(from_b.jwt_keys()[0].kid(), body["kid"].as_str().unwrap());
}
