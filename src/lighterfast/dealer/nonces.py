"""Nonce lanes: one local nonce counter per API key, seeded from the node's `nextNonce`.

Concurrency contract (single event loop; nothing here is thread-safe):

* **Who allocates.** Only the holder of a lane (``async with manager.hold(key) as lane``)
  may call ``lane.take(n)``. A lane is held by one sender from the moment it takes nonces
  until the reply to the request that carries them is known, so a batch always gets
  ``n`` consecutive nonces of one key and the nonces of one key go out in increasing order.
  Other senders wait on the lane's FIFO lock (or rotate to another key, see ``pick``).
* **Who refreshes.** Only the holder. ``take`` fetches ``nextNonce`` through the caller's
  rate-limited fetcher the first time and whenever the lane is marked unknown; after that
  nonces are purely local.
* **What happens on failure.**
  - rejected with nothing consumed (any non-200 reply: bad signature, rate limit, …):
    ``rollback(first, n)`` returns the nonces, so the next request of the lane reuses them
    (the rejected tx never existed for the node, so this is not a reuse);
  - rejected as an invalid nonce (21104/21105): ``invalidate()``; the holder then resyncs
    once (next ``take`` fetches) and re-signs the same intents with the fresh nonces;
  - outcome unknown (timeout, socket lost before the reply): ``invalidate()`` — the node is
    the only one who knows which nonces it consumed, so the lane asks it before the next use
    and never hands out a nonce the node may already have accepted for another tx.
* **Rotation.** ``pick()`` returns the next key in round-robin order, preferring a key whose
  lane is free, so several keys give parallel lanes; one batch stays on one key.
* **Sharing.** A key is one counter on the node, so every dealer of a process that signs for
  (node, account, key) must take from one lane: ``NonceManager(..., base_url=, account_index=)``
  takes its lanes from the process registry (``shared_lane``), keyed by the running event loop
  too (a lane's lock belongs to one loop), refcounted and released by ``close()``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from .. import protocol as P
from .._checks import check_int
from ..errors import FleetError, LighterError

NonceFetcher = Callable[[int], Awaitable[int]]


class NonceLane:
    """The nonce counter of one API key; use only while holding it (see module docstring)."""

    __slots__ = (
        "_fetchers",
        "_floored",
        "_holders",
        "_key",
        "_next",
        "api_key_index",
        "fetches",
        "guard",
        "lock",
        "recorder",
    )

    def __init__(self, api_key_index: int, fetch: NonceFetcher) -> None:
        self.api_key_index = api_key_index
        self.lock = asyncio.Lock()
        # The holders' nextNonce readers, weakly (a dropped dealer is collected); the newest
        # live one asks (a closed dealer's is gone).
        self._fetchers: list[Callable[[], NonceFetcher | None]] = [_weak(fetch)]
        self._next: int | None = None
        self._holders = 0  # managers holding this lane from the registry
        self._key: tuple[str, int, int] | None = None  # its registry key, when shared
        self.fetches = 0  # how many times nextNonce was asked (observability, tests)
        # A fleet lease (dealer.fleet_link): the lane is used only while `guard.valid`; its
        # first sync starts at `guard.next_nonce(nextNonce)`; `recorder(key, nonce)` hears of
        # the last consumed nonce each time the lane is let go.
        self.guard: Any = None
        self.recorder: Callable[[int, int], None] | None = None
        self._floored = False

    def __repr__(self) -> str:
        return (
            f"NonceLane(api_key_index={self.api_key_index}, next_nonce={self._next},"
            f" holders={self._holders})"
        )

    @property
    def holders(self) -> int:
        """Managers (dealers) sharing this lane through the registry now (0: a private lane)."""
        return self._holders

    @property
    def next_nonce(self) -> int | None:
        """The next nonce this lane will hand out, or None until (re)synced."""
        return self._next

    @property
    def synced(self) -> bool:
        """True when the lane knows its next nonce without asking the node."""
        return self._next is not None

    async def sync(self) -> int:
        """Fetch the node's next nonce for this key (counted by the caller's limiter)."""
        fetch = next((f for f in map(_call, reversed(self._fetchers)) if f is not None), None)
        if fetch is None:
            raise LighterError("nonce lane: every dealer that could ask nextNonce is gone")
        value = await fetch(self.api_key_index)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"nextNonce: node returned an invalid nonce {value!r}")
        self.fetches += 1
        guard = self.guard
        if guard is not None and not self._floored:  # a lane taken over: past what was recorded
            value = guard.next_nonce(value)
            self._floored = True
        self._next = value
        return value

    async def take(self, count: int = 1) -> int:
        """Reserve `count` consecutive nonces and return the first; syncs first if needed."""
        if type(count) is not int or not 1 <= count <= P.MAX_NONCE:  # (the common case: no call)
            check_int("count", count, 1, P.MAX_NONCE)
        guard = self.guard
        if guard is not None and not guard.valid:
            reason = getattr(guard, "lost_reason", "") or "not renewed in time"
            raise FleetError(
                f"fleet: the lease of API key {self.api_key_index}'s lane is lost ({reason});"
                " nothing signed or sent on it"
            )
        if self._next is None:
            await self.sync()
        assert self._next is not None
        first = self._next
        self._next = first + count
        return first

    def take_synced(self, count: int) -> int | None:
        """`take(count)` without a coroutine when it needs no I/O (synced, no fleet lease to
        check); None: nothing taken, await `take`."""
        first = self._next
        if first is None or self.guard is not None or type(count) is not int:
            return None
        if not 1 <= count <= P.MAX_NONCE:
            return None
        self._next = first + count
        return first

    def rollback(self, first: int, count: int) -> None:
        """Give back the last reservation (the request was rejected, nothing consumed)."""
        if self._next == first + count:
            self._next = first
        else:  # someone else moved the lane (a bug in the caller); ask the node next time
            self._next = None

    def note_consumed(self, upto: int) -> None:
        """The node consumed every nonce below `upto` (a resolved unknown): never reissue one."""
        if self._next is not None and self._next < upto:
            self._next = upto

    def invalidate(self) -> None:
        """Forget the local counter; the next `take` fetches `nextNonce` again."""
        self._next = None


class _Hold:
    """`async with manager.hold(key) as lane`: the lane's lock held, the fleet recorder told on
    release (a plain class: cheaper per send than an @asynccontextmanager generator)."""

    __slots__ = ("_lane",)

    def __init__(self, lane: NonceLane) -> None:
        self._lane = lane

    async def __aenter__(self) -> NonceLane:
        lane = self._lane
        await lane.lock.acquire()
        return lane

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        lane = self._lane
        try:
            # Synced: every nonce below _next was consumed (refusals were given back).
            if lane.recorder is not None and lane._next:
                lane.recorder(lane.api_key_index, lane._next - 1)
        finally:
            lane.lock.release()


def _weak(fetch: NonceFetcher) -> Callable[[], NonceFetcher | None]:
    """A weak reference to a bound method (the dealer's reader); a plain function as is."""
    if inspect.ismethod(fetch):
        return weakref.WeakMethod(fetch)
    return lambda: fetch


def _call(ref: Callable[[], NonceFetcher | None]) -> NonceFetcher | None:
    return ref()


# loop → (node, account, key) → lane. Weak on the loop: a closed loop's lanes are never reused.
_SHARED: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, int, int], NonceLane]
] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.RLock()  # re-entrant: a collected manager releases in __del__


