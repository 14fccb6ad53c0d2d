//! Shared fixtures for the meshtls-net tests: one PKI, real peers over 127.0.0.1, bounded waits.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshtls_core::{
    Authority, CrlParams, ErrorCode, IssueRequest, Issued, Policy, RevocationList,
    RevocationReason, RootParams, SpiffeId, Timestamp, TrustBundle, TrustDomain, Usage, Verifier,
};
use meshtls_net::{
    HandshakeFailure, Identity, IdentityHandle, MtlsClient, MtlsServer, MtlsStream, TrustHandle,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(20);

pub const SERVER_ID: &str = "spiffe://mesh.internal/service/api";
pub const CLIENT_ID: &str = "spiffe://mesh.internal/client/agent";
pub const INTRUDER_SERVER_ID: &str = "spiffe://mesh.internal/service/intruder";
pub const INTRUDER_CLIENT_ID: &str = "spiffe://mesh.internal/client/intruder";

pub fn wall_now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    Timestamp::from_unix(secs as i64)
}

pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

pub fn td() -> TrustDomain {
    TrustDomain::new("mesh.internal").unwrap()
}

pub fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

pub fn issue(ca: &Authority, spiffe: &str, usage: Usage, at: Timestamp, life: Duration) -> Issued {
    ca.issue(
        &IssueRequest::new(id(spiffe))
            .with_dns(["localhost"])
            .with_usage(usage)
            .with_lifetime(life),
        at,
    )
    .unwrap()
}

/// One PKI for every test: a CA, good and bad leaves for both roles, a CRL, and PEM files.
pub struct Pki {
    pub now: Timestamp,
    pub ca: Authority,
    pub rogue_ca: Authority,
    pub crl_der: Vec<u8>,
    pub server: Issued,
    pub client: Issued,
    pub rogue_server: Issued,
    pub rogue_client: Issued,
    pub expired_server: Issued,
    pub expired_client: Issued,
    pub revoked_server: Issued,
    pub revoked_client: Issued,
    pub intruder_server: Issued,
    pub intruder_client: Issued,
    pub dir: tempfile::TempDir,
}

const DAY: u64 = 86_400;

impl Pki {
    pub fn new() -> Pki {
        let now = wall_now();
        let past = now.sub(Duration::from_secs(10 * DAY));
        let ca = Authority::create_root(&RootParams::new(td()), past).unwrap();
        // Same trust domain, different key: only the chain tells them apart.
        let rogue_ca = Authority::create_root(&RootParams::new(td()), past).unwrap();
        let life = Duration::from_secs(DAY);
        let recent = now.sub(Duration::from_secs(60));
        let expired_at = now.sub(Duration::from_secs(3 * DAY));
        let server = issue(&ca, SERVER_ID, Usage::Server, recent, life);
        let client = issue(&ca, CLIENT_ID, Usage::Client, recent, life);
        let revoked_server = issue(&ca, SERVER_ID, Usage::Server, recent, life);
        let revoked_client = issue(&ca, CLIENT_ID, Usage::Client, recent, life);
        let mut list = RevocationList::new();
        list.revoke(
            revoked_server.serial.clone(),
            RevocationReason::KeyCompromise,
            recent,
        )
        .unwrap();
        list.revoke(
            revoked_client.serial.clone(),
            RevocationReason::KeyCompromise,
            recent,
        )
        .unwrap();
        let crl = ca.build_crl(&list, &CrlParams::new(1, recent)).unwrap();
        let pki = Pki {
            now,
            rogue_server: issue(&rogue_ca, SERVER_ID, Usage::Server, recent, life),
            rogue_client: issue(&rogue_ca, CLIENT_ID, Usage::Client, recent, life),
            expired_server: issue(&ca, SERVER_ID, Usage::Server, expired_at, life),
            expired_client: issue(&ca, CLIENT_ID, Usage::Client, expired_at, life),
            intruder_server: issue(&ca, INTRUDER_SERVER_ID, Usage::Server, recent, life),
            intruder_client: issue(&ca, INTRUDER_CLIENT_ID, Usage::Client, recent, life),
            crl_der: crl.der().to_vec(),
            ca,
            rogue_ca,
            server,
            client,
            revoked_server,
            revoked_client,
            dir: tempfile::tempdir().unwrap(),
        };
        pki.write_files();
        pki
    }

