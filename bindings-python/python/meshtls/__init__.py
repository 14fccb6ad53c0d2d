"""meshtls: mTLS for Python from the meshtls Rust core.

SPIFFE identities, a certificate authority, issuance, verification with an identity policy,
revocation, rotation timing, PKCS#12 — the same decisions and error codes as every other
meshtls language — plus TLS two ways: :meth:`Identity.ssl_context` for the standard ``ssl``
module (and ``websockets``), and the native asyncio transport :func:`connect_ws` /
:func:`serve_ws` / :func:`connect` / :func:`serve`. A :class:`Trust` (``EnrolledIdentity.trust``)
is live trust: ssl contexts made with it check each handshake against the bundle and CRL of that
moment.

Errors are :class:`meshtls.Error` with the core's stable ``.code``; the subclass tells the
family (:class:`MalformedInput`, :class:`InvalidRequest`, :class:`VerificationError`,
:class:`WrongPassphrase`, :class:`IoError`, :class:`InternalError`).
"""

from ._native import (
    ERROR_CODES,
    Authority,
    Certificate,
    ConnectionClosed,
    Crl,
    EnrolledIdentity,
    Error,
    GeneratedCsr,
    Grant,
    InternalError,
    InvalidRequest,
    IoError,
    Issued,
    MalformedInput,
    PeerIdentity,
    Policy,
    RevocationList,
    Revoked,
    RotationEvent,
    RotationPolicy,
    RotationStatus,
    SpiffeId,
    TlsStream,
    Trust,
    TrustBundle,
    VerificationError,
    WrongPassphrase,
    WsConnection,
    __version__,
    create_csr,
    enroll,
    load_private_key,
    parse_certificates,
    read_pkcs12,
    resume,
    tls_profile,
)
from ._stdlib import Identity, MeshSSLContext, PeerRefused, Verifier
from ._transport import Server, connect, connect_ws, serve, serve_ws

__all__ = [
    "ERROR_CODES",
    "Authority",
    "Certificate",
    "ConnectionClosed",
    "Crl",
    "EnrolledIdentity",
    "Error",
    "GeneratedCsr",
    "Grant",
    "Identity",
    "InternalError",
    "InvalidRequest",
    "IoError",
    "Issued",
    "MalformedInput",
    "MeshSSLContext",
    "PeerIdentity",
    "PeerRefused",
    "Policy",
    "RevocationList",
    "Revoked",
    "RotationEvent",
    "RotationPolicy",
    "RotationStatus",
    "Server",
    "SpiffeId",
    "TlsStream",
    "Trust",
    "TrustBundle",
    "VerificationError",
    "Verifier",
    "WrongPassphrase",
    "WsConnection",
    "__version__",
    "connect",
    "connect_ws",
    "create_csr",
    "enroll",
    "load_private_key",
    "parse_certificates",
    "read_pkcs12",
    "resume",
    "serve",
    "serve_ws",
    "tls_profile",
]
