"""`agent`, the Python client of the polyglot mesh demo (examples/mesh/run.sh).

    MESHTLS_JOIN_TOKEN=... python agent.py CA_URL CA_BUNDLE GATEWAY_PORT

Enrolls …/service/agent at the CA service CA_URL with a one-time join token (the Python
binding's `enroll`: the key is made here, only a CSR leaves), trusting the service through
CA_BUNDLE (the CA's ca.crt; no CA key, no passphrase). Connects to the Node gateway over wss://
mTLS (native transport: rustls + tokio) on the enrolled identity and its live trust (peer policy:
the gateway), asks the directory through it, then rotates: the gateway renews its certificate
through the CA service, the agent renews its own (renew_now), a second handshake shows both new
serials, and the first connection is still open. Prints `RESULT key value` lines for the driver;
exits 1 if anything misbehaved.
"""

import asyncio
import os
import sys
from pathlib import Path

import meshtls

ID = "spiffe://mesh.internal/service/agent"
GATEWAY = "spiffe://mesh.internal/service/gateway"


async def main(ca_url: str, bundle: Path, port: int) -> int:
    try:
        node = await meshtls.enroll(
            ca_url,
            os.environ.get("MESHTLS_JOIN_TOKEN", ""),
            ID,
            ca_bundle=bundle.read_text(),
            dns_names=["localhost"],
            peer_policy=meshtls.Policy(ids=[GATEWAY]),
            refresh_every=1,
        )
    except meshtls.Error as e:
        print(f"enroll refused: {e.code} ({e})", flush=True)
        return 1
    first = node.serial
    print(f"enrolled {ID} serial {first}", flush=True)
    url = f"wss://localhost:{port}/"

    conn = await connect(url, node)
    old_gateway = conn.peer_identity.serial
    print(f"connected gateway {conn.peer_identity.spiffe_id} serial {old_gateway}", flush=True)
    print(f"RESULT talk agent->gateway {conn.peer_identity.spiffe_id}", flush=True)
    await conn.send("lookup node")
    answer = await conn.recv()
    print(f"answer: {answer}", flush=True)
    if "directory to spiffe://mesh.internal/service/gateway" in answer:
        print("RESULT talk gateway->directory forwarded", flush=True)

    # Rotation while `conn` stays open: both ends renew through the CA service.
    await conn.send("rotate")
    answer = await conn.recv()
    print(f"gateway says: {answer}", flush=True)
    await node.renew_now()
    renewed = node.serial
    print(f"renewed {ID} serial {first} -> {renewed} (through the CA service)", flush=True)

    second = await connect(url, node)
    new_gateway = second.peer_identity.serial
    await second.send("whoami")
    seen = (await second.recv()).split()[-1]
    print(f"second handshake: gateway serial {new_gateway}, gateway saw agent serial {seen}", flush=True)
    await second.close()
    gateway_ok = new_gateway != old_gateway and answer == f"rotated {new_gateway}"
    agent_ok = seen == renewed and seen != first
    print(f"RESULT rotate gateway {'ok' if gateway_ok else 'FAILED'} {old_gateway} -> {new_gateway}", flush=True)
    print(f"RESULT rotate agent {'ok' if agent_ok else 'FAILED'} {first} -> {seen}", flush=True)

    # The first connection survived both rotations and still presents the old certificates.
    await conn.send("whoami")
    still = (await conn.recv()).split()[-1]
    kept = still == first and conn.peer_identity.serial == old_gateway
    print(f"RESULT open-connection {'ok' if kept else 'FAILED'} still open, agent serial {still}", flush=True)
    await conn.close()
    return 0 if gateway_ok and agent_ok and kept else 1


async def connect(url, node):
    return await asyncio.wait_for(meshtls.connect_ws(url, node.identity, node.trust), 10)


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])), 60)))
