//! `meshtls probe`: connect to a server with mTLS and print its verified identity.
//!
//! The handshake and the verdict are meshtls-net's and the core's; this module builds the
//! client from files and flags, runs one connection on a small runtime, and reports.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use meshtls_core::validity::parse_duration;
use meshtls_core::{ErrorCode, PeerIdentity};
use meshtls_net::{Identity, IdentityHandle, MtlsClient, TrustHandle};
use serde::Serialize;

use crate::error::{CliError, InFile};
use crate::files;
use crate::issue;
use crate::output::{self, Fields};
use crate::verify::{self, PeerOut};

/// `probe`
#[derive(Debug, Args)]
#[command(after_help = "\
Presents DIR/chain.pem with DIR/key.pem, verifies the server with the core (serverAuth, the
bundle, the policy), completes the WebSocket upgrade for wss:// (or only the TLS handshake
for tls://), prints the server's identity and closes. TLS 1.3 only unless --tls12.

Policy: as for `meshtls verify`: with no --allow-id, --allow-dns or --pin, any identity in the
trust domain(s) of the bundle's CAs is allowed.

Exit codes: 0 server accepted, 1 server rejected, or our certificate refused by the server (the
code says why; for a refusal it is the server's TLS alert: expired, revoked, unknown_issuer,
identity_not_allowed...), 2 bad input, 3 I/O or connection failure (also for a refusal whose
alert names no reason). Neither path reports ok before the server's verdict on our
certificate: a wss:// probe has it with the upgrade's answer, a tls:// probe waits up to 0.5 s
after a TLS 1.3 handshake for an alert (a server that stays silent or closes cleanly within
that time has not refused us).
See `meshtls --help`.")]
pub struct ProbeArgs {
    /// wss://host:port/path (mTLS + WebSocket upgrade) or tls://host:port (mTLS handshake only).
    #[arg(value_name = "URL")]
    url: String,
    /// Our certificate directory: chain.pem and key.pem, as `meshtls issue` writes them.
    #[arg(long, value_name = "DIR")]
    cert: PathBuf,
    /// The bundle, CRLs and policy that decide whether the server is acceptable.
    #[command(flatten)]
    trust: verify::TrustArgs,
    /// Give up after this long (TCP connect, handshake and upgrade), e.g. 10s (default).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Also offer TLS 1.2 (ECDHE + AEAD suites only).
    #[arg(long)]
    tls12: bool,
}

/// How long a tls:// probe waits for the server's verdict on our certificate.
const VERDICT_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Serialize)]
struct ProbeOut {
    ok: bool,
    url: String,
    protocol: Option<String>,
    key_exchange_group: Option<String>,
    peer: PeerOut,
}

fn io_error(e: &std::io::Error) -> CliError {
    let code = meshtls_net::error_code(e).unwrap_or(ErrorCode::Io);
    CliError::new(code, e.to_string())
}

/// `tls://host:port` → (host, port); brackets around IPv6 addresses are dropped.
fn host_port(rest: &str) -> Result<(String, u16), CliError> {
    let bad = || CliError::invalid(format!("tls://{rest}: expected tls://host:port"));
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Our identity from a certificate directory (DIR/chain.pem, DIR/key.pem as `meshtls issue`
/// writes them), each file named in the error when it is missing or malformed.
pub fn load_identity(dir: &Path) -> Result<Identity, CliError> {
    let chain_path = dir.join(issue::CHAIN_FILE);
    let key_path = dir.join(issue::KEY_FILE);
    let chain = files::read(&chain_path)?;
    meshtls_core::encoding::parse_certificates(&chain).in_file(&chain_path)?;
    let key = files::read(&key_path)?;
    meshtls_core::encoding::parse_private_key(&key).in_file(&key_path)?;
    Identity::from_pem(&chain, &key).in_file(dir)
}

/// Runs `probe`.
pub fn run(a: &ProbeArgs, json: bool) -> Result<(), CliError> {
    let verifier = a.trust.verifier()?;
    let identity = load_identity(&a.cert)?;
    let client = MtlsClient::builder(IdentityHandle::new(identity), TrustHandle::new(verifier))
        .allow_tls12(a.tls12)
        .handshake_timeout(a.timeout)
        .build()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(ErrorCode::Internal, format!("runtime: {e}")))?;
    let (peer, protocol, group): (PeerIdentity, Option<String>, Option<String>) = runtime
        .block_on(async {
            if let Some(rest) = a.url.strip_prefix("tls://") {
                let (host, port) = host_port(rest)?;
                // In TLS 1.3 the server judges our certificate after our side of the handshake
                // is done: meshtls-net waits for its verdict (an alert carries the code).
                let wait = VERDICT_WAIT.min(a.timeout);
                let stream = client
                    .connect_verified((host.as_str(), port), &host, wait)
                    .await
                    .map_err(|e| io_error(&e))?;
                let peer = stream.peer_identity().cloned().ok_or_else(|| {
                    CliError::new(ErrorCode::Internal, "server verified without identity")
                })?;
                Ok::<_, CliError>((
                    peer,
                    stream.protocol_version().map(|v| format!("{v:?}")),
                    stream.key_exchange_group().map(|g| format!("{g:?}")),
                ))
            } else if a.url.starts_with("wss://") {
                let work = meshtls_net::ws::connect(&client, &a.url);
                let (mut ws, peer) = tokio::time::timeout(a.timeout, work)
                    .await
                    .map_err(|_| CliError::new(ErrorCode::Io, "timed out"))?
                    .map_err(|e| io_error(&e))?;
                let tls = ws.get_ref();
                let protocol = tls.protocol_version().map(|v| format!("{v:?}"));
                let group = tls.key_exchange_group().map(|g| format!("{g:?}"));
                // A polite goodbye; the verdict is already in.
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                Ok((peer, protocol, group))
            } else {
                Err(CliError::invalid(format!(
                    "{}: use wss://host:port/path or tls://host:port",
                    a.url
                )))
            }
        })?;
    let out = ProbeOut {
        ok: true,
        url: a.url.clone(),
        protocol,
        key_exchange_group: group,
        peer: PeerOut::from(&peer),
    };
    output::emit(json, &out, || {
        let mut f = Fields::new();
        f.add("url", &out.url);
        if let Some(p) = &out.protocol {
            f.add("protocol", p);
        }
        if let Some(g) = &out.key_exchange_group {
            f.add("key exchange", g);
        }
        format!("ok: server verified\n{}{}", f.render(2), out.peer.render(2))
    })
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            host_port("localhost:8443").ok(),
            Some(("localhost".into(), 8443))
        );
        assert_eq!(host_port("[::1]:443/").ok(), Some(("::1".into(), 443)));
        for bad in ["localhost", ":443", "host:port", "host:70000"] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }
}
