"""Compiled core vs its pure-Python twin, op by op (pytest-benchmark groups pair them).

`OrderBook.apply_update` is fed a realistic chain from `frames.py` (ETH-like: price 2 / size 4
decimals, 200 levels per side, ~6 changed levels per frame, valid begin_nonce chain, already
parsed dicts); `extra_info["us_per_frame"]` is the mean time per frame. The "from JSON bytes"
group feeds the same deltas as bytes: `apply_update_raw` (scanner) vs orjson + `apply_update`.

    python -m pytest benchmarks/bench_core.py --benchmark-only \
        --benchmark-columns=min,median,mean,rounds --benchmark-group-by=group
"""

from __future__ import annotations

from decimal import Decimal
from types import ModuleType
from typing import Any

import orjson
import pytest

from frames import frame_bytes, make_book_frames
from lighterfast.core import _core, _core_py

IMPLS = [pytest.param(_core, id="compiled"), pytest.param(_core_py, id="pure")]
FRAMES = make_book_frames(levels=200, updates=2000, changes=6, seed=3)
DEEP = make_book_frames(levels=3000, updates=1, seed=4)
PAYLOADS = frame_bytes(FRAMES)[1:]  # the same deltas as JSON bytes (~440 B each)
ORDERS = [
    {"client_order_index": 1_000 + i, "status": status, "order_index": 2**48 + i}
    for i, status in enumerate(["open", "open", "filled"])
]


