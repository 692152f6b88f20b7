"""The fleet server down, frozen or restarted (the real process, same port): every call ends
within its bound with FleetError and grants nothing, a lease outlives a freeze shorter than its
TTL, a lease that cannot be renewed in time is reported lost, and the same Fleet recovers."""

from __future__ import annotations

import asyncio

import pytest

from _helpers import eventually
from fleet.fleet_server import RedisServer
from lighterfast.errors import FleetError
from lighterfast.fleet import Fleet, Lease


async def test_connect_while_down_fails_then_works_after_start(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    restartable_redis.stop()
    with pytest.raises(FleetError, match="cannot reach the fleet server"):
        await Fleet.connect(restartable_redis.url, namespace=fleet_namespace, wait_s=0.5)
    restartable_redis.start()
    async with await Fleet.connect(restartable_redis.url, namespace=fleet_namespace) as fleet:
        await fleet.budget(1, chunk=0).acquire()


async def test_a_frozen_server_times_out_and_grants_nothing(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    fleet = await Fleet.connect(restartable_redis.url, namespace=fleet_namespace, wait_s=0.3)
    try:
        b = fleet.budget(1, standard_account=False, capacity=1000, chunk=100, hold_s=30)
        restartable_redis.pause()
        with pytest.raises(
            FleetError, match=r"did not answer .* within 0.3 s \(nothing was granted\)"
        ):
            await b.acquire(6)
        assert b.available() == 0 and not b.try_acquire(6) and b.reservations == 0
        with pytest.raises(FleetError, match="did not answer"):
            await fleet.lease_lanes(1, [3])
        restartable_redis.resume()
        # no reply of the abandoned calls is read as the answer to a later one
        assert await fleet.conn.client.echo("after") == "after"
        await b.acquire(6)  # the same Fleet works again
        assert b.reservations == 1 and b.available() == 94
    finally:
        restartable_redis.resume()
        await fleet.close()


async def test_a_lane_leased_by_a_timed_out_call_can_be_leased_again(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    fleet = await Fleet.connect(restartable_redis.url, namespace=fleet_namespace, wait_s=0.3)
    other = await Fleet.connect(restartable_redis.url, namespace=fleet_namespace)
    try:
        restartable_redis.pause()
        with pytest.raises(FleetError, match="did not answer"):
            await fleet.lease_lanes(1, [3])
        restartable_redis.resume()  # the server now runs the abandoned call: key 3 is ours
        with pytest.raises(FleetError, match="key 3 held by " + fleet.owner):
            await other.lease_lanes(1, [3])
        (lane,) = await fleet.lease_lanes(1, [3])  # no lease object of ours: taken again
        assert lane.epoch == 2 and lane.valid
        with pytest.raises(FleetError, match="no free API key lane"):
            await fleet.lease_lanes(1, [3])  # held by a live lease object now: refused
    finally:
        restartable_redis.resume()
        await fleet.close()
        await other.close()


async def test_a_lease_outlives_a_freeze_shorter_than_its_ttl(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    fleet = await Fleet.connect(
        restartable_redis.url, namespace=fleet_namespace, wait_s=0.2, lease_ttl_s=3.0
    )
    try:
        (lane,) = await fleet.lease_lanes(1, [3])
        slot = await fleet.lease_slot(1)
        before = lane.deadline
        restartable_redis.pause()
        await asyncio.sleep(1.2)  # at least one heartbeat fails meanwhile
        restartable_redis.resume()
        await eventually(lambda: lane.deadline > before + 1.0, timeout=5)
        assert lane.valid and slot.valid
        assert not lane.lost.is_set() and not slot.lost.is_set()
        await lane.record_nonce(9)  # still the owner: the fenced write is accepted
    finally:
        restartable_redis.resume()
        await fleet.close()


async def test_leases_are_lost_when_the_server_stays_down_and_the_fleet_recovers(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    fleet = await Fleet.connect(
        restartable_redis.url, namespace=fleet_namespace, wait_s=0.3, lease_ttl_s=1.0
    )
    try:
        (lane,) = await fleet.lease_lanes(1, [3])
        slot = await fleet.lease_slot(1)
        lost: list[Lease] = []
        lane.on_lost(lost.append)
        slot.on_lost(lost.append)
        restartable_redis.stop()
        await asyncio.wait_for(asyncio.gather(lane.lost.wait(), slot.lost.wait()), 10)
        assert lost == [lane, slot] or lost == [slot, lane]
        assert "not renewed within its 1 s TTL" in lane.lost_reason
        assert not lane.valid and fleet.leases == []
        with pytest.raises(FleetError, match="nothing was granted"):
            await fleet.budget(1, chunk=0).acquire()
        with pytest.raises(FleetError):
            await fleet.lease_slot(1)
        with pytest.raises(FleetError):
            await fleet.status()
        restartable_redis.start()  # same port, empty (no persistence)
        (again,) = await fleet.lease_lanes(1, [3])
        assert again.valid and again.epoch == 1 and again.last_nonce is None
        await fleet.budget(1, chunk=0).acquire()
        assert [lease.key for lease in (await fleet.status()).lanes if lease.live] == [3]
    finally:
        await fleet.close()


async def test_a_restart_within_the_ttl_reports_the_lease_lost(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    fleet = await Fleet.connect(
        restartable_redis.url, namespace=fleet_namespace, wait_s=0.3, lease_ttl_s=3.0
    )
    try:
        (lane,) = await fleet.lease_lanes(1, [3])
        restartable_redis.stop()
        restartable_redis.start()  # the server forgot every lease: renewing is refused
        await asyncio.wait_for(lane.lost.wait(), 10)
        assert "expired or taken over" in lane.lost_reason
        with pytest.raises(FleetError, match="stale"):
            await lane.record_nonce(5)
    finally:
        await fleet.close()


async def test_close_with_the_server_down_does_not_raise(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    fleet = await Fleet.connect(
        restartable_redis.url, namespace=fleet_namespace, wait_s=0.3, lease_ttl_s=5.0
    )
    lanes = await fleet.lease_lanes(1, [3, 4])
    slot = await fleet.lease_slot(1)
    b = fleet.budget(1, standard_account=False, capacity=1000, chunk=100, hold_s=30)
    await b.acquire(6)
    restartable_redis.stop()
    await fleet.close()  # the releases fail (logged); the leases expire on their own
    assert fleet.leases == [] and all(lease.released for lease in [*lanes, slot])
    assert b.available() == 0 and b.refunded == 0
    assert fleet.closed
    with pytest.raises(FleetError, match="closed"):
        await fleet.lease_slot(1)
