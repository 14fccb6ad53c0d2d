"""``ssl_context()`` against real OpenSSL peers: the TLS profile (suites and versions) is
enforced, and a refused peer learns why from the TLS alert of the core's code while the
server logs one line, without a traceback, on plain sockets, asyncio and ``websockets``."""

from __future__ import annotations

import asyncio
import atexit
import logging
import pathlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from typing import List, Optional

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

import meshtls
from _support import TD, issue_identity

TIMEOUT = 20
ALL_SERVICES = f"spiffe://{TD}/service/*"


# The peers of these tests: a root, an intermediate, and two leaves (service/api and
# service/web) as PEM files for the stdlib and openssl clients. Made at import, not
# committed: the tests run against the wall clock.
PKI = pathlib.Path(tempfile.mkdtemp(prefix="meshtls-refusals-"))
atexit.register(shutil.rmtree, PKI, True)
ROOT = meshtls.Authority.create_root(TD)
INTER = ROOT.create_intermediate()
for _name in ("api", "web"):
    _leaf = INTER.issue(f"spiffe://{TD}/service/{_name}", dns_names=["localhost"])
    (PKI / f"{_name}.chain.pem").write_text(_leaf.chain_pem)
    (PKI / f"{_name}.key.pem").write_text(_leaf.key_pem or "")


def fixture_verifier(pattern: str = ALL_SERVICES) -> meshtls.Verifier:
    """Trusts ROOT; admits the SPIFFE IDs matching `pattern`."""
    return meshtls.Verifier(ROOT.root_pem, meshtls.Policy(patterns=[pattern]))


