"""The dealer's fleet link on its own (real valkey server, real node): a send waits for a full
window to free (as the local limiter does) instead of failing at once, and reads that name no
account pass the fleet's host window while a link guards them."""

from __future__ import annotations

import asyncio

import pytest

from fleet.test_fleet_budget import used
from lighterfast.core import WeightLimiter
from lighterfast.dealer.fleet_link import FleetLimiter, FleetLink
from lighterfast.testnode import LocalNode
from lighterfast.transport.budget import registered
from lighterfast.transport.rest import RestClient

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def link_env(monkeypatch: pytest.MonkeyPatch, fleet_namespace: str) -> str:
    """The link's knobs: this test's namespace, the venue's own window and defaults."""
    monkeypatch.setenv("LIGHTERFAST_FLEET_NAMESPACE", fleet_namespace)
    for name in ("WINDOW_S", "HOLD_S", "MAX_WAIT_S", "TTL_S", "URL"):
        monkeypatch.delenv(f"LIGHTERFAST_FLEET_{name}", raising=False)
    return fleet_namespace


async def test_a_send_waits_for_a_full_window_to_free_instead_of_failing(
    redis_url: str, link_env: str
) -> None:
    link = await FleetLink.open(redis_url, 7, "host-w")
    try:
        limiter, _ = link.limiters(True, 1)  # one request per 60 s window
        await limiter.acquire_async(1)
        # The next room is a window + margin away (over 60 s): it waits for it (a bound of
        # 60 s refused at once with NotSent, and a bot then spun on rejections).
        task = asyncio.ensure_future(limiter.acquire_async(1))
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert done == set()
        task.cancel()
        assert link.budget is not None and link.budget.max_wait_s > 2 * 60
    finally:
        await link.close()


async def test_reads_without_an_account_pass_the_fleet_host_window(
    node: LocalNode, redis_url: str, link_env: str
) -> None:
    link = await FleetLink.open(redis_url, 7, "host-r")
    other = await FleetLink.open(redis_url, 8, "host-r")  # a second account of the process
    try:
        link.limiters(True, 60, base_url=node.base_url)
        other.limiters(True, 60, base_url=node.base_url)
        reads = registered(node.base_url, None)
        assert reads is not None and isinstance(reads.limiter, FleetLimiter)
        rest = RestClient(node.base_url)  # the account-free budget, as a WsInfo's resync
        try:
            for _ in range(3):
                await rest.get("orderBooks")
        finally:
            await rest.close()
        assert await used(link.fleet, "host", "host-r", "req") == 3
        assert await used(link.fleet, "acct", "7", "req") == 0  # no account's window
        await link.close()  # the other account's link still guards the host's reads
        assert isinstance(reads.limiter, FleetLimiter)
        await other.close()
        # the last link gone: the process's own limiter again
        again = RestClient(node.base_url)
        try:
            assert isinstance(again.limiter, WeightLimiter)
        finally:
            await again.close()
    finally:
        await link.close()
        await other.close()
