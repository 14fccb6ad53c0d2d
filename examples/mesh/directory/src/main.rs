//! `directory`, the Rust service of the polyglot mesh demo (`examples/mesh/run.sh`).
//!
//! ```sh
//! MESHTLS_JOIN_TOKEN=... mesh-directory CA_URL CA_BUNDLE [MAX_SECONDS]
//! ```
//!
//! Enrolls `spiffe://mesh.internal/service/directory` at the CA service `CA_URL` with a one-time
//! join token (`meshtls_net::enroll`: the key is made here, only a CSR leaves), trusting the
//! service through `CA_BUNDLE` (the CA's `ca.crt`; no CA key, no passphrase). The enrolled
//! identity renews itself and its trust (bundle + CRL) is fetched again every second. Two
//! listeners on that identity, each with a trust of its own policy on the same bundle and CRL
//! (`EnrolledIdentity::trust_for`):
//! - `wss://` mTLS for the Node gateway, which admits the gateway only;
//! - plain mTLS lines, TLS 1.2 allowed, for the .NET node on Mono (Mono has no
//!   `ClientWebSocket` with client certificates), which admits the node only.
//!
//! Output, one line each: `enrolled ID serial HEX`, `listening wss PORT`, `listening tls PORT`,
//! `trust refreshed generation N (K CA, crl number X, R revoked)` when what the trust holds
//! changed, `accepted wss|tls ID serial HEX VERSION`, `refused wss|tls CODE (detail)` with the
//! core's error code (`tls` when the core was not asked). Exits after MAX_SECONDS (120).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshtls_core::{Policy, SpiffeId, Verifier};
use meshtls_net::enroll::{enroll, EnrollOptions};
use meshtls_net::{IdentityHandle, MtlsListener, MtlsServer, MtlsStream, TrustHandle, WsListener};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ID: &str = "spiffe://mesh.internal/service/directory";
const GATEWAY: &str = "spiffe://mesh.internal/service/gateway";
const NODE: &str = "spiffe://mesh.internal/service/node";

fn server(
    identity: &IdentityHandle,
    trust: &TrustHandle,
    name: &'static str,
) -> Result<MtlsServer, BoxError> {
    Ok(MtlsServer::builder(identity.clone(), trust.clone())
        .allow_tls12(true)
        .handshake_timeout(Duration::from_secs(5))
        .on_handshake_error(move |f| {
            let code = f.code().map_or("tls", |c| c.as_str());
            println!("refused {name} {code} ({})", f.error);
        })
        .build()?)
}

fn describe(stream: &MtlsStream) -> String {
    let peer = stream.peer_identity();
    let id = peer
        .and_then(|p| p.spiffe_id.as_ref())
        .map_or_else(|| "?".to_string(), ToString::to_string);
    let serial = peer.map_or_else(String::new, |p| p.serial.to_hex());
    let version = stream
        .protocol_version()
        .map_or_else(|| "?".to_string(), |v| format!("{v:?}"));
    format!("{id} serial {serial} {version}")
}

/// The directory's one service: who is where.
fn lookup(name: &str) -> String {
    match name.trim() {
        "agent" => "agent -> python, behind the gateway".into(),
        "gateway" => "gateway -> node.js, wss".into(),
        "node" => "node -> .net on mono, tls 1.2".into(),
        "directory" => "directory -> rust, wss + tls".into(),
        other => format!("{other} -> unknown"),
    }
}

async fn serve_wss(mut listener: WsListener) {
    while let Ok((mut socket, peer)) = listener.accept().await {
        let stream = socket.get_ref();
        let who = describe(stream);
        let id = peer
            .identity()
            .and_then(|p| p.spiffe_id.as_ref())
            .map_or_else(|| "?".to_string(), ToString::to_string);
        println!("accepted wss {who}");
        tokio::spawn(async move {
            while let Some(Ok(msg)) = socket.next().await {
                if let Ok(text) = msg.to_text() {
                    if !msg.is_text() {
                        continue;
                    }
                    let name = text.strip_prefix("lookup ").unwrap_or(text);
                    let reply = format!("directory to {id}: {}", lookup(name));
                    if socket.send(Message::text(reply)).await.is_err() {
                        break;
                    }
                }
            }
        });
    }
}

