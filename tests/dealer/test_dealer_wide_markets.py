"""LighterDealer on 64-bit market ids and a spot market, end to end against the local node.

Issue 13 item 4: the client refused market ids the venue and lighter-sdk 1.1.8's signer accept
(4098, 40000 → "market_index must be in [0, 4094]"). A dealer on 4095, 4098, 40000 and 2^40,
and one on the spot market "SKY/USDC" (id 2048, resolved by symbol), must create, modify and
cancel by COI with the node verifying every signature; 255 and 2^48 are refused at config.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from _helpers import config_for, eventually, make_dealer, node_nonce
from lighterfast import ConfigError
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.testnode.markets import WIDE_MARKETS

pytestmark = pytest.mark.timeout(60)

SPECS = {s.market_index: s for s in WIDE_MARKETS}


@pytest.fixture
async def wide() -> AsyncIterator[LocalNode]:
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0, markets=WIDE_MARKETS) as n:
        yield n


@pytest.fixture
async def acct(wide: LocalNode) -> DevAccount:
    return await wide.create_account(collateral=100_000)


def _human_price(market: int, ticks_below: int) -> str:
    spec = SPECS[market]
    mid = int(float(spec.start_price) * 10**spec.price_decimals)
    return spec.format_price(mid - ticks_below)


def _human_size(market: int, times: int = 2) -> str:
    spec = SPECS[market]
    return spec.format_size(spec.min_base_int * times)


async def _round_trip(wide: LocalNode, acct: DevAccount, dealer: Any, market: int) -> None:
    """Create, modify and cancel one order by COI; the node holds it on `market` throughout."""
    a = acct.account_index
    spec = SPECS[market]
    placed = await dealer.create_limit_order(_human_price(market, 20), _human_size(market))
    coi = placed["client_order_index"]
    results = await dealer.flush()
    assert [r["accepted"] for r in results] == [True], results
    order = await eventually(lambda: wide.state.order_by_coi(a, coi))
    assert order["market_index"] == market and order["status"] == "open"
    assert order["base_size"] == spec.min_base_int * 2

    await dealer.update_order_by_coi(
        coi, price=_human_price(market, 21), quantity=_human_size(market, 3)
    )
    assert [r["accepted"] for r in await dealer.flush()] == [True]
    await eventually(lambda: wide.state.order_by_coi(a, coi)["base_size"] == spec.min_base_int * 3)
    price_int = int(float(spec.start_price) * 10**spec.price_decimals) - 21
    assert wide.state.order_by_coi(a, coi)["base_price"] == price_int

    await dealer.cancel_order_by_coi(coi)
    assert [r["accepted"] for r in await dealer.flush()] == [True]
    await eventually(lambda: wide.state.order_by_coi(a, coi)["status"] == "canceled")
    assert node_nonce(wide, acct) == 3
    assert not wide.state.books[market]["bids"]


@pytest.mark.parametrize("market", [4095, 4098, 40000, 2**40])
async def test_dealer_round_trip_on_a_wide_market_id(
    wide: LocalNode, acct: DevAccount, market: int
) -> None:
    async with await make_dealer(wide, acct, symbol=None, market_index=market) as dealer:
        assert dealer.market.market_index == market and dealer.market.source == "node"
        assert dealer.market.symbol == SPECS[market].symbol
        await _round_trip(wide, acct, dealer, market)


@pytest.mark.parametrize("signer", ["sdk", "native"])
@pytest.mark.parametrize("use_ws", [True, False], ids=["ws", "rest"])
async def test_dealer_on_40000_by_symbol_with_each_signer_and_transport(
    wide: LocalNode, acct: DevAccount, signer: str, use_ws: bool
) -> None:
    async with await make_dealer(wide, acct, symbol="PEPE", signer=signer, use_ws=use_ws) as d:
        assert d.market.market_index == 40000
        await _round_trip(wide, acct, d, 40000)


async def test_dealer_on_the_spot_market_by_symbol(wide: LocalNode, acct: DevAccount) -> None:
    async with await make_dealer(wide, acct, symbol="SKY/USDC") as dealer:
        m = dealer.market
        assert (m.market_index, m.market_type, m.is_spot) == (2048, "spot", True)
        assert (m.price_decimals, m.size_decimals) == (5, 1)
        await _round_trip(wide, acct, dealer, 2048)


async def test_dealer_reads_and_reconciles_a_wide_market(wide: LocalNode, acct: DevAccount) -> None:
    """REST reads carry the 64-bit id (accountActiveOrders market_id=2^40) and the dealer's
    COI view learns the order from them: it is then cancelled by COI."""
    async with await make_dealer(wide, acct, symbol=None, market_index=2**40) as dealer:
        placed = await dealer.create_limit_order(_human_price(2**40, 5), _human_size(2**40))
        coi = placed["client_order_index"]
        await dealer.flush()
        await eventually(lambda: wide.state.order_by_coi(acct.account_index, coi))
        opened = await dealer.fetch_open_orders()
        assert [(o["client_order_index"], o["market_index"]) for o in opened] == [(coi, 2**40)]
        assert await dealer.fetch_open_orders(market_index=4098) == []
        view = dealer.get_order_by_coi(coi)
        assert view is not None and view["market_index"] == 2**40 and view["status"] == "open"
        await dealer.cancel_order_by_coi(coi)
        await dealer.flush()
        await eventually(
            lambda: wide.state.order_by_coi(acct.account_index, coi)["status"] == "canceled"
        )
        assert await dealer.fetch_open_orders() == []


async def test_all_markets_and_past_2_48_are_refused_at_config(
    wide: LocalNode, acct: DevAccount
) -> None:
    for bad in (255, 2**48):
        with pytest.raises(ConfigError, match="market_index"):
            config_for(wide, acct, symbol=None, market_index=bad)
    with pytest.raises(Exception, match="4097"):  # signable but not listed by the node
        await make_dealer(wide, acct, symbol=None, market_index=4097)
