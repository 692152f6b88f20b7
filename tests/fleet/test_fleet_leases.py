"""API-key lane leases against a real server: exclusive, renewed, taken over after the TTL with
the last recorded nonce, fenced by epoch, and a killed owner's lane is taken over."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from _helpers import eventually
from lighterfast.errors import FleetError
from lighterfast.fleet import Fleet, LaneLease

TTL = 1.0


async def pause_heartbeat(fleet: Fleet) -> None:
    """Stop a fleet's heartbeat as a frozen (GC-paused, stopped) process would."""
    task = fleet._heartbeat
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def lease_when_free(fleet: Fleet, account: int, keys: list[int]) -> list[LaneLease]:
    """Retry lease_lanes until the lease of a silent owner has expired in the server."""
    for _ in range(500):
        try:
            return await fleet.lease_lanes(account, keys)
        except FleetError:
            await asyncio.sleep(0.02)
    raise AssertionError("the lane was never free")


@pytest.fixture
async def pair(redis_url: str, fleet_namespace: str):  # type: ignore[no-untyped-def]
    a = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace, lease_ttl_s=TTL)
    b = await Fleet.connect(redis_url, host="h2", namespace=fleet_namespace, lease_ttl_s=TTL)
    yield a, b
    await a.close()
    await b.close()


async def test_a_held_lane_is_refused_naming_keys_and_holders(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    leases = await a.lease_lanes(1, [3, 4])
    assert [lease.key for lease in leases] == [3, 4]
    assert all(lease.epoch == 1 and lease.last_nonce is None for lease in leases)
    assert a.owner.startswith(f"h1:{os.getpid()}/")
    with pytest.raises(FleetError, match="no free API key lane") as info:
        await b.lease_lanes(1, [3, 4])
    text = str(info.value)
    assert "key 3 held by " + a.owner in text and "key 4 held by " + a.owner in text
    assert [lease.key for lease in await b.lease_lanes(2, [3])] == [3]  # another account


async def test_want_leases_only_that_many_of_the_free_keys(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    first = await a.lease_lanes(1, [5, 6, 7], want=1)
    assert [lease.key for lease in first] == [5]
    rest = await b.lease_lanes(1, [5, 6, 7])
    assert [lease.key for lease in rest] == [6, 7]


async def test_the_heartbeat_keeps_a_lane_beyond_its_ttl(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    (lease,) = await a.lease_lanes(1, [3])
    for _ in range(5):  # 5 x TTL/2 = 2.5 TTLs
        await asyncio.sleep(TTL / 2)
        with pytest.raises(FleetError):
            await b.lease_lanes(1, [3])
    assert lease.valid and not lease.lost.is_set()


async def test_release_hands_over_the_epoch_and_the_last_nonce(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    (lease,) = await a.lease_lanes(1, [3])
    await lease.record_nonce(41)
    await lease.record_nonce(17)  # kept as the max
    assert lease.last_nonce == 41
    await lease.release()
    assert not lease.valid and a.leases == []
    with pytest.raises(FleetError, match="released"):
        await lease.record_nonce(50)
    (taken,) = await b.lease_lanes(1, [3])
    assert taken.epoch == 2 and taken.last_nonce == 41
    assert taken.next_nonce(30) == 42 and taken.next_nonce(99) == 99


async def test_a_silent_owner_is_taken_over_and_its_late_record_refused(
    pair: tuple[Fleet, Fleet],
) -> None:
    a, b = pair
    (old,) = await a.lease_lanes(1, [8])
    await old.record_nonce(5)
    await pause_heartbeat(a)
    (new,) = await lease_when_free(b, 1, [8])
    assert new.epoch == old.epoch + 1 and new.last_nonce == 5
    assert not old.valid  # its own deadline passed unrenewed
    with pytest.raises(FleetError, match="stale") as info:
        await old.record_nonce(6)
    assert b.owner in str(info.value)
    assert old.lost.is_set()
    await new.record_nonce(6)
    (fresh,) = await lease_when_free_after_release(new, a)
    assert fresh.last_nonce == 6


async def lease_when_free_after_release(lease: LaneLease, other: Fleet) -> list[LaneLease]:
    await lease.release()
    return await other.lease_lanes(lease.account, [lease.key])


async def test_note_nonce_rides_on_the_heartbeat(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    (lease,) = await a.lease_lanes(1, [9])
    lease.note_nonce(77)
    lease.note_nonce(70)  # the max is kept
    await eventually(lambda: lease.last_nonce == 77, timeout=5)
    await pause_heartbeat(a)
    (taken,) = await lease_when_free(b, 1, [9])
    assert taken.last_nonce == 77


async def test_a_lane_the_server_no_longer_has_is_reported_lost(
    pair: tuple[Fleet, Fleet],
) -> None:
    a, _b = pair
    (lease,) = await a.lease_lanes(1, [10])
    seen: list[LaneLease] = []
    lease.on_lost(seen.append)
    await a.conn.client.delete(a.key("lane", "1", "10"))  # an operator flushed the key
    await asyncio.wait_for(lease.lost.wait(), 5)
    assert seen == [lease] and not lease.valid and "expired or taken over" in lease.lost_reason
    late: list[LaneLease] = []
    lease.on_lost(late.append)  # registered after the loss: called at once
    assert late == [lease]


async def test_bad_lane_arguments_are_refused(pair: tuple[Fleet, Fleet]) -> None:
    a, _b = pair
    for keys in ([], [3, 3]):
        with pytest.raises(ValueError, match="keys"):
            await a.lease_lanes(1, keys)
    with pytest.raises(ValueError, match="api_key_index"):
        await a.lease_lanes(1, [255])
    with pytest.raises(TypeError):
        await a.lease_lanes(1, "3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="want"):
        await a.lease_lanes(1, [3], want=2)
    (lease,) = await a.lease_lanes(1, [3])
    with pytest.raises(ValueError, match="nonce"):
        await lease.record_nonce(-1)
    assert lease.last_nonce is None


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from lighterfast.fleet import Fleet

    async def main():
        fleet = await Fleet.connect(sys.argv[1], host="child", namespace=sys.argv[2],
                                    lease_ttl_s=float(sys.argv[3]))
        (lease,) = await fleet.lease_lanes(4, [2])
        await lease.record_nonce(100)
        print("ready", lease.epoch, fleet.owner, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_a_killed_owner_s_lane_is_taken_over_from_its_last_nonce(
    redis_url: str, fleet_namespace: str
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, redis_url, fleet_namespace, "1.0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30)
        word, epoch, owner = line.split()
        assert word == "ready" and owner.startswith("child:")
        async with await Fleet.connect(redis_url, namespace=fleet_namespace) as fleet:
            with pytest.raises(FleetError, match=owner.replace("/", ".")):
                await fleet.lease_lanes(4, [2])
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            (lease,) = await lease_when_free(fleet, 4, [2])
            assert lease.epoch == int(epoch) + 1 and lease.last_nonce == 100
            assert lease.next_nonce(60) == 101
    finally:
        child.kill()
        child.wait(10)
