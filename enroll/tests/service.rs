//! The CA service over real TLS on loopback with the SQLite ledger: the happy path with the
//! Rust client, and a negative test for every rule.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use hyper::{Method, StatusCode};
use meshtls_core::{create_csr, Crl, IssueRequest, KeyAlgorithm, PeerUsage, Serial, TrustBundle};
use meshtls_enroll::client::CertFilter;
use meshtls_enroll::store::TokenRecord;
use meshtls_enroll::{enroll, token, EnrollError, SqliteStore, Store};
use meshtls_net::{Identity, IdentityHandle};
use tokio::io::AsyncWriteExt;

async fn sqlite() -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("ledger.db")).unwrap());
    (Harness::start(store).await, dir)
}

fn service_code(e: &EnrollError) -> (u16, String) {
    match e {
        EnrollError::Service { status, code, .. } => (*status, code.clone()),
        other => panic!("expected a service error, got {other}"),
    }
}

#[tokio::test]
async fn enroll_renew_and_fetch_trust() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, h.options()).await.unwrap();

    let leaf = node.identity().current().leaf().unwrap();
    assert_eq!(leaf.spiffe_id.as_ref(), Some(&node_id));
    // The chain verifies under the node's refreshed trust, which carries the CRL.
    let trust = node.trust().current();
    assert_eq!(trust.bundle().crls().len(), 1);
    let chain = chain_of(&node.identity());
    trust.verify(&chain, PeerUsage::Client, now()).unwrap();

    let first = serial_of(&node.identity());
    node.renew_now().await.unwrap();
    let second = serial_of(&node.identity());
    assert_ne!(first, second);

    // The ledger has both, the renewal pointing at the certificate that authenticated it.
    let filter = CertFilter {
        identity: Some(node_id.clone()),
        ..CertFilter::default()
    };
    let certs = h
        .client()
        .list_certs(&h.admin, &filter)
        .await
        .unwrap()
        .certs;
    assert_eq!(certs.len(), 2, "{certs:?}");
    let renewal = certs.iter().find(|c| c.kind == "renew").unwrap();
    assert_eq!(renewal.serial, second);
    assert_eq!(renewal.previous_serial.as_deref(), Some(first.as_str()));
    // The admin calls are the admin's only.
    let other = CertFilter::default();
    let e = h
        .client()
        .list_certs(&node.identity(), &other)
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "not_admin".to_owned()));

    let (status, metrics) = h.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("meshtls_ca_issued_total 1"), "{metrics}");
    assert!(metrics.contains("meshtls_ca_renewed_total 1"), "{metrics}");
    assert!(
        metrics.contains("meshtls_ca_earliest_expiry_seconds "),
        "{metrics}"
    );

    let (status, body) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, br#"{"status":"ok"}"#);
}

#[tokio::test]
async fn the_node_key_never_leaves_the_node() {
    // The enroll request carries a CSR only; the answer carries no key.
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let csr = create_csr(&node_id, &[], KeyAlgorithm::EcdsaP256).unwrap();
    let issued = h.client().enroll_csr(&token, &csr.csr_pem).await.unwrap();
    let answer = serde_json::to_string(&issued).unwrap();
    assert!(!answer.contains("PRIVATE KEY"));
    Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes()).unwrap();
}

#[tokio::test]
async fn a_token_is_used_once() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    enroll(&h.url, &token, &node_id, h.options()).await.unwrap();
    let e = enroll(&h.url, &token, &node_id, h.options())
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "token_used".to_owned()));
    let e = enroll(&h.url, "00".repeat(32).as_str(), &node_id, h.options())
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (401, "token_invalid".to_owned()));
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (h, _dir) = sqlite().await;
    let secret = token::mint().unwrap();
    let at = now().unix();
    h.store
        .add_token(&TokenRecord {
            hash: token::hash(&secret),
            pattern: "spiffe://mesh.internal/service/api".to_owned(),
            created_at: at - 7200,
            expires_at: at - 3600,
            created_by: ADMIN.to_owned(),
            dns_names: vec![],
            used_at: None,
            used_serial: None,
        })
        .unwrap();
    let e = enroll(
        &h.url,
        &secret,
        &id("spiffe://mesh.internal/service/api"),
        h.options(),
    )
    .await
    .unwrap_err();
    assert_eq!(service_code(&e), (403, "token_expired".to_owned()));
}

