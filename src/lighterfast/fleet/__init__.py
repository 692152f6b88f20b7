"""The fleet: processes and hosts of one account coordinated on a Redis-compatible server.

Opt-in (`DealerConfig(fleet="redis://…")` or `$LIGHTERFAST_FLEET_URL`); needs the `fleet`
extra (redis-py asyncio + hiredis). Any Redis-compatible server (Redis 5+, Valkey, managed
services): plain commands and EVALSHA Lua scripts on the server's clock, no modules.

    fleet = await Fleet.connect(url, host=None, wait_s=2.0, namespace="lighterfast",
                                lease_ttl_s=10.0)          # FleetError if unreachable
    b = fleet.budget(account, standard_account=True, capacity=None)      # FleetBudget
    h = fleet.host_budget(capacity=None)  # reads that name no account: the host window only
    b.try_acquire(weight, tx=False) -> bool   # the local chunk only, no I/O (the hot path);
                                              # half spent, it prefetches the next chunk
    await b.acquire(weight, tx=False, max_wait_s=None)  # reserves a chunk when spent;
                                              # FleetBudgetExhausted (a RateLimited) if no room
    leases = await fleet.lease_lanes(account, keys=[…], want=None)  # list[LaneLease]
    lease.key, lease.epoch, lease.last_nonce, lease.next_nonce(venue_next_nonce)
    await lease.record_nonce(n)   # fenced by epoch; lease.note_nonce(n): with the heartbeat
    lease.valid, lease.lost (asyncio.Event), lease.on_lost(callback), await lease.release()
    slot = await fleet.lease_slot(account, prefer=None)  # SlotLease(.slot, .epoch, .lost, …)
    await fleet.status(account=None)  # FleetStatus (lanes, live slots, budget windows)
    render_status(status) / status_json(status)  # `lighterfast fleet status` table / --json
    await fetch_status(url, account=None)        # connect, read, close (holds nothing)
    await fleet.close()               # releases leases, returns unused budget

Guarantees: a budget reservation is admitted only when the account's window AND the host's
window have room (premium txs: the account's tx window), decided atomically in the server; an
API key's lane and a COI slot have one live holder (a fencing epoch increments on every
takeover; a stale owner's record_nonce is refused). Every call waits at most `wait_s`, then
raises FleetError and grants nothing; the heartbeat rides out an outage shorter than the TTL,
and a lease it cannot renew in time is reported lost (`lost`, `on_lost`) — stop sending on it.
A server that restarts empty is noticed by the next reservation or heartbeat: during a grace
(lease TTL/3 + wait_s) nothing is granted while every process puts the reservations it still
holds back (`Fleet.restarted`), so the fleet never admits more than a window across it.
"""

from __future__ import annotations

from ..errors import FleetError
from .budget import FleetBudget, FleetBudgetExhausted
from .client import FLEET_URL_ENV, MAX_SLOT, Fleet
from .leases import LaneLease, Lease, SlotLease
from .status import FleetStatus, fetch_status, render_status, status_json

__all__ = [
    "FLEET_URL_ENV",
    "MAX_SLOT",
    "Fleet",
    "FleetBudget",
    "FleetBudgetExhausted",
    "FleetError",
    "FleetStatus",
    "LaneLease",
    "Lease",
    "SlotLease",
    "fetch_status",
    "render_status",
    "status_json",
]
