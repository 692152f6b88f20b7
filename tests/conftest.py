"""Shared pytest fixtures: a started local node (exec latency 0), a funded dev account, and a
small WebSocket probe for reading the node's frames over a real loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from lighterfast import markets
from lighterfast.testnode import DevAccount, LocalNode


@pytest.fixture(autouse=True)
def _fresh_market_tables() -> None:
    """Each test reads its node's market table anew (loopback ports are reused across tests)."""
    markets.clear_cache()


@pytest.fixture
async def node() -> AsyncIterator[LocalNode]:
    """A LocalNode on a free loopback port, execution latency 0, default markets."""
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0) as n:
        yield n


@pytest.fixture
async def funded_account(node: LocalNode) -> DevAccount:
    """A dev account with 100 000 USDC collateral and a fresh API key at index 4."""
    return await node.create_account(collateral=100_000)


class WsProbe:
    """A raw WebSocket client that records every JSON frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._cond = asyncio.Condition()
        self._task = asyncio.create_task(self._read())
        self.close_code: int | None = None

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                async with self._cond:
                    self.frames.append(orjson.loads(msg.data))
                    self._cond.notify_all()
        self.close_code = self.ws.close_code
        async with self._cond:
            self._cond.notify_all()

    async def send(self, obj: dict[str, Any]) -> None:
        """Send one JSON frame."""
        await self.ws.send_str(orjson.dumps(obj).decode())

    async def expect(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        """First recorded frame matching `pred` (waits up to `timeout` seconds)."""

        def find() -> dict[str, Any] | None:
            return next((f for f in self.frames if pred(f)), None)

        async def wait() -> dict[str, Any]:
            async with self._cond:
                while (hit := find()) is None:
                    if self._task.done():
                        raise AssertionError("socket closed before the expected frame")
                    await self._cond.wait()
                return hit

        return await asyncio.wait_for(wait(), timeout)

    async def closed(self, timeout: float = 3.0) -> int | None:
        """Wait until the server closes the socket; returns the close code."""
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.close_code

    async def close(self) -> None:
        """Close the socket and stop reading."""
        await self.ws.close()
        self._task.cancel()


@pytest.fixture
async def ws_probe(
    node: LocalNode,
) -> AsyncIterator[Callable[..., Awaitable[WsProbe]]]:
    """Factory: `await ws_probe(path="/stream", target=None)` opens a socket to `node` (or to
    `target`) and waits for the greeting; every socket is closed at teardown."""
    session = aiohttp.ClientSession()
    probes: list[WsProbe] = []

    async def open_probe(path: str = "/stream", target: LocalNode | None = None) -> WsProbe:
        n = node if target is None else target
        ws = await session.ws_connect(f"ws://{n.host}:{n.port}{path}", autoping=True)
        probe = WsProbe(ws)
        probes.append(probe)
        await probe.expect(lambda f: f.get("type") == "connected")
        return probe

    yield open_probe
    for pr in probes:
        await pr.close()
    await session.close()
