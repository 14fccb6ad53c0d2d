//! The core decides every enrollment against a real service on loopback: the join token's
//! grant, the reserved identities (the service's own, the administrators'), and the issuance
//! policy on the CSR, whose refusals leave the token usable.

mod common;

use std::sync::Arc;

use common::*;
use hyper::{Method, StatusCode};
use meshtls_core::{create_csr, IdPattern, KeyAlgorithm};
use meshtls_enroll::{EnrollError, SqliteStore, Store};
use meshtls_net::{Identity, IdentityHandle};

const OPS_TEAM: &str = "spiffe://mesh.internal/ops/**";

/// A service with two administrator entries: the harness's exact ID and a pattern.
async fn service() -> Harness {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    Harness::start_configured(Arc::new(CaMaterial::new()), store, |c| {
        c.with_admin(IdPattern::parse(OPS_TEAM).unwrap())
    })
    .await
}

fn service_code(e: &EnrollError) -> (u16, String) {
    match e {
        EnrollError::Service { status, code, .. } => (*status, code.clone()),
        other => panic!("expected a service error, got {other}"),
    }
}

fn fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/requests/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn a_trust_domain_token_cannot_enroll_the_service_or_an_administrator() {
    let h = service().await;
    let token = h.token("spiffe://mesh.internal").await;
    for reserved in [
        "spiffe://mesh.internal/meshtls/ca",
        ADMIN,
        "spiffe://mesh.internal/ops/team/alice",
    ] {
        let csr = create_csr(&id(reserved), &[], KeyAlgorithm::EcdsaP256).unwrap();
        let e = h
            .client()
            .enroll_csr(&token, &csr.csr_pem)
            .await
            .unwrap_err();
        assert_eq!(
            service_code(&e),
            (403, "not_authorized".to_owned()),
            "{reserved}: {e}"
        );
    }
    // The token was not used up: an ordinary member of the trust domain enrolls with it...
    let member = "spiffe://mesh.internal/service/api";
    let csr = create_csr(&id(member), &[], KeyAlgorithm::EcdsaP256).unwrap();
    let issued = h.client().enroll_csr(&token, &csr.csr_pem).await.unwrap();
    assert_eq!(issued.identity, member);
    // ...and what it got cannot act as an administrator.
    let node = IdentityHandle::new(
        Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes()).unwrap(),
    );
    let c = h.client();
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/tokens",
            Some(br#"{"identity":"spiffe://mesh.internal/admin/x"}"#.to_vec()),
        ),
        (Method::GET, "/v1/certs", None),
        (Method::GET, "/v1/tokens", None),
        (
            Method::POST,
            "/v1/revoke",
            Some(format!(r#"{{"serial":"{}"}}"#, issued.serial).into_bytes()),
        ),
    ] {
        let (status, answer) = c
            .request(method.clone(), path, body, Some(&node))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer:?}");
        let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(v["error"]["code"], "not_admin", "{method} {path}");
    }
}

#[tokio::test]
async fn weak_csrs_are_refused_with_the_core_code_and_the_token_stays_usable() {
    let h = service().await;
    // The fixtures name spiffe://mesh.internal/service/api.
    let token = h.token("spiffe://mesh.internal/service/api").await;
    for (csr, code) in [
        ("rsa-1024.csr.pem", "weak_key"),
        ("rsa-sha1.csr.pem", "weak_signature"),
        ("rsa-1024-sha1.csr.pem", "weak_signature"),
        ("p521.csr.pem", "unsupported"),
    ] {
        let e = h
            .client()
            .enroll_csr(&token, &fixture(csr))
            .await
            .unwrap_err();
        assert_eq!(service_code(&e), (400, code.to_owned()), "{csr}: {e}");
    }
    let issued = h
        .client()
        .enroll_csr(&token, &fixture("p256.csr.pem"))
        .await
        .unwrap();
    assert_eq!(issued.identity, "spiffe://mesh.internal/service/api");
}

#[tokio::test]
async fn a_token_grants_only_its_dns_names_and_refuses_bad_ones_when_minted() {
    let h = service().await;
    let (status, body) = h
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(serde_json::json!({
                "identity": "spiffe://mesh.internal/service/api",
                "dns_names": ["bad name.example"]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
    let (status, body) = h
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(serde_json::json!({
                "identity": "spiffe://mesh.internal/service/api",
                "dns_names": ["API.Mesh.Internal"]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap();
    let node = id("spiffe://mesh.internal/service/api");
    let other = create_csr(
        &node,
        &["db.mesh.internal".to_owned()],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let e = h
        .client()
        .enroll_csr(token, &other.csr_pem)
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "not_authorized".to_owned()));
    let granted = create_csr(
        &node,
        &["api.mesh.internal".to_owned()],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    h.client()
        .enroll_csr(token, &granted.csr_pem)
        .await
        .unwrap();
}
