"""`agent`, the Python client of the polyglot mesh demo (examples/mesh/run.sh).

    MESHTLS_CA_PASSPHRASE=... python agent.py CA_DIR GATEWAY_PORT

Loads the CA with the Python binding, issues its own identity (…/service/agent), connects to the
Node gateway over wss:// mTLS (native transport: rustls + tokio), asks the directory through it,
then rotates: the gateway reissues its certificate, the agent reissues its own
(identity.replace), a second handshake shows both new serials, and the first connection is
still open. Prints `RESULT key value` lines for the driver; exits 1 if anything misbehaved.
"""

import asyncio
import sys
from pathlib import Path

import meshtls

ID = "spiffe://mesh.internal/service/agent"
GATEWAY = "spiffe://mesh.internal/service/gateway"


async def main(ca_dir: Path, port: int) -> int:
    import os

    ca = meshtls.Authority.load(
        (ca_dir / "ca.crt").read_text(), (ca_dir / "ca.key").read_text(), os.environ["MESHTLS_CA_PASSPHRASE"]
    )
    first = ca.issue(ID, dns_names=["localhost"], lifetime=3600)
    identity = meshtls.Identity(first)
    print(f"issued {ID} serial {first.serial}", flush=True)
    verifier = meshtls.Verifier(ca.root_pem, meshtls.Policy(ids=[GATEWAY]))
    url = f"wss://localhost:{port}/"

    conn = await connect(url, identity, verifier)
    old_gateway = conn.peer_identity.serial
    print(f"connected gateway {conn.peer_identity.spiffe_id} serial {old_gateway}", flush=True)
    print(f"RESULT talk agent->gateway {conn.peer_identity.spiffe_id}", flush=True)
    await conn.send("lookup node")
    answer = await conn.recv()
    print(f"answer: {answer}", flush=True)
    if "directory to spiffe://mesh.internal/service/gateway" in answer:
        print("RESULT talk gateway->directory forwarded", flush=True)

    # Rotation while `conn` stays open.
    await conn.send("rotate")
    answer = await conn.recv()
    print(f"gateway says: {answer}", flush=True)
    renewed = ca.issue(ID, dns_names=["localhost"], lifetime=3600)
    identity.replace(renewed)
    print(f"rotated {ID} serial {first.serial} -> {renewed.serial}", flush=True)

    second = await connect(url, identity, verifier)
    new_gateway = second.peer_identity.serial
    await second.send("whoami")
    seen = (await second.recv()).split()[-1]
    print(f"second handshake: gateway serial {new_gateway}, gateway saw agent serial {seen}", flush=True)
    await second.close()
    gateway_ok = new_gateway != old_gateway and answer == f"rotated {new_gateway}"
    agent_ok = seen == renewed.serial and seen != first.serial
    print(f"RESULT rotate gateway {'ok' if gateway_ok else 'FAILED'} {old_gateway} -> {new_gateway}", flush=True)
    print(f"RESULT rotate agent {'ok' if agent_ok else 'FAILED'} {first.serial} -> {seen}", flush=True)

    # The first connection survived both rotations and still presents the old certificates.
    await conn.send("whoami")
    still = (await conn.recv()).split()[-1]
    kept = still == first.serial and conn.peer_identity.serial == old_gateway
    print(f"RESULT open-connection {'ok' if kept else 'FAILED'} still open, agent serial {still}", flush=True)
    await conn.close()
    return 0 if gateway_ok and agent_ok and kept else 1


async def connect(url, identity, verifier):
    return await asyncio.wait_for(meshtls.connect_ws(url, identity, verifier), 10)


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(Path(sys.argv[1]), int(sys.argv[2])), 60)))
