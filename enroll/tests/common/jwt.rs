//! JWT-SVID checks shared by the SQLite and PostgreSQL suites.

use std::time::Duration;

use hyper::{Method, StatusCode};
use meshtls_core::jwt::{JwtAlgorithm, JwtSigningKey, JwtValidator, SpiffeBundle};
use meshtls_core::{ErrorCode, IdPattern, Policy};
use meshtls_enroll::api::JwtRequest;
use meshtls_enroll::service::JwtConfig;
use meshtls_enroll::store::{JwtKeyRecord, JwtRecord, Store};
use meshtls_net::IdentityHandle;

use super::{chain_of, now, serial_of, Harness};

pub const PASSPHRASE: &str = "jwt test passphrase";

/// The JWT settings of the test services.
pub fn config() -> JwtConfig {
    JwtConfig::new(PASSPHRASE).with_max_ttl(Duration::from_secs(600))
}

/// A JWT request as `identity`: status and JSON body.
pub async fn post_jwt(
    h: &Harness,
    identity: Option<&IdentityHandle>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let (status, bytes) = h
        .client()
        .request(
            Method::POST,
            "/v1/jwt",
            Some(serde_json::to_vec(&body).unwrap()),
            identity,
        )
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// The service's SPIFFE bundle, parsed by the core.
pub async fn bundle(h: &Harness) -> SpiffeBundle {
    let text = h.client().bundle_jwks().await.unwrap();
    SpiffeBundle::parse(&text).unwrap()
}

fn validator(bundle: &SpiffeBundle) -> JwtValidator {
    let policy = Policy::builder()
        .allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*").unwrap())
        .build()
        .unwrap();
    let td = meshtls_core::TrustDomain::new("mesh.internal").unwrap();
    JwtValidator::new(&bundle.clone().with_trust_domain(td), policy, ["orders"]).unwrap()
}

/// Mint over mTLS, bound and unbound; the bundle validates them; a bound token fails with
/// another certificate; the ledger holds jti, sub, aud, exp.
pub async fn check_mint_and_validate(h: &Harness) {
    let (api, _) = h.enroll_node("spiffe://mesh.internal/service/api").await;
    let (web, _) = h.enroll_node("spiffe://mesh.internal/service/web").await;
    let minted = h
        .client()
        .mint_jwt(
            &api,
            &JwtRequest {
                audience: vec!["orders".into()],
                ttl_seconds: Some(120),
                bind: true,
            },
        )
        .await
        .unwrap();
    assert!(minted.bound);
    assert_eq!(minted.subject, "spiffe://mesh.internal/service/api");
    assert_eq!(minted.expires_at - minted.issued_at, 120);
    let b = bundle(h).await;
    assert_eq!(b.x509_authorities().len(), 1);
    assert!(b.jwt_keys().iter().any(|k| k.kid() == minted.kid));
    assert!(b.sequence().unwrap() >= 1);
    assert_eq!(b.refresh_hint(), Some(Duration::from_secs(300)));
    let v = validator(&b);
    let api_leaf = chain_of(&api)[0].clone();
    let web_leaf = chain_of(&web)[0].clone();
    let claims = v.validate(&minted.token, Some(&api_leaf), now()).unwrap();
    assert_eq!(claims.subject.to_string(), minted.subject);
    assert_eq!(
        v.validate(&minted.token, Some(&web_leaf), now())
            .unwrap_err()
            .code(),
        ErrorCode::TokenBinding
    );
    // Unbound, two audiences, default lifetime (5 minutes).
    let (status, body) = post_jwt(
        h,
        Some(&web),
        serde_json::json!({"audience": ["orders", "billing"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["bound"], false);
    assert_eq!(
        body["expires_at"].as_i64().unwrap() - body["issued_at"].as_i64().unwrap(),
        300
    );
    let claims = v
        .validate(body["token"].as_str().unwrap(), None, now())
        .unwrap();
    assert_eq!(claims.audience, ["orders", "billing"]);
    let store = h.store.clone();
    let rows: Vec<JwtRecord> = tokio::task::spawn_blocking(move || store.jwts(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows.len(), 2);
    let first = rows.iter().find(|r| r.jti == minted.jti).unwrap();
    assert_eq!(first.subject, "spiffe://mesh.internal/service/api");
    assert_eq!(first.audience, ["orders"]);
    assert_eq!(first.expires_at, minted.expires_at);
    assert_eq!(first.serial, serial_of(&api));
    assert!(first.bound_thumbprint.is_some());
}

/// What `POST /v1/jwt` refuses, with its status and code.
pub async fn check_refusals(h: &Harness) {
    let (api, _) = h.enroll_node("spiffe://mesh.internal/service/api").await;
    let cases = [
        (
            None,
            serde_json::json!({"audience": ["orders"]}),
            401,
            "client_certificate_required",
        ),
        (
            Some(&api),
            serde_json::json!({"audience": []}),
            400,
            "invalid_request",
        ),
        (
            Some(&api),
            serde_json::json!({"audience": [""]}),
            400,
            "invalid_request",
        ),
        (
            Some(&api),
            serde_json::json!({"audience": ["orders"], "ttl_seconds": 601}),
            400,
            "invalid_request",
        ),
        (
            Some(&api),
            serde_json::json!({"audience": ["orders"], "ttl_seconds": 0}),
            400,
            "invalid_request",
        ),
        (
            Some(&api),
            serde_json::json!({"audience": "orders"}),
            400,
            "malformed",
        ),
        (
            Some(&api),
            serde_json::json!({"audience": ["orders"], "sub": "spiffe://mesh.internal/admin/ops"}),
            400,
            "malformed",
        ),
    ];
    for (i, (who, body, status, code)) in cases.into_iter().enumerate() {
        let (s, b) = post_jwt(h, who, body).await;
        assert_eq!(
            (s.as_u16(), b["error"]["code"].as_str()),
            (status, Some(code)),
            "case {i}: {b}"
        );
    }
    // A revoked certificate mints nothing.
    h.revoke(&serial_of(&api)).await;
    let (s, b) = post_jwt(h, Some(&api), serde_json::json!({"audience": ["orders"]})).await;
    assert_eq!(
        (s.as_u16(), b["error"]["code"].as_str()),
        (403, Some("revoked"))
    );
}

/// The store's JWT rows: keys filtered by retirement, oldest first, a duplicate kid ignored;
/// minted tokens newest first.
pub fn check_store(store: &dyn Store) {
    let key = |kid: &str, created: i64, retire: i64| JwtKeyRecord {
        kid: kid.into(),
        algorithm: "ES256".into(),
        key_pem: format!("pem of {kid}"),
        created_at: created,
        retire_at: retire,
    };
    store.add_jwt_key(&key("b", 200, 1000)).unwrap();
    store.add_jwt_key(&key("a", 100, 500)).unwrap();
    store.add_jwt_key(&key("a", 300, 9000)).unwrap();
    let kids = |now| -> Vec<String> {
        store
            .jwt_keys(now)
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect()
    };
    assert_eq!(kids(0), ["a", "b"]);
    assert_eq!(store.jwt_keys(0).unwrap()[0], key("a", 100, 500));
    assert_eq!(kids(500), ["b"]);
    assert_eq!(kids(1000), Vec::<String>::new());
    assert_eq!(store.jwt_key_count().unwrap(), 2);
    let jwt = |jti: &str, at: i64| JwtRecord {
        jti: jti.into(),
        subject: "spiffe://mesh.internal/service/api".into(),
        audience: vec!["orders".into(), "billing".into()],
        issued_at: at,
        expires_at: at + 300,
        kid: "a".into(),
        serial: "01".into(),
        bound_thumbprint: (jti == "one").then(|| "thumb".into()),
    };
    store.record_jwt(&jwt("one", 10)).unwrap();
    store.record_jwt(&jwt("two", 20)).unwrap();
    assert!(
        store.record_jwt(&jwt("two", 30)).is_err(),
        "a jti is recorded once"
    );
    assert_eq!(store.jwts(10).unwrap(), [jwt("two", 20), jwt("one", 10)]);
    assert_eq!(store.jwts(1).unwrap(), [jwt("two", 20)]);
}

/// Rotation with overlap: a key due for replacement stays the signer while its successor is
/// published ahead, and both are in the bundle.
pub async fn check_rotation(h: &Harness) {
    let old = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let created = now().unix() - 24 * 3600 + 60;
    let record = JwtKeyRecord {
        kid: old.kid().into(),
        algorithm: "ES256".into(),
        key_pem: old.encrypted_pem(PASSPHRASE).unwrap().0,
        created_at: created,
        retire_at: created + 24 * 3600 + 600 + 300,
    };
    let store = h.store.clone();
    tokio::task::spawn_blocking(move || store.add_jwt_key(&record))
        .await
        .unwrap()
        .unwrap();
    let (api, _) = h.enroll_node("spiffe://mesh.internal/service/api").await;
    let (s, body) = post_jwt(h, Some(&api), serde_json::json!({"audience": ["orders"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["kid"],
        old.kid(),
        "the old key signs until its successor is published long enough"
    );
    let b = bundle(h).await;
    let kids: Vec<&str> = b.jwt_keys().iter().map(|k| k.kid()).collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert_eq!(kids[0], old.kid());
    assert_eq!(b.sequence(), Some(2));
    validator(&b)
        .validate(body["token"].as_str().unwrap(), None, now())
        .unwrap();
}
