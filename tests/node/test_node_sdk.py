"""The local node driven by the official lighter-sdk, unchanged, over real loopback sockets."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import lighter.models as lm
import pytest

from _helpers import eventually, sdk_client
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0


@pytest.fixture
async def client(
    node: LocalNode, funded_account: DevAccount
) -> AsyncIterator[lighter.SignerClient]:
    c = sdk_client(node, funded_account)
    yield c
    await c.close()


async def test_root_reports_chain_id(node: LocalNode) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(node.base_url + "/") as r:
            assert r.status == 200
            body = await r.json()
    assert body["network_id"] == 304 == node.chain_id
    api = lighter.ApiClient(lighter.Configuration(host=node.base_url))
    try:
        status = await lighter.RootApi(api).status()
        info = await lighter.RootApi(api).info()
    finally:
        await api.close()
    assert status.network_id == 304
    assert info.contract_address.startswith("0x")


async def test_check_client_passes_and_detects_wrong_key(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    assert await asyncio.to_thread(client.check_client) is None
    other = await node.create_account(collateral=1)
    wrong = lighter.SignerClient(
        url=node.base_url,
        account_index=funded_account.account_index,
        api_private_keys={5: other.private_key},
    )
    try:
        err = await asyncio.to_thread(wrong.check_client)
    finally:
        await wrong.close()
    assert err is not None  # key slot 5 is not registered for this account


async def test_sdk_create_modify_cancel_cancel_all(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    a = funded_account.account_index
    _, resp, err = await client.create_order(
        market_index=ETH,
        client_order_index=101,
        base_amount=100,
        price=300_000,
        is_ask=False,
        order_type=client.ORDER_TYPE_LIMIT,
        time_in_force=client.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
    )
    assert err is None and resp.code == 200 and len(resp.tx_hash) == 80
    await eventually(lambda: (node.state.order_by_coi(a, 101) or {}).get("status") == "open")
    assert node.state.books[ETH]["bids"] == [(300_000, 100)]

    _, resp, err = await client.modify_order(
        market_index=ETH, order_index=101, base_amount=60, price=300_100
    )
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.books[ETH]["bids"] == [(300_100, 60)])

    _, resp, err = await client.create_order(
        market_index=ETH,
        client_order_index=102,
        base_amount=100,
        price=310_000,
        is_ask=True,
        order_type=client.ORDER_TYPE_LIMIT,
        time_in_force=client.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
    )
    assert err is None
    _, resp, err = await client.cancel_order(market_index=ETH, order_index=101)
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.order_by_coi(a, 101)["status"] == "canceled")

    _, resp, err = await client.cancel_all_orders(
        time_in_force=client.CANCEL_ALL_TIF_IMMEDIATE, timestamp_ms=0
    )
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.order_by_coi(a, 102)["status"] == "canceled")
    assert node.state.books[ETH] == {"bids": [], "asks": [], "nonce": node.state.books[0]["nonce"]}
    # The SDK's nonce manager used 0..4 on key 4, all accepted.
    assert node.state.nonces[(a, funded_account.api_key_index)] == 5
    assert node.state.executed_nonce(a, funded_account.api_key_index) == 5


async def test_sdk_apis_parse_into_models(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    a = funded_account.account_index
    maker = await node.create_account(collateral=100_000)
    mclient = sdk_client(node, maker)
    try:
        _, r, err = await mclient.create_order(
            market_index=ETH,
            client_order_index=7,
            base_amount=200,
            price=300_000,
            is_ask=True,
            order_type=0,
            time_in_force=1,
        )
        assert err is None
        _, r, err = await client.create_order(
            market_index=ETH,
            client_order_index=8,
            base_amount=50,
            price=300_500,
            is_ask=False,
            order_type=0,
            time_in_force=0,
            order_expiry=0,
        )
        assert err is None
        tx_hash = r.tx_hash
        await eventually(lambda: node.state.order_by_coi(a, 8)["status"] == "filled")
        token, err = client.create_auth_token_with_expiry()
        assert err is None

        order_api = lighter.OrderApi(client.api_client)
        account_api = lighter.AccountApi(client.api_client)
        tx_api = lighter.TransactionApi(client.api_client)

        books = await order_api.order_books()
        assert [b.symbol for b in books.order_books] == ["ETH", "BTC", "SOL"]
        details = await order_api.order_book_details(market_id=ETH)
        d = details.order_book_details[0]
        assert (d.size_decimals, d.price_decimals, d.min_base_amount) == (4, 2, "0.0050")
        assert d.last_trade_price == 3000.0
        ob = await order_api.order_book_orders(market_id=ETH, limit=10)
        assert ob.total_asks == 1 and ob.asks[0].remaining_base_amount == "0.0150"
        recent = await order_api.recent_trades(market_id=ETH, limit=10)
        assert recent.trades[0].size == "0.0050" and recent.trades[0].price == "3000.00"
        assert recent.trades[0].bid_client_id == 8 and recent.trades[0].ask_client_id == 7
        mine = await order_api.trades(
            sort_by="trade_id", limit=10, account_index=a, authorization=token
        )
        assert len(mine.trades) == 1 and mine.trades[0].bid_account_id == a
        active = await order_api.account_active_orders(
            authorization=token, account_index=a, market_id=ETH
        )
        assert active.orders == []
        inactive = await order_api.account_inactive_orders(
            authorization=token, account_index=a, limit=10
        )
        assert inactive.orders[0].status == "filled"
        assert inactive.orders[0].client_order_index == 8
        accounts = await account_api.account(by="index", value=str(a))
        acc = accounts.accounts[0]
        assert acc.index == a and acc.positions[0].position == "0.0050"
        assert acc.positions[0].sign == 1
        keys = await account_api.apikeys(account_index=a, api_key_index=4)
        assert keys.api_keys[0].public_key == funded_account.public_key.removeprefix("0x")
        nonce = await tx_api.next_nonce(account_index=a, api_key_index=4)
        assert nonce.nonce == 1
        tx = await tx_api.tx(by="hash", value=tx_hash)
        assert tx.status == 2 and tx.type == p.TX_TYPE_CREATE_ORDER and tx.account_index == a
    finally:
        await mclient.close()


async def test_rest_shapes_validate_strictly(node: LocalNode, funded_account: DevAccount) -> None:
    """Raw REST bodies validate against the SDK's pydantic models (not just from_dict)."""
    client = sdk_client(node, funded_account)
    try:
        await client.create_order(
            market_index=ETH,
            client_order_index=1,
            base_amount=100,
            price=290_000,
            is_ask=False,
            order_type=0,
            time_in_force=1,
        )
        token, _ = client.create_auth_token_with_expiry()
    finally:
        await client.close()
    a = funded_account.account_index
    base = node.base_url + "/api/v1/"
    async with aiohttp.ClientSession(headers={"Authorization": token}) as s:

        async def get(path: str) -> Any:
            async with s.get(base + path) as r:
                assert r.status == 200, await r.text()
                return await r.json()

        await eventually(lambda: bool(node.state.orders))
        lm.OrderBooks.model_validate(await get("orderBooks"))
        lm.OrderBookDetails.model_validate(await get("orderBookDetails"))
        lm.OrderBookOrders.model_validate(await get("orderBookOrders?market_id=0&limit=5"))
        orders = await get(f"accountActiveOrders?account_index={a}&market_id=0")
        lm.Orders.model_validate(orders)
        assert orders["orders"][0]["integrator_fee_collector_index"] == "0"
        lm.DetailedAccounts.model_validate(await get(f"account?by=index&value={a}"))
        lm.AccountApiKeys.model_validate(await get(f"apikeys?account_index={a}"))
        lm.NextNonce.model_validate(await get(f"nextNonce?account_index={a}&api_key_index=4"))