async fn serve_tls(mut listener: MtlsListener) {
    while let Ok(stream) = listener.accept().await {
        let who = describe(&stream);
        let id = who.split(' ').next().unwrap_or("?").to_string();
        println!("accepted tls {who}");
        tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(stream);
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let name = line.strip_prefix("lookup ").unwrap_or(&line);
                let reply = format!("directory to {id}: {}\n", lookup(name));
                if write.write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// What a refresh can change: the CA list and the CRLs.
fn held(verifier: &Verifier) -> String {
    let bundle = verifier.bundle();
    let numbers: Vec<String> = bundle
        .crls()
        .iter()
        .map(|c| c.number.map_or_else(|| "-".to_string(), |n| n.to_string()))
        .collect();
    let revoked: usize = bundle.crls().iter().map(|c| c.revoked_count).sum();
    format!(
        "{} CA, crl number {}, {revoked} revoked",
        bundle.len(),
        if numbers.is_empty() {
            "none".to_string()
        } else {
            numbers.join("+")
        }
    )
}

/// Reports each refresh of `trust` that changed what it holds (the schedule replaces the
/// verifier when the service's bundle or CRL changed).
async fn report_refreshes(trust: TrustHandle) {
    let mut last = String::new();
    loop {
        let generation = trust.generation();
        let now = held(&trust.current());
        if now != last {
            println!("trust refreshed generation {generation} ({now})");
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(url: &str, bundle_pem: String, token: &str) -> Result<(), BoxError> {
    let id = SpiffeId::parse(ID)?;
    let mut options = EnrollOptions::new(bundle_pem);
    options.dns_names = vec!["localhost".to_string()];
    options.peer_policy = Some(
        Policy::builder()
            .allow_id(SpiffeId::parse(GATEWAY)?)
            .allow_id(SpiffeId::parse(NODE)?)
            .build()?,
    );
    options.refresh_every = Duration::from_secs(1);
    let node = enroll(url, token, &id, options).await?;
    let identity = node.identity();
    println!(
        "enrolled {ID} serial {}",
        identity.current().leaf()?.serial.to_hex()
    );

    let trust = node.trust();
    let only = |id: &str| -> Result<TrustHandle, BoxError> {
        let policy = Policy::builder().allow_id(SpiffeId::parse(id)?).build()?;
        Ok(node.trust_for(policy))
    };
    let wss_trust = only(GATEWAY)?;
    let tls_trust = only(NODE)?;
    let wss = WsListener::bind("127.0.0.1:0", server(&identity, &wss_trust, "wss")?).await?;
    let tls = MtlsListener::bind("127.0.0.1:0", server(&identity, &tls_trust, "tls")?).await?;
    println!("listening wss {}", wss.local_addr().port());
    println!("listening tls {}", tls.local_addr().port());
    tokio::spawn(report_refreshes(trust));
    tokio::join!(serve_wss(wss), serve_tls(tls));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(bundle)) = (args.first(), args.get(1)) else {
        return Err(
            "usage: MESHTLS_JOIN_TOKEN=... mesh-directory CA_URL CA_BUNDLE [MAX_SECONDS]".into(),
        );
    };
    let max: u64 = args.get(2).map_or(Ok(120), |s| s.parse())?;
    let token = std::env::var("MESHTLS_JOIN_TOKEN")
        .map_err(|_| "MESHTLS_JOIN_TOKEN is not set (mint one with `meshtls admin token`)")?;
    let bundle_pem = std::fs::read_to_string(bundle)?;
    match tokio::time::timeout(Duration::from_secs(max), run(url, bundle_pem, &token)).await {
        Ok(result) => result,
        Err(_) => {
            println!("directory: time is up ({max} s), exiting");
            Ok(())
        }
    }
}
