"""After close: a dealer and a WsInfo refuse work loudly; queued work is never dropped silently."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from _helpers import make_dealer
from lighterfast import LighterError
from lighterfast.errors import WsClosed
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo


async def test_flush_after_aclose_raises_like_every_other_call(node: LocalNode) -> None:
    acct = await node.create_account(collateral=10_000)
    dealer = await make_dealer(node, acct)
    await dealer.aclose()
    with pytest.raises(LighterError, match="closed"):
        await dealer.create_limit_order(2000, 0.01)
    with pytest.raises(LighterError, match="closed"):
        await dealer.flush()


async def test_closing_with_queued_orders_that_cannot_be_sent_warns_with_the_count(
    node: LocalNode, caplog: pytest.LogCaptureFixture
) -> None:
    acct = await node.create_account(collateral=10_000)
    dealer = await make_dealer(node, acct)
    for i in range(3):
        await dealer.create_limit_order(1000 + i, 0.01)
    assert dealer.queued == 3
    # Drop the dealer without aclose(): its queue dies with it, which must be said.
    rest = dealer._rest
    caplog.set_level(logging.WARNING)
    del dealer
    gc.collect()
    assert any(
        "3 queued transactions never sent" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    await rest.close()


async def test_closed_wsinfo_serves_no_prices_and_wait_returns_at_once(node: LocalNode) -> None:
    acct = await node.create_account(collateral=10_000)
    ws = await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        symbol="ETH",
        base_url=node.base_url,
    )
    assert ws.get_order_by_coi(1) is None and ws.get_recent_trades(5) == []  # open: served
    waiter = asyncio.create_task(ws.wait_order_by_coi(12345, timeout=30))
    await asyncio.sleep(0.05)
    await ws.aclose()
    # A pending wait ends with WsClosed at once, not after its 30 s timeout.
    with pytest.raises(WsClosed):
        await asyncio.wait_for(waiter, 2)
    for read in (
        ws.get_ltp,
        ws.get_order_book,
        lambda: ws.get_recent_trades(5, public=True),
        lambda: ws.get_order_by_coi(1),
    ):
        with pytest.raises(WsClosed):
            read()
    with pytest.raises(WsClosed):
        await asyncio.wait_for(ws.wait_order_by_coi(777, timeout=30), 2)
