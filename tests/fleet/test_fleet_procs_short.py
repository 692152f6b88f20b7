"""Many OS processes on one account through a fleet (issue 14 item 4): 4 processes × 3 bots,
6 API keys, against the local node with the standard tier's rate limits and execution
latency. In CI the window is scaled down to 5 s (node `RateLimits(window_s=)`, fleet
$LIGHTERFAST_FLEET_WINDOW_S) so a run takes seconds; LIGHTERFAST_FLEET_LONG_RUN=1 runs both
tests at the venue's 60 s window (about 6 min; figures in BENCHMARKS.md).

Steady run: no invalid nonce, no 429, no COI twice, no (key, nonce) twice, the node's orders
are exactly the bots' accepted ones, and the requests reach >= 90 % of the budget. Faults: a
process SIGKILLed mid-run has its lane taken over by a replacement (new epoch) with nothing
doubled, and a Redis restart (its keys gone) is ridden out: every process sends again after it.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections import Counter
from typing import Any

import pytest

from fleet._procs import parse, spawn
from lighterfast import protocol as P
from lighterfast.errors import FleetError
from lighterfast.fleet import Fleet
from lighterfast.testnode import LocalNode, RateLimits

# LIGHTERFAST_FLEET_LONG_RUN=1: the by-hand run at the venue's own minute (about 5 min): the
# steady run over two whole 60 s windows, the faults with the default 10 s lease TTL (the
# SIGKILL at 20 s, the Redis restart at 90 s, after the replacement sent in the 2nd window).
LONG = bool(os.environ.get("LIGHTERFAST_FLEET_LONG_RUN"))
MODE = "long" if LONG else "short"
WINDOW_S = 60.0 if LONG else 5.0
RUN_S = 130.0 if LONG else 12.0
# faults: lease TTL, SIGKILL, Redis restart and the end (s after the start); the restart
# comes after the replacement sent (a window after the first one)
FAULT_TTL_S = 10.0 if LONG else 1.5
KILL_AT, RESTART_AT, FAULT_END = (20.0, 90.0, 140.0) if LONG else (4.0, 9.5, 18.0)

pytestmark = pytest.mark.timeout(400 if LONG else 120)
CAPACITY = 60  # the standard tier's requests per window
SYMBOLS = ["ETH", "BTC", "SOL"]


async def _setup(node: LocalNode) -> tuple[Any, dict[str, str]]:
    dev = await node.create_account(collateral=10_000_000)
    keys = {str(dev.api_key_index): dev.private_key}
    for index in range(5, 10):
        private, _ = await node.add_api_key(dev.account_index, index)
        keys[str(index)] = private
    return dev, keys


def _args(
    node: LocalNode, dev: Any, keys: dict[str, str], url: str, until: float
) -> dict[str, Any]:
    return {
        "base_url": node.base_url,
        "account": dev.account_index,
        "keys": keys,
        "fleet": url,
        "symbols": SYMBOLS,
        "capacity": CAPACITY,
        "until": until,
    }


def _env(namespace: str, ttl: float = 10.0) -> dict[str, str]:
    return {
        "LIGHTERFAST_FLEET_NAMESPACE": namespace,
        "LIGHTERFAST_FLEET_WINDOW_S": str(WINDOW_S),
        "LIGHTERFAST_FLEET_TTL_S": str(ttl),
        # the loaded node's lag from grant to its count (the 60 s window: the default 1 s)
        "LIGHTERFAST_FLEET_HOLD_S": "1.0" if LONG else "0.45",
        "PYTHONPATH": os.pathsep.join(
            [os.path.dirname(os.path.dirname(__file__)), os.environ.get("PYTHONPATH", "")]
        ),
    }


async def _finish(proc: Any, run_s: float = RUN_S) -> tuple[list[dict[str, Any]], str]:
    out, err = await asyncio.to_thread(proc.communicate, timeout=run_s + 60)
    return parse(out), err


def _node_limits() -> RateLimits:
    return RateLimits("standard", window_s=WINDOW_S)


def _orders_of(node: LocalNode, account: int) -> list[dict[str, Any]]:
    return [o for o in node.state.orders.values() if o["owner_account_index"] == account]


def _doubles(results: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """(COIs issued twice, (key, nonce) pairs accepted twice)."""
    accepted = [r for r in results if r["s"] == "accepted"]
    cois = Counter(r["coi"] for r in results)
    lanes = Counter((r["k"], r["n"]) for r in accepted)
    return [c for c, n in cois.items() if n > 1], [kn for kn, n in lanes.items() if n > 1]


def _check_unique(results: list[dict[str, Any]]) -> None:
    dup_cois, dup_nonces = _doubles(results)
    assert dup_cois == []  # no COI issued twice
    assert dup_nonces == []  # no nonce used twice


def _refusals(node: LocalNode) -> int:
    limits = node.rate_limits
    assert limits is not None
    return int(limits.refusals.get(P.ERR_TOO_MANY_REQUESTS, 0))


def _budget_use(seen: list[float], until: float) -> tuple[int, int, int, float]:
    """(requests counted, whole windows, budget of those windows, requests in the run)."""
    times = sorted(t for t in seen if t <= until)  # not the waits past the deadline
    span = until - times[0]
    whole = max(1, math.floor(span / WINDOW_S))
    counted = sum(1 for t in times if t < times[0] + whole * WINDOW_S)
    return counted, whole, CAPACITY * whole, len(times)


def _after(t: float, since: float) -> str:
    return f"{t - since:.1f} s" if t else "(not seen)"


async def test_four_processes_three_bots_six_keys_share_the_budget(
    redis_url: str, fleet_namespace: str
) -> None:
    seen: list[float] = []

    def hook(endpoint: str, remote: str, request: Any) -> None:
        seen.append(time.time())
        return None

    async with LocalNode(port=0, rate_limits=_node_limits(), exec_latency_ms="standard") as node:
        node.request_hook = hook
        dev, keys = await _setup(node)
        until = time.time() + RUN_S
        procs = [
            spawn(_args(node, dev, keys, redis_url, until), _env(fleet_namespace)) for _ in range(4)
        ]
        finished = await asyncio.gather(*(_finish(p) for p in procs))
        lines = [line for out, _ in finished for line in out]
        errors = [err[-2000:] for out, err in finished if not any("done" in x for x in out)]
        assert errors == []
        ready = [line for line in lines if line.get("ready")]
        assert len(ready) == 4
        assert len({tuple(r["keys"]) for r in ready}) == 4  # each process its own lane
        assert len({r["slot"] for r in ready}) == 4  # and its own COI slot
        results = [line for line in lines if "s" in line]
        accepted = [r for r in results if r["s"] == "accepted"]
        done = [line for line in lines if line.get("done")]
        # 0 × 429: every request the node counted was granted by the fleet first, and no
        # grant leaves the fleet's window before the node's count of it does (issue 14).
        limited = sum(line["rate_limited"] for line in done)
        await asyncio.sleep(0.5)  # the last creates execute (standard latency)
        mine = _orders_of(node, dev.account_index)
        # The budget was used: the requests the node saw in the whole windows from the first
        # one on, against the CAPACITY per window the tier admits (a partial last window
        # would make the figure a step function of the start-up time).
        counted, whole, most, total = _budget_use(seen, until)
        used = counted / most
        dup_cois, dup_nonces = _doubles(results)
        print(
            f"\nfleet procs {MODE} steady: 4 processes x 3 bots, 6 keys, {RUN_S:g} s,"
            f" window {WINDOW_S:g} s: {counted} requests in {whole} x {WINDOW_S:g} s ="
            f" {used:.1%} of the {most} the {CAPACITY}/{WINDOW_S:g} s budget admits"
            f" ({total} in the run); accepted {len(accepted)}, node orders {len(mine)};"
            f" 429: {_refusals(node)} (client saw {limited}),"
            f" 21104: {sum(1 for r in results if r['code'] == P.ERR_INVALID_NONCE)},"
            f" nonce resyncs: {sum(s['nonce_resyncs'] for line in done for s in line['stats'])},"
            f" duplicate COIs: {len(dup_cois)}, nonces used twice: {len(dup_nonces)}"
        )
        assert [r for r in results if r["s"] != "accepted"] == []
        assert [r for r in results if r["code"] == P.ERR_INVALID_NONCE] == []
        _check_unique(results)
        assert sum(s["nonce_resyncs"] for line in done for s in line["stats"]) == 0
        assert _refusals(node) == 0
        assert limited == 0
        assert sorted(o["client_order_index"] for o in mine) == sorted(r["coi"] for r in accepted)
        assert used >= 0.9


class _Watch:
    """Polls the fleet's lanes (10 Hz, its own connection) to time the faults: when the dead
    process's lane is free and taken over, and when all lanes are leased after the restart."""

    def __init__(self, url: str, namespace: str, account: int) -> None:
        self.url, self.namespace, self.account = url, namespace, account
        self.key = -1
        self.epoch = 0
        self.killed = self.back = 0.0
        self.free = self.taken = self.relet = 0.0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        fleet = await Fleet.connect(self.url, namespace=self.namespace, wait_s=0.5)
        try:
            while True:
                await asyncio.sleep(0.1)
                try:
                    lanes = (await fleet.status(self.account)).lanes
                except FleetError:
                    continue
                now = time.time()
                mine = [lane for lane in lanes if lane.key == self.key]
                if self.killed and not self.free and mine and not mine[0].live:
                    self.free = now
                if self.killed and not self.taken and mine and mine[0].epoch > self.epoch:
                    self.taken = now
                    self.free = self.free or now
                live = sum(1 for lane in lanes if lane.live)
                if self.back and not self.relet and live >= 4:
                    self.relet = now
        finally:
            await fleet.close()


