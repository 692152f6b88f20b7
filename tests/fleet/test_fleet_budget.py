"""The fleet budget against a real server: both windows decide, chunks are spent locally and
returned, tiers and weights match the local limiter, a full window waits or refuses."""

from __future__ import annotations

import asyncio
import socket

import pytest

from _helpers import eventually
from lighterfast import protocol as P
from lighterfast.errors import FleetError, RateLimited
from lighterfast.fleet import Fleet, FleetBudget, FleetBudgetExhausted
from lighterfast.fleet.budget import DEFAULT_MARGIN_S


async def used(fleet: Fleet, *parts: str) -> int:
    """Live weight of one window as the server counts it now (the read-only PEEK script)."""
    base = fleet.key("budget", *parts)
    reply = await fleet.conn.script("PEEK", [base + ":z", base + ":w"], [], "peek")
    return int(reply[0])


async def drain(budget: FleetBudget, weight: int = 1) -> int:
    """Acquire `weight` until the fleet refuses at once; the weight admitted."""
    admitted = 0
    while True:
        try:
            await budget.acquire(weight, max_wait_s=0)
        except FleetBudgetExhausted:
            return admitted
        admitted += weight


async def test_connect_to_a_closed_port_is_a_clear_fleet_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://user:hunter2@127.0.0.1:{port}"
    with pytest.raises(FleetError, match="cannot reach the fleet server") as info:
        await Fleet.connect(url, wait_s=0.5)
    assert "hunter2" not in str(info.value) and f"127.0.0.1:{port}" in str(info.value)


async def test_connect_refuses_bad_arguments(redis_url: str) -> None:
    with pytest.raises(ValueError, match="redis://"):
        await Fleet.connect("http://127.0.0.1:1")
    with pytest.raises(TypeError):
        await Fleet.connect(redis_url, wait_s="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="namespace"):
        await Fleet.connect(redis_url, namespace="a b")


async def test_url_from_the_environment(
    redis_url: str, fleet_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIGHTERFAST_FLEET_URL", redis_url)
    async with await Fleet.connect(namespace=fleet_namespace) as fleet:
        assert fleet.url == redis_url
        assert fleet.host == socket.gethostname()  # the default host tag (plain on this host)
    monkeypatch.delenv("LIGHTERFAST_FLEET_URL")
    with pytest.raises(FleetError, match="LIGHTERFAST_FLEET_URL"):
        await Fleet.connect()


async def test_standard_budget_is_shared_by_two_processes(
    redis_url: str, fleet_namespace: str
) -> None:
    a = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace)
    b = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace)
    try:
        ba, bb = a.budget(7, chunk=0), b.budget(7, chunk=0)
        assert ba.capacity == P.STANDARD_REQUESTS_PER_MINUTE
        first = await drain(ba)
        assert first == P.STANDARD_REQUESTS_PER_MINUTE
        with pytest.raises(FleetBudgetExhausted) as info:
            await bb.acquire(1, max_wait_s=0)
        assert isinstance(info.value, RateLimited) and info.value.retry_after is not None
        # the window plus the margin a reservation outlives it by (grant → the venue's count)
        assert 0 < info.value.retry_after <= P.RATE_WINDOW_S + DEFAULT_MARGIN_S
        assert await used(a, "acct", "7", "req") == P.STANDARD_REQUESTS_PER_MINUTE
    finally:
        await a.close()
        await b.close()


async def test_a_request_needs_room_in_the_account_and_the_host_window(
    redis_url: str, fleet_namespace: str
) -> None:
    h1 = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace)
    h2 = await Fleet.connect(redis_url, host="h2", namespace=fleet_namespace)
    try:
        # host h1's window (4) is full before account 1's (10): host h2 may still send.
        a1 = h1.budget(1, capacity=10, host_capacity=4, chunk=0)
        assert await drain(a1) == 4
        other = h1.budget(2, capacity=10, host_capacity=4, chunk=0)  # another account, same IP
        assert await drain(other) == 0
        a2 = h2.budget(1, capacity=10, host_capacity=100, chunk=0)
        assert await drain(a2) == 6  # the account's window is now the limit
        assert await used(h2, "host", "h2", "req") == 6
        assert await used(h1, "acct", "1", "req") == 10
        assert await used(h1, "acct", "2", "req") == 0  # nothing half-granted
    finally:
        await h1.close()
        await h2.close()


async def test_concurrent_acquires_across_processes_never_exceed_the_capacity(
    redis_url: str, fleet_namespace: str
) -> None:
    fleets = [
        await Fleet.connect(redis_url, host=f"h{i % 2}", namespace=fleet_namespace)
        for i in range(4)
    ]
    try:
        budgets = [
            f.budget(3, standard_account=False, capacity=600, chunk=40, hold_s=30) for f in fleets
        ]

        async def spend(b: FleetBudget) -> int:
            got = 0
            for _ in range(60):
                try:
                    await b.acquire(6, max_wait_s=0)
                except FleetBudgetExhausted:
                    continue
                got += 6
            return got

        spent = await asyncio.gather(*(spend(b) for b in budgets))
        assert sum(spent) <= 600
        for b in budgets:
            await b.release()
        # what was reserved and not spent went back: the window holds the spent weight only
        assert await used(fleets[0], "acct", "3", "w") == sum(spent)
    finally:
        for f in fleets:
            await f.close()


