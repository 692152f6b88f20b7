"""Stream behaviour of the local node: ordering, latency, nonce chain, keep-alive, faults."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from _helpers import sdk_client
from lighterfast.testnode import DevAccount, LocalNode


def _create(c: lighter.SignerClient, nonce: int, coi: int, price: int, is_ask: bool = False) -> Any:
    tt, info, _, err = c.sign_create_order(
        0, coi, 100, price, int(is_ask), 0, 1, nonce=nonce, api_key_index=4
    )
    assert err is None
    return {"tx_type": tt, "tx_info": orjson.loads(info)}


@pytest.fixture
async def signer(
    node: LocalNode, funded_account: DevAccount
) -> AsyncIterator[lighter.SignerClient]:
    c = sdk_client(node, funded_account)
    yield c
    await c.close()


async def test_reply_precedes_stream_frames_on_the_same_socket(
    node: LocalNode, funded_account: DevAccount, signer: lighter.SignerClient, ws_probe: Any
) -> None:
    a = funded_account.account_index
    token, _ = signer.create_auth_token_with_expiry()
    probe = await ws_probe()
    await probe.send({"type": "subscribe", "channel": f"account_all_orders/{a}", "auth": token})
    await probe.expect(lambda f: f.get("type") == "subscribed/account_all_orders")
    for n in range(5):
        await probe.send(
            {
                "type": "jsonapi/sendtx",
                "data": {"id": f"t{n}", **_create(signer, n, n + 1, 290_000)},
            }
        )
    await probe.expect(lambda f: f.get("type") == "update/account_all_orders" and "4" not in f)
    await asyncio.sleep(0.1)
    order = [
        ("reply", f["id"]) if "id" in f else ("order", f["orders"]["0"][0]["client_order_index"])
        for f in probe.frames
        if "id" in f or f.get("type") == "update/account_all_orders"
    ]
    for n in range(5):
        assert order.index(("reply", f"t{n}")) < order.index(("order", n + 1))


async def test_latency_and_next_nonce_modes(ws_probe: Any) -> None:
    latency = {"taker": 200, "maker": 200, "cancel": 200}
    async with LocalNode(exec_latency_ms=latency, next_nonce_mode="executed") as node:
        acct = await node.create_account(collateral=100_000)
        c = sdk_client(node, acct)
        try:
            probe = await ws_probe(target=node)
            t0 = time.monotonic()
            await probe.send(
                {"type": "jsonapi/sendtx", "data": {"id": 1, **_create(c, 0, 1, 290_000)}}
            )
            reply = await probe.expect(lambda f: f.get("id") == 1)
            assert reply["predicted_execution_time_ms"] >= int(time.time() * 1000) + 100
            assert node.state.nonces[(acct.account_index, 4)] == 1
            url = f"{node.base_url}/api/v1/nextNonce?account_index={acct.account_index}"
            async with aiohttp.ClientSession() as s, s.get(url + "&api_key_index=4") as r:
                assert (await r.json())["nonce"] == 0  # lags until execution
            assert node.state.orders == {}
            while not node.state.orders:
                await asyncio.sleep(0.01)
            assert time.monotonic() - t0 >= 0.18
            assert node.state.executed_nonce(acct.account_index, 4) == 1
        finally:
            await c.close()
    async with LocalNode(exec_latency_ms=latency, next_nonce_mode="accepted") as node:
        acct = await node.create_account(collateral=100_000)
        c = sdk_client(node, acct)
        try:
            probe = await ws_probe(target=node)
            await probe.send(
                {"type": "jsonapi/sendtx", "data": {"id": 1, **_create(c, 0, 1, 290_000)}}
            )
            await probe.expect(lambda f: f.get("id") == 1)
            assert node.next_nonce(acct.account_index, 4) == 1
        finally:
            await c.close()


async def test_book_delta_chain_snapshot_continuity_and_dropped_delta(
    node: LocalNode, funded_account: DevAccount, signer: lighter.SignerClient, ws_probe: Any
) -> None:
    first = await ws_probe()
    await first.send({"type": "subscribe", "channel": "order_book/0"})
    snap = await first.expect(lambda f: f.get("type") == "subscribed/order_book")
    assert snap["order_book"]["nonce"] == 0 and "last_updated_at" not in snap
    await first.send({"type": "jsonapi/sendtx", "data": _create(signer, 0, 1, 290_000)})
    d1 = await first.expect(lambda f: f.get("type") == "update/order_book")
    # A late subscriber's snapshot continues the same chain.
    await first.send({"type": "jsonapi/sendtx", "data": _create(signer, 1, 2, 290_100)})
    late = await ws_probe()
    await late.send({"type": "subscribe", "channel": "order_book/0"})
    late_snap = await late.expect(lambda f: f.get("type") == "subscribed/order_book")
    assert late_snap["order_book"]["begin_nonce"] == 0
    assert {"price": "2901.00", "size": "0.0100"} in late_snap["order_book"]["bids"]
    node.faults.drop_next_book_delta(0)
    await first.send({"type": "jsonapi/sendtx", "data": _create(signer, 2, 3, 290_200)})
    await asyncio.sleep(0.15)
    await first.send({"type": "jsonapi/sendtx", "data": _create(signer, 3, 4, 290_300)})
    await late.expect(
        lambda f: (
            f.get("type") == "update/order_book"
            and {"price": "2903.00", "size": "0.0100"} in f["order_book"]["bids"]
        )
    )
    chain = [f["order_book"] for f in first.frames if f.get("type") == "update/order_book"]
    assert chain[0]["begin_nonce"] == snap["order_book"]["nonce"] and chain[0] is not None
    assert d1["order_book"]["nonce"] > d1["order_book"]["begin_nonce"]
    gaps = [b["begin_nonce"] != a["nonce"] for a, b in itertools.pairwise(chain)]
    assert gaps.count(True) == 1  # exactly the dropped delta
    offsets = [f["offset"] for f in first.frames if f.get("type") == "update/order_book"]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


async def test_account_channels_positions_stats_and_market_data(
    node: LocalNode, funded_account: DevAccount, signer: lighter.SignerClient, ws_probe: Any
) -> None:
    a = funded_account.account_index
    taker = await node.create_account(collateral=100_000)
    tc = sdk_client(node, taker)
    token, _ = signer.create_auth_token_with_expiry()
    probe = await ws_probe()
    try:
        for ch, auth in (
            (f"account_orders/0/{a}", token),
            (f"account_all_positions/{a}", token),
            (f"user_stats/{a}", None),
            (f"account_all/{a}", None),
            ("market_stats/all", None),
            ("market_stats/0", None),
            ("ticker/0", None),
            ("height", None),
        ):
            msg: dict[str, Any] = {"type": "subscribe", "channel": ch}
            if auth:
                msg["auth"] = auth
            await probe.send(msg)
        stats = await probe.expect(lambda f: f.get("type") == "subscribed/user_stats")
        assert stats["stats"]["collateral"] == "100000.000000"
        await probe.send({"type": "jsonapi/sendtx", "data": _create(signer, 0, 1, 300_000, True)})
        await probe.send({"type": "jsonapi/sendtx", "data": _create(tc, 0, 2, 300_000)})
        upd = await probe.expect(
            lambda f: (
                f.get("type") == "update/account_orders"
                and f["orders"]["0"][0]["status"] == "filled"
            )
        )
        assert upd["channel"] == f"account_orders:0:{a}" and upd["account"] == a
        pos = await probe.expect(
            lambda f: (
                f.get("type") == "update/account_all_positions"
                and f["positions"]["0"]["position"] == "0.0100"
            )
        )
        assert pos["positions"]["0"]["sign"] == -1
        await probe.expect(lambda f: f.get("type") == "update/user_stats")
        acc = await probe.expect(
            lambda f: f.get("type") == "update/account_all" and f.get("trades")
        )
        assert acc["trades"]["0"][0]["price"] == "3000.00"
        one = await probe.expect(
            lambda f: f.get("type") == "update/market_stats" and f["channel"] == "market_stats:0"
        )
        assert one["market_stats"]["last_trade_price"] == "3000.00"
        every = await probe.expect(
            lambda f: f.get("type") == "update/market_stats" and f["channel"] == "market_stats:all"
        )
        assert every["market_stats"]["0"]["daily_base_token_volume"] == 0.01
        await probe.expect(lambda f: f.get("type") == "update/height")
        ticker = await probe.expect(lambda f: f.get("type") == "subscribed/ticker")
        assert ticker["ticker"]["a"] == {"price": "", "size": ""}
    finally:
        await tc.close()


async def test_server_ping_no_pong_and_idle_close(ws_probe: Any) -> None:
    async with LocalNode(exec_latency_ms=0, ws_ping_interval=0.2, ws_pong_timeout=0.3) as node:
        silent = await ws_probe(target=node)
        polite = await ws_probe(target=node)
        await silent.expect(lambda f: f.get("type") == "ping")
        await polite.expect(lambda f: f.get("type") == "ping")
        await polite.send({"type": "pong"})
        assert await silent.closed(3.0) == 1008
        assert not polite.ws.closed
    async with LocalNode(exec_latency_ms=0, ws_ping_interval=None, ws_idle_timeout=0.3) as node:
        idle = await ws_probe(target=node)
        assert await idle.closed(3.0) == 1000


async def test_faults_shutdown_and_close_all(node: LocalNode, ws_probe: Any) -> None:
    a = await ws_probe()
    b = await ws_probe()
    await node.faults.send_shutdown(close_in_ms=50)
    assert await a.expect(lambda f: f.get("type") == "shutdown") == {
        "type": "shutdown",
        "close_in_ms": 50,
    }
    assert await a.closed() == 1001 and await b.closed() == 1001
    c = await ws_probe()
    await node.faults.close_all(1011)
    assert await c.closed() == 1011


async def test_forced_errors_and_readonly_socket(
    node: LocalNode, signer: lighter.SignerClient, ws_probe: Any
) -> None:
    node.faults.force_rate_limit()
    probe = await ws_probe()
    await probe.send(
        {"type": "jsonapi/sendtx", "data": {"id": "r", **_create(signer, 0, 1, 290_000)}}
    )
    err = await probe.expect(lambda f: f.get("id") == "r")
    assert err["error"] == {"code": 23000, "message": "Too Many Requests!"}
    ro = await ws_probe("/stream?readonly=true")
    await ro.send({"type": "jsonapi/sendtx", "data": {"id": "x", **_create(signer, 0, 1, 290_000)}})
    assert (await ro.expect(lambda f: f.get("id") == "x"))["error"]["code"] == 30006
    await ro.send({"type": "subscribe", "channel": "trade/0"})
    assert (await ro.expect(lambda f: f.get("type") == "subscribed/trade"))["trades"] == []


async def test_inverted_order_mode_sends_frames_before_the_reply(
    node: LocalNode, funded_account: DevAccount, signer: lighter.SignerClient, ws_probe: Any
) -> None:
    token, _ = signer.create_auth_token_with_expiry()
    a = funded_account.account_index
    probe = await ws_probe()
    await probe.send({"type": "subscribe", "channel": f"account_all_orders/{a}", "auth": token})
    await probe.expect(lambda f: f.get("type") == "subscribed/account_all_orders")
    node.faults.invert_reply_order = True
    await probe.send(
        {"type": "jsonapi/sendtx", "data": {"id": "late", **_create(signer, 0, 1, 290_000)}}
    )
    await probe.expect(lambda f: f.get("id") == "late")
    kinds = [
        "reply" if f.get("id") == "late" else "order"
        for f in probe.frames
        if f.get("id") == "late" or f.get("type") == "update/account_all_orders"
    ]
    assert kinds == ["order", "reply"]


async def test_stall_holds_frames_and_duplicate_delta(
    node: LocalNode, signer: lighter.SignerClient, ws_probe: Any
) -> None:
    probe = await ws_probe()
    await probe.send({"type": "subscribe", "channel": "order_book/0"})
    await probe.expect(lambda f: f.get("type") == "subscribed/order_book")
    node.faults.duplicate_next_book_delta(0)
    await probe.send(
        {"type": "jsonapi/sendtx", "data": {"id": "d", **_create(signer, 0, 1, 290_000)}}
    )
    await probe.expect(lambda f: f.get("type") == "update/order_book")
    await asyncio.sleep(0.12)
    deltas = [f for f in probe.frames if f.get("type") == "update/order_book"]
    assert len(deltas) == 2 and deltas[0] == deltas[1]
    node.faults.stall(True)
    await probe.send({"type": "ping"})
    await asyncio.sleep(0.1)
    assert not any(f.get("type") == "pong" for f in probe.frames)
    node.faults.stall(False)
    await probe.expect(lambda f: f.get("type") == "pong")


async def test_ws_hook_can_refuse_frames(node: LocalNode, ws_probe: Any) -> None:
    from lighterfast.testnode import TxError

    def hook(_session: Any, frame: dict[str, Any]) -> TxError | None:
        if frame.get("type") == "subscribe":
            return TxError(30009, "Too Many Websocket Messages!")
        return None

    node.ws_hook = hook
    probe = await ws_probe()
    await probe.send({"type": "subscribe", "channel": "trade/0"})
    err = await probe.expect(lambda f: "error" in f)
    assert err == {"error": {"code": 30009, "message": "Too Many Websocket Messages!"}}
    await probe.send({"type": "ping"})
    await probe.expect(lambda f: f.get("type") == "pong")
