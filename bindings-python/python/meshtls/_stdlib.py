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
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
import threading
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Union

from . import _native

if TYPE_CHECKING:  # pragma: no cover
    from ._native import PeerIdentity

__all__ = ["Identity", "Verifier", "MeshSSLContext"]

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

    def do_handshake(self) -> None:
        super().do_handshake()
        _enforce(self)


class _CheckedSSLSocket(ssl.SSLSocket):
    """An SSLSocket (blocking sockets) whose handshake includes the core's verdict."""

    def do_handshake(self, block: bool = False) -> None:  # type: ignore[override]
        super().do_handshake(block)
        try:
            _enforce(self)
        except BaseException:
            self.close()
            raise


def _enforce(conn: Union[ssl.SSLObject, ssl.SSLSocket]) -> None:
    context = conn.context
    if not isinstance(context, MeshSSLContext):  # pragma: no cover - only it installs these
        raise _native.InternalError("internal: meshtls SSL object without a verifier")
    # A Trust refreshed since this connection was wrapped: the intermediates follow it too.
    context._meshtls_follow_trust()
    conn.meshtls_peer = check_peer(  # type: ignore[union-attr]
        context.meshtls_verifier, conn, intermediates=context._meshtls_intermediates
    )


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

    def _meshtls_follow(self) -> None:
        identity = self._meshtls_identity
        if identity.generation != self._meshtls_generation:
            with self._meshtls_lock:
                if identity.generation != self._meshtls_generation:
                    self._meshtls_generation = _load_identity(self, identity)
        self._meshtls_follow_trust()

    def _meshtls_follow_trust(self) -> None:
        trust = self.meshtls_verifier
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


def _load_identity(context: ssl.SSLContext, identity: "_native.Identity") -> int:
    """Loads the identity's current chain and key into ``context``; returns their generation."""
    # load_cert_chain only reads files: the chain and a key encrypted with a one-time
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

    def ssl_context(self, verifier: _Checker, *, server: bool = False) -> MeshSSLContext:
        """An ``ssl.SSLContext`` for this identity, fail-closed.

        TLS 1.3 minimum; the peer must present a certificate (client certificates are required
        on servers); the bundle of ``verifier`` is the only trust (loaded from memory with
        ``cadata``); and every handshake runs ``verifier.check_peer``, so a peer the core
        rejects (expired, revoked, wrong identity...) fails the handshake. Hostname checking
        is off: which names and SPIFFE IDs are acceptable is the policy's decision.

        The context follows this identity: every new connection presents its current
        generation (after :meth:`replace`, or a renewal of an enrolled identity).

        ``verifier`` is a :class:`Verifier` (a snapshot: ``EnrolledIdentity.verifier()`` too)
        or a :class:`meshtls.Trust` (``EnrolledIdentity.trust``, live): with a ``Trust`` every
        handshake is checked against the bundle, CRL and policy of that moment (a certificate
        revoked since is refused as ``revoked``), and the CA certificates of a new trust
        generation (a CA rotation) are loaded for new connections.
        """
        if not isinstance(verifier, (_native.Verifier, _native.Trust)):
            raise TypeError(
                "ssl_context() needs a meshtls.Verifier or meshtls.Trust (a bundle and a policy), got "
                + type(verifier).__name__
            )
        context = MeshSSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context._meshtls_identity = self
        context._meshtls_lock = threading.Lock()
        context.meshtls_verifier = verifier
        if isinstance(verifier, _native.Trust):
            context._meshtls_trust_generation = _load_trust(context, verifier)
        else:
            context.load_verify_locations(cadata=verifier.bundle.to_pem())
            context._meshtls_trust_generation = None
            context._meshtls_intermediates = known_intermediates(verifier)
        context._meshtls_generation = _load_identity(context, self)
        context.sslobject_class = _CheckedSSLObject
        context.sslsocket_class = _CheckedSSLSocket
        return context
