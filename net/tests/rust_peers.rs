//! rust ↔ rust over 127.0.0.1: the core's verdict during the handshake, both directions.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use meshtls_core::ErrorCode;
use meshtls_net::{MtlsClient, MtlsListener, MtlsServer};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

struct Running {
    addr: std::net::SocketAddr,
    failures: mpsc::UnboundedReceiver<meshtls_net::HandshakeFailure>,
    peers: mpsc::UnboundedReceiver<meshtls_core::PeerIdentity>,
    _task: tokio::task::JoinHandle<()>,
}

async fn serve(pki: &Pki, server_leaf: &meshtls_core::Issued) -> Running {
    let (server, failures) = server_with(Pki::identity(server_leaf), pki.server_trust());
    serve_with(server, failures).await
}

async fn serve_with(
    server: MtlsServer,
    failures: mpsc::UnboundedReceiver<meshtls_net::HandshakeFailure>,
) -> Running {
    let listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let (ptx, peers) = mpsc::unbounded_channel();
    Running {
        addr,
        failures,
        peers,
        _task: spawn_echo(listener, ptx),
    }
}

#[tokio::test]
async fn mutual_tls_succeeds_and_both_sides_see_the_core_verdict() {
    let pki = Pki::new();
    let mut srv = serve(&pki, &pki.server).await;
    let client = pki.client_with(&pki.client);
    let mut stream = within("connect", client.connect(srv.addr, "localhost"))
        .await
        .unwrap();
    let server_peer = stream.peer_identity().unwrap().clone();
    assert_eq!(server_peer.spiffe_id, Some(id(SERVER_ID)));
    assert_eq!(server_peer.serial, pki.server.serial);
    assert_eq!(
        stream.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(
        stream.key_exchange_group(),
        Some(rustls::NamedGroup::X25519MLKEM768)
    );
    assert_eq!(
        within("echo", roundtrip(&mut stream, "hi")).await.unwrap(),
        "echo:hi"
    );
    let client_peer = within("peer", srv.peers.recv()).await.unwrap();
    assert_eq!(client_peer.spiffe_id, Some(id(CLIENT_ID)));
    assert_eq!(client_peer.serial, pki.client.serial);
    assert!(srv.failures.try_recv().is_err());
}

/// The server rejects a client with `code`; the client sees the failure too.
async fn server_rejects(pki: &Pki, client_leaf: &meshtls_core::Issued, code: ErrorCode) {
    let mut srv = serve(pki, &pki.server).await;
    let client = pki.client_with(client_leaf);
    // In TLS 1.3 the client learns of the rejection at its first read.
    let outcome = async {
        let mut s = client.connect(srv.addr, "localhost").await?;
        roundtrip(&mut s, "hi").await
    };
    let result = within("rejected client", outcome).await;
    let err = result.expect_err("the client must not get through");
    // The server's alert tells the client why.
    assert_eq!(code_of(&err), Some(code), "client side: {err}");
    let failure = next_failure(&mut srv.failures).await;
    assert_eq!(failure.code(), Some(code), "server side: {failure}");
    assert!(srv.peers.try_recv().is_err());
}

#[tokio::test]
async fn server_rejects_a_client_from_another_ca() {
    let pki = Pki::new();
    server_rejects(&pki, &pki.rogue_client, ErrorCode::UnknownIssuer).await;
}

#[tokio::test]
async fn server_rejects_an_expired_client() {
    let pki = Pki::new();
    server_rejects(&pki, &pki.expired_client, ErrorCode::Expired).await;
}

#[tokio::test]
async fn server_rejects_a_revoked_client() {
    let pki = Pki::new();
    server_rejects(&pki, &pki.revoked_client, ErrorCode::Revoked).await;
}

#[tokio::test]
async fn server_rejects_a_client_the_policy_does_not_allow() {
    let pki = Pki::new();
    server_rejects(&pki, &pki.intruder_client, ErrorCode::IdentityNotAllowed).await;
}

#[tokio::test]
async fn server_rejects_a_server_certificate_used_as_client() {
    let pki = Pki::new();
    // Right SPIFFE ID, but a serverAuth-only certificate: wrong usage.
    let leaf = issue(
        &pki.ca,
        CLIENT_ID,
        meshtls_core::Usage::Server,
        wall_now().sub(Duration::from_secs(60)),
        Duration::from_secs(3600),
    );
    server_rejects(&pki, &leaf, ErrorCode::WrongUsage).await;
}

/// A plain rustls client that trusts our CA but has no certificate.
fn anonymous_connector(pki: &Pki) -> tokio_rustls::TlsConnector {
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

#[tokio::test]
async fn server_rejects_a_client_without_certificate() {
    let pki = Pki::new();
    let mut srv = serve(&pki, &pki.server).await;
    let connector = anonymous_connector(&pki);
    let outcome = async {
        let tcp = tokio::net::TcpStream::connect(srv.addr).await?;
        let mut tls = connector
            .connect(
                rustls_pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await?;
        tls.write_all(b"hi\n").await?;
        let mut buf = [0u8; 16];
        let n = tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        Ok(())
    };
    assert!(within("no-cert client", outcome).await.is_err());
    let failure = next_failure(&mut srv.failures).await;
    assert_eq!(
        meshtls_net::error_code(&failure.error),
        Some(ErrorCode::NoCertificate),
        "{failure}"
    );
}

#[tokio::test]
async fn an_optional_client_certificate_admits_anonymous_clients_and_checks_presented_ones() {
    let pki = Pki::new();
    let (tx, mut failures) = mpsc::unbounded_channel();
    let server = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .client_cert_optional(true)
        .on_handshake_error(move |f| {
            let _ = tx.send(f.code());
        })
        .build()
        .unwrap();
    let mut listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();

    // No certificate: admitted, and the application sees no peer identity.
    let connector = anonymous_connector(&pki);
    let anonymous = tokio::spawn(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"hi\n").await?;
        let mut buf = [0u8; 16];
        let n = tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf[..n]).into_owned())
    });
    let stream = within("accept", listener.accept()).await.unwrap();
    assert!(stream.peer_identity().is_none());
    tokio::spawn(echo_lines(stream));
    assert_eq!(
        within("anonymous", anonymous).await.unwrap().unwrap(),
        "echo:hi\n"
    );

    // A presented certificate is verified as always: a good one is seen, an expired one fails.
    let client = pki.client_with(&pki.client);
    let _s = within("connect", client.connect(addr, "localhost"))
        .await
        .unwrap();
    let stream = within("accept", listener.accept()).await.unwrap();
    assert_eq!(
        stream.peer_identity().unwrap().spiffe_id,
        Some(id(CLIENT_ID))
    );
    let expired = pki.client_with(&pki.expired_client);
    let outcome = async {
        let mut s = expired.connect(addr, "localhost").await?;
        roundtrip(&mut s, "hi").await
    };
    assert!(within("expired client", outcome).await.is_err());
    let code = within("failure", failures.recv()).await.unwrap();
    assert_eq!(code, Some(ErrorCode::Expired));
}

