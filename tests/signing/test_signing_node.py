"""What SdkSigner signs is accepted and executed by the local node, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from lighterfast import protocol as P
from lighterfast.signing import GroupedOrder, SdkSigner, SignedTx
from lighterfast.signing.auth import AuthTokenProvider
from lighterfast.testnode import DevAccount, LocalNode


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


@pytest.fixture
async def signer(node: LocalNode, funded_account: DevAccount) -> AsyncIterator[SdkSigner]:
    acct = funded_account
    s = await SdkSigner.create(
        acct.account_index, {acct.api_key_index: acct.private_key}, base_url=node.base_url
    )
    yield s
    s.close()


async def send(http: aiohttp.ClientSession, node: LocalNode, tx: SignedTx) -> dict[str, Any]:
    form = {"tx_type": str(tx.tx_type), "tx_info": tx.tx_info}
    async with http.post(node.base_url + "/api/v1/sendTx", data=form) as resp:
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
    assert body["tx_hash"] == tx.tx_hash  # the node hashes exactly what was signed
    return body


async def next_nonce(http: aiohttp.ClientSession, node: LocalNode, acct: DevAccount) -> int:
    params = {"account_index": acct.account_index, "api_key_index": acct.api_key_index}
    async with http.get(node.base_url + "/api/v1/nextNonce", params=params) as resp:
        nonce: int = (await resp.json())["nonce"]
        return nonce


async def order_status(node: LocalNode, acct: DevAccount, coi: int, want: str) -> dict[str, Any]:
    """Wait (bounded) until the node shows the order with status `want`."""
    for _ in range(200):
        order = node.state.order_by_coi(acct.account_index, coi)
        if order is not None and order["status"] == want:
            return order
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {coi} never reached {want}: {order}")


async def test_node_accepts_every_order_tx_type(
    node: LocalNode, funded_account: DevAccount, signer: SdkSigner, http: aiohttp.ClientSession
) -> None:
    acct = funded_account
    key = acct.api_key_index
    assert signer.chain_id == node.chain_id
    nonce = await next_nonce(http, node, acct)

    def bid(coi: int, price: int, **over: Any) -> dict[str, Any]:
        kw: dict[str, Any] = dict(
            market_index=0, client_order_index=coi, base_amount=100, price=price, is_ask=False,
            order_type=P.ORDER_TYPE_LIMIT, time_in_force=P.TIF_GTT, api_key_index=key,
        )  # fmt: skip
        kw.update(over)
        return kw

    # create (sync API) → open
    body = await send(http, node, signer.sign_create_order(**bid(101, 150000), nonce=nonce))
    assert body["code"] == 200
    await order_status(node, acct, 101, P.STATUS_OPEN)
    # modify (async API) by COI → new price
    tx = await signer.asign_modify_order(
        market_index=0, order_index=101, base_amount=70, price=150100, nonce=nonce + 1,
        api_key_index=key,
    )  # fmt: skip
    await send(http, node, tx)
    for _ in range(200):
        order = node.state.order_by_coi(acct.account_index, 101)
        if order is not None and order["price"] == "1501.00":
            break
        await asyncio.sleep(0.01)
    assert order is not None and order["price"] == "1501.00"
    # cancel by COI → canceled
    tx = await signer.asign_cancel_order(
        market_index=0, order_index=101, nonce=nonce + 2, api_key_index=key
    )
    await send(http, node, tx)
    await order_status(node, acct, 101, P.STATUS_CANCELED)
    # OTO group: a resting limit parent with a stop-loss child
    expiry = int(time.time() * 1000) + 3_600_000
    tx = await signer.asign_create_grouped_orders(
        grouping_type=1,
        orders=[
            GroupedOrder(0, 102, 100, 150000, False, P.ORDER_TYPE_LIMIT, P.TIF_GTT,
                         order_expiry=expiry),
            GroupedOrder(0, 103, 0, 140000, True, P.ORDER_TYPE_STOP_LOSS, P.TIF_IOC,
                         reduce_only=True, trigger_price=140000, order_expiry=expiry),
        ],
        nonce=nonce + 3,
        api_key_index=key,
    )  # fmt: skip
    await send(http, node, tx)
    await order_status(node, acct, 102, P.STATUS_OPEN)
    # cancel all → the parent goes away
    tx = await signer.asign_cancel_all_orders(
        time_in_force=P.CANCEL_ALL_NOW, time=0, nonce=nonce + 4, api_key_index=key
    )
    await send(http, node, tx)
    await order_status(node, acct, 102, P.STATUS_CANCELED)
    assert await next_nonce(http, node, acct) == nonce + 5


async def test_node_accepts_a_signed_batch(
    node: LocalNode, funded_account: DevAccount, signer: SdkSigner, http: aiohttp.ClientSession
) -> None:
    acct = funded_account
    nonce = await next_nonce(http, node, acct)
    requests = [
        ("create_order", dict(
            market_index=1, client_order_index=200 + i, base_amount=60, price=200000 + i,
            is_ask=False, order_type=P.ORDER_TYPE_LIMIT, time_in_force=P.TIF_POST_ONLY,
            nonce=nonce + i, api_key_index=acct.api_key_index,
        ))
        for i in range(15)
    ]  # fmt: skip
    signed = await signer.asign_many(requests)
    form = {
        "tx_types": json.dumps([tx.tx_type for tx in signed]),
        "tx_infos": json.dumps([tx.tx_info for tx in signed]),
    }
    async with http.post(node.base_url + "/api/v1/sendTxBatch", data=form) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    assert body["code"] == 200 and body["tx_hash"] == [tx.tx_hash for tx in signed]
    for i in range(15):
        await order_status(node, acct, 200 + i, P.STATUS_OPEN)


async def test_node_accepts_auth_tokens(
    node: LocalNode, funded_account: DevAccount, signer: SdkSigner, http: aiohttp.ClientSession
) -> None:
    acct = funded_account
    url = node.base_url + "/api/v1/accountActiveOrders"
    params = {"account_index": acct.account_index, "market_id": 0}
    async with AuthTokenProvider(signer, acct.api_key_index) as tokens:
        token = await tokens.get()
        async with http.get(url, params=params, headers={"Authorization": token}) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["code"] == 200, body
            assert body["orders"] == []
    # a token for the wrong account is refused: the check is real
    other = await node.create_account(collateral=10)
    with SdkSigner(other.account_index, {other.api_key_index: other.private_key}) as s2:
        bad = await s2.acreate_auth_token(int(time.time()) + 600, other.api_key_index)
    async with http.get(url, params=params, headers={"Authorization": bad}) as resp:
        assert resp.status == 401
