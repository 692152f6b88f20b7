"""Spot markets and 64-bit market ids in the market table (the node's rows are the truth).

Spot markets are listed in `spot_order_book_details` with `market_type: "spot"` and symbols
`BASE/QUOTE` (protocol §1.3, §8); they resolve by that symbol. Ids above the old 12-bit band
(4095, 4098, 40000, 2^40) resolve by id and by symbol; ids no signer signs are left out.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lighterfast import ConfigError, MarketNotFound, markets
from lighterfast.markets import (
    MarketInfo,
    cache_markets,
    fetch_market_rows,
    market_from_row,
    normalise_symbol,
    resolve_market,
)
from lighterfast.testnode import LocalNode
from lighterfast.testnode.markets import WIDE_MARKETS
from lighterfast.transport.rest import RestClient

# A spot row as the venue's SpotOrderBookDetail lists it (§1.3 field set; SKY is asset 8).
SKY_ROW: dict[str, Any] = {
    "symbol": "SKY/USDC",
    "market_id": 2048,
    "market_type": "spot",
    "base_asset_id": 8,
    "quote_asset_id": 3,
    "status": "active",
    "min_base_amount": "200.0",
    "min_quote_amount": "10.000000",
    "supported_size_decimals": 1,
    "supported_price_decimals": 5,
    "size_decimals": 1,
    "price_decimals": 5,
}


def test_spot_symbols_keep_base_and_quote() -> None:
    assert normalise_symbol("SKY/USDC") == "SKY/USDC"
    assert normalise_symbol(" sky/usdc ") == "SKY/USDC"
    assert normalise_symbol("ETH/USDT") == "ETH/USDT"  # not stripped to "ETH/"
    assert normalise_symbol("ETH/USDC:USDC") == "ETH"  # the ccxt perp form stays a perp
    assert normalise_symbol("eth-usd") == "ETH"
    for bad in ("SKY/", "/USDC", " / "):
        with pytest.raises(ConfigError, match="BASE/QUOTE"):
            normalise_symbol(bad)


def test_market_type_from_the_row_or_its_list() -> None:
    sky = market_from_row(SKY_ROW)
    assert (sky.symbol, sky.market_index, sky.market_type, sky.is_spot) == (
        "SKY/USDC",
        2048,
        "spot",
        True,
    )
    assert (sky.price_decimals, sky.size_decimals, sky.min_base_amount) == (5, 1, "200.0")
    bare = {k: v for k, v in SKY_ROW.items() if k != "market_type"}
    assert market_from_row(bare).market_type == "spot"  # BASE/QUOTE symbol
    assert market_from_row({**bare, "symbol": "SKY"}, "spot").market_type == "spot"
    perp = market_from_row({**bare, "symbol": "ETH", "market_id": 40000})
    assert (perp.market_type, perp.is_spot, perp.market_index) == ("perp", False, 40000)
    assert market_from_row({**bare, "market_id": 2**48 - 1}).market_index == 2**48 - 1
    for bad in (255, 2**48, -1):
        with pytest.raises(ValueError, match="market_id"):
            market_from_row({**SKY_ROW, "market_id": bad})
    assert MarketInfo("ETH", 0, 2, 4).market_type == "perp"


def test_unsignable_rows_are_left_out_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        SKY_ROW,
        {**SKY_ROW, "symbol": "ALL/USDC", "market_id": 255},
        {**SKY_ROW, "symbol": "HUGE/USDC", "market_id": 2**48},
    ]
    with caplog.at_level(logging.WARNING, "lighterfast.markets"):
        table = cache_markets("http://127.0.0.1:1", rows)
    assert list(table) == ["SKY/USDC"]
    assert "ALL/USDC" in caplog.text and "HUGE/USDC" in caplog.text
    with pytest.raises(ValueError, match="lacks"):
        cache_markets("http://127.0.0.1:1", [{"symbol": "X", "market_id": 3}])


@pytest.fixture
async def wide() -> AsyncIterator[LocalNode]:
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0, markets=WIDE_MARKETS) as n:
        yield n


async def _resolve(node: LocalNode, **kw: Any) -> MarketInfo:
    rest = RestClient(node.base_url, standard_account=False, jitter_ms=(0, 1))
    try:
        return await resolve_market(
            base_url=node.base_url, fetcher=lambda: fetch_market_rows(rest), **kw
        )
    finally:
        await rest.close()


async def test_the_nodes_spot_market_resolves_by_symbol(wide: LocalNode) -> None:
    sky = await _resolve(wide, symbol="SKY/USDC")
    assert (sky.market_index, sky.market_type, sky.source) == (2048, "spot", "node")
    assert (sky.price_decimals, sky.size_decimals) == (5, 1)
    markets.clear_cache()
    assert await _resolve(wide, symbol="sky/usdc") == sky
    assert await _resolve(wide, market_index=2048) == sky
    assert await _resolve(wide, symbol="SKY/USDC", market_index=2048) == sky
    with pytest.raises(ConfigError, match="is market 2048"):
        await _resolve(wide, symbol="SKY/USDC", market_index=2049)
    with pytest.raises(MarketNotFound, match="SKY/USDC#2048"):
        await _resolve(wide, symbol="SKY")  # the pair, not the base, names a spot market


@pytest.mark.parametrize(
    ("market", "symbol"), [(4095, "LIT"), (4098, "DOGE"), (40000, "PEPE"), (2**40, "WIDE")]
)
async def test_wide_perps_resolve_by_id_and_symbol(
    wide: LocalNode, market: int, symbol: str
) -> None:
    by_id = await _resolve(wide, market_index=market)
    assert (by_id.symbol, by_id.market_type, by_id.source) == (symbol, "perp", "node")
    assert await _resolve(wide, symbol=symbol.lower()) == by_id
    with pytest.raises(MarketNotFound, match="not listed"):
        await _resolve(wide, market_index=market + 1)
