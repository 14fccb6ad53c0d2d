"""Helpers shared by the tests: the repository's fixtures, CA helpers, UTC times."""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Tuple

import meshtls

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
TD = "mesh.internal"


def utc(unix: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc)


def issue_identity(
    ca: meshtls.Authority, name: str, usage: str = "both", **kw
) -> Tuple[meshtls.Issued, meshtls.Identity]:
    issued = ca.issue(f"spiffe://{TD}/service/{name}", dns_names=["localhost"], usage=usage, **kw)
    return issued, meshtls.Identity(issued)


def verifier_for(ca: meshtls.Authority, *patterns: str, **kw) -> meshtls.Verifier:
    policy = meshtls.Policy(patterns=list(patterns)) if patterns else meshtls.Policy(trust_domains=[TD])
    return meshtls.Verifier(meshtls.TrustBundle(ca.root_pem), policy, **kw)
