"""wss:// over mTLS on the Rust transport (rustls + tokio): no key ever touches the disk."""

import asyncio

import meshtls

ca = meshtls.Authority.create_root("mesh.internal")
server_id = meshtls.Identity(ca.issue("spiffe://mesh.internal/service/echo", dns_names=["localhost"]))
client_id = meshtls.Identity(ca.issue("spiffe://mesh.internal/agent/a1"))
mesh = meshtls.Verifier(ca.root_pem, meshtls.Policy(trust_domains=["mesh.internal"]))


async def echo(conn: meshtls.WsConnection) -> None:
    peer = conn.peer_identity  # always set on mTLS (None only for bearer-token clients)
    assert peer is not None
    while True:  # recv() raises meshtls.ConnectionClosed when the client leaves
        message = await conn.recv()
        await conn.send(f"{peer.spiffe_id}: {message!s}")


async def main() -> None:
    async with await meshtls.serve_ws(echo, "127.0.0.1", 0, server_id, mesh) as server:
        conn = await meshtls.connect_ws(f"wss://localhost:{server.port}/", client_id, mesh)
        assert conn.peer_identity is not None
        print("server is", conn.peer_identity.spiffe_id)
        await conn.send("hi")
        print(await conn.recv())
        await conn.close()
        print("rejected handshakes:", server.handshake_failures())


asyncio.run(main())
