//! JWT-SVIDs from the CA service (SQLite ledger): `POST /v1/jwt` over mTLS,
//! `GET /v1/bundle.jwks`, the ledger rows, rotation with overlap, rate limit and refusals.
//! `postgres.rs` runs the same checks on the shared ledger.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::jwt::*;
use common::*;
use meshtls_enroll::{SqliteStore, Store};

fn sqlite() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().unwrap())
}

async fn service() -> Harness {
    Harness::start_configured(Arc::new(CaMaterial::new()), sqlite(), |c| {
        c.with_jwt(config())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mints_bound_and_unbound_tokens_the_bundle_validates() {
    check_mint_and_validate(&service().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_what_it_must() {
    check_refusals(&service().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotates_keys_with_overlap() {
    check_rotation(&service().await).await;
}

#[test]
fn the_sqlite_ledger_keeps_keys_and_tokens() {
    check_store(&SqliteStore::in_memory().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minting_is_rate_limited_per_identity() {
    let h = Harness::start_configured(Arc::new(CaMaterial::new()), sqlite(), |c| {
        c.with_jwt(config().with_rate_limit(2, Duration::from_secs(60)))
    })
    .await;
    let (api, _) = h.enroll_node("spiffe://mesh.internal/service/api").await;
    let (web, _) = h.enroll_node("spiffe://mesh.internal/service/web").await;
    let body = || serde_json::json!({"audience": ["orders"]});
    for _ in 0..2 {
        assert_eq!(post_jwt(&h, Some(&api), body()).await.0.as_u16(), 201);
    }
    let (s, b) = post_jwt(&h, Some(&api), body()).await;
    assert_eq!(
        (s.as_u16(), b["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Another identity has its own allowance.
    assert_eq!(post_jwt(&h, Some(&web), body()).await.0.as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_jwt_settings_the_bundle_has_the_cas_only() {
    let h = Harness::start(sqlite()).await;
    let (api, _) = h.enroll_node("spiffe://mesh.internal/service/api").await;
    let (s, b) = post_jwt(&h, Some(&api), serde_json::json!({"audience": ["orders"]})).await;
    assert_eq!(
        (s.as_u16(), b["error"]["code"].as_str()),
        (404, Some("jwt_disabled"))
    );
    let b = bundle(&h).await;
    assert_eq!(b.x509_authorities().len(), 1);
    assert!(b.jwt_keys().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jwt_settings_refuse_to_start() {
    for bad in [
        config().with_rotation(Duration::from_secs(60)),
        config().with_max_ttl(Duration::from_secs(7200)),
        config().with_max_ttl(Duration::ZERO),
    ] {
        let ca = CaMaterial::new();
        let cfg = meshtls_enroll::ServiceConfig::new(ca.authority()).with_jwt(bad);
        let err =
            tokio::task::spawn_blocking(move || meshtls_enroll::CaService::new(cfg, sqlite()))
                .await
                .unwrap()
                .unwrap_err();
        assert!(err.to_string().starts_with("invalid_request"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_identity_keeps_its_tokens_fresh() {
    let h = service().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = meshtls_enroll::enroll(&h.url, &token, &node_id, h.options())
        .await
        .unwrap();
    let bound = node.jwt_source(vec!["orders".into()], Some(Duration::from_secs(600)), true);
    let first = bound.token().await.unwrap();
    assert_eq!(
        bound.token().await.unwrap(),
        first,
        "a fresh token is reused"
    );
    let b = bundle(&h).await;
    let td = meshtls_core::TrustDomain::new("mesh.internal").unwrap();
    let v = meshtls_core::jwt::JwtValidator::new(
        &b.with_trust_domain(td.clone()),
        meshtls_core::Policy::builder()
            .allow_trust_domain(td)
            .build()
            .unwrap(),
        ["orders"],
    )
    .unwrap();
    let leaf = |n: &meshtls_enroll::EnrolledIdentity| chain_of(&n.identity())[0].clone();
    v.validate(&first, Some(&leaf(&node)), now()).unwrap();
    // A renewal changes the certificate: the bound token follows it.
    let old_leaf = leaf(&node);
    node.renew_now().await.unwrap();
    let second = bound.token().await.unwrap();
    assert_ne!(second, first);
    v.validate(&second, Some(&leaf(&node)), now()).unwrap();
    assert_eq!(
        v.validate(&second, Some(&old_leaf), now())
            .unwrap_err()
            .code(),
        meshtls_core::ErrorCode::TokenBinding
    );
    // Past two thirds of its lifetime a token is replaced.
    let short = node.jwt_source(vec!["orders".into()], Some(Duration::from_secs(3)), false);
    let a = short.fresh().await.unwrap();
    assert_eq!(short.fresh().await.unwrap().jti, a.jti);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_ne!(short.fresh().await.unwrap().jti, a.jti);
}
