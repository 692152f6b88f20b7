"""Client order indexes: the time-based COI band, its high-water mark and the COI check.

Every create carries a COI the dealer chose, so an order can be canceled or modified before
the node has told anyone its order index (protocol §2.11).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .. import protocol as P
from .._checks import check_int
from ..errors import LighterError

# COI = max(last + 1, ticks since COI_EPOCH), one tick = 1/COI_PER_SECOND s (244 µs): the
# suggested "seconds × 4096" band, at sub-second resolution so that a restart within the same
# second does not reissue that second's COIs. Live captures only show COIs up to ~4.2e11
# accepted and a third party reports 21727 above 2^31 (lighter-protocol §2.11); this stays in
# the observed band: ≈2.5e11 in late 2026, 4.2e11 in 2028, 2^39 in 2029.
# Sustained > COI_PER_SECOND orders/s borrows ticks from the future (the COI runs ahead of the
# clock); a process restarted sooner than that lead, or after the clock stepped back, may
# reissue a COI the node still knows (21728 duplicate) — pass coi_start/coi_allocator then.
# Allocators on the wall clock share one process-wide high-water mark.
COI_EPOCH_S = 1_735_689_600  # 2025-01-01T00:00:00Z
COI_PER_SECOND = 4096
_COI_EPOCH_NS = COI_EPOCH_S * 1_000_000_000


def check_coi(value: Any) -> int:
    """A client_order_index the node accepts on a create, cancel or modify (1..2^48-1)."""
    return check_int("client_order_index", value, P.MIN_COI, P.MAX_COI)


class _HighWater:
    """The highest COI issued by the allocators sharing this mark (lock-guarded)."""

    __slots__ = ("lock", "value")

    def __init__(self, value: int = 0) -> None:
        self.lock = threading.Lock()
        self.value = value


_WALL_CLOCK_MARK = _HighWater()


def _wall_clock_ticks() -> int:
    """COI ticks since COI_EPOCH by the wall clock (exact integer arithmetic)."""
    return (time.time_ns() - _COI_EPOCH_NS) * COI_PER_SECOND // 1_000_000_000


class CoiAllocator:
    """Monotonic COI source: time-based (unique across restarts) or a plain counter.

    `start=None`: `max(last + 1, (now - 2025-01-01) in s × 4096)`; allocators on the wall clock
    (no `clock_s`, a seconds clock for tests) share the process's last COI. `start=N`: N, N+1,
    … for this allocator only (the caller keeps COIs unique across runs).
    """

    def __init__(
        self, clock_s: Callable[[], float] | None = None, *, start: int | None = None
    ) -> None:
        if clock_s is None:
            self._ticks = _wall_clock_ticks
        else:
            self._ticks = lambda: int((clock_s() - COI_EPOCH_S) * COI_PER_SECOND)
        if start is None:
            self._mark = _WALL_CLOCK_MARK if clock_s is None else _HighWater()
            self._counter = False
        else:
            self._mark = _HighWater(check_coi(start) - 1)
            self._counter = True

    def __call__(self) -> int:
        return self.next()

    def next(self) -> int:
        """A fresh COI in 1..2^48-1, larger than every COI this allocator issued before."""
        mark = self._mark
        with mark.lock:
            coi = mark.value + 1
            if not self._counter:
                coi = max(coi, self._ticks())
            if coi > P.MAX_COI:
                raise LighterError(
                    f"COI allocator passed {P.MAX_COI}"
                    + (" (coi_start too high)" if self._counter else " (clock far ahead?)")
                )
            mark.value = coi
        return coi


# One allocator per process: several dealers of one account in one process never collide.
PROCESS_ALLOCATOR = CoiAllocator()
