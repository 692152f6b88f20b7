"""64-bit market ids and a spot market on the local node, driven by lighter-sdk's own signer.

The venue's market ids are 64-bit (§8: testnet lists 4095 and 4098) and lighter-sdk 1.1.8 signs
0..254 and 256..2^48-1. These tests run the node with markets 4095, 4098, 40000, 2^40 and the
spot market SKY/USDC at 2048 and check, over real loopback sockets, that the library's txs for
those ids are accepted with the library's own tx_hash, execute, and show on the book stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from _helpers import eventually, open_ws, resign, sdk_client, send_json
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.testnode.markets import WIDE_MARKETS, MarketSpec, parse_markets_arg

WIDE_IDS = (4095, 4098, 40000, 2**40)
SPOT = 2048
SPECS = {s.market_index: s for s in WIDE_MARKETS}


@pytest.fixture
async def wide() -> AsyncIterator[LocalNode]:
    """A verifying node serving the default perps plus 64-bit ids and a spot market."""
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0, markets=WIDE_MARKETS) as n:
        yield n


@pytest.fixture
async def acct(wide: LocalNode) -> DevAccount:
    return await wide.create_account(collateral=100_000)


@pytest.fixture
async def client(wide: LocalNode, acct: DevAccount) -> AsyncIterator[lighter.SignerClient]:
    c = sdk_client(wide, acct)
    yield c
    await c.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _mid(market: int) -> int:
    spec = SPECS[market]
    return int(float(spec.start_price) * 10**spec.price_decimals)


def _size(market: int) -> int:
    return SPECS[market].min_base_int * 2


async def _send(
    http: aiohttp.ClientSession, node: LocalNode, tx_type: int, info: str
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData({"tx_type": str(tx_type), "tx_info": info})
    async with http.post(node.base_url + "/api/v1/sendTx", data=form) as r:
        return r.status, await r.json()


# --- the node's market table ------------------------------------------------------------------
def test_market_spec_takes_what_the_signer_signs() -> None:
    for ok in (0, 254, 256, 2048, 4094, 4095, 4098, 40000, 2**40, 2**48 - 1):
        assert MarketSpec(ok, "X", 2, 2, "0.01", "10").market_index == ok
    for bad in (-1, 255, 2**48, 2**63):
        with pytest.raises(ValueError, match="market_index"):
            MarketSpec(bad, "X", 2, 2, "0.01", "10")
    with pytest.raises(ValueError, match="market_index"):
        MarketSpec(True, "X", 2, 2, "0.01", "10")  # type: ignore[arg-type]


def test_spot_spec_rules() -> None:
    spot = MarketSpec(2048, "SKY/USDC", 1, 5, "10.0", "10", market_type="spot")
    assert spot.is_spot and spot.market_type == "spot"
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        MarketSpec(2048, "SKY", 1, 5, "10.0", "10", market_type="spot")
    with pytest.raises(ValueError, match=">= 2048"):
        MarketSpec(7, "SKY/USDC", 1, 5, "10.0", "10", market_type="spot")
    with pytest.raises(ValueError, match="perp symbol"):
        MarketSpec(7, "SKY/USDC", 1, 5, "10.0", "10")
    with pytest.raises(ValueError, match="market_type"):
        MarketSpec(7, "SKY", 1, 5, "10.0", "10", market_type="option")


def test_market_list_argument_takes_ids_and_spot() -> None:
    specs = parse_markets_arg("ETH:4:2,LIT:2:4:4095,SKY/USDC:1:5:2048")
    assert [(s.market_index, s.symbol, s.market_type) for s in specs] == [
        (0, "ETH", "perp"),
        (4095, "LIT", "perp"),
        (2048, "SKY/USDC", "spot"),
    ]
    with pytest.raises(ValueError, match="duplicate"):
        parse_markets_arg("ETH:4:2:9,BTC:5:1:9")
    with pytest.raises(ValueError, match="market_index"):
        parse_markets_arg("ETH:4:2:255")
    with pytest.raises(ValueError, match=">= 2048"):
        parse_markets_arg("SKY/USDC:1:5")


def test_node_refuses_duplicate_markets() -> None:
    eth = WIDE_MARKETS[0]
    with pytest.raises(ValueError, match="duplicate market ids: 0"):
        LocalNode(markets=(eth, MarketSpec(0, "BTC", 5, 1, "0.001", "10")))
    with pytest.raises(ValueError, match="duplicate symbols: ETH"):
        LocalNode(markets=(eth, MarketSpec(9, "eth", 5, 1, "0.001", "10")))
    with pytest.raises(ValueError, match="non-empty"):
        LocalNode(markets=())
    with pytest.raises(ValueError, match="order-index prefix"):  # slot 1 is ETH's (0 + 1)
        LocalNode(markets=(eth, MarketSpec(9, "BTC", 5, 1, "0.001", "10", order_slot=1)))
    with pytest.raises(ValueError, match="order_slot"):
        MarketSpec(9, "BTC", 5, 1, "0.001", "10", order_slot=4096)


async def test_rest_lists_wide_perps_and_the_spot_market(
    wide: LocalNode, http: aiohttp.ClientSession
) -> None:
    async with http.get(wide.base_url + "/api/v1/orderBookDetails") as r:
        body = await r.json()
    perps = {row["market_id"]: row for row in body["order_book_details"]}
    spots = {row["market_id"]: row for row in body["spot_order_book_details"]}
    assert set(perps) == {0, 1, 2, *WIDE_IDS}
    assert set(spots) == {SPOT}
    assert all(row["market_type"] == "perp" for row in perps.values())
    sky = spots[SPOT]
    assert (sky["symbol"], sky["market_type"], sky["base_asset_id"]) == ("SKY/USDC", "spot", 8)
    assert (sky["size_decimals"], sky["price_decimals"]) == (1, 5)
    assert "maintenance_margin_fraction" not in sky and "funding_clamp_big" not in sky
    assert perps[2**40]["symbol"] == "WIDE"

    for kind, want in (("spot", {SPOT}), ("perp", {0, 1, 2, *WIDE_IDS})):
        async with http.get(wide.base_url + f"/api/v1/orderBooks?filter={kind}") as r:
            rows = (await r.json())["order_books"]
        assert {row["market_id"] for row in rows} == want
        assert {row["market_type"] for row in rows} == {kind}
    async with http.get(wide.base_url + f"/api/v1/orderBooks?market_id={2**40}") as r:
        assert [row["symbol"] for row in (await r.json())["order_books"]] == ["WIDE"]
    async with http.get(wide.base_url + "/api/v1/orderBookDetails?market_id=4097") as r:
        assert (r.status, (await r.json())["code"]) == (400, p.ERR_INVALID_MARKET_INDEX)
    async with http.get(wide.base_url + "/api/v1/funding-rates") as r:
        rates = (await r.json())["funding_rates"]
    assert SPOT not in {row["market_id"] for row in rates} and 40000 in {
        row["market_id"] for row in rates
    }
    async with http.get(wide.base_url + "/api/v1/assetDetails") as r:
        assets = {a["asset_id"]: a["symbol"] for a in (await r.json())["asset_details"]}
    assert assets[8] == "SKY" and assets[3] == "USDC"


async def test_sdk_models_parse_the_spot_rows(wide: LocalNode) -> None:
    api = lighter.ApiClient(lighter.Configuration(host=wide.base_url))
    try:
        details = await lighter.OrderApi(api).order_book_details()
        books = await lighter.OrderApi(api).order_books()
    finally:
        await api.close()
    assert [(d.market_id, d.symbol) for d in details.spot_order_book_details] == [
        (SPOT, "SKY/USDC")
    ]
    assert {d.market_id for d in details.order_book_details} >= set(WIDE_IDS)
    assert {(b.market_id, b.market_type) for b in books.order_books} >= {
        (SPOT, "spot"),
        (40000, "perp"),
    }


# --- txs signed by lighter-sdk for 64-bit ids ------------------------------------------------
@pytest.mark.parametrize("market", [*WIDE_IDS, SPOT])
async def test_sdk_create_modify_cancel_on_wide_ids(
    wide: LocalNode,
    acct: DevAccount,
    client: lighter.SignerClient,
    http: aiohttp.ClientSession,
    market: int,
) -> None:
    a, key, coi = acct.account_index, acct.api_key_index, 77
    price, size = _mid(market) - 50, _size(market)
    t, info, lib_hash, err = client.sign_create_order(
        market, coi, size, price, 0, 0, 1, nonce=0, api_key_index=key
    )
    assert err is None and orjson.loads(info)["MarketIndex"] == market
    status, body = await _send(http, wide, t, info)
    assert (status, body["code"]) == (200, 200), body
    assert body["tx_hash"] == lib_hash  # the node hashes the 64-bit id as the library does
    order = await eventually(lambda: wide.state.order_by_coi(a, coi))
    assert order["market_index"] == market and order["status"] == "open"
    assert order["market_kind"] == ("spot" if market == SPOT else "perps")
    assert (price, size) in wide.state.books[market]["bids"]

    t, info, lib_hash, err = client.sign_modify_order(
        market, coi, size * 2, price - 1, 0, nonce=1, api_key_index=key
    )
    assert err is None
    status, body = await _send(http, wide, t, info)
    assert (status, body["code"], body["tx_hash"]) == (200, 200, lib_hash), body
    await eventually(lambda: (price - 1, size * 2) in wide.state.books[market]["bids"])

    t, info, lib_hash, err = client.sign_cancel_order(market, coi, nonce=2, api_key_index=key)
    assert err is None
    status, body = await _send(http, wide, t, info)
    assert (status, body["code"], body["tx_hash"]) == (200, 200, lib_hash), body
    await eventually(lambda: (wide.state.order_by_coi(a, coi) or {}).get("status") == "canceled")
    assert (price - 1, size * 2) not in wide.state.books[market]["bids"]


async def test_sdk_client_trades_market_40000(
    wide: LocalNode, acct: DevAccount, client: lighter.SignerClient
) -> None:
    """The SDK's own create_order/cancel_order (nonce from the node) on market 40000."""
    a = acct.account_index
    _, resp, err = await client.create_order(
        market_index=40000,
        client_order_index=5,
        base_amount=_size(40000),
        price=_mid(40000) - 2,
        is_ask=False,
        order_type=client.ORDER_TYPE_LIMIT,
        time_in_force=client.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
    )
    assert err is None and resp.code == 200
    await eventually(lambda: (wide.state.order_by_coi(a, 5) or {}).get("status") == "open")
    _, resp, err = await client.cancel_order(market_index=40000, order_index=5)
    assert err is None and resp.code == 200
    await eventually(lambda: (wide.state.order_by_coi(a, 5) or {}).get("status") == "canceled")


