"""A fleet server restart loses every budget window: the processes that held reservations put
them back (during a grace in which nothing is granted) before anyone is granted again, so the
fleet never admits more than a window's capacity across a restart (else the venue answers
429 for what it still counts). A fresh server has no grace."""

from __future__ import annotations

import asyncio

import pytest

from _helpers import eventually
from fleet.fleet_server import RedisServer
from fleet.test_fleet_budget import drain, used
from lighterfast.fleet import Fleet, FleetBudgetExhausted


async def _pair(url: str, namespace: str) -> tuple[Fleet, Fleet]:
    kw = {"namespace": namespace, "wait_s": 0.5, "lease_ttl_s": 1.5}
    return await Fleet.connect(url, host="h", **kw), await Fleet.connect(url, host="h", **kw)


async def test_a_restart_puts_the_held_reservations_back_before_granting_again(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    a, b = await _pair(restartable_redis.url, fleet_namespace)
    try:
        ba = a.budget(1, capacity=10, chunk=0, window_s=60)
        bb = b.budget(1, capacity=10, chunk=0, window_s=60)
        for _ in range(4):
            await ba.acquire()
            await bb.acquire()
        assert a.boot and a.boot == b.boot
        restartable_redis.stop()
        restartable_redis.start()  # empty: the 8 granted are forgotten by the server
        # Both ask again: the first one starts the grace, each puts its 4 back first.
        await asyncio.gather(ba.acquire(), bb.acquire())
        assert a.restarts == 1 and b.restarts == 1
        assert ba.reseeded == 4 and bb.reseeded == 4
        assert a.boot != "" and a.boot == b.boot
        assert await used(a, "acct", "1", "req") == 10  # 4 + 4 put back, 2 granted
        assert await used(a, "host", "h", "req") == 10
        with pytest.raises(FleetBudgetExhausted):  # full: nothing more this window
            await ba.acquire(max_wait_s=0)
        assert await drain(bb) == 0
    finally:
        await a.close()
        await b.close()


async def test_the_heartbeat_puts_reservations_back_without_a_reservation_call(
    restartable_redis: RedisServer, fleet_namespace: str
) -> None:
    a, b = await _pair(restartable_redis.url, fleet_namespace)
    try:
        ba = a.budget(1, capacity=10, chunk=0, window_s=60)
        for _ in range(6):
            await ba.acquire()
        await a.lease_slot(1)  # a lease: the heartbeat runs
        restartable_redis.stop()
        restartable_redis.start()
        # `a` asks for no budget: its heartbeat finds its lease gone and checks the generation.
        await eventually(lambda: a.restarts == 1, timeout=10)
        assert ba.reseeded == 6
        assert await used(b, "acct", "1", "req") == 6
        # A process that never reserved before (no generation known) waits out the grace
        # the restart started, then gets only what is left.
        bb = b.budget(1, capacity=10, chunk=0, window_s=60)
        await bb.acquire()
        assert await drain(bb) == 3
    finally:
        await a.close()
        await b.close()


async def test_a_fresh_server_grants_at_once(redis_url: str, fleet_namespace: str) -> None:
    async with await Fleet.connect(redis_url, namespace=fleet_namespace) as fleet:
        budget = fleet.budget(1, capacity=5, chunk=0)
        assert await drain(budget) == 5  # max_wait_s=0: no grace on first use
        assert fleet.boot and fleet.restarts == 0
