//! A CA service on loopback with an admin identity, for the integration tests.
#![allow(dead_code)]

pub mod jwt;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use meshtls_core::{
    create_csr, Authority, IdPattern, IssueRequest, KeyAlgorithm, RootParams, SpiffeId, Timestamp,
    TrustBundle, TrustDomain,
};
use meshtls_enroll::api::{RevokeRequest, TokenRequest};
use meshtls_enroll::client::CaClient;
use meshtls_enroll::{CaService, EnrollOptions, RunningService, ServiceConfig, Store};
use meshtls_net::{Identity, IdentityHandle};

pub const ADMIN: &str = "spiffe://mesh.internal/admin/ops";

pub fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(secs as i64)
}

pub fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

/// The CA material, so several replicas can share one CA.
pub struct CaMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

impl CaMaterial {
    pub fn new() -> Self {
        let td = TrustDomain::new("mesh.internal").unwrap();
        let ca = Authority::create_root(
            &RootParams::new(td),
            now().sub(Duration::from_secs(4 * 3600)),
        )
        .unwrap();
        CaMaterial {
            cert_pem: ca.certificate_pem(),
            key_pem: ca.plaintext_key_pem().0,
        }
    }

    pub fn authority(&self) -> Authority {
        Authority::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes(), None).unwrap()
    }
}

pub struct Harness {
    pub running: RunningService,
    pub url: String,
    pub bundle_pem: String,
    pub admin: IdentityHandle,
    pub ca: Arc<CaMaterial>,
    pub store: Arc<dyn Store>,
}

impl Harness {
    pub async fn start(store: Arc<dyn Store>) -> Harness {
        Self::start_with(Arc::new(CaMaterial::new()), store).await
    }

    pub async fn start_with(ca: Arc<CaMaterial>, store: Arc<dyn Store>) -> Harness {
        Self::start_full(ca, store, Duration::from_secs(24 * 3600)).await
    }

    pub async fn start_full(
        ca: Arc<CaMaterial>,
        store: Arc<dyn Store>,
        leaf_lifetime: Duration,
    ) -> Harness {
        Self::start_configured(ca, store, move |c| c.with_leaf_lifetime(leaf_lifetime)).await
    }

