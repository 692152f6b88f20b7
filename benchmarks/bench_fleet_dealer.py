"""Fleet overhead on order → acceptance: the same dealer with and without a fleet, same run.

One local node in its own process (exec latency 0), one premium account per dealer; each round
is `create_limit_order` + `flush()` over the dealer's WebSocket, timed to the node's acceptance
reply. With a fleet (`DealerConfig(fleet=URL)`, a private valkey-server from bench_fleet) the
send also spends the fleet budget (a local chunk, reserved ahead in the background), takes its
COI from the leased slot and notes the nonce on the leased lane. p50/p99 in `extra_info`; the
ratio "fleet / local" of the medians is the overhead. Run:

    python -m pytest benchmarks/bench_fleet_dealer.py --benchmark-only -s
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bench_dealer import ROUNDS, _account, _buy_price, _run
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
