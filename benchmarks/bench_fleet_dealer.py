"""Fleet overhead on order → acceptance: the same dealer with and without a fleet, same run.

One local node in its own process (exec latency 0), one premium account per dealer; each round
is `create_limit_order` + `flush()` over the dealer's WebSocket, timed to the node's acceptance
reply. With a fleet (`DealerConfig(fleet=URL)`, a private valkey-server from bench_fleet) the
send also spends the fleet budget (a local chunk, reserved ahead in the background), takes its
COI from the leased slot and notes the nonce on the leased lane. p50/p99 in `extra_info`; the
ratio "fleet / local" of the medians is the overhead. `test_fleet_overhead_alternating` runs
both dealers in one loop, alternating every order (and which one goes first), so load changes
hit both alike: p50/p99 of each and the ratio of the medians in its `extra_info`. Run:

    python -m pytest benchmarks/bench_fleet_dealer.py --benchmark-only -s
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bench_dealer import ROUNDS, WARMUP, _account, _buy_price, _run
from bench_fleet import redis_url  # noqa: F401  (the module's valkey-server fixture)
from setup_common import new_loop, node_in_process


@pytest.fixture(scope="module")
def node_info() -> Iterator[dict[str, Any]]:
    with node_in_process("fast", accounts=2) as info:
        yield info


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = new_loop()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()


async def _dealer(info: dict[str, Any], slot: int, fleet: str | None) -> Any:
    from lighterfast import DealerConfig, LighterDealer

    acc, key, private = _account(info, slot)
    return await LighterDealer.create(
        DealerConfig(
            base_url=info["base_url"],
            account_index=acc,
            api_key_index=key,
            api_key_private_key=private,
            symbol="ETH",
            standard_account=False,
            use_ws=True,
            fleet=fleet,
        )
    )


@pytest.mark.benchmark(group="dealer-fleet-one-order")
@pytest.mark.parametrize("budget", ["local", "fleet"])
def test_one_order_with_and_without_fleet(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    node_info: dict[str, Any],
    redis_url: str,  # noqa: F811
    budget: str,
) -> None:
    os.environ["LIGHTERFAST_FLEET_NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}"
    fleet = redis_url if budget == "fleet" else None
    dealer = loop.run_until_complete(_dealer(node_info, 0 if fleet is None else 1, fleet))
    assert (dealer._fleet_link is not None) == (fleet is not None)
    rng = random.Random(1)

    async def one() -> None:
        await dealer.create_limit_order(_buy_price(rng), 0.01)
        results = await dealer.flush()
        assert results[0]["accepted"], results

    try:
        _run(benchmark, loop, one, ROUNDS, "fast")
    finally:
        loop.run_until_complete(dealer.aclose())
        os.environ.pop("LIGHTERFAST_FLEET_NAMESPACE", None)


@pytest.mark.benchmark(group="dealer-fleet-alternating")
def test_fleet_overhead_alternating(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    node_info: dict[str, Any],
    redis_url: str,  # noqa: F811
) -> None:
    """Both dealers in one run, one order each per round in alternating order (same load)."""
    os.environ["LIGHTERFAST_FLEET_NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}"
    local = loop.run_until_complete(_dealer(node_info, 0, None))
    fleet = loop.run_until_complete(_dealer(node_info, 1, redis_url))
    assert local._fleet_link is None and fleet._fleet_link is not None
    rng = random.Random(2)
    times: dict[str, list[float]] = {"local": [], "fleet": []}
    flip = [False]

    async def one(dealer: Any) -> float:
        t0 = time.perf_counter()
        await dealer.create_limit_order(_buy_price(rng), 0.01)
        results = await dealer.flush()
        elapsed = time.perf_counter() - t0
        assert results[0]["accepted"], results
        return elapsed

    async def pair() -> None:
        flip[0] = not flip[0]
        order = [("local", local), ("fleet", fleet)]
        for name, dealer in order if flip[0] else order[::-1]:
            times[name].append(await one(dealer))

    try:
        for _ in range(WARMUP):
            loop.run_until_complete(pair())
        times["local"].clear()
        times["fleet"].clear()
        rounds = 1 if getattr(benchmark, "disabled", False) else ROUNDS
        benchmark.pedantic(lambda: loop.run_until_complete(pair()), rounds=rounds, iterations=1)
        info: dict[str, Any] = {}
        for name, data in times.items():
            data.sort()
            info[f"{name}_p50_us"] = round(statistics.median(data) * 1e6, 1)
            info[f"{name}_p99_us"] = round(data[min(len(data) - 1, int(len(data) * 0.99))] * 1e6, 1)
        info["fleet_over_local_p50"] = round(info["fleet_p50_us"] / info["local_p50_us"], 3)
        info["fleet_over_local_p99"] = round(info["fleet_p99_us"] / info["local_p99_us"], 3)
        info["rounds"] = len(times["local"])
        benchmark.extra_info.update(info)
        print(f"\nfleet overhead, alternating: {info}")
    finally:
        loop.run_until_complete(local.aclose())
        loop.run_until_complete(fleet.aclose())
        os.environ.pop("LIGHTERFAST_FLEET_NAMESPACE", None)