def per_call(benchmark: Any, calls: int) -> None:
    """Record the mean time of one call (a round runs `calls` of them) in extra_info."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["us_per_call"] = round(stats.stats.mean / calls * 1e6, 4)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="book.apply_update (2000 frames, 200 levels/side)")
def test_book_apply_update(benchmark: Any, m: ModuleType) -> None:
    book = m.OrderBook(0, FRAMES.price_decimals, FRAMES.size_decimals)
    updates = FRAMES.inner_updates
    snapshot = FRAMES.inner_snapshot

    def setup() -> None:
        book.apply_snapshot(snapshot)

    def run() -> None:
        apply = book.apply_update
        for update in updates:
            apply(update)

    rounds = 60 if m is _core else 8
    benchmark.pedantic(run, setup=setup, rounds=rounds, iterations=1)
    assert not book.is_stale and book.nonce == updates[-1]["nonce"]
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["us_per_frame"] = round(stats.stats.mean / len(updates) * 1e6, 4)
        benchmark.extra_info["us_per_frame_min"] = round(stats.stats.min / len(updates) * 1e6, 4)


def _frame_rounds(benchmark: Any, book: Any, run: Any, rounds: int) -> None:
    """Time `run` over the 2000-frame chain, re-seeding the book before each round."""

    def setup() -> None:
        book.apply_snapshot(FRAMES.inner_snapshot)

    benchmark.pedantic(run, setup=setup, rounds=rounds, iterations=1)
    assert not book.is_stale and book.nonce == FRAMES.updates[-1]["order_book"]["nonce"]
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["us_per_frame"] = round(stats.stats.mean / len(PAYLOADS) * 1e6, 4)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="book from JSON bytes (2000 frames, parse included)")
def test_book_apply_update_raw(benchmark: Any, m: ModuleType) -> None:
    book = m.OrderBook(0, FRAMES.price_decimals, FRAMES.size_decimals)

    def run() -> None:
        apply = book.apply_update_raw
        for payload in PAYLOADS:
            apply(payload)

    _frame_rounds(benchmark, book, run, 60 if m is _core else 8)


@pytest.mark.benchmark(group="book from JSON bytes (2000 frames, parse included)")
def test_book_orjson_then_apply_update(benchmark: Any) -> None:
    book = _core.OrderBook(0, FRAMES.price_decimals, FRAMES.size_decimals)
    loads = orjson.loads

    def run() -> None:
        apply = book.apply_update
        for payload in PAYLOADS:
            apply(loads(payload)["order_book"])

    _frame_rounds(benchmark, book, run, 60)


@pytest.mark.benchmark(group="book from JSON bytes (2000 frames, parse included)")
def test_orjson_loads_only(benchmark: Any) -> None:
    loads = orjson.loads

    def run() -> None:
        for payload in PAYLOADS:
            loads(payload)

    benchmark.pedantic(run, rounds=60, iterations=1)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="book.apply_snapshot (200 levels/side)")
def test_book_apply_snapshot(benchmark: Any, m: ModuleType) -> None:
    book = m.OrderBook(0, 2, 4)
    assert benchmark(book.apply_snapshot, FRAMES.inner_snapshot)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="book.apply_snapshot (3000 levels/side)")
def test_book_apply_snapshot_deep(benchmark: Any, m: ModuleType) -> None:
    book = m.OrderBook(0, 2, 4)
    assert benchmark(book.apply_snapshot, DEEP.inner_snapshot)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="book.best_bid + best_ask + mid")
def test_book_top_reads(benchmark: Any, m: ModuleType) -> None:
    book = m.OrderBook(0, 2, 4)
    book.apply_snapshot(FRAMES.inner_snapshot)

    def run() -> Any:
        return book.best_bid(), book.best_ask(), book.mid()

    assert benchmark(run)[2] is not None


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="book.bids(10)")
def test_book_bids10(benchmark: Any, m: ModuleType) -> None:
    book = m.OrderBook(0, 2, 4)
    book.apply_snapshot(FRAMES.inner_snapshot)
    assert len(benchmark(book.bids, 10)) == 10


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.parametrize(
    "value", ["3000.05", 3000.05, Decimal("3000.05"), 3000], ids=["str", "float", "Decimal", "int"]
)
@pytest.mark.benchmark(group="scale.price_to_int")
def test_scale_price_to_int(benchmark: Any, m: ModuleType, value: Any) -> None:
    scale = m.Scale(2, 4)
    assert benchmark(scale.price_to_int, value) in (300005, 300000)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="scale.size_to_int(float)")
def test_scale_size_to_int(benchmark: Any, m: ModuleType) -> None:
    scale = m.Scale(2, 4)
    assert benchmark(scale.size_to_int, 0.0123) == 123


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="scale.parse_size")
def test_scale_parse_size(benchmark: Any, m: ModuleType) -> None:
    scale = m.Scale(2, 4)
    assert benchmark(scale.parse_size, "12.0050") == 120050


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="scale.format_size")
def test_scale_format_size(benchmark: Any, m: ModuleType) -> None:
    scale = m.Scale(2, 4)
    assert benchmark(scale.format_size, 120050) == "12.0050"


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="coi_cache.put (full, evicting) x1000")
def test_coi_cache_put_evicting(benchmark: Any, m: ModuleType) -> None:
    cache = m.CoiCache(1024)
    order = {"status": "open"}
    for coi in range(1024):
        cache.put(coi, order)
    counter = iter(range(1024, 10**12))

    def run() -> None:
        put = cache.put
        for _ in range(1000):
            put(next(counter), order)

    benchmark(run)
    per_call(benchmark, 1000)
    assert len(cache) == 1024


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="coi_cache.get (hit)")
def test_coi_cache_get(benchmark: Any, m: ModuleType) -> None:
    cache = m.CoiCache(65536)
    for coi in range(1, 10_001):
        cache.put(coi, {"coi": coi})
    assert benchmark(cache.get, 5_000) == {"coi": 5_000}


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="coi_cache.apply_orders (3 orders)")
def test_coi_cache_apply_orders(benchmark: Any, m: ModuleType) -> None:
    cache = m.CoiCache(65536)
    assert benchmark(cache.apply_orders, ORDERS) == 2


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="limiter.try_acquire x1000 (rolling)")
def test_limiter_try_acquire(benchmark: Any, m: ModuleType) -> None:
    limiter = m.WeightLimiter(24_000)
    clock = [0.0]

    def run() -> None:
        acquire = limiter.try_acquire
        now = clock[0]
        for _ in range(1000):
            now += 0.01
            acquire(6, now)
        clock[0] = now

    benchmark(run)
    per_call(benchmark, 1000)


@pytest.mark.parametrize("m", IMPLS)
@pytest.mark.benchmark(group="limiter.wait_time (saturated, 4000 events)")
def test_limiter_wait_time(benchmark: Any, m: ModuleType) -> None:
    limiter = m.WeightLimiter(24_000)
    for i in range(4000):
        limiter.try_acquire(6, i * 0.001)
    assert benchmark(limiter.wait_time, 6_000, 4.0) > 0
