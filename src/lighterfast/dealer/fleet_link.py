"""The dealer's use of a fleet server (`DealerConfig(fleet=…)` or $LIGHTERFAST_FLEET_URL).

Imported only when a fleet is configured (it needs the `fleet` extra, redis). What it adds:

* **Budget.** The account's requests draw from the fleet's rolling windows (per account and
  per host, `lighterfast.fleet.budget`): `FleetLimiter` puts a `FleetBudget` behind the
  process's `transport.budget.Budget`, so every dealer request, nonce fetch and WsInfo read of
  the account passes it (local chunk first, `try_acquire`; else a reservation). A fleet that
  cannot answer within its wait raises `NotSent` naming the fleet: nothing left, nothing used.
* **Lanes.** A key's nonce lane is used only under this process's fleet lease of that key
  (one lease per process and key, shared by its dealers, released with the lane). A new lane
  starts from max(nextNonce, last recorded + 1); a lane's consumed nonces are noted on every
  release of the lane and recorded in the background, coalesced (RECORD_EVERY_S), fenced by
  the lease's epoch. A lost
  lease stops the lane (`take` raises FleetError: nothing signed).
* **COI slot.** The process leases one slot per account; its allocators issue COIs in it.

One `Fleet` connection per (event loop, URL) in a process, refcounted by its dealers.
Knobs (environment): LIGHTERFAST_FLEET_NAMESPACE, LIGHTERFAST_FLEET_LANES (keys a process
leases at most per account, default 1: the other processes find the rest free),
LIGHTERFAST_FLEET_TTL_S (the lease TTL, default 10 s), LIGHTERFAST_FLEET_MAX_WAIT_S (how long
a send waits for budget room, default two windows + hold, then NotSent); for tests
LIGHTERFAST_FLEET_WINDOW_S (the rolling window, the venue's 60 s) and LIGHTERFAST_FLEET_HOLD_S
(a chunk's hold, default 1 s).
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import protocol as P
from ..errors import FleetError, LighterError, NotSent, describe
from ..fleet import Fleet, FleetBudget, LaneLease, SlotLease
from .coi import allocator_for_slot

NAMESPACE_ENV = "LIGHTERFAST_FLEET_NAMESPACE"
WINDOW_ENV = "LIGHTERFAST_FLEET_WINDOW_S"
TTL_ENV = "LIGHTERFAST_FLEET_TTL_S"
LANES_ENV = "LIGHTERFAST_FLEET_LANES"
HOLD_ENV = "LIGHTERFAST_FLEET_HOLD_S"
MAX_WAIT_ENV = "LIGHTERFAST_FLEET_MAX_WAIT_S"
# Consumed nonces are recorded (fenced) at most this often per lane, off the send path; the
# lease heartbeat carries the latest note too.
RECORD_EVERY_S = 0.2


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise LighterError(f"${name}: expected seconds, got {raw!r}") from None
    if value <= 0:
        raise LighterError(f"${name}: expected seconds > 0, got {raw!r}")
    return value


class FleetLimiter:
    """A `FleetBudget` with the WeightLimiter face RestClient uses (`tx`: premium sends)."""

    __slots__ = ("budget", "capacity", "tx")

    def __init__(self, budget: FleetBudget, tx: bool = False) -> None:
        self.budget = budget
        self.tx = tx
        self.capacity = budget.capacity

    def try_acquire(self, weight: int = 1) -> bool:
        return self.budget.try_acquire(weight, tx=self.tx)

    def available(self) -> int:
        return int(self.budget.available(tx=self.tx))

    def wait_time(self, weight: int = 1) -> float:
        return 0.05

    def grant_ref(self) -> str:
        """The reservation of the last grant (read right after it; see `note_latency`)."""
        return self.budget.grant_ref(tx=self.tx)

    def note_latency(self, seconds: float, ref: str = "") -> None:
        """A granted request's reply came `seconds` after the grant (the budget's margin)."""
        self.budget.note_latency(seconds, ref, tx=self.tx)

    async def acquire_async(self, weight: int) -> None:
        """Reserve from the fleet (waits for room); NotSent when the fleet cannot answer."""
        try:
            await self.budget.acquire(weight, tx=self.tx)
        except FleetError as exc:
            raise NotSent(f"fleet budget unavailable, nothing sent: {describe(exc)}") from exc


class _Shared:
    """One process's fleet use on one loop and URL: the connection, budgets, leases."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.holders = 0
        self.lanes: dict[tuple[int, int], tuple[LaneLease, int]] = {}  # (acct, key) → lease, refs
        self.slots: dict[int, tuple[SlotLease, int]] = {}  # account → lease, refs
        # venue host → [its account-free Budget, the limiter it had, holders]
        self.reads: dict[str, list[Any]] = {}
        self.lock = asyncio.Lock()


_LINKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shared]] = (
    weakref.WeakKeyDictionary()
)


class FleetLink:
    """One dealer's hold on the process's fleet (see the module docstring); `close()` ends it."""

    def __init__(self, shared: _Shared, url: str, account: int) -> None:
        self._shared = shared
        self._url = url
        self.account = account
        self.fleet = shared.fleet
        self.budget: FleetBudget | None = None
        self.lanes: list[LaneLease] = []
        self.slot: SlotLease | None = None
        self._closed = False
        self._recorders: dict[int, asyncio.Task[None]] = {}
        self._retasks: set[asyncio.Task[None]] = set()
        self._lane_objs: dict[int, Any] = {}
        self._reads: str | None = None  # the venue host whose account-free reads we guard

    @classmethod
    async def open(cls, url: str, account: int, host: str | None) -> FleetLink:
        """The process's fleet for `url` (connected on first use), held once more."""
        loop = asyncio.get_running_loop()
        links = _LINKS.setdefault(loop, {})
        shared = links.get(url)
        if shared is None or shared.fleet._closed:
            kwargs: dict[str, Any] = {"host": host}
            namespace = os.environ.get(NAMESPACE_ENV)
            if namespace:
                kwargs["namespace"] = namespace
            ttl = _env_float(TTL_ENV)
            if ttl is not None:
                kwargs["lease_ttl_s"] = ttl
            shared = links[url] = _Shared(await Fleet.connect(url, **kwargs))
        shared.holders += 1
        return cls(shared, url, account)

    def limiters(
        self, standard_account: bool, capacity: int, base_url: str | None = None
    ) -> tuple[Any, Any]:
        """(limiter, tx_limiter) drawing from the account's fleet budget (tx None: standard).

        With `base_url`, the process's account-free reads of that venue pass the fleet's host
        window too (`guard_host_reads`).
        """
        window = _env_float(WINDOW_ENV) or float(P.RATE_WINDOW_S)
        # A reservation counts window + hold_s: the lag from grant to the venue's count.
        hold = _env_float(HOLD_ENV) or min(1.0, window / 10)
        self.budget = self.fleet.budget(
            self.account,
            standard_account=standard_account,
            capacity=capacity,
            window_s=window,
            hold_s=hold,
            # Like the local limiter, a send waits for room: a full window frees its first
            # slot only after window + hold + margin (longer than the window), and under
            # contention another process may take it, so allow two windows.
            max_wait_s=_env_float(MAX_WAIT_ENV) or 2 * window + hold,
        )
        main = FleetLimiter(self.budget)
        if base_url is not None:
            self.guard_host_reads(base_url, standard_account, capacity)
        return main, None if standard_account else FleetLimiter(self.budget, tx=True)

    def guard_host_reads(self, base_url: str, standard_account: bool, capacity: int) -> None:
        """Requests of this process to `base_url` that name no account (public order books, a
        WsInfo's resync) draw from the fleet's host window, the venue's per-IP count, while
        this link is open (before: a local 60/min of this process only). Idempotent."""
        from ..transport.budget import budget_for, host_of

        host = host_of(base_url)
        if self._reads is not None:
            return
        entry = self._shared.reads.get(host)
        if entry is None:
            reads = budget_for(base_url, None)  # held while a link guards it
            window = _env_float(WINDOW_ENV) or float(P.RATE_WINDOW_S)
            hold = _env_float(HOLD_ENV) or min(1.0, window / 10)
            budget = self.fleet.host_budget(
                standard_account=standard_account,
                capacity=capacity,
                window_s=window,
                hold_s=hold,
                max_wait_s=_env_float(MAX_WAIT_ENV) or 2 * window + hold,
            )
            entry = self._shared.reads[host] = [reads, reads.limiter, 0]
            guarded: Any = FleetLimiter(budget)  # the WeightLimiter face RestClient uses
            reads.limiter = guarded
        entry[2] += 1
        self._reads = host

    def _unguard_reads(self) -> None:
        """This link's hold on the account-free reads ends; the last one restores the limiter."""
        host, self._reads = self._reads, None
        entry = self._shared.reads.get(host) if host is not None else None
        if entry is None:
            return
        entry[2] -= 1
        if entry[2] <= 0:
            del self._shared.reads[host]  # type: ignore[arg-type]
            reads, previous = entry[0], entry[1]
            reads.limiter = previous
            reads.release()

    async def lease_lanes(self, keys: Sequence[int]) -> list[int]:
        """The keys this dealer may use: the process's leases among `keys`, else free ones.

        FleetError naming the keys and their holders when none is free.
        """
        shared = self._shared
        async with shared.lock:
            held = [
                k
                for k in keys
                if (self.account, k) in shared.lanes and shared.lanes[(self.account, k)][0].valid
            ]
            if not held:
                raw = os.environ.get(LANES_ENV)
                want = min(len(keys), max(1, int(raw))) if raw and raw.isdigit() else 1
                fresh = await self.fleet.lease_lanes(self.account, list(keys), want=want)
                for lease in fresh:
                    shared.lanes[(self.account, lease.key)] = (lease, 0)
                held = [lease.key for lease in fresh]
                for lease in fresh:
                    lease.on_lost(self._lane_lost)
            for k in held:
                lease, refs = shared.lanes[(self.account, k)]
                shared.lanes[(self.account, k)] = (lease, refs + 1)
                self.lanes.append(lease)
        return held

    def attach(self, lanes: dict[int, Any]) -> None:
        """Guard this dealer's nonce lanes by their leases (re-guarded after a re-lease)."""
        self._lane_objs = lanes
        for key, lane in lanes.items():
            lane.guard = self.lease_of(key)
            lane.recorder = self.record

    def _lane_lost(self, lease: LaneLease) -> None:
        """A lost lane lease (expired, taken over, the server restarted): lease it anew."""
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._release_lane(lease))
            self._retasks.add(task)
            task.add_done_callback(self._retasks.discard)

    async def _release_lane(self, old: LaneLease) -> None:
        shared = self._shared
        while not self._closed:
            try:
                async with shared.lock:
                    entry = shared.lanes.get((self.account, old.key))
                    if entry is not None and entry[0] is not old and entry[0].valid:
                        fresh = entry[0]  # another dealer of the process re-leased it
                    else:
                        (fresh,) = await self.fleet.lease_lanes(self.account, [old.key])
                        fresh.on_lost(self._lane_lost)
                        refs = entry[1] if entry is not None else 1
                        shared.lanes[(self.account, old.key)] = (fresh, refs)
                self.lanes = [fresh if lease is old else lease for lease in self.lanes]
                lane = self._lane_objs.get(old.key)
                if lane is not None:
                    lane.guard = fresh
                    lane._floored = False
                    lane.invalidate()  # resync: max(nextNonce, last recorded + 1)
                return
            except FleetError:
                await asyncio.sleep(0.25)

    def lease_of(self, key: int) -> LaneLease | None:
        """This dealer's lease of `key`'s lane."""
        return next((lease for lease in self.lanes if lease.key == key), None)

    async def coi_source(self) -> Callable[[], int]:
        """The process's allocator of its leased COI slot for this account (leased once)."""
        shared = self._shared
        async with shared.lock:
            entry = shared.slots.get(self.account)
            if entry is None or not entry[0].valid:
                entry = (await self.fleet.lease_slot(self.account), 0)
                entry[0].on_lost(self._slot_lost)
            shared.slots[self.account] = (entry[0], entry[1] + 1)
            self.slot = entry[0]

        def next_coi() -> int:
            slot = self.slot
            assert slot is not None
            if not slot.valid:
                raise FleetError(
                    f"fleet: COI slot {slot.slot} of account {self.account} is lost"
                    f" ({slot.lost_reason or 'not renewed'}); no COI issued"
                )
            return allocator_for_slot(slot.slot).next()

        return next_coi

    def _slot_lost(self, lease: SlotLease) -> None:
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._release_slot(lease))
            self._retasks.add(task)
            task.add_done_callback(self._retasks.discard)

    async def _release_slot(self, old: SlotLease) -> None:
        shared = self._shared
        while not self._closed:
            try:
                async with shared.lock:
                    entry = shared.slots.get(self.account)
                    if entry is not None and entry[0] is not old and entry[0].valid:
                        fresh = entry[0]
                    else:
                        fresh = await self.fleet.lease_slot(self.account, prefer=old.slot)
                        fresh.on_lost(self._slot_lost)
                        shared.slots[self.account] = (fresh, entry[1] if entry else 1)
                self.slot = fresh
                return
            except FleetError:
                await asyncio.sleep(0.25)

    def record(self, key: int, nonce: int) -> None:
        """`nonce` of `key` was consumed: noted now, recorded in the background (fenced)."""
        lease = self.lease_of(key)
        if lease is None or not lease.valid:
            return
        lease.note_nonce(nonce)
        task = self._recorders.get(key)
        if task is None or task.done():  # at most one record in flight per RECORD_EVERY_S
            self._recorders[key] = asyncio.get_running_loop().create_task(self._record(lease))

    async def _record(self, lease: LaneLease) -> None:
        await asyncio.sleep(RECORD_EVERY_S)  # coalesce a burst of sends into one record
        while lease.valid:
            noted = lease._noted
            if noted is None or (lease.last_nonce is not None and noted <= lease.last_nonce):
                return
            try:
                await lease.record_nonce(noted)
            except FleetError:
                return  # the heartbeat carries the note (or the lease is lost)
            await asyncio.sleep(RECORD_EVERY_S)

    async def close(self) -> None:
        """Release this dealer's holds; the last holder releases the leases and the fleet."""
        if self._closed:
            return
        self._closed = True
        tasks = [*self._recorders.values(), *self._retasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        shared = self._shared
        release: list[Any] = []
        self._unguard_reads()
        async with shared.lock:
            for lease in self.lanes:
                ident = (self.account, lease.key)
                entry = shared.lanes.get(ident)
                if entry is not None and entry[0] is lease:
                    if entry[1] <= 1:
                        del shared.lanes[ident]
                        release.append(lease)
                    else:
                        shared.lanes[ident] = (lease, entry[1] - 1)
            if self.slot is not None:
                entry_s = shared.slots.get(self.account)
                if entry_s is not None and entry_s[0] is self.slot:
                    if entry_s[1] <= 1:
                        del shared.slots[self.account]
                        release.append(self.slot)
                    else:
                        shared.slots[self.account] = (self.slot, entry_s[1] - 1)
            shared.holders -= 1
            last = shared.holders <= 0
        for lease in release:
            try:
                await lease.release()
            except FleetError:
                pass  # it expires on its own
        if last:
            links = _LINKS.get(asyncio.get_running_loop(), {})
            if links.get(self._url) is shared:
                del links[self._url]
            await shared.fleet.close()
