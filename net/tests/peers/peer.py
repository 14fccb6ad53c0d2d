"""Python interop peer for the meshtls-net tests (stdlib ssl; websockets for the ws modes).

server CERT KEY CA          mTLS server on 127.0.0.1:0; prints READY <port>, then per connection
                            ACCEPT <client SAN URI> or REJECT <reason>; replies echo:<line>, closes.
client PORT CERT KEY CA     mTLS client (CERT/KEY may be '-'): sends ping, prints OK <reply> or ERR.
ws-server CERT KEY CA       wss server: READY <port>; echoes every message, prints ACCEPT <uri>.
ws-client PORT CERT KEY CA  wss client to wss://localhost:PORT/: sends ping, prints OK <reply>.
"""
import asyncio
import socket
import ssl
import sys


def uri_of(cert):
    for kind, value in (cert or {}).get("subjectAltName", ()):
        if kind == "URI":
            return value
    return "-"


def server_ctx(cert, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_ctx(cert, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    return ctx


def say(*parts):
    print(*parts, flush=True)


def server(cert, key, ca):
    ctx = server_ctx(cert, key, ca)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    say("READY", sock.getsockname()[1])
    while True:
        conn, _ = sock.accept()
        conn.settimeout(10)
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            say("REJECT", type(e).__name__, str(e).replace("\n", " "))
            conn.close()
            continue
        say("ACCEPT", uri_of(tls.getpeercert()))
        try:
            line = tls.makefile("rb").readline().decode().strip()
            tls.sendall(f"echo:{line}\n".encode())
            tls.close()
        except (ssl.SSLError, OSError) as e:
            say("REJECT", type(e).__name__, e)


def client(port, cert, key, ca):
    ctx = client_ctx(cert, key, ca)
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping\n")
                reply = tls.makefile("rb").readline().decode().strip()
                if not reply:
                    raise OSError("connection closed without a reply")
                say("OK", reply, uri_of(tls.getpeercert()))
    except (ssl.SSLError, OSError) as e:
        say("ERR", type(e).__name__, str(e).replace("\n", " "))
        sys.exit(1)


async def ws_server(cert, key, ca):
    import websockets

    ctx = server_ctx(cert, key, ca)

    async def handler(ws):
        say("ACCEPT", uri_of(ws.transport.get_extra_info("peercert")))
        async for msg in ws:
            await ws.send(msg)

    async with websockets.serve(handler, "127.0.0.1", 0, ssl=ctx) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        say("READY", port)
        await asyncio.Future()


async def ws_client(port, cert, key, ca):
    import websockets

    ctx = client_ctx(cert, key, ca)
    try:
        async with websockets.connect(
            f"wss://127.0.0.1:{port}/", ssl=ctx, server_hostname="localhost", open_timeout=10
        ) as ws:
            await ws.send("ping")
            reply = await asyncio.wait_for(ws.recv(), 10)
            say("OK", reply)
    except Exception as e:  # noqa: BLE001 - report any failure as ERR for the Rust side
        say("ERR", type(e).__name__, str(e).replace("\n", " "))
        sys.exit(1)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "server":
        server(*args)
    elif mode == "client":
        client(*args)
    elif mode == "ws-server":
        asyncio.run(ws_server(*args))
    elif mode == "ws-client":
        asyncio.run(ws_client(*args))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
