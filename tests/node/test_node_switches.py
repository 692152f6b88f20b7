"""The node's switches for the unconfirmed behaviours of protocol §7, each observed over loopback
with plain aiohttp clients (defaults first, then the alternative)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from _helpers import frame_until, next_frame, open_ws, resign, send_json
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode


class Plain:
    """Plain HTTP + WS access to one node with one dev account and the SDK's signer."""

    def __init__(self, node: LocalNode, dev: DevAccount, http: aiohttp.ClientSession) -> None:
        self.node = node
        self.dev = dev
        self.http = http
        self.signer = lighter.SignerClient(
            url=node.base_url,
            account_index=dev.account_index,
            api_private_keys={dev.api_key_index: dev.private_key},
        )

    def order(self, nonce: int, price: int = 290_000, is_ask: bool = False) -> tuple[int, str]:
        tt, info, _, err = self.signer.sign_create_order(
            0, nonce + 1, 100, price, int(is_ask), 0, 1, nonce=nonce, api_key_index=4
        )
        assert err is None
        return tt, info

    async def send(self, nonce: int, price: int = 290_000, is_ask: bool = False) -> Any:
        tt, info = self.order(nonce, price, is_ask)
        form = {"tx_type": str(tt), "tx_info": info}
        async with self.http.post(self.node.base_url + "/api/v1/sendTx", data=form) as r:
            return r.status, await r.json()

    async def ws(self) -> aiohttp.ClientWebSocketResponse:
        return await open_ws(self.http, self.node)


async def _plain(**options: Any) -> AsyncIterator[Plain]:
    async with LocalNode(exec_latency_ms=0, **options) as node, aiohttp.ClientSession() as http:
        dev = await node.create_account(collateral=100_000)
        pl = Plain(node, dev, http)
        try:
            yield pl
        finally:
            await pl.signer.close()


@pytest.fixture
async def default() -> AsyncIterator[Plain]:
    async for pl in _plain():
        yield pl


async def test_strict_nonces_by_default(default: Plain) -> None:
    assert (await default.send(1))[0] == 400  # one ahead: 21104
    assert default.node.state.nonces[(default.dev.account_index, 4)] == 0


async def test_nonce_window_holds_txs_until_the_gap_fills() -> None:
    async for pl in _plain(nonce_window=16):
        lane = (pl.dev.account_index, 4)
        assert (await pl.send(17))[1]["code"] == 21104  # beyond the window
        status, body = await pl.send(2, 289_000)
        assert (status, body["code"]) == (200, 200)  # ahead by 2: accepted, waits
        assert (await pl.send(2))[1]["code"] == 21104  # replay of a waiting nonce
        await asyncio.sleep(0.1)
        assert pl.node.state.orders == {} and pl.node.state.nonces[lane] == 0
        assert (await pl.send(0, 290_000))[0] == 200
        await asyncio.sleep(0.1)
        assert len(pl.node.state.orders) == 1  # 2 still waits for 1
        # A batch [1, 2] would reuse the waiting nonce 2: refused, nothing consumed.
        batch = [pl.order(1, 287_000), pl.order(2, 286_000)]
        form = {
            "tx_types": orjson.dumps([t for t, _ in batch]).decode(),
            "tx_infos": orjson.dumps([i for _, i in batch]).decode(),
        }
        async with pl.http.post(pl.node.base_url + "/api/v1/sendTxBatch", data=form) as r:
            assert (r.status, (await r.json())["code"]) == (400, 21104)
        assert (await pl.send(1, 288_000))[0] == 200
        await asyncio.sleep(0.1)
        assert pl.node.state.nonces[lane] == 3
        assert pl.node.state.executed_nonce(*lane) == 3
        assert sorted(o["price"] for o in pl.node.state.orders.values()) == [
            "2880.00",
            "2890.00",
            "2900.00",
        ]


