"""COI slots against a real server: unique among the live processes of an account, taken over
after a silent owner's TTL with a new epoch, and the COIs they embed never collide."""

from __future__ import annotations

import asyncio

import pytest

from lighterfast.dealer.coi import CoiAllocator, coi_parts
from lighterfast.errors import FleetError
from lighterfast.fleet import MAX_SLOT, Fleet, SlotLease

TTL = 1.0


@pytest.fixture
async def pair(redis_url: str, fleet_namespace: str):  # type: ignore[no-untyped-def]
    a = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace, lease_ttl_s=TTL)
    b = await Fleet.connect(redis_url, host="h2", namespace=fleet_namespace, lease_ttl_s=TTL)
    yield a, b
    await a.close()
    await b.close()


async def test_two_processes_get_different_slots_and_cois(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    sa, sb = await a.lease_slot(1), await b.lease_slot(1)
    assert (sa.slot, sb.slot) == (0, 1) and sa.epoch == sb.epoch == 1
    assert (await b.lease_slot(2)).slot == 0  # slots are per account
    ca, cb = CoiAllocator(slot=sa.slot), CoiAllocator(slot=sb.slot)
    cois_a = {ca.next() for _ in range(200)}
    cois_b = {cb.next() for _ in range(200)}
    assert not cois_a & cois_b
    assert {coi_parts(c)[1] for c in cois_a} == {sa.slot}


async def test_a_preferred_slot_is_taken_when_free(pair: tuple[Fleet, Fleet]) -> None:
    a, b = pair
    assert (await a.lease_slot(1, prefer=7)).slot == 7
    assert (await b.lease_slot(1, prefer=7)).slot == 0  # held: the lowest free one
    with pytest.raises(ValueError, match="prefer"):
        await a.lease_slot(1, prefer=MAX_SLOT + 1)


async def test_all_slots_held_is_a_fleet_error_until_one_is_released(
    pair: tuple[Fleet, Fleet],
) -> None:
    a, b = pair
    held = [await a.lease_slot(3) for _ in range(MAX_SLOT + 1)]
    assert sorted(s.slot for s in held) == list(range(MAX_SLOT + 1))
    with pytest.raises(FleetError, match="no free COI slot for account 3"):
        await b.lease_slot(3)
    await held[42].release()
    again = await b.lease_slot(3)
    assert again.slot == 42 and again.epoch == 2


async def test_a_silent_owner_s_slot_is_taken_over_with_a_new_epoch(
    pair: tuple[Fleet, Fleet],
) -> None:
    a, b = pair
    old = await a.lease_slot(5)
    task = a._heartbeat
    assert task is not None
    task.cancel()  # a frozen process: no renewal
    await asyncio.gather(task, return_exceptions=True)
    new: SlotLease | None = None
    for _ in range(500):
        new = await b.lease_slot(5, prefer=old.slot)
        if new.slot == old.slot:
            break
        await new.release()
        await asyncio.sleep(0.02)
    assert new is not None and new.slot == old.slot and new.epoch == old.epoch + 1
    assert not old.valid and new.valid


async def test_a_slot_kept_by_the_heartbeat_is_never_handed_out(
    pair: tuple[Fleet, Fleet],
) -> None:
    a, b = pair
    mine = await a.lease_slot(6)
    for _ in range(5):
        await asyncio.sleep(TTL / 2)
        other = await b.lease_slot(6, prefer=mine.slot)
        assert other.slot != mine.slot
        await other.release()
    assert mine.valid
