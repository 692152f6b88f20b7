"""Client order indexes: the partitioned time-based COI band, its high-water marks, the check.

Every create carries a COI the dealer chose, so an order can be canceled or modified before
the node has told anyone its order index (protocol §2.11). A COI is unique per account across
all markets, so processes of one account must never issue the same one.

Layout of a time-based COI (48 bits, the signer's range 1 … 2^48−1)::

    bit 47 ............................. 8 7 ........ 0
        ticks: 40 bits                     slot: 8 bits
        1/1024 s since 2025-01-01 UTC      partition (today the lowest API key index of the
        (+1 per COI, may run ahead)        dealer, 0 … 254; later a fleet-leased slot)

    COI = ticks << 8 | slot,   ticks = max(last ticks of this slot + 1, now in ticks)

Arithmetic: one slot issues COI_PER_SECOND = 1024 COIs per second of wall clock; a faster
burst takes the next ticks (its COIs run ahead of the clock, lead = issued / 1024 − elapsed).
256 slots give 262 144 COIs/s per account. The band lasts 2^40 / 1024 s = 2^30 s ≈ 34.0
years: until 2059-01. Today (late 2026) COIs are ≈ 1.6·10^13 (2^43.8), far above every COI
the earlier "seconds × 4096" band issued (< 2^39 until 2029), so an upgrade reissues none.

Uniqueness: two slots never share a COI (the low 8 bits differ), so two programs on one
account with disjoint API keys never collide, with no server. Within a slot the COI only
grows: allocators of one slot in one process share one high-water mark, and a restarted
process starts from the wall clock, above everything issued before as long as the previous
run's lead (`CoiAllocator.lead_s`) was shorter than the restart and the clock did not step
back — a restart 1 ms later is safe at ≤ 1 COI/ms. Otherwise pass coi_start/coi_allocator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .. import protocol as P
from .._checks import check_int
from ..errors import LighterError

COI_EPOCH_S = 1_735_689_600  # 2025-01-01T00:00:00Z
COI_PER_SECOND = 1024  # ticks per second, per slot
COI_SLOT_BITS = 8
COI_TICK_BITS = 48 - COI_SLOT_BITS  # 40
MAX_COI_SLOT = (1 << COI_SLOT_BITS) - 1  # 255: every API key index (0 … 254) is a slot
_MAX_TICKS = (1 << COI_TICK_BITS) - 1
_COI_EPOCH_NS = COI_EPOCH_S * 1_000_000_000


def check_coi(value: Any) -> int:
    """A client_order_index the node accepts on a create, cancel or modify (1..2^48-1)."""
    return check_int("client_order_index", value, P.MIN_COI, P.MAX_COI)


def coi_parts(coi: int) -> tuple[int, int]:
    """(ticks, slot) of a time-based COI; ticks / COI_PER_SECOND + COI_EPOCH_S ≈ issue time."""
    coi = check_coi(coi)
    return coi >> COI_SLOT_BITS, coi & MAX_COI_SLOT


class _HighWater:
    """The last value issued by the allocators sharing this mark (lock-guarded)."""

    __slots__ = ("lock", "value")

    def __init__(self, value: int = 0) -> None:
        self.lock = threading.Lock()
        self.value = value


# One mark per slot for allocators on the wall clock: the process's last ticks of that slot.
_WALL_CLOCK_MARKS: dict[int, _HighWater] = {}
_MARKS_LOCK = threading.Lock()


def _wall_clock_mark(slot: int) -> _HighWater:
    with _MARKS_LOCK:
        mark = _WALL_CLOCK_MARKS.get(slot)
        if mark is None:
            mark = _WALL_CLOCK_MARKS[slot] = _HighWater()
        return mark


def _wall_clock_ticks() -> int:
    """COI ticks since COI_EPOCH by the wall clock (exact integer arithmetic)."""
    return (time.time_ns() - _COI_EPOCH_NS) * COI_PER_SECOND // 1_000_000_000


class CoiAllocator:
    """Monotonic COI source: time-based in one slot (see the module) or a plain counter.

    `start=None`: `ticks << 8 | slot`; allocators on the wall clock (no `clock_s`, a seconds
    clock for tests) of one slot share the process's last ticks. `start=N`: N, N+1, … for
    this allocator only (the caller keeps COIs unique across runs and processes).
    """

    __slots__ = ("_counter", "_mark", "_slot", "_ticks")

    def __init__(
        self,
        clock_s: Callable[[], float] | None = None,
        *,
        start: int | None = None,
        slot: int = 0,
    ) -> None:
        self._slot = check_int("slot", slot, 0, MAX_COI_SLOT)
        if clock_s is None:
            self._ticks: Callable[[], int] = _wall_clock_ticks
        else:
            self._ticks = lambda: int((clock_s() - COI_EPOCH_S) * COI_PER_SECOND)
        if start is None:
            self._mark = _wall_clock_mark(self._slot) if clock_s is None else _HighWater()
            self._counter = False
        else:
            self._mark = _HighWater(check_coi(start) - 1)
            self._counter = True

    @property
    def slot(self) -> int:
        """The partition (low 8 bits) of every time-based COI this allocator issues."""
        return self._slot

    def next(self) -> int:
        """A fresh COI in 1..2^48-1, larger than every COI this allocator issued before."""
        mark = self._mark
        with mark.lock:
            value = mark.value + 1
            if self._counter:
                if value > P.MAX_COI:
                    raise LighterError(f"COI allocator passed {P.MAX_COI} (coi_start too high)")
                mark.value = value
                return value
            value = max(value, self._ticks(), 1)  # slot 0 at tick 0 would be COI 0
            if value > _MAX_TICKS:
                raise LighterError(f"COI allocator passed {P.MAX_COI} (clock far ahead?)")
            mark.value = value
        return value << COI_SLOT_BITS | self._slot

    __call__ = next  # `allocator()` is `allocator.next()` without a second call

    def lead_s(self) -> float:
        """How far the last issued COI runs ahead of the clock, in s (0 when behind it)."""
        if self._counter:
            return 0.0
        return max(0.0, (self._mark.value - self._ticks()) / COI_PER_SECOND)


_PROCESS_ALLOCATORS: dict[int, CoiAllocator] = {}


def allocator_for_slot(slot: int) -> CoiAllocator:
    """The process's wall-clock allocator of one slot (dealers of that slot share it)."""
    slot = check_int("slot", slot, 0, MAX_COI_SLOT)
    with _MARKS_LOCK:
        alloc = _PROCESS_ALLOCATORS.get(slot)
    if alloc is None:
        alloc = _PROCESS_ALLOCATORS.setdefault(slot, CoiAllocator(slot=slot))
    return alloc


def slot_for_keys(api_key_indices: Iterable[int]) -> int:
    """The COI slot of a dealer without a fleet: its lowest API key index.

    Processes of one account never share an API key (each key is one nonce lane), so their
    lowest keys, hence their slots, differ.
    """
    keys = [
        check_int("api_key_index", k, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)
        for k in api_key_indices
    ]
    if not keys:
        raise ValueError("slot_for_keys: no API key index")
    return min(keys)


# The slot-0 allocator (kept for callers that want one process-wide source).
PROCESS_ALLOCATOR = allocator_for_slot(0)
