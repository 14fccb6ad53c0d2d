"""pytest fixtures: a fresh CA (and a rogue one with the same name) per test module."""

from __future__ import annotations

import pytest

import meshtls
from _support import TD


@pytest.fixture(scope="module")
def ca() -> meshtls.Authority:
    return meshtls.Authority.create_root(TD)


@pytest.fixture(scope="module")
def rogue_ca() -> meshtls.Authority:
    # Same trust domain and name pattern, different key: must never be trusted.
    return meshtls.Authority.create_root(TD)
