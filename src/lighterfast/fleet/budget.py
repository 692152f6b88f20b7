"""The fleet-wide rate budget of one account: rolling windows decided in the server, used locally.

The venue counts per L1 address and per egress IP over a rolling minute (protocol §5.1), so a
fleet keeps one window per account (every host) and one per host tag (the processes of one
host). A reservation is one script call that admits weight only when EVERY window it names has
room, on the server's clock. To keep the server off the per-order path a process reserves a
small chunk ahead (`chunk`), spends it locally with `try_acquire` (no I/O) for at most
`hold_s`, and gives back what it did not use; when a chunk is half spent the next one is
reserved in the background (`prefetch`), so a steady sender never waits for the server.

A reservation counts until `window + hold_s + margin` after the server granted it: the venue
counts a request when it arrives (after signing and the send), so a request spent late in
its hold still leaves the venue's window before the fleet's. The margin is the larger of
`margin_s` (0.25 s) and the slowest send seen lately (`note_latency`: grant to reply, which
bounds grant to arrival); a single request reserved alone gets the margin too (issue 14: a
life of exactly one window freed the slot before the node did, and the node answered 429).
A send slower than the margin it was granted with has its reservation extended to a window
+ margin after its reply (one background script call, only for such sends).

Windows: standard accounts — requests (`protocol.standard_cost` each) in the account's and
the host's window; premium — weight (`protocol.endpoint_weight`) in the account's and the
host's window, and sendTx/sendTxBatch (`tx=True`) in the account's tx window (the venue has
no IP limit on it). Every process of an account must state the same tier and capacities.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from .._checks import check_int
from ..errors import FleetError, RateLimited

if TYPE_CHECKING:
    from .client import Fleet

logger = logging.getLogger("lighterfast.fleet")

DEFAULT_MARGIN_S = 0.25  # the least a reservation outlives its window + hold (grant → arrival)
_LAG_FACTOR = 1.5  # the margin covers the slowest recent send with room to spare


class FleetBudgetExhausted(FleetError, RateLimited):
    """The fleet's budget had no room within the caller's max wait (nothing was granted)."""


class _Bucket:
    """One kind of request (all, or premium txs): its windows, caps and the local chunk."""

    __slots__ = (
        "caps",
        "chunk",
        "expires",
        "fetch",
        "fetch_after",
        "id",
        "keys",
        "last",
        "left",
        "lock",
        "log",
        "low",
        "max_weight",
        "names",
        "spare_expires",
        "spare_id",
        "spare_left",
        "timer",
    )

    def __init__(self, names: list[str], caps: list[int], chunk: int) -> None:
        self.names = names  # window bases, for messages and status
        self.keys = [part for base in names for part in (base + ":z", base + ":w")]
        self.caps = caps
        self.max_weight = min(caps)
        self.chunk = chunk
        self.left = 0  # weight of the local chunk not yet spent
        self.expires = 0.0  # monotonic end of the chunk's hold
        self.id = ""  # the chunk's reservation id in the server
        self.last = ""  # the reservation the last grant came from (`grant_ref`)
        self.lock: asyncio.Lock | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.low = chunk // 2 if chunk > 1 else 0  # prefetch the spare below this
        self.spare_left = 0  # the next chunk, reserved in the background (prefetch)
        self.spare_expires = 0.0
        self.spare_id = ""
        self.fetch: asyncio.Task[None] | None = None
        self.fetch_after = 0.0  # monotonic: no prefetch before (after a denial or a failure)
        # this process's live reservations: id → [weight not given back, monotonic expiry]
        # (put back into the windows after a server restart lost them, `FleetBudget.reseed`)
        self.log: dict[str, list[float]] = {}

    def logged(self, rid: str, weight: int, life_s: float) -> None:
        """Note a granted reservation (and forget the expired ones at the front)."""
        now = time.monotonic()
        log = self.log
        while log:
            first = next(iter(log))
            if log[first][1] > now:
                break
            del log[first]
        log[rid] = [float(weight), now + life_s]

    def given_back(self, rid: str, amount: int) -> None:
        """`amount` of reservation `rid` goes back: it is no longer this process's."""
        entry = self.log.get(rid)
        if entry is not None:
            entry[0] = max(0.0, entry[0] - amount)


