"""The create → flush hot path's shortcuts (plain-number sizes, one-create plan) keep the
general path's results and refusals, against the local node."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from _helpers import eventually, make_dealer, node_nonce
from lighterfast.testnode import LocalNode

pytestmark = pytest.mark.timeout(60)


async def test_plain_number_sizes_match_the_decimal_path(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        for fast, slow in ((0.005, "0.005"), (-0.005, "-0.005"), (1, Decimal(1)), (-2, "-2")):
            a = await dealer.create_limit_order(3000.05, fast)
            b = await dealer.create_limit_order(3000.05, slow)
            for key in ("side", "size", "price", "type", "time_in_force", "reduce_only"):
                assert a[key] == b[key], key
            assert a["side"] == ("sell" if str(slow).startswith("-") else "buy")
        assert dealer.queued == 8
        await dealer.flush()


@pytest.mark.parametrize(
    ("size", "exc", "match"),
    [
        (0.0, ValueError, "must not be 0"),
        (-0.0, ValueError, "must not be 0"),
        (0, ValueError, "must not be 0"),
        (-1e-30, ValueError, "size"),
        (math.nan, ValueError, "finite"),
        (True, TypeError, "got bool"),
    ],
)
async def test_bad_plain_sizes_refused_by_name(
    node: LocalNode, funded_account: Any, size: Any, exc: type[Exception], match: str
) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        with pytest.raises(exc, match=match):
            await dealer.create_limit_order(3000.05, size)
        with pytest.raises(ValueError, match="size"):
            await dealer.create_limit_order(3000.05, math.inf)
        assert dealer.queued == 0 and len(dealer._orders) == 0


async def test_one_create_flush_records_its_key_and_is_accepted(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        res = await dealer.create_limit_order(2999.5, 0.006, reduce_only=0, post_only=0)
        coi = res["client_order_index"]
        (result,) = await dealer.flush()
        assert result["accepted"] and result["status"] == "accepted"
        key = funded_account.api_key_index
        assert (
            result["api_key_index"] == key
            and result["nonce"] == node_nonce(node, funded_account) - 1
        )
        assert dealer._orders.get(coi)["api_key_index"] == key
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        assert order["base_price"] == 299950 and order["is_ask"] is False
        with pytest.raises(TypeError, match="post_only"):
            await dealer.create_limit_order(2999.5, 0.006, post_only="yes")
        assert dealer.queued == 0
