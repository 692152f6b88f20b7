"""WsInfo's account and market state (positions, balance, market stats, ticker) against the
local node over loopback: equal to the node's REST truth after trades, a reconnect that
missed an update, and a node restart; bad values refused, counted and resynced."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from _helpers import eventually, make_dealer
from lighterfast import LighterDealer
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.ws import WsInfo
from lighterfast.ws.account import MAX_POSITIONS

ETH = 0  # price 2 / size 4 decimals
BALANCE_KEYS = (
    "account_index",
    "collateral",
    "available_balance",
    "total_asset_value",
    "cross_asset_value",
    "assets",
)


@pytest.fixture
async def maker(node: LocalNode) -> DevAccount:
    return await node.create_account(collateral=100_000)


@pytest.fixture
async def taker(node: LocalNode) -> DevAccount:
    return await node.create_account(collateral=50_000)


@pytest.fixture
async def dealers(
    node: LocalNode, maker: DevAccount, taker: DevAccount
) -> AsyncIterator[tuple[LighterDealer, LighterDealer]]:
    """REST-only dealers (no price source): their reads are the node's REST truth."""
    async with (
        await make_dealer(node, maker, use_ws=False) as mdealer,
        await make_dealer(node, taker, use_ws=False) as tdealer,
    ):
        yield mdealer, tdealer


async def overlay(node: LocalNode, acct: DevAccount, **opts: Any) -> WsInfo:
    opts.setdefault("connection_options", {"backoff_initial": 0.05})
    return await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        market_id=ETH,
        base_url=node.base_url,
        **opts,
    )


async def trade(
    node: LocalNode, mdealer: LighterDealer, tdealer: LighterDealer, size: float, taker: int
) -> None:
    """The maker rests the opposite side at 3000, the taker crosses it with a market order."""
    before = node.state.positions.get((taker, ETH), {}).get("size", 0)
    await mdealer.create_limit_order(3000.0, -size)
    assert (await mdealer.flush())[0]["accepted"]
    worst = 3000.0 * (1.05 if size > 0 else 0.95)
    await tdealer.create_market_order(size, avg_execution_price=worst)
    assert (await tdealer.flush())[0]["accepted"]
    want = before + round(size * 10_000)
    await eventually(lambda: node.state.positions.get((taker, ETH), {}).get("size") == want)


async def assert_equals_node(ws: WsInfo, rest_dealer: LighterDealer) -> None:
    """The stream's position and balance equal the node's REST `account` row (read now)."""
    await eventually(lambda: ws.account_state_ready)
    truth = await rest_dealer.fetch_my_position()
    await eventually(lambda: ws.get_position() == truth)
    balance = await rest_dealer.fetch_my_balance()
    await eventually(lambda: {k: (ws.get_balance() or {}).get(k) for k in BALANCE_KEYS} == balance)


