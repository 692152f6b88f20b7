"""The demo's bots read position and balance from their WsInfo: a demo against a real LocalNode
makes no REST read for either after start-up, and the summary counts every REST request its
dealers and WsInfos make (a WsInfo's resync after a socket drop shows up there)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lighterfast.apps.demo import (
    DEMO_ORDER_HISTORY,
    DEMO_TAPE_SIZE,
    DEMO_TX_RECORDS,
    DemoOptions,
    run_demo,
)
from lighterfast.apps.demo_view import POSITION_BALANCE_ENDPOINTS, render_summary
from lighterfast.testnode import LocalNode

NODE_OPTIONS: dict[str, Any] = {
    "port": 0,
    "simulate_flow": True,
    "flow_interval_ms": 50,
    "exec_latency_ms": "premium",
    "flow_seed": 11,
}


class _Bots:
    """A silent view that keeps the bots' WsInfos."""

    def __init__(self) -> None:
        self.streams: list[Any] = []

    def start(self, bots: list[Any]) -> None:
        self.streams = [bot.ws for bot in bots]

    def update(self, bots: list[Any]) -> None:
        """Nothing to draw."""

    def message(self, text: str) -> None:
        """Nothing to print."""

    def stop(self) -> None:
        """Nothing to tear down."""


async def test_demo_reads_position_and_balance_from_the_stream_only() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        options = DemoOptions(symbols=["ETH", "BTC"], duration=4.0, premium=True)
        seen = _Bots()
        result = await run_demo(options, node=node, view=seen)
        for ws in seen.streams:  # lean tapes: the bots count fills from the hook
            assert ws._own_trades.maxlen == ws._public_trades.maxlen == DEMO_TAPE_SIZE
            assert len(ws._public_trades) <= DEMO_TAPE_SIZE
        assert node.max_tx_records == DEMO_TX_RECORDS  # the node's tx history stays small
        assert node.engine.max_coi_memo == node.engine.inactive_per_account == DEMO_ORDER_HISTORY
        assert all(len(q) <= DEMO_ORDER_HISTORY for q in node.engine.inactive.values())
    reads = result.as_dict()["rest_requests"]
    assert reads["position_balance_after_startup"] == 0, reads
    assert not POSITION_BALANCE_ENDPOINTS & reads["after_startup"].keys(), reads
    assert reads["after_startup_total"] == sum(reads["after_startup"].values())
    for row in result.symbols:
        assert row["account_reads"] >= 4, row  # the bots did read, every step
        assert row["available_balance"] is not None and row["available_balance"] > 0
    text = render_summary(json.loads(json.dumps(result.as_dict())))
    assert "REST after start-up: position/balance reads 0;" in text


async def test_demo_counts_the_ws_resync_after_a_socket_drop() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        stop = asyncio.Event()
        options = DemoOptions(symbols=["ETH"], duration=None, premium=True)
        run = asyncio.create_task(run_demo(options, node=node, stop=stop))
        while not node.state.orders:  # the bot quotes: start-up is over
            await asyncio.sleep(0.05)
        await node.faults.close_all(1011)  # every socket: the WsInfo reconnects and resyncs
        await asyncio.sleep(3.0)
        stop.set()
        result = await run
    after = result.rest_requests["after_startup"]
    assert after.get("accountActiveOrders", 0) >= 1, result.rest_requests
