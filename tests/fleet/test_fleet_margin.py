"""The fleet's reservations outlive the node's count of the request (issue 14 item 4): the
node counts a request when it arrives, after signing and the send, so a grant that left the
fleet's window exactly one window after it was made freed the slot before the node did, and
the next send got HTTP 429. Real node (standard tier, short window), real server, real REST."""

from __future__ import annotations

import asyncio

import pytest

from lighterfast.dealer.fleet_link import FleetLimiter
from lighterfast.fleet import Fleet
from lighterfast.fleet.budget import DEFAULT_MARGIN_S
from lighterfast.testnode import LocalNode, RateLimits
from lighterfast.transport.rest import RestClient

WINDOW_S = 3.0
CAPACITY = 60  # the node's standard tier per window


@pytest.mark.parametrize("lag_s", [0.15, 0.4], ids=["within-the-floor", "a-slower-send"])
async def test_a_request_counted_late_by_the_node_is_not_reused_early(
    fleet: Fleet, lag_s: float
) -> None:
    limits = RateLimits("standard", window_s=WINDOW_S)
    async with LocalNode(port=0, rate_limits=limits) as node:
        budget = fleet.budget("margin", capacity=CAPACITY, window_s=WINDOW_S)
        rest = RestClient(node.base_url, limiter=FleetLimiter(budget), jitter_ms=(0, 1))

        async def slow_signing() -> str:  # what stands between the grant and the send
            await asyncio.sleep(lag_s)
            return "not-a-secret"

        try:
            # Granted at t0, counted by the node at t0 + lag: the oldest entry of both windows.
            await rest.request("GET", "/", auth=slow_signing)
            for _ in range(CAPACITY - 1):
                await rest.network_id()
            # Both windows full: the fleet admits the next one only when its first grant
            # expires, which must be after the node's count of it expired too.
            await rest.network_id()
        finally:
            await rest.close()
            await budget.release()
        assert limits.refusals == {}
        assert rest.rate_limited_replies == 0
        assert budget.margin >= max(DEFAULT_MARGIN_S, lag_s)


async def test_the_margin_follows_the_slowest_recent_send(fleet: Fleet) -> None:
    budget = fleet.budget("margin-lag", capacity=CAPACITY, window_s=WINDOW_S)
    assert budget.margin == DEFAULT_MARGIN_S  # nothing seen yet: the floor
    budget.note_latency(0.05)
    assert budget.margin == DEFAULT_MARGIN_S  # a fast send stays under it
    budget.note_latency(1.0)
    assert budget.margin >= 1.0  # a slow one widens it (with room to spare)
    budget.note_latency(0.1)
    assert budget.margin >= 1.0  # and a faster one after it does not narrow it at once
    await budget.release()


def test_the_margin_must_be_seconds(fleet: Fleet) -> None:
    with pytest.raises((TypeError, ValueError), match="margin_s"):
        fleet.budget("margin-bad", margin_s=-1.0)