/// The client rejects a server with `code`, and gets the code from the failed connect.
async fn client_rejects(pki: &Pki, server_leaf: &meshtls_core::Issued, code: ErrorCode) {
    let mut srv = serve(pki, server_leaf).await;
    let client = pki.client_with(&pki.client);
    let err = within("connect", client.connect(srv.addr, "localhost"))
        .await
        .expect_err("the client must refuse this server");
    assert_eq!(code_of(&err), Some(code), "client side: {err}");
    // The rejecting side keeps the core's error (its message), not only the alert's variant.
    let core = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .and_then(|e| match e {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o)) => {
                o.0.downcast_ref::<meshtls_core::Error>()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("not the core's error: {err:?}"));
    assert_eq!(core.code(), code);
    // The server learns why from the client's alert.
    let failure = next_failure(&mut srv.failures).await;
    assert_eq!(failure.code(), Some(code), "server side: {failure}");
}

#[tokio::test]
async fn client_rejects_a_server_from_another_ca() {
    let pki = Pki::new();
    client_rejects(&pki, &pki.rogue_server, ErrorCode::UnknownIssuer).await;
}

#[tokio::test]
async fn client_rejects_an_expired_server() {
    let pki = Pki::new();
    client_rejects(&pki, &pki.expired_server, ErrorCode::Expired).await;
}

