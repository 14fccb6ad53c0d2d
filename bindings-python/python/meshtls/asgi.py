"""ASGI middleware (FastAPI, Starlette, any ASGI app): authenticate each request by its mTLS
peer, by a client certificate forwarded from a TLS-terminating proxy, and/or by a JWT-SVID.

Every decision is the core's: the certificate chain goes through a :class:`meshtls.Verifier`,
the token through a :class:`meshtls.JwtValidator` (with the request's certificate, so a token
bound to another certificate is refused as ``token_binding``). The middleware only finds the
inputs and answers 401 with ``{"error": {"code", "message"}}`` when they fail.

Where a certificate comes from, in order:

1. the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``, PEM strings),
   which servers that terminate TLS themselves provide;
2. the ``X-SSL-Client-Cert`` header (nginx ``proxy_set_header X-SSL-Client-Cert
   $ssl_client_escaped_cert;``: URL-encoded PEM), **only** when the request comes from one of
   ``trusted_proxies`` (addresses or networks); from anywhere else the header is ignored, since
   any client can send it.

A token comes from ``Authorization: Bearer <token>``. The outcome is in
``scope["meshtls"]``: ``{"peer": PeerIdentity | None, "token": TokenClaims | None,
"certificate_source": "tls" | "proxy" | None}`` (Starlette: ``request.scope["meshtls"]``).

``MeshTlsMiddleware(app, verifier=..., validator=..., trusted_proxies=["127.0.0.1"])``; with
``require_certificate=True`` or ``require_token=True`` that source is mandatory, otherwise one
of them is enough. A source that is presented and fails is refused even if the other passes.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Tuple, Union
from urllib.parse import unquote

from . import _native

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORWARDED_CERT_HEADER = b"x-ssl-client-cert"

_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _networks(proxies: Iterable[str]) -> List[_Network]:
    return [ipaddress.ip_network(p, strict=False) for p in proxies]


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MeshTlsMiddleware:
    """Authenticates every HTTP and WebSocket request before ``app`` sees it (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Optional[_native.Verifier] = None,
        validator: Optional[_native.JwtValidator] = None,
        trusted_proxies: Iterable[str] = (),
        require_certificate: bool = False,
        require_token: bool = False,
    ) -> None:
        if verifier is None and validator is None:
            raise ValueError("give a verifier (certificates), a validator (tokens) or both")
        if require_certificate and verifier is None:
            raise ValueError("require_certificate needs a verifier")
        if require_token and validator is None:
            raise ValueError("require_token needs a validator")
        self.app = app
        self.verifier = verifier
        self.validator = validator
        self.trusted_proxies = _networks(trusted_proxies)
        self.require_certificate = require_certificate
        self.require_token = require_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            scope["meshtls"] = self.authenticate(scope)
        except _Refused as e:
            await _refuse(scope, send, e)
            return
        await self.app(scope, receive, send)

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client or not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in net for net in self.trusted_proxies)

    def _certificate(self, scope: Scope, headers: List[Tuple[bytes, bytes]]) -> Tuple[Optional[List[str]], Optional[str]]:
        tls = (scope.get("extensions") or {}).get("tls") or {}
        chain = tls.get("client_cert_chain")
        if chain:
            return list(chain), "tls"
        if self._from_trusted_proxy(scope):
            for name, value in headers:
                if name.lower() == FORWARDED_CERT_HEADER and value:
                    return [unquote(value.decode("latin-1"))], "proxy"
        return None, None

    def authenticate(self, scope: Scope) -> Dict[str, Any]:
        """The request's peer and token (raises a refusal with the core's code)."""
        headers: List[Tuple[bytes, bytes]] = list(scope.get("headers") or [])
        chain, source = self._certificate(scope, headers)
        peer = None
        leaf = None
        if chain is not None and self.verifier is not None:
            try:
                peer = self.verifier.verify("".join(chain), "client")
            except _native.Error as e:
                raise _Refused(e.code, e.message) from None
            leaf = _native.parse_certificates(chain[0])[0]
        token = None
        bearer = _bearer(headers)
        if bearer is not None and self.validator is not None:
            try:
                token = self.validator.validate(bearer, leaf)
            except _native.Error as e:
                raise _Refused(e.code, e.message) from None
        if self.require_certificate and peer is None:
            raise _Refused("no_certificate", "a client certificate is required")
        if self.require_token and token is None:
            raise _Refused("token_malformed", "a JWT-SVID (Authorization: Bearer) is required")
        if peer is None and token is None:
            raise _Refused("no_certificate", "a client certificate or a JWT-SVID is required")
        return {"peer": peer, "token": token, "certificate_source": source if peer else None}


def _bearer(headers: List[Tuple[bytes, bytes]]) -> Optional[str]:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


async def _refuse(scope: Scope, send: Send, e: _Refused) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting: the server answers the upgrade with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": e.code})
        return
    body = json.dumps({"error": {"code": e.code, "message": e.message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["MeshTlsMiddleware", "FORWARDED_CERT_HEADER"]
