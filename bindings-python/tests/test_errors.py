"""Errors: one hierarchy, the core's codes, a class per core family; bad input never crashes."""

from __future__ import annotations

import asyncio
import socket

import pytest

import meshtls
from meshtls import _native
from _support import TD, issue_identity, verifier_for

FAMILIES = {
    meshtls.MalformedInput: "input",
    meshtls.InvalidRequest: "request",
    meshtls.VerificationError: "verification",
    meshtls.WrongPassphrase: "passphrase",
    meshtls.IoError: "io",
    meshtls.InternalError: "internal",
}


def test_hierarchy() -> None:
    for cls in FAMILIES:
        assert issubclass(cls, meshtls.Error) and issubclass(cls, Exception)
    assert issubclass(meshtls.ConnectionClosed, meshtls.IoError)
    assert meshtls.Error.__module__ == "meshtls"
    assert "expired" in meshtls.ERROR_CODES and "unknown_issuer" in meshtls.ERROR_CODES
    assert len(set(meshtls.ERROR_CODES)) == len(meshtls.ERROR_CODES) >= 14


def _family(exc: meshtls.Error) -> str:
    assert isinstance(exc.code, str) and exc.code in meshtls.ERROR_CODES
    assert str(exc).startswith(exc.code + ": ") and exc.message in str(exc)
    assert FAMILIES[type(exc)] == exc.family
    return exc.family


def test_input_family() -> None:
    with pytest.raises(meshtls.MalformedInput) as e:
        meshtls.Certificate(b"\x30\x82garbage")
    assert e.value.code == "malformed" and _family(e.value) == "input"


def test_request_family(ca: meshtls.Authority) -> None:
    with pytest.raises(meshtls.InvalidRequest) as e:
        ca.issue("spiffe://other.internal/service/x")  # outside the CA's trust domain
    assert e.value.code == "invalid_request" and _family(e.value) == "request"


def test_verification_family(ca: meshtls.Authority) -> None:
    other = meshtls.Authority.create_root("other.internal")
    with pytest.raises(meshtls.VerificationError) as e:
        verifier_for(ca).verify(other.issue("spiffe://other.internal/x").chain_pem)
    assert e.value.code == "unknown_issuer" and _family(e.value) == "verification"


def test_passphrase_family(ca: meshtls.Authority) -> None:
    chain, key = ca.to_pem("right")
    with pytest.raises(meshtls.WrongPassphrase) as e:
        meshtls.Authority.load(chain, key, "wrong")
    assert e.value.code == "wrong_passphrase" and _family(e.value) == "passphrase"


def test_io_family(ca: meshtls.Authority) -> None:
    _, identity = issue_identity(ca, "client")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(meshtls.IoError) as e:
        asyncio.run(meshtls.connect_ws(f"wss://127.0.0.1:{port}/", identity, verifier_for(ca)))
    assert e.value.code == "io" and _family(e.value) == "io"


def test_internal_family_is_reachable() -> None:
    # No public call reaches a core bug on purpose; the class is part of the contract.
    assert meshtls.InternalError.__mro__[1] is meshtls.Error


@pytest.mark.parametrize(
    "bad",
    [b"", b"   ", b"\x00" * 100, b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "not pem at all", bytes(range(256))],
)
def test_garbage_is_malformed_never_a_crash(ca: meshtls.Authority, bad) -> None:
    verifier = verifier_for(ca)
    for call in (
        lambda: meshtls.Certificate(bad),
        lambda: verifier.verify(bad),
        lambda: meshtls.TrustBundle(bad),
        lambda: meshtls.Crl(bad),
        lambda: ca.issue(csr=bad),
        lambda: meshtls.Authority.load(bad, bad),
        lambda: meshtls.Identity(bad, bad),
        lambda: meshtls.read_pkcs12(bad, "pw"),
        lambda: meshtls.load_private_key(bad),
    ):
        with pytest.raises(meshtls.MalformedInput) as e:
            call()
        assert e.value.code in ("malformed", "unsupported")


@pytest.mark.parametrize("bad", [None, 42, 4.2, ["x", 1], {"pem": "x"}, object()])
def test_wrong_types_are_type_errors(ca: meshtls.Authority, bad) -> None:
    verifier = verifier_for(ca)
    calls = [
        lambda: meshtls.Certificate(bad),
        lambda: meshtls.TrustBundle().add_ca(bad),
        lambda: meshtls.Crl(bad),
        lambda: meshtls.Authority.load(bad, bad),
        lambda: meshtls.Identity(bad, bad),
        lambda: meshtls.Trust(bad),
        lambda: meshtls.Identity(ca.issue(f"spiffe://{TD}/x")).ssl_context(bad),
        # The transport takes a Verifier or a Trust; anything else fails before any I/O.
        lambda: _native.connect_tls("127.0.0.1", 1, meshtls.Identity(ca.issue(f"spiffe://{TD}/x")), bad),
    ]
    if bad is not None:  # verify(None) is an empty chain: malformed
        calls.append(lambda: verifier.verify(bad))
    for call in calls:
        with pytest.raises(TypeError):
            call()


