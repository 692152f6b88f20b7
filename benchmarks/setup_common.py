"""Setup several benchmark modules share: the 15 signed orders and a fresh (uv)loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from lighterfast import protocol as P

N = 15  # orders signed per round
ACCOUNT = 1234
KEY = 4
ORDERS: list[dict[str, Any]] = [
    dict(
        market_index=0,
        client_order_index=1000 + i,
        base_amount=100,
        price=300000 + i,
        is_ask=bool(i % 2),
        order_type=P.ORDER_TYPE_LIMIT,
        time_in_force=P.TIF_GTT,
        reduce_only=False,
        trigger_price=0,
        order_expiry=-1,
        nonce=1 + i,
        api_key_index=KEY,
    )
    for i in range(N)
]


def bench_lighter_sdk_main_thread(
    benchmark: Any, private_key: str, loop: asyncio.AbstractEventLoop, rounds: int
) -> None:
    """The 15 orders signed by lighter-sdk's `SignerClient` inside the loop on the main thread,
    as the SDK's own async `create_order` does (the peer row of the signing benchmarks)."""
    import lighter

    async def make_client() -> Any:  # the SDK's ApiClient wants a running loop
        return lighter.SignerClient("http://127.0.0.1:9", ACCOUNT, {KEY: private_key})

    client = loop.run_until_complete(make_client())

    async def run() -> None:
        for args, o in zip(SDK_ORDER_ARGS, ORDERS, strict=True):
            _, tx_info, _, error = client.sign_create_order(
                *args, nonce=o["nonce"], api_key_index=KEY
            )
            assert error is None and tx_info

    benchmark.extra_info["signatures_per_round"] = N
    try:
        benchmark.pedantic(lambda: loop.run_until_complete(run()), rounds=rounds, warmup_rounds=1)
    finally:
        loop.run_until_complete(client.api_client.close())


def new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop where uvloop is installed, else the stdlib one."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()


# The same orders as lighter-sdk's SignerClient.sign_create_order takes them (positional).
SDK_ORDER_ARGS: list[tuple[int, ...]] = [
    (
        o["market_index"], o["client_order_index"], o["base_amount"], o["price"],
        int(o["is_ask"]), o["order_type"], o["time_in_force"], int(o["reduce_only"]),
        o["trigger_price"], o["order_expiry"],
    )
    for o in ORDERS
]  # fmt: skip

_NODE_SCRIPT = r"""
import asyncio, json, sys
from lighterfast.testnode import LocalNode

async def main():
    async with LocalNode(port=0, exec_latency_ms=0, tx_hash_mode=sys.argv[1]) as node:
        accounts = []
        for _ in range(int(sys.argv[2])):
            a = await node.create_account(collateral=100_000_000)
            accounts.append([a.account_index, a.api_key_index, a.private_key])
        print(json.dumps({"base_url": node.base_url, "accounts": accounts}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


@contextlib.contextmanager
def node_in_process(tx_hash_mode: str, accounts: int) -> Iterator[dict[str, Any]]:
    """A LocalNode in its own process (its work does not share the clients' loop).

    Yields {"base_url", "accounts": [[account_index, api_key_index, private_key], ...]};
    the node stops when its stdin closes.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _NODE_SCRIPT, tx_hash_mode, str(accounts)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
