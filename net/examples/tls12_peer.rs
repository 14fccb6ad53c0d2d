//! A TLS 1.2-capable mTLS peer, for interoperability tests with stacks that lack TLS 1.3
//! (Mono's `SslStream`, .NET Framework). Both modes opt in with `.allow_tls12(true)`.
//!
//! ```sh
//! cargo run -p meshtls-net --example tls12_peer -- --init DIR
//! cargo run -p meshtls-net --example tls12_peer -- server DIR 127.0.0.1:0 [ALLOWED]
//! cargo run -p meshtls-net --example tls12_peer -- client DIR 127.0.0.1:8443 [ALLOWED] [LINE]
//! ```
//!
//! DIR holds `ca.pem` (the trusted root) and `server.pem` + `server.key` or `client.pem` +
//! `client.key` (chain and PKCS#8 key); `--init` writes a throwaway CA and both leaves
//! (`spiffe://mesh.internal/service/server` and `…/service/client`) there. ALLOWED is an ID
//! pattern the peer must match (default: the other leaf's ID).
//!
//! Output, one line each, for scripts and tests to read:
//! - server: `listening PORT`, then per connection `accepted ID VERSION` and `echoed LINE`, or
//!   `refused CODE` (the core's error code, e.g. `unknown_issuer`; `tls` when none).
//! - client: `connected ID VERSION` and `echo LINE`, or `refused CODE` (exit status 1).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshtls_core::{
    Authority, IdPattern, IssueRequest, Policy, RootParams, SpiffeId, Timestamp, TrustBundle,
    TrustDomain, Verifier,
};
use meshtls_net::{Identity, IdentityHandle, MtlsClient, MtlsServer, MtlsStream, TrustHandle};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: tls12_peer --init DIR | server DIR ADDR [ALLOWED] | client DIR ADDR [ALLOWED] [LINE]";
const SERVER_ID: &str = "spiffe://mesh.internal/service/server";
const CLIENT_ID: &str = "spiffe://mesh.internal/service/client";

/// Write a CA, a server leaf and a client leaf into `dir` (demo only: the CA key is not kept).
fn init(dir: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let now = Timestamp::from_unix(i64::try_from(secs)?);
    let ca = Authority::create_root(&RootParams::new(TrustDomain::new("mesh.internal")?), now)?;
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem())?;
    for (name, id) in [("server", SERVER_ID), ("client", CLIENT_ID)] {
        let issued = ca.issue(
            &IssueRequest::new(SpiffeId::parse(id)?)
                .with_dns(["localhost"])
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

/// Identity `name`.pem/.key from `dir`, trusting `dir`/ca.pem for peers matching `allowed`.
fn load(dir: &Path, name: &str, allowed: &str) -> Result<(IdentityHandle, TrustHandle), BoxError> {
    let identity = Identity::from_pem(
        &std::fs::read(dir.join(format!("{name}.pem")))?,
        &std::fs::read(dir.join(format!("{name}.key")))?,
    )?;
    let bundle = TrustBundle::from_pem(&std::fs::read(dir.join("ca.pem"))?)?;
    let policy = Policy::builder()
        .allow_pattern(IdPattern::parse(allowed)?)
        .build()?;
    Ok((
        IdentityHandle::new(identity),
        TrustHandle::new(Verifier::new(bundle, policy)),
    ))
}

/// `ID VERSION` of a verified peer.
fn describe(stream: &MtlsStream) -> String {
    let id = stream
        .peer_identity()
        .and_then(|p| p.spiffe_id.as_ref())
        .map(ToString::to_string)
        .unwrap_or_else(|| "-".into());
    let version = stream
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "-".into());
    format!("{id} {version}")
}

/// The core's code for a failed handshake, or `tls` when the failure was not the core's.
fn code_of(e: &std::io::Error) -> &'static str {
    meshtls_net::error_code(e).map_or("tls", |c| c.as_str())
}

async fn serve(dir: &Path, addr: &str, allowed: &str) -> Result<(), BoxError> {
    let (identity, trust) = load(dir, "server", allowed)?;
    let server = MtlsServer::builder(identity, trust)
        .allow_tls12(true)
        .build()?;
    let tcp = TcpListener::bind(addr).await?;
    println!("listening {}", tcp.local_addr()?.port());
    loop {
        let (socket, _) = tcp.accept().await?;
        // One connection at a time: the output stays in order for whoever reads it.
        let mut stream = match server.accept(socket).await {
            Ok(s) => s,
            Err(e) => {
                println!("refused {}", code_of(&e));
                eprintln!("handshake failed: {e}");
                continue;
            }
        };
        println!("accepted {}", describe(&stream));
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            BufReader::new(&mut stream).read_line(&mut line).await
        })
        .await;
        if matches!(read, Ok(Ok(n)) if n > 0) {
            let echoed = stream.write_all(line.as_bytes()).await;
            let _ = stream.shutdown().await;
            if echoed.is_ok() {
                println!("echoed {}", line.trim_end());
            }
        }
    }
}

async fn connect(dir: &Path, addr: &str, allowed: &str, line: &str) -> Result<(), BoxError> {
    let (identity, trust) = load(dir, "client", allowed)?;
    let client = MtlsClient::builder(identity, trust)
        .allow_tls12(true)
        .build()?;
    let mut stream = match client.connect(addr, "localhost").await {
        Ok(s) => s,
        Err(e) => {
            println!("refused {}", code_of(&e));
            eprintln!("handshake failed: {e}");
            std::process::exit(1);
        }
    };
    println!("connected {}", describe(&stream));
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    stream.flush().await?;
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        BufReader::new(&mut stream).read_line(&mut reply).await
    })
    .await??;
    println!("echo {}", reply.trim_end());
    let _ = stream.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), arg(1), arg(2)) {
        (Some("--init"), Some(dir), _) => init(&PathBuf::from(dir)),
        (Some("server"), Some(dir), Some(addr)) => {
            serve(Path::new(dir), addr, arg(3).unwrap_or(CLIENT_ID)).await
        }
        (Some("client"), Some(dir), Some(addr)) => {
            let line = arg(4).unwrap_or("hello");
            connect(Path::new(dir), addr, arg(3).unwrap_or(SERVER_ID), line).await
        }
        _ => Err(USAGE.into()),
    }
}
