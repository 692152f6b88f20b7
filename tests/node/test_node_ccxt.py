"""A third-party client (ccxt's `lighter`, multipart forms, its own parsers) reads the node."""

from __future__ import annotations

import ccxt.async_support as ccxt

from lighterfast.testnode import LocalNode


async def test_ccxt_public_market_data() -> None:
    async with LocalNode(exec_latency_ms=0, house_liquidity_levels=2) as node:
        ex = ccxt.lighter({"enableRateLimit": False})  # local node: no venue throttle
        ex.urls["api"] = {"public": node.base_url, "private": node.base_url}
        try:
            markets = await ex.load_markets()
            assert list(markets) == ["ETH/USDC:USDC", "BTC/USDC:USDC", "SOL/USDC:USDC"]
            eth = markets["ETH/USDC:USDC"]
            assert eth["precision"]["amount"] == 0.0001 and eth["precision"]["price"] == 0.01
            assert eth["limits"]["amount"]["min"] == 0.005
            book = await ex.fetch_order_book("ETH/USDC:USDC")
            assert book["bids"][0][0] < 3000 < book["asks"][0][0]
            assert len(book["bids"]) == len(book["asks"]) == 2
            assert await ex.fetch_time() > 0
        finally:
            await ex.close()
