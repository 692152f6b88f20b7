"""`Fleet`: one process's handle on the fleet server (budget, lane leases, COI slots, status)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import protocol as P
from .._checks import check_flag, check_int, check_seconds
from ..errors import FleetError, describe
from ._conn import Connection, check_name, redact
from .budget import DEFAULT_MARGIN_S, FleetBudget
from .leases import LaneLease, Lease, SlotLease, heartbeat

if TYPE_CHECKING:
    from .status import FleetStatus

logger = logging.getLogger("lighterfast.fleet")

FLEET_URL_ENV = "LIGHTERFAST_FLEET_URL"
MAX_SLOT = 255  # COI slots 0..255 (lighterfast.dealer.coi: the low 8 bits of a COI)
DEFAULT_WAIT_S = 2.0
DEFAULT_LEASE_TTL_S = 10.0
DEFAULT_HOLD_S = 1.0
DEFAULT_MAX_WAIT_S = 60.0


def _default_host() -> str:
    """The hostname as a key part (characters outside [A-Za-z0-9_.-] become '-')."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname())[:128]
    return name or "host"


class Fleet:
    """A connection to the fleet server shared by this process's dealers (see the package doc).

    Make it with `await Fleet.connect(url)`; close it with `await fleet.close()` (or
    `async with`), which releases this process's leases and returns unused budget.
    """

    def __init__(self, conn: Connection, host: str, namespace: str, lease_ttl_s: float) -> None:
        self.conn = conn
        self.url = conn.shown  # without a password
        self.host = host
        self.namespace = namespace
        self.wait_s = conn.wait_s
        self.lease_ttl_s = lease_ttl_s
        self.pid = os.getpid()
        self.owner = f"{host}:{self.pid}/{secrets.token_hex(4)}"  # holder: host:pid/process id
        self._rids = itertools.count(1)  # reservation ids, unique across all its budgets
        self._prefix = "{" + namespace + "}"
        self._leases: dict[int, Lease] = {}
        self._budgets: dict[tuple[Any, ...], FleetBudget] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        # The server's budget generation as last seen ('' none yet): a reply naming another
        # one means a restart lost every window (see `restarted`).
        self.boot = ""
        self.boot_keys = [self.key("budget", "boot"), self.key("budget", "grace")]
        # After a restart nothing is granted for this long (every process's heartbeat or
        # next reservation sees it within a heartbeat interval and one call's wait).
        self.grace_ms = int((lease_ttl_s / 3 + self.wait_s) * 1000)
        self.restarts = 0  # server restarts this process put its reservations back after
        self._reseed: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Fleet {self.url} ns={self.namespace!r} holder={self.owner!r}>"

    @classmethod
    async def connect(
        cls,
        url: str | None = None,
        *,
        host: str | None = None,
        wait_s: float = DEFAULT_WAIT_S,
        namespace: str = "lighterfast",
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> Fleet:
        """Connect (and PING) within `wait_s`; FleetError if the server cannot be reached.

        `url`: redis://, rediss:// or unix://, else $LIGHTERFAST_FLEET_URL. `host`: this host's
        tag for the per-IP budget (default the hostname). `lease_ttl_s`: lease lifetime
        without a heartbeat (renewed every third of it).
        """
        if url is None:
            url = os.environ.get(FLEET_URL_ENV) or None
            if url is None:
                raise FleetError(f"no fleet server: pass a redis:// URL or set ${FLEET_URL_ENV}")
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, got {type(url).__name__}")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"fleet url must be redis://, rediss:// or unix://, got {redact(url)!r}"
            )
        wait_s = check_seconds("wait_s", wait_s)
        lease_ttl_s = check_seconds("lease_ttl_s", lease_ttl_s)
        if lease_ttl_s < 0.3:
            raise ValueError(f"lease_ttl_s must be >= 0.3 s, got {lease_ttl_s!r}")
        host = check_name("host", host if host is not None else _default_host())
        namespace = check_name("namespace", namespace)
        conn = Connection(url, wait_s)
        try:
            await conn.call("PING", conn.client.ping())
            await conn.load_scripts()
        except FleetError as exc:
            await conn.close()
            cause = exc.__cause__
            detail = describe(cause) if cause is not None else f"no answer within {wait_s:g} s"
            raise FleetError(
                f"cannot reach the fleet server at {conn.shown} ({detail}); "
                "check the fleet URL and that the server is running"
            ) from None
        return cls(conn, host, namespace, lease_ttl_s)

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """True once `close()` ran."""
        return self._closed

    def reservation_id(self) -> str:
        """A new reservation id: one counter for every budget of this connection, because the
        budgets of two accounts (or of account-free reads) share the host's window."""
        return f"{self.owner}:{next(self._rids)}"

    def key(self, *parts: str) -> str:
        """A key of this fleet's namespace (one hash tag: one cluster slot)."""
        return ":".join((self._prefix, *parts))

    def _check_open(self) -> None:
        if self._closed:
            raise FleetError("the fleet connection is closed")

    # --- budget --------------------------------------------------------------------------

    def budget(
        self,
        account: int | str,
        *,
        standard_account: bool = True,
        capacity: int | None = None,
        host_capacity: int | None = None,
        tx_capacity: int | None = None,
        chunk: int | None = None,
        hold_s: float = DEFAULT_HOLD_S,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        window_s: float = P.RATE_WINDOW_S,
        prefetch: bool = True,
        margin_s: float = DEFAULT_MARGIN_S,
    ) -> FleetBudget:
        """This process's handle on the account's fleet budget (one per account and tier).

        `capacity`: per minute, default the tier's (60 requests standard, 24 000 weight premium);
        `host_capacity` (the host's window) and `tx_capacity` (premium tx bucket) default to it.
        `chunk`: weight reserved ahead per script call (default capacity/100, at least 1;
        0 = exactly each request's weight, one call per request); unused weight goes back after
        `hold_s`. `max_wait_s`: how long `acquire` waits for room. `window_s`: the rolling
        window (the venue's minute; shorter only in tests). `prefetch`: reserve the next chunk
        in the background when one is half spent. `margin_s`: the least every reservation
        outlives window + hold (the lag from grant to the venue's count; slower sends seen
        through `note_latency` widen it).
        """
        self._check_open()
        name = check_name("account", account)
        standard = check_flag("standard_account", standard_account)
        top = P.STANDARD_REQUESTS_PER_MINUTE if standard else P.PREMIUM_WEIGHT_PER_MINUTE
        limit = 1 << 40
        cap = top if capacity is None else check_int("capacity", capacity, 1, limit)
        host_cap = (
            cap if host_capacity is None else check_int("host_capacity", host_capacity, 1, limit)
        )
        tx_cap = cap if tx_capacity is None else check_int("tx_capacity", tx_capacity, 1, limit)
        size = max(1, cap // 100) if chunk is None else check_int("chunk", chunk, 0, cap)
        tx_size = max(1, tx_cap // 100) if chunk is None else min(size, tx_cap)
        hold = check_seconds("hold_s", hold_s, zero_ok=True)
        wait = check_seconds("max_wait_s", max_wait_s, zero_ok=True)
        window = check_seconds("window_s", window_s)
        if size and hold == 0:
            raise ValueError("hold_s must be > 0 with a chunk (chunk=0: one call per request)")
        if size and hold > window:
            raise ValueError(f"hold_s must be <= window_s ({window:g} s), got {hold_s!r}")
        fetch = check_flag("prefetch", prefetch)
        margin = check_seconds("margin_s", margin_s, zero_ok=True)
        spec = (name, standard, cap, host_cap, tx_cap, size, hold, wait, window, fetch, margin)
        return self._cached_budget(
            spec,
            name,
            standard_account=standard,
            capacity=cap,
            host_capacity=host_cap,
            tx_capacity=tx_cap,
            chunk=size,
            tx_chunk=tx_size,
            hold_s=hold if size else 0.0,
            max_wait_s=wait,
            window_s=window,
            prefetch=fetch,
            margin_s=margin,
        )

    def host_budget(
        self,
        *,
        standard_account: bool = True,
        capacity: int | None = None,
        chunk: int | None = None,
        hold_s: float = DEFAULT_HOLD_S,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        window_s: float = P.RATE_WINDOW_S,
        margin_s: float = DEFAULT_MARGIN_S,
    ) -> FleetBudget:
        """The budget of requests that name no account (public reads): this host's window only,
        the same one its accounts' budgets draw from (the venue's per-IP count)."""
        self._check_open()
        standard = check_flag("standard_account", standard_account)
        top = P.STANDARD_REQUESTS_PER_MINUTE if standard else P.PREMIUM_WEIGHT_PER_MINUTE
        cap = top if capacity is None else check_int("capacity", capacity, 1, 1 << 40)
        size = max(1, cap // 100) if chunk is None else check_int("chunk", chunk, 0, cap)
        hold = check_seconds("hold_s", hold_s, zero_ok=True)
        window = check_seconds("window_s", window_s)
        if size and not 0 < hold <= window:
            raise ValueError(f"hold_s must be in (0, window_s] with a chunk, got {hold_s!r}")
        wait = check_seconds("max_wait_s", max_wait_s, zero_ok=True)
        margin = check_seconds("margin_s", margin_s, zero_ok=True)
        spec = (None, standard, cap, size, hold, wait, window, margin)
        return self._cached_budget(
            spec,
            None,
            standard_account=standard,
            capacity=cap,
            host_capacity=cap,
            tx_capacity=cap,
            chunk=size,
            tx_chunk=size,
            hold_s=hold if size else 0.0,
            max_wait_s=wait,
            window_s=window,
            margin_s=margin,
        )

    def _cached_budget(self, spec: tuple[Any, ...], account: str | None, **kw: Any) -> FleetBudget:
        """The budget handle for `spec`, made once; a released handle is not handed out again."""
        found = self._budgets.get(spec)
        if found is None or found.closed:
            found = self._budgets[spec] = FleetBudget(self, account, **kw)
        return found

    # --- leases --------------------------------------------------------------------------

    async def lease_lanes(
        self, account: int | str, keys: Sequence[int], want: int | None = None
    ) -> list[LaneLease]:
        """Lease up to `want` (default all) of `keys` that are free, in the order given.

        Raises FleetError naming each key's holder when none is free. A key whose owner's
        lease expired is taken over: its epoch increments and `last_nonce` tells the new
        owner where the old one stopped.
        """
        self._check_open()
        name = check_name("account", account)
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
            raise TypeError(f"keys must be a sequence of API key indexes, got {keys!r}")
        indexes = [
            check_int("api_key_index", k, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX) for k in keys
        ]
        if not indexes or len(set(indexes)) != len(indexes):
            raise ValueError(f"keys must be distinct API key indexes, at least one, got {keys!r}")
        count = len(indexes) if want is None else check_int("want", want, 1, len(indexes))
        hashes = [self.key("lane", name, str(k)) for k in indexes]
        mine = {lease._hash_key for lease in self._leases.values() if isinstance(lease, LaneLease)}
        sent = time.monotonic()
        reply = await self.conn.script(
            "LANES_ACQUIRE",
            hashes,
            [self.owner, self.owner, int(self.lease_ttl_s * 1000), count]
            + ["0" if h in mine else "1" for h in hashes],
            f"a lane lease for account {name}",
        )
        leases: list[LaneLease] = []
        busy: list[str] = []
        for k, hash_key, row in zip(indexes, hashes, reply, strict=True):
            if int(row[0]) == 1:
                last = int(row[2]) if row[2] != "" else None
                leases.append(LaneLease(self, name, k, hash_key, int(row[1]), last, sent))
            elif row[2]:
                left = int(row[3]) / 1000
                busy.append(f"key {k} held by {row[2]} (epoch {row[1]}, {left:.1f} s left)")
        if not leases:
            raise FleetError(
                f"fleet: no free API key lane for account {name} among keys {indexes}: "
                + "; ".join(busy)
            )
        for lease in leases:
            self._hold(lease)
        return leases

    async def lease_slot(self, account: int | str, prefer: int | None = None) -> SlotLease:
        """Lease a COI slot (0..255) no live process of the account holds; `prefer` first."""
        self._check_open()
        name = check_name("account", account)
        first = -1 if prefer is None else check_int("prefer", prefer, 0, MAX_SLOT)
        hash_key = self.key("slots", name)
        sent = time.monotonic()
        reply = await self.conn.script(
            "SLOT_ACQUIRE",
            [hash_key],
            [self.owner, self.owner, int(self.lease_ttl_s * 1000), first, MAX_SLOT],
            f"a COI slot lease for account {name}",
        )
        if int(reply[0]) != 1:
            raise FleetError(
                f"fleet: no free COI slot for account {name}: all {MAX_SLOT + 1} are held by live"
                " processes"
            )
        lease = SlotLease(self, name, int(reply[1]), hash_key, int(reply[2]), sent)
        self._hold(lease)
        return lease

    def _hold(self, lease: Lease) -> None:
        self._leases[id(lease)] = lease
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(heartbeat(self))

    def _forget(self, lease: Lease) -> None:
        self._leases.pop(id(lease), None)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def leases(self) -> list[Lease]:
        """The leases this process holds now (lanes and slots)."""
        return list(self._leases.values())

    # --- server restarts -----------------------------------------------------------------

    def boot_args(self) -> tuple[str, int]:
        """(known generation, grace ms): what a reservation tells the server."""
        return self.boot, self.grace_ms

    def saw_boot(self, boot: str) -> None:
        """A reply named the server's budget generation (the first one is remembered)."""
        if not self.boot:
            self.boot = boot

    async def restarted(self, boot: str) -> None:
        """The server lost its windows (generation `boot` is new to us): every budget of this
        process puts back the reservations it still holds, during the grace the server
        started; then `boot` is the generation known. FleetError if the server fails again.
        """
        if boot == self.boot:
            return
        task = self._reseed
        if task is None or task.done():
            task = self._reseed = asyncio.get_running_loop().create_task(self._put_back(boot))
        await asyncio.shield(task)

    async def _put_back(self, boot: str) -> None:
        back = 0
        for budget in list(self._budgets.values()):
            if not budget.closed:
                back += await budget.reseed()
        self.boot = boot
        self.restarts += 1
        logger.warning(
            "fleet: the server at %s lost its budget windows (a restart); %d live reservations"
            " of this process put back",
            self.url,
            back,
        )

    async def check_boot(self) -> None:
        """Ask the server's budget generation; put our reservations back if it is new."""
        boot, stale, _left = await self.conn.script(
            "BOOT", self.boot_keys, [self.boot, self.grace_ms], "the budget generation"
        )
        if int(stale):
            await self.restarted(str(boot))
        else:
            self.saw_boot(str(boot))

    # --- status and close ----------------------------------------------------------------

    async def status(self, account: int | str | None = None) -> FleetStatus:
        """The fleet's state now (leases, budget use, slots): a `FleetStatus`."""
        from .status import read_status

        self._check_open()
        return await read_status(self, None if account is None else check_name("account", account))

    async def close(self) -> None:
        """Release this process's leases, return unused budget, close the connection."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        # concurrently: with the server down, closing costs one wait_s, not one per lease
        leases = list(self._leases.values())
        loop = asyncio.get_running_loop()
        releases = [loop.create_task(lease.release()) for lease in leases]
        releases += [loop.create_task(b.release()) for b in self._budgets.values()]
        # Bounded as a whole: a call that ignores its own timeout must not hang the close
        # (a lease not released expires by its TTL; unused budget by its window).
        pending = await _wait_bounded([*releases, *self._tasks], 2 * self.conn.wait_s + 1.0)
        for lease, task in zip(leases, releases, strict=False):
            failed = task in pending or (not task.cancelled() and task.exception() is not None)
            if failed:
                reason = "no answer" if task in pending else task.exception()
                logger.warning("fleet: %s not released (it expires on its own): %s", lease, reason)
        await self.conn.close()


async def _wait_bounded(tasks: list[asyncio.Task[Any]], bound: float) -> set[asyncio.Task[Any]]:
    """Wait up to `bound` s for `tasks`; cancel (without awaiting) and return the ones left."""
    if not tasks:
        return set()
    _done, pending = await asyncio.wait(tasks, timeout=bound)
    for task in pending:
        task.cancel()
    return pending
