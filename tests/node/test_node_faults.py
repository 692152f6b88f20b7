"""Every fault of the local node, triggered through `POST /dev/v1/faults` and observed by plain
aiohttp HTTP / WebSocket clients (not lighterfast's own), so the node's side stands alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from _helpers import frame_until, next_frame, open_ws, send_json
from lighterfast.testnode import LocalNode

TOO_MANY = {"code": 23000, "message": "Too Many Requests!"}
BAD_NONCE = {"code": 21104, "message": "invalid nonce"}


class Client:
    """A plain client: aiohttp session, a dev account made over HTTP, the SDK's signer."""

    def __init__(self, node: LocalNode, http: aiohttp.ClientSession, dev: dict[str, Any]) -> None:
        self.node = node
        self.http = http
        self.account = dev["account_index"]
        self.signer = lighter.SignerClient(
            url=node.base_url,
            account_index=dev["account_index"],
            api_private_keys={dev["api_key_index"]: dev["private_key"]},
        )

    def order(self, nonce: int, price: int = 290_000, is_ask: bool = False) -> dict[str, str]:
        tt, info, _, err = self.signer.sign_create_order(
            0, nonce + 1, 100, price, int(is_ask), 0, 1, nonce=nonce, api_key_index=4
        )
        assert err is None
        return {"tx_type": str(tt), "tx_info": info}

    async def send(self, form: dict[str, str]) -> tuple[int, Any]:
        async with self.http.post(self.node.base_url + "/api/v1/sendTx", data=form) as r:
            return r.status, await r.json(content_type=None)

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.node.base_url + "/api/v1/" + path) as r:
            return r.status, await r.json(content_type=None)

    async def fault(self, **body: Any) -> tuple[int, Any]:
        async with self.http.post(self.node.base_url + "/dev/v1/faults", json=body) as r:
            return r.status, await r.json()

    async def ws(self) -> aiohttp.ClientWebSocketResponse:
        return await open_ws(self.http, self.node)


@pytest.fixture
async def client(node: LocalNode) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        async with http.post(node.base_url + "/dev/v1/accounts", json={"collateral": 1e5}) as r:
            dev = await r.json()
        c = Client(node, http, dev)
        yield c
        await c.signer.close()


async def test_gap_drop_next_delta(client: Client) -> None:
    ws = await client.ws()
    await send_json(ws, {"type": "subscribe", "channel": "order_book/0"})
    snap = (await frame_until(ws, "subscribed/order_book"))["order_book"]
    assert await client.fault(fault="drop_book_delta", market_index=0) == (
        200,
        {"code": 200, "fault": "drop_book_delta"},
    )
    assert (await client.send(client.order(0, 290_000)))[0] == 200
    await asyncio.sleep(0.15)  # one book tick: this delta is dropped
    assert (await client.send(client.order(1, 289_000)))[0] == 200
    delta = (await frame_until(ws, "update/order_book"))["order_book"]
    assert delta["begin_nonce"] > snap["nonce"]  # the chain has a hole: a gap
    assert [b["price"] for b in delta["bids"]] == ["2890.00"]
    await ws.close()


async def test_duplicate_next_delta(client: Client) -> None:
    ws = await client.ws()
    await send_json(ws, {"type": "subscribe", "channel": "order_book/0"})
    await frame_until(ws, "subscribed/order_book")
    assert (await client.fault(fault="duplicate_book_delta", market_index=0))[0] == 200
    assert (await client.send(client.order(0)))[0] == 200
    first = await frame_until(ws, "update/order_book")
    second = await next_frame(ws)
    assert second == first
    await ws.close()


async def test_stall_and_resume(client: Client) -> None:
    ws = await client.ws()
    assert (await client.fault(fault="stall"))[0] == 200
    await ws.send_str('{"type":"ping"}')
    with pytest.raises(asyncio.TimeoutError):
        await next_frame(ws, timeout=0.2)
    assert (await client.fault(fault="stall", on=False))[0] == 200
    assert await next_frame(ws) == {"type": "pong"}
    await ws.close()


async def test_stall_and_close_one_session(client: Client) -> None:
    quiet = await client.http.ws_connect(client.node.ws_url)
    sid = orjson.loads((await quiet.receive()).data)["session_id"]
    other = await client.ws()
    assert (await client.fault(fault="stall", session_id=sid))[0] == 200
    await quiet.send_str('{"type":"ping"}')
    await other.send_str('{"type":"ping"}')
    assert await next_frame(other) == {"type": "pong"}  # only `quiet` is stalled
    with pytest.raises(asyncio.TimeoutError):
        await next_frame(quiet, timeout=0.2)
    assert (await client.fault(fault="stall", on=False, session_id=sid))[0] == 200
    assert await next_frame(quiet) == {"type": "pong"}
    assert (await client.fault(fault="close", code=4001, session_id=sid))[0] == 200
    assert (await asyncio.wait_for(quiet.receive(), 3)).type == aiohttp.WSMsgType.CLOSE
    assert quiet.close_code == 4001
    await other.send_str('{"type":"ping"}')
    assert await next_frame(other) == {"type": "pong"}  # still open
    status, body = await client.fault(fault="close", session_id="nope")
    assert status == 400 and "unknown session_id" in body["message"]
    await other.close()


@pytest.mark.parametrize("code", [1001, 1011, 4000])
async def test_close_with_code(client: Client, code: int) -> None:
    ws = await client.ws()
    assert (await client.fault(fault="close", code=code, message="bye"))[0] == 200
    msg = await asyncio.wait_for(ws.receive(), 3)
    assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == code
    assert msg.extra == "bye"


