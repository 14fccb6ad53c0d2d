//! A real `meshtls serve` for the CLI tests: start it on the test's CA, reach it as a client or
//! as the administrator, mint join tokens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use hyper::Method;
use meshtls_core::{SpiffeId, TrustBundle, TrustDomain};
use meshtls_enroll::client::CaClient;
use meshtls_net::{Identity, IdentityHandle};

use super::{Pki, PASS};

/// The administrator every test service is started with.
pub const ADMIN: &str = "spiffe://mesh.internal/admin/ops";

/// A running `meshtls serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    /// Stop it (SIGKILL: what a crash leaves behind).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `meshtls serve` on the test's CA and ledger `db`, on a free loopback port.
pub fn serve(pki: &Pki, db: &str) -> Server {
    serve_with(pki, db, "127.0.0.1:0", &[], &[])
}

/// `meshtls serve` listening on `listen`, with more arguments and environment. Returns once it
/// has printed `listening on ADDR`.
pub fn serve_with(
    pki: &Pki,
    db: &str,
    listen: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_meshtls"))
        .args([
            "serve",
            "--listen",
            listen,
            "--admin-id",
            ADMIN,
            "--db",
            db,
            "--ca",
        ])
        .arg(pki.ca())
        .args(args)
        .envs(env.iter().copied())
        .env("MESHTLS_CA_PASSPHRASE", PASS)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("serve did not start: {line:?}"));
    let port = addr.rsplit_once(':').unwrap().1;
    Server {
        child,
        url: format!("https://localhost:{port}"),
    }
}

/// A client of the service at `url`, trusting the test's bundle.
pub fn client(pki: &Pki, url: &str) -> CaClient {
    let bundle = TrustBundle::from_pem(&std::fs::read(pki.bundle()).unwrap()).unwrap();
    CaClient::new(
        url,
        bundle,
        SpiffeId::ca_service(&TrustDomain::new(super::TD).unwrap()),
        Duration::from_secs(20),
    )
    .unwrap()
}

/// The administrator's identity (issued offline by the test's CA on first use).
pub fn admin_identity(pki: &Pki) -> IdentityHandle {
    let dir = pki.path("admin");
    if !dir.exists() {
        pki.issue(ADMIN, "admin", &[]);
    }
    IdentityHandle::new(
        Identity::from_pem(
            &std::fs::read(dir.join("chain.pem")).unwrap(),
            &std::fs::read(dir.join("key.pem")).unwrap(),
        )
        .unwrap(),
    )
}

/// Mints a join token for `identity` as the administrator.
pub async fn mint(c: &CaClient, admin: &IdentityHandle, identity: &str) -> String {
    let body = serde_json::json!({ "identity": identity }).to_string();
    let (status, bytes) = c
        .request(
            Method::POST,
            "/v1/tokens",
            Some(body.into_bytes()),
            Some(admin),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{bytes:?}");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["token"].as_str().unwrap().to_owned()
}
