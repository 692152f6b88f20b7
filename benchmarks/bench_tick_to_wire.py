"""Tick to wire: from the `create_limit_order()` call to the frame's bytes handed to the socket.

A real dealer (defaults: WebSocket, NativeSigner with its nonce pool) against a real verifying
local node in its own process. Each round is `create_limit_order` + `flush()`; the clock stops
when the dealer's WebSocket transport's `send` (picows: frame it, `write` to the socket) has
returned, read by a thin pass-through around the connection's transport (the real send runs).
The rest of the round (the node's reply) is the order-to-acceptance figure of bench_dealer.py.
The pool is the dealer's default (64 pairs), refilled by its thread while replies are awaited.

Rows: native signer with the pool, without it (`nonce_pool=0`), and the Go library (SdkSigner).
`breakdown` splits the pooled path by timestamps at the seams of the send path: validate +
queue (`create_limit_order`), flush to signing (plan, lane, nonces), sign (the dealer's
`_sign_chunk`: the signer's job of the rows checked at enqueue, signed inline; an older tree's
`asign_many`), frame
encode (`encode_sendtx_batch`), limiter and request bookkeeping, and the socket write. The
seams' own wrappers add ~0.2 µs each (that run only). p50/p99 in µs go to `extra_info`.

    python -m pytest benchmarks/bench_tick_to_wire.py --benchmark-only -s
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import lighterfast.dealer.send as send_module
from setup_common import new_loop, node_in_process

ROUNDS = int(os.environ.get("LIGHTERFAST_BENCH_ROUNDS", "300"))
WARMUP = 20
GROUP = "tick-to-wire"
_now = time.perf_counter_ns


@pytest.fixture(scope="module")
def node_info() -> Iterator[dict[str, Any]]:
    with node_in_process("fast", accounts=4) as info:
        yield info


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = new_loop()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()


class _TimedTransport:
    """Pass-through around the picows transport: records when `send` returned."""

    def __init__(self, real: Any, marks: dict[str, int]) -> None:
        self._real = real
        self._marks = marks

    def send(self, *args: Any) -> None:
        self._marks["write_start"] = _now()
        self._real.send(*args)
        self._marks["wire"] = _now()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def _make(info: dict[str, Any], slot: int, which: str) -> Any:
    from lighterfast import DealerConfig, LighterDealer
    from lighterfast.signing import NativeSigner

    acc, key, private = info["accounts"][slot]
    cfg = DealerConfig(
        base_url=info["base_url"], account_index=acc, api_key_index=key,
        api_key_private_key=private, symbol="ETH", standard_account=False,
        signer="sdk" if which == "sdk" else "native",
    )  # fmt: skip
    signer = None
    if which == "native_no_pool":
        signer = await NativeSigner.create(acc, {key: private}, base_url=cfg.base_url, nonce_pool=0)
    dealer = await LighterDealer.create(cfg, signer=signer)
    assert dealer._ws_usable()
    return dealer


def _percentiles(samples: list[float]) -> tuple[float, float]:
    data = sorted(samples)
    return statistics.median(data), data[min(len(data) - 1, int(len(data) * 0.99))]


def _pool_stats(benchmark: Any, dealer: Any) -> None:
    """The pool's counters after the run (misses: signatures made without a ready pair)."""
    stats = getattr(dealer.signer, "nonce_pool", None)
    if stats is not None:
        benchmark.extra_info["pool"] = stats


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("which", ["native_pool", "native_no_pool", "sdk"])
def test_tick_to_wire(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any], which: str
) -> None:
    slot = ["native_pool", "native_no_pool", "sdk"].index(which)
    dealer = loop.run_until_complete(_make(node_info, slot, which))
    marks: dict[str, int] = {}
    ws = dealer._ws
    rng = random.Random(slot)
    samples: list[float] = []

    async def one() -> None:
        if not isinstance(ws._transport, _TimedTransport):  # (re)connected: wrap again
            ws._transport = _TimedTransport(ws._transport, marks)
        t0 = _now()
        await dealer.create_limit_order(round(rng.uniform(1000, 1999), 2), 0.01)
        results = await dealer.flush()
        assert results[0]["accepted"], results
        samples.append((marks["wire"] - t0) / 1000)

    def round_() -> None:
        loop.run_until_complete(one())

    try:
        if getattr(benchmark, "disabled", False):
            benchmark.pedantic(round_, rounds=1, iterations=1)
            return
        for _ in range(WARMUP):
            round_()
        samples.clear()
        benchmark.pedantic(round_, rounds=ROUNDS, iterations=1)
        p50, p99 = _percentiles(samples)
        benchmark.extra_info.update(
            tick_to_wire_p50_us=round(p50, 1), tick_to_wire_p99_us=round(p99, 1)
        )
        _pool_stats(benchmark, dealer)
        print(f"\ntick-to-wire {which}: p50 {p50:.1f} us, p99 {p99:.1f} us")
    finally:
        loop.run_until_complete(dealer.aclose())