    /// A service whose configuration `configure` adjusts (after the admin and body limit).
    pub async fn start_configured(
        ca: Arc<CaMaterial>,
        store: Arc<dyn Store>,
        configure: impl FnOnce(ServiceConfig) -> ServiceConfig,
    ) -> Harness {
        let admin_issued = ca
            .authority()
            .issue(&IssueRequest::new(id(ADMIN)), now())
            .unwrap();
        let admin = IdentityHandle::new(Identity::from_issued(&admin_issued).unwrap());
        let config = configure(
            ServiceConfig::new(ca.authority())
                .with_admin(IdPattern::parse(ADMIN).unwrap())
                .with_max_body(16 * 1024),
        );
        let st = store.clone();
        let service = tokio::task::spawn_blocking(move || CaService::new(config, st))
            .await
            .unwrap()
            .unwrap();
        let bundle_pem = service.bundle_pem().to_owned();
        let running = service.bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}", running.local_addr().port());
        Harness {
            running,
            url,
            bundle_pem,
            admin,
            ca,
            store,
        }
    }

    pub fn client(&self) -> CaClient {
        CaClient::new(
            &self.url,
            TrustBundle::from_pem(self.bundle_pem.as_bytes()).unwrap(),
            id("spiffe://mesh.internal/meshtls/ca"),
            Duration::from_secs(20),
        )
        .unwrap()
    }

    pub fn options(&self) -> EnrollOptions {
        EnrollOptions::new(self.bundle_pem.clone())
    }

    /// An admin request; returns status and body.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let (status, bytes) = self
            .client()
            .request(method, path, body, Some(&self.admin))
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, value)
    }

    /// A join token for `identity`, minted through the client's typed admin call.
    pub async fn token(&self, identity: &str) -> String {
        let req = TokenRequest {
            identity: identity.to_owned(),
            ttl_seconds: None,
            dns_names: vec![],
        };
        self.client()
            .mint_token(&self.admin, &req)
            .await
            .unwrap()
            .token
    }

    /// A node enrolled with its own CSR: the identity and the key it was made with.
    pub async fn enroll_node(&self, identity: &str) -> (IdentityHandle, String) {
        let token = self.token(identity).await;
        let csr = create_csr(&id(identity), &[], KeyAlgorithm::EcdsaP256).unwrap();
        let issued = self
            .client()
            .enroll_csr(&token, &csr.csr_pem)
            .await
            .unwrap();
        let handle = IdentityHandle::new(
            Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes()).unwrap(),
        );
        (handle, csr.key_pem)
    }

    /// Renew `identity` with a fresh key: the successor's identity, or the service's error.
    pub async fn renew_node(
        &self,
        identity: &IdentityHandle,
    ) -> Result<IdentityHandle, meshtls_enroll::EnrollError> {
        let current = identity.current();
        let leaf = current.leaf().unwrap();
        let csr = create_csr(
            leaf.spiffe_id.as_ref().unwrap(),
            &[],
            KeyAlgorithm::EcdsaP256,
        )
        .unwrap();
        let issued = self.client().renew_csr(identity, &csr.csr_pem).await?;
        Ok(IdentityHandle::new(
            Identity::from_pem(issued.chain_pem.as_bytes(), csr.key_pem.as_bytes()).unwrap(),
        ))
    }

    /// Revoke through the client's typed admin call.
    /// `POST /v1/revoke` as the admin, with this reason (and lineage): the status and the JSON
    /// answer as they came over the wire.
    pub async fn revoke_as_json(
        &self,
        serial: &str,
        reason: &str,
        lineage: bool,
    ) -> (StatusCode, serde_json::Value) {
        let body = serde_json::json!({"serial": serial, "reason": reason, "lineage": lineage});
        self.admin(Method::POST, "/v1/revoke", Some(body)).await
    }

    pub async fn revoke(&self, serial: &str) {
        let req = RevokeRequest {
            serial: serial.to_owned(),
            reason: Some("key_compromise".to_owned()),
            lineage: false,
        };
        let answer = self.client().revoke(&self.admin, &req).await.unwrap();
        assert_eq!(answer.serial, serial);
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let (s, b) = self
            .client()
            .request(Method::GET, path, None, None)
            .await
            .unwrap();
        (s, b.to_vec())
    }
}

pub fn serial_of(identity: &IdentityHandle) -> String {
    identity.current().leaf().unwrap().serial.to_hex()
}

/// The current chain of an identity, DER, leaf first: what a peer would present.
pub fn chain_of(identity: &IdentityHandle) -> Vec<Vec<u8>> {
    identity
        .current()
        .chain()
        .iter()
        .map(|c| c.to_vec())
        .collect()
}

/// The ledger's revocation counter (read on every CRL request): counts each certificate once,
/// not a second revocation nor an unknown serial, on any [`Store`].
pub fn check_revocation_counter(store: &dyn Store) {
    use meshtls_enroll::store::RevokeOutcome;
    assert_eq!(store.revocation_count().unwrap(), 0);
    for serial in ["0a", "0b", "0c"] {
        store.record_cert(&plain_record(serial)).unwrap();
    }
    let revoke = |serial: &str| store.revoke(serial, "key_compromise", 60).unwrap();
    assert_eq!(revoke("0a"), RevokeOutcome::Revoked);
    assert_eq!(store.revocation_count().unwrap(), 1);
    assert_eq!(revoke("0a"), RevokeOutcome::AlreadyRevoked);
    assert_eq!(revoke("ff"), RevokeOutcome::NotFound);
    assert_eq!(store.revocation_count().unwrap(), 1);
    assert_eq!(revoke("0c"), RevokeOutcome::Revoked);
    assert_eq!(store.revocation_count().unwrap(), 2);
    assert_eq!(store.revocations().unwrap().len(), 2);
}

