"""meshtls with the standard library's ``ssl``: contexts that enforce the core's verdict.

``Identity.ssl_context(verifier, server=...)`` returns an :class:`ssl.SSLContext` that
requires TLS 1.3 and a peer certificate, trusts the verifier's bundle (loaded from memory),
and runs :meth:`Verifier.check_peer` inside every handshake: a peer the core rejects never
gets a usable connection, even if the caller forgets to check. The context follows its
identity: each new connection presents the identity's current generation (after
``Identity.replace`` or a renewal of an enrolled identity); open connections keep theirs.
Given a :class:`meshtls.Trust` (``EnrolledIdentity.trust``) instead of a ``Verifier``, it
follows the trust too: each handshake is checked against the bundle, CRL and policy current at
that moment, and new CA certificates are loaded for new connections.

On CPython with OpenSSL 3 (``_native._ssl_native_available()``) the core decides *inside*
OpenSSL's handshake (OpenSSL's own chain building is replaced, so a chain is verified once),
a refused peer receives the TLS alert of the core's code, the TLS profile of meshtls-net is
applied (suites, groups), and the key is loaded from memory. Elsewhere the portable path is
used: the key through a private temporary file and the core's check right after the handshake.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import ssl
import tempfile
import threading
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Union

from . import _native

if TYPE_CHECKING:  # pragma: no cover
    from ._native import PeerIdentity

__all__ = ["Identity", "Verifier", "MeshSSLContext", "PeerRefused"]

_log = logging.getLogger("meshtls")
_NATIVE = _native._ssl_native_available()
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


class PeerRefused(_native.VerificationError, ssl.SSLCertVerificationError):
    """A handshake the core refused: a :class:`meshtls.VerificationError` (``.code``,
    ``.family``, ``.message``) that is also an :class:`ssl.SSLCertVerificationError`, so
    asyncio, ``websockets`` and ``socketserver`` treat it as the failed handshake it is."""

    code: str
    family: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.family = "verification"
        self.message = message
        self.reason = code
        self.verify_message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

_Input = Union[str, bytes]
# What checks a peer: a snapshot (Verifier) or live trust (Trust); both have ``verify()``.
_Checker = Union[_native.Verifier, _native.Trust]


class Verifier(_native.Verifier):
    """A trust bundle, a policy and options: decides whether a peer's chain is acceptable.

    ``Verifier(bundle, policy, intermediates=...)``: ``intermediates`` are CA certificates
    that :meth:`check_peer` appends to the peer's leaf on Python < 3.13, where the ``ssl``
    module only exposes the peer's leaf certificate.
    """

    _intermediates: List[bytes]

    def __new__(
        cls,
        bundle: Any,
        policy: _native.Policy,
        *,
        intermediates: Union[_Input, Sequence[_Input], None] = None,
        **options: Any,
    ) -> "Verifier":
        self = super().__new__(cls, bundle, policy, **options)
        self._intermediates = _ders(intermediates)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # arguments taken by __new__
        pass

    def check_peer(
        self, ssl_object: Union[ssl.SSLSocket, ssl.SSLObject], *, usage: Optional[str] = None
    ) -> "PeerIdentity":
        """Verifies the peer of an established ``ssl`` connection with the core.

        ``usage`` is the peer's role; by default ``"client"`` on a server-side connection and
        ``"server"`` on a client-side one. Raises a :class:`meshtls.VerificationError` with
        the core's code when the peer is not acceptable.

        The chain passed to the core is the peer's whole presented chain on Python 3.13+
        (``get_unverified_chain()``). Older Pythons expose only the leaf
        (``getpeercert(binary_form=True)``): the verifier then adds the intermediates of its
        bundle and those given as ``intermediates=``, so a peer whose intermediate is in
        neither is rejected as ``unknown_issuer`` (fail closed).
        """
        return check_peer(self, ssl_object, usage=usage)


def check_peer(
    verifier: _Checker,
    ssl_object: Union[ssl.SSLSocket, ssl.SSLObject],
    *,
    usage: Optional[str] = None,
    intermediates: Optional[Sequence[bytes]] = None,
) -> "PeerIdentity":
    """:meth:`Verifier.check_peer` for any verifier (also ``EnrolledIdentity.verifier()``) or
    :class:`meshtls.Trust` (``EnrolledIdentity.trust``: its current bundle, CRL and policy).

    ``intermediates`` (DER) replaces the ones taken from the bundle on Python < 3.13."""
    if usage is None:
        usage = "client" if ssl_object.server_side else "server"
    return verifier.verify(peer_chain(ssl_object, verifier, intermediates), usage=usage)


def peer_chain(
    ssl_object: Union[ssl.SSLSocket, ssl.SSLObject],
    verifier: _Checker,
    intermediates: Optional[Sequence[bytes]] = None,
) -> List[bytes]:
    """The peer's certificate chain as DER, leaf first (see :meth:`Verifier.check_peer`)."""
    get_chain = getattr(ssl_object, "get_unverified_chain", None)
    if get_chain is not None:  # Python 3.13+
        chain = get_chain() or []
        return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    if not leaf:
        return []
    if intermediates is None:
        intermediates = known_intermediates(verifier)
    return [leaf, *intermediates]


