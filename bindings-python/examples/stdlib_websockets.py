"""The `websockets` package on meshtls ssl contexts: mutual TLS, peers checked by the core."""

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

import meshtls

ca = meshtls.Authority.create_root("mesh.internal")
server_id = meshtls.Identity(ca.issue("spiffe://mesh.internal/service/orchestrator", dns_names=["localhost"]))
agent_id = meshtls.Identity(ca.issue("spiffe://mesh.internal/agent/a1"))

# Who may talk to whom: the core decides, inside every TLS handshake.
agents_only = meshtls.Verifier(ca.root_pem, meshtls.Policy(patterns=["spiffe://mesh.internal/agent/*"]))
orchestrator_only = meshtls.Verifier(ca.root_pem, meshtls.Policy(ids=["spiffe://mesh.internal/service/orchestrator"]))


async def handler(ws: ServerConnection) -> None:
    peer = ws.transport.get_extra_info("ssl_object").meshtls_peer  # the verified PeerIdentity
    async for message in ws:
        await ws.send(f"hello {peer.spiffe_id}, you said {message!s}")


async def main() -> None:
    server_ctx = server_id.ssl_context(agents_only, server=True)  # TLS 1.3, client cert required
    async with serve(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
        port = server.sockets[0].getsockname()[1]
        client_ctx = agent_id.ssl_context(orchestrator_only)
        async with connect(f"wss://localhost:{port}/", ssl=client_ctx) as ws:
            await ws.send("ping")
            print(await ws.recv())
            # Rotation: new handshakes present the new certificate, this connection stays up.
            server_id.replace(ca.issue("spiffe://mesh.internal/service/orchestrator", dns_names=["localhost"]))
            await ws.send("still there?")
            print(await ws.recv())


asyncio.run(main())