async def test_sdk_ws_client_receives_snapshot_and_updates(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    seen: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    got_level = threading.Event()

    def on_book(market_id: str, state: dict[str, Any]) -> None:
        seen.append({"market": market_id, "bids": list(state["bids"])})
        if any(b["price"] == "3001.00" for b in state["bids"]):
            got_level.set()

    ws_client = lighter.WsClient(
        ws_url=node.ws_url,
        order_book_ids=[ETH],
        account_ids=[funded_account.account_index],
        on_order_book_update=on_book,
        on_account_update=lambda a, m: accounts.append(m),
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ws_client.run()
        except BaseException as exc:  # closed by the test; record anything else
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        await eventually(lambda: len(seen) >= 1 and len(accounts) >= 1)
        assert seen[0] == {"market": "0", "bids": []}
        _, _, err = await client.create_order(
            market_index=ETH,
            client_order_index=55,
            base_amount=100,
            price=300_100,
            is_ask=False,
            order_type=0,
            time_in_force=1,
        )
        assert err is None
        assert await asyncio.to_thread(got_level.wait, 3.0)
        await eventually(lambda: len(accounts) >= 2)
        assert accounts[0]["type"] == "subscribed/account_all"
    finally:
        if ws_client.ws is not None:
            await asyncio.to_thread(ws_client.ws.close)  # blocks until the node answers
        await asyncio.to_thread(thread.join, 3.0)
    assert not thread.is_alive()


async def test_order_shows_on_book_orders_and_trades_channels(
    node: LocalNode, funded_account: DevAccount, ws_probe: Any
) -> None:
    a = funded_account.account_index
    taker = await node.create_account(collateral=100_000)
    b = taker.account_index
    ca, cb = sdk_client(node, funded_account), sdk_client(node, taker)
    try:
        ta, _ = ca.create_auth_token_with_expiry()
        tb, _ = cb.create_auth_token_with_expiry()
        probe = await ws_probe()
        await probe.send({"type": "subscribe", "channel": "order_book/0"})
        await probe.send({"type": "subscribe", "channel": "trade/0"})
        await probe.send({"type": "subscribe", "channel": f"account_all_orders/{a}", "auth": ta})
        await probe.send({"type": "subscribe", "channel": f"account_all_trades/{a}", "auth": ta})
        await probe.send({"type": "subscribe", "channel": f"account_all_trades/{b}", "auth": tb})
        snap = await probe.expect(lambda f: f.get("type") == "subscribed/order_book")
        assert snap["order_book"]["begin_nonce"] == 0
        orders_snap = await probe.expect(lambda f: f.get("type") == "subscribed/account_all_orders")
        assert orders_snap["orders"] == {}
        await probe.expect(lambda f: f.get("channel") == f"account_all_trades:{b}")

        _, _, err = await ca.create_order(
            market_index=ETH,
            client_order_index=900,
            base_amount=100,
            price=300_000,
            is_ask=True,
            order_type=0,
            time_in_force=1,
        )
        assert err is None
        delta = await probe.expect(
            lambda f: f.get("type") == "update/order_book" and f["order_book"]["asks"]
        )
        assert delta["order_book"]["asks"] == [{"price": "3000.00", "size": "0.0100"}]
        assert delta["order_book"]["begin_nonce"] == snap["order_book"]["nonce"]
        opened = await probe.expect(
            lambda f: (
                f.get("type") == "update/account_all_orders"
                and f["orders"]["0"][0]["status"] == "open"
            )
        )
        order = opened["orders"]["0"][0]
        assert order["client_order_index"] == 900 and order["order_index"] >= 2**48

        _, _, err = await cb.create_market_order(
            market_index=ETH,
            client_order_index=901,
            base_amount=40,
            avg_execution_price=301_000,
            is_ask=False,
        )
        assert err is None
        trade = await probe.expect(lambda f: f.get("type") == "update/trade")
        t = trade["trades"][0]
        assert (t["ask_account_id"], t["bid_account_id"], t["size"]) == (a, b, "0.0040")
        assert t["ask_id"] == order["order_index"] and t["ask_client_id"] == 900
        assert t["is_maker_ask"] is True
        for acct in (a, b):
            fill = await probe.expect(
                lambda f, acct=acct: (
                    f.get("type") == "update/account_all_trades"
                    and f["channel"] == f"account_all_trades:{acct}"
                )
            )
            assert fill["trades"]["0"][0]["trade_id"] == t["trade_id"]
        partial = await probe.expect(
            lambda f: (
                f.get("type") == "update/account_all_orders"
                and f["orders"]["0"][0]["remaining_base_amount"] == "0.0060"
            )
        )
        assert partial["orders"]["0"][0]["filled_base_amount"] == "0.0040"
        assert node.state.positions[(a, ETH)]["size"] == -40
        assert node.state.positions[(b, ETH)]["size"] == 40
    finally:
        await ca.close()
        await cb.close()


async def test_sdk_grouped_otoco(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    from lighter.signer_client import CreateOrderTxReq

    a = funded_account.account_index
    expiry = int(time.time() * 1000) + 7 * 86_400_000
    orders = [
        CreateOrderTxReq(ETH, 41, 100, 300_000, 0, 0, 1, 0, 0, expiry),
        CreateOrderTxReq(ETH, 42, 0, 290_000, 1, 2, 0, 1, 290_000, expiry),
        CreateOrderTxReq(ETH, 43, 0, 310_000, 1, 4, 0, 1, 310_000, expiry),
    ]
    _, resp, err = await client.create_grouped_orders(3, orders)
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.order_by_coi(a, 43) is not None)
    parent = node.state.order_by_coi(a, 41)
    sl, tp = node.state.order_by_coi(a, 42), node.state.order_by_coi(a, 43)
    assert parent["status"] == "open"
    assert (sl["status"], sl["type"], sl["trigger_status"]) == (
        "pending",
        "stop-loss",
        "parent-order",
    )
    assert (tp["type"], tp["trigger_price"]) == ("take-profit", "3100.00")
    assert sl["parent_order_index"] == parent["order_index"]
    assert sl["to_cancel_order_id_0"] == str(tp["order_index"])


async def test_sdk_nonce_manager_recovers_from_invalid_nonce(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    a = funded_account.account_index
    args = dict(market_index=ETH, base_amount=100, price=290_000, is_ask=False, order_type=0,
                time_in_force=1)  # fmt: skip
    _, resp, err = await client.create_order(client_order_index=1, **args)
    assert err is None
    node.faults.force_next_tx_error(p.ERR_INVALID_NONCE)
    _, resp, err = await client.create_order(client_order_index=2, **args)
    assert resp is None and err is not None and "invalid nonce" in err
    # The SDK re-read nextNonce and continues on the node's lane without a gap.
    _, resp, err = await client.create_order(client_order_index=3, **args)
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.order_by_coi(a, 3) is not None)
    assert node.state.order_by_coi(a, 2) is None
    assert node.state.nonces[(a, 4)] == 2