    fn write_files(&self) {
        let w = |name: &str, body: &str| std::fs::write(self.dir.path().join(name), body).unwrap();
        w("ca.pem", &self.ca.certificate_pem());
        w(
            "crl.pem",
            &meshtls_core::Crl::from_pem_or_der(&self.crl_der)
                .unwrap()
                .to_pem(),
        );
        for (name, issued) in self.leaves() {
            w(&format!("{name}.pem"), &issued.chain_pem);
            w(&format!("{name}.key"), issued.key_pem.as_deref().unwrap());
        }
    }

    pub fn leaves(&self) -> Vec<(&'static str, &Issued)> {
        vec![
            ("server", &self.server),
            ("client", &self.client),
            ("rogue_server", &self.rogue_server),
            ("rogue_client", &self.rogue_client),
            ("expired_server", &self.expired_server),
            ("expired_client", &self.expired_client),
            ("revoked_server", &self.revoked_server),
            ("revoked_client", &self.revoked_client),
            ("intruder_server", &self.intruder_server),
            ("intruder_client", &self.intruder_client),
        ]
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn bundle(&self) -> TrustBundle {
        let mut b = TrustBundle::from_pem(self.ca.certificate_pem().as_bytes()).unwrap();
        b.add_crl(&self.crl_der).unwrap();
        b
    }

    /// What a server trusts: our CA (with its CRL), only the agent client.
    pub fn server_trust(&self) -> TrustHandle {
        let policy = Policy::builder().allow_id(id(CLIENT_ID)).build().unwrap();
        TrustHandle::new(Verifier::new(self.bundle(), policy))
    }

    /// What a client trusts: our CA (with its CRL), only the api server.
    pub fn client_trust(&self) -> TrustHandle {
        let policy = Policy::builder().allow_id(id(SERVER_ID)).build().unwrap();
        TrustHandle::new(Verifier::new(self.bundle(), policy))
    }

    pub fn identity(issued: &Issued) -> IdentityHandle {
        IdentityHandle::new(Identity::from_issued(issued).unwrap())
    }

    pub fn client_with(&self, issued: &Issued) -> MtlsClient {
        MtlsClient::builder(Self::identity(issued), self.client_trust())
            .handshake_timeout(WAIT)
            .build()
            .unwrap()
    }
}

/// A server whose handshake failures arrive on a channel.
pub fn server_with(
    identity: IdentityHandle,
    trust: TrustHandle,
) -> (MtlsServer, mpsc::UnboundedReceiver<HandshakeFailure>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = MtlsServer::builder(identity, trust)
        .on_handshake_error(move |f| {
            let _ = tx.send(HandshakeFailure {
                peer_addr: f.peer_addr,
                error: std::io::Error::new(f.error.kind(), ErrorMessage::of(&f.error)),
            });
        })
        .build()
        .unwrap();
    (server, rx)
}

/// io::Error is not Clone: keep the core code by re-wrapping the core error when there is one.
struct ErrorMessage;
impl ErrorMessage {
    fn of(e: &std::io::Error) -> Box<dyn std::error::Error + Send + Sync> {
        match meshtls_net::error_code(e) {
            Some(code) => Box::new(meshtls_net::error::to_rustls(meshtls_core::Error::new(
                code,
                e.to_string(),
            ))),
            None => e.to_string().into(),
        }
    }
}

pub async fn next_failure(rx: &mut mpsc::UnboundedReceiver<HandshakeFailure>) -> HandshakeFailure {
    within("a handshake failure report", rx.recv())
        .await
        .expect("failure channel open")
}

/// Serve an echo: each line comes back prefixed with `echo:`; peers go to `peers`.
pub fn spawn_echo(
    mut listener: meshtls_net::MtlsListener,
    peers: mpsc::UnboundedSender<meshtls_core::PeerIdentity>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(stream) = listener.accept().await {
            if let Some(p) = stream.peer_identity() {
                let _ = peers.send(p.clone());
            }
            tokio::spawn(echo_lines(stream));
        }
    })
}

pub async fn echo_lines(stream: MtlsStream) {
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if w.write_all(format!("echo:{line}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        let _ = w.flush().await;
    }
}

/// Send one line, read one line back.
pub async fn roundtrip(stream: &mut MtlsStream, line: &str) -> std::io::Result<String> {
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    stream.flush().await?;
    let mut reader = BufReader::new(stream);
    let mut out = String::new();
    reader.read_line(&mut out).await?;
    if out.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(out.trim_end().to_owned())
}

pub fn code_of(e: &std::io::Error) -> Option<ErrorCode> {
    meshtls_net::error_code(e)
}

/// Whether a command is on PATH (the interop tests skip, saying why, when a peer is missing).
pub fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("peers")
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