def plain_client(name: str, maximum: Optional[ssl.TLSVersion] = None) -> ssl.SSLContext:
    """A stdlib client presenting the leaf `name` of PKI and verifying nothing itself."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        ctx.maximum_version = maximum
    ctx.load_cert_chain(PKI / f"{name}.chain.pem", PKI / f"{name}.key.pem")
    return ctx


def exchange(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple:
    """One connection; `(client outcome, server outcome)`: bytes or the exception seen."""
    results: List[object] = []

    def serve(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                results.append(tls.meshtls_peer)  # type: ignore[attr-defined]
                tls.sendall(tls.recv(10))
        except Exception as e:
            results.append(e)

    with socket.create_server(("127.0.0.1", 0)) as sock:
        t = threading.Thread(target=serve, args=(sock,))
        t.start()
        client: object
        try:
            with socket.create_connection(sock.getsockname(), timeout=TIMEOUT) as raw:
                with client_ctx.wrap_socket(raw) as tls:
                    tls.sendall(b"hi")
                    client = tls.recv(10)
        except (OSError, meshtls.Error) as e:
            client = e
        t.join(TIMEOUT)
    return client, results[0]


def client_files(tmp_path, chain_pem: str, key_pem: str) -> ssl.SSLContext:
    """A stdlib client presenting `chain_pem` / `key_pem`, verifying nothing itself."""
    (tmp_path / "c.pem").write_text(chain_pem)
    (tmp_path / "k.pem").write_text(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return ctx


def tampered(chain_pem: str) -> str:
    """The chain with the last byte of the leaf's signature flipped (still well-formed DER)."""
    import base64

    ders = meshtls.parse_certificates(chain_pem)
    leaf = bytearray(ders[0])
    leaf[-1] ^= 0x01
    out = []
    for der in [bytes(leaf), *ders[1:]]:
        b64 = base64.encodebytes(der).decode().replace("\n", "")
        lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
        out.append(f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n")
    return "".join(out)


def refused_case(ca: meshtls.Authority, name: str) -> tuple:
    """`(server verifier, client chain PEM, client key PEM)` for one refusal, made now (no
    committed certificate: these run against the wall clock)."""
    import datetime as dt

    inter = ca.create_intermediate()
    policy = meshtls.Policy(trust_domains=[TD])
    bundle = meshtls.TrustBundle(ca.root_pem)
    issue = lambda **kw: inter.issue(f"spiffe://{TD}/service/{name}", **kw)  # noqa: E731
    if name == "expired":
        now = dt.datetime.now(dt.timezone.utc)
        old_root = meshtls.Authority.create_root(TD, now=now - dt.timedelta(days=10))
        issued = old_root.issue(
            f"spiffe://{TD}/service/old", usage="client", now=now - dt.timedelta(days=3),
            lifetime=dt.timedelta(days=1),
        )
        bundle = meshtls.TrustBundle(old_root.root_pem)
    elif name == "revoked":
        issued = issue(usage="client")
        records = meshtls.RevocationList()
        records.revoke(issued)
        bundle.add_crl(inter.build_crl(records, 1))
        bundle.add_crl(ca.build_crl(meshtls.RevocationList(), 1))
    elif name == "unknown-issuer":
        issued = meshtls.Authority.create_root(TD).issue(f"spiffe://{TD}/service/x", usage="client")
    elif name == "tampered":
        issued = issue(usage="client")
        return meshtls.Verifier(bundle, policy), tampered(issued.chain_pem), issued.key_pem
    elif name == "server-only":
        issued = issue(usage="server")
    else:  # identity: allowed by nobody's policy
        issued = issue(usage="client")
        policy = meshtls.Policy(ids=[f"spiffe://{TD}/service/billing"])
    return meshtls.Verifier(bundle, policy), issued.chain_pem, issued.key_pem


# (case, the core's code, the alert the client must receive)
REFUSALS = [
    ("expired", "expired", "CERTIFICATE_EXPIRED"),
    ("revoked", "revoked", "CERTIFICATE_REVOKED"),
    ("unknown-issuer", "unknown_issuer", "UNKNOWN_CA"),
    ("tampered", "bad_signature", "DECRYPT_ERROR"),
    ("server-only", "wrong_usage", "UNSUPPORTED_CERTIFICATE"),
    ("identity", "identity_not_allowed", "ACCESS_DENIED"),
]


@pytest.mark.parametrize("name,code,alert", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_client_receives_the_alert_of_the_code(
    ca: meshtls.Authority, caplog: pytest.LogCaptureFixture, tmp_path, name, code, alert
) -> None:
    _, server_id = issue_identity(ca, "server")
    verifier, chain_pem, key_pem = refused_case(ca, name)
    server_ctx = server_id.ssl_context(verifier, server=True)
    with caplog.at_level(logging.INFO):
        client, server = exchange(server_ctx, client_files(tmp_path, chain_pem, key_pem or ""))
    assert isinstance(client, ssl.SSLError), client
    assert client.reason == f"{'TLSV1' if alert in ('UNKNOWN_CA', 'ACCESS_DENIED', 'DECRYPT_ERROR') else 'SSLV3'}_ALERT_{alert}"
    assert isinstance(server, meshtls.PeerRefused) and server.code == code
    assert isinstance(server, meshtls.VerificationError) and isinstance(server, ssl.SSLError)
    lines = [r for r in caplog.records if r.name == "meshtls"]
    assert len(lines) == 1 and code in lines[0].getMessage() and lines[0].exc_info is None
    assert _native_alert(code) == alert.lower()


def test_not_yet_valid_client_receives_certificate_expired(
    ca: meshtls.Authority, tmp_path
) -> None:
    """No alert tells "not yet valid" from "expired": the profile sends certificate_expired."""
    import datetime as dt

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    issued = ca.issue(f"spiffe://{TD}/service/future", usage="client", now=later)
    (tmp_path / "c.pem").write_text(issued.chain_pem)
    (tmp_path / "k.pem").write_text(issued.key_pem or "")
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    _, server_id = issue_identity(ca, "server")
    bundle = meshtls.TrustBundle(ca.root_pem)
    server_ctx = server_id.ssl_context(meshtls.Verifier(bundle, meshtls.Policy(trust_domains=[TD])), server=True)
    client, server = exchange(server_ctx, client_ctx)
    assert isinstance(client, ssl.SSLError) and client.reason == "SSLV3_ALERT_CERTIFICATE_EXPIRED"
    assert isinstance(server, meshtls.PeerRefused) and server.code == "not_yet_valid"


def _native_alert(code: str) -> str:
    from meshtls import _native

    return _native._ssl_alert_for(code)[0]


def test_accepted_client_gets_through(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(fixture_verifier(), server=True)
    client, server = exchange(server_ctx, plain_client("api"))
    assert client == b"hi"
    assert server.spiffe_id == f"spiffe://{TD}/service/api"


def test_identity_refusal_over_tls12_is_certificate_unknown(ca: meshtls.Authority) -> None:
    """TLS 1.2 (opt-in) verifies the client before the server's Finished: no verification
    error of OpenSSL carries access_denied, so the refusal goes out as certificate_unknown."""
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(
        fixture_verifier(f"spiffe://{TD}/service/api"), server=True, allow_tls12=True
    )
    client, server = exchange(server_ctx, plain_client("web", ssl.TLSVersion.TLSv1_2))
    assert isinstance(client, ssl.SSLError) and client.reason == "SSLV3_ALERT_CERTIFICATE_UNKNOWN"
    assert isinstance(server, meshtls.PeerRefused) and server.code == "identity_not_allowed"
    assert _native_alert_tls12("identity_not_allowed") == "certificate_unknown"


def _native_alert_tls12(code: str) -> str:
    from meshtls import _native

    return _native._ssl_alert_for(code, True, False)[0]


def _asyncio_errors(records: List[logging.LogRecord]) -> List[logging.LogRecord]:
    return [r for r in records if r.name == "asyncio" and r.levelno >= logging.WARNING]


def test_asyncio_server_refuses_without_traceback(
    ca: meshtls.Authority, caplog: pytest.LogCaptureFixture
) -> None:
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(fixture_verifier(f"spiffe://{TD}/service/api"), server=True)

    async def main() -> object:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(10))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=plain_client("web"))
            writer.write(b"hi")
            try:
                return await reader.read(10)
            except ssl.SSLError as e:
                return e
            finally:
                writer.close()
        finally:
            server.close()
            await server.wait_closed()

    with caplog.at_level(logging.DEBUG):
        outcome = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert isinstance(outcome, ssl.SSLError) and outcome.reason == "TLSV1_ALERT_ACCESS_DENIED"
    lines = [r for r in caplog.records if r.name == "meshtls"]
    assert len(lines) == 1 and "identity_not_allowed" in lines[0].getMessage()
    assert _asyncio_errors(caplog.records) == []
    assert not any(r.exc_info and r.levelno >= logging.WARNING for r in caplog.records)


def test_websockets_server_refuses_without_traceback(
    ca: meshtls.Authority, caplog: pytest.LogCaptureFixture
) -> None:
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(fixture_verifier(f"spiffe://{TD}/service/api"), server=True)

    async def echo(ws) -> None:  # type: ignore[no-untyped-def]
        async for msg in ws:
            await ws.send(msg)

    def upgrade(port: int) -> object:
        """A stdlib client (it reports the alert it receives) asking for the upgrade."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                with plain_client("web").wrap_socket(raw) as tls:
                    tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    return tls.recv(100)
        except ssl.SSLError as e:
            return e

    async def main() -> object:
        async with ws_serve(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
            port = server.sockets[0].getsockname()[1]
            return await asyncio.to_thread(upgrade, port)

    with caplog.at_level(logging.DEBUG):
        outcome = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert isinstance(outcome, ssl.SSLError) and outcome.reason == "TLSV1_ALERT_ACCESS_DENIED"
    lines = [r for r in caplog.records if r.name == "meshtls"]
    assert len(lines) == 1 and "identity_not_allowed" in lines[0].getMessage()
    assert _asyncio_errors(caplog.records) == []
    assert not any(r.exc_info and r.levelno >= logging.WARNING for r in caplog.records)


# --- the TLS profile against openssl s_client / s_server --------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI")


def s_client(port: int, cipher: str, chain: str, key: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-cipher", cipher,
         "-cert", chain, "-cert_chain", chain, "-key", key, "-brief"],
        input=b"", capture_output=True, timeout=TIMEOUT,
    )


def serve_once(server_ctx: ssl.SSLContext, cipher: str, chain: str, key: str) -> tuple:
    """Runs `openssl s_client -tls1_2 -cipher CIPHER` against the context; `(s_client exit
    status, what the server saw)`."""
    results: List[object] = []

    def serve(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                results.append((tls.version(), tls.cipher()[0]))
                tls.recv(10)  # until s_client's close: closing first could reset it
        except Exception as e:
            results.append(e)

    with socket.create_server(("127.0.0.1", 0)) as sock:
        t = threading.Thread(target=serve, args=(sock,))
        t.start()
        done = s_client(sock.getsockname()[1], cipher, chain, key)
        t.join(TIMEOUT)
    return done.returncode, results[0]


@needs_openssl
@pytest.mark.parametrize(
    "cipher,rsa",
    [("ECDHE-ECDSA-AES128-SHA256", False), ("ECDHE-ECDSA-AES256-SHA384", False),
     ("DHE-RSA-AES128-GCM-SHA256", True), ("AES128-GCM-SHA256", True)],
    ids=["cbc", "cbc-sha384", "dhe", "rsa-key-transport"],
)
def test_tls12_server_refuses_suites_outside_the_profile(
    ca: meshtls.Authority, tmp_path, cipher: str, rsa: bool
) -> None:
    issued = ca.issue(f"spiffe://{TD}/service/server", key="rsa-2048" if rsa else None)
    server_ctx = meshtls.Identity(issued).ssl_context(fixture_verifier(), server=True, allow_tls12=True)
    # The control: the same server accepts this key type's ECDHE + AEAD suite.
    good = "ECDHE-RSA-AES128-GCM-SHA256" if rsa else "ECDHE-ECDSA-AES128-GCM-SHA256"
    chain, key = str(PKI / "api.chain.pem"), str(PKI / "api.key.pem")
    status, seen = serve_once(server_ctx, good, chain, key)
    assert status == 0 and seen == ("TLSv1.2", good)
    status, seen = serve_once(server_ctx, cipher, chain, key)
    assert status != 0
    assert isinstance(seen, ssl.SSLError) and seen.reason == "NO_SHARED_CIPHER"


@needs_openssl
def test_tls12_is_opt_in(ca: meshtls.Authority) -> None:
    _, server_id = issue_identity(ca, "server")
    chain, key = str(PKI / "api.chain.pem"), str(PKI / "api.key.pem")
    strict = server_id.ssl_context(fixture_verifier(), server=True)
    status, seen = serve_once(strict, "ECDHE-ECDSA-AES128-GCM-SHA256", chain, key)
    assert status != 0
    assert isinstance(seen, ssl.SSLError) and seen.reason == "UNSUPPORTED_PROTOCOL"
    opted = server_id.ssl_context(fixture_verifier(), server=True, allow_tls12=True)
    status, seen = serve_once(opted, "ECDHE-ECDSA-AES128-GCM-SHA256", chain, key)
    assert status == 0 and seen == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")


@needs_openssl
@pytest.mark.parametrize("cipher,accepted", [("ECDHE-ECDSA-AES128-SHA256", False), ("ECDHE-ECDSA-AES128-GCM-SHA256", True)])
def test_tls12_client_refuses_a_cbc_server(tmp_path, cipher: str, accepted: bool) -> None:
    """Our client (TLS 1.2 opted in) against `openssl s_server -tls1_2 -cipher CIPHER`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-tls1_2", "-cipher", cipher,
         "-cert", str(PKI / "api.chain.pem"), "-cert_chain", str(PKI / "api.chain.pem"),
         "-key", str(PKI / "api.key.pem"),
         "-naccept", "1", "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        client_id = meshtls.Identity(
            (PKI / "web.chain.pem").read_text(), (PKI / "web.key.pem").read_text()
        )
        ctx = client_id.ssl_context(fixture_verifier(), allow_tls12=True)
        outcome: object = None
        for _ in range(100):  # s_server binds shortly after it starts
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                    with ctx.wrap_socket(raw) as tls:
                        outcome = (tls.version(), tls.cipher()[0])
                break
            except ConnectionRefusedError:
                import time

                time.sleep(0.05)
            except ssl.SSLError as e:
                outcome = e
                break
    finally:
        server.kill()
        server.wait(TIMEOUT)
    if accepted:
        assert outcome == ("TLSv1.2", cipher)
    else:
        assert isinstance(outcome, ssl.SSLError) and "ALERT_HANDSHAKE_FAILURE" in str(outcome.reason)


