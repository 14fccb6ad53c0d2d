//! `meshtls probe` against real meshtls-net servers (wss:// and plain mTLS) on loopback.
#![cfg(feature = "probe")]

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::*;
use meshtls_core::{Policy, TrustBundle, Verifier};
use meshtls_net::{Identity, IdentityHandle, MtlsListener, MtlsServer, TrustHandle, WsListener};

const SERVER_ID: &str = "spiffe://mesh.internal/service/gateway";

enum Kind {
    Ws,
    Tls,
}

/// Starts a server presenting `cert_dir` and trusting `bundle`; it runs until the test ends.
fn serve(kind: Kind, cert_dir: &Path, bundle: &Path) -> SocketAddr {
    let chain = std::fs::read(cert_dir.join("chain.pem")).unwrap();
    let key = std::fs::read(cert_dir.join("key.pem")).unwrap();
    let bundle = TrustBundle::from_pem(&std::fs::read(bundle).unwrap()).unwrap();
    let identity = IdentityHandle::new(Identity::from_pem(&chain, &key).unwrap());
    let trust = TrustHandle::new(Verifier::new(bundle, Policy::allow_any()));
    let server = MtlsServer::builder(identity, trust).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            match kind {
                Kind::Ws => {
                    let mut l = WsListener::bind("127.0.0.1:0", server).await.unwrap();
                    tx.send(l.local_addr()).unwrap();
                    while let Ok((ws, _peer)) = l.accept().await {
                        drop(ws);
                    }
                }
                Kind::Tls => {
                    let mut l = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
                    tx.send(l.local_addr()).unwrap();
                    while let Ok(s) = l.accept().await {
                        drop(s);
                    }
                }
            }
        });
    });
    rx.recv().unwrap()
}

fn setup() -> Pki {
    let pki = Pki::new();
    pki.issue(SERVER_ID, "server", &["--dns", "localhost"]);
    pki.issue(ID, "client", &[]);
    pki
}

#[test]
fn probe_wss_prints_the_verified_server() {
    let pki = setup();
    let addr = serve(Kind::Ws, &pki.path("server"), &pki.bundle());
    let url = format!("wss://localhost:{}/ws", addr.port());
    let a = meshtls()
        .args(["probe", &url, "--cert"])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(out.contains(SERVER_ID), "{out}");
    let v = json(
        &meshtls()
            .args(["probe", "--json", &url, "--allow-id", SERVER_ID, "--cert"])
            .arg(pki.path("client"))
            .arg("--bundle")
            .arg(pki.bundle())
            .assert()
            .success(),
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["peer"]["spiffe_id"], SERVER_ID);
    assert_eq!(v["protocol"], "TLSv1_3");
}

#[test]
fn probe_rejects_a_server_the_policy_does_not_allow() {
    let pki = setup();
    let addr = serve(Kind::Ws, &pki.path("server"), &pki.bundle());
    let url = format!("wss://localhost:{}/ws", addr.port());
    let a = meshtls()
        .args([
            "probe",
            &url,
            "--allow-id",
            "spiffe://mesh.internal/service/billing",
            "--cert",
        ])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(1);
    assert_error_line(&a, "identity_not_allowed");
    // A bundle of another CA: the server is unknown.
    let other = Pki::new();
    let a = meshtls()
        .args(["probe", &url, "--cert"])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(other.bundle())
        .assert()
        .code(1);
    assert_error_line(&a, "unknown_issuer");
}

#[test]
fn probe_reports_why_the_server_refused_our_certificate() {
    // The server trusts another CA: its unknown_ca alert comes back as the code, for the
    // WebSocket upgrade and for a bare TLS 1.3 handshake alike.
    let pki = setup();
    let other = Pki::new();
    let ws = serve(Kind::Ws, &pki.path("server"), &other.bundle());
    let tls = serve(Kind::Tls, &pki.path("server"), &other.bundle());
    for url in [
        format!("wss://localhost:{}/ws", ws.port()),
        format!("tls://localhost:{}", tls.port()),
    ] {
        let a = meshtls()
            .args(["probe", &url, "--cert"])
            .arg(pki.path("client"))
            .arg("--bundle")
            .arg(pki.bundle())
            .assert()
            .code(1);
        assert_error_line(&a, "unknown_issuer");
    }
}

