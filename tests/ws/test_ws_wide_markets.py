"""WsInfo on 64-bit market ids and a spot market, over a real socket to the local node.

Books on `order_book:4098`, `order_book:40000`, `order_book:1099511627776` and the spot book of
"SKY/USDC" (2048) must snapshot, take deltas through the raw scanner and show the orders a
dealer places; the account stream must carry the order on its 64-bit market. 255 (all
markets) and 2^48 are refused as one market.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from _helpers import eventually, make_dealer
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.testnode.markets import WIDE_MARKETS
from lighterfast.ws import WsInfo

pytestmark = pytest.mark.timeout(60)

SPECS = {s.market_index: s for s in WIDE_MARKETS}


@pytest.fixture
async def wide() -> AsyncIterator[LocalNode]:
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0, markets=WIDE_MARKETS) as n:
        yield n


@pytest.fixture
async def acct(wide: LocalNode) -> DevAccount:
    return await wide.create_account(collateral=100_000)


def _mid(market: int) -> int:
    spec = SPECS[market]
    return int(float(spec.start_price) * 10**spec.price_decimals)


async def test_overlay_on_40000_sees_books_orders_and_trades(
    wide: LocalNode, acct: DevAccount
) -> None:
    taker = await wide.create_account(collateral=100_000)
    ws = await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        market_id=40000,
        base_url=wide.base_url,
        order_book=True,
        books=[4098, 2**40],
    )
    try:
        assert ws.market_id == 40000
        books = {m: ws.get_order_book(m) for m in (40000, 4098, 2**40)}
        assert all(b is not None and b.market_index == m for m, b in books.items())
        pepe = books[40000]
        assert pepe is not None and (pepe.price_decimals, pepe.size_decimals) == (6, 0)
        await eventually(lambda: all(b is not None and not b.is_stale for b in books.values()))

        async with (
            await make_dealer(wide, acct, symbol=None, market_index=40000) as maker,
            await make_dealer(wide, taker, symbol="WIDE") as other,
        ):
            spec = SPECS[40000]
            price = spec.format_price(_mid(40000) - 3)
            size = spec.format_size(spec.min_base_int * 2)
            coi = (await maker.create_limit_order(price, size))["client_order_index"]
            await maker.flush()
            order = await ws.wait_order_by_coi(coi)
            assert order is not None and order["market_index"] == 40000
            await eventually(lambda: pepe.best_bid() == (float(price), float(size)))

            wide_spec = SPECS[2**40]
            await other.create_limit_order(
                wide_spec.format_price(_mid(2**40) + 4), "-" + wide_spec.format_size(20)
            )
            await other.flush()
            wide_book = books[2**40]
            assert wide_book is not None
            await eventually(lambda: wide_book.best_ask() is not None)
            assert books[4098] is not None and books[4098].best_bid() is None

            # a taker crosses on 40000: the public trade and the fill reach this WsInfo
            async with await make_dealer(wide, taker, symbol="PEPE") as crosser:
                await crosser.create_market_order("-" + size, avg_execution_price=price)
                await crosser.flush()
            await eventually(lambda: ws.get_ltp() == float(price))
            await eventually(lambda: pepe.best_bid() is None)
            await eventually(lambda: ws.get_order_by_coi(coi) is None)  # filled: not live
    finally:
        await ws.aclose()


async def test_public_stream_of_the_spot_market_by_symbol(
    wide: LocalNode, acct: DevAccount
) -> None:
    ws = await WsInfo.run_public_trades_simple(
        symbol="SKY/USDC", base_url=wide.base_url, order_book=True
    )
    try:
        assert ws.market_id == 2048
        book = ws.get_order_book()
        assert book is not None and (book.price_decimals, book.size_decimals) == (5, 1)
        await eventually(lambda: not book.is_stale)
        async with await make_dealer(wide, acct, symbol="sky/usdc") as dealer:
            spec = SPECS[2048]
            price = spec.format_price(_mid(2048) + 9)
            await dealer.create_limit_order(price, "-" + spec.format_size(spec.min_base_int))
            await dealer.flush()
            await eventually(lambda: book.best_ask() == (float(price), float(spec.min_base_amount)))
    finally:
        await ws.aclose()


async def test_one_market_is_never_255_or_past_2_48(wide: LocalNode) -> None:
    for bad in (255, 2**48):
        with pytest.raises(ValueError, match="market"):
            WsInfo(base_url=wide.base_url, market_id=bad)
        with pytest.raises(ValueError, match="books"):
            WsInfo(base_url=wide.base_url, books=[0, bad], decimals={0: (2, 4)})
    top = 2**48 - 1
    ws = WsInfo(base_url=wide.base_url, market_id=top, books=[top], decimals={top: (2, 2)})
    try:
        assert ws.market_id == top
        book = ws.get_order_book(top)
        assert book is not None and book.market_index == top
        with pytest.raises(ValueError, match="market"):
            ws.get_order_book(255)
    finally:
        await ws.aclose()
