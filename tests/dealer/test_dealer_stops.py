"""Stop-loss and take-profit orders through the dealer: validated before anything is queued,
sent as the venue's trigger types, cancelable and modifiable by COI on the local node."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from _helpers import eventually, make_dealer
from lighterfast import protocol as p
from lighterfast.errors import CoiInUse
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0


def node_order(node: LocalNode, acct: DevAccount, coi: int) -> dict[str, Any] | None:
    return node.state.order_by_coi(acct.account_index, coi)


async def test_stop_market_and_limit_flavours(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        market = await d.create_stop_order(-0.1, 2900)
        limit = await d.create_stop_order(-0.1, 2900, price=2890)
        tp = await d.create_take_profit_order(-0.1, "3100.5")
        tp_limit = await d.create_take_profit_order(0.1, 2800, price=2810, reduce_only=False)
        assert market["type"] == "stop-loss" and market["time_in_force"] == "immediate-or-cancel"
        assert market["price"] == 2871.0  # trigger - 1 % (the default market slippage)
        assert limit["type"] == "stop-loss-limit" and limit["price"] == 2890.0
        assert tp["type"] == "take-profit" and tp["trigger_price"] == 3100.5
        assert tp_limit["type"] == "take-profit-limit" and tp_limit["reduce_only"] is False
        assert market["reduce_only"] is True and market["size"] == -0.1
        results = await d.flush()
        assert [r["status"] for r in results] == ["accepted"] * 4
        for summary in (market, limit, tp, tp_limit):
            coi = summary["client_order_index"]
            await eventually(lambda coi=coi: node_order(node, funded_account, coi))
        seen = node_order(node, funded_account, market["client_order_index"])
        assert seen is not None
        assert (seen["type"], seen["status"], seen["trigger_price"]) == (
            "stop-loss",
            "pending",
            "2900.00",
        )
        assert seen["is_ask"] and seen["reduce_only"]
        buy = node_order(node, funded_account, tp_limit["client_order_index"])
        assert buy is not None and not buy["is_ask"] and buy["type"] == "take-profit-limit"


async def test_stop_cancel_and_modify_by_coi(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        stop = await d.create_stop_order(-0.1, 2900, price=2890)
        other = await d.create_take_profit_order(-0.1, 3100)
        await d.flush()
        coi = stop["client_order_index"]
        await eventually(lambda: node_order(node, funded_account, coi))
        await d.update_order_by_coi(coi, trigger_price=2850, price=2840)
        assert (await d.flush())[0]["status"] == "accepted"
        await eventually(
            lambda: (node_order(node, funded_account, coi) or {}).get("trigger_price") == "2850.00"
        )
        assert node_order(node, funded_account, coi)["price"] == "2840.00"  # type: ignore[index]
        await d.cancel_order_by_coi(other["client_order_index"])
        await d.flush()
        await eventually(
            lambda: (
                (node_order(node, funded_account, other["client_order_index"]) or {}).get("status")
                == p.STATUS_CANCELED
            )
        )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda d: d.create_stop_order(-0.1, None), ValueError, "trigger_price is required"),
        (lambda d: d.create_stop_order(-0.1, 0), ValueError, "trigger_price is required"),
        (lambda d: d.create_take_profit_order(-0.1, Decimal(0)), ValueError, "is required"),
        (lambda d: d.create_stop_order(-0.1, True), TypeError, "bool"),
        (lambda d: d.create_stop_order(0, 2900), ValueError, "must not be 0"),
        (lambda d: d.create_stop_order("x", 2900), ValueError, "size"),
        (lambda d: d.create_stop_order(-0.1, 2900, reduce_only="no"), TypeError, "reduce_only"),
        (lambda d: d.create_stop_order(-0.1, 2900, 2890, slippage=0.1), ValueError, "slippage"),
        (lambda d: d.create_stop_order(-0.1, 2900, slippage=1.5), ValueError, "slippage"),
        (lambda d: d.create_stop_order(-0.1, 2900, expiry=5), ValueError, "expiry"),
        (lambda d: d.create_stop_order(-0.1, -5), ValueError, "trigger_price"),
    ],
)
async def test_bad_stop_inputs_queue_nothing(
    node: LocalNode, funded_account: DevAccount, call: Any, error: type, match: str
) -> None:
    async with await make_dealer(node, funded_account) as d:
        with pytest.raises(error, match=match):
            await call(d)
        assert d.queued == 0 and len(d._orders) == 0


async def test_stop_coi_in_use_refused(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        await d.create_stop_order(-0.1, 2900, client_order_index=777)
        with pytest.raises(CoiInUse):
            await d.create_take_profit_order(-0.1, 3100, client_order_index=777)
        assert d.queued == 1
