//! WebSocket over mTLS: rust ↔ rust, hybrid mode (bearer tokens), Python `websockets` and
//! Node `ws` as real peers.

mod common;

use std::process::Stdio;
use std::sync::Arc;

use common::*;
use futures_util::{SinkExt, StreamExt};
use meshtls_core::ErrorCode;
use meshtls_net::{ws, MtlsServer, WsListener, WsPeer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Echo every text/binary message; report each peer.
fn spawn_ws_echo(mut listener: WsListener, peers: mpsc::UnboundedSender<WsPeer>) {
    tokio::spawn(async move {
        while let Ok((mut socket, peer)) = listener.accept().await {
            let _ = peers.send(peer);
            tokio::spawn(async move {
                while let Some(Ok(msg)) = socket.next().await {
                    if (msg.is_text() || msg.is_binary()) && socket.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

async fn ws_server(server: MtlsServer) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<WsPeer>) {
    let listener = WsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let (tx, rx) = mpsc::unbounded_channel();
    spawn_ws_echo(listener, tx);
    (addr, rx)
}

#[tokio::test]
async fn wss_echo_between_rust_peers_with_identities_on_both_sides() {
    let pki = Pki::new();
    let (server, _f) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let (addr, mut peers) = ws_server(server).await;
    let client = pki.client_with(&pki.client);
    let url = format!("wss://localhost:{}/echo", addr.port());
    let (mut socket, server_peer) = within("ws connect", ws::connect(&client, &url))
        .await
        .unwrap();
    assert_eq!(server_peer.spiffe_id, Some(id(SERVER_ID)));
    socket.send(Message::text("hello")).await.unwrap();
    let reply = within("echo", socket.next()).await.unwrap().unwrap();
    assert_eq!(reply.into_text().unwrap().as_str(), "hello");
    match within("peer", peers.recv()).await.unwrap() {
        WsPeer::Mtls(p) => assert_eq!(p.spiffe_id, Some(id(CLIENT_ID))),
        other => panic!("expected an mTLS peer, got {other:?}"),
    }
}

#[tokio::test]
async fn wss_server_rejects_a_bad_client_with_the_core_code() {
    let pki = Pki::new();
    let (server, mut failures) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let (addr, mut peers) = ws_server(server).await;
    let client = pki.client_with(&pki.revoked_client);
    let url = format!("wss://localhost:{}/", addr.port());
    assert!(within("ws connect", ws::connect(&client, &url))
        .await
        .is_err());
    assert_eq!(
        next_failure(&mut failures).await.code(),
        Some(ErrorCode::Revoked)
    );
    assert!(peers.try_recv().is_err());
    // And the client refuses a server it does not trust, with the code.
    let (bad_server, _f) = server_with(Pki::identity(&pki.intruder_server), pki.server_trust());
    let (addr, _p) = ws_server(bad_server).await;
    let good = pki.client_with(&pki.client);
    let err = within(
        "ws connect",
        ws::connect(&good, &format!("wss://localhost:{}/", addr.port())),
    )
    .await
    .unwrap_err();
    assert_eq!(code_of(&err), Some(ErrorCode::IdentityNotAllowed));
}

/// A TLS-only client (no certificate): a plain rustls config trusting our CA.
fn tls_only_connector(pki: &Pki) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            pki.ca.certificate_der().to_vec(),
        ))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_only_ws(
    pki: &Pki,
    addr: std::net::SocketAddr,
    token: Option<&str>,
) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tls_only_connector(pki)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = format!("wss://localhost:{}/", addr.port())
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::client_async(request, tls)
        .await
        .map_err(|e| e.to_string())?;
    socket
        .send(Message::text("tok"))
        .await
        .map_err(|e| e.to_string())?;
    match socket.next().await {
        Some(Ok(m)) if m.to_text().ok() == Some("tok") => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

#[tokio::test]
async fn hybrid_mode_is_off_by_default() {
    let pki = Pki::new();
    let (server, mut failures) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let (addr, mut peers) = ws_server(server).await;
    let outcome = within("tls-only", tls_only_ws(&pki, addr, Some("good-token"))).await;
    assert!(
        outcome.is_err(),
        "a certificate-less client must fail without hybrid mode"
    );
    let _ = next_failure(&mut failures).await;
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn hybrid_mode_accepts_mtls_peers_and_valid_bearer_tokens_only() {
    let pki = Pki::new();
    let (tx, mut failures) = mpsc::unbounded_channel();
    let server = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .bearer_fallback(Arc::new(|token: &str| {
            (token == "good-token").then(|| "browser-1".to_owned())
        }))
        .on_handshake_error(move |f| {
            let _ = tx.send(code_of(&f.error));
        })
        .build()
        .unwrap();
    let (addr, mut peers) = ws_server(server).await;

    // TLS-only with a valid token: accepted as that subject.
    within("token", tls_only_ws(&pki, addr, Some("good-token")))
        .await
        .unwrap();
    match within("peer", peers.recv()).await.unwrap() {
        WsPeer::Bearer(b) => assert_eq!(b.subject, "browser-1"),
        other => panic!("expected a bearer peer, got {other:?}"),
    }
    // Bad token, no token: HTTP 401, nothing reaches the application.
    assert!(within("bad token", tls_only_ws(&pki, addr, Some("nope")))
        .await
        .is_err());
    assert!(within("no token", tls_only_ws(&pki, addr, None))
        .await
        .is_err());
    for _ in 0..2 {
        assert_eq!(
            within("failure", failures.recv()).await.unwrap(),
            Some(ErrorCode::IdentityNotAllowed)
        );
    }
    // mTLS peers still work, and a bad certificate is still refused by the core.
    let client = pki.client_with(&pki.client);
    let url = format!("wss://localhost:{}/", addr.port());
    within("mtls", ws::connect(&client, &url)).await.unwrap();
    match within("peer", peers.recv()).await.unwrap() {
        WsPeer::Mtls(p) => assert_eq!(p.spiffe_id, Some(id(CLIENT_ID))),
        other => panic!("expected an mTLS peer, got {other:?}"),
    }
    let rogue = pki.client_with(&pki.rogue_client);
    assert!(within("rogue", ws::connect(&rogue, &url)).await.is_err());
    assert_eq!(
        within("failure", failures.recv()).await.unwrap(),
        Some(ErrorCode::UnknownIssuer)
    );
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn raw_listener_of_a_hybrid_server_drops_certificate_less_clients() {
    let pki = Pki::new();
    let (tx, mut failures) = mpsc::unbounded_channel();
    let server = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .bearer_fallback(Arc::new(|_: &str| Some("x".to_owned())))
        .on_handshake_error(move |f| {
            let _ = tx.send(code_of(&f.error));
        })
        .build()
        .unwrap();
    let mut listener = meshtls_net::MtlsListener::bind("127.0.0.1:0", server)
        .await
        .unwrap();
    let addr = listener.local_addr();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let _tls = tls_only_connector(&pki).connect(name, tcp).await.unwrap();
    assert_eq!(
        within("failure", failures.recv()).await.unwrap(),
        Some(ErrorCode::NoCertificate)
    );
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "nothing may be accepted");
}

// ---- external wss peers ----

fn python_websockets() -> Result<(), String> {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(()).ok_or_else(|| {
        "python3 package `websockets` is not installed (scripts/ci/install-deps)".into()
    })
}

fn node_ws() -> Result<(), String> {
    let ok = peers_dir().join("node_modules").join("ws").is_dir() && have("node");
    ok.then_some(()).ok_or_else(|| {
        "npm package `ws` is not installed in net/tests/peers (scripts/ci/install-deps)".into()
    })
}

fn peer_cmd(runtime: &str, file: &str, args: &[&std::ffi::OsStr]) -> Command {
    let mut c = Command::new(runtime);
    c.arg(peers_dir().join(file))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

async fn external_ws_client_against_rust(runtime: &str, file: &str) {
    let pki = Pki::new();
    let (server, mut failures) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let (addr, mut peers) = ws_server(server).await;
    let port = addr.port().to_string();
    let ca = pki.path("ca.pem");
    for (leaf, ok) in [("client", true), ("rogue_client", false)] {
        let cert = pki.path(&format!("{leaf}.pem"));
        let key = pki.path(&format!("{leaf}.key"));
        let out = within(
            "ws client",
            peer_cmd(
                runtime,
                file,
                &[
                    "ws-client".as_ref(),
                    port.as_ref(),
                    cert.as_os_str(),
                    key.as_os_str(),
                    ca.as_os_str(),
                ],
            )
            .output(),
        )
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if ok {
            assert!(text.contains("OK ping"), "{file} {leaf}: {text}");
            match within("peer", peers.recv()).await.unwrap() {
                WsPeer::Mtls(p) => assert_eq!(p.spiffe_id, Some(id(CLIENT_ID))),
                other => panic!("{other:?}"),
            }
        } else {
            assert!(
                !text.contains("OK"),
                "{file} {leaf} must be refused: {text}"
            );
            assert_eq!(
                next_failure(&mut failures).await.code(),
                Some(ErrorCode::UnknownIssuer)
            );
        }
    }
}

async fn rust_ws_client_against_external(runtime: &str, file: &str) {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let client = pki.client_with(&pki.client);
    for (leaf, code) in [
        ("server", None),
        ("expired_server", Some(ErrorCode::Expired)),
    ] {
        let cert = pki.path(&format!("{leaf}.pem"));
        let key = pki.path(&format!("{leaf}.key"));
        let mut child = peer_cmd(
            runtime,
            file,
            &[
                "ws-server".as_ref(),
                cert.as_os_str(),
                key.as_os_str(),
                ca.as_os_str(),
            ],
        )
        .spawn()
        .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = within("READY", async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("peer exited before READY");
                if let Some(p) = line.strip_prefix("READY ") {
                    return p.trim().parse().unwrap();
                }
            }
        })
        .await;
        let url = format!("wss://localhost:{port}/");
        let result = within("ws connect", ws::connect(&client, &url)).await;
        match code {
            None => {
                let (mut socket, peer) = result.unwrap();
                assert_eq!(peer.spiffe_id, Some(id(SERVER_ID)));
                socket.send(Message::text("ping")).await.unwrap();
                let reply = within("echo", socket.next()).await.unwrap().unwrap();
                assert_eq!(reply.into_text().unwrap().as_str(), "ping");
                let accept = within("ACCEPT", lines.next_line()).await.unwrap().unwrap();
                assert_eq!(accept, format!("ACCEPT {CLIENT_ID}"));
            }
            Some(code) => {
                let err = result.unwrap_err();
                assert_eq!(code_of(&err), Some(code), "{file} {leaf}: {err}");
            }
        }
        drop(child);
    }
}

#[tokio::test]
async fn python_websockets_client_against_rust_wss() {
    if let Err(why) = python_websockets() {
        println!("SKIP: {why}");
        return;
    }
    external_ws_client_against_rust("python3", "peer.py").await;
}

#[tokio::test]
async fn rust_wss_client_against_python_websockets_server() {
    if let Err(why) = python_websockets() {
        println!("SKIP: {why}");
        return;
    }
    rust_ws_client_against_external("python3", "peer.py").await;
}

#[tokio::test]
async fn node_ws_client_against_rust_wss() {
    if let Err(why) = node_ws() {
        println!("SKIP: {why}");
        return;
    }
    external_ws_client_against_rust("node", "peer.js").await;
}

#[tokio::test]
async fn rust_wss_client_against_node_ws_server() {
    if let Err(why) = node_ws() {
        println!("SKIP: {why}");
        return;
    }
    rust_ws_client_against_external("node", "peer.js").await;
}