def known_intermediates(verifier: _Checker) -> List[bytes]:
    """The intermediates (DER) ``check_peer`` appends to a bare leaf on Python < 3.13: the
    bundle's CAs that are not self-issued, and a :class:`Verifier`'s ``intermediates=``."""
    if isinstance(verifier, _native.Trust):
        return list(verifier._ssl_material()[2])
    known = [ca.der for ca in verifier.bundle.cas if not ca.self_issued]
    return [*known, *getattr(verifier, "_intermediates", [])]


def _ders(certs: Union[_Input, Sequence[_Input], None]) -> List[bytes]:
    if certs is None:
        return []
    return _native.parse_certificates(certs)


class _CheckedSSLObject(ssl.SSLObject):
    """An SSLObject (asyncio, websockets) whose handshake includes the core's verdict."""

    _meshtls_refusal: Optional["PeerRefused"] = None

    def do_handshake(self) -> None:
        if self._meshtls_refusal is not None:
            raise self._meshtls_refusal
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise  # more to read or write: no verdict yet (a refusal may still be in flight)
        except ssl.SSLError as e:
            try:
                _refused_in_handshake(self, e)
            except PeerRefused as refused:
                if not self.server_side:
                    raise
                # The alert that tells the client why is in the outgoing BIO: report "want
                # read" once so that the caller (asyncio, websockets) sends it, and raise the
                # refusal on the next call (or the client's close ends the handshake first).
                # A client raises at once: its caller is waiting for the verdict.
                self._meshtls_refusal = refused
                # errno as OpenSSL's want-read has it: Python < 3.11's asyncio checks it.
                raise ssl.SSLWantReadError(
                    ssl.SSL_ERROR_WANT_READ, "meshtls: the refusal's alert is pending"
                ) from None
            raise
        _enforce(self)


class _CheckedSSLSocket(ssl.SSLSocket):
    """An SSLSocket (blocking sockets) whose handshake includes the core's verdict."""

    def do_handshake(self, block: bool = False) -> None:  # type: ignore[override]
        try:
            super().do_handshake(block)
            _enforce(self)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise  # a non-blocking socket: the handshake goes on at the next call
        except ssl.SSLError as e:
            try:
                _refused_in_handshake(self, e)
            except PeerRefused:
                _linger(self)
                raise
            finally:
                self.close()
            raise
        except BaseException:
            self.close()
            raise