async def test_positions_and_balance_follow_the_node_across_reconnects_and_restart(
    node: LocalNode,
    taker: DevAccount,
    dealers: tuple[LighterDealer, LighterDealer],
) -> None:
    mdealer, tdealer = dealers
    ws = await overlay(node, taker)
    seen_positions: list[list[dict[str, Any]]] = []
    seen_accounts: list[dict[str, Any]] = []
    ws.on_positions = seen_positions.append
    ws.on_account = seen_accounts.append
    try:
        await eventually(lambda: ws.account_state_ready)
        assert ws.get_position()["side"] == "flat" and ws.get_positions() == {}
        balance = ws.get_balance()
        assert balance is not None and balance["collateral"] == pytest.approx(50_000.0)
        await assert_equals_node(ws, tdealer)

        await trade(node, mdealer, tdealer, 0.02, taker.account_index)
        await eventually(lambda: ws.get_position()["size"] == pytest.approx(0.02))
        await assert_equals_node(ws, tdealer)
        position = ws.get_position()
        assert position["side"] == "long" and position["avg_entry_price"] == pytest.approx(3000.0)
        assert list(ws.get_positions()) == [ETH]
        assert any(p["size"] for batch in seen_positions for p in batch if p["market_index"] == ETH)
        assert seen_accounts and seen_accounts[-1]["account_index"] == taker.account_index

        # A reconnect that missed an update: the frames of a trade die in a stalled socket,
        # the fresh snapshots after the reconnect carry the node's truth.
        node.faults.stall(True)
        await trade(node, mdealer, tdealer, -0.05, taker.account_index)
        assert ws.get_position()["size"] == pytest.approx(0.02)  # the update never came
        await node.faults.close_all(1011)
        node.faults.stall(False)
        await eventually(lambda: ws.stats.reconnects >= 1 and ws.account_state_ready, 10.0)
        await eventually(lambda: ws.get_position()["size"] == pytest.approx(-0.03))
        await assert_equals_node(ws, tdealer)
        assert ws.get_position()["side"] == "short"

        # A node restart (state kept, every socket closed, port down a while).
        await node.restart(down_s=0.3)
        assert not ws.account_state_ready or ws.stats.reconnects >= 2
        await eventually(lambda: ws.stats.reconnects >= 2 and ws.account_state_ready, 10.0)
        await assert_equals_node(ws, tdealer)
        await trade(node, mdealer, tdealer, 0.03, taker.account_index)  # flat again
        await eventually(lambda: ws.get_position()["side"] == "flat")
        await assert_equals_node(ws, tdealer)
        assert ws.get_positions() == {}
    finally:
        await ws.aclose()


async def test_market_stats_and_ticker_without_a_book(
    node: LocalNode, taker: DevAccount, dealers: tuple[LighterDealer, LighterDealer]
) -> None:
    mdealer, tdealer = dealers
    ws = await overlay(node, taker, ticker=True)
    stats_seen: list[dict[str, Any]] = []
    ws.on_market_stats = stats_seen.append
    try:
        assert ws.get_order_book(ETH) is None  # no book is kept
        await trade(node, mdealer, tdealer, 0.01, taker.account_index)
        await eventually(lambda: (ws.get_market_stats() or {}).get("last_trade_price") == 3000.0)
        stats = ws.get_market_stats(ETH)
        assert stats is not None and stats["market_index"] == ETH
        assert stats["mark_price"] == 3000.0 and stats["index_price"] == 3000.0
        assert stats["next_funding_time"] > time.time() * 1000
        oi = node.engine.books[ETH].open_interest / 10**4  # the node's engine, in ETH
        await eventually(lambda: (ws.get_market_stats() or {}).get("open_interest") == oi)
        assert stats["current_funding_rate"] is not None
        assert stats_seen and stats_seen[-1]["last_trade_price"] == 3000.0

        await mdealer.create_limit_order(2950.0, 0.01)
        await mdealer.create_limit_order(3050.0, -0.01)
        await mdealer.flush()
        book = node.state.books[ETH]
        best_bid, best_ask = book["bids"][0][0] / 100, book["asks"][0][0] / 100

        def ticker_matches() -> bool:
            ticker = ws.get_ticker()
            return ticker is not None and (ticker["best_bid"], ticker["best_ask"]) == (
                max(best_bid, 2950.0),
                min(best_ask, 3050.0),
            )

        await eventually(ticker_matches)
        bid, ask = ws.get_best_bid_ask()
        ticker = ws.get_ticker()
        assert ticker is not None and (bid, ask) == (ticker["best_bid"], ticker["best_ask"])
        assert ticker["best_bid_size"] and ticker["best_ask_size"]
        with pytest.raises(ValueError, match="market"):
            ws.get_market_stats(255)
    finally:
        await ws.aclose()


def _frame(kind: str, channel: str, **body: Any) -> bytes:
    return orjson.dumps({"type": kind, "channel": channel, **body})


