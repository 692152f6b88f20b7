"""Brackets (OTOCO), OTO and OCO groups through the dealer: each leg's COI in the summary and
the live view, the venue's shape and side rules checked before anything is queued, legs
canceled and modified by COI, all end to end on the local node (also across a restart)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from _helpers import eventually, make_dealer
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0


def node_status(node: LocalNode, acct: DevAccount, coi: int) -> str | None:
    found = node.state.order_by_coi(acct.account_index, coi)
    return None if found is None else found["status"]


async def set_mark(node: LocalNode, price: str) -> None:
    async with aiohttp.ClientSession() as http:
        body = orjson.dumps({"market_index": ETH, "price": price})
        async with http.post(node.base_url + "/dev/v1/mark_price", data=body) as resp:
            assert resp.status == 200


async def test_bracket_legs_cois_and_view(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        summary = await d.create_bracket_order(
            3000, 0.1, take_profit=3100, stop_loss=2900, stop_loss_price=2890
        )
        legs = summary["legs"]
        assert set(legs) == {"parent", "stop_loss", "take_profit"}
        assert summary["client_order_indices"] == [
            legs["parent"],
            legs["stop_loss"],
            legs["take_profit"],
        ]
        kinds = {o["leg"]: o["type"] for o in summary["orders"]}
        assert kinds == {
            "parent": "limit",
            "stop_loss": "stop-loss-limit",
            "take_profit": "take-profit",
        }
        for coi in summary["client_order_indices"]:
            assert d.get_order_by_coi(coi)["status"] == "queued"  # type: ignore[index]
        (result,) = await d.flush()
        assert result["status"] == "accepted" and result["legs"] == legs
        assert result["tx_type"] == p.TX_TYPE_CREATE_GROUPED_ORDERS
        for coi in summary["client_order_indices"]:
            record = d.get_order_by_coi(coi)
            assert record is not None and record["status"] == "accepted"
            assert record["api_key_index"] == result["api_key_index"]
        await eventually(lambda: node_status(node, funded_account, legs["take_profit"]))
        assert node_status(node, funded_account, legs["parent"]) == "open"
        sl = node.state.order_by_coi(funded_account.account_index, legs["stop_loss"])
        assert (
            sl is not None
            and sl["is_ask"]
            and sl["reduce_only"]
            and sl["trigger_price"] == "2900.00"
        )


async def test_bracket_fill_arms_children_then_tp_fires(
    node: LocalNode, funded_account: DevAccount
) -> None:
    other = await node.create_account(collateral=100_000)
    async with (
        await make_dealer(node, funded_account) as d,
        await make_dealer(node, other) as maker,
    ):
        summary = await d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900)
        await d.flush()
        legs = summary["legs"]
        await eventually(lambda: node_status(node, funded_account, legs["parent"]) == "open")
        await maker.create_limit_order(3000, -0.1)
        await maker.create_limit_order(3100, 0.1)
        await maker.flush()
        await eventually(lambda: node_status(node, funded_account, legs["parent"]) == "filled")
        await set_mark(node, "3100")
        await eventually(lambda: node_status(node, funded_account, legs["take_profit"]) == "filled")
        assert node_status(node, funded_account, legs["stop_loss"]) == p.STATUS_CANCELED_OCO
        assert node.state.positions[(funded_account.account_index, ETH)]["size"] == 0


async def test_oto_and_oco_shapes(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        oto = await d.create_oto(3000, -0.1, trigger_price=3100)  # a short with its stop
        assert set(oto["legs"]) == {"parent", "stop_loss"} and oto["grouping"] == "oto"
        oco = await d.create_oco(0.1, take_profit=2800, stop_loss=3200)  # closes a short
        assert set(oco["legs"]) == {"stop_loss", "take_profit"} and oco["grouping"] == "oco"
        assert all(o["side"] == "buy" and o["reduce_only"] for o in oco["orders"])
        results = await d.flush()
        assert [r["status"] for r in results] == ["accepted", "accepted"]
        child = oto["legs"]["stop_loss"]
        await eventually(lambda: node_status(node, funded_account, child) == "pending")
        found = node.state.order_by_coi(funded_account.account_index, child)
        assert (
            found is not None and not found["is_ask"] and found["trigger_status"] == "parent-order"
        )


async def test_leg_modify_and_cancel_by_coi_across_restart(
    node: LocalNode, funded_account: DevAccount
) -> None:
    async with await make_dealer(node, funded_account) as d:
        summary = await d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900)
        await d.flush()
        legs = summary["legs"]
        await eventually(lambda: node_status(node, funded_account, legs["take_profit"]))
        await node.restart()
        await d.update_order_by_coi(legs["stop_loss"], trigger_price=2850)
        assert (await d.flush())[0]["status"] == "accepted"

        def moved() -> bool:
            sl = node.state.order_by_coi(funded_account.account_index, legs["stop_loss"])
            return sl is not None and sl["trigger_price"] == "2850.00"

        await eventually(moved)
        assert node_status(node, funded_account, legs["stop_loss"]) == "pending"
        await d.cancel_order_by_coi(legs["parent"])
        assert (await d.flush())[0]["status"] == "accepted"
        await eventually(
            lambda: node_status(node, funded_account, legs["stop_loss"]) == p.STATUS_CANCELED_CHILD
        )
        assert node_status(node, funded_account, legs["take_profit"]) == p.STATUS_CANCELED_CHILD


async def test_rejected_group_leaves_no_leg(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        summary = await d.create_oco(-0.1, take_profit=3100, stop_loss=2900)
        node.faults.force_next_tx_error(p.ERR_INVALID_TX_INFO, "invalid tx info")
        (result,) = await d.flush()
        assert result["status"] == "rejected"
        for coi in summary["client_order_indices"]:
            assert d.get_order_by_coi(coi) is None
            assert d._finished.get(coi) == "rejected"


async def test_failed_batch_forgets_legs(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        cois: list[int] = []
        with pytest.raises(RuntimeError):
            async with d.batch():
                summary = await d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900)
                cois = summary["client_order_indices"]
                raise RuntimeError("boom")
        assert d.queued == 0 and all(d.get_order_by_coi(c) is None for c in cois)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=2990, stop_loss=2900),
         ValueError, "take_profit must be above the buy entry"),
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=3010),
         ValueError, "stop_loss must be below the buy entry"),
        (lambda d: d.create_bracket_order(3000, -0.1, take_profit=3100, stop_loss=2900),
         ValueError, "take_profit must be below the sell entry"),
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=None, stop_loss=2900),
         ValueError, "take_profit is required"),
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=0),
         ValueError, "stop_loss is required"),
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900,
                                          client_order_indices=[1, 2]),
         ValueError, "3 COIs"),
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900,
                                          client_order_indices=[5, 5, 6]),
         ValueError, "distinct"),
        (lambda d: d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900,
                                          client_order_indices="123"),
         TypeError, "list"),
        (lambda d: d.create_bracket_order(3000, 0, take_profit=3100, stop_loss=2900),
         ValueError, "must not be 0"),
        (lambda d: d.create_oco(-0.1, take_profit=2900, stop_loss=3100),
         ValueError, "wrong side"),
        (lambda d: d.create_oco(-0.1, take_profit=3100, stop_loss=2900, reduce_only=False),
         ValueError, "reduce-only"),
        (lambda d: d.create_oco(-0.1, take_profit=3100, stop_loss=None),
         ValueError, "stop_loss is required"),
        (lambda d: d.create_oto(3000, 0.1, trigger_price=3100, kind="trailing"),
         ValueError, "kind"),
        (lambda d: d.create_oto(3000, 0.1, trigger_price=3100),
         ValueError, "stop_loss must be below"),
        (lambda d: d.create_oto(3000, 0.1, trigger_price=2900, kind="take_profit"),
         ValueError, "take_profit must be above"),
    ],
)  # fmt: skip
async def test_bad_group_inputs_queue_nothing(
    node: LocalNode, funded_account: DevAccount, call: Any, error: type, match: str
) -> None:
    async with await make_dealer(node, funded_account) as d:
        with pytest.raises(error, match=match):
            await call(d)
        assert d.queued == 0 and len(d._orders) == 0


async def test_leg_cancel_in_the_same_flush_rides_the_groups_key(node: LocalNode) -> None:
    acct = await node.create_account(collateral=100_000, keys=3)
    keys = {k.api_key_index: k.private_key for k in acct.keys}
    # Batches of 2: the group and the limit fill one key's batch, rotation moves on after.
    async with await make_dealer(node, acct, api_keys=keys, max_ws_batch=2) as d:
        for _ in range(2):
            bracket = await d.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900)
            await d.create_limit_order(2000, 0.1)  # takes the next key in rotation
            await d.cancel_order_by_coi(bracket["legs"]["take_profit"])
            group, _, cancel = await d.flush()
            assert cancel["api_key_index"] == group["api_key_index"]  # ordered after its create
            tp = bracket["legs"]["take_profit"]
            await eventually(lambda tp=tp: node_status(node, acct, tp) == p.STATUS_CANCELED)
