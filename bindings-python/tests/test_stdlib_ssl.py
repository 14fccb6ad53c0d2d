"""Standard-library ``ssl`` and ``websockets`` with meshtls contexts, and interop with the
native (Rust) transport over wss:// mTLS in both directions."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import tempfile
import threading

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

import meshtls
from _support import TD, blocking_exchange, issue_identity, serve_blocking, verifier_for

TIMEOUT = 20


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def test_context_defaults_fail_closed(ca: meshtls.Authority) -> None:
    _, identity = issue_identity(ca, "server")
    for server in (True, False):
        ctx = identity.ssl_context(verifier_for(ca), server=server)
        assert isinstance(ctx, ssl.SSLContext)
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        # The core decides inside the handshake: OpenSSL's own store stays empty.
        assert ctx._meshtls_hook is not None
        assert ctx.get_ca_certs() == []
    with pytest.raises(TypeError):
        identity.ssl_context(meshtls.Policy.allow_any())  # a Verifier or Trust is needed


def test_no_key_file_is_left_behind(ca: meshtls.Authority) -> None:
    _, identity = issue_identity(ca, "server")
    before = set(os.listdir(tempfile.gettempdir()))
    identity.ssl_context(verifier_for(ca), server=True)
    assert {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("meshtls-")} == set()


def test_blocking_sockets_mutual_verification(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")
    server_ctx = server_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/client"), server=True)
    client_ctx = client_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/server"))
    peer, reply, results = blocking_exchange(server_ctx, client_ctx)
    assert reply == b"HI"
    assert peer.spiffe_id == f"spiffe://{TD}/service/server"
    assert results[0].spiffe_id == f"spiffe://{TD}/service/client"


def test_blocking_client_rejects_wrong_server_identity(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "impostor")
    _, client_id = issue_identity(ca, "client")
    server_ctx = server_id.ssl_context(verifier_for(ca), server=True)
    client_ctx = client_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/server"))
    err, reply, _ = blocking_exchange(server_ctx, client_ctx)
    assert isinstance(err, meshtls.VerificationError) and err.code == "identity_not_allowed"
    assert reply is None


def test_revoked_client_rejected_by_stdlib_server(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    issued, client_id = issue_identity(ca, "client")
    records = meshtls.RevocationList()
    records.revoke(issued)
    bundle = meshtls.TrustBundle(ca.root_pem)
    bundle.add_crl(ca.build_crl(records, 1))
    server_ctx = server_id.ssl_context(meshtls.Verifier(bundle, meshtls.Policy.allow_any()), server=True)
    err, reply, results = blocking_exchange(server_ctx, client_id.ssl_context(verifier_for(ca)))
    assert reply is None and err is not None
    assert isinstance(results[0], meshtls.VerificationError) and results[0].code == "revoked"


def test_rogue_client_rejected_by_stdlib_server(ca: meshtls.Authority, rogue_ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, rogue = issue_identity(rogue_ca, "client")
    server_ctx = server_id.ssl_context(verifier_for(ca), server=True)
    err, reply, results = blocking_exchange(server_ctx, rogue.ssl_context(verifier_for(ca)))
    assert reply is None and err is not None
    # The core refuses the unknown issuer inside the handshake; the client gets unknown_ca.
    assert isinstance(results[0], meshtls.PeerRefused) and results[0].code == "unknown_issuer"
    assert isinstance(results[0], ssl.SSLError)


def test_check_peer_on_an_open_connection(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")
    server_ctx = server_id.ssl_context(verifier_for(ca), server=True)
    client_ctx = client_id.ssl_context(verifier_for(ca))
    results: list = []
    with socket.create_server(("127.0.0.1", 0)) as sock:
        t = threading.Thread(target=serve_blocking, args=(server_ctx, sock, results))
        t.start()
        with socket.create_connection(sock.getsockname(), timeout=TIMEOUT) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                strict = verifier_for(ca, f"spiffe://{TD}/service/api")
                with pytest.raises(meshtls.VerificationError) as e:
                    strict.check_peer(tls)
                assert e.value.code == "identity_not_allowed"
                assert verifier_for(ca).check_peer(tls).spiffe_id == f"spiffe://{TD}/service/server"
                tls.sendall(b"x")
                tls.recv(10)
        t.join(TIMEOUT)


async def _echo(ws) -> None:
    peer = ws.transport.get_extra_info("ssl_object").meshtls_peer
    async for msg in ws:
        await ws.send(f"{peer.spiffe_id}:{msg}")


def test_websockets_over_meshtls_contexts(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        server_ctx = server_id.ssl_context(verifier_for(ca), server=True)
        async with ws_serve(_echo, "127.0.0.1", 0, ssl=server_ctx) as server:
            port = server.sockets[0].getsockname()[1]
            client_ctx = client_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/server"))
            async with ws_connect(f"wss://localhost:{port}/", ssl=client_ctx) as ws:
                await ws.send("hello")
                assert await ws.recv() == f"spiffe://{TD}/service/client:hello"
                assert ws.transport.get_extra_info("ssl_object").meshtls_peer.spiffe_id.endswith("/server")

    run(main())


def test_websockets_client_rejects_wrong_server(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "impostor")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        async with ws_serve(_echo, "127.0.0.1", 0, ssl=server_id.ssl_context(verifier_for(ca), server=True)) as server:
            port = server.sockets[0].getsockname()[1]
            client_ctx = client_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/server"))
            with pytest.raises(meshtls.VerificationError) as e:
                async with ws_connect(f"wss://localhost:{port}/", ssl=client_ctx):
                    pass
            assert e.value.code == "identity_not_allowed"

    run(main())


def test_python_websockets_client_to_rust_server(ca: meshtls.Authority) -> None:
    """Python (stdlib ssl + websockets) -> Rust (meshtls-net wss listener)."""
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def handler(conn: meshtls.WsConnection) -> None:
        while True:
            await conn.send(f"rust saw {conn.peer_identity.spiffe_id}: {await conn.recv()}")

    async def main() -> None:
        async with await meshtls.serve_ws(handler, "127.0.0.1", 0, server_id, verifier_for(ca)) as server:
            ctx = client_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/server"))
            async with ws_connect(f"wss://localhost:{server.port}/", ssl=ctx) as ws:
                await ws.send("hi")
                assert await ws.recv() == f"rust saw spiffe://{TD}/service/client: hi"

    run(main())


def test_rust_client_to_python_websockets_server(ca: meshtls.Authority) -> None:
    """Rust (meshtls-net wss client) -> Python (websockets server on a meshtls ssl context)."""
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        server_ctx = server_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/client"), server=True)
        async with ws_serve(_echo, "127.0.0.1", 0, ssl=server_ctx) as server:
            port = server.sockets[0].getsockname()[1]
            conn = await meshtls.connect_ws(f"wss://localhost:{port}/", client_id, verifier_for(ca))
            assert conn.peer_identity.spiffe_id == f"spiffe://{TD}/service/server"
            await conn.send("hi")
            assert await conn.recv() == f"spiffe://{TD}/service/client:hi"
            await conn.close()

    run(main())


def test_rotation_reloads_contexts_and_keeps_connections(ca: meshtls.Authority) -> None:
    first, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        server_ctx = server_id.ssl_context(verifier_for(ca), server=True)
        async with ws_serve(_echo, "127.0.0.1", 0, ssl=server_ctx) as server:
            url = f"wss://localhost:{server.sockets[0].getsockname()[1]}/"
            client_ctx = client_id.ssl_context(verifier_for(ca))
            async with ws_connect(url, ssl=client_ctx) as old:
                assert old.transport.get_extra_info("ssl_object").meshtls_peer.serial == first.serial
                second = ca.issue(f"spiffe://{TD}/service/server", dns_names=["localhost"])
                server_id.replace(second)  # server_ctx reloads it for the next connection
                async with ws_connect(url, ssl=client_ctx) as new:
                    assert new.transport.get_extra_info("ssl_object").meshtls_peer.serial == second.serial
                await old.send("still here")
                assert (await old.recv()).endswith("still here")

    run(main())


def test_intermediate_issued_peer_over_stdlib(ca: meshtls.Authority) -> None:
    import sys

    inter = ca.create_intermediate()
    server_id = meshtls.Identity(inter.issue(f"spiffe://{TD}/service/server", dns_names=["localhost"]))
    _, client_id = issue_identity(ca, "client")
    server_ctx = server_id.ssl_context(verifier_for(ca), server=True)

    # With the intermediate known to the verifier, every Python version accepts the server.
    knows = meshtls.Verifier(
        ca.root_pem, meshtls.Policy(trust_domains=[TD]), intermediates=[inter.certificate_pem]
    )
    peer, reply, _ = blocking_exchange(server_ctx, client_id.ssl_context(knows))
    assert reply == b"HI" and peer.spiffe_id == f"spiffe://{TD}/service/server"

    # Without it: the core sees the whole presented chain inside the handshake (native hooks)
    # or on Python 3.13+; older Pythons on the portable path only see the leaf, and then the
    # core cannot build the path: rejected, never waved through.
    client_ctx = client_id.ssl_context(verifier_for(ca))
    err, reply, _ = blocking_exchange(server_ctx, client_ctx)
    if sys.version_info >= (3, 13) or client_ctx._meshtls_hook is not None:
        assert reply == b"HI"
    else:
        assert isinstance(err, meshtls.VerificationError) and err.code == "unknown_issuer"


def test_a_context_on_a_trust_follows_ca_rotation_and_revocation(ca: meshtls.Authority) -> None:
    """One context made from a `Trust`: after `replace()` it loads the new CA for new
    handshakes and checks each one against the CRL of that moment; a snapshot does neither."""
    new_ca = meshtls.Authority.create_root(TD)  # the rotation's next CA: same name, new key
    _, server_id = issue_identity(ca, "server")
    issued, client_id = issue_identity(new_ca, "client")
    client_ctx = client_id.ssl_context(verifier_for(ca))
    policy = meshtls.Policy(trust_domains=[TD])
    trust = meshtls.Trust(meshtls.Verifier(ca.root_pem, policy))
    live = server_id.ssl_context(trust, server=True)
    snapshot = server_id.ssl_context(trust.verifier(), server=True)

    # Before the rotation the new CA's client is unknown.
    _, reply, results = blocking_exchange(live, client_ctx)
    assert reply is None and isinstance(results[0], meshtls.VerificationError)
    assert results[0].code == "unknown_issuer"

    both = meshtls.TrustBundle(ca.root_pem).merged(meshtls.TrustBundle(new_ca.root_pem))
    trust.replace(meshtls.Verifier(both, policy))
    _, reply, results = blocking_exchange(live, client_ctx)
    assert reply == b"HI" and results[0].serial == issued.serial
    _, reply, results = blocking_exchange(snapshot, client_ctx)
    assert reply is None and isinstance(results[0], meshtls.VerificationError)
    assert results[0].code == "unknown_issuer"

    records = meshtls.RevocationList()
    records.revoke(issued)
    both.add_crl(new_ca.build_crl(records, 1))
    trust.replace(meshtls.Verifier(both, policy))
    _, reply, results = blocking_exchange(live, client_ctx)
    assert reply is None
    assert isinstance(results[0], meshtls.VerificationError) and results[0].code == "revoked"