async def test_unlisted_and_unsignable_ids_are_refused_and_consume_nothing(
    wide: LocalNode, acct: DevAccount, client: lighter.SignerClient, http: aiohttp.ClientSession
) -> None:
    key = acct.api_key_index
    # 4097 is signable but not listed: the node refuses it (21602) and keeps the nonce.
    t, info, _h, err = client.sign_create_order(
        4097, 1, 100, 1000, 0, 0, 1, nonce=0, api_key_index=key
    )
    assert err is None
    status, body = await _send(http, wide, t, info)
    assert (status, body["code"]) == (400, p.ERR_INVALID_MARKET_INDEX)
    # 255 and 2^48: the library refuses to sign them; a hand-made, validly signed tx with
    # either id is refused by the node the same way.
    for bad in (p.ALL_MARKETS, 2**48):
        assert client.sign_create_order(bad, 1, 100, 1000, 0, 0, 1, nonce=0, api_key_index=key)[3]
        assert client.sign_cancel_order(bad, 1, nonce=0, api_key_index=key)[3]
        edited = dict(orjson.loads(info), MarketIndex=bad)
        forged = resign(edited, acct.private_key, wide.chain_id, p.TX_TYPE_CREATE_ORDER)
        status, body = await _send(http, wide, p.TX_TYPE_CREATE_ORDER, forged)
        assert (status, body["code"]) == (400, p.ERR_INVALID_MARKET_INDEX)
    assert wide.state.nonces.get((acct.account_index, key), 0) == 0


