//! Idempotent enrollment and renewal lineage against a real service on loopback (SQLite; the
//! PostgreSQL ledger runs the store-level lineage checks in `postgres.rs`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use hyper::{Method, StatusCode};
use meshtls_core::{create_csr, KeyAlgorithm};
use meshtls_enroll::{EnrollError, ServiceConfig, SqliteStore, Store};
use meshtls_net::IdentityHandle;

const NODE: &str = "spiffe://mesh.internal/service/api";

async fn service(configure: impl FnOnce(ServiceConfig) -> ServiceConfig) -> Harness {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    Harness::start_configured(Arc::new(CaMaterial::new()), store, configure).await
}

fn service_code(e: &EnrollError) -> (u16, String) {
    match e {
        EnrollError::Service { status, code, .. } => (*status, code.clone()),
        other => panic!("expected a service error, got {other}"),
    }
}

/// The live (unrevoked) certificates that renewed `serial`.
async fn live_successors(h: &Harness, serial: &str) -> Vec<String> {
    let (status, body) = h.admin(Method::GET, "/v1/certs?revoked=false", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["previous_serial"] == serial)
        .map(|c| c["serial"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_retried_enrollment_with_the_same_key_gets_the_same_certificate() {
    let h = service(|c| c).await;
    let token = h.token(NODE).await;
    let csr = create_csr(&id(NODE), &[], KeyAlgorithm::EcdsaP256).unwrap();
    let first = h.client().enroll_csr(&token, &csr.csr_pem).await.unwrap();
    // The answer was lost; the node asks again with the same token and key.
    let again = h.client().enroll_csr(&token, &csr.csr_pem).await.unwrap();
    assert_eq!(again.serial, first.serial);
    assert_eq!(again.chain_pem, first.chain_pem);
    // A CSR for the same identity with another key: the token is used.
    let other = create_csr(&id(NODE), &[], KeyAlgorithm::EcdsaP256).unwrap();
    let e = h
        .client()
        .enroll_csr(&token, &other.csr_pem)
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "token_used".to_owned()));
    // One enrollment in the ledger.
    let (_, body) = h.admin(Method::GET, "/v1/certs", None).await;
    let enrolled: Vec<_> = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "enroll")
        .collect();
    assert_eq!(enrolled.len(), 1, "{body}");
    // Once that certificate is revoked, the same key gets nothing either.
    h.revoke(&first.serial).await;
    let e = h
        .client()
        .enroll_csr(&token, &csr.csr_pem)
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "token_used".to_owned()));
}

#[tokio::test]
async fn six_concurrent_renewals_of_one_certificate_leave_one_live_successor() {
    let h = Arc::new(service(|c| c).await);
    let (node, _) = h.enroll_node(NODE).await;
    let original = serial_of(&node);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let h = h.clone();
        let node = node.clone();
        tasks.push(tokio::spawn(async move { h.renew_node(&node).await }));
    }
    let mut renewed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(identity) => renewed.push(serial_of(&identity)),
            Err(e) => panic!("a renewal within the grace period failed: {e}"),
        }
    }
    let live = live_successors(&h, &original).await;
    assert_eq!(live.len(), 1, "live successors: {live:?}");
    assert!(renewed.contains(&live[0]));
    // The others were superseded, and are in the CRL.
    let (_, body) = h.admin(Method::GET, "/v1/certs?revoked=true", None).await;
    let superseded = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["previous_serial"] == original.as_str())
        .inspect(|c| assert_eq!(c["revocation_reason"], "superseded"))
        .count();
    assert_eq!(superseded, 5, "{body}");
}