#[tokio::test]
async fn a_token_for_another_identity_is_refused_and_not_burned() {
    let (h, _dir) = sqlite().await;
    let token = h.token("spiffe://mesh.internal/service/api").await;
    let e = enroll(
        &h.url,
        &token,
        &id("spiffe://mesh.internal/service/web"),
        h.options(),
    )
    .await
    .unwrap_err();
    assert_eq!(service_code(&e), (403, "not_authorized".to_owned()));
    // DNS names the token does not grant are refused too.
    let mut opts = h.options();
    opts.dns_names = vec!["ca.mesh.internal".to_owned()];
    let e = enroll(
        &h.url,
        &token,
        &id("spiffe://mesh.internal/service/api"),
        opts,
    )
    .await
    .unwrap_err();
    assert_eq!(service_code(&e), (403, "not_authorized".to_owned()));
    // The rightful node can still use it.
    enroll(
        &h.url,
        &token,
        &id("spiffe://mesh.internal/service/api"),
        h.options(),
    )
    .await
    .unwrap();

    // The service's own identity is never handed out, whatever the token allows.
    let token = h.token("spiffe://mesh.internal").await;
    let e = enroll(
        &h.url,
        &token,
        &id("spiffe://mesh.internal/meshtls/ca"),
        h.options(),
    )
    .await
    .unwrap_err();
    assert_eq!(service_code(&e), (403, "not_authorized".to_owned()));

    // A pattern token enrolls any matching identity, once.
    let token = h.token("spiffe://mesh.internal/worker/*").await;
    enroll(
        &h.url,
        &token,
        &id("spiffe://mesh.internal/worker/w7"),
        h.options(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_revoked_certificate_cannot_renew_and_is_in_the_crl() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, h.options()).await.unwrap();
    let (_, crl_before) = h.get("/v1/crl").await;
    let serial = serial_of(&node.identity());
    h.revoke(&serial).await;

    let e = node.renew_now().await.unwrap_err();
    assert_eq!(service_code(&e), (403, "revoked".to_owned()));
    assert_eq!(e.error_code(), Some(meshtls_core::ErrorCode::Revoked));

    let (status, crl_after) = h.get("/v1/crl").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(crl_before, crl_after, "the CRL is rebuilt on revocation");
    let crl = Crl::from_pem_or_der(&crl_after).unwrap();
    assert!(crl
        .lookup(&Serial::from_hex(&serial).unwrap())
        .unwrap()
        .is_some());
    // Cached: the same bytes until the next revocation.
    let (_, again) = h.get("/v1/crl").await;
    assert_eq!(again, crl_after);

    // The node's trust picks the CRL up on refresh, so peers reject the revoked cert.
    node.refresh_trust().await.unwrap();
    let chain = chain_of(&node.identity());
    let err = node
        .trust()
        .current()
        .verify(&chain, PeerUsage::Client, now())
        .unwrap_err();
    assert_eq!(err.code().as_str(), "revoked");

    // The inventory filters.
    let (_, body) = h.admin(Method::GET, "/v1/certs?revoked=true", None).await;
    let revoked = body["certs"].as_array().unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["serial"], serial.as_str());
    let (_, body) = h
        .admin(
            Method::GET,
            &format!("/v1/certs?expiring_before={}", now().unix()),
            None,
        )
        .await;
    assert_eq!(body["certs"].as_array().unwrap().len(), 0);
    let (status, body) = h.admin(Method::GET, "/v1/certs?colour=blue", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Revoking an unknown serial is a 404, twice is not an error.
    let (status, _) = h
        .admin(
            Method::POST,
            "/v1/revoke",
            Some(serde_json::json!({"serial": "0abc"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = h
        .admin(
            Method::POST,
            "/v1/revoke",
            Some(serde_json::json!({"serial": serial})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["newly_revoked"], false);
}

#[tokio::test]
async fn an_expired_certificate_cannot_renew() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    // Issued two hours ago for one minute, and recorded in the ledger as if enrolled.
    let issued =
        h.ca.authority()
            .issue(
                &IssueRequest::new(node_id.clone()).with_lifetime(Duration::from_secs(60)),
                now().sub(Duration::from_secs(7200)),
            )
            .unwrap();
    let identity = IdentityHandle::new(Identity::from_issued(&issued).unwrap());
    let csr = create_csr(&node_id, &[], KeyAlgorithm::EcdsaP256).unwrap();
    let e = h
        .client()
        .renew_csr(&identity, &csr.csr_pem)
        .await
        .unwrap_err();
    // The service's core refuses it in the TLS handshake, with a certificate_expired alert
    // that the client turns back into the core's code.
    match &e {
        EnrollError::Core(core) => assert_eq!(core.code(), meshtls_core::ErrorCode::Expired),
        other => panic!("expected the core's expired, got {other}"),
    }
    assert_eq!(e.error_code(), Some(meshtls_core::ErrorCode::Expired));
    let (status, _) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn renewal_needs_a_certificate_of_the_same_identity_from_the_ledger() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, h.options()).await.unwrap();
    // CSR for another identity.
    let other = create_csr(
        &id("spiffe://mesh.internal/service/web"),
        &[],
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let e = h
        .client()
        .renew_csr(&node.identity(), &other.csr_pem)
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "not_authorized".to_owned()));
    // A garbage CSR.
    let e = h
        .client()
        .renew_csr(&node.identity(), "not a csr")
        .await
        .unwrap_err();
    assert_eq!(service_code(&e).0, 400);
    // No client certificate.
    let (status, body) = h
        .client()
        .request(
            Method::POST,
            "/v1/renew",
            Some(br#"{"csr":"x"}"#.to_vec()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:?}");
    // A certificate the CA issued outside the service (not in the ledger).
    let offline =
        h.ca.authority()
            .issue(&IssueRequest::new(node_id.clone()), now())
            .unwrap();
    let offline = IdentityHandle::new(Identity::from_issued(&offline).unwrap());
    let csr = create_csr(&node_id, &[], KeyAlgorithm::EcdsaP256).unwrap();
    let e = h
        .client()
        .renew_csr(&offline, &csr.csr_pem)
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), (403, "unknown_certificate".to_owned()));
}

#[tokio::test]
async fn admin_endpoints_need_an_admin_certificate() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, h.options()).await.unwrap();
    let body = br#"{"identity":"spiffe://mesh.internal/service/x"}"#.to_vec();
    let (status, _) = h
        .client()
        .request(
            Method::POST,
            "/v1/tokens",
            Some(body.clone()),
            Some(&node.identity()),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .client()
        .request(Method::POST, "/v1/tokens", Some(body), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .client()
        .request(Method::GET, "/v1/certs", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A token for another trust domain, or with a silly TTL, is refused.
    let (status, _) = h
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(serde_json::json!({"identity": "spiffe://other.internal/a"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(serde_json::json!({"identity": "spiffe://mesh.internal/a", "ttl_seconds": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn garbage_and_oversized_requests_get_a_clear_4xx() {
    let (h, _dir) = sqlite().await;
    let c = h.client();
    let cases: Vec<(Method, &str, Vec<u8>, StatusCode, &str)> = vec![
        (Method::POST, "/v1/enroll", b"not json".to_vec(), StatusCode::BAD_REQUEST, "malformed"),
        (Method::POST, "/v1/enroll", b"{}".to_vec(), StatusCode::BAD_REQUEST, "malformed"),
        (
            Method::POST,
            "/v1/enroll",
            br#"{"token":"x","csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (Method::POST, "/v1/enroll", vec![0xff; 300], StatusCode::BAD_REQUEST, "malformed"),
        (
            Method::POST,
            "/v1/enroll",
            // Over the harness's 16 KiB limit, small enough to be sent whole before the answer.
            vec![b'a'; 24 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (Method::GET, "/v1/enroll", vec![], StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (Method::GET, "/nope", vec![], StatusCode::NOT_FOUND, "not_found"),
    ];
    for (method, path, body, want, code) in cases {
        let (status, bytes) = c
            .request(method.clone(), path, Some(body), None)
            .await
            .unwrap();
        assert_eq!(status, want, "{method} {path}: {bytes:?}");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
    }
    // A 4 MiB body: 413, or the connection is closed under the client's feet while it is
    // still sending (the service does not read what it will refuse); either way no crash.
    match c
        .request(Method::POST, "/v1/enroll", Some(vec![b'a'; 4 << 20]), None)
        .await
    {
        Ok((status, _)) => assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(matches!(e, EnrollError::Transport(_)), "{e}"),
    }
    // Raw garbage instead of TLS, and a connection that says nothing.
    let mut raw = tokio::net::TcpStream::connect(h.running.local_addr())
        .await
        .unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n\x00\x01garbage")
        .await
        .unwrap();
    let _idle = tokio::net::TcpStream::connect(h.running.local_addr())
        .await
        .unwrap();
    // Still serving.
    let (status, _) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, bundle) = h.get("/v1/bundle").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(TrustBundle::from_pem(&bundle).unwrap().len(), 1);
    let (_, metrics) = h.get("/metrics").await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("meshtls_ca_enroll_failures_total{reason=\"malformed\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn two_concurrent_enrollments_with_one_token_exactly_one_wins() {
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (url, token, node_id, opts) =
            (h.url.clone(), token.clone(), node_id.clone(), h.options());
        tasks.push(tokio::spawn(async move {
            enroll(&url, &token, &node_id, opts)
                .await
                .map(|n| serial_of(&n.identity()))
        }));
    }
    let mut won = Vec::new();
    let mut lost = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(serial) => won.push(serial),
            Err(e) => {
                assert_eq!(service_code(&e), (403, "token_used".to_owned()));
                lost += 1;
            }
        }
    }
    assert_eq!(won.len(), 1);
    assert_eq!(lost, 7);
    let (_, body) = h.admin(Method::GET, "/v1/certs", None).await;
    let enrolled: Vec<_> = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "enroll")
        .collect();
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0]["serial"], won[0].as_str());
}

#[tokio::test]
async fn the_rotation_driver_renews_through_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("ledger.db")).unwrap());
    // Leaves of 60 s (+60 s backdating): at 55% of 120 s renewal is due ~6 s after issuance.
    let h = Harness::start_full(Arc::new(CaMaterial::new()), store, Duration::from_secs(60)).await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let mut opts = h.options();
    opts.rotation = meshtls_core::RotationPolicy::at_fraction(0.55)
        .unwrap()
        .with_jitter(0.0)
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    opts.on_rotation = Some(Arc::new(move |e| {
        let _ = tx.send(e);
    }));
    let node = enroll(&h.url, &token, &node_id, opts).await.unwrap();
    let first = serial_of(&node.identity());
    let renewed = tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            match rx.recv().await {
                Some(meshtls_net::RotationEvent::Renewed { serial, .. }) => return serial.to_hex(),
                Some(meshtls_net::RotationEvent::Failed { message, .. }) => {
                    panic!("renewal failed: {message}")
                }
                Some(_) => continue,
                None => panic!("the driver stopped"),
            }
        }
    })
    .await
    .expect("the driver renewed within 40 s");
    assert_eq!(serial_of(&node.identity()), renewed);
    let (_, body) = h.admin(Method::GET, "/v1/certs", None).await;
    let row = body["certs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["serial"] == renewed.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["kind"], "renew");
    assert_eq!(row["previous_serial"], first.as_str());
}

/// A service of `config` on loopback, and a client trusting `ca_pem` to reach it.
async fn start_service(
    config: meshtls_enroll::ServiceConfig,
    store: Arc<dyn Store>,
    ca_pem: &str,
) -> (
    meshtls_enroll::RunningService,
    meshtls_enroll::client::CaClient,
) {
    let service =
        tokio::task::spawn_blocking(move || meshtls_enroll::CaService::new(config, store))
            .await
            .unwrap()
            .unwrap();
    let running = service.bind("127.0.0.1:0").await.unwrap();
    let client = meshtls_enroll::client::CaClient::new(
        &format!("https://localhost:{}", running.local_addr().port()),
        TrustBundle::from_pem(ca_pem.as_bytes()).unwrap(),
        id("spiffe://mesh.internal/meshtls/ca"),
        Duration::from_secs(20),
    )
    .unwrap();
    (running, client)
}

#[tokio::test]
async fn the_bundle_carries_both_cas_during_a_ca_rotation() {
    let old = CaMaterial::new();
    let next = CaMaterial::new();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let config = meshtls_enroll::ServiceConfig::new(old.authority())
        .with_extra_bundle_pem(next.cert_pem.clone());
    let (_running, client) = start_service(config, store, &old.cert_pem).await;
    let bundle = client.get_pem("/v1/bundle").await.unwrap();
    let bundle = TrustBundle::from_pem(&bundle).unwrap();
    assert_eq!(bundle.len(), 2);
    // Without the next CA's CRL, nodes (which need a CRL for every CA) cannot accept its
    // certificates: that is what --crl-extra is for, below.
    let next_leaf = next
        .authority()
        .issue(
            &IssueRequest::new(id("spiffe://mesh.internal/service/web")),
            now(),
        )
        .unwrap();
    let mut trust = bundle.clone();
    trust
        .add_crl(&client.get_pem("/v1/crl").await.unwrap())
        .unwrap();
    let v = meshtls_core::Verifier::new(trust, meshtls_core::Policy::allow_any());
    let e = v
        .verify(&next_leaf.chain_der, PeerUsage::Client, now())
        .unwrap_err();
    assert_eq!(e.code().as_str(), "revocation_unknown");

    // With the next CA's CRL file, /v1/crl carries both; the file is re-read when it changes.
    let dir = tempfile::tempdir().unwrap();
    let crl_file = dir.path().join("next.crl");
    let next_crl = |number: u64, revoked: &[&meshtls_core::Issued]| {
        let mut list = meshtls_core::RevocationList::new();
        for r in revoked {
            list.revoke(r.serial.clone(), Default::default(), now())
                .unwrap();
        }
        let params = meshtls_core::CrlParams::new(number, now());
        next.authority().build_crl(&list, &params).unwrap().to_pem()
    };
    std::fs::write(&crl_file, next_crl(1, &[])).unwrap();
    let config = meshtls_enroll::ServiceConfig::new(old.authority())
        .with_extra_bundle_pem(next.cert_pem.clone())
        .with_extra_crl_file(&crl_file);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let (_running, client) = start_service(config, store, &old.cert_pem).await;
    let verifier = |crls: &[u8]| {
        let mut trust = bundle.clone();
        trust.add_crl(crls).unwrap();
        assert_eq!(trust.crls().len(), 2);
        meshtls_core::Verifier::new(trust, meshtls_core::Policy::allow_any())
    };
    let v = verifier(&client.get_pem("/v1/crl").await.unwrap());
    v.verify(&next_leaf.chain_der, PeerUsage::Client, now())
        .unwrap();
    let tagged = client.get_pem_if_changed("/v1/crl", None).await.unwrap();
    let tagged = tagged.expect("a first fetch gets the document");
    let unchanged = client.get_pem_if_changed("/v1/crl", Some(&tagged)).await;
    assert!(
        unchanged.unwrap().is_none(),
        "304 while neither CRL changed"
    );
    // The next CA revokes its leaf and re-signs its CRL: the service serves the new file.
    std::fs::write(&crl_file, next_crl(2, &[&next_leaf])).unwrap();
    let changed = client.get_pem_if_changed("/v1/crl", Some(&tagged)).await;
    let changed = changed
        .unwrap()
        .expect("the extra CRL changed: a new document");
    assert_ne!(changed.etag, tagged.etag);
    let v = verifier(&changed.pem);
    let e = v
        .verify(&next_leaf.chain_der, PeerUsage::Client, now())
        .unwrap_err();
    assert_eq!(e.code().as_str(), "revoked");
    // A broken rewrite leaves the last good CRL served.
    std::fs::write(&crl_file, "not a CRL").unwrap();
    let v = verifier(&client.get_pem("/v1/crl").await.unwrap());
    let e = v
        .verify(&next_leaf.chain_der, PeerUsage::Client, now())
        .unwrap_err();
    assert_eq!(e.code().as_str(), "revoked");
    // But a CRL file that does not parse is refused at startup.
    let config = meshtls_enroll::ServiceConfig::new(old.authority()).with_extra_crl_file(&crl_file);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    assert!(meshtls_enroll::CaService::new(config, store).is_err());

    // Garbage as the extra bundle is refused at startup.
    let config = meshtls_enroll::ServiceConfig::new(old.authority())
        .with_extra_bundle_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    assert!(meshtls_enroll::CaService::new(config, store).is_err());
}

#[tokio::test]
async fn a_restarted_node_resumes_from_its_state_dir_without_a_token() {
    let (h, _dir) = sqlite().await;
    let state = tempfile::tempdir().unwrap();
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let mut opts = h.options();
    opts.state_dir = Some(state.path().to_owned());
    let node = enroll(&h.url, &token, &node_id, opts.clone())
        .await
        .unwrap();
    let first = serial_of(&node.identity());
    let file = state.path().join(meshtls_enroll::client::STATE_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(node); // the process "restarts"

    let node = meshtls_enroll::resume(&h.url, opts.clone()).await.unwrap();
    assert_eq!(node.id(), &node_id);
    assert_eq!(serial_of(&node.identity()), first);
    node.renew_now().await.unwrap();
    let second = serial_of(&node.identity());
    drop(node);
    // The renewal replaced the stored pair.
    let node = meshtls_enroll::resume(&h.url, opts.clone()).await.unwrap();
    assert_eq!(serial_of(&node.identity()), second);
    node.renew_now().await.unwrap();

    // No state: a clear error, not a panic.
    let mut none = h.options();
    none.state_dir = Some(state.path().join("missing"));
    assert!(meshtls_enroll::resume(&h.url, none).await.is_err());
    std::fs::write(&file, "garbage").unwrap();
    assert!(meshtls_enroll::resume(&h.url, opts).await.is_err());
}

#[tokio::test]
async fn the_bundle_and_crl_are_refreshed_on_schedule() {
    // Nobody calls refresh_trust(): the background task alone brings a revocation to peers.
    let (h, _dir) = sqlite().await;
    let node_id = id("spiffe://mesh.internal/service/api");
    let peer_id = id("spiffe://mesh.internal/service/peer");
    let mut options = h.options();
    options.refresh_every = Duration::from_secs(1);
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, options).await.unwrap();
    let token = h.token(&peer_id.to_string()).await;
    let peer = enroll(&h.url, &token, &peer_id, h.options()).await.unwrap();
    let peer_chain = chain_of(&peer.identity());
    node.trust()
        .current()
        .verify(&peer_chain, PeerUsage::Client, now())
        .unwrap();

    h.revoke(&serial_of(&peer.identity())).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let code = loop {
        match node
            .trust()
            .current()
            .verify(&peer_chain, PeerUsage::Client, now())
        {
            Err(e) => break e.code().as_str().to_owned(),
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Ok(_) => panic!("the revocation did not reach the node's trust within 15 s"),
        }
    };
    assert_eq!(code, "revoked");
}

#[tokio::test]
async fn an_unchanged_crl_or_bundle_is_not_sent_again() {
    let (h, _dir) = sqlite().await;
    let client = h.client();
    let crl = client.get_pem_if_changed("/v1/crl", None).await.unwrap();
    let crl = crl.expect("a first fetch gets the CRL");
    let tag = crl.etag.clone().expect("the CRL has an ETag");
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34,
        "{tag}"
    );
    let bundle = client.get_pem_if_changed("/v1/bundle", None).await.unwrap();
    let bundle = bundle.expect("a first fetch gets the bundle");
    assert_eq!(&bundle.pem[..], h.bundle_pem.as_bytes());
    for (path, doc) in [("/v1/crl", &crl), ("/v1/bundle", &bundle)] {
        let again = client.get_pem_if_changed(path, Some(doc)).await.unwrap();
        assert!(
            again.is_none(),
            "{path}: 304 Not Modified with the current tag"
        );
    }
    // A tag the service never gave (or an old one) gets the document.
    let stale = meshtls_enroll::client::PemDocument {
        pem: crl.pem.clone(),
        etag: Some("\"00000000000000000000000000000000\"".to_owned()),
    };
    let full = client.get_pem_if_changed("/v1/crl", Some(&stale)).await;
    assert_eq!(full.unwrap().expect("a full answer").pem, crl.pem);

    // An enrolled node refreshes without replacing its trust while nothing changed...
    let node_id = id("spiffe://mesh.internal/service/api");
    let token = h.token(&node_id.to_string()).await;
    let node = enroll(&h.url, &token, &node_id, h.options()).await.unwrap();
    let generation = node.trust().generation();
    node.refresh_trust().await.unwrap();
    node.refresh_trust().await.unwrap();
    assert_eq!(node.trust().generation(), generation, "nothing changed");
    // ...and a revocation changes the CRL's tag, so the next refresh brings it in.
    let serial = serial_of(&node.identity());
    h.revoke(&serial).await;
    let after = client.get_pem_if_changed("/v1/crl", Some(&crl)).await;
    let after = after.unwrap().expect("the CRL changed");
    assert_ne!(after.etag, crl.etag);
    node.refresh_trust().await.unwrap();
    assert_eq!(node.trust().generation(), generation + 1);
    let err = node
        .trust()
        .current()
        .verify(&chain_of(&node.identity()), PeerUsage::Client, now())
        .unwrap_err();
    assert_eq!(err.code().as_str(), "revoked");
}

#[tokio::test]
async fn a_second_trust_with_its_own_policy_follows_the_refreshes() {
    let (h, _dir) = sqlite().await;
    let mut nodes = Vec::new();
    for name in ["api", "web", "worker"] {
        let node_id = id(&format!("spiffe://mesh.internal/service/{name}"));
        let token = h.token(&node_id.to_string()).await;
        nodes.push(enroll(&h.url, &token, &node_id, h.options()).await.unwrap());
    }
    let (api, web, worker) = (&nodes[0], &nodes[1], &nodes[2]);
    // The api's default trust admits the whole trust domain; a second listener only the web.
    let only_web = meshtls_core::Policy::builder()
        .allow_id(web.id().clone())
        .build()
        .unwrap();
    let web_listener = api.trust_for(only_web);
    let verify = |trust: &meshtls_net::TrustHandle, node: &meshtls_enroll::EnrolledIdentity| {
        let chain = chain_of(&node.identity());
        trust
            .current()
            .verify(&chain, PeerUsage::Client, now())
            .map(|_| ())
            .map_err(|e| e.code().as_str())
    };
    assert_eq!(verify(&web_listener, web), Ok(()));
    assert_eq!(verify(&web_listener, worker), Err("identity_not_allowed"));
    assert_eq!(verify(&api.trust(), worker), Ok(()));

    // A revocation reaches the second trust with the next refresh, its policy kept.
    h.revoke(&serial_of(&web.identity())).await;
    let generation = web_listener.generation();
    api.refresh_trust().await.unwrap();
    assert_eq!(web_listener.generation(), generation + 1);
    assert_eq!(verify(&web_listener, web), Err("revoked"));
    assert_eq!(verify(&web_listener, worker), Err("identity_not_allowed"));
    assert_eq!(verify(&api.trust(), web), Err("revoked"));

    // A trust made after a refresh starts on the refreshed CRL; one dropped is let go.
    let later = api.trust_for(meshtls_core::Policy::allow_any());
    assert_eq!(verify(&later, web), Err("revoked"));
    drop(web_listener);
    h.revoke(&serial_of(&worker.identity())).await;
    api.refresh_trust().await.unwrap();
    assert_eq!(verify(&later, worker), Err("revoked"));
}

#[tokio::test]
async fn join_tokens_are_listed_and_an_unused_one_can_be_revoked() {
    let (h, _dir) = sqlite().await;
    check_token_revocation(&h).await;
}