async def test_cancel_all_of_one_wide_market(
    wide: LocalNode, acct: DevAccount, client: lighter.SignerClient, http: aiohttp.ClientSession
) -> None:
    a, key = acct.account_index, acct.api_key_index
    for nonce, market in enumerate((4098, 40000)):
        t, info, _h, err = client.sign_create_order(
            market, 10 + nonce, _size(market), _mid(market) - 3, 0, 0, 1,
            nonce=nonce, api_key_index=key,
        )  # fmt: skip
        assert err is None
        assert (await _send(http, wide, t, info))[1]["code"] == 200
    await eventually(lambda: all(wide.state.order_by_coi(a, c) for c in (10, 11)))
    t, info, lib_hash, err = client.sign_cancel_all_orders(
        p.CANCEL_ALL_NOW, 0, 40000, nonce=2, api_key_index=key
    )
    assert err is None and orjson.loads(info)["L2TxAttributes"] == {"5": 40000}
    status, body = await _send(http, wide, t, info)
    assert (status, body["code"], body["tx_hash"]) == (200, 200, lib_hash), body
    await eventually(lambda: (wide.state.order_by_coi(a, 11) or {}).get("status") == "canceled")
    assert wide.state.order_by_coi(a, 10)["status"] == "open"  # 4098 untouched


