"""WsInfo's frame path driven by hand-made frames of the real shapes (protocol §4.5), no socket."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lighterfast.ws import WsInfo

ETH = 0  # price decimals 2, size decimals 4


def book_frame(
    kind: str,
    market: int,
    *,
    asks: list[tuple[str, str]] = (),  # type: ignore[assignment]
    bids: list[tuple[str, str]] = (),  # type: ignore[assignment]
    nonce: int,
    begin_nonce: int = 0,
    offset: int = 1000,
) -> bytes:
    return orjson.dumps(
        {
            "channel": f"order_book:{market}",
            "offset": offset,
            "order_book": {
                "code": 0,
                "asks": [{"price": p, "size": s} for p, s in asks],
                "bids": [{"price": p, "size": s} for p, s in bids],
                "offset": offset,
                "nonce": nonce,
                "begin_nonce": begin_nonce,
                "last_updated_at": 1785358812048570,
            },
            "timestamp": 1785358812058,
            "type": f"{kind}/order_book",
        }
    )


def trade(trade_id: int, price: str, size: str = "0.0100", market: int = ETH) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "trade_id_str": str(trade_id),
        "tx_hash": "00" * 40,
        "type": "trade",
        "market_id": market,
        "size": size,
        "price": price,
        "usd_amount": "30.00",
        "ask_id": 281474976710657,
        "bid_id": 562949953421311,
        "ask_client_id": 0,
        "bid_client_id": 0,
        "ask_account_id": 1,
        "bid_account_id": 2,
        "is_maker_ask": True,
        "block_height": 10,
        "timestamp": 1785358812058,
    }


def trades_frame(kind: str, market: int, trades: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "channel": f"trade:{market}",
            "liquidation_trades": None,
            "nonce": 5,
            "trades": trades,
            "type": f"{kind}/trade",
        }
    )


def order(coi: int, status: str = "open", market: int = ETH, **extra: Any) -> dict[str, Any]:
    base = {
        "order_index": (market + 1) << 48 | coi,
        "order_id": str((market + 1) << 48 | coi),
        "client_order_index": coi,
        "client_order_id": str(coi),
        "market_index": market,
        "owner_account_index": 7,
        "initial_base_amount": "0.0100",
        "remaining_base_amount": "0.0100" if status == "open" else "0.0000",
        "price": "3000.00",
        "base_size": 100,
        "base_price": 300000,
        "is_ask": False,
        "side": "",
        "type": "limit",
        "time_in_force": "good-till-time",
        "reduce_only": False,
        "status": status,
    }
    base.update(extra)
    return base


def orders_frame(kind: str, account: int, orders: list[dict[str, Any]]) -> bytes:
    by_market: dict[str, list[dict[str, Any]]] = {}
    for o in orders:
        by_market.setdefault(str(o["market_index"]), []).append(o)
    return orjson.dumps(
        {
            "channel": f"account_all_orders:{account}",
            "orders": by_market,
            "type": f"{kind}/account_all_orders",
        }
    )


def own_trades_frame(kind: str, account: int, trades: list[dict[str, Any]]) -> bytes:
    by_market: dict[str, list[dict[str, Any]]] = {}
    for t in trades:
        by_market.setdefault(str(t["market_id"]), []).append(t)
    return orjson.dumps(
        {
            "channel": f"account_all_trades:{account}",
            "trades": by_market,
            "type": f"{kind}/account_all_trades",
        }
    )


# --- order book ---------------------------------------------------------------------------------
def test_book_snapshot_then_deltas() -> None:
    ws = WsInfo.replay(market_id=ETH, price_decimals=2, size_decimals=4)
    ws.feed_raw(
        book_frame(
            "subscribed",
            ETH,
            asks=[("3001.00", "1.0000"), ("3000.50", "0.5000")],
            bids=[("2999.00", "2.0000"), ("2999.50", "0.2500")],
            nonce=100,
        )
    )
    book = ws.get_order_book()
    assert book is not None and not book.is_stale
    assert book.best_bid() == (2999.5, 0.25)
    assert book.best_ask() == (3000.5, 0.5)
    # delta: delete best ask ("0.0000"), add a bid, change a bid
    ws.feed_raw(
        book_frame(
            "update",
            ETH,
            asks=[("3000.50", "0.0000")],
            bids=[("2999.75", "1.0000"), ("2999.00", "3.0000")],
            nonce=130,
            begin_nonce=100,
        )
    )
    assert book.nonce == 130
    assert book.asks_int(5) == [(300100, 10000)]
    assert book.bids_int(5) == [(299975, 10000), (299950, 2500), (299900, 30000)]
    assert ws.stats.book_gaps == 0 and ws.stats.malformed == 0


def test_book_gap_marks_stale_and_drops_until_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    ws = WsInfo.replay(market_id=ETH, price_decimals=2, size_decimals=4)
    ws.feed_raw(book_frame("subscribed", ETH, asks=[("3001.00", "1.0000")], nonce=10))
    book = ws.get_order_book(ETH)
    assert book is not None
    with caplog.at_level(logging.WARNING, logger="lighterfast.ws"):
        ws.feed_raw(
            book_frame("update", ETH, asks=[("3002.00", "1.0000")], nonce=30, begin_nonce=20)
        )
    assert book.is_stale
    assert ws.stats.book_gaps == 1
    assert "gap" in caplog.text
    # deltas after the gap are dropped, and do not count as new gaps
    ws.feed_raw(book_frame("update", ETH, asks=[("3003.00", "1.0000")], nonce=40, begin_nonce=30))
    assert book.asks_int(5) == [(300100, 10000)]
    assert ws.stats.book_gaps == 1
    # a fresh snapshot heals it
    ws.feed_raw(book_frame("subscribed", ETH, asks=[("3005.00", "2.0000")], nonce=50))
    assert not book.is_stale
    assert book.asks_int(5) == [(300500, 20000)]
    ws.feed_raw(book_frame("update", ETH, bids=[("3000.00", "1.0000")], nonce=55, begin_nonce=50))
    assert book.best_bid() == (3000.0, 1.0)


def test_replay_several_markets_with_decimal_maps() -> None:
    ws = WsInfo.replay(market_id=[0, 1], price_decimals={0: 2, 1: 1}, size_decimals={0: 4, 1: 5})
    ws.feed_raw(book_frame("subscribed", 1, asks=[("64000.5", "0.00020")], nonce=3))
    btc = ws.get_order_book(1)
    assert btc is not None and btc.asks_int(1) == [(640005, 20)]
    assert ws.get_order_book(0) is not None and ws.get_order_book(0).is_stale  # type: ignore[union-attr]
    assert ws.get_order_book(2) is None
    # a frame for a market without a book is ignored, not an error
    ws.feed_raw(book_frame("subscribed", 2, asks=[("1.000", "1.000")], nonce=3))
    assert ws.stats.malformed == 0


def test_replay_uses_known_decimals_and_rejects_unknown_market() -> None:
    ws = WsInfo.replay(market_id=1)
    book = ws.get_order_book()
    assert book is not None and book.price_decimals == 1 and book.size_decimals == 5
    from lighterfast.errors import MarketNotFound

    with pytest.raises(MarketNotFound):
        WsInfo.replay(market_id=77)


# --- trades -------------------------------------------------------------------------------------
def test_public_trades_feed_ltp_and_tape_newest_first() -> None:
    ws = WsInfo.replay(market_id=ETH)
    assert ws.get_ltp() is None
    ws.feed_raw(trades_frame("subscribed", ETH, [trade(1, "3000.10"), trade(2, "3000.20")]))
    assert ws.get_ltp() == 3000.2
    ws.feed_raw(trades_frame("update", ETH, [trade(3, "2999.90")]))
    assert ws.get_ltp() == 2999.9
    recent = ws.get_recent_trades(2, public=True)
    assert [t["trade_id"] for t in recent] == [3, 2]
    assert [t["trade_id"] for t in ws.get_recent_trades(10, public=True)] == [3, 2, 1]
    assert ws.get_recent_trades(5) == []  # own fills: none
    # a re-subscribe snapshot replays known trades: only unseen ones are added
    ws.feed_raw(
        trades_frame(
            "subscribed", ETH, [trade(2, "3000.20"), trade(3, "2999.90"), trade(4, "3001.00")]
        )
    )
    assert [t["trade_id"] for t in ws.get_recent_trades(10, public=True)] == [4, 3, 2, 1]
    assert ws.get_ltp() == 3001.0


def test_tape_is_bounded() -> None:
    ws = WsInfo.replay(market_id=ETH, tape_size=3)
    for i in range(1, 8):
        ws.feed_raw(trades_frame("update", ETH, [trade(i, f"{3000 + i}.00")]))
    assert [t["trade_id"] for t in ws.get_recent_trades(10, public=True)] == [7, 6, 5]
    with pytest.raises(ValueError, match="n"):
        ws.get_recent_trades(-1)


def test_own_trades_map_form() -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(own_trades_frame("subscribed", 7, []))
    ws.feed_raw(
        own_trades_frame("update", 7, [trade(11, "3000.00"), trade(12, "64000.0", market=1)])
    )
    assert [t["trade_id"] for t in ws.get_recent_trades()] == [12, 11]
    assert ws.get_ltp() is None  # own fills never move the public LTP


# --- orders -------------------------------------------------------------------------------------
def test_orders_enter_and_leave_the_coi_cache() -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(orders_frame("subscribed", 7, []))
    ws.feed_raw(orders_frame("update", 7, [order(101), order(102, market=1)]))
    assert ws.get_order_by_coi(101)["status"] == "open"  # type: ignore[index]
    assert ws.get_order_by_coi(102) is not None
    ws.feed_raw(orders_frame("update", 7, [order(101, "filled")]))
    assert ws.get_order_by_coi(101) is None
    ws.feed_raw(orders_frame("update", 7, [order(102, "canceled-post-only", market=1)]))
    assert ws.get_order_by_coi(102) is None
    assert len(ws.coi_cache) == 0


def test_orders_snapshot_replaces_the_cache() -> None:
    ws = WsInfo.replay(market_id=ETH)
    resynced: list[list[int]] = []
    ws.on_orders_resync = lambda live: resynced.append(
        sorted(o["client_order_index"] for o in live)
    )
    ws.feed_raw(orders_frame("update", 7, [order(1), order(2), order(3)]))
    # after a reconnect the snapshot is the truth: 1 and 3 finished while we were away
    ws.feed_raw(orders_frame("subscribed", 7, [order(2), order(4)]))
    assert sorted(o["client_order_index"] for o in ws.coi_cache.values()) == [2, 4]
    assert resynced == [[2, 4]]
    # a malformed snapshot changes nothing
    bad = order(9)
    del bad["status"]
    ws.feed_raw(orders_frame("subscribed", 7, [order(5), bad]))
    assert ws.stats.malformed == 1
    assert sorted(o["client_order_index"] for o in ws.coi_cache.values()) == [2, 4]


def test_per_market_orders_snapshot_replaces_only_that_market() -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(orders_frame("update", 7, [order(1), order(2, market=1), order(3)]))
    snapshot = orjson.dumps(
        {
            "account": 7,
            "channel": "account_orders:0",
            "nonce": 5,
            "orders": {"0": [order(3), order(6)]},
            "type": "subscribed/account_orders",
        }
    )
    ws.feed_raw(snapshot)
    assert sorted(o["client_order_index"] for o in ws.coi_cache.values()) == [2, 3, 6]


def test_coi_zero_is_not_cached_and_cache_is_bounded() -> None:
    ws = WsInfo.replay(market_id=ETH, coi_cache_size=2)
    ws.feed_raw(orders_frame("update", 7, [order(0), order(1), order(2), order(3)]))
    assert ws.get_order_by_coi(0) is None
    assert ws.get_order_by_coi(1) is None  # oldest evicted
    assert ws.get_order_by_coi(3) is not None and len(ws.coi_cache) == 2


# --- robustness ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"",
        b"[1,2,3]",
        b'"a string"',
        b'{"type":"update/order_book","channel":"order_book:0"}',
        b'{"type":"update/order_book","channel":"order_book:0","order_book":{"asks":"x"}}',
        b'{"type":"update/account_all_orders","orders":{"0":[{"client_order_index":"x","status":"open"}]}}',
        b'{"type":"update/account_all_orders","orders":42}',
        b'{"type":"update/trade","trades":[{"trade_id":1,"price":"abc"}]}',
        b'{"type":["list"]}',
    ],
)
def test_malformed_frames_are_counted_never_raised(payload: bytes) -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(book_frame("subscribed", ETH, asks=[("3001.00", "1.0000")], nonce=10))
    ws.feed_raw(orders_frame("update", 7, [order(5)]))
    ws.feed_raw(payload)
    assert ws.stats.malformed == 1
    # state untouched and the stream goes on
    assert ws.get_order_by_coi(5) is not None
    ws.feed_raw(trades_frame("update", ETH, [trade(1, "3000.00")]))
    assert ws.get_ltp() == 3000.0


def test_bad_order_in_a_batch_changes_nothing() -> None:
    ws = WsInfo.replay(market_id=ETH)
    bad = order(9)
    del bad["status"]
    ws.feed_raw(orders_frame("update", 7, [order(8), bad]))
    assert ws.stats.malformed == 1
    assert ws.get_order_by_coi(8) is None


def test_unknown_frames_are_ignored_and_control_frames_are_known() -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(b'{"type":"update/height","channel":"height","height":5,"timestamp":1}')
    ws.feed_raw(b'{"type":"update/ticker","channel":"ticker:0","ticker":{}}')
    assert ws.stats.unknown == 2
    for control in (
        b'{"session_id":"b23c70b2","type":"connected"}',
        b'{"type":"pong"}',
        b'{"type": "unsubscribed", "channel": "order_book:0"}',
    ):
        ws.feed_raw(control)
    ws.feed_raw('{"type":"update/trade","channel":"trade:0","trades":[]}')  # str input
    assert ws.stats.unknown == 2 and ws.stats.malformed == 0


def test_error_frames_are_logged_and_reach_on_error(caplog: pytest.LogCaptureFixture) -> None:
    ws = WsInfo.replay(market_id=ETH)
    seen: list[dict[str, Any]] = []
    ws.on_error = seen.append
    with caplog.at_level(logging.WARNING, logger="lighterfast.ws"):
        ws.feed_raw(b'{"error":{"code":30005,"message":"Invalid Channel:  (marketId)"}}')
        ws.feed_raw(b'{"type":"error","code":30003,"message":"Already Subscribed"}')
    assert ws.stats.error_frames == 2
    assert seen[0]["error"]["code"] == 30005
    assert "30005" in caplog.text and "30003" in caplog.text


# --- hooks --------------------------------------------------------------------------------------
async def test_sync_and_async_hooks_and_raising_hooks_do_not_stop_the_stream() -> None:
    ws = WsInfo.replay(market_id=ETH)
    got_sync: list[Any] = []
    got_async: list[Any] = []
    calls = {"bad": 0}

    def on_orders(orders: list[dict[str, Any]]) -> None:
        calls["bad"] += 1
        raise RuntimeError("strategy bug")

    async def on_public(trades: list[dict[str, Any]]) -> None:
        await asyncio.sleep(0)
        got_async.append([t["trade_id"] for t in trades])

    async def on_trades(trades: list[dict[str, Any]]) -> None:
        raise RuntimeError("async strategy bug")

    ws.on_orders = on_orders
    ws.on_public_trades = on_public
    ws.on_trades = on_trades
    ws.on_order_book = got_sync.append
    ws.feed_raw(orders_frame("update", 7, [order(1)]))
    ws.feed_raw(trades_frame("update", ETH, [trade(1, "3000.00")]))
    ws.feed_raw(own_trades_frame("update", 7, [trade(2, "3000.00")]))
    ws.feed_raw(trades_frame("update", ETH, [trade(3, "3001.00")]))
    ws.feed_raw(orders_frame("update", 7, [order(2)]))
    ws.feed_raw(book_frame("subscribed", ETH, asks=[("3001.00", "1.0000")], nonce=10))
    await ws.drain_hooks()
    assert calls["bad"] == 2
    assert ws.get_order_by_coi(2) is not None  # state applied despite the raising hook
    assert got_async == [[1], [3]]  # async hooks run in arrival order
    assert len(got_sync) == 1 and got_sync[0] is ws.get_order_book()
    assert ws.stats.hook_errors == 3
    await ws.aclose()
    assert ws._hook_task is None


# --- wait_order_by_coi --------------------------------------------------------------------------
async def test_wait_order_by_coi_resolves_on_arrival_and_times_out() -> None:
    ws = WsInfo.replay(market_id=ETH)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, ws.feed_raw, orders_frame("update", 7, [order(42)]))
    t0 = loop.time()
    got = await ws.wait_order_by_coi(42, timeout=2.0)
    assert got is not None and got["client_order_index"] == 42
    assert loop.time() - t0 < 1.0
    # known already: returns at once
    assert await ws.wait_order_by_coi(42, timeout=0.01) is got
    # never arrives: None after the timeout, and no waiter left behind
    assert await ws.wait_order_by_coi(43, timeout=0.05) is None
    assert ws._coi_waiters == {}
    # an order that finished before the wait began still counts as arrived
    ws.feed_raw(orders_frame("update", 7, [order(44, "filled")]))
    done = await ws.wait_order_by_coi(44, timeout=0.01)
    assert done is not None and done["status"] == "filled"
    # a finished COI that is used again: its old ending is forgotten
    ws.feed_raw(orders_frame("update", 7, [order(44)]))
    assert 44 not in ws._finished
    assert (await ws.wait_order_by_coi(44, timeout=0.01))["status"] == "open"  # type: ignore[index]
    ws.feed_raw(orders_frame("update", 7, [order(44, "canceled")]))
    assert ws.get_order_by_coi(44) is None and 44 in ws._finished
    # several waiters for the same COI all resolve
    waits = [asyncio.ensure_future(ws.wait_order_by_coi(45, timeout=2.0)) for _ in range(3)]
    await asyncio.sleep(0)
    ws.feed_raw(orders_frame("update", 7, [order(45)]))
    results = await asyncio.gather(*waits)
    assert [r["client_order_index"] for r in results] == [45, 45, 45]  # type: ignore[index]
    with pytest.raises(TypeError):
        await ws.wait_order_by_coi("45", timeout=0.01)  # type: ignore[arg-type]
    await ws.aclose()
    await ws.aclose()  # idempotent


@pytest.mark.parametrize("bad", [float("nan"), True, None, "7", -1, 2**48, 1.5])
async def test_reads_refuse_garbage_with_named_errors(bad: Any) -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(orders_frame("update", 7, [order(42)]))
    with pytest.raises((TypeError, ValueError), match="coi"):
        ws.get_order_by_coi(bad)
    with pytest.raises((TypeError, ValueError), match="coi"):
        await ws.wait_order_by_coi(bad, timeout=0.01)
    if bad is not None:  # None = this WsInfo's market
        with pytest.raises((TypeError, ValueError), match="market"):
            ws.get_order_book(bad)
    with pytest.raises((TypeError, ValueError), match=r"public|n:"):
        ws.get_recent_trades(bad if bad is not None else -1, public=bad)  # type: ignore[arg-type]
    for timeout in (float("nan"), -1, True, "1"):
        with pytest.raises(ValueError, match="timeout"):
            await ws.wait_order_by_coi(43, timeout=timeout)  # type: ignore[arg-type]
    assert ws._coi_waiters == {}
    assert ws.get_order_by_coi(42)["client_order_index"] == 42  # type: ignore[index]
    assert ws.get_recent_trades(2**70) == []  # a large n is just "all of them"
    await ws.aclose()


async def test_replay_close_leaves_no_tasks() -> None:
    before = asyncio.all_tasks()
    async with WsInfo.replay(market_id=ETH) as ws:

        async def hook(trades: list[dict[str, Any]]) -> None:
            await asyncio.sleep(0)

        ws.on_public_trades = hook
        ws.feed_raw(trades_frame("update", ETH, [trade(1, "3000.00")]))
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before


def test_async_hook_without_loop_is_reported_not_raised() -> None:
    ws = WsInfo.replay(market_id=ETH)

    async def hook(trades: list[dict[str, Any]]) -> None:
        return None

    ws.on_public_trades = hook
    ws.feed_raw(trades_frame("update", ETH, [trade(1, "3000.00")]))
    assert ws.stats.hook_errors == 1
    assert ws.get_ltp() == 3000.0


# --- fuzz -----------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
frame_types = st.sampled_from(
    [
        "update/order_book",
        "subscribed/order_book",
        "update/trade",
        "subscribed/trade",
        "update/account_all_orders",
        "subscribed/account_all_orders",
        "subscribed/account_orders",
        "update/account_all_trades",
        "jsonapi/sendtxbatch",
        "error",
        "connected",
        "update/whatever",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    kind=frame_types,
    channel=st.sampled_from(["order_book:0", "trade:0", "account_all_orders:7", "x", ""]),
    fields=st.dictionaries(
        st.sampled_from(["order_book", "trades", "orders", "liquidation_trades", "error", "id"]),
        json_values,
        max_size=3,
    ),
)
def test_fuzzed_frames_never_raise(kind: str, channel: str, fields: dict[str, Any]) -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(book_frame("subscribed", ETH, asks=[("3001.00", "1.0000")], nonce=10))
    ws.feed_raw(orders_frame("update", 7, [order(5)]))
    ws.feed_raw(orjson.dumps({"type": kind, "channel": channel, **fields}))
    # the caches stay usable whatever happened
    assert ws.get_order_book(ETH) is not None
    ws.feed_raw(trades_frame("update", ETH, [trade(10**9, "3000.00")]))
    assert ws.get_ltp() == 3000.0


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=64))
def test_random_bytes_never_raise(payload: bytes) -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(payload)
    assert ws.stats.malformed + ws.stats.unknown + ws.stats.error_frames <= 1


# --- raw-bytes book path vs the generic path ------------------------------------------------------
def _random_session(seed: int, n: int = 300) -> list[bytes]:
    rng = random.Random(seed)
    asks = {300_001 + 2 * i: rng.randint(1, 9999) for i in range(50)}
    bids = {299_999 - 2 * i: rng.randint(1, 9999) for i in range(50)}

    def levels(side: dict[int, int]) -> list[tuple[str, str]]:
        return [(f"{p / 100:.2f}", f"{s / 10_000:.4f}") for p, s in side.items()]

    frames = [book_frame("subscribed", ETH, asks=levels(asks), bids=levels(bids), nonce=100)]
    nonce = 100
    for i in range(n):
        a_changes: dict[int, int] = {}
        b_changes: dict[int, int] = {}
        for _ in range(rng.randint(0, 8)):
            is_ask = rng.random() < 0.5
            side, changes = (asks, a_changes) if is_ask else (bids, b_changes)
            slot = rng.randint(0, 80)
            price = 300_001 + 2 * slot if is_ask else 299_999 - 2 * slot
            size = 0 if (price in side and rng.random() < 0.4) else rng.randint(1, 9999)
            if size:
                side[price] = size
            else:
                side.pop(price, None)
            changes[price] = size
        begin, nonce = nonce, nonce + rng.randint(1, 9)
        frame = book_frame(
            "update",
            ETH,
            asks=levels(a_changes),
            bids=levels(b_changes),
            nonce=nonce,
            begin_nonce=begin,
        )
        frames.append(frame)
        if i % 50 == 7:
            frames.append(frame)  # a duplicated delta
        if i % 97 == 13:
            frames.append(frame.replace(b'"type":"update', b'"type" : "update'))  # odd spelling
    return frames


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_raw_and_generic_book_paths_agree(seed: int) -> None:
    frames = _random_session(seed)
    raw = WsInfo.replay(market_id=ETH)
    generic = WsInfo.replay(market_id=ETH)
    generic._raw_path, generic._raw_books = False, ()
    from lighterfast.core import IMPLEMENTATION

    assert bool(raw._raw_books) == (IMPLEMENTATION == "compiled")
    for frame in frames:
        raw.feed_raw(frame)
        generic.feed_raw(frame)
        a, b = raw.get_order_book(), generic.get_order_book()
        assert a is not None and b is not None
        assert (a.bids_int(200), a.asks_int(200), a.nonce) == (
            b.bids_int(200),
            b.asks_int(200),
            b.nonce,
        )
    assert raw.stats.as_dict() == generic.stats.as_dict()
    assert raw.stats.book_duplicates >= 5 and raw.stats.book_gaps == 0
    # a gap through either path marks the book stale, counted once
    gap = book_frame(
        "update", ETH, asks=[("3500.00", "1.0000")], nonce=10**9, begin_nonce=10**9 - 1
    )
    for ws in (raw, generic):
        ws.feed_raw(gap)
        ws.feed_raw(gap)
        assert ws.get_order_book().is_stale and ws.stats.book_gaps == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("n_books", [2, 6])
def test_raw_path_routes_deltas_to_the_right_book(n_books: int) -> None:
    markets = list(range(n_books))
    ws = WsInfo.replay(
        market_id=markets,
        price_decimals=dict.fromkeys(markets, 2),
        size_decimals=dict.fromkeys(markets, 4),
    )
    for m in markets:
        ws.feed_raw(book_frame("subscribed", m, asks=[("3001.00", "1.0000")], nonce=10))
    for m in markets:
        bid = f"{2000 + m}.00"
        ws.feed_raw(book_frame("update", m, bids=[(bid, "1.0000")], nonce=20, begin_nonce=10))
    for m in markets:
        book = ws.get_order_book(m)
        assert book is not None and book.best_bid() == (2000.0 + m, 1.0) and book.nonce == 20
    # a delta for a market without a book is ignored, not misapplied
    ws.feed_raw(book_frame("update", 50, bids=[("1.00", "1.0000")], nonce=20, begin_nonce=10))
    assert ws.stats.unknown == 1 and ws.stats.book_gaps == 0 and ws.stats.malformed == 0
    # a gap on one market leaves the others alone
    ws.feed_raw(book_frame("update", 1, bids=[("1.00", "1.0000")], nonce=99, begin_nonce=98))
    assert ws.get_order_book(1).is_stale and not ws.get_order_book(0).is_stale  # type: ignore[union-attr]
    assert ws.stats.book_gaps == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "abc", -1, 0, 1.5])
def test_wsinfo_constructor_refuses_garbage_with_named_errors(bad: Any) -> None:
    url = "http://127.0.0.1:1"
    for name in ("ping_interval", "subscribe_timeout"):
        with pytest.raises((TypeError, ValueError), match=name):
            WsInfo(base_url=url, **{name: bad if bad != 1.5 else True})
    for name in ("account_streams", "public_trades", "resync_rest", "reauth_on_refresh"):
        with pytest.raises(TypeError, match=name):
            WsInfo(base_url=url, **{name: bad if bad != 0 else 2})  # 0 is a valid "no"
    for name in ("account_index", "api_key_index", "market_id", "coi_cache_size", "tape_size"):
        if bad in (0, None) and name not in ("coi_cache_size", "tape_size"):
            continue  # 0 is a valid index, None = not set
        with pytest.raises((TypeError, ValueError), match=name):
            WsInfo(base_url=url, **{name: bad})
    with pytest.raises((TypeError, ValueError), match="books"):
        WsInfo(base_url=url, books=bad if bad is not None else "0")  # type: ignore[arg-type]
    if bad is not None:
        with pytest.raises((TypeError, ValueError), match="base_url"):
            WsInfo(base_url=bad)  # type: ignore[arg-type]