def _wrap_async(
    obj: Any, name: str, marks: dict[str, int], start: str, end: str
) -> Callable[[], None]:
    real = getattr(obj, name)

    async def timed(*args: Any, **kwargs: Any) -> Any:
        marks[start] = _now()
        try:
            return await real(*args, **kwargs)
        finally:
            marks[end] = _now()

    setattr(obj, name, timed)
    return lambda: setattr(obj, name, real)


@pytest.mark.benchmark(group=GROUP + "-breakdown")
def test_breakdown(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any]
) -> None:
    """Where the pooled path's microseconds go, p50 of each segment (µs)."""
    dealer = loop.run_until_complete(_make(node_info, 3, "native_pool"))
    marks: dict[str, int] = {}
    ws = dealer._ws
    rng = random.Random(9)
    real_encode = send_module.encode_sendtx_batch

    def timed_encode(*args: Any, **kwargs: Any) -> bytes:
        marks["encode_start"] = _now()
        frame = real_encode(*args, **kwargs)
        marks["encode_end"] = _now()
        return frame

    if hasattr(dealer, "_sign_chunk"):  # this tree; an older one signed in `asign_many`
        undo_sign = _wrap_async(dealer, "_sign_chunk", marks, "sign_start", "sign_end")
    else:
        undo_sign = _wrap_async(dealer.signer, "asign_many", marks, "sign_start", "sign_end")
    send_module.encode_sendtx_batch = timed_encode  # type: ignore[assignment]
    segments: dict[str, list[float]] = {
        "validate_queue": [], "flush_to_sign": [], "sign": [], "limiter_to_encode": [],
        "encode": [], "request_to_write": [], "write": [], "total": [],
    }  # fmt: skip

    async def one() -> None:
        if not isinstance(ws._transport, _TimedTransport):
            ws._transport = _TimedTransport(ws._transport, marks)
        t0 = _now()
        await dealer.create_limit_order(round(rng.uniform(1000, 1999), 2), 0.01)
        t1 = _now()
        results = await dealer.flush()
        assert results[0]["accepted"], results
        m = marks
        for name, a, b in (
            ("validate_queue", t0, t1), ("flush_to_sign", t1, m["sign_start"]),
            ("sign", m["sign_start"], m["sign_end"]),
            ("limiter_to_encode", m["sign_end"], m["encode_start"]),
            ("encode", m["encode_start"], m["encode_end"]),
            ("request_to_write", m["encode_end"], m["write_start"]),
            ("write", m["write_start"], m["wire"]), ("total", t0, m["wire"]),
        ):  # fmt: skip
            segments[name].append((b - a) / 1000)

    try:
        if getattr(benchmark, "disabled", False):
            benchmark.pedantic(lambda: loop.run_until_complete(one()), rounds=1, iterations=1)
            return
        for _ in range(WARMUP):
            loop.run_until_complete(one())
        for values in segments.values():
            values.clear()
        benchmark.pedantic(
            lambda: loop.run_until_complete(one()),
            rounds=ROUNDS,
            iterations=1,
        )
        line = []
        for name, values in segments.items():
            p50, p99 = _percentiles(values)
            benchmark.extra_info[f"{name}_p50_us"] = round(p50, 2)
            benchmark.extra_info[f"{name}_p99_us"] = round(p99, 2)
            line.append(f"{name} {p50:.2f}")
        _pool_stats(benchmark, dealer)
        print("\nbreakdown p50 (us): " + ", ".join(line))
    finally:
        send_module.encode_sendtx_batch = real_encode  # type: ignore[assignment]
        undo_sign()
        loop.run_until_complete(dealer.aclose())
