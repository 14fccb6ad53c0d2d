//! A node's trust refresh never steps back: against an HTTPS service on loopback that serves
//! the CA's real, signed CRLs as the test chooses, a node that resumed from its state
//! directory refuses a CRL with a lower number, or the same number with other content
//! (`stale_crl`), keeps the CRL it holds, counts each refusal, and takes a newer CRL again.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use meshtls_core::{
    Authority, CrlParams, IssueRequest, RevocationList, RevocationReason, Serial, Timestamp,
    TrustBundle, Usage,
};
use meshtls_net::enroll::{resume, EnrollOptions, EnrolledIdentity, CRL_FILE, STATE_FILE};
use meshtls_net::{MtlsListener, MtlsServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the service answers at `/v1/crl`.
type Served = Arc<Mutex<String>>;

/// A minimal CA service: `/v1/bundle` and `/v1/crl` over TLS with the service identity,
/// client certificates optional (as `meshtls serve`), one request per connection. Returns its
/// URL.
async fn service(ca: &Authority, crl: Served) -> String {
    let issued = ca
        .issue(
            &IssueRequest::new(id("spiffe://mesh.internal/meshtls/ca"))
                .with_dns(["localhost"])
                .with_usage(Usage::Server)
                .with_lifetime(Duration::from_secs(3600)),
            wall_now().sub(Duration::from_secs(60)),
        )
        .unwrap();
    let bundle_pem = ca.certificate_pem();
    let trust = meshtls_net::TrustHandle::new(meshtls_core::Verifier::new(
        TrustBundle::from_pem(bundle_pem.as_bytes()).unwrap(),
        meshtls_core::Policy::builder()
            .allow_trust_domain(td())
            .build()
            .unwrap(),
    ));
    let server = MtlsServer::builder(Pki::identity(&issued), trust)
        .client_cert_optional(true)
        .build()
        .unwrap();
    let mut listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let port = listener.local_addr().port();
    tokio::spawn(async move {
        while let Ok(mut stream) = listener.accept().await {
            let crl = crl.clone();
            let bundle_pem = bundle_pem.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let body = if text.starts_with("GET /v1/crl ") {
                    crl.lock().unwrap().clone()
                } else if text.starts_with("GET /v1/bundle ") {
                    bundle_pem
                } else {
                    let _ = stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                // Entity tags as the real service sends them: 304 for what the node holds.
                let tag = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    body.hash(&mut h);
                    format!("\"{:016x}\"", h.finish())
                };
                if text
                    .lines()
                    .any(|l| l.to_ascii_lowercase() == format!("if-none-match: {tag}"))
                {
                    let _ = stream
                        .write_all(b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-pem-file\r\n\
                     etag: {tag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("https://localhost:{port}")
}

/// A CRL of `ca` numbered `number` revoking `serials`.
fn crl(ca: &Authority, number: u64, serials: &[&Serial], at: Timestamp) -> String {
    let mut list = RevocationList::new();
    for s in serials {
        list.revoke((*s).clone(), RevocationReason::KeyCompromise, at)
            .unwrap();
    }
    ca.build_crl(&list, &CrlParams::new(number, at))
        .unwrap()
        .to_pem()
}

/// A node of `ca` resumed from a new state directory (no enrollment needed).
async fn node(pki: &Pki, url: &str) -> (EnrolledIdentity, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let node = resume_in(pki, url, state.path()).await;
    (node, state)
}

/// A node resumed from `state` (its identity written there first if it has none).
async fn resume_in(pki: &Pki, url: &str, state: &std::path::Path) -> EnrolledIdentity {
    if state.join(STATE_FILE).exists() {
        let mut options = EnrollOptions::new(pki.ca.certificate_pem());
        options.state_dir = Some(state.to_path_buf());
        options.refresh_every = Duration::from_secs(3600);
        return within("resume", resume(url, options)).await.unwrap();
    }
    let node = issue(
        &pki.ca,
        "spiffe://mesh.internal/node/watcher",
        Usage::Both,
        pki.now.sub(Duration::from_secs(60)),
        Duration::from_secs(86_400),
    );
    std::fs::write(
        state.join(STATE_FILE),
        format!("{}{}", node.chain_pem, node.key_pem.as_deref().unwrap()),
    )
    .unwrap();
    let mut options = EnrollOptions::new(pki.ca.certificate_pem());
    options.state_dir = Some(state.to_path_buf());
    options.refresh_every = Duration::from_secs(3600); // refreshed by hand
    within("resume", resume(url, options)).await.unwrap()
}

fn held(node: &EnrolledIdentity) -> (u64, Vec<u8>) {
    let v = node.trust().current();
    let crl = v.bundle().crls().first().cloned().expect("a CRL is held");
    (crl.number.unwrap(), crl.der().to_vec())
}

#[tokio::test]
async fn a_crl_that_steps_back_is_refused_counted_and_the_held_one_kept() {
    let pki = Pki::new();
    let at = pki.now.sub(Duration::from_secs(30));
    let stolen = pki.server.serial.clone();
    let served: Served = Arc::new(Mutex::new(crl(&pki.ca, 5, &[&stolen], at)));
    let url = service(&pki.ca, served.clone()).await;
    let (node, _state) = node(&pki, &url).await;
    // resume fetched the CRL (best effort): make sure, by hand.
    within("refresh", node.refresh_trust()).await.unwrap();
    let (five, five_der) = held(&node);
    assert_eq!(five, 5);
    let generation = node.trust().generation();

    // A lower number (without the revocation): refused, the held CRL stays.
    *served.lock().unwrap() = crl(&pki.ca, 4, &[], at.add(Duration::from_secs(10)));
    let e = within("refresh", node.refresh_trust()).await.unwrap_err();
    assert_eq!(e.code(), "stale_crl", "{e}");
    assert_eq!(node.stale_crl_refusals(), 1);
    assert_eq!(held(&node), (5, five_der.clone()));
    assert_eq!(
        node.trust().generation(),
        generation,
        "the trust was not touched"
    );
    let verdict = node.trust().current().verify_pem(
        pki.server.chain_pem.as_bytes(),
        meshtls_core::PeerUsage::Server,
        pki.now,
    );
    assert_eq!(verdict.unwrap_err().code().as_str(), "revoked");

    // The same number with other content (a later thisUpdate, the revocation gone): refused.
    *served.lock().unwrap() = crl(&pki.ca, 5, &[], at.add(Duration::from_secs(20)));
    let e = within("refresh", node.refresh_trust()).await.unwrap_err();
    assert_eq!(e.code(), "stale_crl", "{e}");
    assert_eq!(node.stale_crl_refusals(), 2);
    assert_eq!(held(&node), (5, five_der.clone()));

    // The very CRL held, served again: nothing to refuse.
    *served.lock().unwrap() = meshtls_core::Crl::from_pem_or_der(&five_der)
        .unwrap()
        .to_pem();
    within("refresh", node.refresh_trust()).await.unwrap();
    assert_eq!(node.stale_crl_refusals(), 2);

    // A newer CRL is taken.
    let other = pki.client.serial.clone();
    *served.lock().unwrap() = crl(&pki.ca, 6, &[&stolen, &other], at);
    within("refresh", node.refresh_trust()).await.unwrap();
    assert_eq!(held(&node).0, 6);
    assert_eq!(node.stale_crl_refusals(), 2);
}

#[tokio::test]
async fn a_restarted_node_starts_from_the_crl_it_held() {
    let pki = Pki::new();
    let at = pki.now.sub(Duration::from_secs(30));
    let stolen = pki.server.serial.clone();
    let served: Served = Arc::new(Mutex::new(crl(&pki.ca, 9, &[&stolen], at)));
    let url = service(&pki.ca, served.clone()).await;
    let (node, state) = node(&pki, &url).await;
    within("refresh", node.refresh_trust()).await.unwrap();
    assert_eq!(held(&node).0, 9);
    assert!(state.path().join(CRL_FILE).exists());
    drop(node);

    // The service rolled back while the node was down: the restarted node refuses it.
    *served.lock().unwrap() = crl(&pki.ca, 2, &[], at.add(Duration::from_secs(10)));
    let node = resume_in(&pki, &url, state.path()).await;
    assert_eq!(held(&node).0, 9, "resumed holding the CRL it had");
    assert_eq!(
        node.stale_crl_refusals(),
        1,
        "the first refresh of resume refused it"
    );
    let e = within("refresh", node.refresh_trust()).await.unwrap_err();
    assert_eq!(e.code(), "stale_crl", "{e}");
    assert_eq!(node.stale_crl_refusals(), 2);
    assert_eq!(held(&node).0, 9);
}