/// Join-token bookkeeping on any ledger: minting returns the token's id, the inventory shows
/// each token's state and never a secret, an unused token can be revoked (then enrolling with
/// it is `token_revoked`), a used one cannot (`token_used`: revoke its certificate instead).
pub async fn check_token_revocation(h: &Harness) {
    use meshtls_enroll::{enroll, EnrollError};
    let node_id = id("spiffe://mesh.internal/service/api");
    let client = h.client();
    let req = |identity: &str| TokenRequest {
        identity: identity.to_owned(),
        ttl_seconds: None,
        dns_names: vec![],
    };
    let leaked = client
        .mint_token(&h.admin, &req(&node_id.to_string()))
        .await;
    let leaked = leaked.unwrap();
    assert_eq!(leaked.id, meshtls_enroll::token::hash(&leaked.token));
    let used = h.token(&node_id.to_string()).await;
    enroll(&h.url, &used, &node_id, h.options()).await.unwrap();

    let list = client.list_tokens(&h.admin, None).await.unwrap();
    let state_of = |list: &meshtls_enroll::api::TokenList, id: &str| {
        let t = list.tokens.iter().find(|t| t.id == id).expect("listed");
        (t.state.clone(), t.used_serial.is_some())
    };
    assert_eq!(state_of(&list, &leaked.id), ("unused".to_owned(), false));
    let used_id = meshtls_enroll::token::hash(&used);
    assert_eq!(state_of(&list, &used_id), ("used".to_owned(), true));
    let body = serde_json::to_string(&list).unwrap();
    assert!(
        !body.contains(&leaked.token) && !body.contains(&used),
        "no secret is listed"
    );

    let revoked = client.revoke_token(&h.admin, &leaked.id).await.unwrap();
    assert!(revoked.newly_revoked);
    let again = client.revoke_token(&h.admin, &leaked.id).await.unwrap();
    assert!(!again.newly_revoked);
    let e = enroll(&h.url, &leaked.token, &node_id, h.options()).await;
    match e.unwrap_err() {
        EnrollError::Service { status, code, .. } => {
            assert_eq!((status, code.as_str()), (403, "token_revoked"))
        }
        other => panic!("expected token_revoked, got {other}"),
    }
    let list = client.list_tokens(&h.admin, Some(10)).await.unwrap();
    assert_eq!(state_of(&list, &leaked.id), ("revoked".to_owned(), false));

    let service_code = |e: EnrollError| match e {
        EnrollError::Service { status, code, .. } => (status, code),
        other => panic!("expected a service error, got {other}"),
    };
    let e = client.revoke_token(&h.admin, &used_id).await.unwrap_err();
    assert_eq!(service_code(e), (409, "token_used".to_owned()));
    let unknown = "0".repeat(64);
    let e = client.revoke_token(&h.admin, &unknown).await.unwrap_err();
    assert_eq!(service_code(e), (404, "token_invalid".to_owned()));
    let e = client
        .revoke_token(&h.admin, "not an id")
        .await
        .unwrap_err();
    assert_eq!(service_code(e), (400, "malformed".to_owned()));
    // Only admins list or revoke tokens.
    let (status, body) = h.get("/v1/tokens").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// A ledger row for `serial`: an enrollment of `spiffe://mesh.internal/service/api` at time 0,
/// for a day, with no key hash.
pub fn plain_record(serial: &str) -> meshtls_enroll::store::CertRecord {
    use meshtls_enroll::store::{CertRecord, IssueKind};
    CertRecord {
        serial: serial.to_owned(),
        identity: "spiffe://mesh.internal/service/api".to_owned(),
        not_before: 0,
        not_after: 86_400,
        fingerprint: String::new(),
        kind: IssueKind::Enroll,
        issued_at: 0,
        previous_serial: None,
        cert_pem: String::new(),
        revoked_at: None,
        revocation_reason: None,
        spki_sha256: None,
    }
}

/// A fresh database on the PostgreSQL test server, or None (with the reason printed) when
/// no server was given.
#[cfg(feature = "postgres")]
pub fn fresh_database() -> Option<String> {
    let Ok(url) = std::env::var("MESHTLS_TEST_PG_URL") else {
        eprintln!("SKIPPED: MESHTLS_TEST_PG_URL is unset (scripts/ci/postgres starts a server)");
        return None;
    };
    let name = format!("meshtls_{}", &meshtls_enroll::token::mint().unwrap()[..16]);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

fn lineage_record(
    serial: &str,
    previous: Option<&str>,
    spki: &str,
    at: i64,
) -> meshtls_enroll::store::CertRecord {
    use meshtls_enroll::store::{CertRecord, IssueKind};
    CertRecord {
        serial: serial.to_owned(),
        identity: "spiffe://mesh.internal/service/api".to_owned(),
        not_before: at,
        not_after: at + 86_400,
        fingerprint: String::new(),
        kind: if previous.is_some() {
            IssueKind::Renew
        } else {
            IssueKind::Enroll
        },
        issued_at: at,
        previous_serial: previous.map(str::to_owned),
        cert_pem: String::new(),
        revoked_at: None,
        revocation_reason: None,
        spki_sha256: Some(spki.to_owned()),
    }
}

/// The lineage rules of [`Store::renew`] and [`Store::revoke_lineage`], on any [`Store`]:
/// a retry with the same key gets the same successor, another key within the grace period
/// replaces it (one live successor), after the grace period no more renewals, a revoked
/// predecessor stops its descendants, and a lineage revocation takes every descendant.
pub fn check_lineage(store: &dyn Store) {
    use meshtls_enroll::store::{RenewOutcome, RevokeOutcome};
    const GRACE: i64 = 300;
    let before = store.revocation_count().unwrap();
    store
        .record_cert(&lineage_record("a1", None, "k0", 0))
        .unwrap();
    let renew = |prev: &str, serial: &str, spki: &str, at: i64| {
        store
            .renew(
                prev,
                at,
                GRACE,
                &lineage_record(serial, Some(prev), spki, at),
            )
            .unwrap()
    };
    assert_eq!(
        renew("a1", "b1", "k1", 100),
        RenewOutcome::Recorded { superseded: vec![] }
    );
    // The same key again (a lost answer): the same successor, nothing recorded.
    match renew("a1", "b2", "k1", 150) {
        RenewOutcome::Existing(r) => assert_eq!(r.serial, "b1"),
        other => panic!("expected the existing successor, got {other:?}"),
    }
    assert!(store.cert("b2").unwrap().is_none());
    // Another key within the grace period replaces it: still one live successor.
    assert_eq!(
        renew("a1", "b3", "k2", 200),
        RenewOutcome::Recorded {
            superseded: vec!["b1".to_owned()]
        }
    );
    let b1 = store.cert("b1").unwrap().unwrap();
    assert_eq!(b1.revocation_reason.as_deref(), Some("superseded"));
    assert_eq!(
        renew("b3", "c1", "k3", 250),
        RenewOutcome::Recorded { superseded: vec![] }
    );
    // After the grace period the predecessor renews no more.
    assert_eq!(
        renew("a1", "b4", "k4", 200 + GRACE),
        RenewOutcome::AlreadyRenewed {
            successor: "b3".to_owned()
        }
    );
    assert!(store.cert("b4").unwrap().is_none());
    assert_eq!(renew("zz", "b5", "k5", 300), RenewOutcome::NotFound);
    // A lineage revocation takes every live descendant.
    let r = store.revoke_lineage("a1", "key_compromise", 400).unwrap();
    assert_eq!(r.outcome, RevokeOutcome::Revoked);
    assert_eq!(r.descendants, vec!["b3".to_owned(), "c1".to_owned()]);
    assert_eq!(store.revocation_count().unwrap(), before + 4);
    assert_eq!(
        renew("c1", "d1", "k6", 410),
        RenewOutcome::Revoked {
            serial: "c1".to_owned()
        }
    );
    // A plain revocation leaves descendants valid but they cannot renew.
    store
        .record_cert(&lineage_record("x1", None, "j0", 0))
        .unwrap();
    assert_eq!(
        renew("x1", "y1", "j1", 10),
        RenewOutcome::Recorded { superseded: vec![] }
    );
    assert_eq!(
        store.revoke("x1", "superseded", 20).unwrap(),
        RevokeOutcome::Revoked
    );
    assert!(store.cert("y1").unwrap().unwrap().revoked_at.is_none());
    assert_eq!(
        renew("y1", "z1", "j2", 30),
        RenewOutcome::Revoked {
            serial: "x1".to_owned()
        }
    );
    // Revoking the lineage of a revoked certificate still takes its descendants.
    let r = store.revoke_lineage("x1", "key_compromise", 40).unwrap();
    assert_eq!(r.outcome, RevokeOutcome::AlreadyRevoked);
    assert_eq!(r.descendants, vec!["y1".to_owned()]);
    assert_eq!(
        store
            .revoke_lineage("nope", "key_compromise", 40)
            .unwrap()
            .outcome,
        RevokeOutcome::NotFound
    );
}
