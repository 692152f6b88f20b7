"""Realistic `order_book` frames (protocol §4.5/§4.6): a snapshot and a chain of deltas.

Deterministic (seeded). Deltas change about `changes` levels, mostly near the top of the book, as
size changes, deletions (zero size, in either wire spelling) and insertions; the book keeps about
`levels` levels per side, never crosses, and every delta's `begin_nonce` equals the previous nonce.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["BookFrames", "frame_bytes", "make_book_frames"]


def _wire(value: int, decimals: int) -> str:
    """Integer -> wire decimal string with exactly `decimals` decimals."""
    if decimals == 0:
        return str(value)
    text = str(value).rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


@dataclass
class BookFrames:
    """A snapshot frame and its delta frames, plus the integer book they lead to."""

    market_index: int
    price_decimals: int
    size_decimals: int
    snapshot: dict[str, Any]
    updates: list[dict[str, Any]]
    final_bids: dict[int, int] = field(default_factory=dict)
    final_asks: dict[int, int] = field(default_factory=dict)

    @property
    def inner_snapshot(self) -> dict[str, Any]:
        """The `order_book` object of the snapshot (what `OrderBook.apply_snapshot` takes)."""
        return self.snapshot["order_book"]

    @property
    def inner_updates(self) -> list[dict[str, Any]]:
        """The `order_book` objects of the deltas (what `OrderBook.apply_update` takes)."""
        return [frame["order_book"] for frame in self.updates]


def _geometric(rng: random.Random, p: float) -> int:
    """0, 1, 2, ... with P(k) = (1-p)^k p: most changes land near the top of the book."""
    k = 0
    while rng.random() > p:
        k += 1
    return k


def make_book_frames(
    *,
    market_index: int = 0,
    levels: int = 200,
    updates: int = 1000,
    changes: int = 6,
    price_decimals: int = 2,
    size_decimals: int = 4,
    mid_price: float = 3000.0,
    seed: int = 1,
) -> BookFrames:
    """Build a snapshot with `levels` per side and `updates` chained deltas of ~`changes` levels."""
    rng = random.Random(seed)
    price_scale = 10**price_decimals
    mid = round(mid_price * price_scale)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    price = mid - 1
    for _ in range(levels):
        bids[price] = rng.randint(1, 50_000)
        price -= rng.randint(1, 3)
    price = mid + 1
    for _ in range(levels):
        asks[price] = rng.randint(1, 50_000)
        price += rng.randint(1, 3)

    def level(price: int, size: int) -> dict[str, str]:
        if size == 0:
            zero = "0.0" if rng.random() < 0.5 or size_decimals == 0 else _wire(0, size_decimals)
            return {"price": _wire(price, price_decimals), "size": zero}
        return {"price": _wire(price, price_decimals), "size": _wire(size, size_decimals)}

    nonce = 18_032_383_898
    offset = 415_806
    time_us = 1_785_358_812_048_570
    channel = f"order_book:{market_index}"

    def frame(kind: str, book: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": f"{kind}/order_book",
            "channel": channel,
            "timestamp": time_us // 1000 + 10,
            "offset": offset,
            "last_updated_at": time_us,
            "order_book": book,
        }

    snapshot_asks = [level(p, s) for p, s in asks.items()]
    snapshot_bids = [level(p, s) for p, s in bids.items()]
    rng.shuffle(snapshot_asks)  # "levels are not guaranteed sorted"
    rng.shuffle(snapshot_bids)
    snapshot = frame(
        "subscribed",
        {
            "code": 0,
            "asks": snapshot_asks,
            "bids": snapshot_bids,
            "offset": offset,
            "nonce": nonce,
            "begin_nonce": 0,
            "last_updated_at": time_us,
        },
    )
    deltas = []
    for _ in range(updates):
        changed: dict[str, dict[int, int]] = {"asks": {}, "bids": {}}
        for _ in range(max(1, changes + rng.randint(-1, 2))):
            side_name = "bids" if rng.random() < 0.5 else "asks"
            side, other = (bids, asks) if side_name == "bids" else (asks, bids)
            ordered = sorted(side, reverse=side_name == "bids")
            kind = rng.random()
            if kind < 0.6:
                target = ordered[min(_geometric(rng, 0.15), len(ordered) - 1)]
                side[target] = rng.randint(1, 50_000)
                changed[side_name][target] = side[target]
            elif len(side) >= levels:  # structural change: delete or insert, holding ~levels
                target = ordered[min(_geometric(rng, 0.15), len(ordered) - 1)]
                del side[target]
                changed[side_name][target] = 0
            else:
                depth = _geometric(rng, 0.1)
                if side_name == "bids":
                    target = min(other) - 1 - depth
                else:
                    target = max(other) + 1 + depth
                side[target] = rng.randint(1, 50_000)
                changed[side_name][target] = side[target]
        begin_nonce = nonce
        nonce += rng.randint(1, 120)
        offset += rng.randint(1, 7)
        time_us += 50_000 + rng.randint(0, 999)
        deltas.append(
            frame(
                "update",
                {
                    "code": 0,
                    "asks": [level(p, s) for p, s in changed["asks"].items()],
                    "bids": [level(p, s) for p, s in changed["bids"].items()],
                    "offset": offset,
                    "nonce": nonce,
                    "begin_nonce": begin_nonce,
                    "last_updated_at": time_us,
                },
            )
        )
    return BookFrames(
        market_index=market_index,
        price_decimals=price_decimals,
        size_decimals=size_decimals,
        snapshot=snapshot,
        updates=deltas,
        final_bids=dict(bids),
        final_asks=dict(asks),
    )


def frame_bytes(frames: BookFrames) -> list[bytes]:
    """The snapshot then every delta as the JSON bytes a WebSocket would deliver."""
    return [orjson.dumps(frames.snapshot)] + [orjson.dumps(f) for f in frames.updates]
