"""fixtures/cases.json replayed through Python: the same verdict as the Rust core."""

from __future__ import annotations

import json

import pytest

import meshtls

from _support import FIXTURES, utc

CASES = json.loads((FIXTURES / "cases.json").read_text())


def _verifier(case: dict) -> meshtls.Verifier:
    bundle = meshtls.TrustBundle((FIXTURES / CASES["bundle"]).read_text())
    if case["with_crls"]:
        for crl in CASES["crls"]:
            bundle.add_crl((FIXTURES / crl).read_bytes())
    return meshtls.Verifier(bundle, meshtls.Policy(patterns=case["allow"]))


def test_there_are_cases() -> None:
    assert len(CASES["cases"]) >= 15


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
@pytest.mark.parametrize("as_type", ["str", "bytes"])
def test_case_gets_the_committed_verdict(case: dict, as_type: str) -> None:
    path = FIXTURES / case["chain"]
    chain = path.read_text(errors="replace") if as_type == "str" else path.read_bytes()
    verifier = _verifier(case)
    try:
        peer = verifier.verify(chain, usage=case["usage"], at=utc(CASES["at"]))
        got = "ok"
        assert peer.serial
    except meshtls.Error as e:
        got = e.code
    assert got == case["expect"]


def test_fixture_ca_key_needs_its_passphrase() -> None:
    chain = (FIXTURES / "root.pem").read_text()
    key = (FIXTURES / "root.key.enc.pem").read_text()
    ca = meshtls.Authority.load(chain, key, "fixture-passphrase")
    assert ca.is_root and ca.trust_domain == "mesh.internal"
    with pytest.raises(meshtls.WrongPassphrase) as e:
        meshtls.Authority.load(chain, key, "nope")
    assert e.value.code == "wrong_passphrase"
    with pytest.raises(meshtls.WrongPassphrase):
        meshtls.Authority.load(chain, key)  # encrypted key, no passphrase
