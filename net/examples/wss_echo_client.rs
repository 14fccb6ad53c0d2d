//! An mTLS WebSocket client for `wss_echo_server`.
//!
//! ```sh
//! cargo run -p meshtls-net --example wss_echo_client -- DIR [URL] [MESSAGE]
//! ```
//!
//! DIR holds `ca.pem`, `client.pem` (chain) and `client.key`. The server must prove the SPIFFE
//! ID `spiffe://mesh.internal/service/echo`.

use std::path::PathBuf;

use futures_util::{SinkExt, StreamExt};
use meshtls_core::{Policy, SpiffeId, TrustBundle, Verifier};
use meshtls_net::{ws, Identity, IdentityHandle, MtlsClient, TrustHandle};
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: wss_echo_client DIR [URL] [MESSAGE]")?,
    );
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "wss://localhost:8443/".into());
    let message = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "hello over mTLS".into());

    let identity = Identity::from_pem(
        &std::fs::read(dir.join("client.pem"))?,
        &std::fs::read(dir.join("client.key"))?,
    )?;
    let bundle = TrustBundle::from_pem(&std::fs::read(dir.join("ca.pem"))?)?;
    let policy = Policy::builder()
        .allow_id(SpiffeId::parse("spiffe://mesh.internal/service/echo")?)
        .build()?;
    let client = MtlsClient::builder(
        IdentityHandle::new(identity),
        TrustHandle::new(Verifier::new(bundle, policy)),
    )
    .build()?;

    let (mut socket, server) = match ws::connect(&client, &url).await {
        Ok(ok) => ok,
        Err(e) => {
            // The core's code tells why the server was refused (unknown_issuer, expired...).
            eprintln!(
                "connect failed: {e} (code: {:?})",
                meshtls_net::error_code(&e)
            );
            std::process::exit(1);
        }
    };
    println!(
        "connected to {}",
        server
            .spiffe_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    socket.send(Message::text(message)).await?;
    if let Some(reply) = socket.next().await {
        println!("echo: {}", reply?.into_text()?);
    }
    socket.close(None).await?;
    Ok(())
}
