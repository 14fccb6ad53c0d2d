//! Resident memory per idle mTLS WebSocket connection.
//!
//! ```sh
//! cargo bench -p meshtls-net --bench ws_memory            # 5,000 connections
//! MESHTLS_BENCH_CONNS=10000 cargo bench -p meshtls-net --bench ws_memory
//! ```
//!
//! The bench re-runs itself as a child process holding only the server (a `WsListener` with a
//! task per connection waiting for the next message), raises RLIMIT_NOFILE in both processes,
//! opens N wss connections from the parent (full mTLS handshake + upgrade each, no resumption),
//! waits until the server has accepted all of them, and reads the child's VmRSS from /proc
//! before and after. The parent's own growth (the client side) is reported too.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use meshtls_core::{
    Authority, IssueRequest, Issued, Policy, RootParams, SpiffeId, Timestamp, TrustBundle,
    TrustDomain, Usage, Verifier,
};
use meshtls_net::{ws, Identity, IdentityHandle, MtlsClient, MtlsServer, TrustHandle, WsListener};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SERVER_ID: &str = "spiffe://mesh.internal/service/api";
const CLIENT_ID: &str = "spiffe://mesh.internal/client/agent";

fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".into())
}

fn raise_nofile(want: u64) -> Result<u64, BoxError> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    let soft = want.min(hard);
    rlimit::Resource::NOFILE.set(soft, hard)?;
    Ok(soft)
}

fn write_pki(dir: &std::path::Path) -> Result<(), BoxError> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let now = Timestamp::from_unix(secs as i64 - 60);
    let ca = Authority::create_root(&RootParams::new(TrustDomain::new("mesh.internal")?), now)?;
    let leaf = |id: &str, usage| -> Result<Issued, BoxError> {
        Ok(ca.issue(
            &IssueRequest::new(SpiffeId::parse(id)?)
                .with_dns(["localhost"])
                .with_usage(usage)
                .with_lifetime(Duration::from_secs(86_400)),
            now,
        )?)
    };
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem())?;
    for (name, issued) in [
        ("server", leaf(SERVER_ID, Usage::Server)?),
        ("client", leaf(CLIENT_ID, Usage::Client)?),
    ] {
        std::fs::write(dir.join(format!("{name}.pem")), &issued.chain_pem)?;
        std::fs::write(
            dir.join(format!("{name}.key")),
            issued.key_pem.unwrap_or_default(),
        )?;
    }
    Ok(())
}

fn load(
    dir: &std::path::Path,
    who: &str,
    allow: &str,
) -> Result<(IdentityHandle, TrustHandle), BoxError> {
    let identity = Identity::from_pem(
        &std::fs::read(dir.join(format!("{who}.pem")))?,
        &std::fs::read(dir.join(format!("{who}.key")))?,
    )?;
    let bundle = TrustBundle::from_pem(&std::fs::read(dir.join("ca.pem"))?)?;
    let policy = Policy::builder()
        .allow_id(SpiffeId::parse(allow)?)
        .build()?;
    Ok((
        IdentityHandle::new(identity),
        TrustHandle::new(Verifier::new(bundle, policy)),
    ))
}

/// The child: serve, print READY <port>, then ACCEPTED <n> as connections arrive.
fn server(dir: &std::path::Path, n: u64) -> Result<(), BoxError> {
    raise_nofile(n + 256)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (identity, trust) = load(dir, "server", CLIENT_ID)?;
        let server = MtlsServer::builder(identity, trust).build()?;
        let mut listener = WsListener::bind("127.0.0.1:0", server).await?;
        println!("READY {}", listener.local_addr().port());
        let mut accepted = 0u64;
        while let Ok((mut socket, _peer)) = listener.accept().await {
            accepted += 1;
            tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} });
            if accepted % 500 == 0 || accepted == n {
                println!("ACCEPTED {accepted}");
            }
        }
        Ok::<_, BoxError>(())
    })
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return Ok(());
    }
    let n: u64 = std::env::var("MESHTLS_BENCH_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    if let Some(pos) = args.iter().position(|a| a == "--server") {
        let dir = args.get(pos + 1).ok_or("--server DIR")?;
        return server(std::path::Path::new(dir), n);
    }
    let limit = raise_nofile(n + 256)?;
    if limit < n + 64 {
        return Err(
            format!("RLIMIT_NOFILE hard limit {limit} is too low for {n} connections").into(),
        );
    }
    let dir = tempfile::tempdir()?;
    write_pki(dir.path())?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--server")
        .arg(dir.path())
        .env("MESHTLS_BENCH_CONNS", n.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let port: u16 = loop {
        let line = lines.next().ok_or("server exited")??;
        if let Some(p) = line.strip_prefix("READY ") {
            break p.trim().parse()?;
        }
    };
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (identity, trust) = load(dir.path(), "client", SERVER_ID)?;
    let client = MtlsClient::builder(identity, trust)
        .resumption(false)
        .build()?;
    // Warm up: one connection so both sides have their runtime and TLS state allocated.
    let warm = rt.block_on(ws::connect(&client, &format!("wss://localhost:{port}/")))?;
    std::thread::sleep(Duration::from_millis(300));
    let server_before = rss_kib(pid)?;
    let client_before = rss_kib(std::process::id())?;
    let url = format!("wss://localhost:{port}/");
    let sockets = rt.block_on(async {
        let mut sockets = Vec::with_capacity(n as usize);
        for chunk in 0..n.div_ceil(100) {
            let mut batch = Vec::new();
            for _ in 0..100.min(n - chunk * 100) {
                let (client, url) = (client.clone(), url.clone());
                batch.push(tokio::spawn(
                    async move { ws::connect(&client, &url).await },
                ));
            }
            for b in batch {
                sockets.push(b.await??.0);
            }
        }
        Ok::<_, BoxError>(sockets)
    })?;
    // Wait for the server to report all of them (plus the warm-up one).
    loop {
        let line = lines.next().ok_or("server exited")??;
        if let Some(c) = line.strip_prefix("ACCEPTED ") {
            if c.trim().parse::<u64>()? >= n {
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let server_after = rss_kib(pid)?;
    let client_after = rss_kib(std::process::id())?;
    let per = |a: u64, b: u64| (a.saturating_sub(b) as f64) * 1024.0 / n as f64;
    println!("meshtls-net idle wss memory, {n} mTLS WebSocket connections over loopback");
    println!(
        "server RSS: {server_before} KiB -> {server_after} KiB = {:.0} bytes per connection",
        per(server_after, server_before)
    );
    println!(
        "client RSS: {client_before} KiB -> {client_after} KiB = {:.0} bytes per connection",
        per(client_after, client_before)
    );
    drop(sockets);
    drop(warm);
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