def _position(market: int, **over: Any) -> dict[str, Any]:
    row = {
        "market_id": market,
        "symbol": "ETH",
        "position": "0.0200",
        "sign": 1,
        "avg_entry_price": "3000.00",
        "position_value": "60.000000",
        "unrealized_pnl": "0.000000",
        "realized_pnl": "0.000000",
        "liquidation_price": "0",
        "open_order_count": 0,
        "margin_mode": 0,
        "allocated_margin": "0.000000",
    }
    row.update(over)
    return row


BAD_POSITIONS = [
    {"position": "nan"},
    {"position": "-1"},
    {"position": "inf"},
    {"sign": 2},
    {"sign": "1"},
    {"avg_entry_price": "x"},
    {"unrealized_pnl": "1e999"},
    {"open_order_count": -1},
    {"market_id": 1},
]


@pytest.mark.parametrize("bad", BAD_POSITIONS, ids=[str(b) for b in BAD_POSITIONS])
async def test_bad_position_values_are_refused_and_the_channel_resyncs(
    node: LocalNode,
    taker: DevAccount,
    dealers: tuple[LighterDealer, LighterDealer],
    bad: dict[str, Any],
) -> None:
    mdealer, tdealer = dealers
    ws = await overlay(node, taker)
    try:
        await trade(node, mdealer, tdealer, 0.02, taker.account_index)
        await assert_equals_node(ws, tdealer)
        before = ws.get_position()
        channel = f"account_all_positions:{taker.account_index}"
        malformed, resyncs = ws.stats.malformed, ws.stats.account_resyncs
        ws.feed_raw(
            _frame(
                "update/account_all_positions",
                channel,
                positions={"0": _position(ETH, **bad), "1": _position(1, market_id=1)},
            )
        )
        assert ws.stats.malformed == malformed + 1
        assert ws.get_position() == before  # the whole frame is dropped
        assert ws.get_position(1)["side"] == "flat"
        assert not ws.account_state_ready  # state may be behind until the fresh snapshot
        await eventually(lambda: ws.account_state_ready)
        assert ws.stats.account_resyncs == resyncs + 1
        await assert_equals_node(ws, tdealer)
    finally:
        await ws.aclose()


def _replay_account(**opts: Any) -> WsInfo:
    """A socket-less WsInfo with account channels (frames only through feed_raw)."""
    return WsInfo(account_index=7, market_id=ETH, ticker=True, market_stats=True, **opts)