async def test_a_chunk_is_spent_locally_and_its_rest_returned(fleet: Fleet) -> None:
    b = fleet.budget(5, standard_account=False, capacity=1000, chunk=60, hold_s=30, prefetch=False)
    await b.acquire(6)
    assert b.reservations == 1 and b.reserved == 60 and b.available() == 54
    assert await used(fleet, "acct", "5", "w") == 60
    assert all(b.try_acquire(6) for _ in range(9))  # the chunk, no server call
    assert not b.try_acquire(6) and b.reservations == 1 and b.local_hits == 9
    await b.acquire(300)  # bigger than a chunk: exactly its weight
    assert b.reserved == 360 and b.available() == 0
    await b.acquire(6)  # a new chunk
    assert b.reservations == 3 and b.available() == 54
    await b.release()
    assert b.refunded == 54
    assert await used(fleet, "acct", "5", "w") == 60 + 300 + 6


async def test_a_half_spent_chunk_prefetches_the_next(fleet: Fleet) -> None:
    b = fleet.budget(13, standard_account=False, capacity=10_000, chunk=60, hold_s=30)
    await b.acquire(6)
    assert all(b.try_acquire(6) for _ in range(5))  # 24 left, under half: the next is asked for
    await eventually(lambda: b.prefetches == 1)
    assert b.available() == 24 + 60 and b.reservations == 2
    assert all(b.try_acquire(6) for _ in range(14))  # both chunks, and no acquire() at all
    assert not b.try_acquire(6)
    await b.release()  # waits for a prefetch still in flight, returns what is unused
    assert await used(fleet, "acct", "13", "w") == 6 * 20
    assert b.reserved - b.refunded == 6 * 20


async def test_a_denied_prefetch_is_not_retried_before_there_is_room(
    redis_url: str, fleet_namespace: str
) -> None:
    a = await Fleet.connect(redis_url, namespace=fleet_namespace)
    b = await Fleet.connect(redis_url, namespace=fleet_namespace)
    try:
        mine = a.budget(14, standard_account=False, capacity=100, chunk=40, hold_s=30)
        await mine.acquire(6)  # a chunk of 40
        assert await drain(b.budget(14, standard_account=False, capacity=100, chunk=0)) == 60
        for _ in range(5):  # below half: one prefetch, denied (the window is full)
            assert mine.try_acquire(6)
            await asyncio.sleep(0.01)
        assert mine.denials == 1 and mine.prefetches == 0 and mine.reservations == 1
        assert not mine.try_acquire(6)
    finally:
        await a.close()
        await b.close()


async def test_a_new_reservation_returns_the_leftover_of_the_last(fleet: Fleet) -> None:
    b = fleet.budget(6, standard_account=False, capacity=1000, chunk=100, hold_s=30, prefetch=False)
    await b.acquire(90)
    assert b.available() == 10
    await b.acquire(50)  # does not fit the 10 left: they go back in the same script call
    assert b.refunded == 10
    assert await used(fleet, "acct", "6", "w") == 90 + 100


async def test_unused_weight_goes_back_when_the_hold_ends(fleet: Fleet) -> None:
    b = fleet.budget(8, standard_account=False, capacity=1000, chunk=100, hold_s=0.2)
    await b.acquire(10)
    assert b.reserved == 100  # (the server's count is not read here: the hold may be over)

    await eventually(lambda: b.refunded == 90)
    assert await used(fleet, "acct", "8", "w") == 10
    assert not b.try_acquire(1)  # past its hold the chunk is not usable


async def test_premium_txs_have_their_own_bucket_and_no_host_window(
    redis_url: str, fleet_namespace: str
) -> None:
    a = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace)
    try:
        b = a.budget(9, standard_account=False, host_capacity=600, tx_capacity=12, chunk=0)
        assert await drain(b, 6) == 600  # reads: the host window (600) is the limit
        await b.acquire(6, tx=True)
        await b.acquire(6, tx=True)  # txs still pass: their own bucket, no IP limit
        with pytest.raises(FleetBudgetExhausted):
            await b.acquire(6, tx=True, max_wait_s=0)
        assert await used(a, "acct", "9", "tx") == 12
        assert await used(a, "acct", "9", "w") == 600
    finally:
        await a.close()


async def test_acquire_waits_for_the_rolling_window_on_the_server_clock(fleet: Fleet) -> None:
    b = fleet.budget(10, capacity=2, chunk=0, window_s=0.5, max_wait_s=10)
    await b.acquire()
    await b.acquire()
    with pytest.raises(FleetBudgetExhausted) as info:
        await b.acquire(max_wait_s=0)
    assert 0 < (info.value.retry_after or 0) <= 0.5 + DEFAULT_MARGIN_S
    await b.acquire()  # waits until the first request leaves the window, then is admitted
    assert b.denials >= 2 and b.reservations == 3


async def test_bad_weights_and_arguments_are_refused(fleet: Fleet) -> None:
    b = fleet.budget(11, capacity=10)
    for bad in (0, 11, -1):
        with pytest.raises(ValueError, match="weight"):
            await b.acquire(bad)
        with pytest.raises(ValueError, match="weight"):
            b.try_acquire(bad)
    for wrong in (True, 1.0, "1"):
        with pytest.raises(TypeError, match="weight"):
            b.try_acquire(wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="account"):
        fleet.budget("no spaces")
    with pytest.raises(TypeError, match="standard_account"):
        fleet.budget(1, standard_account="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk"):
        fleet.budget(1, capacity=10, chunk=11)
    with pytest.raises(ValueError, match="hold_s"):
        fleet.budget(1, capacity=10, chunk=5, hold_s=0)
    assert fleet.budget(12) is fleet.budget(12)  # one handle per account and tier
    released = fleet.budget(12)
    await released.release()
    with pytest.raises(FleetError, match="closed"):
        await released.acquire()
    fresh = fleet.budget(12)
    assert fresh is not released and not fresh.closed
    await fresh.acquire()
    assert await used(fleet, "acct", "11", "req") == 0
