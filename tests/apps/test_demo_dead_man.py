"""The demo's bots arm a dead-man switch: while they run, the node holds a scheduled cancel-all
for each bot's account (renewed, so it stays in the future); a normal exit aborts it; with
`dead_man=False` nothing is scheduled."""

from __future__ import annotations

import time
from typing import Any

from lighterfast.apps.demo import DEAD_MAN_LOCAL_S, DemoOptions, run_demo
from lighterfast.testnode import LocalNode


class _Watch:
    """A demo view that records, on every update, each bot account's scheduled cancel-all."""

    def __init__(self, node: LocalNode) -> None:
        self.node = node
        self.seen: dict[int, list[tuple[float, int]]] = {}

    def start(self, bots: list[Any]) -> None:
        self.accounts = [b.account_index for b in bots]

    def update(self, bots: list[Any]) -> None:
        now_ms = time.time() * 1000
        for index in self.accounts:
            acct = self.node.accounts.get(index)
            assert acct is not None
            self.seen.setdefault(index, []).append((now_ms, acct.cancel_all_time))

    def message(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


async def _run(dead_man: bool) -> tuple[_Watch, LocalNode, list[int]]:
    node = LocalNode(port=0, simulate_flow=True, flow_interval_ms=50, exec_latency_ms=0)
    await node.start()
    watch = _Watch(node)
    try:
        options = DemoOptions(symbols=["ETH", "BTC"], duration=3.0, premium=True, dead_man=dead_man)
        result = await run_demo(options, node=node, view=watch)
        accounts = [row["account_index"] for row in result.symbols]
        return watch, node, accounts
    except BaseException:
        await node.stop()
        raise


async def test_each_bot_account_holds_a_renewed_schedule_and_exit_aborts_it() -> None:
    watch, node, accounts = await _run(dead_man=True)
    try:
        assert len(accounts) == 2
        for index in accounts:
            samples = watch.seen[index]
            armed = [(now, at) for now, at in samples if at]
            assert len(armed) >= len(samples) // 2, samples  # armed for most of the run
            for now, at in armed:  # always in the future, at most the timeout (+1 s) ahead
                assert now < at <= now + (DEAD_MAN_LOCAL_S + 2) * 1000
            acct = node.accounts.get(index)
            assert acct is not None and acct.cancel_all_time == 0  # aborted on exit
    finally:
        await node.stop()


async def test_no_dead_man_schedules_nothing() -> None:
    watch, node, accounts = await _run(dead_man=False)
    try:
        for index in accounts:
            assert all(at == 0 for _now, at in watch.seen[index])
    finally:
        await node.stop()
