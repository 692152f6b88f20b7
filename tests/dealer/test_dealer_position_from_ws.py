"""`fetch_my_position()` / `fetch_my_balance()` read the handed WsInfo (`price_source=`, same
account, account state live) without a request, equal to the node's REST truth, across a
reconnect and a node restart; REST whenever the stream cannot vouch for the state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from _helpers import eventually, make_dealer
from lighterfast import LighterDealer
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.ws import WsInfo

ETH = 0


@pytest.fixture
async def accounts(node: LocalNode) -> tuple[DevAccount, DevAccount]:
    return await node.create_account(collateral=100_000), await node.create_account(50_000)


@pytest.fixture
async def stream(node: LocalNode, accounts: tuple[DevAccount, DevAccount]) -> AsyncIterator[WsInfo]:
    """The taker's WsInfo (account streams, ETH)."""
    taker = accounts[1]
    ws = await WsInfo.run_overlay(
        taker.account_index,
        taker.api_key_index,
        taker.private_key,
        market_id=ETH,
        base_url=node.base_url,
        connection_options={"backoff_initial": 0.05},
    )
    yield ws
    await ws.aclose()


async def _cross(node: LocalNode, maker: LighterDealer, taker: LighterDealer, size: float) -> None:
    """The maker rests 0.01-lot liquidity at 3000, the taker takes `size` of it."""
    acct = taker.account_index
    before = node.state.positions.get((acct, ETH), {}).get("size", 0)
    await maker.create_limit_order(3000.0, -size)
    await maker.flush()
    await taker.create_market_order(size, avg_execution_price=3150.0 if size > 0 else 2850.0)
    assert (await taker.flush())[0]["accepted"]
    want = before + round(size * 10_000)
    await eventually(lambda: node.state.positions.get((acct, ETH), {}).get("size") == want)


async def _reads_without_requests(
    dealer: LighterDealer, rest_dealer: LighterDealer, n: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`n` position and balance reads of `dealer`: no request leaves; equal to REST's."""
    truth_position = await rest_dealer.fetch_my_position()
    truth_balance = await rest_dealer.fetch_my_balance()
    rest = dealer._rest
    sent = rest.requests_sent
    for _ in range(n):
        assert await dealer.fetch_my_position() == truth_position
        assert await dealer.fetch_my_balance() == truth_balance
    assert rest.requests_sent == sent  # not one REST read
    return truth_position, truth_balance


async def test_position_and_balance_come_from_the_stream_across_reconnects(
    node: LocalNode, accounts: tuple[DevAccount, DevAccount], stream: WsInfo
) -> None:
    maker, taker = accounts
    async with (
        await make_dealer(node, maker, use_ws=False) as mdealer,
        await make_dealer(node, taker, use_ws=False) as rest_dealer,  # no WsInfo: REST
        await make_dealer(node, taker, use_ws=False, price_source=stream) as dealer,
    ):
        await eventually(lambda: stream.account_state_ready)
        position, _ = await _reads_without_requests(dealer, rest_dealer, 20)
        assert position["side"] == "flat" and position["symbol"] == "ETH"

        await _cross(node, mdealer, rest_dealer, 0.03)
        await eventually(lambda: stream.get_position()["size"] == pytest.approx(0.03))
        await eventually(lambda: stream.get_position()["open_order_count"] == 0)
        position, balance = await _reads_without_requests(dealer, rest_dealer, 20)
        assert position["size"] == pytest.approx(0.03) and position["side"] == "long"
        assert balance["available_balance"] < 50_000.0

        # a forced reconnect: the stream again once its fresh snapshots came
        await node.faults.close_all(1011)
        await eventually(lambda: stream.stats.reconnects == 1 and stream.account_state_ready)
        await _reads_without_requests(dealer, rest_dealer, 20)

        # a node restart, then a trade seen only through the new socket's frames
        await node.restart(down_s=0.2)
        await eventually(lambda: stream.stats.reconnects == 2 and stream.account_state_ready, 10)
        await _cross(node, mdealer, rest_dealer, -0.05)
        await eventually(lambda: stream.get_position()["size"] == pytest.approx(-0.02))
        position, _ = await _reads_without_requests(dealer, rest_dealer, 20)
        assert position["side"] == "short"
        flat_btc = await dealer.fetch_my_position("BTC")
        assert flat_btc == await rest_dealer.fetch_my_position("BTC")


async def test_rest_is_read_when_the_stream_cannot_vouch(
    node: LocalNode, accounts: tuple[DevAccount, DevAccount], stream: WsInfo
) -> None:
    maker, taker = accounts
    async with (
        await make_dealer(node, maker, use_ws=False, price_source=stream) as other,
        await make_dealer(node, taker, use_ws=False, price_source=stream) as dealer,
    ):
        await eventually(lambda: stream.account_state_ready)
        # a WsInfo of another account is only a price source
        sent = other._rest.requests_sent
        assert (await other.fetch_my_balance())["collateral"] == pytest.approx(100_000.0)
        assert other._rest.requests_sent == sent + 1

        # a bad positions frame: state may be behind until the resync snapshot → REST
        bad = {"0": {"market_id": 0, "position": "nan", "sign": 1}}
        channel = f"account_all_positions:{taker.account_index}"
        frame = {"type": "update/account_all_positions", "channel": channel, "positions": bad}
        stream.feed_raw(orjson.dumps(frame))
        sent = dealer._rest.requests_sent
        assert (await dealer.fetch_my_position())["side"] == "flat"
        assert dealer._rest.requests_sent == sent + 1
        await eventually(lambda: stream.account_state_ready)
        sent = dealer._rest.requests_sent
        await dealer.fetch_my_position()
        assert dealer._rest.requests_sent == sent

        # a closed WsInfo follows nothing → REST
        await stream.aclose()
        assert not stream.account_state_ready
        assert (await dealer.fetch_my_balance())["collateral"] == pytest.approx(50_000.0)
        assert dealer._rest.requests_sent == sent + 1


async def test_a_market_order_is_bounded_by_the_ticker_when_no_book_is_kept(
    node: LocalNode, accounts: tuple[DevAccount, DevAccount]
) -> None:
    maker, taker = accounts
    ws = await WsInfo.run_public_trades_simple(market_id=ETH, base_url=node.base_url, ticker=True)
    try:
        async with (
            await make_dealer(node, maker, use_ws=False) as mdealer,
            await make_dealer(node, taker, use_ws=False, price_source=ws) as dealer,
        ):
            await mdealer.create_limit_order(3040.0, -0.01)
            await mdealer.flush()
            best_ask = node.state.books[ETH]["asks"][0][0] / 100
            await eventually(lambda: (ws.get_ticker() or {}).get("best_ask") == best_ask)
            assert ws.get_order_book(ETH) is None
            sent = dealer._rest.requests_sent
            order = await dealer.create_market_order(0.01)  # no avg_execution_price
            assert dealer._rest.requests_sent == sent  # no orderBookOrders read
            assert order["price"] == pytest.approx(best_ask * 1.01, abs=0.01)
            # while its socket is down the ticker is no price: forgotten until the next frame
            restart = asyncio.ensure_future(node.restart(down_s=1.0))
            await eventually(lambda: not ws.connected)
            assert ws.get_ticker() is None and ws.get_best_bid_ask() == (None, None)
            await restart
            await eventually(lambda: (ws.get_ticker() or {}).get("best_ask") == best_ask, 10.0)
    finally:
        await ws.aclose()
