"""The seed README's samples in examples/ run against a local node (config.json as written by
`lighterfast node --write-config`), each in its own process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from lighterfast.cli import _node_config
from lighterfast.testnode import LocalNode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("script", "expect"),
    [
        ("quickstart.py", b"'action': 'cancel'"),
        ("public_trades_ltp.py", b"LTP:"),
        ("batch_cancel_and_create.py", b"'action': 'create'"),
        ("batch_context.py", b"'accepted': True"),
        ("wait_update_cancel.py", b"order seen on the stream: True"),
        ("multi_bot.py", b"SOL MarketInfo"),
    ],
)
async def test_example_runs_against_the_node(
    node: LocalNode, funded_account: Any, tmp_path: Path, script: str, expect: bytes
) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(orjson.dumps(_node_config(node, [funded_account])))
    env = dict(os.environ, LIGHTER_CONFIG=str(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert expect in out
    assert b"'accepted': False" not in out
    assert funded_account.private_key.encode() not in out + err
