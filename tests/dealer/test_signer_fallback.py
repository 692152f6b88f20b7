"""The venue-side guard: a `21120 invalid signature` to a natively signed batch switches that
dealer's signer to lighter-sdk's Go library, re-signs once with the same nonces and resends.

Against the real verifying local node. The native signer is made to sign wrongly through its
documented test seam (`_Key._corrupt_for_tests`: one bit of s flipped), so the node's own
verifier refuses it exactly as the venue would.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from _helpers import config_for, make_dealer, node_nonce
from lighterfast import LighterDealer
from lighterfast import protocol as P
from lighterfast.signing import NativeSigner
from lighterfast.signing import sdk as S
from lighterfast.testnode import LocalNode

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
OTHER_KEY = VECTORS["keys"]["gen0"]["private_key"]  # valid, but not the account's registered key


def corrupt(signer: Any) -> None:
    assert isinstance(signer, NativeSigner) and signer.engine == "native"
    for key in signer._keys.values():
        key._corrupt_for_tests()


@pytest.mark.parametrize("use_ws", [True, False], ids=["ws", "rest"])
async def test_21120_to_a_native_signature_switches_to_the_go_library_and_resends(
    node: LocalNode, caplog: pytest.LogCaptureFixture, use_ws: bool
) -> None:
    acct = await node.create_account(collateral=100_000)
    other = await node.create_account(collateral=100_000)
    async with (
        await make_dealer(node, acct, use_ws=use_ws) as dealer,
        await make_dealer(node, other, use_ws=use_ws) as bystander,
    ):
        corrupt(dealer.signer)
        go_before = S.go_call_count()
        with caplog.at_level(logging.WARNING):
            await dealer.create_limit_order(price=3000.05, size=+0.005)
            await dealer.create_limit_order(price=2999.05, size=+0.005)
            results = await dealer.flush()
        assert [r["status"] for r in results] == ["accepted", "accepted"], results
        assert [r["nonce"] for r in results] == [0, 1]  # the refused nonces, re-signed
        assert node_nonce(node, acct) == 2
        assert dealer.signer.engine == "sdk" and S.go_call_count() > go_before
        text = caplog.text
        assert "21120" in text and "Go library" in text
        assert acct.private_key[2:] not in text
        # later orders go through the Go library without another refusal
        await dealer.create_limit_order(price=2998.05, size=+0.005)
        assert (await dealer.flush())[0]["accepted"]
        assert node_nonce(node, acct) == 3
        # only that dealer switched
        await bystander.create_limit_order(price=3000.05, size=+0.005)
        assert (await bystander.flush())[0]["accepted"]
        assert bystander.signer.engine == "native"


async def test_a_wrong_key_is_refused_once_more_by_the_go_library_and_not_looped(
    node: LocalNode,
) -> None:
    """The Go library's signature is refused too (a wrong key, not a native-signer fault): the
    batch is rejected with 21120 after exactly one re-sign, nothing consumed."""
    acct = await node.create_account(collateral=100_000)
    cfg = config_for(node, acct, api_key_private_key=OTHER_KEY)
    async with await LighterDealer.create(cfg) as dealer:
        assert dealer.signer.engine == "native"
        go_before = S.go_call_count()
        await dealer.create_limit_order(price=3000.05, size=+0.005)
        (result,) = await dealer.flush()
        assert result["status"] == "rejected" and result["code"] == P.ERR_INVALID_SIGNATURE
        assert dealer.signer.engine == "sdk"
        assert S.go_call_count() - go_before == 2  # the key registered, one re-sign: no loop
        assert node_nonce(node, acct) == 0
        go_before = S.go_call_count()
        await dealer.create_limit_order(price=3000.05, size=+0.005)
        (again,) = await dealer.flush()
        assert again["code"] == P.ERR_INVALID_SIGNATURE  # no further switching either
        assert S.go_call_count() - go_before == 1


async def test_the_go_signer_is_never_switched(node: LocalNode) -> None:
    acct = await node.create_account(collateral=100_000)
    cfg = config_for(node, acct, api_key_private_key=OTHER_KEY, signer="sdk")
    async with await LighterDealer.create(cfg) as dealer:
        assert not hasattr(dealer.signer, "engine")
        await dealer.create_limit_order(price=3000.05, size=+0.005)
        (result,) = await dealer.flush()
        assert result["status"] == "rejected" and result["code"] == P.ERR_INVALID_SIGNATURE
        assert node_nonce(node, acct) == 0