#[tokio::test]
async fn client_rejects_a_revoked_server() {
    let pki = Pki::new();
    client_rejects(&pki, &pki.revoked_server, ErrorCode::Revoked).await;
}

#[tokio::test]
async fn client_rejects_a_server_the_policy_does_not_allow() {
    let pki = Pki::new();
    client_rejects(&pki, &pki.intruder_server, ErrorCode::IdentityNotAllowed).await;
}

#[tokio::test]
async fn tls12_is_refused_by_default_and_works_when_opted_in() {
    let pki = Pki::new();
    let mut srv = serve(&pki, &pki.server).await;
    let tls12_client = MtlsClient::builder(Pki::identity(&pki.client), pki.client_trust())
        .allow_tls12(true)
        .build()
        .unwrap();
    // Offering 1.2 and 1.3 to a 1.3-only server: 1.3.
    let s = within("connect", tls12_client.connect(srv.addr, "localhost"))
        .await
        .unwrap();
    assert_eq!(s.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));

    // A 1.2-only client against the default server: refused.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    assert!(within("tls12", connector.connect(name, tcp)).await.is_err());
    let _ = next_failure(&mut srv.failures).await;

    // A server that opts in speaks 1.2 with a 1.2-only mTLS client, on an ECDHE + AEAD suite.
    let server12 = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .allow_tls12(true)
        .build()
        .unwrap();
    let listener = MtlsListener::bind("127.0.0.1:0", server12).await.unwrap();
    let addr = listener.local_addr();
    let (ptx, mut peers) = mpsc::unbounded_channel();
    let _t = spawn_echo(listener, ptx);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            pki.ca.certificate_der().to_vec(),
        ))
        .unwrap();
    let chain = pki
        .client
        .chain_der
        .iter()
        .map(|c| rustls_pki_types::CertificateDer::from(c.clone()))
        .collect();
    let key =
        rustls_pki_types::PrivateKeyDer::try_from(pki.client.key_der.clone().unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = within("tls12 mTLS", connector.connect(name, tcp))
        .await
        .unwrap();
    let (_, conn) = tls.get_ref();
    assert_eq!(
        conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let suite = format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite());
    assert!(
        suite.starts_with("TLS_ECDHE_") && (suite.contains("GCM") || suite.contains("CHACHA20")),
        "{suite}"
    );
    let p = within("peer", peers.recv()).await.unwrap();
    assert_eq!(p.spiffe_id, Some(id(CLIENT_ID)));
}

#[tokio::test]
async fn resumed_sessions_still_carry_the_peer_and_are_not_resumed_across_trust_changes() {
    let pki = Pki::new();
    let mut srv = serve(&pki, &pki.server).await;
    let client = pki.client_with(&pki.client);
    let mut first = within("connect", client.connect(srv.addr, "localhost"))
        .await
        .unwrap();
    // Read the echo so the session ticket has arrived.
    assert_eq!(
        within("echo", roundtrip(&mut first, "a")).await.unwrap(),
        "echo:a"
    );
    assert!(!first.resumed());
    let mut second = within("connect", client.connect(srv.addr, "localhost"))
        .await
        .unwrap();
    assert!(second.resumed(), "second connection should resume");
    assert_eq!(
        second.peer_identity().unwrap().spiffe_id,
        Some(id(SERVER_ID))
    );
    assert_eq!(
        within("echo", roundtrip(&mut second, "b")).await.unwrap(),
        "echo:b"
    );
    for _ in 0..2 {
        let p = within("peer", srv.peers.recv()).await.unwrap();
        assert_eq!(p.spiffe_id, Some(id(CLIENT_ID)));
    }
    // A new trust on the client side: its session cache starts over.
    client
        .trust()
        .replace((*pki.client_trust().current()).clone());
    let third = within("connect", client.connect(srv.addr, "localhost"))
        .await
        .unwrap();
    assert!(!third.resumed(), "no resumption across a trust change");
}