# --- streams ------------------------------------------------------------------------------------
@pytest.mark.parametrize("market", [4098, 40000, 2**40, SPOT])
async def test_book_and_account_streams_carry_wide_ids(
    wide: LocalNode,
    acct: DevAccount,
    client: lighter.SignerClient,
    http: aiohttp.ClientSession,
    market: int,
) -> None:
    ws = await open_ws(http, wide)
    frames: list[dict[str, Any]] = []

    async def read() -> None:
        async for msg in ws:
            frames.append(orjson.loads(msg.data))

    reader = asyncio.create_task(read())
    try:
        await send_json(ws, {"type": "subscribe", "channel": f"order_book/{market}"})
        snap = await eventually(
            lambda: next((f for f in frames if f.get("type") == "subscribed/order_book"), None)
        )
        assert snap["channel"] == f"order_book:{market}"
        token, err = client.create_auth_token_with_expiry(api_key_index=acct.api_key_index)
        assert err is None
        channel = f"account_all_orders/{acct.account_index}"
        await send_json(ws, {"type": "subscribe", "channel": channel, "auth": token})
        price, size = _mid(market) - 7, _size(market)
        t, info, _h, err = client.sign_create_order(
            market, 9, size, price, 0, 0, 1, nonce=0, api_key_index=acct.api_key_index
        )
        assert err is None
        assert (await _send(http, wide, t, info))[1]["code"] == 200
        level = {
            "price": SPECS[market].format_price(price),
            "size": SPECS[market].format_size(size),
        }

        def delta() -> dict[str, Any] | None:
            for f in frames:
                if f.get("type") == "update/order_book" and level in f["order_book"]["bids"]:
                    return f
            return None

        update = await eventually(delta)
        assert update["channel"] == f"order_book:{market}"

        def mine() -> list[dict[str, Any]]:
            return [
                o
                for f in frames
                if f.get("type") == "update/account_all_orders"
                for o in f["orders"].get(str(market), [])
            ]

        orders = await eventually(mine)
        assert orders[0]["market_index"] == market and orders[0]["client_order_index"] == 9
    finally:
        await ws.close()
        reader.cancel()


