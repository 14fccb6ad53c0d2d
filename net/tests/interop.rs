//! meshtls-net against real TLS stacks over 127.0.0.1: OpenSSL s_server/s_client, Python `ssl`,
//! Node `tls` and Go `crypto/tls`, both directions, good and bad certificates.
//!
//! A peer whose runtime is missing is skipped with a printed reason (scripts/ci/install-deps
//! installs them all for CI).

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;

use common::*;
use meshtls_core::ErrorCode;
use meshtls_net::{MtlsListener, MtlsStream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug)]
enum Peer {
    OpenSsl,
    Python,
    Node,
    Go,
}

fn go_binary() -> &'static Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if !have_go() {
            return Err(
                "`go` is not installed (scripts/ci/install-deps installs golang-go)".into(),
            );
        }
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("meshtls-go-peer");
        let status = std::process::Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(peers_dir().join("go"))
            .status()
            .map_err(|e| format!("go build: {e}"))?;
        if !status.success() {
            return Err(format!("go build failed: {status}"));
        }
        Ok(out)
    })
}

fn have_go() -> bool {
    std::process::Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl Peer {
    /// Why this peer cannot run here, if it cannot.
    fn missing(self) -> Option<String> {
        match self {
            Peer::OpenSsl => {
                (!have_cmd("openssl", &["version"])).then(|| "openssl not installed".into())
            }
            Peer::Python => {
                (!have_cmd("python3", &["--version"])).then(|| "python3 not installed".into())
            }
            Peer::Node => (!have_cmd("node", &["--version"])).then(|| "node not installed".into()),
            Peer::Go => go_binary().as_ref().err().cloned(),
        }
    }

    fn server(self, pki: &Pki, leaf: &str) -> Command {
        let (cert, key, ca) = (
            pki.path(&format!("{leaf}.pem")),
            pki.path(&format!("{leaf}.key")),
            pki.path("ca.pem"),
        );
        let mut cmd = match self {
            Peer::OpenSsl => {
                let mut c = Command::new("openssl");
                c.args([
                    "s_server",
                    "-accept",
                    "127.0.0.1:0",
                    "-tls1_3",
                    "-rev",
                    "-Verify",
                    "1",
                    "-verify_return_error",
                ])
                .arg("-cert")
                .arg(cert)
                .arg("-key")
                .arg(key)
                .arg("-CAfile")
                .arg(ca);
                c
            }
            Peer::Python => script("python3", "peer.py", "server", [cert, key, ca]),
            Peer::Node => script("node", "peer.js", "server", [cert, key, ca]),
            Peer::Go => {
                let mut c = Command::new(go_binary().as_ref().expect("checked by missing()"));
                c.arg("server").arg(cert).arg(key).arg(ca);
                c
            }
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// A client command; `leaf` None means no client certificate.
    fn client(self, pki: &Pki, port: u16, leaf: Option<&str>) -> Command {
        let ca = pki.path("ca.pem");
        let (cert, key) = match leaf {
            Some(l) => (pki.path(&format!("{l}.pem")), pki.path(&format!("{l}.key"))),
            None => (PathBuf::from("-"), PathBuf::from("-")),
        };
        let port_s = port.to_string();
        let mut cmd = match self {
            Peer::OpenSsl => {
                let mut c = Command::new("openssl");
                c.args([
                    "s_client",
                    "-connect",
                    &format!("127.0.0.1:{port}"),
                    "-servername",
                    "localhost",
                    "-verify_hostname",
                    "localhost",
                    "-verify_return_error",
                    "-quiet",
                    "-ign_eof",
                    "-tls1_3",
                ])
                .arg("-CAfile")
                .arg(ca);
                if leaf.is_some() {
                    c.arg("-cert").arg(cert).arg("-key").arg(key);
                }
                c
            }
            Peer::Python => script(
                "python3",
                "peer.py",
                "client",
                [PathBuf::from(&port_s), cert, key, ca],
            ),
            Peer::Node => script(
                "node",
                "peer.js",
                "client",
                [PathBuf::from(&port_s), cert, key, ca],
            ),
            Peer::Go => {
                let mut c = Command::new(go_binary().as_ref().expect("checked by missing()"));
                c.arg("client").arg(&port_s).arg(cert).arg(key).arg(ca);
                c
            }
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// What the peer's server sends back for `ping`.
    fn server_reply(self) -> &'static str {
        match self {
            Peer::OpenSsl => "gnip",
            _ => "echo:ping",
        }
    }
}

fn have_cmd(cmd: &str, args: &[&str]) -> bool {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn script<const N: usize>(runtime: &str, file: &str, mode: &str, args: [PathBuf; N]) -> Command {
    let mut c = Command::new(runtime);
    c.arg(peers_dir().join(file)).arg(mode).args(args);
    c
}

/// A running external server and the lines it prints.
struct ExtServer {
    _child: Child,
    port: u16,
    lines: mpsc::UnboundedReceiver<String>,
}

async fn start_server(peer: Peer, pki: &Pki, leaf: &str) -> ExtServer {
    let mut child = peer.server(pki, leaf).spawn().expect("spawn peer server");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, mut lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut r = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = r.next_line().await {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let port = within("peer server READY", async {
        loop {
            let line = lines.recv().await.expect("peer server exited before READY");
            // Ours print `READY <port>`, s_server prints `ACCEPT 127.0.0.1:<port>`.
            if let Some(p) = line.strip_prefix("READY ") {
                return p.trim().parse::<u16>().expect("port");
            }
            if line.starts_with("ACCEPT ") {
                return line
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .expect("port");
            }
        }
    })
    .await;
    ExtServer {
        _child: child,
        port,
        lines,
    }
}

async fn run_client(peer: Peer, pki: &Pki, port: u16, leaf: Option<&str>) -> String {
    let mut child = peer
        .client(pki, port, leaf)
        .spawn()
        .expect("spawn peer client");
    if let Some(mut stdin) = child.stdin.take() {
        // s_client sends what it reads; the scripts ignore stdin.
        let _ = stdin.write_all(b"ping\n").await;
    }
    let out = within("peer client", child.wait_with_output())
        .await
        .expect("peer client ran");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

/// How each TLS stack words the alert the Rust server sends for `code` (OpenSSL, Python and
/// Node say `certificate expired`, Go says `expired certificate`...), lowercased, `_` as space.
fn alert_words(code: ErrorCode) -> &'static [&'static str] {
    match code {
        ErrorCode::Expired => &["certificate expired", "expired certificate"],
        ErrorCode::Revoked => &["certificate revoked", "revoked certificate"],
        ErrorCode::UnknownIssuer => &["unknown ca", "unknown certificate authority"],
        ErrorCode::IdentityNotAllowed => &["access denied"],
        _ => &[],
    }
}

/// The Rust server for external clients: verify, read a line, answer `echo:<line>`, close.
async fn rust_server(
    pki: &Pki,
) -> (
    u16,
    mpsc::UnboundedReceiver<meshtls_net::HandshakeFailure>,
    mpsc::UnboundedReceiver<meshtls_core::PeerIdentity>,
) {
    let (server, failures) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let mut listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let port = listener.local_addr().port();
    let (ptx, peers) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(stream) = listener.accept().await {
            if let Some(p) = stream.peer_identity() {
                let _ = ptx.send(p.clone());
            }
            tokio::spawn(echo_once(stream));
        }
    });
    (port, failures, peers)
}

async fn echo_once(stream: MtlsStream) {
    let (r, mut w) = tokio::io::split(stream);
    let mut line = String::new();
    if BufReader::new(r).read_line(&mut line).await.is_ok() {
        let _ = w
            .write_all(format!("echo:{}\n", line.trim_end()).as_bytes())
            .await;
        let _ = w.shutdown().await;
    }
}

/// External clients against the Rust server: one good, five refused with the right code.
async fn external_clients_against_rust_server(peer: Peer) {
    if let Some(why) = peer.missing() {
        println!("SKIP {peer:?} clients: {why}");
        return;
    }
    let pki = Pki::new();
    let (port, mut failures, mut peers) = rust_server(&pki).await;

    let out = run_client(peer, &pki, port, Some("client")).await;
    assert!(out.contains("echo:ping"), "{peer:?} good client: {out}");
    let p = within("peer", peers.recv()).await.unwrap();
    assert_eq!(p.spiffe_id, Some(id(CLIENT_ID)));
    assert_eq!(p.serial, pki.client.serial);

    let cases: [(Option<&str>, Option<ErrorCode>); 5] = [
        (None, None),
        (Some("rogue_client"), Some(ErrorCode::UnknownIssuer)),
        (Some("expired_client"), Some(ErrorCode::Expired)),
        (Some("revoked_client"), Some(ErrorCode::Revoked)),
        (Some("intruder_client"), Some(ErrorCode::IdentityNotAllowed)),
    ];
    for (leaf, code) in cases {
        let out = run_client(peer, &pki, port, leaf).await;
        assert!(
            !out.contains("echo:"),
            "{peer:?} client {leaf:?} must be refused: {out}"
        );
        let f = next_failure(&mut failures).await;
        if let Some(code) = code {
            assert_eq!(f.code(), Some(code), "{peer:?} client {leaf:?}: {f}");
            // The refused peer is told why: the alert names the reason.
            let said = out.to_lowercase().replace('_', " ");
            assert!(
                alert_words(code).iter().any(|w| said.contains(w)),
                "{peer:?} client {leaf:?} should hear the {code} alert: {out}"
            );
        }
    }
    assert!(
        peers.try_recv().is_err(),
        "no refused client may reach the application"
    );
}

/// The Rust client against external servers: one good, four refused with the right code, and
/// the external server refusing a Rust client from another CA.
async fn rust_client_against_external_servers(peer: Peer) {
    if let Some(why) = peer.missing() {
        println!("SKIP {peer:?} servers: {why}");
        return;
    }
    let pki = Pki::new();
    let client = pki.client_with(&pki.client);

    let mut srv = start_server(peer, &pki, "server").await;
    let mut s = within(
        "connect",
        client.connect(("127.0.0.1", srv.port), "localhost"),
    )
    .await
    .unwrap();
    assert_eq!(s.peer_identity().unwrap().spiffe_id, Some(id(SERVER_ID)));
    assert_eq!(s.peer_identity().unwrap().serial, pki.server.serial);
    assert_eq!(
        within("reply", roundtrip(&mut s, "ping")).await.unwrap(),
        peer.server_reply()
    );
    if !matches!(peer, Peer::OpenSsl) {
        let line = within("ACCEPT", srv.lines.recv()).await.unwrap();
        assert_eq!(
            line,
            format!("ACCEPT {CLIENT_ID}"),
            "{peer:?} sees our client identity"
        );
    }
    // The external server refuses a client from another CA.
    let rogue = pki.client_with(&pki.rogue_client);
    let refused = async {
        let mut s = rogue.connect(("127.0.0.1", srv.port), "localhost").await?;
        roundtrip(&mut s, "ping").await
    };
    assert!(
        within("rogue", refused).await.is_err(),
        "{peer:?} server must refuse a rogue client"
    );

    for (leaf, code) in [
        ("rogue_server", ErrorCode::UnknownIssuer),
        ("expired_server", ErrorCode::Expired),
        ("revoked_server", ErrorCode::Revoked),
        ("intruder_server", ErrorCode::IdentityNotAllowed),
    ] {
        let srv = start_server(peer, &pki, leaf).await;
        let err = within(
            "connect",
            client.connect(("127.0.0.1", srv.port), "localhost"),
        )
        .await
        .expect_err("must refuse");
        assert_eq!(code_of(&err), Some(code), "{peer:?} server {leaf}: {err}");
    }
}

#[tokio::test]
async fn openssl_s_client_against_rust_server() {
    external_clients_against_rust_server(Peer::OpenSsl).await;
}

#[tokio::test]
async fn rust_client_against_openssl_s_server() {
    rust_client_against_external_servers(Peer::OpenSsl).await;
}

#[tokio::test]
async fn python_ssl_client_against_rust_server() {
    external_clients_against_rust_server(Peer::Python).await;
}

#[tokio::test]
async fn rust_client_against_python_ssl_server() {
    rust_client_against_external_servers(Peer::Python).await;
}

#[tokio::test]
async fn node_tls_client_against_rust_server() {
    external_clients_against_rust_server(Peer::Node).await;
}

#[tokio::test]
async fn rust_client_against_node_tls_server() {
    rust_client_against_external_servers(Peer::Node).await;
}

#[tokio::test]
async fn go_crypto_tls_client_against_rust_server() {
    external_clients_against_rust_server(Peer::Go).await;
}

#[tokio::test]
async fn rust_client_against_go_crypto_tls_server() {
    rust_client_against_external_servers(Peer::Go).await;
}