def node_key(base_url: str) -> str:
    """A node's registry spelling: scheme://host[:port]/path, lower case, no user info or '/'."""
    parts = urlsplit(base_url.strip())
    host = parts.netloc.rpartition("@")[2].lower()
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"


def shared_lane(
    base_url: str, account_index: int, api_key_index: int, fetch: NonceFetcher
) -> NonceLane:
    """The process's lane of (node, account, key) on the running loop, held once more.

    `fetch` joins the lane's readers of nextNonce; `release_lane(lane, fetch)` gives it back.
    """
    loop = asyncio.get_running_loop()
    key = (node_key(base_url), account_index, api_key_index)
    with _SHARED_LOCK:
        lanes = _SHARED.setdefault(loop, {})
        lane = lanes.get(key)
        if lane is None:
            lane = lanes[key] = NonceLane(api_key_index, fetch)
            lane._key = key
        else:
            lane._fetchers.append(_weak(fetch))
        lane._holders += 1
        return lane


def release_lane(lane: NonceLane, fetch: NonceFetcher) -> None:
    """One holder of a shared lane is done; the last one takes it out of the registry."""
    with _SHARED_LOCK:
        for ref in lane._fetchers:
            if len(lane._fetchers) > 1 and ref() == fetch:
                lane._fetchers.remove(ref)
                break
        lane._fetchers = [r for r in lane._fetchers if r() is not None] or lane._fetchers[-1:]
        if lane._holders > 0:
            lane._holders -= 1
        if lane._holders == 0 and lane._key is not None:
            for lanes in list(_SHARED.values()):
                if lanes.get(lane._key) is lane:
                    del lanes[lane._key]
            lane._key = None