/// A client session store that counts the TLS 1.3 tickets the server sent.
#[derive(Debug)]
struct CountingStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: std::sync::atomic::AtomicUsize,
}

impl rustls::client::ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, name: rustls::pki_types::ServerName<'static>, g: rustls::NamedGroup) {
        self.inner.set_kx_hint(name, g)
    }
    fn kx_hint(&self, name: &rustls::pki_types::ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(name)
    }
    fn set_tls12_session(
        &self,
        name: rustls::pki_types::ServerName<'static>,
        v: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(name, v)
    }
    fn tls12_session(
        &self,
        name: &rustls::pki_types::ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }
    fn remove_tls12_session(&self, name: &rustls::pki_types::ServerName<'static>) {
        self.inner.remove_tls12_session(name)
    }
    fn insert_tls13_ticket(
        &self,
        name: rustls::pki_types::ServerName<'static>,
        v: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.insert_tls13_ticket(name, v)
    }
    fn take_tls13_ticket(
        &self,
        name: &rustls::pki_types::ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(name)
    }
}

/// Tickets the server sends to a client built from `client`'s rustls config (its ticket
/// request included), counted by a store swapped in for its session cache.
async fn tickets_received(addr: std::net::SocketAddr, client: &MtlsClient) -> usize {
    let store = Arc::new(CountingStore {
        inner: rustls::client::ClientSessionMemoryCache::new(8),
        tickets: Default::default(),
    });
    let mut config = (*client.rustls_config().unwrap()).clone();
    config.resumption = rustls::client::Resumption::store(store.clone());
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = within("connect", connector.connect(name, tcp))
        .await
        .unwrap();
    tls.write_all(b"x\n").await.unwrap();
    tls.flush().await.unwrap();
    // The tickets come before the echo: reading the echo line takes them in.
    let mut reader = tokio::io::BufReader::new(tls);
    let mut line = String::new();
    within(
        "echo",
        tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line),
    )
    .await
    .unwrap();
    assert_eq!(line, "echo:x\n");
    store.tickets.load(std::sync::atomic::Ordering::SeqCst)
}

/// A client that does not resume asks for no session tickets and the server mints none; a
/// client that resumes still gets the server's two.
#[tokio::test]
async fn a_client_that_does_not_resume_is_sent_no_tickets() {
    let pki = Pki::new();
    let srv = serve(&pki, &pki.server).await;
    let resuming = pki.client_with(&pki.client);
    let not_resuming = MtlsClient::builder(Pki::identity(&pki.client), pki.client_trust())
        .resumption(false)
        .build()
        .unwrap();
    assert_eq!(tickets_received(srv.addr, &resuming).await, 2);
    assert_eq!(tickets_received(srv.addr, &not_resuming).await, 0);
}

#[tokio::test]
async fn a_trust_change_applies_to_new_handshakes_and_spares_open_connections() {
    let pki = Pki::new();
    let (server, mut failures) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let server_trust = server.trust().clone();
    let mut srv = serve_with(server, mpsc::unbounded_channel().1).await;
    std::mem::swap(&mut srv.failures, &mut failures);
    let client = pki.client_with(&pki.client);
    let mut first = within("connect", client.connect(srv.addr, "localhost"))
        .await
        .unwrap();
    assert_eq!(
        within("echo", roundtrip(&mut first, "a")).await.unwrap(),
        "echo:a"
    );
    // The server now allows nobody: even a session the cache would have resumed is refused.
    let nobody = meshtls_core::Policy::builder()
        .allow_id(id(INTRUDER_CLIENT_ID))
        .build()
        .unwrap();
    server_trust.replace(meshtls_core::Verifier::new(pki.bundle(), nobody));
    let outcome = async {
        let mut s = client.connect(srv.addr, "localhost").await?;
        roundtrip(&mut s, "b").await
    };
    assert!(within("refused", outcome).await.is_err());
    let failure = next_failure(&mut srv.failures).await;
    assert_eq!(failure.code(), Some(ErrorCode::IdentityNotAllowed));
    // The established connection is untouched.
    assert_eq!(
        within("echo", roundtrip(&mut first, "c")).await.unwrap(),
        "echo:c"
    );
}

