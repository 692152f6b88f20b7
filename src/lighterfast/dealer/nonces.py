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
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from .. import protocol as P
from .._checks import check_int

NonceFetcher = Callable[[int], Awaitable[int]]


class NonceLane:
    """The nonce counter of one API key; use only while holding it (see module docstring)."""

    __slots__ = ("_fetch", "_next", "api_key_index", "fetches", "lock")

    def __init__(self, api_key_index: int, fetch: NonceFetcher) -> None:
        self.api_key_index = api_key_index
        self.lock = asyncio.Lock()
        self._fetch = fetch
        self._next: int | None = None
        self.fetches = 0  # how many times nextNonce was asked (observability, tests)

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
        value = await self._fetch(self.api_key_index)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"nextNonce: node returned an invalid nonce {value!r}")
        self.fetches += 1
        self._next = value
        return value

    async def take(self, count: int = 1) -> int:
        """Reserve `count` consecutive nonces and return the first; syncs first if needed."""
        check_int("count", count, 1, P.MAX_NONCE)
        if self._next is None:
            await self.sync()
        assert self._next is not None
        first = self._next
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


class NonceManager:
    """All lanes of one account, with round-robin key rotation."""

    def __init__(self, api_key_indices: Sequence[int], fetch: NonceFetcher) -> None:
        if isinstance(api_key_indices, (str, bytes)) or not api_key_indices:
            raise ValueError("api_key_indices: at least one API key is needed")
        self._order = list(
            dict.fromkeys(
                check_int("api_key_index", k, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)
                for k in api_key_indices
            )
        )
        self.lanes = {k: NonceLane(k, fetch) for k in self._order}
        self._cursor = 0

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

    @asynccontextmanager
    async def hold(self, api_key_index: int) -> AsyncIterator[NonceLane]:
        """Hold one key's lane exclusively (FIFO) for take → sign → send → reply."""
        lane = self.lanes.get(api_key_index)
        if lane is None:
            raise ValueError(f"api_key_index {api_key_index!r} is not one of {self._order}")
        async with lane.lock:
            yield lane

    async def take_one(self, api_key_index: int | None = None) -> tuple[int, int]:
        """Hold a lane just long enough to take one nonce: (api_key_index, nonce)."""
        key = self.pick() if api_key_index is None else api_key_index
        async with self.hold(key) as lane:
            return key, await lane.take(1)
