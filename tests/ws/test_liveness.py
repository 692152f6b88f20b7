"""A silent socket is found in seconds (issue 12 item 3): pong deadline, reply timeouts that
mark the connection suspect, books stale while their socket is down or silent, their age, and
market orders that refuse a stale book. Real node over loopback; `stall` keeps TCP up and
sends nothing (no pong either)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _helpers import eventually, make_dealer
from lighterfast.errors import LighterError
from lighterfast.testnode import LocalNode
from lighterfast.transport.websocket import WsConnection
from lighterfast.wire import encode_sendtx
from lighterfast.ws import WsInfo


async def _book_ws(node: LocalNode, **opts: Any) -> WsInfo:
    ws = await WsInfo.run_public_trades_simple(
        market_id=0, base_url=node.base_url, order_book=True, **opts
    )
    await eventually(lambda: not ws.get_order_book(0).is_stale)  # type: ignore[union-attr]
    return ws


async def test_a_stalled_socket_marks_the_book_stale_within_seconds(node: LocalNode) -> None:
    ws = await _book_ws(node, pong_timeout=0.5)
    try:
        book = ws.get_order_book(0)
        assert book is not None
        age = ws.book_age(0)
        assert age is not None and 0 <= age < 3
        conn = ws.connection
        assert conn is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        node.faults.stall(True)  # TCP stays up, nothing comes back, pings go unanswered
        await eventually(lambda: book.is_stale, timeout=4.0)
        # a ~1 s silence probe plus the 0.5 s pong deadline, not 3 x the 30 s ping interval
        assert loop.time() - started < 4.0
        assert conn.stats.dead_detected == 1
        # the new socket (not stalled) resubscribes and the snapshot makes the book fresh again
        await eventually(lambda: not book.is_stale and conn.stats.connects == 2, timeout=4.0)
        assert (ws.book_age(0) or 0.0) < 2.0
    finally:
        node.faults.stall(False)
        await ws.aclose()


async def test_a_book_is_stale_the_moment_its_socket_drops(node: LocalNode) -> None:
    # A 2 s backoff before the reconnect: the book must not wait for it to turn stale.
    ws = await _book_ws(node, connection_options={"backoff_initial": 2.0, "backoff_max": 2.0})
    try:
        book = ws.get_order_book(0)
        assert book is not None and not book.is_stale
        await node.faults.close_all(1011)
        await eventually(lambda: book.is_stale, timeout=1.0)
        assert not ws.connected
    finally:
        await ws.aclose()


async def test_a_reply_timeout_marks_the_connection_suspect_and_reconnects_now(
    node: LocalNode,
) -> None:
    conn = WsConnection(node.ws_url, backoff_initial=3.0, backoff_max=3.0)  # backoff visible
    await conn.start()
    try:
        node.faults.stall(True)
        rid = conn.new_request_id()
        with pytest.raises(asyncio.TimeoutError):
            await conn.request(encode_sendtx(14, "{}", request_id=rid), rid, timeout=0.3)
        assert not conn.connected  # at once: the dealer's next sends take REST
        assert conn.stats.reply_timeouts == 1
        node.faults.stall(False)
        await eventually(lambda: conn.connected and conn.stats.connects == 2, timeout=1.5)
    finally:
        node.faults.stall(False)
        await conn.close()


async def test_pong_timeout_is_checked() -> None:
    for bad in (0, -1.0, float("nan"), True, "3"):
        with pytest.raises((ValueError, TypeError), match="pong_timeout must be"):
            WsConnection("ws://127.0.0.1:1/stream", pong_timeout=bad)
        with pytest.raises((ValueError, TypeError), match="pong_timeout must be"):
            WsInfo.replay(market_id=0, pong_timeout=bad)


async def test_market_orders_refuse_a_stale_book(node: LocalNode, funded_account: Any) -> None:
    ws = await _book_ws(node, pong_timeout=0.5)
    try:
        async with await make_dealer(node, funded_account, price_source=ws) as dealer:
            book = ws.get_order_book(0)
            assert book is not None
            book.mark_stale()  # as after a socket loss or a gap, before the new snapshot
            with pytest.raises(LighterError, match="stale"):
                await dealer.create_market_order(0.01)
            assert dealer.queued == 0
            # a replay WsInfo that never had a snapshot is no price source either
            dealer.price_source = WsInfo.replay(market_id=0)
            with pytest.raises(LighterError, match="no frame yet"):
                await dealer.create_market_order(-0.01)
    finally:
        await ws.aclose()
