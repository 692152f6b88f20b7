"""Market resolution: the node's table wins, static table offline, explicit scales checked."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from lighterfast import markets
from lighterfast.errors import ConfigError, MarketNotFound, NodeUnreachable


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    markets.clear_cache()


async def test_static_table_has_the_known_markets() -> None:
    eth = await markets.resolve_market(symbol="eth")
    assert (eth.market_index, eth.size_decimals, eth.price_decimals) == (0, 4, 2)
    assert (eth.price_scale, eth.size_scale, eth.base_scale) == (100, 10_000, 10_000)
    btc = await markets.resolve_market(symbol="BTC-USD")
    assert (btc.market_index, btc.size_decimals, btc.price_decimals) == (1, 5, 1)
    sol = await markets.resolve_market(market_index=2)
    assert (sol.symbol, sol.size_decimals, sol.price_decimals) == ("SOL", 3, 3)


async def test_explicit_scales_win() -> None:
    info = await markets.resolve_market(symbol="ETH", price_scale=1000, size_scale=100)
    assert (info.market_index, info.price_decimals, info.size_decimals) == (0, 3, 2)
    info = await markets.resolve_market(market_index=77, price_scale=10, size_scale=1)
    assert (info.market_index, info.price_decimals, info.size_decimals) == (77, 1, 0)
    with pytest.raises(ConfigError, match="power of ten"):
        await markets.resolve_market(symbol="ETH", price_scale=150)


async def test_fetch_and_cache() -> None:
    calls = 0

    async def fetcher() -> list[dict[str, Any]]:
        nonlocal calls
        calls += 1
        return [
            {"symbol": "DOGE", "market_id": 3, "price_decimals": 6, "size_decimals": 0},
            {
                "symbol": "ETH",
                "market_id": 0,
                "supported_price_decimals": 2,
                "supported_size_decimals": 4,
            },
        ]

    doge = await markets.resolve_market(symbol="DOGE", base_url="http://n", fetcher=fetcher)
    assert (doge.market_index, doge.price_decimals, doge.size_decimals) == (3, 6, 0)
    again = await markets.resolve_market(market_index=3, base_url="http://n/", fetcher=fetcher)
    assert again == doge and calls == 1
    with pytest.raises(MarketNotFound) as info:
        await markets.resolve_market(symbol="NOPE", base_url="http://n", fetcher=fetcher)
    text = str(info.value)
    assert "NOPE" in text and "http://n" in text and "DOGE#3" in text and calls == 1


async def test_not_found_without_a_node_says_what_to_pass() -> None:
    with pytest.raises(MarketNotFound, match="price_scale= and size_scale="):
        await markets.resolve_market(symbol="XYZ")


async def test_fetch_failure_is_market_not_found() -> None:
    async def broken() -> list[dict[str, Any]]:
        raise OSError("connection refused")

    with pytest.raises(MarketNotFound, match="could not read"):
        await markets.resolve_market(symbol="XYZ", base_url="http://n", fetcher=broken)


async def test_symbol_and_index_must_agree() -> None:
    with pytest.raises(ConfigError, match="market 0"):
        await markets.resolve_market(symbol="ETH", market_index=1)
    with pytest.raises(ConfigError, match="symbol"):
        await markets.resolve_market()


def _eth_row(price_decimals: int, size_decimals: int) -> dict[str, Any]:
    return {
        "symbol": "ETH",
        "market_id": 0,
        "price_decimals": price_decimals,
        "size_decimals": size_decimals,
        "min_base_amount": "0.010",
        "min_quote_amount": "10.000000",
    }


async def test_the_node_table_beats_the_static_table() -> None:
    async def fetcher() -> list[dict[str, Any]]:
        return [_eth_row(1, 3)]

    eth = await markets.resolve_market(symbol="ETH", base_url="http://n", fetcher=fetcher)
    assert (eth.price_decimals, eth.size_decimals, eth.source) == (1, 3, "node")
    assert (eth.min_base_amount, eth.min_quote_amount) == ("0.010", "10.000000")


async def test_explicit_scales_must_agree_with_the_node() -> None:
    async def fetcher() -> list[dict[str, Any]]:
        return [_eth_row(1, 3)]

    with pytest.raises(ConfigError) as info:
        await markets.resolve_market(
            symbol="ETH", price_scale=100, base_url="http://n", fetcher=fetcher
        )
    text = str(info.value)
    assert "price_scale=100 " in text and "price_scale=10;" in text and "http://n" in text
    with pytest.raises(ConfigError, match=r"size_scale=10000 .* size_scale=1000;"):
        await markets.resolve_market(
            market_index=0, price_scale=10, size_scale=10_000, base_url="http://n", fetcher=fetcher
        )
    same = await markets.resolve_market(
        symbol="ETH", price_scale=10, size_scale=1000, base_url="http://n", fetcher=fetcher
    )
    assert (same.price_decimals, same.size_decimals, same.source) == (1, 3, "node")


async def test_unreachable_node_raises_unless_lazy(caplog: pytest.LogCaptureFixture) -> None:
    async def down() -> list[dict[str, Any]]:
        raise NodeUnreachable("http://n", "ClientConnectorError")

    with pytest.raises(NodeUnreachable, match="http://n"):
        await markets.resolve_market(symbol="ETH", base_url="http://n", fetcher=down)
    with caplog.at_level(logging.WARNING, logger="lighterfast.markets"):
        eth = await markets.resolve_market(
            symbol="ETH", base_url="http://n", fetcher=down, lazy=True
        )
    assert (eth.price_decimals, eth.size_decimals, eth.source) == (2, 4, "static")
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "static table" in warned[0].getMessage()
    assert "http://n" in warned[0].getMessage()
    assert markets.cached_markets("http://n") is None  # a fallback is never cached
    with pytest.raises(MarketNotFound, match="cannot reach"):
        await markets.resolve_market(symbol="XYZ", base_url="http://n", fetcher=down, lazy=True)


async def test_concurrent_resolutions_share_one_read() -> None:
    calls = 0

    async def slow() -> list[dict[str, Any]]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return [_eth_row(1, 3)]

    found = await asyncio.gather(
        *(markets.resolve_market(symbol="ETH", base_url="http://n", fetcher=slow) for _ in range(5))
    )
    assert calls == 1 and {f.price_decimals for f in found} == {1}
