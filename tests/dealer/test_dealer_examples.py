"""The seed README's samples in examples/ run, each in its own process, against a local node
with market flow on (as `lighterfast node --simulate-flow --write-config local-node.json`
starts it, standard latency): every order they place rests, none fills, none goes missing."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from lighterfast.apps.cli import _node_config
from lighterfast.testnode import LocalNode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUNS = 2  # every example twice against a fresh flow node (the old ones failed 6 of 6)

pytestmark = pytest.mark.timeout(120)

CASES = [
    ("quickstart.py", b"'action': 'cancel'"),
    ("public_trades_ltp.py", b"LTP:"),
    ("batch_cancel_and_create.py", b"'action': 'create'"),
    ("batch_context.py", b"'accepted': True"),
    ("wait_update_cancel.py", b"order seen on the stream: True"),
    ("multi_bot.py", b"SOL api key 6 MarketInfo"),
]


async def _run_example(node: LocalNode, dev: Any, where: Path, script: str) -> bytes:
    """Write local-node.json as the CLI does and run `script` beside it (its default file)."""
    (where / "local-node.json").write_bytes(orjson.dumps(_node_config(node, [dev])))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        cwd=where,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    for key in dev.keys:
        assert key.private_key.encode() not in out + err
    return out


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize(("script", "expect"), CASES, ids=[c[0] for c in CASES])
async def test_example_rests_its_orders_against_market_flow(
    tmp_path: Path, script: str, expect: bytes, run: int
) -> None:
    async with LocalNode(port=0, simulate_flow=True, keys_per_account=3) as node:
        dev = await node.create_account(collateral=100_000)
        await asyncio.sleep(0.6)  # the flow has quoted and traded: a live book and tape
        out = await _run_example(node, dev, tmp_path, script)
        assert expect in out, out.decode()[-2000:]
        assert b"'accepted': False" not in out
        acct = node.accounts.accounts[dev.account_index]
        assert acct.trades_count == 0, f"{script}: an order filled against the flow"
        assert all(pos.size == 0 for pos in acct.positions.values())


async def test_examples_work_on_a_quiet_node_with_one_key(tmp_path: Path) -> None:
    """No flow (empty book, no tape) and one key: the orders still rest; the bots share it."""
    async with LocalNode(port=0, exec_latency_ms=0) as node:
        dev = await node.create_account()
        out = await _run_example(node, dev, tmp_path, "quickstart.py")
        assert b"'action': 'cancel'" in out and b"'accepted': False" not in out
        out = await _run_example(node, dev, tmp_path, "multi_bot.py")
        assert b"1 API key(s) for 3 bots" in out
        assert re.findall(rb"(\w+) api key (\d+)", out) == [
            (b"SOL", b"4"),
            (b"BTC", b"4"),
            (b"ETH", b"4"),
        ]


async def test_multi_bot_uses_one_key_per_bot(tmp_path: Path) -> None:
    async with LocalNode(port=0, exec_latency_ms=0, keys_per_account=3) as node:
        dev = await node.create_account()
        out = await _run_example(node, dev, tmp_path, "multi_bot.py")
        pairs = dict(re.findall(rb"(\w+) api key (\d+)", out))
        assert pairs == {b"ETH": b"4", b"BTC": b"5", b"SOL": b"6"}
        assert b"share a nonce lane" not in out
