"""The node's market table is the truth: decimals, ids and minimums, on a real LocalNode.

A node started with other decimals (`--markets ETH:3:1`) must get orders at its own integers;
minimum base / quote amounts are refused by the client and, for raw txs, by the node itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from _helpers import eventually, make_dealer, node_nonce
from lighterfast import ConfigError, markets
from lighterfast import protocol as P
from lighterfast.signing import GroupedOrder, SdkSigner, SignedTx
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.testnode.markets import parse_markets_arg
from lighterfast.ws import WsInfo


@pytest.fixture(autouse=True)
def _fresh_market_cache() -> None:
    markets.clear_cache()  # a loopback port may be reused by a node with other markets


@pytest.fixture
async def eth31() -> AsyncIterator[LocalNode]:
    """A node whose ETH has 3 size / 1 price decimals (min base 0.010, min quote 10 USDC)."""
    async with LocalNode(port=0, exec_latency_ms=0, markets=parse_markets_arg("ETH:3:1")) as n:
        yield n


async def test_orders_rest_at_the_nodes_integers(eth31: LocalNode) -> None:
    acct = await eth31.create_account(collateral=100_000)
    async with await make_dealer(eth31, acct) as dealer:
        placed = await dealer.create_limit_order(2900, 0.05)
        assert (placed["price"], placed["size"]) == (2900.0, 0.05)
        await dealer.flush()
        await eventually(lambda: eth31.state.books[0]["bids"])
        # 2900 with 1 price decimal = 29000; 0.05 with 3 size decimals = 50.
        assert eth31.state.books[0]["bids"] == [(29_000, 50)]
        m = dealer.market
        assert (m.price_decimals, m.size_decimals, m.source) == (1, 3, "node")
        assert (m.min_base_amount, m.min_quote_amount) == ("0.010", "10.000000")
    order = eth31.state.order_by_coi(acct.account_index, placed["client_order_index"])
    assert order is not None and (order["price"], order["initial_base_amount"]) == (
        "2900.0",
        "0.050",
    )


async def test_the_market_table_is_one_counted_read_per_node(eth31: LocalNode) -> None:
    acct = await eth31.create_account(collateral=100_000)
    async with await make_dealer(eth31, acct) as first:
        # orderBookDetails and GET / (the chain id), through the dealer's limiter
        assert first._rest.requests_sent == 2
        async with await make_dealer(eth31, acct) as second:
            # the table is cached for this process and base_url; GET / (chain id) is counted
            assert second._rest.requests_sent == 1
            assert second.market == first.market


async def test_explicit_scales_that_contradict_the_node_refuse_to_start(eth31: LocalNode) -> None:
    acct = await eth31.create_account(collateral=100_000)
    with pytest.raises(ConfigError) as info:
        await make_dealer(eth31, acct, price_scale=100, size_scale=1000)
    text = str(info.value)
    assert "price_scale=100 " in text and "price_scale=10;" in text and eth31.base_url in text
    with pytest.raises(ConfigError, match=r"size_scale=10000 .*size_scale=1000;"):
        await make_dealer(eth31, acct, size_scale=10_000)
    async with await make_dealer(eth31, acct, price_scale=10, size_scale=1000) as dealer:
        assert dealer.market.source == "node"  # agreeing explicit scales are fine


async def test_wsinfo_uses_the_nodes_decimals(eth31: LocalNode) -> None:
    acct = await eth31.create_account(collateral=100_000)
    ws = await WsInfo.run_public_trades_simple("ETH", base_url=eth31.base_url, order_book=True)
    try:
        book = ws.get_order_book(0)
        assert book is not None and (book.price_decimals, book.size_decimals) == (1, 3)
        async with await make_dealer(eth31, acct) as dealer:
            await dealer.create_limit_order(2900, 0.05)
        await eventually(lambda: book.best_bid() is not None)
        assert book.best_bid() == (2900.0, 0.05)
    finally:
        await ws.aclose()


async def test_client_refuses_below_the_nodes_minimums(
    node: LocalNode, funded_account: DevAccount
) -> None:
    async with await make_dealer(node, funded_account, symbol="BTC") as btc:
        assert (btc.market.min_base_amount, btc.market.min_quote_amount) == ("0.00020", "10.000000")
        with pytest.raises(ValueError, match=r"below the market minimum 0.00020"):
            await btc.create_limit_order(60_000, 0.00001)
        with pytest.raises(ValueError, match="minimum quote amount 10"):
            await btc.create_limit_order(20_000, 0.0003)  # 6 USDC
        assert btc.queued == 0
    async with await make_dealer(node, funded_account) as eth:
        placed = await eth.create_limit_order(2900, 0.01)
        await eth.flush()
        coi = placed["client_order_index"]
        await eventually(lambda: eth.get_order_by_coi(coi) and node.state.books[0]["bids"])
        with pytest.raises(ValueError, match=r"quantity 0.0010 is below the market minimum"):
            await eth.update_order_by_coi(coi, quantity=0.001)
        with pytest.raises(ValueError, match=r"quantity x price .* minimum quote amount"):
            await eth.update_order_by_coi(coi, price=100)  # 0.01 x 100 = 1 USDC
        assert eth.queued == 0
        await eth.update_order_by_coi(coi, quantity=0.02)  # above: queued and sent
    assert node_nonce(node, funded_account) == 2


class RawTx:
    """Signs with the real signer library and posts straight to sendTx (no client checks)."""

    def __init__(self, node: LocalNode, acct: DevAccount, signer: SdkSigner) -> None:
        self.node, self.acct, self.signer = node, acct, signer
        self.nonce = 0

    async def send(self, http: aiohttp.ClientSession, tx: SignedTx) -> str:
        form = {"tx_type": str(tx.tx_type), "tx_info": tx.tx_info}
        async with http.post(self.node.base_url + "/api/v1/sendTx", data=form) as r:
            body = await r.json()
        assert r.status == 200 and body["code"] == 200, body  # accepted; judged at execution
        self.nonce += 1
        return str(body["tx_hash"])

    def create(self, coi: int, base: int, price: int) -> SignedTx:
        return self.signer.sign_create_order(
            market_index=0, client_order_index=coi, base_amount=base, price=price,
            is_ask=False, order_type=P.ORDER_TYPE_LIMIT, time_in_force=P.TIF_GTT,
            nonce=self.nonce, api_key_index=self.acct.api_key_index,
        )  # fmt: skip

    def oto(self, coi: int, base: int, price: int) -> SignedTx:
        expiry = int(time.time() * 1000) + 3_600_000
        return self.signer.sign_create_grouped_orders(
            grouping_type=1,
            orders=[
                GroupedOrder(0, coi, base, price, False, P.ORDER_TYPE_LIMIT, P.TIF_GTT,
                             order_expiry=expiry),
                GroupedOrder(0, coi + 1, 0, price - 10_000, True, P.ORDER_TYPE_STOP_LOSS,
                             P.TIF_IOC, reduce_only=True, trigger_price=price - 10_000,
                             order_expiry=expiry),
            ],
            nonce=self.nonce,
            api_key_index=self.acct.api_key_index,
        )  # fmt: skip

    def modify(self, coi: int, base: int, price: int) -> SignedTx:
        return self.signer.sign_modify_order(
            market_index=0, order_index=coi, base_amount=base, price=price,
            nonce=self.nonce, api_key_index=self.acct.api_key_index,
        )  # fmt: skip

    async def app_error(self, tx_hash: str) -> dict[str, Any]:
        await eventually(lambda: self.node.state.tx(tx_hash))
        rec = self.node.state.tx(tx_hash)
        assert rec is not None
        return dict(orjson.loads(orjson.loads(rec["event_info"])["ae"]))


async def test_node_refuses_below_minimum_creates_and_modifies(
    node: LocalNode, funded_account: DevAccount
) -> None:
    a = funded_account
    signer = await SdkSigner.create(
        a.account_index, {a.api_key_index: a.private_key}, base_url=node.base_url
    )
    below = {"code": P.ERR_INVALID_ORDER_AMOUNT, "message": "invalid order base or quote amount"}
    try:
        raw = RawTx(node, a, signer)
        async with aiohttp.ClientSession() as http:
            # ETH: min base 0.0050 (50), min quote 10 USDC. 0.0010 ETH @ 3000 -> refused.
            h = await raw.send(http, raw.create(1, 10, 300_000))
            assert await raw.app_error(h) == below
            assert node.state.order_by_coi(a.account_index, 1)["status"] == P.STATUS_CANCELED
            # 0.0100 ETH @ 5.00 = 0.05 USDC: above min base, below min quote -> refused.
            h = await raw.send(http, raw.create(2, 100, 500))
            assert await raw.app_error(h) == below
            # A grouped order whose limit parent is below the minimum: the whole group goes.
            h = await raw.send(http, raw.oto(4, 10, 300_000))
            assert await raw.app_error(h) == below
            assert node.state.books[0]["bids"] == [] and node.state.orders == {}
            # A valid order rests; modifies below either minimum leave it as it was.
            await raw.send(http, raw.create(3, 100, 300_000))  # 0.0100 ETH @ 3000
            await eventually(lambda: node.state.books[0]["bids"] == [(300_000, 100)])
            for base, price in ((10, 300_000), (100, 500)):
                h = await raw.send(http, raw.modify(3, base, price))
                assert await raw.app_error(h) == below
            await asyncio.sleep(0.05)
            assert node.state.books[0]["bids"] == [(300_000, 100)]
            assert node.state.order_by_coi(a.account_index, 3)["status"] == P.STATUS_OPEN
    finally:
        signer.close()