def test_profile_comes_from_meshtls_net() -> None:
    min_version, suites, tls12, groups = meshtls.tls_profile()
    assert min_version == "TLSv1.3" and tls12 == "" and groups == "X25519:P-256:P-384"
    assert suites.split(":")[0] == "TLS_AES_128_GCM_SHA256"
    assert meshtls.tls_profile(allow_tls12=True)[0] == "TLSv1.2"
    assert all(s.startswith("ECDHE-") for s in meshtls.tls_profile(allow_tls12=True)[2].split(":"))


@pytest.mark.parametrize("key", ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"])
def test_every_key_type_loads_from_memory(ca: meshtls.Authority, key: str) -> None:
    issued = ca.issue(f"spiffe://{TD}/service/server", key=key)
    server_ctx = meshtls.Identity(issued).ssl_context(fixture_verifier(), server=True)
    client, server = exchange(server_ctx, plain_client("api"))
    assert client == b"hi" and server.spiffe_id == f"spiffe://{TD}/service/api"


def test_refusal_holds_without_tickets(ca: meshtls.Authority) -> None:
    """With no NewSessionTicket to carry access_denied (num_tickets = 0), the verdict kept by
    the core's callback still refuses the client right after the handshake."""
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(fixture_verifier(f"spiffe://{TD}/service/api"), server=True)
    server_ctx.num_tickets = 0
    client, server = exchange(server_ctx, plain_client("web"))
    assert not isinstance(client, bytes) or client == b""
    assert isinstance(server, meshtls.PeerRefused) and server.code == "identity_not_allowed"


def test_ssl_context_async_builds_off_the_loop(ca: meshtls.Authority) -> None:
    import threading as th

    _, server_id = issue_identity(ca, "server")
    seen = []
    real = meshtls.Identity.ssl_context

    def spy(self, *a, **kw):  # type: ignore[no-untyped-def]
        seen.append(th.current_thread() is th.main_thread())
        return real(self, *a, **kw)

    meshtls.Identity.ssl_context = spy  # type: ignore[method-assign]
    try:
        ctx = asyncio.run(server_id.ssl_context_async(fixture_verifier(), server=True, allow_tls12=True))
    finally:
        meshtls.Identity.ssl_context = real  # type: ignore[method-assign]
    assert seen == [False]
    assert isinstance(ctx, meshtls.MeshSSLContext) and ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    client, server = exchange(ctx, plain_client("api"))
    assert client == b"hi"


def test_portable_path_still_refuses_with_the_code(
    ca: meshtls.Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the native hooks are unavailable (another interpreter or OpenSSL), contexts load
    the key from memory (memfd) or a private file and check the peer after the handshake."""
    from meshtls import _stdlib

    monkeypatch.setattr(_stdlib, "_NATIVE", False)
    _, server_id = issue_identity(ca, "server")
    # Python < 3.13 shows this path only the leaf: the verifier names the intermediate.
    verifier = meshtls.Verifier(
        ROOT.root_pem,
        meshtls.Policy(patterns=[f"spiffe://{TD}/service/api"]),
        intermediates=INTER.certificate_pem,
    )
    server_ctx = server_id.ssl_context(verifier, server=True)
    assert server_ctx._meshtls_hook is None and len(server_ctx.get_ca_certs()) == 1
    client, server = exchange(server_ctx, plain_client("api"))
    assert client == b"hi" and server.spiffe_id == f"spiffe://{TD}/service/api"
    client, server = exchange(server_ctx, plain_client("web"))
    assert not isinstance(client, bytes) or client == b""
    assert isinstance(server, meshtls.PeerRefused) and server.code == "identity_not_allowed"


def test_no_session_is_resumed(ca: meshtls.Authority) -> None:
    """Every handshake goes through the core: a client offering its previous session gets a
    full handshake (a ticket would skip the certificate, and the core with it)."""
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(fixture_verifier(), server=True)
    client_ctx = plain_client("api")
    peers: List[object] = []

    def serve(sock: socket.socket) -> None:
        for _ in range(2):
            conn, _ = sock.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                peers.append(tls.meshtls_peer)  # type: ignore[attr-defined]
                tls.sendall(tls.recv(10))

    with socket.create_server(("127.0.0.1", 0)) as sock:
        t = threading.Thread(target=serve, args=(sock,))
        t.start()
        session = None
        reused = []
        for _ in range(2):
            with socket.create_connection(sock.getsockname(), timeout=TIMEOUT) as raw:
                with client_ctx.wrap_socket(raw, session=session) as tls:
                    tls.sendall(b"hi")
                    assert tls.recv(10) == b"hi"
                    reused.append(tls.session_reused)
                    session = tls.session
        t.join(TIMEOUT)
    assert reused == [False, False]
    assert [p.spiffe_id for p in peers] == [f"spiffe://{TD}/service/api"] * 2


def test_memory_bio_refusal_sends_the_alert_even_when_the_flight_is_split(ca: meshtls.Authority) -> None:
    """The client's last flight fed to the server one byte at a time (as TCP may split it):
    the server reports want-read until OpenSSL has refused, sends access_denied, then raises
    the core's refusal."""
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(fixture_verifier(f"spiffe://{TD}/service/api"), server=True)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = plain_client("web").wrap_bio(c_in, c_out)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client_error: object = None
    refused: object = None
    for _ in range(100000):
        if client_error is None:
            try:
                client.do_handshake()
                client.write(b"hi")
                client.read(10)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except ssl.SSLError as e:
                client_error = e
        data = c_out.read(1)
        if data:
            s_in.write(data)
        if refused is None:
            try:
                server.do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except meshtls.PeerRefused as e:
                refused = e
        pending = s_out.read()
        if pending:
            c_in.write(pending)
        if client_error is not None and refused is not None:
            break
        if refused is not None and not pending and not c_out.pending:
            # Refused and everything delivered: the client must now read the alert.
            try:
                client.read(10)
            except ssl.SSLError as e:
                client_error = e
            break
    assert isinstance(refused, meshtls.PeerRefused) and refused.code == "identity_not_allowed"
    assert isinstance(client_error, ssl.SSLError) and client_error.reason == "TLSV1_ALERT_ACCESS_DENIED"