def shared_lanes() -> dict[tuple[str, int, int], NonceLane]:
    """The shared lanes of the running loop now (observability, tests)."""
    with _SHARED_LOCK:
        return dict(_SHARED.get(asyncio.get_running_loop(), {}))


class NonceManager:
    """All lanes of one account, with round-robin key rotation.

    With `base_url` and `account_index` (a dealer) the lanes are the process's shared ones for
    that node and account (see the module docstring); without, private to this manager.
    """

    def __init__(
        self,
        api_key_indices: Sequence[int],
        fetch: NonceFetcher,
        *,
        base_url: str | None = None,
        account_index: int | None = None,
    ) -> None:
        if isinstance(api_key_indices, (str, bytes)) or not api_key_indices:
            raise ValueError("api_key_indices: at least one API key is needed")
        self._order = list(
            dict.fromkeys(
                check_int("api_key_index", k, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)
                for k in api_key_indices
            )
        )
        self._fetch = fetch
        self._shared = base_url is not None and account_index is not None
        if self._shared:
            assert base_url is not None and account_index is not None
            self.lanes = {k: shared_lane(base_url, account_index, k, fetch) for k in self._order}
        else:
            self.lanes = {k: NonceLane(k, fetch) for k in self._order}
        self._cursor = 0
        self._closed = False

    @property
    def shared(self) -> bool:
        """True when the lanes come from the process registry (other dealers may hold them)."""
        return self._shared

    def __del__(self) -> None:
        # A dealer dropped without aclose(): its holds go with it (nothing to await here).
        if not getattr(self, "_closed", True):
            self.close()

    def close(self) -> None:
        """Give the shared lanes back (idempotent); a private manager has nothing to release."""
        if self._closed:
            return
        self._closed = True
        if self._shared:
            for lane in self.lanes.values():
                release_lane(lane, self._fetch)

    @property
    def api_key_indices(self) -> list[int]:
        """The keys in rotation order."""
        return list(self._order)

    def pick(self) -> int:
        """Next key in rotation, preferring one whose lane is not held right now."""
        n = len(self._order)
        for step in range(n):
            key = self._order[(self._cursor + step) % n]
            if not self.lanes[key].lock.locked():
                self._cursor = (self._cursor + step + 1) % n
                return key
        key = self._order[self._cursor]
        self._cursor = (self._cursor + 1) % n
        return key

    def hold(self, api_key_index: int) -> _Hold:
        """Hold one key's lane exclusively (FIFO) for take → sign → send → reply."""
        lane = self.lanes.get(api_key_index)
        if lane is None:
            raise ValueError(f"api_key_index {api_key_index!r} is not one of {self._order}")
        return _Hold(lane)

    async def take_one(self, api_key_index: int | None = None) -> tuple[int, int]:
        """Hold a lane just long enough to take one nonce: (api_key_index, nonce)."""
        key = self.pick() if api_key_index is None else api_key_index
        async with self.hold(key) as lane:
            return key, await lane.take(1)
