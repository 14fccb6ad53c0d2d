"""`meshtls probe` (the CLI binary) against an ``ssl_context()`` server: it waits for the
server's verdict and reports a refusal with the core's code (exit 1), never "ok"."""

from __future__ import annotations

import os
import pathlib
import socket
import ssl
import subprocess
import threading
from typing import List

import pytest

import meshtls
from _support import TD, issue_identity, verifier_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("MESHTLS_CLI", ROOT / "target" / "debug" / "meshtls"))
TIMEOUT = 20

pytestmark = pytest.mark.skipif(not BIN.exists(), reason=f"{BIN} not built (cargo build -p meshtls-cli)")


def probe(ca: meshtls.Authority, server_ctx: ssl.SSLContext, tmp_path: pathlib.Path) -> tuple:
    """Runs `meshtls probe tls://…` as the `client` identity of `ca` against one connection
    of `server_ctx`; `(completed probe, what the server saw)`."""
    issued, _ = issue_identity(ca, "client")
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "chain.pem").write_text(issued.chain_pem)
    (tmp_path / "client" / "key.pem").write_text(issued.key_pem or "")
    (tmp_path / "bundle.pem").write_text(ca.root_pem)
    seen: List[object] = []

    def serve(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen.append(tls.meshtls_peer)  # type: ignore[attr-defined]
                tls.recv(10)  # until the probe closes
        except Exception as e:
            seen.append(e)

    with socket.create_server(("127.0.0.1", 0)) as sock:
        t = threading.Thread(target=serve, args=(sock,))
        t.start()
        done = subprocess.run(
            [str(BIN), "probe", f"tls://localhost:{sock.getsockname()[1]}",
             "--cert", str(tmp_path / "client"), "--bundle", str(tmp_path / "bundle.pem")],
            capture_output=True, text=True, timeout=TIMEOUT,
        )
        t.join(TIMEOUT)
    return done, seen[0]


def test_probe_reports_the_refusal_of_an_ssl_context_server(ca: meshtls.Authority, tmp_path) -> None:
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(verifier_for(ca, f"spiffe://{TD}/service/billing"), server=True)
    done, seen = probe(ca, server_ctx, tmp_path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.startswith("error: identity_not_allowed: "), done.stderr
    assert "ok" not in done.stdout
    assert isinstance(seen, meshtls.PeerRefused) and seen.code == "identity_not_allowed"


def test_probe_accepted_by_an_ssl_context_server(ca: meshtls.Authority, tmp_path) -> None:
    _, server_id = issue_identity(ca, "server")
    server_ctx = server_id.ssl_context(verifier_for(ca), server=True)
    done, seen = probe(ca, server_ctx, tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.startswith("ok: server verified")
    assert seen.spiffe_id == f"spiffe://{TD}/service/client"
