"""Public trades kept once by `trade_id` across the subscribe replay (the last 50 prints,
protocol §8), resubscribes, reconnects and a node restart; liquidation prints kept and
marked; the set of remembered ids bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from _helpers import eventually, make_dealer
from lighterfast import LighterDealer
from lighterfast.testnode import LocalNode
from lighterfast.wire import encode_subscribe, encode_unsubscribe
from lighterfast.ws import WsInfo
from lighterfast.ws.state import TRADE_IDS_KEPT

ETH = 0


@pytest.fixture
async def dealers(node: LocalNode) -> AsyncIterator[tuple[LighterDealer, LighterDealer]]:
    maker = await node.create_account(collateral=100_000)
    taker = await node.create_account(collateral=100_000)
    async with (
        await make_dealer(node, maker, use_ws=False) as mdealer,
        await make_dealer(node, taker, use_ws=False) as tdealer,
    ):
        yield mdealer, tdealer


async def prints(
    node: LocalNode, dealers: tuple[LighterDealer, LighterDealer], prices: list[float]
) -> None:
    """One public print per price (maker rests an ask, taker lifts it)."""
    mdealer, tdealer = dealers
    for price in prices:
        before = len(node.engine.books[ETH].recent_trades)
        await mdealer.create_limit_order(price, -0.01)
        await mdealer.flush()
        await tdealer.create_market_order(0.01, avg_execution_price=price * 1.01)
        await tdealer.flush()
        await eventually(lambda b=before: len(node.engine.books[ETH].recent_trades) > b)


def tape_ids(ws: WsInfo) -> list[int]:
    return [t["trade_id"] for t in ws.get_recent_trades(1000, public=True)]


async def test_replays_of_resubscribes_reconnects_and_restarts_are_dropped(
    node: LocalNode, dealers: tuple[LighterDealer, LighterDealer]
) -> None:
    await prints(node, dealers, [3000.0, 3001.0, 3002.0])
    ws = await WsInfo.run_public_trades_simple(
        market_id=ETH, base_url=node.base_url, connection_options={"backoff_initial": 0.05}
    )
    try:
        await eventually(lambda: len(tape_ids(ws)) == 3)  # the subscribe replay
        first = tape_ids(ws)
        assert len(set(first)) == 3 and ws.get_ltp() == 3002.0

        # a resubscribe replays the same prints: none enters the tape twice
        conn = ws.connection
        assert conn is not None
        conn.send_raw(encode_unsubscribe(f"trade/{ETH}"))
        conn.send_raw(encode_subscribe(f"trade/{ETH}"))
        await eventually(lambda: ws.stats.trade_duplicates == 3)
        assert tape_ids(ws) == first

        await prints(node, dealers, [3003.0])
        await eventually(lambda: len(tape_ids(ws)) == 4)

        await node.faults.close_all(1011)  # reconnect: another replay of all four
        await eventually(lambda: ws.stats.reconnects == 1 and ws.stats.trade_duplicates == 7)
        await node.restart(down_s=0.2)
        await eventually(lambda: ws.stats.reconnects == 2 and ws.stats.trade_duplicates == 11, 10.0)
        await prints(node, dealers, [2999.0])
        await eventually(lambda: len(tape_ids(ws)) == 5)
        ids = tape_ids(ws)
        assert len(set(ids)) == 5 and sorted(ids, reverse=True) == ids
        assert ws.get_ltp() == 2999.0
        assert not any(t["is_liquidation"] for t in ws.get_recent_trades(10, public=True))
    finally:
        await ws.aclose()


def _trade(trade_id: int, price: str, **over: Any) -> dict[str, Any]:
    row = {"trade_id": trade_id, "type": "trade", "market_id": ETH, "price": price, "size": "0.1"}
    row.update(over)
    return row


def _trades_frame(kind: str, trades: list[Any], liquidations: Any = None) -> bytes:
    return orjson.dumps(
        {"type": kind, "channel": "trade:0", "trades": trades, "liquidation_trades": liquidations}
    )


def test_liquidation_prints_are_kept_marked_and_deduplicated() -> None:
    ws = WsInfo(market_id=ETH, public_trades=True)
    seen: list[list[dict[str, Any]]] = []
    ws.on_public_trades = seen.append
    liq = _trade(11, "2990.00", type="liquidation")
    ws.feed_raw(_trades_frame("subscribed/trade", [_trade(10, "3000.00")], [liq]))
    tape = ws.get_recent_trades(10, public=True)
    assert [(t["trade_id"], t["is_liquidation"]) for t in tape] == [(11, True), (10, False)]
    assert ws.get_ltp() == 2990.0
    # an update repeating both (and a null liquidation array) adds only the new print
    ws.feed_raw(_trades_frame("update/trade", [_trade(10, "3000.00"), _trade(12, "3001.00")]))
    ws.feed_raw(_trades_frame("update/trade", [], [liq]))
    assert [t["trade_id"] for t in ws.get_recent_trades(10, public=True)] == [12, 11, 10]
    assert ws.stats.trade_duplicates == 2 and len(seen) == 2
    assert seen[1] == [ws.get_recent_trades(1, public=True)[0]]


def test_a_replay_of_older_prints_does_not_move_the_last_price_back() -> None:
    ws = WsInfo(market_id=ETH, public_trades=True)
    ws.feed_raw(_trades_frame("update/trade", [_trade(50, "3050.00")]))
    ws.feed_raw(_trades_frame("subscribed/trade", [_trade(40, "3040.00"), _trade(50, "3050.00")]))
    assert ws.get_ltp() == 3050.0
    assert [t["trade_id"] for t in ws.get_recent_trades(10, public=True)] == [50]
    assert ws.stats.trade_duplicates == 2
    # a first replay may come newest first: the tape keeps trade order
    fresh = WsInfo(market_id=ETH, public_trades=True)
    fresh.feed_raw(_trades_frame("subscribed/trade", [_trade(9, "3009.00"), _trade(8, "3008.00")]))
    assert [t["trade_id"] for t in fresh.get_recent_trades(10, public=True)] == [9, 8]
    assert fresh.get_ltp() == 3009.0


def test_bad_prints_are_refused_and_the_remembered_ids_are_bounded() -> None:
    ws = WsInfo(market_id=ETH, public_trades=True, tape_size=10)
    bad = [_trade(1, "nan"), _trade(2, "3000", size="0"), _trade(-3, "3000"), "x"]
    ws.feed_raw(_trades_frame("update/trade", bad, [_trade(4, "-1")]))
    assert ws.get_recent_trades(10, public=True) == [] and ws.stats.malformed == 5
    assert ws.get_ltp() is None
    for start in range(0, 3 * TRADE_IDS_KEPT, 500):
        ws.feed_raw(
            _trades_frame("update/trade", [_trade(i, "3000.00") for i in range(start, start + 500)])
        )
    assert len(ws._seen_trade_ids) <= TRADE_IDS_KEPT
    assert len(ws._seen_trade_order) <= TRADE_IDS_KEPT
    assert len(ws.get_recent_trades(100, public=True)) == 10
