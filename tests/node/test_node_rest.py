"""REST reads of the local node not covered by the SDK tests: COI lookup, filters, assets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import pytest

from lighterfast.testnode import DevAccount, LocalNode


@pytest.fixture
async def traded(node: LocalNode, funded_account: DevAccount) -> AsyncIterator[dict[str, Any]]:
    """funded_account sold 0.0100 ETH to a second account; one resting bid left (COI 3)."""
    other = await node.create_account(collateral=100_000)
    ca = lighter.SignerClient(
        url=node.base_url,
        account_index=funded_account.account_index,
        api_private_keys={4: funded_account.private_key},
    )
    cb = lighter.SignerClient(
        url=node.base_url,
        account_index=other.account_index,
        api_private_keys={4: other.private_key},
    )
    try:
        await ca.create_order(
            market_index=0, client_order_index=1, base_amount=100, price=300_000, is_ask=True,
            order_type=0, time_in_force=1,
        )  # fmt: skip
        await cb.create_order(
            market_index=0, client_order_index=2, base_amount=100, price=300_000, is_ask=False,
            order_type=0, time_in_force=0, order_expiry=0,
        )  # fmt: skip
        await ca.create_order(
            market_index=0, client_order_index=3, base_amount=100, price=290_000, is_ask=False,
            order_type=0, time_in_force=1,
        )  # fmt: skip
        token, _ = ca.create_auth_token_with_expiry()
        for _ in range(100):
            if len(node.state.orders) == 1:
                break
            await asyncio.sleep(0.01)
        yield {"a": funded_account.account_index, "b": other.account_index, "token": token}
    finally:
        await ca.close()
        await cb.close()


async def _get(node: LocalNode, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": token} if token else {}
    async with aiohttp.ClientSession(headers=headers) as s, s.get(node.base_url + path) as r:
        return r.status, await r.json()


async def test_account_orders_by_coi(node: LocalNode, traded: dict[str, Any]) -> None:
    a, token = traded["a"], traded["token"]
    status, body = await _get(
        node, f"/api/v1/accountOrders?account_index={a}&client_order_indexes=1,3,99", token
    )
    assert status == 200
    assert [(o["client_order_index"], o["status"]) for o in body["orders"]] == [
        (1, "filled"),
        (3, "open"),
    ]
    status, body = await _get(
        node, f"/api/v1/accountOrders?account_index={a}&client_order_indexes=", token
    )
    assert (status, body["code"]) == (400, 20001)


async def test_trades_role_and_inactive_filters(node: LocalNode, traded: dict[str, Any]) -> None:
    a, token = traded["a"], traded["token"]
    base = f"/api/v1/trades?sort_by=timestamp&limit=10&account_index={a}"
    assert len((await _get(node, base + "&role=maker", token))[1]["trades"]) == 1
    assert (await _get(node, base + "&role=taker", token))[1]["trades"] == []
    assert (await _get(node, base + "&market_id=1", token))[1]["trades"] == []
    status, body = await _get(node, "/api/v1/trades?sort_by=nope&limit=10")
    assert (status, body["code"]) == (400, 20001)
    public = (await _get(node, "/api/v1/trades?sort_by=trade_id&limit=10"))[1]["trades"]
    assert len(public) == 1 and public[0]["ask_account_id"] == a
    inactive = f"/api/v1/accountInactiveOrders?account_index={a}&limit=10"
    assert len((await _get(node, inactive + "&ask_filter=1", token))[1]["orders"]) == 1
    assert (await _get(node, inactive + "&ask_filter=0", token))[1]["orders"] == []


async def test_account_lookups_and_limits(node: LocalNode, traded: dict[str, Any]) -> None:
    a, b, token = traded["a"], traded["b"], traded["token"]
    _, body = await _get(node, f"/api/v1/account?by=index&value={b}")
    acct = body["accounts"][0]
    assert acct["positions"][0]["position"] == "0.0100" and acct["positions"][0]["sign"] == 1
    _, by_l1 = await _get(node, f"/api/v1/account?by=l1_address&value={acct['l1_address']}")
    assert by_l1["accounts"][0]["index"] == b
    assert (await _get(node, "/api/v1/account?by=index&value=x"))[0] == 400
    assert (await _get(node, "/api/v1/account?by=name&value=x"))[1]["code"] == 20001
    status, limits = await _get(node, f"/api/v1/accountLimits?account_index={a}", token)
    assert status == 200 and limits["user_tier"] == "standard"
    assert (await _get(node, "/api/v1/apikeys?account_index=" + str(a) + "&api_key_index=9"))[1][
        "code"
    ] == 21109


async def test_market_reference_endpoints(node: LocalNode, traded: dict[str, Any]) -> None:
    _, assets = await _get(node, "/api/v1/assetDetails")
    assert {a["symbol"] for a in assets["asset_details"]} >= {"USDC", "ETH"}
    _, height = await _get(node, "/api/v1/currentHeight")
    assert height["height"] > 1000
    _, stats = await _get(node, "/api/v1/exchangeStats")
    eth = stats["order_book_stats"][0]
    assert (eth["symbol"], eth["daily_trades_count"], eth["last_trade_price"]) == ("ETH", 1, 3000.0)
    _, rates = await _get(node, "/api/v1/funding-rates")
    assert [r["symbol"] for r in rates["funding_rates"]] == ["ETH", "BTC", "SOL"]
    _, info = await _get(node, "/info")
    assert info["contract_address"].startswith("0x")
