//! `directory`, the Rust service of the polyglot mesh demo (`examples/mesh/run.sh`).
//!
//! ```sh
//! MESHTLS_CA_PASSPHRASE=... mesh-directory CA_DIR CRL_FILE [MAX_SECONDS]
//! ```
//!
//! Loads the CA of `CA_DIR` (`ca.crt`, encrypted `ca.key`), issues its own identity
//! `spiffe://mesh.internal/service/directory` with the Rust core, and serves two listeners:
//! - `wss://` mTLS for the Node gateway (policy: `…/service/gateway` only);
//! - plain mTLS lines, TLS 1.2 allowed, for the .NET node on Mono (policy: `…/service/node`),
//!   because Mono has no `ClientWebSocket` with client certificates.
//!
//! When `CRL_FILE` appears or changes, both verifiers are rebuilt with it (new handshakes only).
//! Output, one line each: `issued ID serial HEX`, `listening wss PORT`, `listening tls PORT`,
//! `accepted wss|tls ID serial HEX VERSION`, `crl loaded`, `refused wss|tls CODE (detail)` with
//! the core's error code (`tls` when the core was not asked). Exits after MAX_SECONDS (120).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use meshtls_core::{Authority, IssueRequest, Policy, SpiffeId, Timestamp, TrustBundle, Verifier};
use meshtls_net::{
    Identity, IdentityHandle, MtlsListener, MtlsServer, MtlsStream, TrustHandle, WsListener,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ID: &str = "spiffe://mesh.internal/service/directory";
const GATEWAY: &str = "spiffe://mesh.internal/service/gateway";
const NODE: &str = "spiffe://mesh.internal/service/node";

fn now() -> Result<Timestamp, BoxError> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    Ok(Timestamp::from_unix(i64::try_from(secs)?))
}

/// A verifier trusting `ca_pem` (plus the CRL, when there is one) for exactly `allowed`.
fn verifier(ca_pem: &[u8], crl: Option<&[u8]>, allowed: &str) -> Result<Verifier, BoxError> {
    let mut bundle = TrustBundle::from_pem(ca_pem)?;
    if let Some(crl) = crl {
        bundle.add_crl(crl)?;
    }
    let policy = Policy::builder()
        .allow_id(SpiffeId::parse(allowed)?)
        .build()?;
    Ok(Verifier::new(bundle, policy))
}

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

/// Reloads both verifiers when `crl_file` appears or changes.
async fn watch_crl(crl_file: PathBuf, ca_pem: Vec<u8>, handles: Vec<(TrustHandle, &'static str)>) {
    let mut seen: Option<Vec<u8>> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(crl) = std::fs::read(&crl_file) else {
            continue;
        };
        if seen.as_ref() == Some(&crl) {
            continue;
        }
        let mut ok = true;
        for (handle, allowed) in &handles {
            match verifier(&ca_pem, Some(&crl), allowed) {
                Ok(v) => handle.replace(v),
                Err(e) => {
                    println!("crl refused: {e}");
                    ok = false;
                }
            }
        }
        if ok {
            println!("crl loaded");
        }
        seen = Some(crl);
    }
}

async fn run(ca_dir: &Path, crl_file: PathBuf) -> Result<(), BoxError> {
    let passphrase = std::env::var("MESHTLS_CA_PASSPHRASE")?;
    let ca_pem = std::fs::read(ca_dir.join("ca.crt"))?;
    let ca = Authority::from_pem(
        &ca_pem,
        &std::fs::read(ca_dir.join("ca.key"))?,
        Some(&passphrase),
    )?;
    let issued = ca.issue(
        &IssueRequest::new(SpiffeId::parse(ID)?)
            .with_dns(["localhost"])
            .with_lifetime(Duration::from_secs(3600)),
        now()?,
    )?;
    let identity = IdentityHandle::new(Identity::from_issued(&issued)?);
    println!(
        "issued {ID} serial {}",
        identity.current().leaf()?.serial.to_hex()
    );

    let wss_trust = TrustHandle::new(verifier(&ca_pem, None, GATEWAY)?);
    let tls_trust = TrustHandle::new(verifier(&ca_pem, None, NODE)?);
    let wss = WsListener::bind("127.0.0.1:0", server(&identity, &wss_trust, "wss")?).await?;
    let tls = MtlsListener::bind("127.0.0.1:0", server(&identity, &tls_trust, "tls")?).await?;
    println!("listening wss {}", wss.local_addr().port());
    println!("listening tls {}", tls.local_addr().port());
    tokio::spawn(watch_crl(
        crl_file,
        ca_pem,
        vec![(wss_trust, GATEWAY), (tls_trust, NODE)],
    ));
    tokio::join!(serve_wss(wss), serve_tls(tls));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ca_dir), Some(crl)) = (args.first(), args.get(1)) else {
        return Err("usage: mesh-directory CA_DIR CRL_FILE [MAX_SECONDS]".into());
    };
    let max: u64 = args.get(2).map_or(Ok(120), |s| s.parse())?;
    match tokio::time::timeout(
        Duration::from_secs(max),
        run(Path::new(ca_dir), PathBuf::from(crl)),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => {
            println!("directory: time is up ({max} s), exiting");
            Ok(())
        }
    }
}
