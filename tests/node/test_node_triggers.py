"""The node executes trigger orders as the venue does: stops and take-profits fire on the mark
price (pinned by `POST /dev/v1/mark_price`), OCO legs cancel each other, OTO/OTOCO children
wait for their parent's fill, scheduled cancel-alls fire and abort, leverage and isolated
margin are checked at execution. Orders come from the real dealer over loopback sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import pytest

from _helpers import eventually, make_dealer
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0


async def dev_post(node: LocalNode, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a dev route of `node`; its JSON reply."""
    async with aiohttp.ClientSession() as http:
        async with http.post(node.base_url + path, data=orjson.dumps(body)) as resp:
            reply: dict[str, Any] = await resp.json(content_type=None)
            reply["http_status"] = resp.status
            return reply


def status(node: LocalNode, acct: DevAccount, coi: int) -> str | None:
    order = node.state.order_by_coi(acct.account_index, coi)
    return None if order is None else order["status"]


async def test_mark_price_route_validates(node: LocalNode) -> None:
    ok = await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "3000.5"})
    assert ok["code"] == 200 and ok["mark_price"] == 300_050
    assert node.engine.books[ETH].mark_price() == 300_050
    for bad in ({"market_index": 77, "price": 1}, {"market_index": ETH, "price": "x"}, {}):
        reply = await dev_post(node, "/dev/v1/mark_price", bad)
        assert reply["http_status"] == 400 and reply["code"] == p.ERR_INVALID_PARAM
    reset = await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": 0})
    assert reset["code"] == 200 and node.engine.books[ETH].mark_price() == 0


async def _stats_frame(ws: Any, want: str) -> dict[str, Any]:
    """The next market_stats frame of ETH whose mark_price is `want`."""
    while True:
        frame = orjson.loads((await ws.receive()).data)
        if "market_stats" in str(frame.get("type")):
            stats = frame["market_stats"]
            if stats["mark_price"] == want:
                return dict(stats)


async def test_published_mark_price_is_the_pinned_one(node: LocalNode) -> None:
    """market_stats (snapshot and update) and orderBookDetails carry a pinned mark, not the
    last trade's price; unpinned, the mark follows the last trade again."""
    await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "2950.5"})
    async with aiohttp.ClientSession() as http, http.ws_connect(node.ws_url) as ws:
        sub = {"type": "subscribe", "channel": f"market_stats/{ETH}"}
        await ws.send_str(orjson.dumps(sub).decode())
        snap = await asyncio.wait_for(_stats_frame(ws, "2950.50"), 5.0)
        assert snap["last_trade_price"] != "2950.50"
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "2900"})
        update = await asyncio.wait_for(_stats_frame(ws, "2900.00"), 5.0)
        assert update["market_id"] == ETH
        url = node.base_url + "/api/v1/orderBookDetails"
        async with http.get(url, params={"market_id": ETH}) as resp:
            body = await resp.json(content_type=None)
        (row,) = [r for r in body["order_book_details"] if r["market_id"] == ETH]
        assert row["mark_price"] == "2900.00"
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": 0})
        back = await asyncio.wait_for(_stats_frame(ws, update["last_trade_price"]), 5.0)
        assert back["mark_price"] == back["last_trade_price"]


async def test_stop_fires_on_mark_not_before(node: LocalNode, funded_account: DevAccount) -> None:
    maker_acct = await node.create_account(collateral=100_000)
    async with (
        await make_dealer(node, funded_account) as bot,
        await make_dealer(node, maker_acct) as maker,
    ):
        await maker.create_limit_order(3000, -0.1)
        await maker.flush()
        await bot.create_limit_order(3000, 0.1, time_in_force="ioc")
        await bot.flush()
        await eventually(lambda: node.state.positions.get((funded_account.account_index, ETH)))
        stop = await bot.create_stop_order(-0.1, 2900)
        assert (await bot.flush())[0]["status"] == "accepted"
        await eventually(lambda: status(node, funded_account, stop["client_order_index"]))
        await maker.create_limit_order(2890, 0.1)
        await maker.flush()
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "2950"})
        order = node.state.order_by_coi(funded_account.account_index, stop["client_order_index"])
        assert order["status"] == "pending" and order["trigger_status"] == "mark-price"
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "2900"})
        coi = stop["client_order_index"]
        await eventually(lambda: status(node, funded_account, coi) == "filled")
        assert node.state.positions[(funded_account.account_index, ETH)]["size"] == 0