class FleetBudget:
    """One account's share of the fleet budget in this process (see the module docstring).

    `try_acquire(weight)` spends the local chunk (sync, no I/O: the hot path);
    `await acquire(weight)` reserves a new chunk when the local one is spent, waiting for room
    up to `max_wait_s`. A server error or timeout raises FleetError and grants nothing. With
    `prefetch`, a chunk half spent starts the reservation of the next one in the background,
    so a steady sender finds it ready and never waits for the server.
    """

    def __init__(
        self,
        fleet: Fleet,
        account: str | None,
        *,
        standard_account: bool,
        capacity: int,
        host_capacity: int,
        tx_capacity: int,
        chunk: int,
        tx_chunk: int,
        hold_s: float,
        max_wait_s: float,
        window_s: float,
        prefetch: bool = True,
        margin_s: float = DEFAULT_MARGIN_S,
    ) -> None:
        self._fleet = fleet
        self.account = account
        self.host = fleet.host
        self.standard_account = standard_account
        self.hold_s = hold_s
        self.max_wait_s = max_wait_s
        self.prefetch = prefetch
        self.window_s = window_s
        self._window_ms = max(1, int(window_s * 1000))
        self._hold_ms = int(hold_s * 1000)
        self.margin_s = margin_s
        self._lag = 0.0  # the slowest send (grant → reply) of this and the last period
        self._lag_prev = 0.0
        self._lag_since = time.monotonic()
        unit = "req" if standard_account else "w"
        host_window = fleet.key("budget", "host", fleet.host, unit)
        if account is None:  # reads that name no account: the host's (egress IP's) window only
            self._main = _Bucket([host_window], [host_capacity], chunk)
            self._tx: _Bucket | None = None
            who = f"reads without an account on host {fleet.host}"
        else:
            self._main = _Bucket(
                [fleet.key("budget", "acct", account, unit), host_window],
                [capacity, host_capacity],
                chunk,
            )
            self._tx = (
                None
                if standard_account
                else _Bucket([fleet.key("budget", "acct", account, "tx")], [tx_capacity], tx_chunk)
            )
            who = f"account {account}"
        self._who = who
        self._what = f"a budget reservation for {who}"
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.reservations = 0  # script calls that granted weight
        self.denials = 0  # script calls that found no room
        self.reserved = 0  # weight granted by the server
        self.refunded = 0  # weight given back unused
        self.local_hits = 0  # acquisitions served from the local chunk
        self.prefetches = 0  # reservations made in the background
        self.extensions = 0  # slow sends whose reservation was kept longer
        self.reseeded = 0  # reservations put back after a server restart

    def __repr__(self) -> str:
        tier = "standard" if self.standard_account else "premium"
        return (
            f"FleetBudget(account={self.account!r}, host={self.host!r}, {tier}, "
            f"capacity={self._main.caps[0]}, chunk={self._main.chunk})"
        )

    @property
    def closed(self) -> bool:
        """True once `release()` ran (`Fleet.budget` then makes a fresh handle)."""
        return self._closed

    @property
    def capacity(self) -> int:
        """The account window's capacity (requests or weight per minute; host-only: the host's)."""
        return self._main.caps[0]

    def stats(self) -> dict[str, int]:
        """Counters: reservations, denials, weight reserved/refunded, local hits."""
        return {
            "reservations": self.reservations,
            "denials": self.denials,
            "reserved": self.reserved,
            "refunded": self.refunded,
            "local_hits": self.local_hits,
            "prefetches": self.prefetches,
            "extensions": self.extensions,
            "reseeded": self.reseeded,
        }

    def grant_ref(self, tx: bool = False) -> str:
        """The reservation the last grant came from (for `note_latency`); read it at once."""
        return self._bucket(tx).last

    def note_latency(self, seconds: float, ref: str = "", tx: bool = False) -> None:
        """A granted request's reply came `seconds` after its grant (widens the margin).

        With `ref` (its `grant_ref`), a send slower than the floor of the margin has its
        reservation kept a window + margin from now, in the background (the venue counted
        it at most `seconds` after the grant, so the fleet must not free it earlier).
        """
        now = time.monotonic()
        if now - self._lag_since >= self.window_s:  # forget a spike after two windows
            self._lag_prev, self._lag, self._lag_since = self._lag, 0.0, now
        if seconds > self._lag:
            self._lag = seconds
        if ref and seconds >= self.margin_s / 2 and not self._closed:
            self.extensions += 1
            bucket = self._bucket(tx)
            entry = bucket.log.get(ref)
            if entry is not None:  # a restart puts it back with the longer life too
                entry[1] = max(entry[1], now + self.window_s + self.margin)
            self._spawn(self._extend(bucket, ref))

    async def _extend(self, bucket: _Bucket, rid: str) -> None:
        life = self._window_ms + int(self.margin * 1000)
        try:
            await self._fleet.conn.script(
                "EXTEND", bucket.keys, [rid, life], f"a budget extension for {self._who}"
            )
        except FleetError as exc:  # the margin alone then covers it
            logger.debug("fleet budget extension not delivered: %s", exc)

    @property
    def margin(self) -> float:
        """Seconds every reservation outlives its window and hold (see the module docstring)."""
        return max(self.margin_s, _LAG_FACTOR * max(self._lag, self._lag_prev))

    def _life(self, hold: bool) -> int:
        """A reservation's life in ms: window + hold (chunks only) + margin."""
        return self._window_ms + (self._hold_ms if hold else 0) + int(self.margin * 1000)

    def _bucket(self, tx: bool) -> _Bucket:
        return self._tx if tx and self._tx is not None else self._main

    def _check(self, bucket: _Bucket, weight: Any) -> int:
        if type(weight) is not int or not 1 <= weight <= bucket.max_weight:
            return check_int("weight", weight, 1, bucket.max_weight)
        return weight

    def available(self, tx: bool = False) -> int:
        """Weight left in the local chunks now (spent or past their hold: 0)."""
        bucket = self._bucket(tx)
        now = time.monotonic()
        spare = bucket.spare_left if bucket.spare_id and now < bucket.spare_expires else 0
        return (bucket.left if now < bucket.expires else 0) + spare

    def try_acquire(self, weight: int = 1, tx: bool = False) -> bool:
        """Take `weight` from the local chunk if it holds enough (no I/O); False otherwise."""
        bucket = self._tx if tx and self._tx is not None else self._main
        if type(weight) is not int or not 1 <= weight <= bucket.max_weight:
            self._check(bucket, weight)
        if bucket.left >= weight and time.monotonic() < bucket.expires:
            bucket.left -= weight
            bucket.last = bucket.id
            self.local_hits += 1
            if bucket.left < bucket.low and self.prefetch and not bucket.spare_id:
                if bucket.fetch is None and not self._closed:
                    if time.monotonic() >= bucket.fetch_after:
                        self._start_prefetch(bucket)
            return True
        if (
            bucket.spare_left >= weight
            and bucket.spare_id
            and time.monotonic() < bucket.spare_expires
        ):
            self._promote(bucket)
            bucket.left -= weight
            bucket.last = bucket.id
            self.local_hits += 1
            return True
        return False

    def _promote(self, bucket: _Bucket) -> None:
        """The spare chunk becomes the current one; the old one's rest goes back."""
        self._stop_timer(bucket)
        if bucket.left > 0 and bucket.id:
            self._spawn(self._refund(bucket, bucket.id, bucket.left))
        bucket.left, bucket.expires, bucket.id = (
            bucket.spare_left,
            bucket.spare_expires,
            bucket.spare_id,
        )
        bucket.spare_left, bucket.spare_id = 0, ""

    def _spawn(self, coro: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the loop: the weight expires with the window instead
            coro.close()
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_prefetch(self, bucket: _Bucket) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop: no background reservation
            return
        bucket.fetch = loop.create_task(self._prefetch(bucket))

    async def _prefetch(self, bucket: _Bucket) -> None:
        """Reserve the next chunk (a quarter of it at least) in the background."""
        try:
            rid = self._fleet.reservation_id()
            sent = time.monotonic()
            life = self._life(True)
            fleet = self._fleet
            need = max(1, bucket.chunk // 4)
            granted, wait_ms, _now, boot, stale = await fleet.conn.script(
                "RESERVE",
                bucket.keys + fleet.boot_keys,
                [need, bucket.chunk, life, rid, "", 0, *fleet.boot_args(), *bucket.caps],
                self._what,
            )
            if int(stale):  # the server lost its windows: put back what we hold first
                await fleet.restarted(str(boot))
                return
            fleet.saw_boot(str(boot))
            granted = int(granted)
            if not granted:  # no room: not again before there is some
                self.denials += 1
                bucket.fetch_after = time.monotonic() + int(wait_ms) / 1000
                return
            self.reservations += 1
            self.prefetches += 1
            self.reserved += granted
            bucket.logged(rid, granted, life / 1000)
            if self._closed or bucket.spare_id:  # not needed any more: give it back
                await self._refund(bucket, rid, granted)
                return
            bucket.spare_left, bucket.spare_id = granted, rid
            bucket.spare_expires = sent + self.hold_s
            asyncio.get_running_loop().call_later(self.hold_s, self._hold_over, bucket, rid)
        except FleetError as exc:  # acquire() reserves itself then
            logger.debug("fleet budget prefetch failed: %s", exc)
            bucket.fetch_after = time.monotonic() + self._fleet.wait_s
        finally:
            bucket.fetch = None

    async def acquire(
        self, weight: int = 1, tx: bool = False, max_wait_s: float | None = None
    ) -> None:
        """Take `weight`, reserving from the fleet when the local chunk is spent.

        Waits for room up to `max_wait_s` (default: the budget's), then raises
        FleetBudgetExhausted (a RateLimited with `retry_after`); a server failure raises
        FleetError. Either way nothing is granted.
        """
        bucket = self._bucket(tx)
        self._check(bucket, weight)
        if self.try_acquire(weight, tx):
            return
        if self._closed:
            raise FleetError("fleet budget is closed")
        if bucket.lock is None:
            bucket.lock = asyncio.Lock()
        bound = self.max_wait_s if max_wait_s is None else max_wait_s
        deadline = time.monotonic() + bound
        async with bucket.lock:
            while True:
                if self.try_acquire(weight, tx):
                    return
                if bucket.fetch is not None:  # the next chunk is on its way: wait for it
                    await asyncio.wait({bucket.fetch})
                    continue
                wait_ms = await self._reserve(bucket, weight)
                if wait_ms == 0:
                    return
                wait = wait_ms / 1000
                if time.monotonic() + wait > deadline:
                    raise FleetBudgetExhausted(
                        f"fleet budget of {self._who} (host {self.host}): no room for "
                        f"weight {weight} within {bound:g} s (next room in {wait:.3f} s)",
                        retry_after=wait,
                    )
                await asyncio.sleep(wait)

    async def _reserve(self, bucket: _Bucket, weight: int) -> int:
        """One script call: 0 when `weight` was granted (the rest of the chunk kept), else ms."""
        self._stop_timer(bucket)
        refund_id, refund = (bucket.id, bucket.left) if bucket.left > 0 else ("", 0)
        bucket.left = 0  # a failed call leaves nothing usable here
        bucket.id = ""
        rid = self._fleet.reservation_id()
        want = max(weight, bucket.chunk)
        hold = self.hold_s if bucket.chunk > weight else 0.0
        life_ms = self._life(bool(hold))
        sent = time.monotonic()
        fleet = self._fleet
        granted, wait_ms, _now, boot, stale = await fleet.conn.script(
            "RESERVE",
            bucket.keys + fleet.boot_keys,
            [weight, want, life_ms, rid, refund_id, refund, *fleet.boot_args(), *bucket.caps],
            self._what,
        )
        if refund:
            self.refunded += refund
            bucket.given_back(refund_id, refund)
        if int(stale):  # the server lost its windows: put back what we hold, then ask again
            await fleet.restarted(str(boot))
            return 1
        fleet.saw_boot(str(boot))
        granted = int(granted)
        if not granted:
            self.denials += 1
            return max(1, int(wait_ms))
        self.reservations += 1
        self.reserved += granted
        bucket.last = rid
        bucket.logged(rid, granted, life_ms / 1000)
        if granted > weight:
            bucket.left = granted - weight
            bucket.id = rid
            bucket.expires = sent + hold
            bucket.timer = asyncio.get_running_loop().call_later(hold, self._hold_over, bucket, rid)
        return 0

    def _stop_timer(self, bucket: _Bucket) -> None:
        if bucket.timer is not None:
            bucket.timer.cancel()
            bucket.timer = None

    def _hold_over(self, bucket: _Bucket, rid: str) -> None:
        """A chunk's hold ended: give its unused weight back to the fleet."""
        if bucket.spare_id == rid:
            amount, bucket.spare_left, bucket.spare_id = bucket.spare_left, 0, ""
        elif bucket.id == rid:
            bucket.timer = None
            amount, bucket.left, bucket.id = bucket.left, 0, ""
        else:
            return
        if amount > 0:
            self._spawn(self._refund(bucket, rid, amount))

    async def _refund(self, bucket: _Bucket, rid: str, amount: int) -> None:
        bucket.given_back(rid, amount)  # not ours any more, delivered or not
        try:
            await self._fleet.conn.script(
                "REFUND", bucket.keys, [rid, amount], f"a budget refund for {self._who}"
            )
        except FleetError as exc:  # the weight then expires on its own with the window
            logger.debug("fleet budget refund not delivered: %s", exc)
            return
        self.refunded += amount

    def held(self, tx: bool = False) -> list[tuple[str, int, int]]:
        """This process's live reservations: (id, weight, ms left), what a reseed puts back."""
        now = time.monotonic()
        out = []
        for rid, (weight, expiry) in self._bucket(tx).log.items():
            left = int((expiry - now) * 1000) + 1
            if weight > 0 and left > 1:
                out.append((rid, int(weight), left))
        return out

    async def reseed(self) -> int:
        """Put this process's live reservations back into the windows (after a server restart
        lost them: `Fleet.restarted`); ids the server still has are left alone."""
        back = 0
        for bucket, tx in ((self._main, False), (self._tx, True)):
            if bucket is None:
                continue
            live = self.held(tx)
            for i in range(0, len(live), 300):
                args = [part for entry in live[i : i + 300] for part in entry]
                back += int(
                    await self._fleet.conn.script(
                        "RESEED", bucket.keys, args, f"a budget reseed for {self._who}"
                    )
                )
        self.reseeded += back
        return back

    async def release(self) -> None:
        """Give back every unused chunk and stop (the fleet's `close` calls it)."""
        self._closed = True
        for bucket in (self._main, self._tx):
            if bucket is None:
                continue
            if bucket.fetch is not None:
                await asyncio.wait({bucket.fetch})
            self._stop_timer(bucket)
            for rid, amount in ((bucket.id, bucket.left), (bucket.spare_id, bucket.spare_left)):
                if amount > 0 and rid:
                    await self._refund(bucket, rid, amount)
            bucket.left = bucket.spare_left = 0
            bucket.id = bucket.spare_id = ""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
