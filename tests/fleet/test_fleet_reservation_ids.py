"""Budgets of one fleet connection share the host's window, so their reservations must not
share ids: before, each budget numbered its own (`owner:1`, `owner:2`, …) and a second
account's (or the account-free reads') reservation replaced the first one's in the host
window, which then counted less than was sent (a 429 waiting to happen at the venue)."""

from __future__ import annotations

from fleet.test_fleet_budget import used
from lighterfast.fleet import Fleet


async def test_two_accounts_and_the_reads_of_one_process_all_count_on_the_host(
    fleet: Fleet,
) -> None:
    a = fleet.budget(11, capacity=60, chunk=0)
    b = fleet.budget(12, capacity=60, chunk=0)
    reads = fleet.host_budget(capacity=60, chunk=0)
    for budget in (a, b, reads, a, b, reads):
        await budget.acquire(1, max_wait_s=0)
    assert await used(fleet, "acct", "11", "req") == 2
    assert await used(fleet, "acct", "12", "req") == 2
    assert await used(fleet, "host", "host-a", "req") == 6


def test_reservation_ids_are_unique_across_the_budgets_of_a_connection(fleet: Fleet) -> None:
    ids = [fleet.reservation_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(i.startswith(fleet.owner + ":") for i in ids)
