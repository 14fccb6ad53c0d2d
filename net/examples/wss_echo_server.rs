//! An mTLS WebSocket echo server.
//!
//! ```sh
//! cargo run -p meshtls-net --example wss_echo_server -- DIR [ADDR]
//! ```
//!
//! DIR holds `ca.pem`, `server.pem` (chain) and `server.key`; with `--init` the example writes
//! a fresh CA, server and client into DIR first (for trying it out). Clients must present a
//! certificate from that CA with a SPIFFE ID under `spiffe://mesh.internal/client/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use meshtls_core::{
    Authority, IdPattern, IssueRequest, Policy, RootParams, SpiffeId, Timestamp, TrustBundle,
    TrustDomain, Usage, Verifier,
};
use meshtls_net::{Identity, IdentityHandle, MtlsServer, TrustHandle, WsListener, WsPeer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Write a CA, a server leaf and a client leaf into `dir` (demo only: the CA key is not kept).
fn init(dir: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let now = Timestamp::from_unix(i64::try_from(secs)?);
    let ca = Authority::create_root(&RootParams::new(TrustDomain::new("mesh.internal")?), now)?;
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem())?;
    for (name, id, usage) in [
        (
            "server",
            "spiffe://mesh.internal/service/echo",
            Usage::Server,
        ),
        (
            "client",
            "spiffe://mesh.internal/client/demo",
            Usage::Client,
        ),
    ] {
        let issued = ca.issue(
            &IssueRequest::new(SpiffeId::parse(id)?)
                .with_dns(["localhost"])
                .with_usage(usage)
                .with_lifetime(Duration::from_secs(86_400)),
            now,
        )?;
        std::fs::write(dir.join(format!("{name}.pem")), &issued.chain_pem)?;
        std::fs::write(
            dir.join(format!("{name}.key")),
            issued.key_pem.unwrap_or_default(),
        )?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--init") {
        args.remove(0);
        let dir = PathBuf::from(
            args.first()
                .ok_or("usage: wss_echo_server [--init] DIR [ADDR]")?,
        );
        init(&dir)?;
    }
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: wss_echo_server [--init] DIR [ADDR]")?,
    );
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8443".into());

    let identity = Identity::from_pem(
        &std::fs::read(dir.join("server.pem"))?,
        &std::fs::read(dir.join("server.key"))?,
    )?;
    let bundle = TrustBundle::from_pem(&std::fs::read(dir.join("ca.pem"))?)?;
    let policy = Policy::builder()
        .allow_pattern(IdPattern::parse("spiffe://mesh.internal/client/*")?)
        .build()?;
    let server = MtlsServer::builder(
        IdentityHandle::new(identity),
        TrustHandle::new(Verifier::new(bundle, policy)),
    )
    .on_handshake_error(|f| eprintln!("refused: {f} (code: {:?})", f.code()))
    .build()?;

    let mut listener = WsListener::bind(&addr, server).await?;
    println!("listening on wss://{}", listener.local_addr());
    while let Ok((mut socket, peer)) = listener.accept().await {
        let who = match &peer {
            WsPeer::Mtls(p) => p
                .spiffe_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            WsPeer::Bearer(b) => format!("bearer:{}", b.subject),
        };
        println!("connected: {who}");
        tokio::spawn(async move {
            while let Some(Ok(msg)) = socket.next().await {
                if (msg.is_text() || msg.is_binary()) && socket.send(msg).await.is_err() {
                    break;
                }
            }
            println!("closed: {who}");
        });
    }
    Ok(())
}