async def test_oco_one_fires_other_canceled(node: LocalNode, funded_account: DevAccount) -> None:
    maker_acct = await node.create_account(collateral=100_000)
    async with (
        await make_dealer(node, funded_account) as bot,
        await make_dealer(node, maker_acct) as maker,
    ):
        await maker.create_limit_order(3000, -0.1)
        await maker.flush()
        await bot.create_limit_order(3000, 0.1, time_in_force="ioc")
        await bot.flush()
        await eventually(lambda: node.state.positions.get((funded_account.account_index, ETH)))
        oco = await bot.create_oco(-0.1, take_profit=3200, stop_loss=2800)
        assert (await bot.flush())[0]["status"] == "accepted"
        sl, tp = oco["legs"]["stop_loss"], oco["legs"]["take_profit"]
        await eventually(lambda: status(node, funded_account, tp) == "pending")
        await maker.create_limit_order(3200, 0.1)
        await maker.flush()
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "3200"})
        await eventually(lambda: status(node, funded_account, tp) == "filled")
        assert status(node, funded_account, sl) == p.STATUS_CANCELED_OCO
        assert node.state.positions[(funded_account.account_index, ETH)]["size"] == 0


async def test_otoco_children_wait_for_parent_fill(
    node: LocalNode, funded_account: DevAccount
) -> None:
    maker_acct = await node.create_account(collateral=100_000)
    async with (
        await make_dealer(node, funded_account) as bot,
        await make_dealer(node, maker_acct) as maker,
    ):
        bracket = await bot.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900)
        await bot.flush()
        legs = bracket["legs"]
        await eventually(lambda: status(node, funded_account, legs["stop_loss"]) == "pending")
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "2800"})
        sl = node.state.order_by_coi(funded_account.account_index, legs["stop_loss"])
        assert sl["trigger_status"] == "parent-order"  # parent resting: the stop cannot fire
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": 0})
        await maker.create_limit_order(3000, -0.1)  # fills the parent
        await maker.flush()
        await eventually(lambda: status(node, funded_account, legs["parent"]) == "filled")
        await eventually(
            lambda: (
                node.state.order_by_coi(funded_account.account_index, legs["stop_loss"])[
                    "trigger_status"
                ]
                == "mark-price"
            )
        )
        await maker.create_limit_order(2890, 0.1)
        await maker.flush()
        await dev_post(node, "/dev/v1/mark_price", {"market_index": ETH, "price": "2895"})
        await eventually(lambda: status(node, funded_account, legs["stop_loss"]) == "filled")
        assert status(node, funded_account, legs["take_profit"]) == p.STATUS_CANCELED_OCO
        assert node.state.positions[(funded_account.account_index, ETH)]["size"] == 0


async def test_canceled_parent_cancels_children(
    node: LocalNode, funded_account: DevAccount
) -> None:
    async with await make_dealer(node, funded_account) as bot:
        bracket = await bot.create_bracket_order(3000, 0.1, take_profit=3100, stop_loss=2900)
        await bot.flush()
        legs = bracket["legs"]
        await eventually(lambda: status(node, funded_account, legs["parent"]) == "open")
        await bot.cancel_order_by_coi(legs["parent"])
        await bot.flush()
        await eventually(lambda: status(node, funded_account, legs["stop_loss"]) != "pending")
        assert status(node, funded_account, legs["stop_loss"]) == p.STATUS_CANCELED_CHILD
        assert status(node, funded_account, legs["take_profit"]) == p.STATUS_CANCELED_CHILD