def test_bad_balance_stats_and_ticker_values_are_refused() -> None:
    ws = _replay_account()
    stats = {
        "collateral": "100.000000",
        "available_balance": "90.000000",
        "portfolio_value": "100.000000",
        "buying_power": "1800.000000",
        "margin_usage": "10.00",
        "leverage": "0.00",
        "cross_stats": {"portfolio_value": "100.000000"},
    }
    ws.feed_raw(_frame("subscribed/user_stats", "user_stats:7", stats=stats))
    balance = ws.get_balance()
    assert balance is not None and balance["collateral"] == 100.0
    assert balance["available_balance"] == 90.0 and balance["cross_asset_value"] == 100.0
    for bad in ({"collateral": "nan"}, {"available_balance": [1]}, {"collateral": None}):
        ws.feed_raw(_frame("update/user_stats", "user_stats:7", stats={**stats, **bad}))
        assert ws.get_balance() == balance
    ws.feed_raw(_frame("update/user_stats", "user_stats:7", stats="oops"))
    assert ws.stats.malformed == 4 and ws.get_balance() == balance

    assets = {"3": {"symbol": "USDC", "asset_id": 3, "balance": "5", "margin_balance": "5"}}
    ws.feed_raw(_frame("subscribed/account_all_assets", "account_all_assets:7", assets=assets))
    assert ws.get_balance()["assets"]["USDC"]["balance"] == 5.0  # type: ignore[index]
    bad_assets = {"3": {**assets["3"], "balance": "inf"}}
    ws.feed_raw(_frame("update/account_all_assets", "account_all_assets:7", assets=bad_assets))
    assert ws.get_balance()["assets"]["USDC"]["balance"] == 5.0  # type: ignore[index]

    good = {
        "symbol": "ETH",
        "market_id": ETH,
        "mark_price": "3000.00",
        "index_price": "3001.00",
        "last_trade_price": "3000.50",
        "current_funding_rate": "-0.0001",
        "funding_timestamp": 1_785_358_800_000,
        "open_interest": "12.5",
    }
    ws.feed_raw(_frame("subscribed/market_stats", "market_stats:0", market_stats=good))
    kept = ws.get_market_stats()
    assert kept is not None and kept["current_funding_rate"] == -0.0001
    assert kept["next_funding_time"] == 1_785_358_800_000 and kept["open_interest"] == 12.5
    for bad in (
        {"mark_price": "-1"},
        {"index_price": "nan"},
        {"funding_timestamp": "soon"},
        {"open_interest": -2},
        {"market_id": 3},
    ):
        ws.feed_raw(_frame("update/market_stats", "market_stats:0", market_stats={**good, **bad}))
        assert ws.get_market_stats() == kept

    side = {"price": "3000.00", "size": "1.0"}
    ws.feed_raw(_frame("update/ticker", "ticker:0", ticker={"s": "ETH", "a": side, "b": side}))
    assert ws.get_ticker() is None  # crossed: refused
    empty = {"price": "", "size": ""}
    ws.feed_raw(_frame("update/ticker", "ticker:0", ticker={"s": "ETH", "a": side, "b": empty}))
    ticker = ws.get_ticker()
    assert ticker is not None and ticker["best_bid"] is None and ticker["best_ask"] == 3000.0
    ws.feed_raw(_frame("update/ticker", "ticker:0", ticker={"a": {"price": "0"}, "b": empty}))
    assert ws.get_ticker() == ticker


def test_account_state_is_bounded() -> None:
    ws = _replay_account()
    channel = "account_all_positions:7"
    ids = [m for m in range(MAX_POSITIONS + 2) if m != 255]  # 255 means "all markets"
    too_many = {str(m): _position(m) for m in ids[: MAX_POSITIONS + 1]}
    ws.feed_raw(_frame("subscribed/account_all_positions", channel, positions=too_many))
    assert ws.get_positions() == {} and ws.stats.malformed == 1
    half = MAX_POSITIONS // 2
    first = {str(m): _position(m) for m in ids[:half]}
    ws.feed_raw(_frame("subscribed/account_all_positions", channel, positions=first))
    assert len(ws.get_positions()) == half and ws.account_state_ready is False  # no stats yet
    more = {str(m): _position(m) for m in ids[half : MAX_POSITIONS + 1]}
    ws.feed_raw(_frame("update/account_all_positions", channel, positions=more))
    assert len(ws.get_positions()) == half  # refused whole: would exceed the bound
    ws.feed_raw(_frame("update/account_all_positions", channel, positions={"255": _position(255)}))
    assert 255 not in ws.get_positions() and ws.stats.malformed == 3


def test_a_flat_update_and_a_fresh_snapshot_replace_positions() -> None:
    ws = _replay_account()
    channel = "account_all_positions:7"
    rows = {"0": _position(0), "1": _position(1, position="1.5", sign=-1)}
    ws.feed_raw(_frame("subscribed/account_all_positions", channel, positions=rows))
    assert ws.get_position(1)["size"] == -1.5 and ws.get_position(1)["side"] == "short"
    ws.feed_raw(
        _frame(
            "update/account_all_positions",
            channel,
            positions={"1": _position(1, position="0.00000", open_order_count=2)},
        )
    )
    flat = ws.get_position(1)
    assert flat["side"] == "flat" and flat["size"] == 0.0 and flat["open_order_count"] == 2
    assert list(ws.get_positions()) == [0]  # update merged: market 0 kept
    ws.feed_raw(_frame("subscribed/account_all_positions", channel, positions={}))
    assert ws.get_positions() == {} and ws.get_position(0)["side"] == "flat"
