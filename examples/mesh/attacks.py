"""The attacks of the polyglot mesh demo, one per run, against the Rust directory.

    [MESHTLS_JOIN_TOKEN=...] python attacks.py ATTACK CA_URL CA_BUNDLE PORT ATTACKER_DIR

ATTACK is one of:
  same-name-ca    a self-made root CA whose subject equals the real CA's, and a gateway leaf from it
  wrong-id        a valid certificate of the wrong service: enrolls …/service/agent with a token the
                  operator minted for it, then goes to the directory directly (it admits only the
                  gateway and the node)
  enroll-revoked  (no connection) enrolls a valid gateway certificate with a gateway token, kept in
                  ATTACKER_DIR/revoked/identity.pem, for the driver to revoke with `meshtls admin revoke`
  revoked         presents that certificate once the directory's trust has the new CRL
  no-cert         a TLS client that presents no certificate at all (Python's ssl module)
  reused-token    enrolls again with a join token that was already used (the agent's): the CA
                  service refuses it (PORT is not used)

The attacker never holds the CA key: it has the bundle (ca.crt) and, for the enrolling attacks, a
token. Which certificates pass is the server's (the core's) decision. The client prints what it
saw; the driver reads the code the server logged (for reused-token, the code the CA service
answered). Exit status 0 when the attempt was refused, 1 when it was (wrongly) accepted.
"""

import asyncio
import os
import socket
import ssl
import sys
from pathlib import Path
from typing import Optional

import meshtls

AGENT = "spiffe://mesh.internal/service/agent"
GATEWAY = "spiffe://mesh.internal/service/gateway"
DIRECTORY = "spiffe://mesh.internal/service/directory"


async def enroll(
    ca_url: str, spiffe_id: str, ca_pem: str, state_dir: Optional[Path] = None
) -> meshtls.EnrolledIdentity:
    return await meshtls.enroll(
        ca_url,
        os.environ.get("MESHTLS_JOIN_TOKEN", ""),
        spiffe_id,
        ca_bundle=ca_pem,
        dns_names=["localhost"],
        state_dir=state_dir,
    )


async def present(identity: meshtls.Identity, ca_pem: str, port: int) -> int:
    """Connects to the directory with this identity; 0 if refused."""
    verifier = meshtls.Verifier(ca_pem, meshtls.Policy(ids=[DIRECTORY]))
    try:
        conn = await asyncio.wait_for(
            meshtls.connect_ws(f"wss://localhost:{port}/", identity, verifier), 10
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


def split_state(text: str):
    """The chain and key of a state file (`identity.pem`: chain, then the key)."""
    at = text.index("-----BEGIN PRIVATE KEY-----")
    return text[:at], text[at:]


async def wrong_id(ca_url: str, ca_pem: str, port: int) -> int:
    node = await enroll(ca_url, AGENT, ca_pem)
    print(f"enrolled {AGENT} serial {node.serial} (valid, from the real CA through the service)")
    return await present(node.identity, ca_pem, port)


async def reused_token(ca_url: str, ca_pem: str) -> int:
    try:
        node = await enroll(ca_url, AGENT, ca_pem)
    except meshtls.Error as e:
        print(f"refused by the CA service: {e.code} ({e})")
        return 0
    print(f"attack ACCEPTED: enrolled {AGENT} serial {node.serial} with a used token")
    return 1


def main(attack: str, ca_url: str, bundle: Path, port: int, own: Path) -> int:
    ca_pem = bundle.read_text()
    if attack == "same-name-ca":
        real = meshtls.Certificate(ca_pem)
        rogue = meshtls.Authority.create_root("mesh.internal", common_name=real.common_name)
        rogue_root = meshtls.Certificate(rogue.root_pem)
        print(f"real CA subject:  {real.subject}")
        print(f"rogue CA subject: {rogue_root.subject} (same name: {rogue_root.subject == real.subject})")
        leaf = rogue.issue(GATEWAY, dns_names=["localhost"], lifetime=3600)
        print(f"rogue leaf {GATEWAY} issuer: {meshtls.Certificate(leaf.cert_pem).issuer}")
        return asyncio.run(present(meshtls.Identity(leaf.chain_pem, leaf.key_pem), ca_pem, port))
    if attack == "wrong-id":
        return asyncio.run(wrong_id(ca_url, ca_pem, port))
    if attack == "enroll-revoked":
        out = own / "revoked"

        async def go():
            node = await enroll(ca_url, GATEWAY, ca_pem, state_dir=out)
            print(f"enrolled {GATEWAY} serial {node.serial} into {out}/identity.pem (to be revoked)")

        asyncio.run(go())
        return 0
    if attack == "revoked":
        chain, key = split_state((own / "revoked" / "identity.pem").read_text())
        print(f"presenting the revoked {GATEWAY} certificate")
        return asyncio.run(present(meshtls.Identity(chain, key), ca_pem, port))
    if attack == "no-cert":
        return no_cert(ca_pem, port)
    if attack == "reused-token":
        return asyncio.run(reused_token(ca_url, ca_pem))
    print(f"unknown attack {attack}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])))
