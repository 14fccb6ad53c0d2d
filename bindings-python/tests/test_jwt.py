"""JWT-SVIDs in Python: fixtures/jwt.json replayed (the core's verdicts), interop with PyJWT both
ways, the ASGI middleware, and an enrolled identity's token source against `meshtls serve`."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import jwt as pyjwt
import pytest

import meshtls
from meshtls.asgi import MeshTlsMiddleware
from _support import FIXTURES, utc

FILE = json.loads((FIXTURES / "jwt.json").read_text())
BUNDLE_JSON = (FIXTURES / FILE["jwks"]).read_text()
TD = FILE["trust_domain"]
AT = utc(FILE["at"])


def _validator(case: Dict[str, Any]) -> meshtls.JwtValidator:
    bundle = meshtls.SpiffeBundle(BUNDLE_JSON, trust_domain=TD)
    policy = meshtls.Policy(patterns=FILE["allow"], clock_leeway=case.get("leeway", 0))
    return meshtls.JwtValidator(
        bundle,
        policy,
        FILE["audience"],
        algorithms=case.get("algorithms"),
        require_binding=case.get("require_binding", False),
    )


def test_there_are_token_cases() -> None:
    assert len(FILE["cases"]) >= 20


@pytest.mark.parametrize("case", FILE["cases"], ids=[c["name"] for c in FILE["cases"]])
def test_token_case_gets_the_committed_verdict(case: Dict[str, Any]) -> None:
    peer = (FIXTURES / case["peer"]).read_text() if "peer" in case else None
    try:
        claims = _validator(case).validate(case["token"], peer, at=AT)
        got = "ok"
        assert str(claims.subject).startswith("spiffe://mesh.internal/")
    except meshtls.Error as e:
        got = e.code
        # The family follows the core: token_malformed is input, the others verification.
        expected_class = meshtls.MalformedInput if got == "token_malformed" else meshtls.VerificationError
        assert isinstance(e, expected_class), (got, type(e))
    assert got == case["expect"]


def test_the_fixture_bundle_is_a_spiffe_bundle() -> None:
    bundle = meshtls.SpiffeBundle(BUNDLE_JSON)
    assert len(bundle.jwt_key_ids) == 3
    assert len(bundle.x509_authorities) == 1
    assert (bundle.sequence, bundle.refresh_hint) == (1, 300)
    with pytest.raises(meshtls.MalformedInput) as e:
        meshtls.SpiffeBundle('{"keys": 3}')
    assert e.value.code == "malformed"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "EdDSA"])
def test_pyjwt_verifies_meshtls_tokens_with_the_published_jwks(alg: str) -> None:
    key = meshtls.JwtSigningKey.generate(alg)
    bundle = meshtls.SpiffeBundle.empty(TD).with_key(key)
    token = key.mint("spiffe://mesh.internal/service/api", ["orders", "billing"], ttl=120, roles=["reader"])
    jwks = pyjwt.PyJWKSet.from_json(bundle.to_json())
    header = pyjwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == (alg, key.kid, "JWT")
    claims = pyjwt.decode(token, jwks[key.kid].key, algorithms=[alg], audience="orders")
    assert claims["sub"] == "spiffe://mesh.internal/service/api"
    assert claims["roles"] == ["reader"]
    assert claims["exp"] - claims["iat"] == 120
    # A tampered token fails in PyJWT as in meshtls.
    head, body, sig = token.split(".")
    forged = json.loads(pyjwt.utils.base64url_decode(body))
    forged["sub"] = "spiffe://mesh.internal/admin/root"
    bad = ".".join([head, pyjwt.utils.base64url_encode(json.dumps(forged).encode()).decode(), sig])
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(bad, jwks[key.kid].key, algorithms=[alg], audience="orders")


def test_pyjwt_reads_the_mixed_x509_and_jwt_bundle() -> None:
    jwks = pyjwt.PyJWKSet.from_json(BUNDLE_JSON)
    kids = {k.key_id for k in jwks.keys if k.key_id}
    assert kids == set(meshtls.SpiffeBundle(BUNDLE_JSON).jwt_key_ids)


def _pyjwt_claims(**extra: Any) -> Dict[str, Any]:
    return {
        "sub": "spiffe://mesh.internal/service/api",
        "aud": "orders",
        "exp": FILE["at"] + 120,
        "iat": FILE["at"] - 10,
        **extra,
    }


def test_meshtls_validates_tokens_pyjwt_signs_with_a_bundle_key() -> None:
    bundle = meshtls.SpiffeBundle(BUNDLE_JSON, trust_domain=TD)
    kids = bundle.jwt_key_ids
    validator = _validator({})
    for kid, alg, name in zip(kids, ["ES256", "ES384", "EdDSA"], ["es256", "es384", "eddsa"]):
        pem = (FIXTURES / "jwt" / f"{name}.key.pem").read_bytes()
        token = pyjwt.encode(_pyjwt_claims(), pem, algorithm=alg, headers={"kid": kid})
        claims = validator.validate(token, at=AT)
        assert claims.key_id == kid and claims.algorithm == alg
    # HS256 keyed with the public JWK: PyJWT itself refuses to make it (InvalidKeyError), so
    # it is signed by hand here; meshtls refuses it as well.
    public_jwk = json.dumps(json.loads(BUNDLE_JSON)["keys"][1])
    with pytest.raises(pyjwt.InvalidKeyError):
        pyjwt.encode(_pyjwt_claims(), public_jwk, algorithm="HS256")
    import hashlib
    import hmac

    b64 = lambda d: pyjwt.utils.base64url_encode(json.dumps(d).encode()).decode()  # noqa: E731
    signing_input = f"{b64({'alg': 'HS256', 'kid': kids[0]})}.{b64(_pyjwt_claims())}"
    mac = hmac.new(public_jwk.encode(), signing_input.encode(), hashlib.sha256).digest()
    hs256 = f"{signing_input}.{pyjwt.utils.base64url_encode(mac).decode()}"
    # And what PyJWT can be asked to make and meshtls refuses: alg none, a key of the bundle
    # under another key's kid (key confusion), another audience.
    cases = [
        (hs256, "token_algorithm"),
        (pyjwt.encode(_pyjwt_claims(), None, algorithm="none", headers={"kid": kids[0]}), "token_algorithm"),
        (
            pyjwt.encode(
                _pyjwt_claims(), (FIXTURES / "jwt" / "es384.key.pem").read_bytes(), algorithm="ES384", headers={"kid": kids[0]}
            ),
            "token_algorithm",
        ),
        (
            pyjwt.encode(
                _pyjwt_claims(aud="billing"), (FIXTURES / "jwt" / "es256.key.pem").read_bytes(), algorithm="ES256", headers={"kid": kids[0]}
            ),
            "token_audience",
        ),
    ]
    for token, code in cases:
        with pytest.raises(meshtls.Error) as e:
            validator.validate(token, at=AT)
        assert e.value.code == code


# --- ASGI middleware ---------------------------------------------------------------------


class _App:
    def __init__(self) -> None:
        self.scopes: List[Dict[str, Any]] = []

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(mw: MeshTlsMiddleware, scope: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    sent: List[Dict[str, Any]] = []

    async def receive() -> Dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(mw(scope, receive, send))
    status = sent[0].get("status", 0)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, (json.loads(body) if status != 200 else {})


def _scope(client: str = "10.0.0.9", headers: Optional[List[Tuple[bytes, bytes]]] = None, **extra: Any) -> Dict[str, Any]:
    return {"type": "http", "client": (client, 40000), "headers": headers or [], "path": "/", **extra}


@pytest.fixture(scope="module")
def mesh() -> Dict[str, Any]:
    """A CA, two services' certificates, a JWT key and the middleware's checkers."""
    ca = meshtls.Authority.create_root("mesh.internal")
    api = ca.issue("spiffe://mesh.internal/service/api", usage="client")
    web = ca.issue("spiffe://mesh.internal/service/web", usage="client")
    key = meshtls.JwtSigningKey.generate()
    bundle = meshtls.SpiffeBundle.empty("mesh.internal").with_key(key)
    policy = meshtls.Policy(trust_domains=["mesh.internal"])
    return {
        "api": api,
        "web": web,
        "key": key,
        "verifier": meshtls.Verifier(meshtls.TrustBundle(ca.certificate_pem), policy),
        "validator": meshtls.JwtValidator(bundle, policy, "gateway"),
    }


def _bearer(token: str) -> Tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {token}".encode())


def _forwarded(pem: str) -> Tuple[bytes, bytes]:
    return (b"x-ssl-client-cert", urllib.parse.quote(pem).encode())


def test_asgi_accepts_a_jwt_svid_and_puts_the_claims_in_the_scope(mesh: Dict[str, Any]) -> None:
    app = _App()
    mw = MeshTlsMiddleware(app, verifier=mesh["verifier"], validator=mesh["validator"], trusted_proxies=["127.0.0.1"])
    token = mesh["key"].mint("spiffe://mesh.internal/admin/alice", "gateway")
    status, _ = _call(mw, _scope(headers=[_bearer(token)]))
    assert status == 200
    auth = app.scopes[-1]["meshtls"]
    assert str(auth["token"].subject) == "spiffe://mesh.internal/admin/alice"
    assert auth["peer"] is None


def test_asgi_trusts_a_forwarded_certificate_only_from_a_configured_proxy(mesh: Dict[str, Any]) -> None:
    app = _App()
    mw = MeshTlsMiddleware(app, verifier=mesh["verifier"], validator=mesh["validator"], trusted_proxies=["127.0.0.0/8"])
    header = _forwarded(mesh["api"].chain_pem)
    status, _ = _call(mw, _scope(client="127.0.0.1", headers=[header]))
    assert status == 200
    auth = app.scopes[-1]["meshtls"]
    assert str(auth["peer"].spiffe_id) == "spiffe://mesh.internal/service/api"
    assert auth["certificate_source"] == "proxy"
    # The same header from anywhere else is ignored: no credential at all.
    status, body = _call(mw, _scope(client="10.1.2.3", headers=[header]))
    assert (status, body["error"]["code"]) == (401, "no_certificate")


def test_asgi_refuses_a_bound_token_with_another_certificate(mesh: Dict[str, Any]) -> None:
    mw = MeshTlsMiddleware(_App(), verifier=mesh["verifier"], validator=mesh["validator"], trusted_proxies=["127.0.0.1"])
    bound = mesh["key"].mint("spiffe://mesh.internal/service/api", "gateway", bind_to=mesh["api"].cert_pem)
    ok, _ = _call(mw, _scope(client="127.0.0.1", headers=[_forwarded(mesh["api"].chain_pem), _bearer(bound)]))
    assert ok == 200
    for headers in ([_forwarded(mesh["web"].chain_pem), _bearer(bound)], [_bearer(bound)]):
        status, body = _call(mw, _scope(client="127.0.0.1", headers=headers))
        assert (status, body["error"]["code"]) == (401, "token_binding")


def test_asgi_verifies_the_tls_extension_chain_and_refuses_with_the_core_code(mesh: Dict[str, Any]) -> None:
    app = _App()
    mw = MeshTlsMiddleware(app, verifier=mesh["verifier"], require_certificate=True)
    tls = {"tls": {"client_cert_chain": [mesh["api"].cert_pem]}}
    assert _call(mw, _scope(extensions=tls))[0] == 200
    assert app.scopes[-1]["meshtls"]["certificate_source"] == "tls"
    rogue = meshtls.Authority.create_root("mesh.internal").issue("spiffe://mesh.internal/service/api", usage="client")
    status, body = _call(mw, _scope(extensions={"tls": {"client_cert_chain": [rogue.cert_pem]}}))
    assert (status, body["error"]["code"]) == (401, "unknown_issuer")
    expired = mesh["key"].mint("spiffe://mesh.internal/admin/alice", "gateway", ttl=60, at=utc(1_700_000_000))
    mw = MeshTlsMiddleware(_App(), validator=mesh["validator"], require_token=True)
    status, body = _call(mw, _scope(headers=[_bearer(expired)]))
    assert (status, body["error"]["code"]) == (401, "token_expired")
    status, body = _call(mw, _scope())
    assert (status, body["error"]["code"]) == (401, "token_malformed")


def test_asgi_passes_lifespan_and_closes_refused_websockets(mesh: Dict[str, Any]) -> None:
    app = _App()
    mw = MeshTlsMiddleware(app, validator=mesh["validator"])
    sent: List[Dict[str, Any]] = []

    async def send(m: Dict[str, Any]) -> None:
        sent.append(m)

    async def receive() -> Dict[str, Any]:
        return {}

    asyncio.run(mw({"type": "websocket", "client": ("10.0.0.1", 1), "headers": []}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "no_certificate"}]
    asyncio.run(mw({"type": "lifespan"}, receive, send))
    assert app.scopes[-1] == {"type": "lifespan"}
    with pytest.raises(ValueError):
        MeshTlsMiddleware(app)


# --- an enrolled identity's tokens -----------------------------------------------------------


def test_an_enrolled_identity_fetches_fresh_tokens_the_jwks_validates() -> None:
    from test_enroll import BIN, NODE, _serve

    if not BIN.exists():
        pytest.skip(f"{BIN} not built")
    for service in _serve():
        token = service.mint(NODE)

        async def main() -> Tuple[str, str, Any]:
            node = await meshtls.enroll(service.url, token, NODE, ca_bundle=service.bundle)
            source = node.jwt_source("orders", bind=True)
            first = await source.token()
            again = await source.token()
            await node.renew_now()
            renewed = await source.token()
            return first, again, (renewed, node.certificate)

        first, again, (renewed, cert) = asyncio.run(asyncio.wait_for(main(), 30))
        assert first == again
        assert renewed != first
        import urllib.request
        import ssl

        ctx = ssl.create_default_context(cafile=str(service.dir / "ca" / "ca.crt"))
        with urllib.request.urlopen(f"{service.url}/v1/bundle.jwks", context=ctx, timeout=30) as r:
            jwks = r.read().decode()
        validator = meshtls.JwtValidator(
            meshtls.SpiffeBundle(jwks), meshtls.Policy(trust_domains=["mesh.internal"]), "orders"
        )
        assert str(validator.validate(renewed, cert).subject) == NODE
        with pytest.raises(meshtls.VerificationError) as e:
            validator.validate(first, cert)
        assert e.value.code == "token_binding"
