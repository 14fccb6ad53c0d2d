"""The enrollment client against a real `meshtls serve` (the CLI binary, a throwaway CA)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import http.client
import json
import os
import pathlib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Iterator, List, Tuple

import pytest

import meshtls
from _support import blocking_exchange

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

    def admin(self, path: str, body: dict, status: int) -> dict:
        """POST `body` to `path` as the admin, over mTLS with the standard library."""
        ctx = ssl.create_default_context(cafile=str(self.dir / "ca" / "ca.crt"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(str(self.dir / "admin" / "chain.pem"), str(self.dir / "admin" / "key.pem"))
        conn = http.client.HTTPSConnection("localhost", self.port, context=ctx, timeout=TIMEOUT)
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == status, data
            return json.loads(data)
        finally:
            conn.close()

    def mint(self, identity: str, **extra: object) -> str:
        """A join token for `identity` (POST /v1/tokens)."""
        return self.admin("/v1/tokens", {"identity": identity, **extra}, 201)["token"]


def _serve(*flags: str) -> Iterator[Service]:
    """A throwaway CA and `meshtls serve` on a free port (extra `flags`), killed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        _cli("ca", "init", "--trust-domain", "mesh.internal", "--out", str(d / "ca"))
        _cli("issue", "--ca", str(d / "ca"), "--id", ADMIN, "--usage", "client", "--out", str(d / "admin"))
        env = dict(os.environ, MESHTLS_CA_PASSPHRASE=PASS)
        child = subprocess.Popen(
            [str(BIN), "serve", "--ca", str(d / "ca"), "--listen", "127.0.0.1:0", "--admin-id", ADMIN, *flags],
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


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    yield from _serve()


@pytest.fixture(scope="module")
def short_service() -> Iterator[Service]:
    """Certificates of the shortest lifetime the core issues (60 s, backdated 60 s)."""
    yield from _serve("--lifetime", "60s")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def failure_codes(server: Any) -> List[str]:
    """The codes of the handshakes `server` refused. The server records a refusal in its
    handshake task, which can end just after the client has read the alert: wait for the
    record (5 s at most), then read."""
    for _ in range(100):
        if server.handshake_failures():
            break
        await asyncio.sleep(0.05)
    return [code for code, _ in server.handshake_failures()]


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
        assert node.stale_crl_refusals == 0  # the service's CRLs only move forward

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
        assert mismatch.value.code == "not_authorized"
        assert str(mismatch.value).startswith("not_authorized: ")

    run(main())


def test_a_service_outside_the_bundle_is_refused(service: Service) -> None:
    rogue = meshtls.Authority.create_root("mesh.internal").root_pem
    token = service.mint(NODE)

    async def main() -> None:
        with pytest.raises(meshtls.VerificationError) as e:
            await meshtls.enroll(service.url, token, NODE, ca_bundle=rogue, timeout=10)
        # Not "unreachable": the core refused the service's certificate, and says why.
        assert e.value.code == "unknown_issuer"
        assert str(e.value).startswith("unknown_issuer: ") or "certificate was refused" in str(e.value)
        assert "unreachable" not in str(e.value) and "Error {" not in str(e.value)
        with pytest.raises(meshtls.InvalidRequest):
            await meshtls.enroll("http://localhost:1", token, NODE, ca_bundle=service.bundle)
        # The option limits are net's, the same in every binding.
        for bad in ({"timeout": 0}, {"refresh_every": 0}, {"refresh_every": 8 * 86400}):
            with pytest.raises(meshtls.InvalidRequest) as limit:
                await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle, **bad)
            assert limit.value.code == "invalid_request"
        # The refusals did not burn the token.
        node = await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle)
        assert node.spiffe_id == NODE

    run(main())


# With `--lifetime 60s` a certificate runs from now-60s to now+60s: renewing 55 s before
# expiry (no jitter) renews about 5 s after each issuance, and the new one is fresh again.
SOON = meshtls.RotationPolicy(renew_before=dt.timedelta(seconds=55), jitter=0.0)


def _events(loop: asyncio.AbstractEventLoop) -> Tuple["asyncio.Queue[Any]", Any]:
    """A queue of the rotation events and the on_rotation callback (tokio thread) feeding it."""
    queue: "asyncio.Queue[Any]" = asyncio.Queue()

    def on_rotation(event: meshtls.RotationEvent) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    return queue, on_rotation


async def _next(queue: "asyncio.Queue[Any]", kind: str) -> meshtls.RotationEvent:
    """The next event of `kind` (others are skipped), within 20 s."""
    while True:
        event = await asyncio.wait_for(queue.get(), 20)
        if event.kind == kind:
            return event


