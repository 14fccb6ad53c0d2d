"""The enrollment client against a real `meshtls serve` (the CLI binary, a throwaway CA)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import pathlib
import ssl
import subprocess
import tempfile
import threading
from typing import Any, Iterator, List, Tuple

import pytest

import meshtls

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("MESHTLS_CLI", ROOT / "target" / "debug" / "meshtls"))
PASS = "correct horse battery staple"
ADMIN = "spiffe://mesh.internal/admin/ops"
NODE = "spiffe://mesh.internal/service/api"
TIMEOUT = 30

pytestmark = pytest.mark.skipif(not BIN.exists(), reason=f"{BIN} not built (cargo build -p meshtls-cli)")


def _cli(*args: str) -> None:
    env = dict(os.environ, MESHTLS_CA_PASSPHRASE=PASS)
    subprocess.run([str(BIN), *args], check=True, env=env, capture_output=True, timeout=TIMEOUT)


class Service:
    def __init__(self, dir: pathlib.Path, port: int) -> None:
        self.dir = dir
        self.port = port
        self.url = f"https://localhost:{port}"
        self.bundle = (dir / "ca" / "ca.crt").read_text()

    def mint(self, identity: str, **extra: object) -> str:
        """POST /v1/tokens as the admin, over mTLS with the standard library."""
        ctx = ssl.create_default_context(cafile=str(self.dir / "ca" / "ca.crt"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(str(self.dir / "admin" / "chain.pem"), str(self.dir / "admin" / "key.pem"))
        conn = http.client.HTTPSConnection("localhost", self.port, context=ctx, timeout=TIMEOUT)
        try:
            body = json.dumps({"identity": identity, **extra})
            conn.request("POST", "/v1/tokens", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == 201, data
            return json.loads(data)["token"]
        finally:
            conn.close()


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        _cli("ca", "init", "--trust-domain", "mesh.internal", "--out", str(d / "ca"))
        _cli("issue", "--ca", str(d / "ca"), "--id", ADMIN, "--usage", "client", "--out", str(d / "admin"))
        env = dict(os.environ, MESHTLS_CA_PASSPHRASE=PASS)
        child = subprocess.Popen(
            [str(BIN), "serve", "--ca", str(d / "ca"), "--listen", "127.0.0.1:0", "--admin-id", ADMIN],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        try:
            line: list = []
            reader = threading.Thread(target=lambda: line.append(child.stdout.readline()), daemon=True)
            reader.start()
            reader.join(TIMEOUT)
            assert line and line[0].startswith("listening on "), f"meshtls serve: {line!r}"
            port = int(line[0].strip().rsplit(":", 1)[1])
            yield Service(d, port)
        finally:
            child.kill()
            child.wait(TIMEOUT)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def test_enroll_renew_refresh_and_use_the_identity(service: Service) -> None:
    token = service.mint(NODE)

    async def main() -> Tuple[str, str, int]:
        node = await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle)
        assert node.spiffe_id == NODE
        assert node.certificate.spiffe_id == NODE
        assert node.identity.leaf.serial == node.serial
        assert node.chain_pem.startswith("-----BEGIN CERTIFICATE-----")
        first = node.serial
        assert await node.renew_now() == 1
        assert node.serial != first and node.identity.leaf.serial == node.serial
        await node.refresh_trust()

        # The identity and verifier drive the native transport: a wss server and client.
        async def echo(conn):
            await conn.send(await conn.recv())

        verifier = node.verifier()
        async with await meshtls.serve_ws(echo, "127.0.0.1", 0, node.identity, verifier) as srv:
            conn = await meshtls.connect_ws(f"wss://127.0.0.1:{srv.port}/", node.identity, verifier)
            await conn.send("hi")
            got = await conn.recv()
            peer = str(conn.peer_identity.spiffe_id)
            await conn.close()
        return got, peer, node.generation

    got, peer, generation = run(main())
    assert (got, peer, generation) == ("hi", NODE, 1)


def test_reused_unknown_and_foreign_tokens_fail_with_the_service_code(service: Service) -> None:
    token = service.mint("spiffe://mesh.internal/worker/*")

    async def main() -> None:
        await meshtls.enroll(service.url, token, "spiffe://mesh.internal/worker/a", ca_bundle=service.bundle)
        with pytest.raises(meshtls.InvalidRequest) as used:
            await meshtls.enroll(service.url, token, "spiffe://mesh.internal/worker/b", ca_bundle=service.bundle)
        assert (used.value.code, used.value.status, used.value.family) == ("token_used", 403, "request")
        with pytest.raises(meshtls.InvalidRequest) as unknown:
            await meshtls.enroll(service.url, "0" * 64, NODE, ca_bundle=service.bundle)
        assert (unknown.value.code, unknown.value.status) == ("token_invalid", 401)
        other = service.mint("spiffe://mesh.internal/worker/c")
        with pytest.raises(meshtls.InvalidRequest) as mismatch:
            await meshtls.enroll(service.url, other, NODE, ca_bundle=service.bundle)
        assert mismatch.value.code == "identity_mismatch"
        assert str(mismatch.value).startswith("identity_mismatch: ")

    run(main())


def test_a_service_outside_the_bundle_is_refused(service: Service) -> None:
    rogue = meshtls.Authority.create_root("mesh.internal").root_pem
    token = service.mint(NODE)

    async def main() -> None:
        with pytest.raises(meshtls.IoError) as e:
            await meshtls.enroll(service.url, token, NODE, ca_bundle=rogue, timeout=10)
        assert e.value.code == "transport"
        with pytest.raises(meshtls.InvalidRequest):
            await meshtls.enroll("http://localhost:1", token, NODE, ca_bundle=service.bundle)
        # The refusals did not burn the token.
        node = await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle)
        assert node.spiffe_id == NODE

    run(main())


def test_an_enrolled_identity_in_stdlib_ssl_follows_its_renewals(service: Service) -> None:
    server_id = "spiffe://mesh.internal/service/web"
    tokens = {i: service.mint(i) for i in (server_id, NODE)}

    async def exchange(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Tuple[Any, Any]:
        """One TLS connection over asyncio streams: (peer the client saw, peer the server saw)."""
        seen: List[Any] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("ssl_object").meshtls_peer)
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
            try:
                writer.write(b"hi\n")
                assert await reader.readline() == b"HI\n"
                return writer.get_extra_info("ssl_object").meshtls_peer, seen[0]
            finally:
                writer.close()

    async def main() -> None:
        web = await meshtls.enroll(service.url, tokens[server_id], server_id, ca_bundle=service.bundle)
        node = await meshtls.enroll(service.url, tokens[NODE], NODE, ca_bundle=service.bundle)
        assert isinstance(web.identity, meshtls.Identity)
        server_ctx = web.identity.ssl_context(web.verifier(), server=True)
        client_ctx = node.identity.ssl_context(node.verifier())

        # Both peers checked by the core inside the handshake.
        server_peer, client_peer = await exchange(server_ctx, client_ctx)
        assert (server_peer.spiffe_id, server_peer.serial) == (server_id, web.serial)
        assert (client_peer.spiffe_id, client_peer.serial) == (NODE, node.serial)

        # After a renewal the same contexts present the new certificates.
        old_web, old_node = web.serial, node.serial
        await web.renew_now()
        await node.renew_now()
        server_peer, client_peer = await exchange(server_ctx, client_ctx)
        assert server_peer.serial == web.serial != old_web
        assert client_peer.serial == node.serial != old_node

    run(main())
