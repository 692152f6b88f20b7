"""Development helpers of the local node: dev-account route, create_account checks, house book."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import lighter
import pytest

from lighterfast.testnode import LocalNode, MarketSpec


async def test_dev_accounts_route_returns_a_working_key(node: LocalNode) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(
            node.base_url + "/dev/v1/accounts", json={"collateral": "2500.5", "api_key_index": 7}
        ) as r:
            assert r.status == 200
            body = await r.json()
        async with s.post(node.base_url + "/dev/v1/accounts", data=b"{nope") as r:
            assert (r.status, (await r.json())["code"]) == (400, 20001)
        async with s.post(node.base_url + "/dev/v1/accounts", json={"collateral": -1}) as r:
            assert (r.status, (await r.json())["code"]) == (400, 20001)
    assert body["api_key_index"] == 7 and body["chain_id"] == 304
    assert body["ws_url"] == node.ws_url
    assert node.state.collateral(body["account_index"]) == 2_500_500_000
    client = lighter.SignerClient(
        url=body["base_url"],
        account_index=body["account_index"],
        api_private_keys={7: body["private_key"]},
    )
    try:
        assert await asyncio.to_thread(client.check_client) is None
    finally:
        await client.close()


async def test_create_account_validates_and_redacts(node: LocalNode) -> None:
    for bad in (-1, "nan", "abc", float("inf")):
        with pytest.raises(ValueError, match="collateral"):
            await node.create_account(collateral=bad)
    with pytest.raises(ValueError, match="api_key_index"):
        await node.create_account(collateral=1, api_key_index=255)
    dev = await node.create_account(collateral=1)
    text = repr(dev)
    assert dev.private_key not in text and dev.private_key[2:12] not in text
    assert "redacted" in text
    priv, _pub = await node.add_api_key(dev.account_index, 9)
    assert priv is not None and node.state.nonces[(dev.account_index, 9)] == 0


def test_node_option_validation() -> None:
    with pytest.raises(ValueError, match="next_nonce_mode"):
        LocalNode(next_nonce_mode="soon")
    with pytest.raises(ValueError, match="batch_cap"):
        LocalNode(batch_cap=0)
    with pytest.raises(ValueError, match="exec_latency_ms"):
        LocalNode(exec_latency_ms="turbo")
    with pytest.raises(ValueError, match="exec_latency_ms"):
        LocalNode(exec_latency_ms={"taker": -1})
    with pytest.raises(ValueError, match="market_index"):
        MarketSpec(255, "X", 2, 2, "0.01", "10")  # 255 means all markets


async def test_house_liquidity_and_custom_markets() -> None:
    markets = (MarketSpec(0, "DOGE", 0, 5, "10", "10.000000", start_price="0.15000"),)
    async with LocalNode(exec_latency_ms=0, markets=markets, house_liquidity_levels=3) as node:
        book = node.state.books[0]
        assert len(book["bids"]) == 3 and len(book["asks"]) == 3
        assert book["bids"][0][0] < 15_000 < book["asks"][0][0]
        async with aiohttp.ClientSession() as s:
            async with s.get(node.base_url + "/api/v1/orderBookDetails") as r:
                detail = (await r.json())["order_book_details"][0]
        assert detail["symbol"] == "DOGE" and detail["price_decimals"] == 5


async def test_simulated_flow_makes_books_and_trades(ws_probe: Any) -> None:
    async with LocalNode(
        exec_latency_ms=0, simulate_flow=True, flow_interval_ms=10, flow_seed=7
    ) as node:
        probe = await ws_probe(target=node)
        await probe.send({"type": "subscribe", "channel": "order_book/0"})
        await probe.send({"type": "subscribe", "channel": "trade/1"})
        await probe.expect(lambda f: f.get("type") == "update/trade", timeout=5)
        await probe.expect(lambda f: f.get("type") == "update/order_book", timeout=5)
        book = node.state.books[0]
        assert book["bids"] and book["asks"]
        assert book["bids"][0][0] < book["asks"][0][0]  # never crossed
