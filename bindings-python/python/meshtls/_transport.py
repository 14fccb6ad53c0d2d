"""The native transport for asyncio: wss:// and raw mTLS over rustls + tokio (meshtls-net).

Handshakes, verification and I/O run on the binding's tokio runtime; awaiting them does not
block the event loop. Keys stay in memory. Rotating the :class:`Identity` changes new
handshakes and keeps open connections.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, List, Optional, Set, Tuple, Union

from . import _native
from ._native import TlsStream, WsConnection

__all__ = ["connect_ws", "serve_ws", "connect", "serve", "Server"]

_log = logging.getLogger("meshtls")

_Conn = Union[WsConnection, TlsStream]
_Native = Union[_native.WsServer, _native.TlsServer]
# A snapshot (Verifier) or live trust (Trust: its refreshes reach new handshakes).
_Trust = Union[_native.Verifier, _native.Trust]


async def connect_ws(url: str, identity: _native.Identity, verifier: _Trust) -> WsConnection:
    """Opens ``wss://host:port/path`` over mTLS. The server is verified by the core during the
    handshake; ``conn.peer_identity`` is what it found. ``verifier`` is a ``Verifier`` (a
    snapshot) or a :class:`meshtls.Trust` (each handshake uses its verifier of that moment)."""
    return await _native.connect_ws(url, identity, verifier)


async def connect(
    host: str,
    port: int,
    identity: _native.Identity,
    verifier: _Trust,
    *,
    server_name: Optional[str] = None,
) -> TlsStream:
    """Opens a raw mTLS stream to ``host:port`` (``server_name`` for SNI, default ``host``)."""
    return await _native.connect_tls(host, port, identity, verifier, server_name)


class Server:
    """A running listener: accepts verified connections and runs ``handler(conn)`` for each.

    Use as ``async with await serve_ws(...) as server:`` or call :meth:`close` and
    :meth:`wait_closed`. ``port``/``host`` tell where it listens.
    """

    def __init__(self, native: _Native, handler: Callable[[Any], Awaitable[Any]]) -> None:
        self._native = native
        self._handler = handler
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._closed = asyncio.Event()
        self._accepting = asyncio.ensure_future(self._accept_loop())

    @property
    def port(self) -> int:
        return self._native.port

    @property
    def host(self) -> str:
        return self._native.host

    def handshake_failures(self) -> List[Tuple[Optional[str], str]]:
        """Recent rejected handshakes: ``(core code or None, message)``, oldest first."""
        return self._native.handshake_failures()

    def replace_verifier(self, verifier: _native.Verifier) -> None:
        """New handshakes use ``verifier`` (a new CA bundle, CRL or policy). On a server made
        with a :class:`meshtls.Trust` this is ``trust.replace(verifier)``."""
        self._native.replace_verifier(verifier)

    async def _accept_loop(self) -> None:
        try:
            while True:
                try:
                    conn = await self._native.accept()
                except _native.ConnectionClosed:
                    return
                task = asyncio.ensure_future(self._run(conn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            self._closed.set()

    async def _run(self, conn: _Conn) -> None:
        try:
            await self._handler(conn)
        except _native.ConnectionClosed:
            pass
        except Exception:  # a handler's bug must not stop the server
            _log.exception("meshtls connection handler failed")
        finally:
            try:
                await conn.close()
            except _native.Error:
                pass

    def close(self) -> None:
        """Stops accepting; open connections keep running until their handlers return."""
        self._native.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()
        for task in list(self._tasks):
            task.cancel()


async def serve_ws(
    handler: Callable[[WsConnection], Awaitable[Any]],
    host: str,
    port: int,
    identity: _native.Identity,
    verifier: _Trust,
) -> Server:
    """Serves ``wss://`` over mTLS on ``host:port`` (0 picks a free port): every client is
    verified by the core in the handshake, then ``handler(conn)`` runs for it. With a
    :class:`meshtls.Trust` (``EnrolledIdentity.trust``) as ``verifier`` every handshake uses
    the bundle and CRL of that moment (refreshes reach the listener)."""
    native = await _native.bind_ws(host, port, identity, verifier)
    return Server(native, handler)


async def serve(
    handler: Callable[[TlsStream], Awaitable[Any]],
    host: str,
    port: int,
    identity: _native.Identity,
    verifier: _Trust,
) -> Server:
    """Serves raw mTLS streams on ``host:port``; ``handler(stream)`` runs per verified client."""
    native = await _native.bind_tls(host, port, identity, verifier)
    return Server(native, handler)
