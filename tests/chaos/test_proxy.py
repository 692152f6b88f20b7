"""The chaos proxy itself, against the local node over loopback: it pipes REST and WebSocket
traffic unchanged, and each fault does what the suite counts it as (cut, stall, half-open,
slow, corrupt)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from _helpers import eventually
from chaos.proxy import GARBAGE, ChaosProxy
from lighterfast.testnode import LocalNode


@pytest.fixture
async def proxy(node: LocalNode) -> AsyncIterator[ChaosProxy]:
    async with ChaosProxy(node.host, node.port, seed=1) as p:
        yield p


async def _get(http: aiohttp.ClientSession, proxy: ChaosProxy, timeout: float = 3.0) -> bytes:
    url = proxy.base_url + "/api/v1/orderBooks"
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        return await resp.read()


async def test_pipes_rest_and_ws_unchanged(node: LocalNode, proxy: ChaosProxy) -> None:
    async with aiohttp.ClientSession() as http:
        body = orjson.loads(await _get(http, proxy))
        assert [m["symbol"] for m in body["order_books"]] == ["ETH", "BTC", "SOL"]
        ws = await http.ws_connect(f"ws://127.0.0.1:{proxy.port}/stream")
        assert orjson.loads((await ws.receive()).data)["type"] == "connected"
        await ws.send_str('{"type":"ping"}')
        assert orjson.loads((await ws.receive(timeout=3)).data) == {"type": "pong"}
        assert [c.kind for c in proxy.live()] == ["ws"]  # the kept-alive one was upgraded
        assert proxy.live("ws")[0].bytes_up > 0 and proxy.live("ws")[0].bytes_down > 0
        await ws.close()


@pytest.mark.parametrize("reset", [False, True])
async def test_cut_closes_both_sides(node: LocalNode, proxy: ChaosProxy, reset: bool) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"ws://127.0.0.1:{proxy.port}/stream")
        await ws.receive()
        await eventually(lambda: len(node.hub.sessions) == 1)
        (conn,) = proxy.live("ws")
        conn.cut(reset=reset)
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        await eventually(lambda: not node.hub.sessions)  # the node saw it go too
        await eventually(lambda: not proxy.live())


async def test_stall_holds_bytes_then_delivers(node: LocalNode, proxy: ChaosProxy) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"ws://127.0.0.1:{proxy.port}/stream")
        await ws.receive()
        (conn,) = proxy.live("ws")
        conn.stall(True)
        await ws.send_str('{"type":"ping"}')
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)
        assert node.hub.sessions  # TCP is up on both sides
        conn.stall(False)
        assert orjson.loads((await ws.receive(timeout=3)).data) == {"type": "pong"}
        await ws.close()


async def test_half_open_is_silent_and_the_node_side_is_gone(
    node: LocalNode, proxy: ChaosProxy
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"ws://127.0.0.1:{proxy.port}/stream")
        await ws.receive()
        await eventually(lambda: len(node.hub.sessions) == 1)
        (conn,) = proxy.live("ws")
        conn.make_half_open()
        await eventually(lambda: not node.hub.sessions)
        await ws.send_str('{"type":"ping"}')  # accepted by the client's socket, never answered
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.5)
        assert not ws.closed and proxy.live("ws") == [conn]
        proxy.heal()  # a half-open connection is cut by heal()
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


async def test_slow_delays_each_chunk(node: LocalNode, proxy: ChaosProxy) -> None:
    async with aiohttp.ClientSession() as http:
        await _get(http, proxy)  # keep-alive: the next request reuses this connection
        (conn,) = proxy.live("http")
        conn.slow(0.3)
        started = time.monotonic()
        await _get(http, proxy)
        assert time.monotonic() - started >= 0.55  # one chunk each way, 0.3 s each
        conn.slow(0)


async def test_corrupt_damages_the_next_chunk_to_the_client(
    node: LocalNode, proxy: ChaosProxy
) -> None:
    async with aiohttp.ClientSession() as http:
        clean = await _get(http, proxy)
        (conn,) = proxy.live("http")
        conn.corrupt_next()
        try:
            damaged: bytes | None = await _get(http, proxy)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            damaged = None  # the garbage hit the status line or headers: refused there
        if damaged is not None:
            assert GARBAGE in damaged and damaged != clean
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(damaged)
        assert conn.corrupt_pending == 0


async def test_target_down_refuses_the_client(node: LocalNode) -> None:
    async with ChaosProxy("127.0.0.1", 1, seed=0) as proxy:  # nothing listens on port 1
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                await _get(http, proxy)
