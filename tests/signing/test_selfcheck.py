"""The native signer's self-check (signing.selfcheck): it passes on this build, and a difference
in any tx kind makes the process sign with lighter-sdk's Go library, with one WARNING.

A difference is made through the check's documented seam (`_TAMPER_FOR_TESTS`: the native
output of one kind is altered before it is compared); the library, the node and the verifier
are the real ones.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lighterfast.signing import NativeSigner, SdkSigner, selfcheck
from lighterfast.signing import sdk as S
from lighterfast.testnode._verify import schnorr_verify as node_verify

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
KEY = VECTORS["keys"]["gen2"]
KINDS = ["create_order", "cancel_order", "modify_order", "cancel_all_orders",
         "create_grouped_orders", "update_leverage", "update_margin", "auth_token"]  # fmt: skip
KINDS += ["live:" + kind for kind in KINDS]


@pytest.fixture
def fresh_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the check anew in this test, and leave a passed check behind for the others."""
    selfcheck.reset()
    yield
    monkeypatch.setattr(selfcheck, "_TAMPER_FOR_TESTS", None)
    selfcheck.reset()
    selfcheck.ensure()


def test_the_check_passes_with_the_library_live(fresh_check: None) -> None:
    signer = NativeSigner(77, {2: KEY["private_key"]}, chain_id=300)
    assert selfcheck.result() == {"done": True, "problem": None, "live": True}
    assert signer.engine == "native"
    before = S.go_call_count()
    signer.sign_cancel_order(market_index=0, order_index=5, nonce=1, api_key_index=2)
    assert S.go_call_count() == before  # signed natively
    signer.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_difference_in_any_kind_switches_the_process_to_the_go_library(
    fresh_check: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    monkeypatch.setattr(selfcheck, "_TAMPER_FOR_TESTS", kind)
    with caplog.at_level(logging.WARNING, logger="lighterfast.signing"):
        first = NativeSigner(77, {2: KEY["private_key"]}, chain_id=300)
        second = NativeSigner(78, {2: KEY["private_key"]}, chain_id=300)
    problem = selfcheck.result()["problem"]
    name = kind.removeprefix("live:")
    assert problem is not None and problem.replace(" ", "_").startswith(name.split("_")[0])
    assert ("fixed k" in problem) == (not kind.startswith("live:"))
    warnings = [r for r in caplog.records if "self-check" in r.getMessage()]
    assert len(warnings) == 1 and "Go library" in warnings[0].getMessage()  # one, once
    for signer in (first, second):
        assert signer.engine == "sdk" and signer.nonce_pool is None
        before = S.go_call_count()
        tx = signer.sign_cancel_order(market_index=0, order_index=5, nonce=1, api_key_index=2)
        assert S.go_call_count() == before + 1  # the Go library signed it
        sig = base64.b64decode(json.loads(tx.tx_info)["Sig"])
        assert node_verify(bytes.fromhex(KEY["public_key"][2:]), bytes.fromhex(tx.tx_hash), sig)
        token = signer.create_auth_token(1_800_000_000, 2)
        assert token.startswith(f"1800000000:{signer.account_index}:2:")
        assert KEY["private_key"][2:] not in repr(signer) + caplog.text
        signer.close()


async def test_async_creation_runs_the_check_off_the_loop(fresh_check: None) -> None:
    signer = await NativeSigner.create(77, {2: KEY["private_key"]}, chain_id=300)
    assert selfcheck.done() and signer.engine == "native"
    tx = await signer.asign_cancel_order(market_index=0, order_index=5, nonce=1, api_key_index=2)
    assert tx.tx_type == 15
    signer.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_in_a_forked_child_without_the_library_only_the_recorded_part_runs() -> None:
    """The Go runtime does not survive fork: the child checks against recorded outputs only,
    stays native (there is nothing to fall back to) and says so."""
    with SdkSigner(77, {2: KEY["private_key"]}, chain_id=300) as sdk:  # library loaded here
        sdk.sign_cancel_order(market_index=0, order_index=5, nonce=1, api_key_index=2)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            selfcheck.reset()
            signer = NativeSigner(77, {2: KEY["private_key"]}, chain_id=300)
            result = selfcheck.result()
            ok = result["problem"] is None and result["live"] is False
            code = 0 if ok and signer.engine == "native" else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("forked child hung")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