async def test_ws_tx_reply_fields_and_error_styles(default: Plain) -> None:
    ws = await default.ws()
    tt, info = default.order(0)
    await send_json(
        ws, {"type": "jsonapi/sendtx", "data": {"id": "a", "tx_type": tt, "tx_info": info}}
    )
    reply = await frame_until(ws, lambda f: f.get("id") == "a")
    assert set(reply) == {"code", "id", "predicted_execution_time_ms", "tx_hash", "type"}
    await send_json(
        ws, {"type": "jsonapi/sendtx", "data": {"id": "b", "tx_type": tt, "tx_info": info}}
    )
    assert await frame_until(ws, lambda f: f.get("id") == "b") == {
        "error": {"code": 21104, "message": "invalid nonce"},
        "id": "b",
    }
    default.node.ws_tx_reply_extras = True
    default.node.ws_tx_error_style = "typed"
    tt, info = default.order(1)
    await send_json(
        ws, {"type": "jsonapi/sendtx", "data": {"id": "c", "tx_type": tt, "tx_info": info}}
    )
    reply = await frame_until(ws, lambda f: f.get("id") == "c")
    assert reply["message"] == '{"ratelimit": "Ratelimit is off"}'
    assert reply["volume_quota_remaining"] == 1000
    await send_json(
        ws, {"type": "jsonapi/sendtx", "data": {"id": "d", "tx_type": tt, "tx_info": info}}
    )
    assert await frame_until(ws, lambda f: f.get("id") == "d") == {
        "type": "jsonapi/sendtx",
        "code": 21104,
        "message": "invalid nonce",
        "id": "d",
    }
    default.node.ws_tx_error_style = "type_error"
    await send_json(
        ws, {"type": "jsonapi/sendtx", "data": {"id": "e", "tx_type": tt, "tx_info": info}}
    )
    assert (await frame_until(ws, lambda f: f.get("id") == "e"))["type"] == "error"
    await ws.close()


async def test_ws_string_tx_info_switch() -> None:
    async for pl in _plain(ws_string_tx_info=False):
        ws = await pl.ws()
        tt, info = pl.order(0)
        await send_json(
            ws, {"type": "jsonapi/sendtx", "data": {"id": 1, "tx_type": tt, "tx_info": info}}
        )
        assert (await next_frame(ws))["error"]["code"] == 21501
        obj = orjson.loads(info)
        await send_json(
            ws, {"type": "jsonapi/sendtx", "data": {"id": 2, "tx_type": tt, "tx_info": obj}}
        )
        assert (await next_frame(ws))["code"] == 200
        await ws.close()


async def test_expired_tx_code_switch() -> None:
    async for pl in _plain(expired_tx_code=21711):
        tt, info, _, err = pl.signer.sign_create_order(
            0, 1, 100, 290_000, 0, 0, 1, nonce=0, api_key_index=4, order_expiry=-1
        )
        assert err is None
        obj = orjson.loads(info)
        obj["ExpiredAt"] = int(time.time() * 1000) - 1
        signed = resign(obj, pl.dev.private_key, pl.node.chain_id, tt)
        form = {"tx_type": str(tt), "tx_info": signed}
        async with pl.http.post(pl.node.base_url + "/api/v1/sendTx", data=form) as r:
            assert (r.status, (await r.json())["code"]) == (400, 21711)


async def test_private_channels_and_account_orders_channel_form() -> None:
    private = p.PRIVATE_CHANNELS | {p.CH_ACCOUNT_ALL}
    async for pl in _plain(private_channels=private, account_orders_channel="market"):
        a = pl.dev.account_index
        ws = await pl.ws()
        await send_json(ws, {"type": "subscribe", "channel": f"account_all/{a}"})
        assert (await next_frame(ws))["error"]["code"] == 20001
        token, _ = pl.signer.create_auth_token_with_expiry(api_key_index=4)
        await send_json(
            ws, {"type": "subscribe", "channel": f"account_orders/0/{a}", "auth": token}
        )
        snap = await next_frame(ws)
        assert snap["type"] == "subscribed/account_orders" and snap["channel"] == "account_orders:0"
        assert (await pl.send(0))[0] == 200
        upd = await frame_until(ws, lambda f: f.get("type") == "update/account_orders")
        assert upd["channel"] == "account_orders:0"
        await ws.close()


