"""How long meshtls's ``ssl`` integration blocks an asyncio event loop.

    python bench/stall.py [--rounds 20]

A ticker task on the loop wakes every millisecond and records how late it wakes; the longest
lateness while an action runs is the stall that action causes (the idle lateness, measured
first, is the machine's own noise). Actions:

- ``ssl_context()`` called on the loop, and ``await ssl_context_async()`` (built in a thread);
- a renewal: ``identity.replace(new certificate)`` and then the first connection to an
  asyncio server whose context follows the identity (it loads the new key on that
  connection), compared with an ordinary connection (the TLS handshake itself runs on the
  loop in asyncio's ``ssl`` support, whatever meshtls does).
Per action: the median and the longest stall over ``--rounds`` rounds, and the time spent
inside the synchronous call (median, max).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import ssl
import time
from typing import Awaitable, Callable, List

import meshtls

TD = "mesh.internal"


async def worst_stall(action: Callable[[], Awaitable[object]]) -> float:
    loop = asyncio.get_running_loop()
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        while running:
            t = loop.time()
            await asyncio.sleep(0.001)
            worst = max(worst, loop.time() - t - 0.001)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    worst = 0.0
    await action()
    await asyncio.sleep(0.005)
    running = False
    await task
    return worst


async def main(rounds: int) -> None:
    ca = meshtls.Authority.create_root(TD)
    inter = ca.create_intermediate()
    server_id = meshtls.Identity(inter.issue(f"spiffe://{TD}/service/server", dns_names=["localhost"]))
    client_id = meshtls.Identity(inter.issue(f"spiffe://{TD}/service/client"))
    verifier = meshtls.Verifier(ca.root_pem, meshtls.Policy(trust_domains=[TD]))
    client_ctx = client_id.ssl_context(verifier)
    server_ctx = server_id.ssl_context(verifier, server=True)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(1))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]

    async def connect() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        writer.write(b"x")
        await reader.read(1)
        writer.close()

    in_call: List[float] = []

    async def build_on_loop() -> None:
        t = time.perf_counter()
        server_id.ssl_context(verifier, server=True)
        in_call.append(time.perf_counter() - t)

    async def build_off_loop() -> None:
        await server_id.ssl_context_async(verifier, server=True)

    # The CA's work (key generation, signing) is done beforehand: not the node's renewal.
    renewals = [inter.issue(f"spiffe://{TD}/service/server", dns_names=["localhost"]) for _ in range(rounds)]

    async def renew_and_connect() -> None:
        renewed = renewals.pop()
        t = time.perf_counter()
        server_id.replace(renewed)
        server_ctx._meshtls_follow()  # what wrap_bio does on the next connection
        in_call.append(time.perf_counter() - t)
        await connect()

    async def nothing() -> None:
        await asyncio.sleep(0.05)

    results = {}
    for name, action in [
        ("idle (noise)", nothing),
        ("ssl_context() on the loop", build_on_loop),
        ("await ssl_context_async()", build_off_loop),
        ("ordinary connection", connect),
        ("renewal + first connection", renew_and_connect),
    ]:
        in_call.clear()
        stalls = sorted([await worst_stall(action) for _ in range(rounds)])
        worst, median = stalls[-1], stalls[len(stalls) // 2]
        call = ""
        if in_call:
            in_call.sort()
            call = f"   in the call: median {in_call[len(in_call) // 2] * 1e3:.2f} ms, max {in_call[-1] * 1e3:.2f} ms"
        results[name] = worst
        print(f"{name:28} stall: median {median * 1e3:6.2f} ms, longest {worst * 1e3:6.2f} ms{call}")
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"# {platform.python_implementation()} {platform.python_version()}, {ssl.OPENSSL_VERSION}, "
          f"load {os.getloadavg()[0]:.2f}, worst of {args.rounds} rounds")
    asyncio.run(main(args.rounds))
