"""The attacks of the polyglot mesh demo, one per run, against the Rust directory's wss:// port.

    MESHTLS_CA_PASSPHRASE=... python attacks.py ATTACK CA_DIR PORT WORK_DIR

ATTACK is one of:
  same-name-ca   a self-made root CA whose subject equals the real CA's, and a gateway leaf from it
  wrong-id       a valid certificate from the real CA, for the wrong service (…/service/agent)
  issue-revoked  (no connection) issue a valid gateway certificate into WORK_DIR/revoked/, for the
                 driver to revoke with `meshtls revoke` + `meshtls crl`
  revoked        present that certificate once the directory has the CRL
  no-cert        a TLS client that presents no certificate at all (Python's ssl module)

Every certificate is made by the Python binding; which ones pass is the server's (the core's)
decision. The client prints what it saw; the driver reads the code the server logged. Exit status
0 when the connection was refused, 1 when it was (wrongly) accepted.
"""

import asyncio
import os
import socket
import ssl
import sys
from pathlib import Path

import meshtls

GATEWAY = "spiffe://mesh.internal/service/gateway"
DIRECTORY = "spiffe://mesh.internal/service/directory"


def real_ca(ca_dir: Path) -> meshtls.Authority:
    return meshtls.Authority.load(
        (ca_dir / "ca.crt").read_text(), (ca_dir / "ca.key").read_text(), os.environ["MESHTLS_CA_PASSPHRASE"]
    )


async def present(chain, key, ca_pem: str, port: int) -> int:
    """Connects to the directory with this certificate; 0 if refused."""
    verifier = meshtls.Verifier(ca_pem, meshtls.Policy(ids=[DIRECTORY]))
    try:
        conn = await asyncio.wait_for(
            meshtls.connect_ws(f"wss://localhost:{port}/", meshtls.Identity(chain, key), verifier), 10
        )
        await conn.send("lookup node")
        answer = await asyncio.wait_for(conn.recv(), 5)
        print(f"attack ACCEPTED: {answer}")
        return 1
    except (meshtls.Error, OSError, asyncio.TimeoutError) as e:
        print(f"client side: refused ({getattr(e, 'code', type(e).__name__)}: {e})")
        return 0


def no_cert(ca_pem: str, port: int) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=ca_pem)  # trusts the real CA, but has no certificate to give
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as tcp:
            with ctx.wrap_socket(tcp, server_hostname="localhost") as tls:
                # TLS 1.3: the server judges the (absent) client certificate after our Finished.
                tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n")
                data = tls.recv(1024)
                if data:
                    print(f"attack ACCEPTED: {data[:60]!r}")
                    return 1
                print("client side: refused (connection closed)")
                return 0
    except (ssl.SSLError, OSError) as e:
        print(f"client side: refused ({e})")
        return 0


def main(attack: str, ca_dir: Path, port: int, work: Path) -> int:
    ca_pem = (ca_dir / "ca.crt").read_text()
    if attack == "same-name-ca":
        real = meshtls.Certificate(ca_pem)
        rogue = meshtls.Authority.create_root("mesh.internal", common_name=real.common_name)
        rogue_root = meshtls.Certificate(rogue.root_pem)
        print(f"real CA subject:  {real.subject}")
        print(f"rogue CA subject: {rogue_root.subject} (same name: {rogue_root.subject == real.subject})")
        leaf = rogue.issue(GATEWAY, dns_names=["localhost"], lifetime=3600)
        print(f"rogue leaf {GATEWAY} issuer: {meshtls.Certificate(leaf.cert_pem).issuer}")
        return asyncio.run(present(leaf.chain_pem, leaf.key_pem, ca_pem, port))
    if attack == "wrong-id":
        leaf = real_ca(ca_dir).issue("spiffe://mesh.internal/service/agent", lifetime=3600)
        print(f"valid leaf from the real CA for spiffe://mesh.internal/service/agent, serial {leaf.serial}")
        return asyncio.run(present(leaf.chain_pem, leaf.key_pem, ca_pem, port))
    if attack == "issue-revoked":
        leaf = real_ca(ca_dir).issue(GATEWAY, dns_names=["localhost"], lifetime=3600)
        out = work / "revoked"
        out.mkdir(parents=True, exist_ok=True)
        (out / "chain.pem").write_text(leaf.chain_pem)
        (out / "key.pem").write_text(leaf.key_pem)
        os.chmod(out / "key.pem", 0o600)
        print(f"issued {GATEWAY} serial {leaf.serial} into {out} (to be revoked)")
        return 0
    if attack == "revoked":
        out = work / "revoked"
        print(f"presenting the revoked {GATEWAY} certificate")
        return asyncio.run(present((out / "chain.pem").read_text(), (out / "key.pem").read_text(), ca_pem, port))
    if attack == "no-cert":
        return no_cert(ca_pem, port)
    print(f"unknown attack {attack}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])))