async def test_a_killed_process_is_taken_over_and_a_redis_restart_is_ridden_out(
    restartable_redis: Any, fleet_namespace: str
) -> None:
    async with LocalNode(port=0, rate_limits=_node_limits(), exec_latency_ms="standard") as node:
        dev, keys = await _setup(node)
        url = restartable_redis.url
        t0 = time.time()
        until = t0 + FAULT_END  # 8 s (short) after the Redis restart to lease again and send
        env = _env(fleet_namespace, ttl=FAULT_TTL_S)
        procs = [spawn(_args(node, dev, keys, url, until), env) for _ in range(4)]
        victim = procs[0]
        assert victim.stdout is not None
        first = await asyncio.to_thread(victim.stdout.readline)  # its ready line: its lane
        (ready,) = parse(first)
        watch = _Watch(url, fleet_namespace, dev.account_index)
        ((watch.key, watch.epoch),) = ((int(k), e) for k, e in ready["epochs"].items())
        watch.task = asyncio.ensure_future(watch.run())
        await asyncio.sleep(max(0.0, t0 + KILL_AT - time.time()))
        victim.send_signal(signal.SIGKILL)
        killed = watch.killed = time.time()
        gone_keys = {str(k): keys[str(k)] for k in ready["keys"]}
        wait = FAULT_TTL_S + 8.0  # the dead holder's lease expires first
        replacement_args = _args(node, dev, gone_keys, url, until) | {"lease_wait_s": wait}
        replacement = spawn(replacement_args, env)
        procs.append(replacement)
        assert replacement.stdout is not None
        (repl_ready,) = parse(await asyncio.to_thread(replacement.stdout.readline))
        await asyncio.sleep(max(1.0, t0 + RESTART_AT - time.time()))  # it sent: the restart
        restartable_redis.stop()  # every key gone: leases, budget windows, recorded nonces
        await asyncio.sleep(0.5)
        restartable_redis.start()
        back = watch.back = time.time()
        finished = await asyncio.gather(*(_finish(p, FAULT_END) for p in procs))
        watch.task.cancel()
        await asyncio.gather(watch.task, return_exceptions=True)
        victim_lines = [ready, *finished[0][0]]
        lines = [line for out, _ in finished for line in out] + [ready, repl_ready]
        survivors = finished[1:]
        errors = [err[-2000:] for out, err in survivors if not any("done" in x for x in out)]
        assert errors == []
        results = [line for line in lines if "s" in line]
        await asyncio.sleep(0.5)
        accepted = {r["coi"] for r in results if r["s"] == "accepted"}
        mine = _orders_of(node, dev.account_index)
        on_node = Counter(o["client_order_index"] for o in mine)
        extra = set(on_node) - accepted
        resumed = [
            min((r["t"] for r in out if r.get("s") == "accepted" and r["t"] > back), default=0.0)
            for out, _ in survivors
        ]
        repl_sent = [r["t"] for r in finished[-1][0] if r.get("s") == "accepted"]
        refused = [r for r in results if r["s"] == "rejected"]
        dup_cois, dup_nonces = _doubles(results)
        done = [line for out, _ in survivors for line in out if line.get("done")]
        print(
            f"\nfleet procs {MODE} faults: 4 processes x 3 bots, 6 keys, {FAULT_END:g} s,"
            f" window {WINDOW_S:g} s, lease TTL {FAULT_TTL_S:g} s: SIGKILL at"
            f" {killed - t0:.1f} s, its lane free {_after(watch.free, killed)} later, taken over"
            f" {_after(watch.taken, killed)} later (epochs {ready['epochs']} ->"
            f" {repl_ready['epochs']}), replacement's first accepted at"
            f" {(min(repl_sent) - t0) if repl_sent else float('nan'):.1f} s;"
            f" Redis restarted at {back - t0:.1f} s, all lanes leased again"
            f" {_after(watch.relet, back)} later, every process sent again within"
            f" {max(resumed) - back:.1f} s (first {min(resumed) - back:.1f} s);"
            f" accepted {len(accepted)}, node orders {len(mine)} (of them {len(extra)} sent by"
            f" the victim unreported), rejected {len(refused)};"
            f" 429: {_refusals(node)} (client saw {sum(d['rate_limited'] for d in done)}),"
            f" 21104: {sum(1 for r in results if r['code'] == P.ERR_INVALID_NONCE)},"
            f" duplicate COIs: {len(dup_cois)}, nonces used twice: {len(dup_nonces)},"
            f" orders twice on the node: {sum(1 for n in on_node.values() if n > 1)}"
        )
        assert repl_ready["keys"] == ready["keys"]  # the dead process's lane, taken over
        for key in ready["keys"]:
            assert repl_ready["epochs"][str(key)] > ready["epochs"][str(key)]
        _check_unique(results)
        assert [r for r in results if r["code"] == P.ERR_INVALID_NONCE] == []
        # Sends resumed in every surviving process after the restart.
        assert all(t > back for t in resumed)
        assert repl_sent  # the replacement sent on the lane it took over
        assert all("fleet" in r["m"] or "rate" in r["m"].lower() for r in refused), refused
        # The node's orders: every accepted one, plus at most one batch per bot of the victim
        # that it sent but did not live to print (its own slot), never one twice.
        assert max(on_node.values()) == 1
        assert accepted <= set(on_node)
        assert len(extra) <= len(SYMBOLS)
        assert all(c & 0xFF == ready["slot"] for c in extra)
        assert victim_lines
