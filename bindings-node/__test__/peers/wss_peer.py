"""Python wss peer for the Node interop tests: stdlib ssl + the websockets package.

server CHAIN KEY CA        wss server on 127.0.0.1:0, client certificates required; prints
                           READY <port>, then ACCEPT <client URI SAN> per connection; echoes.
client PORT CHAIN KEY CA   connects to wss://localhost:PORT/, sends ping, prints OK <reply>
                           (or ERR <reason>) and exits.
"""
import asyncio
import ssl
import sys

import websockets


def uri_of(cert):
    for kind, value in (cert or {}).get("subjectAltName", ()):
        if kind == "URI":
            return value
    return "-"


def say(*parts):
    print(*parts, flush=True)


async def server(chain, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(chain, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED

    async def echo(ws):
        say("ACCEPT", uri_of(ws.transport.get_extra_info("peercert")))
        async for message in ws:
            await ws.send(message)

    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx) as srv:
        say("READY", srv.sockets[0].getsockname()[1])
        await asyncio.Future()


async def client(port, chain, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(chain, key)
    try:
        async with websockets.connect(f"wss://localhost:{port}/", ssl=ctx, open_timeout=5) as ws:
            await ws.send("ping")
            reply = await asyncio.wait_for(ws.recv(), 5)
            say("OK", reply)
    except Exception as e:  # the test reads the verdict from stdout
        say("ERR", type(e).__name__, e)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "server":
        asyncio.run(server(*args))
    else:
        asyncio.run(client(int(args[0]), *args[1:]))
