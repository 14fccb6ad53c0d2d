//! The hybrid `wss://` server with the built-in JWT-SVID check: certificate-less clients with a
//! token (header or subprotocol), bound tokens refused without the matching certificate, mTLS
//! clients whose token is checked against their certificate, a refreshed validator.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use meshtls_core::jwt::{JwtAlgorithm, JwtSigningKey, JwtValidator, SpiffeBundle, TokenRequest};
use meshtls_core::{ErrorCode, Issued, Policy};
use meshtls_net::jwt::{with_bearer, with_token_subprotocol, JWT_SUBPROTOCOL};
use meshtls_net::{ws, JwtAuth, MtlsServer, WsListener, WsPeer};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::Message;

type Seen = (WsPeer, Option<meshtls_core::jwt::TokenClaims>);

fn validator(key: &JwtSigningKey) -> JwtValidator {
    let mut bundle = SpiffeBundle::new(Some(td()));
    bundle.add_jwt_key(key.public_key().clone()).unwrap();
    let policy = Policy::builder().allow_trust_domain(td()).build().unwrap();
    JwtValidator::new(&bundle, policy, ["gateway"]).unwrap()
}

fn mint(key: &JwtSigningKey, sub: &str, aud: &str, bound: Option<&Issued>) -> String {
    let mut req = TokenRequest::new(id(sub), [aud]).ttl(Duration::from_secs(120));
    if let Some(cert) = bound {
        req = req.bind_to_certificate(&cert.cert_der);
    }
    key.mint(&req, wall_now()).unwrap().token
}

/// A hybrid server with JWT-SVIDs; accepted peers (with their claims) and refusal codes
/// arrive on channels.
async fn serve(
    pki: &Pki,
    auth: JwtAuth,
) -> (
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<Seen>,
    mpsc::UnboundedReceiver<Option<ErrorCode>>,
) {
    let (ftx, failures) = mpsc::unbounded_channel();
    let server = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .jwt_svids(auth)
        .on_handshake_error(move |f| {
            let _ = ftx.send(code_of(&f.error));
        })
        .build()
        .unwrap();
    let mut listener = WsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let (ptx, peers) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, peer, claims)) = listener.accept_with_token().await {
            let _ = ptx.send((peer, claims));
            tokio::spawn(async move {
                while let Some(Ok(msg)) = socket.next().await {
                    if msg.is_text() && socket.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, peers, failures)
}

fn tls_only_connector(pki: &Pki) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            pki.ca.certificate_der().to_vec(),
        ))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A certificate-less client (a browser): the upgrade with `request`, then one echo. The
/// subprotocol the server selected, if any.
async fn browser(pki: &Pki, request: Request) -> Result<Option<String>, String> {
    let port = request.uri().port_u16().unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tls_only_connector(pki)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut socket, response) = tokio_tungstenite::client_async(request, tls)
        .await
        .map_err(|e| e.to_string())?;
    socket
        .send(Message::text("hi"))
        .await
        .map_err(|e| e.to_string())?;
    match socket.next().await {
        Some(Ok(m)) if m.to_text().ok() == Some("hi") => {}
        other => return Err(format!("{other:?}")),
    }
    Ok(response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned()))
}

fn url(addr: std::net::SocketAddr) -> String {
    format!("wss://localhost:{}/", addr.port())
}

