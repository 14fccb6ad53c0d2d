"""The native transport (meshtls-net on the binding's tokio runtime) from asyncio."""

from __future__ import annotations

import asyncio

import pytest

import meshtls
from _support import TD, issue_identity, verifier_for

TIMEOUT = 20


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def echo(conn: meshtls.WsConnection) -> None:
    while True:
        msg = await conn.recv()
        peer = conn.peer_identity
        await conn.send(msg if isinstance(msg, bytes) else f"{peer.spiffe_id}:{msg}")


def test_wss_round_trip_both_ways_verified(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        server = await meshtls.serve_ws(echo, "127.0.0.1", 0, server_id, verifier_for(ca, f"spiffe://{TD}/service/client"))
        async with server:
            conn = await meshtls.connect_ws(
                f"wss://localhost:{server.port}/", client_id, verifier_for(ca, f"spiffe://{TD}/service/server")
            )
            assert conn.peer_identity.spiffe_id == f"spiffe://{TD}/service/server"
            await conn.send("hello")
            assert await conn.recv() == f"spiffe://{TD}/service/client:hello"
            await conn.send(b"\x00\x01binary")
            assert await conn.recv() == b"\x00\x01binary"
            await conn.close()
            with pytest.raises(meshtls.ConnectionClosed):
                await conn.recv()

    run(main())


def test_client_rejects_a_server_outside_its_policy(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "impostor")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        async with await meshtls.serve_ws(echo, "127.0.0.1", 0, server_id, verifier_for(ca)) as server:
            with pytest.raises(meshtls.VerificationError) as e:
                await meshtls.connect_ws(
                    f"wss://localhost:{server.port}/", client_id, verifier_for(ca, f"spiffe://{TD}/service/api")
                )
            assert e.value.code == "identity_not_allowed"

    run(main())


def _rejected_client(ca, server_verifier, client_identity, client_ca=None) -> list:
    _, server_id = issue_identity(ca, "server")

    async def main() -> list:
        async with await meshtls.serve_ws(echo, "127.0.0.1", 0, server_id, server_verifier) as server:
            with pytest.raises(meshtls.Error):
                conn = await meshtls.connect_ws(f"wss://localhost:{server.port}/", client_identity, verifier_for(ca))
                await conn.send("should not arrive")
                await conn.recv()
            for _ in range(100):  # the server records the rejection in the handshake task
                if server.handshake_failures():
                    break
                await asyncio.sleep(0.05)
            return server.handshake_failures()

    return run(main())


def test_rogue_client_is_rejected(ca: meshtls.Authority, rogue_ca: meshtls.Authority) -> None:
    _, rogue = issue_identity(rogue_ca, "client")
    failures = _rejected_client(ca, verifier_for(ca), rogue)
    assert failures and failures[0][0] in ("unknown_issuer", "bad_signature")


def test_revoked_client_is_rejected(ca: meshtls.Authority) -> None:
    issued, revoked = issue_identity(ca, "client")
    records = meshtls.RevocationList()
    records.revoke(issued, "key_compromise")
    bundle = meshtls.TrustBundle(ca.root_pem)
    bundle.add_crl(ca.build_crl(records, 1))
    failures = _rejected_client(ca, meshtls.Verifier(bundle, meshtls.Policy(trust_domains=[TD])), revoked)
    assert failures and failures[0][0] == "revoked"


def test_expired_client_is_rejected(ca: meshtls.Authority) -> None:
    import datetime as dt

    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    old_ca = meshtls.Authority.create_root(TD, now=then)
    _, expired = issue_identity(old_ca, "client", lifetime=dt.timedelta(hours=1), now=then)
    failures = _rejected_client(old_ca, verifier_for(old_ca), expired)
    assert failures and failures[0][0] == "expired"


def test_rotation_keeps_open_connections(ca: meshtls.Authority) -> None:
    first, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        async with await meshtls.serve_ws(echo, "127.0.0.1", 0, server_id, verifier_for(ca)) as server:
            url = f"wss://localhost:{server.port}/"
            old = await meshtls.connect_ws(url, client_id, verifier_for(ca))
            assert old.peer_identity.serial == first.serial
            second = ca.issue(f"spiffe://{TD}/service/server", dns_names=["localhost"])
            server_id.replace(second)
            new = await meshtls.connect_ws(url, client_id, verifier_for(ca))
            assert new.peer_identity.serial == second.serial
            # The connection opened before the rotation is still alive and served.
            await old.send("still here")
            assert (await old.recv()).endswith("still here")
            await new.send(b"x")
            assert await new.recv() == b"x"
            await old.close()
            await new.close()

    run(main())


def test_raw_mtls_streams(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def handler(stream: meshtls.TlsStream) -> None:
        data = await stream.read()
        await stream.write(stream.peer_identity.spiffe_id.encode() + b" said " + data)

    async def main() -> None:
        async with await meshtls.serve(handler, "127.0.0.1", 0, server_id, verifier_for(ca)) as server:
            stream = await meshtls.connect("127.0.0.1", server.port, client_id, verifier_for(ca), server_name="localhost")
            assert stream.peer_identity.spiffe_id == f"spiffe://{TD}/service/server"
            await stream.write(b"ping")
            got = b""
            while True:
                chunk = await stream.read()
                if not chunk:
                    break
                got += chunk
            assert got == f"spiffe://{TD}/service/client said ping".encode()
            await stream.close()

    run(main())


def test_server_close_stops_accepting(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    _, client_id = issue_identity(ca, "client")

    async def main() -> None:
        server = await meshtls.serve_ws(echo, "127.0.0.1", 0, server_id, verifier_for(ca))
        port = server.port
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.1)
        with pytest.raises(meshtls.IoError):
            await meshtls.connect_ws(f"wss://localhost:{port}/", client_id, verifier_for(ca))

    run(main())


EXIT_SCRIPT = """
import asyncio, meshtls
ca = meshtls.Authority.create_root("mesh.internal")
ident = meshtls.Identity(ca.issue("spiffe://mesh.internal/service/s", dns_names=["localhost"]))
v = meshtls.Verifier(ca.root_pem, meshtls.Policy.allow_any())
async def handler(conn):
    await conn.send("hi")
    await conn.recv()  # left pending at exit
async def main():
    server = await meshtls.serve_ws(handler, "127.0.0.1", 0, ident, v)
    conns = [await meshtls.connect_ws(f"wss://localhost:{server.port}/", ident, v) for _ in range(4)]
    for c in conns:
        assert await c.recv() == "hi"
    pending = [asyncio.ensure_future(c.recv()) for c in conns]  # never completed
    await asyncio.sleep(0.05)
    print("ok")
asyncio.run(main())
"""


def test_interpreter_exits_cleanly_with_open_connections() -> None:
    # Tokio threads must never call into a finalizing interpreter (it would abort the process).
    import subprocess
    import sys

    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "ok"
