"""fixtures/cases.json replayed through Python: the same verdict as the Rust core."""

from __future__ import annotations

import json

import pytest

import meshtls

from _support import FIXTURES, utc

CASES = json.loads((FIXTURES / "cases.json").read_text())


def _verifier(case: dict) -> meshtls.Verifier:
    """The bundle (the case's or the top-level one), the CRLs (the case's list, else the
    top-level one when `with_crls`), and the policy with the case's leeway and depth."""
    bundle = meshtls.TrustBundle((FIXTURES / case.get("bundle", CASES["bundle"])).read_text())
    crls = case.get("crls", CASES["crls"] if case.get("with_crls") else [])
    for crl in crls:
        bundle.add_crl((FIXTURES / crl).read_bytes())
    policy = meshtls.Policy(
        patterns=case["allow"],
        clock_leeway=case.get("leeway", 0),
        max_intermediates=case.get("max_intermediates", 4),
    )
    return meshtls.Verifier(bundle, policy)


def test_there_are_cases() -> None:
    assert len(CASES["cases"]) >= 15


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
@pytest.mark.parametrize("as_type", ["str", "bytes"])
def test_case_gets_the_committed_verdict(case: dict, as_type: str) -> None:
    path = FIXTURES / case["chain"]
    chain = path.read_text(errors="replace") if as_type == "str" else path.read_bytes()
    # The verdict is the code of the first error: building the bundle, adding the CRLs,
    # building the policy or verifying.
    try:
        verifier = _verifier(case)
        peer = verifier.verify(chain, usage=case["usage"], at=utc(case.get("at", CASES["at"])))
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