def _linger(sock: ssl.SSLSocket) -> None:
    """After a refusal alert on a socket: FIN after the alert and a short read of what the
    peer had already sent, so that closing does not reset the connection (a reset can
    discard the alert before the peer reads it)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_WR)
        socket.socket.settimeout(sock, 0.25)
        for _ in range(16):
            if not socket.socket.recv(sock, 16384):
                break
    except OSError:
        pass


def _refusal(conn: Union[ssl.SSLObject, ssl.SSLSocket], error: "_native.Error") -> PeerRefused:
    """The exception for a refused peer, and the one log line a server writes for it."""
    refused = PeerRefused(error.code, error.message)
    if conn.server_side:
        _log.warning("meshtls: refused a client: %s (%s)", error.code, error.message)
    return refused


def _refused_in_handshake(conn: Union[ssl.SSLObject, ssl.SSLSocket], error: ssl.SSLError) -> None:
    """Raises the core's refusal when OpenSSL failed the handshake on the core's verdict."""
    if isinstance(error, PeerRefused):
        return
    context = conn.context
    sslobj = getattr(conn, "_sslobj", None)
    if not isinstance(context, MeshSSLContext) or context._meshtls_hook is None or sslobj is None:
        return
    try:
        _native._ssl_verdict(context, sslobj)
    except _native.VerificationError as refused:
        raise _refusal(conn, refused) from None


def _enforce(conn: Union[ssl.SSLObject, ssl.SSLSocket]) -> None:
    context = conn.context
    if not isinstance(context, MeshSSLContext):  # pragma: no cover - only it installs these
        raise _native.InternalError("internal: meshtls SSL object without a verifier")
    sslobj = getattr(conn, "_sslobj", None)
    if context._meshtls_hook is not None and sslobj is not None:
        # The core decided inside the handshake: read its verdict (no second verification).
        try:
            peer = _native._ssl_verdict(context, sslobj)
        except _native.VerificationError as refused:
            raise _refusal(conn, refused) from None
        if peer is not None:
            conn.meshtls_peer = peer  # type: ignore[union-attr]
            return
    # A Trust refreshed since this connection was wrapped: the intermediates follow it too.
    context._meshtls_follow_trust()
    try:
        conn.meshtls_peer = check_peer(  # type: ignore[union-attr]
            context.meshtls_verifier, conn, intermediates=context._meshtls_intermediates
        )
    except _native.VerificationError as refused:
        raise _refusal(conn, refused) from None


class MeshSSLContext(ssl.SSLContext):
    """An ``ssl.SSLContext`` made by :meth:`Identity.ssl_context`.

    ``meshtls_verifier`` (a :class:`Verifier` or a :class:`meshtls.Trust`) is checked in every
    handshake; after it, the connection's ``meshtls_peer`` attribute holds the
    :class:`PeerIdentity`. Before each new connection (``wrap_socket``, ``wrap_bio``: asyncio
    and ``websockets`` use the latter) the context reloads its identity if the identity's
    ``generation`` moved on, and, with a ``Trust``, loads the CA certificates of the trust's
    new generation.
    """

    meshtls_verifier: _Checker
    _meshtls_identity: "_native.Identity"
    _meshtls_generation: int
    _meshtls_trust_generation: Optional[int]
    _meshtls_intermediates: List[bytes]
    _meshtls_lock: threading.Lock
    _meshtls_hook: Optional["_native.SslHook"] = None

    def _meshtls_follow(self) -> None:
        identity = self._meshtls_identity
        if identity.generation != self._meshtls_generation:
            with self._meshtls_lock:
                if identity.generation != self._meshtls_generation:
                    self._meshtls_generation = _load_identity(self, identity)
        self._meshtls_follow_trust()

    def _meshtls_follow_trust(self) -> None:
        trust = self.meshtls_verifier
        if self._meshtls_hook is not None:  # the core reads the trust of the moment itself
            return
        if not isinstance(trust, _native.Trust) or trust.generation == self._meshtls_trust_generation:
            return
        with self._meshtls_lock:
            if trust.generation != self._meshtls_trust_generation:
                self._meshtls_trust_generation = _load_trust(self, trust)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        self._meshtls_follow()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # type: ignore[override]
        self._meshtls_follow()
        return super().wrap_bio(*args, **kwargs)


def _load_identity(context: "MeshSSLContext", identity: "_native.Identity") -> int:
    """Loads the identity's current chain and key into ``context``; returns their generation."""
    if context._meshtls_hook is not None:
        # DER from memory straight into the SSL_CTX: no file, no passphrase, no scrypt.
        return _native._ssl_load_identity(context, identity)
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        # Linux: an anonymous in-memory file (never on a disk, gone when closed); the key
        # needs no encryption there, so no scrypt either.
        generation, chain_pem, key_pem = identity._ssl_material(None)
        fd = memfd_create("meshtls-identity", getattr(os, "MFD_CLOEXEC", 1))
        try:
            data = (chain_pem + key_pem).encode()
            while data:
                data = data[os.write(fd, data) :]
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return generation
    # Elsewhere load_cert_chain only reads files: the chain and a key encrypted with a one-time
    # passphrase go to a 0600 file in a private (0700) temporary directory, deleted at once.
    passphrase = secrets.token_urlsafe(32)
    generation, chain_pem, key_pem = identity._ssl_material(passphrase)
    with tempfile.TemporaryDirectory(prefix="meshtls-") as directory:
        path = os.path.join(directory, "identity.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(chain_pem)
            f.write(key_pem)
        try:
            context.load_cert_chain(path, password=passphrase)
        finally:
            os.unlink(path)
    return generation


def _load_trust(context: "MeshSSLContext", trust: _native.Trust) -> int:
    """Loads the current CA certificates of ``trust`` into ``context`` (and its intermediates
    for ``check_peer``); returns their generation.

    OpenSSL's store only grows: a CA dropped from the bundle stays in it, and the core (which
    decides with the current bundle) rejects its peers as ``unknown_issuer``."""
    generation, ca_pem, intermediates = trust._ssl_material()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    context._meshtls_intermediates = list(intermediates)
    return generation


class Identity(_native.Identity):
    """Our certificate chain and private key, replaceable while connections run.

    ``Identity(chain, key)``, ``Identity(issued)`` or ``Identity.from_issued(issued)``;
    ``EnrolledIdentity.identity`` is one too, renewed by the enrollment client.
    :meth:`replace` (or a renewal) changes what new handshakes present — for the native
    transport and for every ``ssl`` context this identity made — and leaves open connections
    alone.
    """

    def ssl_context(
        self, verifier: _Checker, *, server: bool = False, allow_tls12: bool = False
    ) -> MeshSSLContext:
        """An ``ssl.SSLContext`` for this identity, fail-closed.

        The TLS profile of meshtls (``meshtls.tls_profile()``): TLS 1.3 only, or with
        ``allow_tls12=True`` also TLS 1.2 with ECDHE + AEAD suites only (no CBC, no DHE, no
        RSA key transport) — for peers such as Mono's ``SslStream`` that lack TLS 1.3. The
        peer must present a certificate (client certificates are required on servers), and
        the core decides every handshake with ``verifier``: a peer it rejects (expired,
        revoked, wrong identity...) fails the handshake, receives the TLS alert of the
        core's code, and the server logs one line (logger ``meshtls``) with the code. The
        exception raised is a :class:`PeerRefused` (a :class:`meshtls.VerificationError`
        and an :class:`ssl.SSLCertVerificationError`). Hostname checking is off: which names
        and SPIFFE IDs are acceptable is the policy's decision.

        The context follows this identity: every new connection presents its current
        generation (after :meth:`replace`, or a renewal of an enrolled identity).

        ``verifier`` is a :class:`Verifier` (a snapshot: ``EnrolledIdentity.verifier()`` too)
        or a :class:`meshtls.Trust` (``EnrolledIdentity.trust``, live): with a ``Trust`` every
        handshake is checked against the bundle, CRL and policy of that moment (a certificate
        revoked since is refused as ``revoked``).

        Building a context takes well under a millisecond of CPU on OpenSSL 3 (no key
        encryption, no file); :meth:`ssl_context_async` builds it in a worker thread.
        """
        if not isinstance(verifier, (_native.Verifier, _native.Trust)):
            raise TypeError(
                "ssl_context() needs a meshtls.Verifier or meshtls.Trust (a bundle and a policy), got "
                + type(verifier).__name__
            )
        min_version, _suites, tls12_ciphers, _groups = _native.tls_profile(allow_tls12)
        context = MeshSSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = _VERSIONS[min_version]
        context.maximum_version = ssl.TLSVersion.TLSv1_3
        if tls12_ciphers:
            context.set_ciphers(tls12_ciphers)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context._meshtls_identity = self
        context._meshtls_lock = threading.Lock()
        context.meshtls_verifier = verifier
        context._meshtls_intermediates = []
        context._meshtls_trust_generation = None
        if _NATIVE:
            # No resumption (stateful tickets, and no session cache to find them in): every
            # handshake presents a chain that the core checks at that moment.
            context.options |= ssl.OP_NO_TICKET
            context._meshtls_hook = _native._ssl_install(context, verifier, allow_tls12)
        else:
            context._meshtls_hook = None
            if isinstance(verifier, _native.Trust):
                context._meshtls_trust_generation = _load_trust(context, verifier)
            else:
                context.load_verify_locations(cadata=verifier.bundle.to_pem())
                context._meshtls_intermediates = known_intermediates(verifier)
        context._meshtls_generation = _load_identity(context, self)
        context.sslobject_class = _CheckedSSLObject
        context.sslsocket_class = _CheckedSSLSocket
        return context

    async def ssl_context_async(
        self, verifier: _Checker, *, server: bool = False, allow_tls12: bool = False
    ) -> MeshSSLContext:
        """:meth:`ssl_context` built in a worker thread, off the event loop."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.ssl_context(verifier, server=server, allow_tls12=allow_tls12)
        )
