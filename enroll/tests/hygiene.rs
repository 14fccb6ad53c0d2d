//! Service hygiene against a real service on loopback: JSON-only POST bodies, the
//! per-address connection limit, the limit on failed join-token attempts, `/healthz` when the
//! CRL cannot be built, and the access/audit log.

mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use hyper::{Method, StatusCode};
use meshtls_core::{create_csr, KeyAlgorithm, Policy, TrustBundle, Verifier};
use meshtls_enroll::{ServiceConfig, SqliteStore, Store};
use meshtls_net::{IdentityHandle, MtlsClient, TrustHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const NODE: &str = "spiffe://mesh.internal/service/api";

async fn service(configure: impl FnOnce(ServiceConfig) -> ServiceConfig) -> Harness {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    Harness::start_configured(Arc::new(CaMaterial::new()), store, configure).await
}

/// A TCP connection to the service from `from` (any 127/8 address works on Linux).
async fn tcp_from(h: &Harness, from: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(h.running.local_addr()).await.unwrap()
}

/// One raw HTTP/1.1 exchange over TLS with `identity` as client certificate, from `from`:
/// status, headers (lowercase) and body, as text.
async fn raw(
    h: &Harness,
    identity: &IdentityHandle,
    from: IpAddr,
    request: &str,
) -> (u16, String, String) {
    let policy = Policy::builder()
        .allow_id(id("spiffe://mesh.internal/meshtls/ca"))
        .build()
        .unwrap();
    let trust = TrustHandle::new(Verifier::new(
        TrustBundle::from_pem(h.bundle_pem.as_bytes()).unwrap(),
        policy,
    ));
    let client = MtlsClient::builder(identity.clone(), trust)
        .alpn(vec![b"http/1.1".to_vec()])
        .build()
        .unwrap();
    let tcp = tcp_from(h, from).await;
    let mut tls = client.connect_tcp(tcp, "localhost").await.unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn post(path: &str, content_type: Option<&str>, body: &str) -> String {
    let ct = content_type
        .map(|t| format!("content-type: {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\n{ct}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn post_bodies_must_be_json() {
    let h = service(|c| c).await;
    let body = r#"{"serial":"0abc"}"#;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, _, answer) = raw(&h, &h.admin, LOCAL, &post("/v1/revoke", ct, body)).await;
        assert_eq!(status, 415, "{ct:?}: {answer}");
        assert!(answer.contains("\"unsupported_media_type\""), "{answer}");
    }
    // JSON with a charset passes the check (and the serial is unknown: 404).
    let (status, _, answer) = raw(
        &h,
        &h.admin,
        LOCAL,
        &post("/v1/revoke", Some("application/json; charset=utf-8"), body),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    // Enrollment too, before the token is even looked at.
    let (status, _, answer) = raw(
        &h,
        &h.admin,
        LOCAL,
        &post(
            "/v1/enroll",
            Some("text/plain"),
            r#"{"token":"x","csr":"x"}"#,
        ),
    )
    .await;
    assert_eq!(status, 415, "{answer}");
}

async fn metric(h: &Harness, from: IpAddr, name: &str) -> u64 {
    let (status, _, body) = raw(
        h,
        &h.admin,
        from,
        "GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing in {body}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let h = service(|c| c.with_max_connections_per_address(3)).await;
    let other = IpAddr::from([127, 0, 0, 2]);
    // Three idle connections from one address: its whole share.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tcp_from(&h, LOCAL).await);
    }
    // Give the service time to accept them (bounded: it accepts in order).
    let mut fourth = tcp_from(&h, LOCAL).await;
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(10), fourth.read(&mut buf))
        .await
        .expect("the fourth connection is closed at once, not left waiting")
        .unwrap_or(0);
    assert_eq!(n, 0, "the fourth connection from one address is closed");
    // Another address is served meanwhile.
    let (status, _, _) = raw(
        &h,
        &h.admin,
        other,
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(&h, other, "meshtls_ca_connections_refused_total").await,
        1
    );
    // Closing them gives the address its slots back.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut probe = tcp_from(&h, LOCAL).await;
        let mut buf = [0u8; 1];
        let closed = matches!(
            tokio::time::timeout(Duration::from_millis(300), probe.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        );
        if !closed {
            break;
        }
        assert!(Instant::now() < deadline, "slots never released");
    }
}

#[tokio::test]
async fn failed_token_attempts_are_limited_per_address() {
    let h = service(|c| c.with_token_failure_limit(3, Duration::from_secs(60))).await;
    let good = h.token(NODE).await;
    let csr = create_csr(&id(NODE), &[], KeyAlgorithm::EcdsaP256).unwrap();
    let enroll_body =
        |token: &str| serde_json::json!({"token": token, "csr": csr.csr_pem}).to_string();
    for i in 0..3 {
        let guess = format!("{i:064x}");
        let (status, _, answer) = raw(
            &h,
            &h.admin,
            LOCAL,
            &post("/v1/enroll", Some("application/json"), &enroll_body(&guess)),
        )
        .await;
        assert_eq!(status, 401, "{answer}");
    }
    // The fourth attempt waits, even with the right token.
    let (status, head, answer) = raw(
        &h,
        &h.admin,
        LOCAL,
        &post("/v1/enroll", Some("application/json"), &enroll_body(&good)),
    )
    .await;
    assert_eq!(status, 429, "{answer}");
    assert!(answer.contains("\"rate_limited\""), "{answer}");
    let retry: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    // Another address is not limited, and the token was not used up.
    let other = IpAddr::from([127, 0, 0, 2]);
    let (status, _, answer) = raw(
        &h,
        &h.admin,
        other,
        &post("/v1/enroll", Some("application/json"), &enroll_body(&good)),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        metric(&h, other, "meshtls_ca_token_attempts_limited_total").await,
        1
    );
}

#[tokio::test]
async fn healthz_is_not_ready_when_the_crl_cannot_be_built() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let h = Harness::start_configured(Arc::new(CaMaterial::new()), store.clone(), |c| c).await;
    let (status, _) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (node, _) = h.enroll_node(NODE).await;
    // A revocation time no CRL can carry, written past the service (a damaged ledger).
    let serial = serial_of(&node);
    let st = store.clone();
    tokio::task::spawn_blocking(move || st.revoke(&serial, "key_compromise", i64::MIN).unwrap())
        .await
        .unwrap();
    let (status, body) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("CRL"),
        "{body}"
    );
}

/// A log sink the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_audit_line_per_request_without_secrets() {
    let log = Captured::default();
    let sink = log.clone();
    let h = service(move |c| c.with_audit_log(Box::new(sink))).await;
    let token = h.token(NODE).await;
    let csr = create_csr(&id(NODE), &[], KeyAlgorithm::EcdsaP256).unwrap();
    h.client().enroll_csr(&token, &csr.csr_pem).await.unwrap();
    let e = h
        .client()
        .enroll_csr(&"ab".repeat(32), &csr.csr_pem)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "token_invalid");
    let (status, _) = h.admin(Method::GET, "/v1/certs?limit=5", None).await;
    assert_eq!(status, StatusCode::OK);

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    for l in &lines {
        for field in [
            "time", "address", "peer", "method", "endpoint", "status", "code",
        ] {
            assert!(l.get(field).is_some(), "{field} missing: {l}");
        }
        assert!(l["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    let mint = &lines[0];
    assert_eq!(mint["endpoint"], "/v1/tokens");
    assert_eq!(mint["peer"], ADMIN);
    assert_eq!(mint["status"], 201);
    assert_eq!(mint["code"], serde_json::Value::Null);
    let enrolled = &lines[1];
    assert_eq!(enrolled["endpoint"], "/v1/enroll");
    assert_eq!(enrolled["method"], "POST");
    assert_eq!(enrolled["peer"], serde_json::Value::Null);
    assert_eq!(enrolled["status"], 200);
    let refused = &lines[2];
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["code"], "token_invalid");
    // The query is not logged, only the path.
    assert_eq!(lines[3]["endpoint"], "/v1/certs");
    // Never a token (nor its hash), a CSR or a key.
    let key_body: String = csr
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for secret in [
        token.as_str(),
        meshtls_enroll::token::hash(&token).as_str(),
        &"ab".repeat(32),
        &key_body[..40],
        "BEGIN",
        "PRIVATE",
    ] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
}