def test_bad_arguments(ca: meshtls.Authority) -> None:
    verifier = verifier_for(ca)
    leaf = ca.issue(f"spiffe://{TD}/service/x")
    with pytest.raises(meshtls.InvalidRequest):
        verifier.verify(leaf.chain_pem, usage="both")  # a peer is a client or a server
    with pytest.raises(meshtls.InvalidRequest):
        ca.issue(f"spiffe://{TD}/x", usage="admin")
    with pytest.raises(meshtls.InvalidRequest):
        ca.issue(f"spiffe://{TD}/x", ip_addresses=["not-an-ip"])  # the core's one IP rule
    with pytest.raises(ValueError):
        ca.issue(f"spiffe://{TD}/x", lifetime=-5)
    with pytest.raises(TypeError):
        ca.issue(f"spiffe://{TD}/x", lifetime="90d")
    with pytest.raises(meshtls.InvalidRequest):
        ca.issue(f"spiffe://{TD}/x", lifetime=30)  # under the core's one-minute minimum
    with pytest.raises(meshtls.Error) as e:
        verifier.verify(None)  # an empty chain: the core names the code
    assert e.value.code in meshtls.ERROR_CODES
    with pytest.raises(TypeError):
        meshtls.Policy(ids="spiffe://mesh.internal/x")  # a list is needed, not a str


def _messages_of_every_fixture() -> list:
    """Every exception message meshtls gives for the repository's fixtures, fed to every
    entry point that takes certificates, bundles or keys (as text, bytes and path)."""
    from _support import FIXTURES

    files = sorted(p for p in FIXTURES.rglob("*.pem"))
    files += [FIXTURES / "cases.json", FIXTURES / "README.md"]
    messages = []
    verifier = meshtls.Verifier(
        (FIXTURES / "root.pem").read_text(), meshtls.Policy(patterns=[f"spiffe://{TD}/service/api"])
    )
    for path in files:
        for form in (path.read_bytes(), path.read_text(errors="replace"), path, str(path)):
            calls = [
                lambda f=form: meshtls.Certificate(f),
                lambda f=form: meshtls.TrustBundle(f),
                lambda f=form: meshtls.parse_certificates(f),
                lambda f=form: meshtls.load_private_key(f),
                lambda f=form: meshtls.load_private_key(f, "wrong"),
                lambda f=form: verifier.verify(f),
                lambda f=form: verifier.verify(f, usage="server"),
                lambda f=form: meshtls.Identity(f, (FIXTURES / "api.key.pem").read_text()),
                lambda f=form: meshtls.Identity((FIXTURES / "api.chain.pem").read_text(), f),
                lambda f=form: meshtls.read_pkcs12(f, "x"),
                lambda f=form: meshtls.Crl(f),
            ]
            for call in calls:
                try:
                    call()
                except meshtls.Error as e:
                    messages.append(str(e))
    return messages


def test_no_rust_debug_text_in_any_message() -> None:
    messages = _messages_of_every_fixture()
    assert len(messages) > 200
    leaks = sorted({m for m in messages if _native._looks_like_debug_output(m)})
    assert leaks == []
    assert _native._looks_like_debug_output("Other(OtherError(Error { code: UnknownIssuer }))")


def test_bundles_and_chains_as_text_bytes_or_paths(tmp_path) -> None:
    import pathlib

    from _support import FIXTURES

    root = FIXTURES / "root.pem"
    forms = [root.read_text(), root.read_bytes(), root, str(root), str(root).encode()]
    pems = {meshtls.TrustBundle(f).to_pem() for f in forms}
    assert len(pems) == 1
    chain = FIXTURES / "api.chain.pem"
    verifier = meshtls.Verifier(root, meshtls.Policy(trust_domains=[TD]))
    for f in (chain.read_text(), chain.read_bytes(), chain, str(chain)):
        assert verifier.verify(f).spiffe_id == f"spiffe://{TD}/service/api"
    # A path to nothing is passed on as contents: the core says it is not a certificate.
    with pytest.raises(meshtls.MalformedInput) as e:
        meshtls.TrustBundle(str(tmp_path / "missing.pem"))
    assert not _native._looks_like_debug_output(str(e.value))
    # A PathLike to nothing is an io error naming the file.
    with pytest.raises(meshtls.IoError) as io:
        meshtls.TrustBundle(pathlib.Path(tmp_path / "missing.pem"))
    assert "missing.pem" in str(io.value)