#[tokio::test]
async fn slow_and_garbage_clients_do_not_stall_the_listener() {
    let pki = Pki::new();
    let (tx, mut failures) = mpsc::unbounded_channel();
    let server = MtlsServer::builder(Pki::identity(&pki.server), pki.server_trust())
        .handshake_timeout(Duration::from_millis(500))
        .on_handshake_error(move |f| {
            let _ = tx.send(code_of(&f.error));
        })
        .build()
        .unwrap();
    let listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let (ptx, mut peers) = mpsc::unbounded_channel();
    let _t = spawn_echo(listener, ptx);
    // 50 silent connections and one that sends garbage, all left open.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    // A real client still gets through at once.
    let client = pki.client_with(&pki.client);
    let mut s = within("connect", client.connect(addr, "localhost"))
        .await
        .unwrap();
    assert_eq!(
        within("echo", roundtrip(&mut s, "x")).await.unwrap(),
        "echo:x"
    );
    assert!(within("peer", peers.recv()).await.is_some());
    // The garbage one fails quickly, the silent ones time out (code io).
    let mut timeouts = 0;
    let mut others = 0;
    while timeouts + others < 51 {
        match within("failures", failures.recv()).await.unwrap() {
            Some(ErrorCode::Io) => timeouts += 1,
            _ => others += 1,
        }
    }
    assert_eq!(timeouts, 50);
    assert_eq!(others, 1);
}

#[tokio::test]
async fn identity_key_must_match_certificate() {
    let pki = Pki::new();
    let err = meshtls_net::Identity::from_der(
        pki.server.chain_der.clone(),
        pki.client.key_der.clone().unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    let err = meshtls_net::Identity::from_pem(b"garbage", b"garbage").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Malformed);
}

#[tokio::test]
async fn connect_verified_waits_for_the_servers_verdict() {
    // TLS 1.3: the client's handshake ends before the server judges its certificate; the
    // verdict wait turns the server's access_denied into the connect's error.
    let pki = Pki::new();
    let mut srv = serve(&pki, &pki.server).await;
    let wait = std::time::Duration::from_millis(500);
    let refused = pki.client_with(&pki.intruder_client);
    let err = within(
        "refused",
        refused.connect_verified(srv.addr, "localhost", wait),
    )
    .await
    .expect_err("the server refuses this client");
    assert_eq!(code_of(&err), Some(ErrorCode::IdentityNotAllowed), "{err}");
    let failure = next_failure(&mut srv.failures).await;
    assert_eq!(failure.code(), Some(ErrorCode::IdentityNotAllowed));
    // An accepted client waits out the (silent) server and keeps a working stream.
    let accepted = pki.client_with(&pki.client);
    let mut stream = within(
        "accepted",
        accepted.connect_verified(srv.addr, "localhost", wait),
    )
    .await
    .unwrap();
    assert_eq!(
        within("echo", roundtrip(&mut stream, "hi")).await.unwrap(),
        "echo:hi"
    );
}

#[tokio::test]
async fn the_verdict_wait_keeps_what_a_server_says_first() {
    // A server that greets first: the greeting read while waiting is handed to the next read.
    let pki = Pki::new();
    let (server, _failures) = server_with(Pki::identity(&pki.server), pki.server_trust());
    let mut listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let task = tokio::spawn(async move {
        let mut s = listener.accept().await.unwrap();
        s.write_all(b"hello from the server\n").await.unwrap();
        s.flush().await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest).await;
    });
    let client = pki.client_with(&pki.client);
    let mut stream = within(
        "accepted",
        client.connect_verified(addr, "localhost", Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(&mut stream);
    within(
        "greeting",
        tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line),
    )
    .await
    .unwrap();
    assert_eq!(line, "hello from the server\n");
    drop(reader);
    stream.shutdown().await.unwrap();
    within("server", task).await.unwrap();
}
