"""trigger_price refuses bools by name (False was taken as 0, True as a price)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from _helpers import eventually, make_dealer
from lighterfast.testnode import LocalNode


async def test_trigger_price_bool_is_refused_on_every_modify_path(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        coi = (await dealer.create_limit_order(1000.00, 0.01))["client_order_index"]
        await dealer.flush()
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        for flag in (False, True):
            with pytest.raises(TypeError, match=r"trigger_price must be a number.*got bool"):
                await dealer.update_order_by_coi(coi, price=1001.00, trigger_price=flag)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                with pytest.raises(TypeError, match=r"trigger_price must be a number.*got bool"):
                    await dealer.update_order(
                        order["order_index"], 1001.00, 0.01, trigger_price=flag
                    )
        assert dealer.queued == 0  # nothing queued
        # a numeric zero still means "no trigger"
        summary = await dealer.update_order_by_coi(coi, price=1001.00, trigger_price=0)
        assert summary["trigger_price"] == 0.0
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: node.state.order_by_coi(acc, coi)["base_price"] == 100100)