def test_the_driver_renews_by_itself_and_reports_it(short_service: Service) -> None:
    token = short_service.mint(NODE)

    async def main() -> None:
        queue, on_rotation = _events(asyncio.get_running_loop())
        node = await meshtls.enroll(
            short_service.url, token, NODE, ca_bundle=short_service.bundle, rotation=SOON, on_rotation=on_rotation
        )
        first, first_not_after = node.serial, node.certificate.not_after
        assert node.generation == 0
        expiring = await asyncio.wait_for(queue.get(), 20)  # due: reported before renewing
        assert (expiring.kind, expiring.serial, expiring.expired) == ("expiring", first, False)
        assert expiring.not_after == first_not_after
        renewed = await _next(queue, "renewed")
        assert renewed.serial != first
        assert renewed.serial == node.identity.leaf.serial == node.serial
        assert renewed.not_after == node.certificate.not_after
        assert renewed.not_after > dt.datetime.now(dt.timezone.utc)
        assert (renewed.attempt, renewed.code, renewed.message, renewed.retry_in) == (None, None, None, None)
        assert node.generation == 1

    run(main())


def test_an_exception_in_on_rotation_does_not_stop_renewals(short_service: Service) -> None:
    token = short_service.mint(NODE)
    unraisable: List[Any] = []

    class Failed(Exception):
        def __init__(self, event: meshtls.RotationEvent) -> None:
            super().__init__(f"callback failed on {event.kind}")
            self.event = event

    def on_rotation(event: meshtls.RotationEvent) -> None:
        raise Failed(event)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # The events arrive through sys.unraisablehook: each one was raised and reported.
        queue: "asyncio.Queue[Any]" = asyncio.Queue()

        def hook(report: Any) -> None:
            unraisable.append(report)
            if isinstance(report.exc_value, Failed):
                loop.call_soon_threadsafe(queue.put_nowait, report.exc_value.event)

        sys.unraisablehook = hook
        node = await meshtls.enroll(
            short_service.url, token, NODE, ca_bundle=short_service.bundle, rotation=SOON, on_rotation=on_rotation
        )
        serials = {node.serial}
        for _ in range(2):
            serials.add((await _next(queue, "renewed")).serial)
        assert len(serials) == 3 and node.serial in serials
        assert node.generation == 2

    previous = sys.unraisablehook
    try:
        run(main())
    finally:
        sys.unraisablehook = previous
    assert unraisable and all(isinstance(u.exc_value, Failed) for u in unraisable), unraisable
    assert all(u.object is on_rotation for u in unraisable)
    assert [str(u.exc_value) for u in unraisable if u.exc_value.event.kind == "renewed"] == [
        "callback failed on renewed"
    ] * 2


def test_a_refused_renewal_is_reported_and_the_certificate_kept(short_service: Service) -> None:
    token = short_service.mint(NODE)

    async def main() -> None:
        queue, on_rotation = _events(asyncio.get_running_loop())
        node = await meshtls.enroll(
            short_service.url, token, NODE, ca_bundle=short_service.bundle, rotation=SOON, on_rotation=on_rotation
        )
        first = node.serial
        revoked = short_service.admin("/v1/revoke", {"serial": first, "reason": "key_compromise"}, 200)
        assert revoked["newly_revoked"] is True
        failed = await _next(queue, "failed")
        assert (failed.attempt, failed.code, failed.serial) == (1, "revoked", None)  # the service refused
        assert "403 revoked:" in failed.message
        assert failed.retry_in > dt.timedelta(0)
        assert (node.serial, node.generation) == (first, 0)  # kept

    run(main())


def test_on_rotation_must_be_callable(service: Service) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="on_rotation must be callable"):
            await meshtls.enroll(service.url, "0" * 64, NODE, ca_bundle=service.bundle, on_rotation="print")

    run(main())


def test_resume_picks_up_the_state_dir_without_a_token(service: Service) -> None:
    token = service.mint(NODE)

    async def main(state: pathlib.Path) -> None:
        node = await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle, state_dir=state)
        serial = node.serial
        assert (state / "identity.pem").stat().st_mode & 0o777 == 0o600
        del node
        gc.collect()

        again = await meshtls.resume(service.url, ca_bundle=service.bundle, state_dir=state)
        assert (again.spiffe_id, again.serial, again.generation) == (NODE, serial, 0)
        # The resumed key authenticates /v1/renew, and the renewal is kept for the next resume.
        await again.renew_now()
        renewed = again.serial
        assert renewed != serial
        del again
        gc.collect()
        third = await meshtls.resume(service.url, ca_bundle=service.bundle, state_dir=str(state))
        assert third.serial == renewed

    with tempfile.TemporaryDirectory() as tmp:
        run(main(pathlib.Path(tmp) / "node"))


