"""Handshakes per second of *server* CPU: a meshtls ``ssl_context()`` server against the
same server built on plain ``ssl`` (OpenSSL verifies the chain; no core policy).

    python bench/handshake.py [--seconds 5] [--clients 4]

Each server runs in its own process pinned to CPU 0, the clients (threads of this process,
plain ``ssl`` with their certificate, not verifying the server) on the other CPUs. Both sides
present a P-256 leaf + intermediate chain; every connection is a full TLS 1.3 handshake
(no resumption) and a 1-byte echo. The figure is completed handshakes divided by the server
process's CPU time (``getrusage``: user + system), so a client that cannot keep the server
busy does not change it. Build the extension in release for meaningful figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import socket
import ssl
import tempfile
import threading
import time
from typing import Tuple

import meshtls

TD = "mesh.internal"


def pin(cpus: set) -> None:
    try:
        os.sched_setaffinity(0, cpus & os.sched_getaffinity(0) or os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass


def write(dirname: str, name: str, issued: meshtls.Issued) -> Tuple[str, str]:
    chain, key = os.path.join(dirname, f"{name}.chain.pem"), os.path.join(dirname, f"{name}.key.pem")
    with open(chain, "w") as f:
        f.write(issued.chain_pem)
    with open(key, "w") as f:
        f.write(issued.key_pem or "")
    return chain, key


def server_main(kind: str, material: dict, port_q, stop, result_q) -> None:
    pin({0})
    if kind == "meshtls":
        identity = meshtls.Identity(material["chain_pem"], material["key_pem"])
        verifier = meshtls.Verifier(material["root_pem"], meshtls.Policy(trust_domains=[TD]))
        ctx: ssl.SSLContext = identity.ssl_context(verifier, server=True)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_cert_chain(material["chain"], material["key"])
        ctx.load_verify_locations(cadata=material["root_pem"])
    sock = socket.create_server(("127.0.0.1", 0), backlog=256)
    sock.settimeout(0.2)
    port_q.put(sock.getsockname()[1])
    count = 0
    start = None
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        if start is None:
            start = resource.getrusage(resource.RUSAGE_SELF)
        conn.settimeout(5)
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(1))
                count += 1
        except OSError:
            pass
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = 0.0
    if start is not None:
        cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    result_q.put((count, cpu))


def run(kind: str, material: dict, seconds: float, clients: int) -> Tuple[int, float]:
    port_q, result_q, stop = mp.Queue(), mp.Queue(), mp.Event()
    server = mp.Process(target=server_main, args=(kind, material, port_q, stop, result_q))
    server.start()
    port = port_q.get(timeout=30)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    client_ctx.load_cert_chain(material["client_chain"], material["client_key"])
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with client_ctx.wrap_socket(raw) as tls:
                        tls.sendall(b"x")
                        tls.recv(1)
            except OSError:
                pass

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    count, cpu = result_q.get(timeout=30)
    server.join(30)
    return count, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    pin(set(range(1, os.cpu_count() or 2)))
    root = meshtls.Authority.create_root(TD)
    inter = root.create_intermediate()
    server = inter.issue(f"spiffe://{TD}/service/server", usage="server")
    client = inter.issue(f"spiffe://{TD}/service/client", usage="client")
    with tempfile.TemporaryDirectory() as d:
        chain, key = write(d, "server", server)
        client_chain, client_key = write(d, "client", client)
        material = {
            "chain_pem": server.chain_pem, "key_pem": server.key_pem, "root_pem": root.root_pem,
            "chain": chain, "key": key, "client_chain": client_chain, "client_key": client_key,
        }
        print(f"# {platform.python_implementation()} {platform.python_version()}, {ssl.OPENSSL_VERSION}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, {args.seconds:.0f} s each, "
              f"{args.clients} client threads")
        rates = {}
        for kind in ("plain", "meshtls", "plain", "meshtls"):
            count, cpu = run(kind, material, args.seconds, args.clients)
            rate = count / cpu if cpu else 0.0
            rates.setdefault(kind, []).append(rate)
            print(f"{kind:8} {count:6d} handshakes  {cpu:6.2f} s server CPU  {rate:7.0f} /CPU-s")
        plain, guarded = max(rates["plain"]), max(rates["meshtls"])
        print(f"best of 2: plain ssl {plain:.0f}/CPU-s, meshtls ssl_context {guarded:.0f}/CPU-s "
              f"({guarded / plain:.2f}x)")


if __name__ == "__main__":
    main()