async def test_default_account_orders_channel_names_the_account(default: Plain) -> None:
    a = default.dev.account_index
    token, _ = default.signer.create_auth_token_with_expiry(api_key_index=4)
    ws = await default.ws()
    await send_json(ws, {"type": "subscribe", "channel": f"account_all/{a}"})  # public by default
    assert (await next_frame(ws))["type"] == "subscribed/account_all"
    await send_json(ws, {"type": "subscribe", "channel": f"account_orders/0/{a}", "auth": token})
    assert (await next_frame(ws))["channel"] == f"account_orders:0:{a}"
    await ws.close()


async def _position_update_markets(pl: Plain) -> list[set[str]]:
    """Fill on market 0 and then on 1 against a counterparty; the markets of each update."""
    node = pl.node
    a = pl.dev.account_index
    other = await node.create_account(collateral=100_000)
    o = lighter.SignerClient(
        url=node.base_url,
        account_index=other.account_index,
        api_private_keys={other.api_key_index: other.private_key},
    )
    token, _ = pl.signer.create_auth_token_with_expiry(api_key_index=4)
    ws = await pl.ws()
    await send_json(
        ws, {"type": "subscribe", "channel": f"account_all_positions/{a}", "auth": token}
    )
    await next_frame(ws)
    seen: list[set[str]] = []
    try:
        for n, m in enumerate((0, 1)):
            price = 290_000 if m == 0 else 600_000
            size = 100 if m == 0 else 1_000
            tt, info, _, err = o.sign_create_order(
                m, 100 + n, size, price, 1, 0, 1, nonce=n, api_key_index=4
            )
            assert err is None
            form = {"tx_type": str(tt), "tx_info": info}
            async with pl.http.post(node.base_url + "/api/v1/sendTx", data=form) as r:
                assert r.status == 200
            tt, info, _, err = pl.signer.sign_create_order(
                m, 200 + n, size, price, 0, 0, 1, nonce=n, api_key_index=4
            )
            assert err is None
            form = {"tx_type": str(tt), "tx_info": info}
            async with pl.http.post(node.base_url + "/api/v1/sendTx", data=form) as r:
                assert r.status == 200
            upd = await frame_until(ws, lambda f: f.get("type") == "update/account_all_positions")
            seen.append(set(upd["positions"]))
    finally:
        await o.close()
        await ws.close()
    return seen


async def test_position_updates_partial_by_default_full_when_switched(default: Plain) -> None:
    assert await _position_update_markets(default) == [{"0"}, {"1"}]
    async for pl in _plain(full_position_updates=True):
        assert await _position_update_markets(pl) == [{"0"}, {"0", "1"}]


async def test_expired_token_subscription_kept_by_default_cut_when_switched() -> None:
    async def case(cut: bool) -> None:
        async for pl in _plain(cut_expired_subscriptions=cut):
            a = pl.dev.account_index
            token, _ = pl.signer.create_auth_token_with_expiry(2, api_key_index=4)
            ws = await pl.ws()
            ch = f"account_all_orders/{a}"
            await send_json(ws, {"type": "subscribe", "channel": ch, "auth": token})
            assert (await next_frame(ws))["type"] == "subscribed/account_all_orders"
            await asyncio.sleep(2.4)  # the token's deadline (<= 2 s away) passes
            if cut:
                assert await next_frame(ws) == {
                    "error": {
                        "code": 20013,
                        "message": f"invalid auth: token expired: account_all_orders:{a}",
                    }
                }
            assert (await pl.send(0))[0] == 200
            await ws.send_str('{"type":"ping"}')
            got = await frame_until(
                ws, lambda f: f.get("type") in ("pong", "update/account_all_orders")
            )
            assert got["type"] == ("pong" if cut else "update/account_all_orders")
            await ws.close()

    # One after the other: both nodes number their first account 281, and lighter-sdk's Go
    # library keeps one key per (account, key index), so concurrent cases signed with each
    # other's key (caught once the node verified signatures).
    await case(False)
    await case(True)


async def test_switch_validation() -> None:
    with pytest.raises(ValueError, match="nonce_window"):
        LocalNode(nonce_window=-1)
    with pytest.raises(ValueError, match="ws_tx_error_style"):
        LocalNode(ws_tx_error_style="loud")
    with pytest.raises(ValueError, match="account_orders_channel"):
        LocalNode(account_orders_channel="x")