async def test_cancel_all_window_is_the_venues_unless_lowered(
    node: LocalNode, funded_account: DevAccount
) -> None:
    async with await make_dealer(node, funded_account) as bot:
        soon = int(time.time() * 1000) + 2000
        result = await bot._send_cancel_all(p.CANCEL_ALL_SCHEDULE, soon)
        assert result["status"] == "rejected" and result["code"] == p.ERR_INVALID_CANCEL_ALL_TIME
        reply = await dev_post(node, "/dev/v1/cancel_all_window", {"min_ms": 500})
        assert reply["code"] == 200 and node.engine.cancel_all_min_delay_ms == 500
        bad = await dev_post(node, "/dev/v1/cancel_all_window", {"min_ms": -1})
        assert bad["http_status"] == 400
        order = await bot.create_limit_order(2000, 0.1)
        await bot.flush()
        result = await bot._send_cancel_all(p.CANCEL_ALL_SCHEDULE, int(time.time() * 1000) + 600)
        assert result["status"] == "accepted"
        coi = order["client_order_index"]
        await eventually(lambda: status(node, funded_account, coi) == p.STATUS_CANCELED)
        assert node.accounts.accounts[funded_account.account_index].cancel_all_time == 0


async def test_abort_clears_the_schedule(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as bot:
        later = int(time.time() * 1000) + 600_000
        assert (await bot._send_cancel_all(p.CANCEL_ALL_SCHEDULE, later))["status"] == "accepted"
        acct = node.accounts.accounts[funded_account.account_index]
        await eventually(lambda: acct.cancel_all_time == later)
        assert (await bot._send_cancel_all(p.CANCEL_ALL_ABORT, 0))["status"] == "accepted"
        await eventually(lambda: acct.cancel_all_time == 0)


@pytest.mark.parametrize(
    ("info", "code"),
    [
        ({"InitialMarginFraction": 50, "MarginMode": 0}, 21113),  # beyond the market's max
        ({"InitialMarginFraction": 10_001, "MarginMode": 0}, 21113),
        ({"InitialMarginFraction": 1000, "MarginMode": 3}, 21613),
    ],
)
def test_leverage_checks(node: LocalNode, info: dict[str, Any], code: int) -> None:
    acct = node.accounts.create(1_000_000_000)
    got = node.engine.execute(
        p.TX_TYPE_UPDATE_LEVERAGE, {"AccountIndex": acct.index, "MarketIndex": ETH, **info}, 0
    )
    assert got == code
    assert acct.position(ETH).initial_margin_fraction == 0  # unchanged


def test_margin_mode_change_with_position_refused(node: LocalNode) -> None:
    acct = node.accounts.create(1_000_000_000)
    acct.position(ETH).size = 10
    info = {"AccountIndex": acct.index, "MarketIndex": ETH, "MarginMode": 1}
    got = node.engine.execute(p.TX_TYPE_UPDATE_LEVERAGE, {**info, "InitialMarginFraction": 1000}, 0)
    assert got == 21132 and acct.position(ETH).margin_mode == 0


def test_isolated_margin_moves_collateral(node: LocalNode) -> None:
    eng = node.engine
    acct = node.accounts.create(1_000_000_000)
    base = {"AccountIndex": acct.index, "MarketIndex": ETH}
    add = {**base, "USDCAmount": 5_000_000, "Direction": 1}
    assert eng.execute(p.TX_TYPE_UPDATE_MARGIN, add, 0) == 21614  # cross: no isolated position
    lev = {**base, "InitialMarginFraction": 1000, "MarginMode": 1}
    assert eng.execute(p.TX_TYPE_UPDATE_LEVERAGE, lev, 0) == 0
    before = acct.collateral
    assert eng.execute(p.TX_TYPE_UPDATE_MARGIN, add, 0) == 0
    assert acct.collateral == before - 5_000_000
    assert eng.isolated_margin[(acct.index, ETH)] == 5_000_000
    take = {**base, "USDCAmount": 6_000_000, "Direction": 0}
    assert eng.execute(p.TX_TYPE_UPDATE_MARGIN, take, 0) == p.ERR_NOT_ENOUGH_COLLATERAL
    too_much = {**base, "USDCAmount": 10**15, "Direction": 1}
    assert eng.execute(p.TX_TYPE_UPDATE_MARGIN, too_much, 0) == p.ERR_NOT_ENOUGH_COLLATERAL
    back = {**base, "USDCAmount": 5_000_000, "Direction": 0}
    assert eng.execute(p.TX_TYPE_UPDATE_MARGIN, back, 0) == 0
    assert acct.collateral == before
