"""fixtures/requests.json replayed through Python: the same verdict as the Rust core."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, Optional

import pytest

import meshtls

from _support import FIXTURES

CASES = json.loads((FIXTURES / "requests.json").read_text())["cases"]


def _grant(g: Dict[str, Any]) -> meshtls.Grant:
    max_lifetime: Optional[dt.timedelta] = None
    if "max_lifetime_seconds" in g:
        max_lifetime = dt.timedelta(seconds=g["max_lifetime_seconds"])
    if g["kind"] == "join_token":
        return meshtls.Grant.join_token(
            g["ids"],
            dns_names=g.get("dns", []),
            ip_addresses=g.get("ips", []),
            usage=g.get("usage"),
            max_lifetime=max_lifetime,
        )
    return meshtls.Grant.administrator(
        g["ids"],
        dns_names=g.get("dns"),
        ip_addresses=g.get("ips"),
        usage=g.get("usage"),
        max_lifetime=max_lifetime,
    )


def _replay(case: Dict[str, Any]) -> str:
    try:
        ca = meshtls.Authority.create_root(case["trust_domain"])
        csr = (FIXTURES / case["csr"]).read_bytes() if "csr" in case else None
        lifetime = None
        if "lifetime_seconds" in case:
            lifetime = dt.timedelta(seconds=case["lifetime_seconds"])
        grant = _grant(case["grant"]) if "grant" in case else None
        ca.issue(
            case.get("id"),
            csr=csr,
            dns_names=case.get("dns", []),
            ip_addresses=case.get("ips", []),
            usage=case.get("usage"),
            lifetime=lifetime,
            key=case.get("key"),
            grant=grant,
            admins=case.get("admins", []),
        )
        return "ok"
    except meshtls.Error as e:
        return e.code


def test_there_are_request_cases() -> None:
    assert len(CASES) >= 60
    print(f"requests.json: {len(CASES)} cases")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_request_gets_the_committed_verdict(case: Dict[str, Any]) -> None:
    assert _replay(case) == case["expect"]


def test_csr_and_explicit_id_agree_or_fail() -> None:
    csr = (FIXTURES / "requests/dns.csr.pem").read_bytes()
    ca = meshtls.Authority.create_root("mesh.internal")
    issued = ca.issue("spiffe://mesh.internal/service/api", csr=csr)
    # The CSR's DNS names are kept, lowercased.
    assert issued.certificate.dns_names == ["api.mesh.internal", "api.internal"]
    with pytest.raises(meshtls.Error) as e:
        ca.issue("spiffe://mesh.internal/service/web", csr=csr)
    assert e.value.code == "invalid_request"


def test_grant_properties() -> None:
    g = meshtls.Grant.join_token(
        "spiffe://mesh.internal/service/*", dns_names=["API.mesh.internal"], usage="server"
    )
    assert (g.kind, g.ids, g.dns_names, g.ip_addresses, g.usage) == (
        "join_token",
        "spiffe://mesh.internal/service/*",
        ["api.mesh.internal"],
        [],
        "server",
    )
    a = meshtls.Grant.administrator("spiffe://mesh.internal")
    assert (a.kind, a.dns_names, a.ip_addresses, a.usage) == ("administrator", None, None, None)
