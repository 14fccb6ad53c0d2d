//! Handshakes per second and wss echo messages per second over loopback, with Go's crypto/tls
//! as the baseline in the same run.
//!
//! ```sh
//! cargo bench -p meshtls-net --bench handshake
//! MESHTLS_BENCH_SECS=10 MESHTLS_BENCH_CONC=8 cargo bench -p meshtls-net --bench handshake
//! ```
//!
//! Each figure: server and clients in one process on a 2-worker tokio runtime (the Go program
//! likewise runs both in one process), TLS 1.3, ECDSA P-256 leaves, client certificates
//! required, the server's policy one SPIFFE ID, a 1-byte echo after each handshake so both sides
//! have finished. "full" is a new connection without resumption each time; "resumed" lets the
//! client resume. The Go baseline (net/benches/go) is skipped with a note when `go` is missing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use meshtls_core::{
    Authority, IssueRequest, Issued, Policy, RootParams, SpiffeId, Timestamp, TrustBundle,
    TrustDomain, Usage, Verifier,
};
use meshtls_net::{
    ws, Identity, IdentityHandle, MtlsClient, MtlsListener, MtlsServer, TrustHandle, WsListener,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const SERVER_ID: &str = "spiffe://mesh.internal/service/api";
const CLIENT_ID: &str = "spiffe://mesh.internal/client/agent";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Pki {
    ca: Authority,
    server: Issued,
    client: Issued,
}

fn pki() -> Result<Pki, BoxError> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let now = Timestamp::from_unix(secs as i64 - 60);
    let ca = Authority::create_root(&RootParams::new(TrustDomain::new("mesh.internal")?), now)?;
    let leaf = |id: &str, usage| {
        ca.issue(
            &IssueRequest::new(SpiffeId::parse(id)?)
                .with_dns(["localhost"])
                .with_usage(usage)
                .with_lifetime(Duration::from_secs(86_400)),
            now,
        )
    };
    let server = leaf(SERVER_ID, Usage::Server)?;
    let client = leaf(CLIENT_ID, Usage::Client)?;
    Ok(Pki { ca, server, client })
}

fn trust(pki: &Pki, allow: &str) -> Result<TrustHandle, BoxError> {
    let bundle = TrustBundle::from_pem(pki.ca.certificate_pem().as_bytes())?;
    let policy = Policy::builder()
        .allow_id(SpiffeId::parse(allow)?)
        .build()?;
    Ok(TrustHandle::new(Verifier::new(bundle, policy)))
}

async fn handshakes(
    pki: &Pki,
    resumption: bool,
    secs: u64,
    conc: u64,
) -> Result<(u64, u64, f64), BoxError> {
    let server = MtlsServer::builder(
        IdentityHandle::new(Identity::from_issued(&pki.server)?),
        trust(pki, CLIENT_ID)?,
    )
    .build()?;
    let mut listener = MtlsListener::bind("127.0.0.1:0", server).await?;
    let addr = listener.local_addr();
    tokio::spawn(async move {
        while let Ok(mut s) = listener.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 1];
                if s.read_exact(&mut b).await.is_ok() {
                    let _ = s.write_all(&b).await;
                    let _ = s.flush().await;
                }
            });
        }
    });
    let client = MtlsClient::builder(
        IdentityHandle::new(Identity::from_issued(&pki.client)?),
        trust(pki, SERVER_ID)?,
    )
    .resumption(resumption)
    .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (done, resumed, failed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, stop, done, resumed, failed) = (
            client.clone(),
            stop.clone(),
            done.clone(),
            resumed.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = async {
                    let mut s = client.connect(addr, "localhost").await?;
                    let mut b = [7u8; 1];
                    s.write_all(&b).await?;
                    s.flush().await?;
                    s.read_exact(&mut b).await?;
                    Ok::<_, std::io::Error>(s.resumed())
                }
                .await;
                match r {
                    Ok(r) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        if r {
                            resumed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    if failed.load(Ordering::Relaxed) > 0 {
        eprintln!("  ({} failed handshakes)", failed.load(Ordering::Relaxed));
    }
    Ok((n, resumed.load(Ordering::Relaxed), n as f64 / elapsed))
}

async fn ws_echo(pki: &Pki, secs: u64) -> Result<f64, BoxError> {
    let server = MtlsServer::builder(
        IdentityHandle::new(Identity::from_issued(&pki.server)?),
        trust(pki, CLIENT_ID)?,
    )
    .build()?;
    let mut listener = WsListener::bind("127.0.0.1:0", server).await?;
    let port = listener.local_addr().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _peer)) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(Ok(m)) = socket.next().await {
                    if m.is_binary() && socket.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let client = MtlsClient::builder(
        IdentityHandle::new(Identity::from_issued(&pki.client)?),
        trust(pki, SERVER_ID)?,
    )
    .build()?;
    let (mut socket, _) = ws::connect(&client, &format!("wss://localhost:{port}/")).await?;
    let payload = vec![0x5a; 64];
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        socket.send(Message::binary(payload.clone())).await?;
        match socket.next().await {
            Some(Ok(_)) => n += 1,
            other => return Err(format!("echo failed: {other:?}").into()),
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn go_baseline(pki: &Pki, resume: bool, secs: u64, conc: u64) -> Result<String, BoxError> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("ca.pem"), pki.ca.certificate_pem())?;
    for (name, issued) in [("server", &pki.server), ("client", &pki.client)] {
        std::fs::write(dir.path().join(format!("{name}.pem")), &issued.chain_pem)?;
        std::fs::write(
            dir.path().join(format!("{name}.key")),
            issued.key_pem.as_deref().unwrap_or_default(),
        )?;
    }
    let bin = dir.path().join("go-baseline");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/go");
    let built = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(src)
        .status();
    match built {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("go build failed: {s}").into()),
        Err(e) => {
            return Err(format!("go not available ({e}); run scripts/ci/install-deps").into())
        }
    }
    let out = std::process::Command::new(&bin)
        .arg(format!("-dir={}", dir.path().display()))
        .arg(format!("-client-id={CLIENT_ID}"))
        .arg(format!("-duration={secs}s"))
        .arg(format!("-conc={conc}"))
        .arg(format!("-resume={resume}"))
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() -> Result<(), BoxError> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let secs = env_num("MESHTLS_BENCH_SECS", 5);
    let conc = env_num("MESHTLS_BENCH_CONC", 4);
    let pki = pki()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "meshtls-net handshake bench: {secs} s per figure, {conc} concurrent clients, loopback"
    );
    let (n, _, rate) = rt.block_on(handshakes(&pki, false, secs, conc))?;
    println!("rust  mTLS full handshakes:    {rate:>9.1}/s  ({n} in {secs} s)");
    let (n, r, rate) = rt.block_on(handshakes(&pki, true, secs, conc))?;
    println!("rust  mTLS with resumption:    {rate:>9.1}/s  ({n}, {r} resumed)");
    match go_baseline(&pki, false, secs, conc) {
        Ok(line) => println!("go    crypto/tls full:         {line}"),
        Err(e) => println!("go    baseline skipped: {e}"),
    }
    match go_baseline(&pki, true, secs, conc) {
        Ok(line) => println!("go    crypto/tls resumption:   {line}"),
        Err(e) => println!("go    baseline skipped: {e}"),
    }
    let rate = rt.block_on(ws_echo(&pki, secs))?;
    println!("rust  wss echo, one connection: {rate:>9.1} msgs/s (64-byte binary, round trips)");
    Ok(())
}
