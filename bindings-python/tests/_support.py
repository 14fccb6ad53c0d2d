"""Helpers shared by the tests: the repository's fixtures, CA helpers, UTC times."""

from __future__ import annotations

import datetime as dt
import pathlib
import socket
import ssl
import threading
from typing import Tuple

import meshtls

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
TD = "mesh.internal"
TIMEOUT = 20


def utc(unix: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc)


def issue_identity(
    ca: meshtls.Authority, name: str, usage: str = "both", **kw
) -> Tuple[meshtls.Issued, meshtls.Identity]:
    issued = ca.issue(f"spiffe://{TD}/service/{name}", dns_names=["localhost"], usage=usage, **kw)
    return issued, meshtls.Identity(issued)


def verifier_for(ca: meshtls.Authority, *patterns: str, **kw) -> meshtls.Verifier:
    policy = meshtls.Policy(patterns=list(patterns)) if patterns else meshtls.Policy(trust_domains=[TD])
    return meshtls.Verifier(meshtls.TrustBundle(ca.root_pem), policy, **kw)


def serve_blocking(ctx: ssl.SSLContext, sock: socket.socket, results: list) -> None:
    """Accepts one connection on `sock` with `ctx`, echoes upper-case; appends the verified
    peer (or the exception the handshake raised) to `results`."""
    conn, _ = sock.accept()
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            results.append(tls.meshtls_peer)
            tls.sendall(tls.recv(100).upper())
    except Exception as e:  # the test reads what the server saw
        results.append(e)


def blocking_exchange(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple:
    """One connection over blocking sockets: `(server peer, b"HI", [client peer])` when both
    sides accept, `(client error, None, [server peer or error])` when one refuses."""
    results: list = []
    with socket.create_server(("127.0.0.1", 0)) as sock:
        t = threading.Thread(target=serve_blocking, args=(server_ctx, sock, results))
        t.start()
        client_err = None
        try:
            with socket.create_connection(sock.getsockname(), timeout=TIMEOUT) as raw:
                with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"hi")
                    reply = tls.recv(100)
                    if not reply:
                        raise ConnectionResetError("closed by the server")
                    return tls.meshtls_peer, reply, results
        except (OSError, meshtls.Error) as e:
            client_err = e
        finally:
            t.join(TIMEOUT)
        return client_err, None, results