#[test]
fn probe_tls_handshake_only() {
    let pki = setup();
    let addr = serve(Kind::Tls, &pki.path("server"), &pki.bundle());
    let v = json(
        &meshtls()
            .args([
                "probe",
                "--json",
                &format!("tls://localhost:{}", addr.port()),
                "--cert",
            ])
            .arg(pki.path("client"))
            .arg("--bundle")
            .arg(pki.bundle())
            .assert()
            .success(),
    );
    assert_eq!(v["peer"]["spiffe_id"], SERVER_ID);
}

#[test]
fn probe_connection_and_input_failures() {
    let pki = setup();
    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a = meshtls()
        .args([
            "probe",
            &format!("wss://localhost:{port}/ws"),
            "--timeout",
            "5s",
            "--cert",
        ])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    // Not a URL we speak.
    let a = meshtls()
        .args(["probe", "https://localhost/", "--cert"])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(2);
    assert_error_line(&a, "invalid_request");
    // A missing key.
    std::fs::remove_file(pki.path("client/key.pem")).unwrap();
    let a = meshtls()
        .args(["probe", &format!("wss://localhost:{port}/ws"), "--cert"])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(3);
    assert_error_line(&a, "io");
    assert!(stderr(&a).contains("key.pem"));
}

/// `openssl s_server -Verify 1 -verify_return_error` presenting `cert_dir` and trusting
/// `ca_file` for client certificates; killed on drop.
struct SServer {
    child: std::process::Child,
    port: u16,
}

impl SServer {
    fn start(cert_dir: &Path, ca_file: &Path) -> SServer {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chain = cert_dir.join("chain.pem");
        let mut child = std::process::Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-tls1_3",
            ])
            .args(["-Verify", "1", "-verify_return_error", "-naccept", "1"])
            .arg("-cert")
            .arg(&chain)
            .arg("-cert_chain")
            .arg(&chain)
            .arg("-key")
            .arg(cert_dir.join("key.pem"))
            .arg("-CAfile")
            .arg(ca_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl");
        let out = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(out).lines();
        // s_server prints ACCEPT once it listens.
        for line in lines.by_ref() {
            if line.unwrap().starts_with("ACCEPT") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        SServer { child, port }
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn probe_waits_for_the_verdict_of_openssl_s_server() {
    let pki = setup();
    let other = Pki::new();
    // s_server trusts another CA: it refuses our certificate after our TLS 1.3 Finished with
    // unknown_ca, which the probe must wait for and report (never "ok").
    let refusing = SServer::start(&pki.path("server"), &other.bundle());
    let a = meshtls()
        .args([
            "probe",
            &format!("tls://localhost:{}", refusing.port),
            "--cert",
        ])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(1);
    assert_error_line(&a, "unknown_issuer");
    assert!(!String::from_utf8_lossy(&a.get_output().stdout).contains("ok"));
    // The control: trusting our CA, the same server accepts us.
    let accepting = SServer::start(&pki.path("server"), &pki.bundle());
    let v = json(
        &meshtls()
            .args([
                "probe",
                "--json",
                &format!("tls://localhost:{}", accepting.port),
                "--cert",
            ])
            .arg(pki.path("client"))
            .arg("--bundle")
            .arg(pki.bundle())
            .assert()
            .success(),
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["peer"]["spiffe_id"], SERVER_ID);
}

#[test]
fn probe_reports_identity_not_allowed_from_the_rust_server() {
    // The Rust server allows only another SPIFFE ID: access_denied comes back as the code.
    let pki = setup();
    let chain = std::fs::read(pki.path("server/chain.pem")).unwrap();
    let key = std::fs::read(pki.path("server/key.pem")).unwrap();
    let bundle = TrustBundle::from_pem(&std::fs::read(pki.bundle()).unwrap()).unwrap();
    let policy = Policy::builder()
        .allow_id(meshtls_core::SpiffeId::parse("spiffe://mesh.internal/service/billing").unwrap())
        .build()
        .unwrap();
    let identity = IdentityHandle::new(Identity::from_pem(&chain, &key).unwrap());
    let server = MtlsServer::builder(identity, TrustHandle::new(Verifier::new(bundle, policy)))
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut l = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
            tx.send(l.local_addr()).unwrap();
            while let Ok(s) = l.accept().await {
                drop(s);
            }
        });
    });
    let addr: SocketAddr = rx.recv().unwrap();
    let a = meshtls()
        .args([
            "probe",
            &format!("tls://localhost:{}", addr.port()),
            "--cert",
        ])
        .arg(pki.path("client"))
        .arg("--bundle")
        .arg(pki.bundle())
        .assert()
        .code(1);
    assert_error_line(&a, "identity_not_allowed");
}