#[tokio::test]
async fn certificate_less_clients_need_a_valid_unbound_jwt_svid() {
    let pki = Pki::new();
    let key = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let (addr, mut peers, mut failures) = serve(&pki, JwtAuth::new(validator(&key))).await;
    let admin = "spiffe://mesh.internal/admin/alice";

    // Authorization: Bearer.
    let token = mint(&key, admin, "gateway", None);
    let req = with_bearer(url(addr).into_client_request().unwrap(), &token).unwrap();
    within("bearer", browser(&pki, req)).await.unwrap();
    match within("peer", peers.recv()).await.unwrap() {
        (WsPeer::Bearer(b), Some(claims)) => {
            assert_eq!(b.subject, admin);
            assert_eq!(claims.subject.to_string(), admin);
        }
        other => panic!("expected a bearer peer with claims, got {other:?}"),
    }
    // The subprotocol a browser offers; the server selects the plain one, never the token.
    let req = with_token_subprotocol(url(addr).into_client_request().unwrap(), &token).unwrap();
    let chosen = within("subprotocol", browser(&pki, req)).await.unwrap();
    assert_eq!(chosen.as_deref(), Some(JWT_SUBPROTOCOL));
    assert!(matches!(
        within("peer", peers.recv()).await.unwrap(),
        (WsPeer::Bearer(_), Some(_))
    ));

    // Refusals, each with its code: no token, wrong audience, a token bound to a certificate
    // (this connection has none), another key, garbage.
    let other_key = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let cases = [
        (None, ErrorCode::IdentityNotAllowed),
        (
            Some(mint(&key, admin, "billing", None)),
            ErrorCode::TokenAudience,
        ),
        (
            Some(mint(&key, admin, "gateway", Some(&pki.client))),
            ErrorCode::TokenBinding,
        ),
        (
            Some(mint(&other_key, admin, "gateway", None)),
            ErrorCode::TokenUnknownKey,
        ),
        (Some("not.a.token".to_owned()), ErrorCode::TokenMalformed),
    ];
    for (token, code) in cases {
        let mut req = url(addr).into_client_request().unwrap();
        if let Some(t) = &token {
            req = with_bearer(req, t).unwrap();
        }
        let err = within("refused", browser(&pki, req)).await.unwrap_err();
        assert!(err.contains("401"), "{code}: {err}");
        assert_eq!(
            within("failure", failures.recv()).await.unwrap(),
            Some(code)
        );
    }
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn mtls_clients_tokens_are_checked_against_their_certificate() {
    let pki = Pki::new();
    let key = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let (addr, mut peers, mut failures) = serve(&pki, JwtAuth::new(validator(&key))).await;
    let client = pki.client_with(&pki.client);

    // No token: the certificate alone, as always.
    within("mtls", ws::connect(&client, &url(addr)))
        .await
        .unwrap();
    assert!(matches!(
        within("peer", peers.recv()).await.unwrap(),
        (WsPeer::Mtls(_), None)
    ));
    // A token bound to this very certificate: accepted, with its claims.
    let own = mint(&key, CLIENT_ID, "gateway", Some(&pki.client));
    let req = with_bearer(url(addr).into_client_request().unwrap(), &own).unwrap();
    within("bound", ws::connect_request(&client, req))
        .await
        .unwrap();
    match within("peer", peers.recv()).await.unwrap() {
        (WsPeer::Mtls(p), Some(claims)) => {
            assert_eq!(p.spiffe_id, Some(id(CLIENT_ID)));
            assert!(claims.bound_thumbprint.is_some());
        }
        other => panic!("expected an mTLS peer with claims, got {other:?}"),
    }
    // Another service's bound token replayed on this connection: refused.
    let stolen = mint(
        &key,
        INTRUDER_CLIENT_ID,
        "gateway",
        Some(&pki.intruder_client),
    );
    let req = with_bearer(url(addr).into_client_request().unwrap(), &stolen).unwrap();
    assert!(within("replay", ws::connect_request(&client, req))
        .await
        .is_err());
    assert_eq!(
        within("failure", failures.recv()).await.unwrap(),
        Some(ErrorCode::TokenBinding)
    );
    // An expired token on an mTLS connection is refused too (a token that is sent counts).
    let expired = key
        .mint(
            &TokenRequest::new(id(CLIENT_ID), ["gateway"]).ttl(Duration::from_secs(60)),
            wall_now().sub(Duration::from_secs(3600)),
        )
        .unwrap()
        .token;
    let req = with_bearer(url(addr).into_client_request().unwrap(), &expired).unwrap();
    assert!(within("expired", ws::connect_request(&client, req))
        .await
        .is_err());
    assert_eq!(
        within("failure", failures.recv()).await.unwrap(),
        Some(ErrorCode::TokenExpired)
    );
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn a_replaced_validator_applies_to_the_next_upgrades() {
    let pki = Pki::new();
    let old = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let new = JwtSigningKey::generate(JwtAlgorithm::EdDsa).unwrap();
    let auth = JwtAuth::new(validator(&old));
    let (addr, mut peers, mut failures) = serve(&pki, auth.clone()).await;
    let admin = "spiffe://mesh.internal/admin/alice";
    let req = |key: &JwtSigningKey| {
        with_bearer(
            url(addr).into_client_request().unwrap(),
            &mint(key, admin, "gateway", None),
        )
        .unwrap()
    };
    within("old key", browser(&pki, req(&old))).await.unwrap();
    within("peer", peers.recv()).await.unwrap();
    auth.replace(validator(&new));
    within("new key", browser(&pki, req(&new))).await.unwrap();
    within("peer", peers.recv()).await.unwrap();
    assert!(within("old key now", browser(&pki, req(&old)))
        .await
        .is_err());
    assert_eq!(
        within("failure", failures.recv()).await.unwrap(),
        Some(ErrorCode::TokenUnknownKey)
    );
}

#[test]
fn the_builtin_and_a_custom_validator_are_exclusive() {
    let pki = Pki::new();
    let key = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let err = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .jwt_svids(JwtAuth::new(validator(&key)))
        .bearer_fallback(Arc::new(|_: &str| Some("x".to_owned())))
        .build()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
}