#[tokio::test]
async fn a_renewal_retried_with_the_same_key_gets_the_same_successor() {
    let h = service(|c| c).await;
    let (node, _) = h.enroll_node(NODE).await;
    let csr = create_csr(&id(NODE), &[], KeyAlgorithm::EcdsaP256).unwrap();
    let first = h.client().renew_csr(&node, &csr.csr_pem).await.unwrap();
    let again = h.client().renew_csr(&node, &csr.csr_pem).await.unwrap();
    assert_eq!(again.serial, first.serial);
    assert_eq!(
        live_successors(&h, &serial_of(&node)).await,
        vec![first.serial]
    );
}

#[tokio::test]
async fn a_renewed_certificate_renews_no_more_after_the_grace_period() {
    let h = service(|c| c.with_renew_grace(Duration::ZERO)).await;
    let (node, _) = h.enroll_node(NODE).await;
    let next = h.renew_node(&node).await.unwrap();
    let e = h.renew_node(&node).await.unwrap_err();
    assert_eq!(service_code(&e), (409, "already_renewed".to_owned()));
    // The successor renews as usual.
    h.renew_node(&next).await.unwrap();
    assert_eq!(live_successors(&h, &serial_of(&node)).await.len(), 1);
}

/// Enroll, then renew twice: the three generations of one lineage.
async fn three_generations(h: &Harness) -> [IdentityHandle; 3] {
    let (first, _) = h.enroll_node(NODE).await;
    let second = h.renew_node(&first).await.unwrap();
    let third = h.renew_node(&second).await.unwrap();
    [first, second, third]
}

#[tokio::test]
async fn key_compromise_revokes_every_descendant_and_stops_their_renewal() {
    let h = service(|c| c).await;
    let [first, second, third] = three_generations(&h).await;
    let (status, body) = h
        .revoke_as_json(&serial_of(&first), "key_compromise", false)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["newly_revoked"], true);
    let mut descendants: Vec<String> = body["descendants_revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    descendants.sort();
    let mut expected = vec![serial_of(&second), serial_of(&third)];
    expected.sort();
    assert_eq!(descendants, expected);
    let e = h.renew_node(&third).await.unwrap_err();
    assert_eq!(service_code(&e), (403, "revoked".to_owned()));
    // And the CRL names all three.
    let (_, crl) = h.get("/v1/crl").await;
    let crl = meshtls_core::Crl::from_pem_or_der(&crl).unwrap();
    for node in [&first, &second, &third] {
        let serial = meshtls_core::Serial::from_hex(&serial_of(node)).unwrap();
        assert!(crl.lookup(&serial).unwrap().is_some());
    }
}

#[tokio::test]
async fn a_descendant_of_a_revoked_certificate_cannot_renew() {
    let h = service(|c| c).await;
    let [first, second, _] = three_generations(&h).await;
    // Revoked for another reason and without lineage: its descendants stay valid...
    let (status, body) = h
        .revoke_as_json(&serial_of(&first), "superseded", false)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["descendants_revoked"], serde_json::json!([]));
    // ...but none of them renews any more.
    let fourth_try = h.renew_node(&second).await;
    // `second` already has a live successor (the third), younger than the grace period: the
    // refusal must be the revoked predecessor, not the lineage rule.
    let e = fourth_try.unwrap_err();
    assert_eq!(service_code(&e), (403, "revoked".to_owned()));
}

#[tokio::test]
async fn lineage_true_revokes_the_descendants_for_any_reason() {
    let h = service(|c| c).await;
    let [first, second, third] = three_generations(&h).await;
    let (status, body) = h
        .revoke_as_json(&serial_of(&second), "cessation_of_operation", true)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["descendants_revoked"],
        serde_json::json!([serial_of(&third)])
    );
    // The first generation is an ancestor, not a descendant: untouched.
    let (_, body) = h.admin(Method::GET, "/v1/certs?revoked=true", None).await;
    let revoked: Vec<&str> = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap())
        .collect();
    assert!(!revoked.contains(&serial_of(&first).as_str()));
    // An unknown reason is the core's invalid_request.
    let (status, body) = h.revoke_as_json(&serial_of(&first), "bored", false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
}
