"""State cannot be poisoned (issue 12 item 6): well-formed frames with values no venue sends
are counted, logged once, never enter state, and resync what may be wrong. Memory of finished
orders is bounded and small (item 8)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from _helpers import eventually
from lighterfast import core
from lighterfast import protocol as P
from lighterfast.core import OrderBook
from lighterfast.core._core_py import OrderBook as PureOrderBook
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo
from lighterfast.ws.state import RECENT_FINISHED_SIZE

sys.path.insert(0, str(Path(__file__).parent))
from test_ws_frames import (
    ETH,
    book_frame,
    order,
    orders_frame,
    trade,
    trades_frame,
)

BAD_NUMBERS = ["NaN", "nan", "inf", "-inf", "Infinity", "-1", "0", "1e400", "abc", "", None, True]


def _booked() -> WsInfo:
    ws = WsInfo.replay(market_id=ETH, price_decimals=2, size_decimals=4)
    ws.feed_raw(
        book_frame(
            "subscribed", ETH, asks=[("3001.00", "1.0")], bids=[("2999.00", "1.0")], nonce=10
        )
    )
    return ws


@pytest.mark.parametrize("field", ["price", "size"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_bad_trade_values_never_reach_ltp_or_the_tape(field: str, value: Any) -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(trades_frame("update", ETH, [trade(1, "3000.00")]))
    bad = trade(2, "3100.00")
    bad[field] = value
    ws.feed_raw(trades_frame("update", ETH, [bad]))
    assert ws.get_ltp() == 3000.0
    assert [t["trade_id"] for t in ws.get_recent_trades(10, public=True)] == [1]
    assert ws.stats.malformed == 1


def test_bad_trade_id_is_refused() -> None:
    ws = WsInfo.replay(market_id=ETH)
    for bad_id in (-5, "7", 1.5, None):
        t = trade(1, "3000.00")
        t["trade_id"] = bad_id
        ws.feed_raw(trades_frame("update", ETH, [t]))
    assert ws.get_ltp() is None
    assert ws.stats.malformed == 4


def test_a_good_trade_beside_a_bad_one_still_counts() -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(trades_frame("update", ETH, [trade(1, "3000.00"), trade(2, "NaN")]))
    assert ws.get_ltp() == 3000.0
    assert ws.stats.malformed == 1


@pytest.mark.parametrize(
    "change",
    [
        {"client_order_index": -1},
        {"client_order_index": P.MAX_COI + 1},
        {"client_order_index": 2**63},
        {"client_order_index": "5"},
        {"status": "invented"},
        {"status": "OPEN"},
        {"status": 2},
        {"price": "NaN"},
        {"price": "-3000.00"},
        {"remaining_base_amount": "inf"},
        {"initial_base_amount": "-0.01"},
        {"filled_base_amount": "nan"},
    ],
)
def test_bad_order_values_never_reach_the_coi_cache(change: dict[str, Any]) -> None:
    ws = WsInfo.replay(market_id=ETH)
    bad = order(5, **change)
    for kind in ("update", "subscribed"):
        ws.feed_raw(orders_frame(kind, 7, [order(4), bad]))
    assert ws.coi_cache.values() == []
    assert ws.stats.malformed == 2
    for value in ws.coi_cache.keys():
        assert 0 <= value <= P.MAX_COI


def test_an_absurd_nonce_step_does_not_freeze_the_book() -> None:
    ws = _booked()
    book = ws.get_order_book(ETH)
    assert book is not None
    ws.feed_raw(book_frame("update", ETH, bids=[("2999.50", "1.0")], nonce=2**62, begin_nonce=10))
    assert book.nonce == 10 and book.bids(1) == [(2999.0, 1.0)]  # not applied
    assert book.is_stale  # a resync (snapshot) is due
    assert ws.stats.malformed == 1
    # the next snapshot heals it and later deltas apply again (not dropped as "duplicates")
    ws.feed_raw(book_frame("subscribed", ETH, bids=[("2999.00", "1.0")], nonce=20))
    ws.feed_raw(book_frame("update", ETH, bids=[("2999.50", "2.0")], nonce=25, begin_nonce=20))
    assert not book.is_stale and book.nonce == 25 and book.bids(1) == [(2999.5, 2.0)]


def test_the_nonce_bound_is_the_same_on_every_path() -> None:
    step = core.MAX_BOOK_NONCE_STEP
    frame = {"asks": [], "bids": [], "begin_nonce": 10, "nonce": 10 + step + 1}
    snap = {"asks": [], "bids": [], "nonce": 10}
    for cls in (OrderBook, PureOrderBook):
        book = cls(ETH, 2, 4)
        book.apply_snapshot(snap)
        assert book.apply_update(frame) is False and book.is_stale
        book.apply_snapshot(snap)
        raw = orjson.dumps(
            {"type": "update/order_book", "channel": "order_book:0", "order_book": frame}
        )
        assert book.apply_update_raw(raw) == 3 and book.is_stale
        book.apply_snapshot(snap)
        ok = dict(frame, nonce=10 + step)
        assert book.apply_update(ok) is True and not book.is_stale
    # the generic path (a frame the raw scanner declines: keys in another order, spaces)
    ws = _booked()
    generic = orjson.dumps(
        {
            "order_book": {"nonce": 2**62, "begin_nonce": 10, "asks": [], "bids": []},
            "type": "update/order_book",
            "channel": "order_book:0",
        },
        option=orjson.OPT_INDENT_2,
    )
    ws.feed_raw(generic)
    book = ws.get_order_book(ETH)
    assert book is not None and book.is_stale and book.nonce == 10
    assert ws.stats.malformed == 1


def test_many_replays_after_the_snapshot_resync_the_book() -> None:
    ws = _booked()
    book = ws.get_order_book(ETH)
    assert book is not None
    stale_after = None
    for i in range(200):
        ws.feed_raw(book_frame("update", ETH, bids=[("2999.50", "1.0")], nonce=5, begin_nonce=4))
        if book.is_stale:
            stale_after = i + 1
            break
    assert stale_after is not None and stale_after <= 100


@pytest.mark.parametrize("price", ["NaN", "-1", "0", "inf"])
def test_a_bad_book_delta_starts_a_resync_at_once(price: str) -> None:
    ws = _booked()
    book = ws.get_order_book(ETH)
    assert book is not None
    ws.feed_raw(book_frame("update", ETH, bids=[(price, "1.0")], nonce=11, begin_nonce=10))
    assert book.is_stale  # the delta is lost: the book waits for a fresh snapshot
    assert ws.stats.malformed == 1


def test_bad_frames_are_logged_once_not_per_frame(caplog: pytest.LogCaptureFixture) -> None:
    ws = _booked()
    with caplog.at_level(logging.WARNING, logger="lighterfast.ws"):
        for i in range(500):
            ws.feed_raw(trades_frame("update", ETH, [trade(i, "NaN")]))
            ws.feed_raw(orders_frame("update", 7, [order(5, status="invented")]))
    assert ws.stats.malformed == 1000
    dropped = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert 2 <= len(dropped) <= 4  # one per kind (then one line per 30 s)


def test_finished_orders_keep_only_what_a_wait_needs() -> None:
    ws = WsInfo.replay(market_id=ETH)
    for start in range(1, 20_001, 100):
        batch = [
            order(c, status="filled", extra_field="x" * 200) for c in range(start, start + 100)
        ]
        ws.feed_raw(orders_frame("update", 7, batch))
    assert len(ws._finished) <= RECENT_FINISHED_SIZE == 1024
    kept = next(iter(ws._finished.values()))
    assert isinstance(kept, tuple) and len(kept) <= 12  # not the ~40-key frame


async def test_a_kept_finished_order_is_what_wait_order_by_coi_returns() -> None:
    ws = WsInfo.replay(market_id=ETH)
    ws.feed_raw(orders_frame("update", 7, [order(42, status="canceled", extra_field="y")]))
    got = await ws.wait_order_by_coi(42, timeout=0)
    assert got is not None
    assert got["client_order_index"] == 42 and got["status"] == "canceled"
    assert got["price"] == "3000.00" and got["market_index"] == ETH
    assert "extra_field" not in got


async def test_a_live_wsinfo_resubscribes_orders_after_a_bad_order_frame(
    node: LocalNode, funded_account: Any
) -> None:
    acct = funded_account
    ws = await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        market_id=0,
        base_url=node.base_url,
    )
    try:
        snapshots = []
        ws.on_orders_resync = lambda live: snapshots.append(len(live))
        ws.feed_raw(orders_frame("update", acct.account_index, [order(77, status="invented")]))
        assert ws.get_order_by_coi(77) is None
        assert ws.stats.order_resyncs == 1
        await eventually(lambda: snapshots)  # a fresh snapshot replaced the cache
        # a burst of bad frames asks for one resync, not one per frame
        for _ in range(20):
            ws.feed_raw(orders_frame("update", acct.account_index, [order(78, status="x")]))
        assert ws.stats.order_resyncs == 1
    finally:
        await ws.aclose()


async def test_a_live_book_resyncs_from_a_snapshot_after_a_poisoned_delta(
    node: LocalNode,
) -> None:
    ws = await WsInfo.run_public_trades_simple(market_id=0, base_url=node.base_url, order_book=True)
    try:
        book = ws.get_order_book(0)
        assert book is not None
        await eventually(lambda: not book.is_stale)
        n = book.nonce
        ws.feed_raw(book_frame("update", 0, bids=[("1.00", "1.0")], nonce=2**62, begin_nonce=n))
        assert book.is_stale and ws.stats.book_resyncs == 1
        await eventually(lambda: not book.is_stale)
        assert book.nonce < 2**62
    finally:
        await ws.aclose()
