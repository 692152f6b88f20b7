"""Local node throughput: accepted sendTx per second over one WebSocket (latency 0).

The node runs as `lighterfast node --latency zero` in its own process (a server is a separate
process in real use; the 2 cores are shared by node and client). Setup, not timed, pre-signs
a pool of L2CreateOrder / L2CancelOrder pairs with lighter-sdk's signer (fresh nonces for
every round). One round = N txs pipelined on one socket (at most WINDOW unanswered), timed
until the last reply; every reply must be `code 200`.

Rows: `ws_pipelined` (jsonapi/sendtx frames, one socket) and, for scale, `rest_sequential`
(POST /api/v1/sendTx one at a time over a keep-alive connection, fewer txs).
Txs/s = N / round time.

    python -m pytest benchmarks/bench_node.py --benchmark-columns=min,median,mean,rounds
    LIGHTERFAST_BENCH_VERIFY=1 python -m pytest benchmarks/bench_node.py   # signatures checked
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

N_WS = 2000  # txs per WebSocket round (1000 create + 1000 cancel)
N_REST = 200
WINDOW = 256
ROUNDS = 5
# "fast" (stand-in hash) measures the node's pipeline; "signer" adds the pure-Python Poseidon2
# message hash (~0.4 ms per tx). Set LIGHTERFAST_BENCH_TX_HASH=signer to measure that mode.
TX_HASH = os.environ.get("LIGHTERFAST_BENCH_TX_HASH", "fast")
# The node verifies every signature by default (compiled Schnorr + compiled Poseidon2 message
# hash, ~0.1 ms per tx); these rows measure the pipeline without it (`--no-verify`) unless
# LIGHTERFAST_BENCH_VERIFY=1.
VERIFY = os.environ.get("LIGHTERFAST_BENCH_VERIFY", "0") == "1"


class NodeProcess:
    """`lighterfast node` in a subprocess, with one dev account from its config file."""

    def __init__(self, tmp: Path, loop: asyncio.AbstractEventLoop) -> None:
        cfg = tmp / "node.json"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lighterfast.apps.cli",
                "node",
                "--port",
                "0",
                "--latency",
                "zero",
                "--tx-hash",
                TX_HASH,
                "--accounts",
                "1",
                "--collateral",
                "100000000",
                "--write-config",
                str(cfg),
                *(() if VERIFY else ("--no-verify",)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith("ready"):
                break
        data = json.loads(cfg.read_text())["Lighter"]
        self.base_url: str = data["base_url"]
        self.ws_url = self.base_url.replace("http", "ws", 1) + "/stream"
        self.account_index: int = data["account_index"]
        key = data["api_keys"][0]
        self.api_key_index: int = key["api_key_index"]

        async def make_client() -> lighter.SignerClient:  # the SDK wants a running loop
            return lighter.SignerClient(
                url=self.base_url,
                account_index=self.account_index,
                api_private_keys={self.api_key_index: key["api_key_private_key"]},
            )

        self.loop = loop
        self.client = loop.run_until_complete(make_client())
        self.nonce = 0
        self.coi = 1

    def sign_pairs(self, n: int) -> list[tuple[int, str]]:
        """n txs: create(COI c) then cancel(COI c), consecutive nonces from the node's lane."""
        out: list[tuple[int, str]] = []
        c = self.client
        for i in range(n // 2):
            tt, info, _, err = c.sign_create_order(
                0,
                self.coi,
                100,
                290_000 + (i % 500),
                0,
                0,
                1,
                nonce=self.nonce,
                api_key_index=self.api_key_index,
            )
            assert err is None, err
            out.append((tt, info))
            tt, info, _, err = c.sign_cancel_order(
                0, self.coi, nonce=self.nonce + 1, api_key_index=self.api_key_index
            )
            assert err is None, err
            out.append((tt, info))
            self.nonce += 2
            self.coi += 1
        return out

    def stop(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def node_proc(
    tmp_path_factory: pytest.TempPathFactory, loop: asyncio.AbstractEventLoop
) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("node"), loop)
    yield n
    n.stop()


async def _ws_round(ws: aiohttp.ClientWebSocketResponse, frames: list[str]) -> None:
    """Send frames keeping <= WINDOW unanswered; wait for every reply; all must be 200."""
    sent = 0
    done = 0
    total = len(frames)
    while done < total:
        while sent < total and sent - done < WINDOW:
            await ws.send_str(frames[sent])
            sent += 1
        msg = await ws.receive(timeout=10)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket closed: {msg!r}")
        data = msg.data
        if '"jsonapi/sendtx"' in data:
            done += 1
        elif '"error"' in data:
            raise AssertionError(f"tx rejected: {data}")


def _ws_frames(txs: list[tuple[int, str]]) -> list[str]:
    return [
        orjson.dumps(
            {
                "type": "jsonapi/sendtx",
                "data": {"id": str(i), "tx_type": t, "tx_info": orjson.loads(info)},
            }
        ).decode()
        for i, (t, info) in enumerate(txs)
    ]


def test_ws_pipelined(
    benchmark: Any, node_proc: NodeProcess, loop: asyncio.AbstractEventLoop
) -> None:

    async def connect() -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(node_proc.ws_url, autoping=True, compress=0)
        greeting = await ws.receive(timeout=5)
        assert "connected" in greeting.data
        return session, ws

    session, ws = loop.run_until_complete(connect())
    try:
        benchmark.pedantic(
            lambda frames: loop.run_until_complete(_ws_round(ws, frames)),
            # Sign each round's txs in its (untimed) setup, so that rounds that do not run
            # (--benchmark-disable) leave no gap in the key's nonce lane.
            setup=lambda: ((_ws_frames(node_proc.sign_pairs(N_WS)),), {}),
            rounds=ROUNDS,
            iterations=1,
            warmup_rounds=1,
        )
    finally:
        loop.run_until_complete(ws.close())
        loop.run_until_complete(session.close())
    benchmark.extra_info["txs_per_round"] = N_WS
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["txs_per_s_median"] = round(N_WS / benchmark.stats.stats.median)


def test_rest_sequential(
    benchmark: Any, node_proc: NodeProcess, loop: asyncio.AbstractEventLoop
) -> None:
    session = loop.run_until_complete(_make_session())
    url = node_proc.base_url + "/api/v1/sendTx"

    async def rest_round(txs: list[tuple[int, str]]) -> None:
        for t, info in txs:
            async with session.post(url, data={"tx_type": str(t), "tx_info": info}) as r:
                if r.status != 200:
                    raise AssertionError(await r.text())
                await r.read()

    try:
        benchmark.pedantic(
            lambda txs: loop.run_until_complete(rest_round(txs)),
            setup=lambda: ((node_proc.sign_pairs(N_REST),), {}),
            rounds=ROUNDS,
            iterations=1,
            warmup_rounds=1,
        )
    finally:
        loop.run_until_complete(session.close())
    benchmark.extra_info["txs_per_round"] = N_REST
    if benchmark.stats is not None:
        benchmark.extra_info["txs_per_s_median"] = round(N_REST / benchmark.stats.stats.median)


async def _make_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


N_LIMIT = 10_000


def test_rate_limit_check(benchmark: Any) -> None:
    """The node's per-request rate-limit cost: N_LIMIT `check_request` calls (half a weighted
    read on the IP + L1 buckets, half sendTx on the L1 tx bucket), in process; none refuse."""
    from lighterfast.testnode import RateLimits

    def one_round() -> None:
        limits = RateLimits("plus")  # 120 000 weight, 8 000 txs per minute
        check = limits.check_request
        for _ in range(N_LIMIT // 2):
            assert check("nextNonce", "127.0.0.1", "0xabc") is None
            assert check("sendTx", "127.0.0.1", "0xabc") is None  # own tx bucket

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    benchmark.extra_info["checks_per_round"] = N_LIMIT
    if benchmark.stats is None:
        return
    benchmark.extra_info["ns_per_check_median"] = round(
        benchmark.stats.stats.median / N_LIMIT * 1e9
    )