def test_resume_without_a_stored_identity_fails_with_its_code(service: Service) -> None:
    async def main(state: pathlib.Path) -> None:
        with pytest.raises(meshtls.InvalidRequest) as empty:
            await meshtls.resume(service.url, ca_bundle=service.bundle, state_dir=state)
        assert (empty.value.code, empty.value.family) == ("invalid_request", "request")
        assert "identity.pem" in empty.value.message
        # A state file without its key is malformed, not half-used.
        (state / "identity.pem").write_text(service.bundle)
        with pytest.raises(meshtls.MalformedInput) as keyless:
            await meshtls.resume(service.url, ca_bundle=service.bundle, state_dir=state)
        assert keyless.value.code == "malformed"

    with tempfile.TemporaryDirectory() as tmp:
        run(main(pathlib.Path(tmp)))


def test_peer_policy_is_the_verifiers_policy(service: Service) -> None:
    allowed = "spiffe://mesh.internal/service/allowed"
    other = "spiffe://mesh.internal/service/other"
    tokens = {i: service.mint(i) for i in (NODE, allowed, other)}

    async def main() -> None:
        only = meshtls.Policy(ids=[allowed])
        node = await meshtls.enroll(service.url, tokens[NODE], NODE, ca_bundle=service.bundle, peer_policy=only)
        good = await meshtls.enroll(service.url, tokens[allowed], allowed, ca_bundle=service.bundle)
        bad = await meshtls.enroll(service.url, tokens[other], other, ca_bundle=service.bundle)
        verifier = node.verifier()
        assert verifier.verify(good.chain_pem, usage="client").spiffe_id == allowed
        with pytest.raises(meshtls.VerificationError) as refused:
            verifier.verify(bad.chain_pem, usage="client")
        assert refused.value.code == "identity_not_allowed"
        # Without peer_policy the trust domain is the policy: the same peer is accepted.
        assert bad.verifier().verify(bad.chain_pem, usage="client").spiffe_id == other

        # And over the native transport: the server refuses `other` in the handshake.
        async def echo(stream: meshtls.TlsStream) -> None:
            await stream.write(await stream.read())

        async with await meshtls.serve(echo, "127.0.0.1", 0, node.identity, verifier) as server:
            stream = await meshtls.connect("127.0.0.1", server.port, good.identity, good.verifier())
            await stream.write(b"ping")
            assert await stream.read() == b"ping"
            await stream.close()
            with pytest.raises(meshtls.VerificationError) as client_side:
                rejected = await meshtls.connect("127.0.0.1", server.port, bad.identity, bad.verifier())
                await rejected.write(b"ping")
                await rejected.read()
            assert client_side.value.code == "identity_not_allowed"  # told by the server's alert
            assert await failure_codes(server) == ["identity_not_allowed"]

    run(main())


def test_trust_for_gives_a_second_listener_its_own_policy_on_the_refreshed_crl(service: Service) -> None:
    web = "spiffe://mesh.internal/service/web"
    worker = "spiffe://mesh.internal/service/worker"
    tokens = {i: service.mint(i) for i in (NODE, web, worker)}

    async def main() -> None:
        node = await meshtls.enroll(service.url, tokens[NODE], NODE, ca_bundle=service.bundle)
        peers = {i: await meshtls.enroll(service.url, tokens[i], i, ca_bundle=service.bundle) for i in (web, worker)}
        only_web = node.trust_for(meshtls.Policy(ids=[web]))
        assert isinstance(only_web, meshtls.Trust)
        assert only_web.verify(peers[web].chain_pem, usage="client").spiffe_id == web
        with pytest.raises(meshtls.VerificationError) as refused:
            only_web.verify(peers[worker].chain_pem, usage="client")
        assert refused.value.code == "identity_not_allowed"
        assert node.trust.verify(peers[worker].chain_pem).spiffe_id == worker  # the trust domain

        generation = only_web.generation
        service.admin("/v1/revoke", {"serial": peers[web].serial, "reason": "key_compromise"}, 200)
        await node.refresh_trust()
        assert only_web.generation == generation + 1
        with pytest.raises(meshtls.VerificationError) as revoked:
            only_web.verify(peers[web].chain_pem, usage="client")
        assert revoked.value.code == "revoked"

    run(main())


def test_an_enrolled_identity_in_stdlib_ssl_follows_its_renewals(service: Service) -> None:
    server_id = "spiffe://mesh.internal/service/web"
    allowed = "spiffe://mesh.internal/service/allowed"
    tokens = {i: service.mint(i) for i in (server_id, NODE, allowed)}

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

        # A client whose peer_policy does not allow the server: the core refuses it.
        picky = await meshtls.enroll(
            service.url, tokens[allowed], allowed, ca_bundle=service.bundle, peer_policy=meshtls.Policy(ids=[NODE])
        )
        with pytest.raises(meshtls.VerificationError) as refused:
            await exchange(server_ctx, picky.identity.ssl_context(picky.verifier()))
        assert refused.value.code == "identity_not_allowed"

    run(main())