async def test_shutdown_frame_then_close(client: Client) -> None:
    ws = await client.ws()
    assert (await client.fault(fault="shutdown", close_in_ms=80))[0] == 200
    assert await next_frame(ws) == {"type": "shutdown", "close_in_ms": 80}
    msg = await asyncio.wait_for(ws.receive(), 3)
    assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1001


async def test_forced_429_on_next_n_requests(client: Client) -> None:
    assert (await client.fault(fault="rate_limit", count=2, scope="rest"))[0] == 200
    assert await client.get("orderBooks") == (429, TOO_MANY)
    assert await client.get("currentHeight") == (429, TOO_MANY)
    assert (await client.get("orderBooks"))[0] == 200
    # scope "tx": reads pass, the next tx is refused and consumes nothing.
    assert (await client.fault(fault="rate_limit", scope="tx"))[0] == 200
    assert (await client.get("orderBooks"))[0] == 200
    assert await client.send(client.order(0)) == (429, TOO_MANY)
    assert (await client.send(client.order(0)))[0] == 200


async def test_forced_invalid_nonce_rest_and_ws(client: Client) -> None:
    assert (await client.fault(fault="invalid_nonce", count=2))[0] == 200
    assert await client.send(client.order(0)) == (400, BAD_NONCE)
    ws = await client.ws()
    form = client.order(0)
    await send_json(
        ws,
        {
            "type": "jsonapi/sendtx",
            "data": {"id": "n", "tx_type": int(form["tx_type"]), "tx_info": form["tx_info"]},
        },
    )
    assert await next_frame(ws) == {"error": BAD_NONCE, "id": "n"}
    assert (await client.send(form))[0] == 200  # nothing was consumed
    assert client.node.state.nonces[(client.account, 4)] == 1
    await ws.close()


async def test_forced_custom_tx_error_and_bad_requests(client: Client) -> None:
    assert (await client.fault(fault="tx_error", code=21506, http_status=400))[0] == 200
    status, body = await client.send(client.order(0))
    assert (status, body["code"]) == (400, 21506)
    status, body = await client.fault(fault="meteor")
    assert status == 400 and body["code"] == 20001 and "fault must be one of" in body["message"]
    status, body = await client.fault(fault="drop_book_delta", market_index=99)
    assert status == 400 and "unknown market_index" in body["message"]
    status, body = await client.fault(fault="rate_limit", scope="ws")
    assert status == 400 and "scope" in body["message"]
    async with client.http.post(client.node.base_url + "/dev/v1/faults", data=b"[") as r:
        assert r.status == 400


async def test_invert_reply_order_and_clear(client: Client) -> None:
    assert (await client.fault(fault="invert_reply_order"))[0] == 200
    assert client.node.faults.invert_reply_order
    assert (await client.fault(fault="rate_limit", count=3, scope="rest"))[0] == 200
    assert (await client.fault(fault="clear"))[0] == 200
    assert not client.node.faults.invert_reply_order
    assert (await client.get("orderBooks"))[0] == 200


async def test_restart_keeps_account_state(client: Client) -> None:
    node = client.node
    port = node.port
    a = client.account
    assert (await client.send(client.order(0, 290_000)))[0] == 200
    assert (await client.send(client.order(1, 310_000, is_ask=True)))[0] == 200
    await asyncio.sleep(0.1)
    _, before = await client.get(f"account?by=index&value={a}")
    _, book_before = await client.get("orderBookOrders?market_id=0&limit=10")
    ws = await client.ws()
    assert (await client.fault(fault="restart", down_ms=300))[0] == 200
    msg = await asyncio.wait_for(ws.receive(), 3)
    assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1012
    with pytest.raises(aiohttp.ClientConnectionError):  # the listener is down for 300 ms
        async with aiohttp.ClientSession() as fresh:
            await fresh.get(node.base_url + "/api/v1/orderBooks")
    for _ in range(100):  # back on the same port
        try:
            async with aiohttp.ClientSession() as fresh:
                async with fresh.get(node.base_url + "/api/v1/orderBooks") as r:
                    if r.status == 200:
                        break
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.02)
    assert node.port == port
    async with aiohttp.ClientSession() as http:
        client.http = http
        _, after = await client.get(f"account?by=index&value={a}")
        _, book_after = await client.get("orderBookOrders?market_id=0&limit=10")
        _, nonce = await client.get(f"nextNonce?account_index={a}&api_key_index=4")
        _, keys = await client.get(f"apikeys?account_index={a}&api_key_index=4")
        assert after == before and book_after == book_before
        assert nonce["nonce"] == 2 and keys["api_keys"][0]["public_key"]
        assert await client.send(client.order(1)) == (400, BAD_NONCE)  # nonce kept: a replay
        status, body = await client.send(client.order(2, 291_000))
        assert (status, body["code"]) == (200, 200)
        ws2 = await client.ws()
        await send_json(ws2, {"type": "subscribe", "channel": "order_book/0"})
        snap = (await frame_until(ws2, "subscribed/order_book"))["order_book"]
        assert {b["price"] for b in snap["bids"]} >= {"2900.00"}
        await ws2.close()


async def test_programmatic_restart_and_errors() -> None:
    node = LocalNode(exec_latency_ms=0)
    with pytest.raises(RuntimeError, match="not running"):
        await node.restart()
    async with node:
        dev = await node.create_account(collateral=5)
        port = node.port
        await node.restart()
        assert node.port == port and node.state.collateral(dev.account_index) == 5_000_000
    with pytest.raises(ValueError, match="count"):
        node.faults.force_invalid_nonce(0)