async def test_unlisted_wide_channel_is_invalid(
    wide: LocalNode, http: aiohttp.ClientSession
) -> None:
    ws = await open_ws(http, wide)
    try:
        await send_json(ws, {"type": "subscribe", "channel": "order_book/4097"})
        msg = orjson.loads((await asyncio.wait_for(ws.receive(), 3)).data)
        assert msg["error"]["code"] == p.ERR_INVALID_CHANNEL
    finally:
        await ws.close()


async def test_order_indexes_of_wide_markets_stay_signable(
    wide: LocalNode, acct: DevAccount, client: lighter.SignerClient, http: aiohttp.ClientSession
) -> None:
    """The live layout ((id + 1) << 48 | seq) would pass 2^60 from id 4095: those markets get a
    free 12-bit prefix, so every order index stays cancellable by index (2^48..2^60-1)."""
    a, key = acct.account_index, acct.api_key_index
    markets = (0, 2, *WIDE_IDS, SPOT)
    for nonce, market in enumerate(markets):
        t, info, _h, err = client.sign_create_order(
            market, 100 + nonce, _size(market), _mid(market) + 5, 1, 0, 1,
            nonce=nonce, api_key_index=key,
        )  # fmt: skip
        assert err is None
        assert (await _send(http, wide, t, info))[1]["code"] == 200
    orders = [
        await eventually(lambda c=100 + n: wide.state.order_by_coi(a, c))
        for n in range(len(markets))
    ]
    indexes = [o["order_index"] for o in orders]
    assert all(p.MIN_ORDER_INDEX <= i <= p.MAX_ORDER_INDEX for i in indexes)
    assert indexes[0] >> 48 == 1 and indexes[1] >> 48 == 3  # the live layout where it fits
    assert len({i >> 48 for i in indexes}) == len(markets)
    wide_order = orders[markets.index(2**40)]
    t, info, lib_hash, err = client.sign_cancel_order(
        2**40, wide_order["order_index"], nonce=len(markets), api_key_index=key
    )
    assert err is None
    status, body = await _send(http, wide, t, info)
    assert (status, body["code"], body["tx_hash"]) == (200, 200, lib_hash), body
    await eventually(
        lambda: (
            (wide.state.order_by_coi(a, wide_order["client_order_index"]) or {}).get("status")
            == "canceled"
        )
    )


# --- the node's hash of every market-carrying tx equals the library's -------------------------
@pytest.mark.parametrize("market", [2048, 4095, 4098, 40000, 2**40, 2**48 - 1])
async def test_node_hash_equals_the_library_for_every_market_tx(
    wide: LocalNode, acct: DevAccount, client: lighter.SignerClient, market: int
) -> None:
    """testnode.txhash reads MarketIndex (and the cancel-all market attribute) at full width."""
    from lighter.signer_client import CreateOrderTxReq

    from lighterfast.testnode.txhash import message_hash

    key = acct.api_key_index
    expiry = int(time.time() * 1000) + 86_400_000
    leg = CreateOrderTxReq(market, 3, 100, 1000, 0, 0, 1, 0, 0, expiry)
    stop = CreateOrderTxReq(market, 4, 0, 900, 1, 2, 0, 1, 900, expiry)  # OTO child
    signed = [
        client.sign_create_order(market, 1, 100, 1000, 0, 0, 1, nonce=1, api_key_index=key),
        client.sign_cancel_order(market, 1, nonce=2, api_key_index=key),
        client.sign_modify_order(market, 1, 200, 1001, 0, nonce=3, api_key_index=key),
        client.sign_cancel_all_orders(0, 0, market, nonce=4, api_key_index=key),
        client.sign_update_leverage(market, 1000, 0, nonce=5, api_key_index=key),
        client.sign_update_margin(market, 2**40 + 5, 1, nonce=6, api_key_index=key),
        client.sign_create_grouped_orders(1, [leg, stop], nonce=7, api_key_index=key),
    ]
    for tx_type, info, lib_hash, err in signed:
        assert err is None, err
        assert message_hash(wide.chain_id, tx_type, orjson.loads(info)) == lib_hash, tx_type
