"""lighter-sdk's own trading helpers, unchanged, against the local node (signatures verified):
take-profit / stop-loss orders, grouped orders, leverage, margin and the scheduled / aborted
cancel-all of the dead-man switch."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from _helpers import eventually, make_dealer, sdk_client
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0


@pytest.fixture
async def client(
    node: LocalNode, funded_account: DevAccount
) -> AsyncIterator[lighter.SignerClient]:
    assert node.signature_verifier is not None  # verification stays on
    c = sdk_client(node, funded_account)
    yield c
    await c.close()


async def set_mark(node: LocalNode, price: int) -> None:
    async with aiohttp.ClientSession() as http:
        body = orjson.dumps({"market_index": ETH, "price": price})
        async with http.post(node.base_url + "/dev/v1/mark_price", data=body) as resp:
            assert resp.status == 200


def order(node: LocalNode, acct: DevAccount, coi: int) -> dict[str, Any]:
    found = node.state.order_by_coi(acct.account_index, coi)
    assert found is not None
    return found


async def long_position(node: LocalNode, acct: DevAccount, client: lighter.SignerClient) -> None:
    """Buy 0.01 ETH at 3000 from another account's ask (a position to protect)."""
    other = await node.create_account(collateral=100_000)
    async with await make_dealer(node, other) as maker:
        await maker.create_limit_order(3000, -0.01)
        await maker.flush()
        _, resp, err = await client.create_market_order(ETH, 7, 100, 301_000, False)
        assert err is None and resp.code == 200
        await eventually(lambda: node.state.positions.get((acct.account_index, ETH)))


async def test_sdk_tp_and_sl_orders_trigger_on_mark(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    await long_position(node, funded_account, client)
    _, resp, err = await client.create_tp_order(ETH, 21, 100, 310_000, 300_000, True, True)
    assert err is None and resp.code == 200
    _, resp, err = await client.create_sl_order(ETH, 22, 100, 290_000, 280_000, True, True)
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.order_by_coi(funded_account.account_index, 22))
    tp, sl = order(node, funded_account, 21), order(node, funded_account, 22)
    assert (tp["type"], tp["status"]) == ("take-profit", "pending")
    assert (sl["type"], sl["status"]) == ("stop-loss", "pending")
    other = await node.create_account(collateral=100_000)
    async with await make_dealer(node, other) as maker:
        await maker.create_limit_order(3050, 0.01)
        await maker.flush()
        await set_mark(node, 310_000)
        await eventually(lambda: order(node, funded_account, 21)["status"] == "filled")
    assert node.state.positions[(funded_account.account_index, ETH)]["size"] == 0
    assert order(node, funded_account, 22)["status"] == "pending"  # not in an OCO: stays


async def test_sdk_grouped_oco_closes_position(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    from lighter.signer_client import CreateOrderTxReq

    await long_position(node, funded_account, client)
    expiry = int(time.time() * 1000) + 7 * 86_400_000
    orders = [
        CreateOrderTxReq(ETH, 31, 100, 280_000, 1, 2, 0, 1, 290_000, expiry),
        CreateOrderTxReq(ETH, 32, 100, 300_000, 1, 4, 0, 1, 310_000, expiry),
    ]
    _, resp, err = await client.create_grouped_orders(2, orders)
    assert err is None and resp.code == 200
    await eventually(lambda: node.state.order_by_coi(funded_account.account_index, 32))
    other = await node.create_account(collateral=100_000)
    async with await make_dealer(node, other) as maker:
        await maker.create_limit_order(2850, 0.01)
        await maker.flush()
        await set_mark(node, 289_000)
        await eventually(lambda: order(node, funded_account, 31)["status"] == "filled")
    assert order(node, funded_account, 32)["status"] == p.STATUS_CANCELED_OCO


async def test_sdk_update_leverage_and_margin(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    a = funded_account.account_index
    _, resp, err = await client.update_leverage(ETH, client.ISOLATED_MARGIN_MODE, 10)
    assert err is None and resp.code == 200
    acct = node.accounts.accounts[a]
    await eventually(lambda: acct.positions.get(ETH) and acct.positions[ETH].margin_mode == 1)
    assert acct.positions[ETH].initial_margin_fraction == 1000
    before = acct.collateral
    _, resp, err = await client.update_margin(ETH, 25.5, 1)
    assert err is None and resp.code == 200
    await eventually(lambda: acct.collateral == before - 25_500_000)
    _, resp, err = await client.update_leverage(ETH, client.CROSS_MARGIN_MODE, 200)  # > 100x
    assert err is None and resp.code == 200  # accepted; refused at execution (ae 21113)
    record = node.tx_records[resp.tx_hash]
    await eventually(lambda: record["status"] == 2)
    assert "21113" in record["event_info"]
    assert acct.positions[ETH].margin_mode == 1


async def test_sdk_cancel_all_scheduled_then_abort(
    node: LocalNode, funded_account: DevAccount, client: lighter.SignerClient
) -> None:
    acct = node.accounts.accounts[funded_account.account_index]
    when = int(time.time() * 1000) + 10 * 60_000
    _, resp, err = await client.cancel_all_orders(client.CANCEL_ALL_TIF_SCHEDULED, when)
    assert err is None and resp.code == 200
    await eventually(lambda: acct.cancel_all_time == when)
    _, resp, err = await client.cancel_all_orders(client.CANCEL_ALL_TIF_ABORT, 0)
    assert err is None and resp.code == 200
    await eventually(lambda: acct.cancel_all_time == 0)
    soon = int(time.time() * 1000) + 10_000  # inside the venue's 5-minute minimum
    _, resp, err = await client.cancel_all_orders(client.CANCEL_ALL_TIF_SCHEDULED, soon)
    assert resp is None and err is not None and "21714" in str(err)
