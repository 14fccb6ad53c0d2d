"""The GIL is released around crypto: other Python threads run while the core works.

Asserted by overlap, not timing: a spinner thread counts the moments it observes the main
thread *inside* a native call. With the switch interval raised far above the length of the
calls, a call that held the GIL would leave the spinner no chance to run while the flag is
set, so any observation proves the GIL was released.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time

import meshtls
from _support import TD


def _overlaps(native_call, rounds: int = 4) -> int:
    state = {"inside": False, "stop": False, "overlaps": 0}

    def spinner() -> None:
        while not state["stop"]:
            if state["inside"]:
                state["overlaps"] += 1
            time.sleep(0)  # yields the GIL between observations

    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    thread = threading.Thread(target=spinner)
    try:
        thread.start()
        for _ in range(rounds):
            state["inside"] = True
            native_call()
            state["inside"] = False
    finally:
        state["stop"] = True
        thread.join()
        sys.setswitchinterval(old)
    return state["overlaps"]


def test_key_encryption_releases_the_gil(ca: meshtls.Authority) -> None:
    assert _overlaps(lambda: ca.to_pem("passphrase")) > 0  # scrypt


def test_issuance_releases_the_gil(ca: meshtls.Authority) -> None:
    assert _overlaps(lambda: ca.issue(f"spiffe://{TD}/service/x", key="rsa-2048")) > 0


def test_verification_releases_the_gil(ca: meshtls.Authority) -> None:
    chains = [ca.issue(f"spiffe://{TD}/service/{i}").chain_der for i in range(20)]
    verifier = meshtls.Verifier(ca.root_pem, meshtls.Policy.allow_any())

    def verify_all() -> None:
        for chain in chains:
            verifier.verify(chain)

    assert _overlaps(verify_all) > 0


def test_threads_share_objects_safely(ca: meshtls.Authority) -> None:
    verifier = meshtls.Verifier(ca.root_pem, meshtls.Policy(trust_domains=[TD]))

    def work(i: int) -> str:
        issued = ca.issue(f"spiffe://{TD}/service/t{i}")
        return verifier.verify(issued.chain_pem).spiffe_id

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(work, range(40)))
    assert ids == [f"spiffe://{TD}/service/t{i}" for i in range(40)]


def test_the_probe_sees_nothing_when_the_gil_is_held() -> None:
    # Control: a C builtin that keeps the GIL gives the spinner no overlap at all.
    assert _overlaps(lambda: sum(range(2_000_000))) == 0