def test_an_ssl_context_on_the_live_trust_refuses_a_peer_revoked_since(service: Service) -> None:
    """A stdlib server context made once from `node.trust`: the CRL the schedule fetches after
    a revocation reaches it, with no new context and no manual refresh."""
    server_id = "spiffe://mesh.internal/service/live"
    peer_id = "spiffe://mesh.internal/service/peer"
    tokens = {i: service.mint(i) for i in (server_id, peer_id)}

    async def enroll_both() -> Tuple[meshtls.EnrolledIdentity, meshtls.EnrolledIdentity]:
        web = await meshtls.enroll(
            service.url, tokens[server_id], server_id, ca_bundle=service.bundle, refresh_every=1
        )
        peer = await meshtls.enroll(service.url, tokens[peer_id], peer_id, ca_bundle=service.bundle)
        return web, peer

    web, peer = run(enroll_both())
    live = web.identity.ssl_context(web.trust, server=True)
    snapshot = web.identity.ssl_context(web.verifier(), server=True)
    client = peer.identity.ssl_context(peer.verifier())
    for ctx in (live, snapshot):
        _, reply, seen = blocking_exchange(ctx, client)
        assert reply == b"HI" and seen[0].serial == peer.serial

    generation = web.trust.generation
    revoked = service.admin("/v1/revoke", {"serial": peer.serial, "reason": "key_compromise"}, 200)
    assert revoked["newly_revoked"] is True
    deadline = time.monotonic() + 20  # refresh_every=1: a few seconds at most
    while True:
        _, reply, seen = blocking_exchange(live, client)
        if reply is None or time.monotonic() > deadline:
            break
        time.sleep(0.25)  # polling the schedule; the deadline bounds it
    assert reply is None, "the live context still admits the revoked peer"
    assert isinstance(seen[0], meshtls.VerificationError) and seen[0].code == "revoked"
    assert web.trust.generation > generation
    with pytest.raises(meshtls.VerificationError) as direct:
        web.trust.verify(peer.chain_pem, usage="client")
    assert direct.value.code == "revoked"

    # A Verifier is a snapshot: the context made before the revocation still admits the peer;
    # one made from a verifier() taken now refuses it.
    _, reply, seen = blocking_exchange(snapshot, client)
    assert reply == b"HI" and seen[0].serial == peer.serial
    _, reply, seen = blocking_exchange(web.identity.ssl_context(web.verifier(), server=True), client)
    assert reply is None and seen[0].code == "revoked"


def test_a_native_listener_on_the_live_trust_refuses_a_peer_revoked_since(service: Service) -> None:
    """The native transport shares `node.trust`: the schedule's CRL reaches a running listener."""
    server_id = "spiffe://mesh.internal/service/live-native"
    peer_id = "spiffe://mesh.internal/service/peer-native"
    tokens = {i: service.mint(i) for i in (server_id, peer_id)}

    async def main() -> None:
        web = await meshtls.enroll(
            service.url, tokens[server_id], server_id, ca_bundle=service.bundle, refresh_every=1
        )
        peer = await meshtls.enroll(service.url, tokens[peer_id], peer_id, ca_bundle=service.bundle)

        async def echo(stream: meshtls.TlsStream) -> None:
            await stream.write(await stream.read())

        async def ping(port: int) -> bytes:
            stream = await meshtls.connect("127.0.0.1", port, peer.identity, peer.verifier())
            await stream.write(b"ping")
            got = await stream.read()
            await stream.close()
            return got

        loop = asyncio.get_running_loop()
        async with await meshtls.serve(echo, "127.0.0.1", 0, web.identity, web.trust) as server:
            assert await ping(server.port) == b"ping"
            service.admin("/v1/revoke", {"serial": peer.serial, "reason": "key_compromise"}, 200)
            deadline = loop.time() + 20  # refresh_every=1: a few seconds at most
            while True:
                try:
                    await ping(server.port)
                except meshtls.VerificationError as refused:
                    assert refused.code == "revoked"  # told by the server's alert
                    break
                assert loop.time() < deadline, "the listener still admits the revoked peer"
                await asyncio.sleep(0.25)  # polling the schedule; the deadline bounds it
            assert await failure_codes(server) == ["revoked"]

    run(main())


def test_close_and_async_with_stop_the_background_work(service: Service) -> None:
    async def main() -> None:
        token = service.mint(NODE)
        async with await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle) as node:
            assert isinstance(node, meshtls.EnrolledIdentity) and not node.closed
            generation = node.generation
        assert node.closed
        # The last generation stays usable after close.
        assert node.generation == generation and node.identity.generation == generation
        again = await meshtls.enroll(service.url, service.mint(NODE), NODE, ca_bundle=service.bundle)
        again.close()
        again.close()  # idempotent
        assert again.closed

    run(main())
