"""Leases: an API key's nonce lane or a COI slot held by one process, with a fencing epoch.

A lease has a TTL in the server, renewed by the fleet's heartbeat (every TTL/3). The process
treats it as valid only until `sent + TTL` of its last successful renewal (`sent` = when the
renewal left, so the local deadline never outlives the server's expiry); a lease that passes
that deadline unrenewed, or that the server says is no longer ours, is lost: `lost` is set,
`on_lost` callbacks run, and it is never renewed again (lease anew: a new epoch).

The epoch increments on every takeover, and record_nonce is refused for a stale epoch, so a
paused old owner cannot overwrite what its successor relies on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._checks import check_int
from ..errors import FleetError

if TYPE_CHECKING:
    from .client import Fleet

logger = logging.getLogger("lighterfast.fleet")

MAX_NONCE = (1 << 63) - 1


class Lease:
    """What lanes and slots share: account, epoch, validity, loss and release."""

    kind = "lease"

    def __init__(
        self, fleet: Fleet, account: str, hash_key: str, prefix: str, epoch: int, sent: float
    ) -> None:
        self._fleet = fleet
        self.account = account
        self.epoch = epoch
        self.holder = fleet.owner
        self._hash_key = hash_key
        self._prefix = prefix
        self.deadline = sent + fleet.lease_ttl_s  # monotonic: valid strictly before this
        self.lost = asyncio.Event()
        self.lost_reason = ""
        self.released = False
        self._callbacks: list[Callable[[Any], Any]] = []

    def _name(self) -> str:
        return f"{self.kind} of account {self.account}"

    def __repr__(self) -> str:
        state = "lost" if self.lost.is_set() else "released" if self.released else "held"
        return f"<{type(self).__name__} {self._name()} epoch={self.epoch} {state}>"

    @property
    def valid(self) -> bool:
        """True while held: not lost, not released, and the local deadline not passed (no I/O)."""
        return not self.released and not self.lost.is_set() and time.monotonic() < self.deadline

    def on_lost(self, callback: Callable[[Any], Any]) -> None:
        """Call `callback(lease)` when the lease is lost (at once if it already is)."""
        if self.lost.is_set():
            self._run(callback)
        else:
            self._callbacks.append(callback)

    def _run(self, callback: Callable[[Any], Any]) -> None:
        try:
            result = callback(self)
            if asyncio.iscoroutine(result):
                task = asyncio.get_running_loop().create_task(result)
                self._fleet._track(task)
        except Exception:  # a broken callback must not stop the heartbeat
            logger.exception("fleet: an on_lost callback raised")

    def _mark_lost(self, reason: str) -> None:
        if self.lost.is_set() or self.released:
            return
        self.lost_reason = reason
        self.lost.set()
        self._fleet._forget(self)
        logger.warning("fleet: %s (epoch %d) lost: %s", self._name(), self.epoch, reason)
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            self._run(callback)

    def _renew_args(self) -> list[Any]:
        return [self._prefix, self.epoch, ""]

    def _renewed(self, sent: float) -> None:
        self.deadline = sent + self._fleet.lease_ttl_s

    async def release(self) -> None:
        """Give the lease back (the epoch and last nonce stay for the next owner); idempotent."""
        if self.released:
            return
        self.released = True
        self._fleet._forget(self)
        if self.lost.is_set():
            return
        await self._fleet.conn.script(
            "RELEASE",
            [self._hash_key],
            [self._fleet.owner, self.epoch, self._prefix],
            f"the release of the {self._name()}",
        )


class LaneLease(Lease):
    """An API key's nonce lane, held exclusively.

    `last_nonce` is the last nonce the previous owners recorded (None: never); start from
    `next_nonce(venue_next_nonce)` = max(venue's nextNonce, last recorded + 1).
    """

    kind = "lane"

    def __init__(
        self,
        fleet: Fleet,
        account: str,
        api_key: int,
        hash_key: str,
        epoch: int,
        last_nonce: int | None,
        sent: float,
    ) -> None:
        super().__init__(fleet, account, hash_key, "", epoch, sent)
        self.key = api_key
        self.last_nonce = last_nonce
        self._noted: int | None = None

    def _name(self) -> str:
        return f"lane of API key {self.key} (account {self.account})"

    def next_nonce(self, venue_next_nonce: int) -> int:
        """The first nonce to use: max(venue's nextNonce, last recorded + 1)."""
        venue = check_int("venue_next_nonce", venue_next_nonce, 0, MAX_NONCE)
        return venue if self.last_nonce is None else max(venue, self.last_nonce + 1)

    async def record_nonce(self, nonce: int) -> None:
        """Store `nonce` as used on this lane (kept as the max), fenced by this lease's epoch.

        A stale epoch (the lane was taken over) raises FleetError and marks the lease lost.
        """
        nonce = check_int("nonce", nonce, 0, MAX_NONCE)
        if self.released:
            raise FleetError(f"fleet: {self._name()} was released; nonce {nonce} not recorded")
        reply = await self._fleet.conn.script(
            "RECORD_NONCE",
            [self._hash_key],
            [self._fleet.owner, self.epoch, nonce],
            f"record_nonce on the {self._name()}",
        )
        if int(reply[0]) == 1:
            self.last_nonce = int(reply[1])
            return
        epoch, holder = int(reply[1]), reply[2] or "nobody"
        reason = f"taken over: epoch {epoch} is held by {holder}"
        self._mark_lost(reason)
        raise FleetError(
            f"fleet: {self._name()} epoch {self.epoch} is stale ({reason}); "
            f"nonce {nonce} not recorded"
        )

    def note_nonce(self, nonce: int) -> None:
        """Remember `nonce` locally; the next heartbeat records it (fenced). No I/O."""
        nonce = check_int("nonce", nonce, 0, MAX_NONCE)
        if self._noted is None or nonce > self._noted:
            self._noted = nonce

    def _renew_args(self) -> list[Any]:
        return [self._prefix, self.epoch, "" if self._noted is None else self._noted]

    def _renewed(self, sent: float) -> None:
        super()._renewed(sent)
        if self._noted is not None and (self.last_nonce is None or self._noted > self.last_nonce):
            self.last_nonce = self._noted


class SlotLease(Lease):
    """A COI slot (0..255) unique among the live processes of one account."""

    kind = "slot"

    def __init__(
        self, fleet: Fleet, account: str, slot: int, hash_key: str, epoch: int, sent: float
    ) -> None:
        super().__init__(fleet, account, hash_key, f"{slot}:", epoch, sent)
        self.slot = slot

    def _name(self) -> str:
        return f"COI slot {self.slot} (account {self.account})"


async def heartbeat(fleet: Fleet) -> None:
    """Renew the fleet's leases every TTL/3 in one script call; mark lost what passes its TTL.

    Should the loop itself fail (a bug, not an outage), every lease is reported lost: nothing
    would renew them any more.
    """
    try:
        await _renew_forever(fleet)
    except Exception as exc:
        logger.exception("fleet: the heartbeat failed")
        for lease in list(fleet._leases.values()):
            lease._mark_lost(f"the heartbeat failed: {type(exc).__name__}")


async def _check_boot(fleet: Fleet) -> None:
    try:
        await fleet.check_boot()
    except FleetError as exc:  # the next reservation finds out instead
        logger.debug("fleet: budget generation not read: %s", exc)


async def _renew_forever(fleet: Fleet) -> None:
    interval = fleet.lease_ttl_s / 3
    next_renew = time.monotonic() + interval
    failing = False
    while fleet._leases:
        now = time.monotonic()
        for lease in list(fleet._leases.values()):
            if now >= lease.deadline:
                lease._mark_lost(
                    f"not renewed within its {fleet.lease_ttl_s:g} s TTL (fleet server unreachable)"
                )
        leases = list(fleet._leases.values())
        if not leases:
            break
        earliest = min(lease.deadline for lease in leases)
        if now < next_renew:
            await asyncio.sleep(max(0.0, min(next_renew, earliest) - now))
            continue
        args: list[Any] = [fleet.owner, int(fleet.lease_ttl_s * 1000)]
        for lease in leases:
            args.extend(lease._renew_args())
        sent = time.monotonic()
        try:
            reply = await fleet.conn.script(
                "RENEW",
                [lease._hash_key for lease in leases],
                args,
                "the lease heartbeat",
                wait_s=min(fleet.wait_s, earliest - sent),
            )
        except FleetError as exc:
            if not failing:
                logger.warning("fleet: heartbeat failed, retrying: %s", exc)
            failing = True
            next_renew = time.monotonic() + min(interval, 0.5)
            continue
        if failing:
            logger.warning("fleet: heartbeat renewed again")
            failing = False
        gone = False
        for lease, ok in zip(leases, reply, strict=True):
            if lease.released or lease.lost.is_set():
                continue
            if int(ok) == 1:
                lease._renewed(sent)
            else:
                gone = True
                lease._mark_lost("expired or taken over in the fleet server")
        if gone and fleet.boot:  # a restart? then our budget reservations go back at once
            fleet._track(asyncio.get_running_loop().create_task(_check_boot(fleet)))
        next_renew = sent + interval
