"""WebSocket frame path: order_book update frames/s for lighterfast, lighter-sdk and ccxt pro.

Same frames for all three, built once: an ETH-like book (price 2 / size 4 decimals) with 200
levels per side, then a chain of `update/order_book` frames with ~6 level changes each
(changes, inserts, zero-size deletes; begin_nonce chained). lighterfast is timed through
`WsInfo.feed_raw` (compiled raw-bytes book scanner with gap checking; also timed with the
scanner off: orjson parse, routing, `apply_update`); lighter-sdk through
`WsClient.on_message` (constructed without connecting); ccxt through `lighter().handle_message`
after `json.loads` (what its client does per frame), with the book primed by the snapshot.

    python -m pytest benchmarks/bench_ws.py --benchmark-columns=min,median,mean,rounds
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

LEVELS = 200
CHANGES = 6
N_FRAMES = 2000
MARKET = 0
PRICE_DECIMALS = 2
SIZE_DECIMALS = 4


def make_frames(
    n_frames: int = N_FRAMES, levels: int = LEVELS, changes: int = CHANGES, seed: int = 7
) -> tuple[bytes, list[bytes]]:
    """(snapshot frame, update frames): a valid, uncrossed, nonce-chained book session."""
    rng = random.Random(seed)
    mid = 300_000  # 3000.00 in price ticks
    bids = {mid - 1 - i * 2: rng.randint(1, 50_000) for i in range(levels)}
    asks = {mid + 1 + i * 2: rng.randint(1, 50_000) for i in range(levels)}

    def px(p: int) -> str:
        return f"{p / 100:.2f}"

    def sz(s: int) -> str:
        return f"{s / 10_000:.4f}"

    nonce = 1_000_000
    offset = 50_000
    snapshot = orjson.dumps(
        {
            "channel": f"order_book:{MARKET}",
            "offset": offset,
            "order_book": {
                "code": 0,
                "asks": [{"price": px(p), "size": sz(s)} for p, s in asks.items()],
                "bids": [{"price": px(p), "size": sz(s)} for p, s in bids.items()],
                "offset": offset,
                "nonce": nonce,
                "begin_nonce": 0,
                "last_updated_at": 1_785_358_812_048_570,
            },
            "timestamp": 1_785_358_812_058,
            "type": "subscribed/order_book",
        }
    )
    frames: list[bytes] = []
    for i in range(n_frames):
        side_changes: dict[str, list[dict[str, str]]] = {"asks": [], "bids": []}
        for _ in range(changes):
            is_ask = rng.random() < 0.5
            book = asks if is_ask else bids
            step = 1 if is_ask else -1
            roll = rng.random()
            if roll < 0.6:  # size change near the top of the book
                prices = sorted(book, reverse=not is_ask)
                p = prices[min(len(prices) - 1, int(rng.expovariate(0.15)))]
                s = rng.randint(1, 50_000)
                book[p] = s
            elif len(book) >= levels:  # delete a level
                prices = sorted(book, reverse=not is_ask)
                p = prices[min(len(prices) - 1, int(rng.expovariate(0.1)))]
                del book[p]
                s = 0
            else:  # insert into a free slot of the price grid (asks above mid, bids below)
                slot = min(int(rng.expovariate(0.05)), int(levels * 1.5))
                p = mid + step * (1 + 2 * slot)
                while p in book:
                    p += 2 * step
                s = rng.randint(1, 50_000)
                book[p] = s
            side_changes["asks" if is_ask else "bids"].append({"price": px(p), "size": sz(s)})
        begin, nonce = nonce, nonce + rng.randint(1, 60)
        offset += rng.randint(1, 5)
        frames.append(
            orjson.dumps(
                {
                    "channel": f"order_book:{MARKET}",
                    "offset": offset,
                    "order_book": {
                        "code": 0,
                        "asks": side_changes["asks"],
                        "bids": side_changes["bids"],
                        "offset": offset,
                        "nonce": nonce,
                        "begin_nonce": begin,
                        "last_updated_at": 1_785_358_812_048_570 + i * 50_000,
                    },
                    "timestamp": 1_785_358_812_058 + i * 50,
                    "type": "update/order_book",
                }
            )
        )
    return snapshot, frames


SNAPSHOT, FRAMES = make_frames()


def _run_all(feed: Callable[[Any], None], frames: list[Any]) -> None:
    for frame in frames:
        feed(frame)


def _lighterfast() -> tuple[Callable[[bytes], None], Any]:
    from lighterfast.ws import WsInfo

    ws = WsInfo.replay(market_id=MARKET, price_decimals=PRICE_DECIMALS, size_decimals=SIZE_DECIMALS)
    return ws.feed_raw, ws


def _reset_lighterfast(ws: Any) -> None:
    ws.feed_raw(SNAPSHOT)


def test_frames_are_a_valid_chain() -> None:
    """The generated session applies cleanly: no gap, no cross, book still deep."""
    feed, ws = _lighterfast()
    feed(SNAPSHOT)
    _run_all(feed, FRAMES)
    book = ws.get_order_book(MARKET)
    assert not book.is_stale and ws.stats.book_gaps == 0 and ws.stats.malformed == 0
    assert book.bid_levels > LEVELS // 2 and book.ask_levels > LEVELS // 2


@pytest.mark.benchmark(group="ws-frame-path")
def test_lighterfast_feed_raw(benchmark: Any) -> None:
    feed, ws = _lighterfast()
    benchmark.extra_info["frames"] = len(FRAMES)
    benchmark.pedantic(
        _run_all, args=(feed, FRAMES), setup=lambda: _reset_lighterfast(ws), rounds=30, iterations=1
    )
    assert ws.stats.book_gaps == 0 and not ws.get_order_book(MARKET).is_stale


@pytest.mark.benchmark(group="ws-frame-path")
def test_lighterfast_feed_raw_generic_path(benchmark: Any) -> None:
    """The same, with the raw-bytes book scanner off: orjson parse + routing + apply_update."""
    feed, ws = _lighterfast()
    ws._raw_path, ws._raw_books = False, ()
    benchmark.extra_info["frames"] = len(FRAMES)
    benchmark.pedantic(
        _run_all, args=(feed, FRAMES), setup=lambda: _reset_lighterfast(ws), rounds=30, iterations=1
    )
    assert ws.stats.book_gaps == 0 and not ws.get_order_book(MARKET).is_stale


@pytest.mark.benchmark(group="ws-frame-path")
def test_lighter_sdk_wsclient_on_message(benchmark: Any) -> None:
    from lighter.ws_client import WsClient

    client = WsClient(
        ws_url="ws://127.0.0.1:9/stream",
        order_book_ids=[MARKET],
        on_order_book_update=None,
        on_account_update=None,
    )
    snap = SNAPSHOT.decode()
    texts = [f.decode() for f in FRAMES]
    benchmark.extra_info["frames"] = len(texts)

    def setup() -> None:
        client.on_message(None, snap)

    benchmark.pedantic(
        _run_all,
        args=(lambda m: client.on_message(None, m), texts),
        setup=setup,
        rounds=3,
        iterations=1,
    )
    assert len(client.order_book_states[str(MARKET)]["asks"]) > LEVELS // 2


@pytest.mark.benchmark(group="ws-frame-path")
def test_orjson_loads_only_ceiling(benchmark: Any) -> None:
    """Context, not a peer: the JSON parse alone, the floor of any parse-once frame path."""
    loads = orjson.loads
    benchmark.extra_info["frames"] = len(FRAMES)
    benchmark.pedantic(_run_all, args=(loads, FRAMES), rounds=30, iterations=1)


class _CcxtClient:
    """The two methods ccxt's handlers call on a client (no socket)."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {}

    def resolve(self, result: Any, message_hash: str) -> None:
        return None

    def reject(self, error: Any, message_hash: str | None = None) -> None:
        raise error


@pytest.mark.benchmark(group="ws-frame-path")
def test_ccxt_pro_lighter_handle_message(benchmark: Any) -> None:
    import ccxt.pro

    exchange = ccxt.pro.lighter()
    client = _CcxtClient()
    snap = SNAPSHOT.decode()
    texts = [f.decode() for f in FRAMES]
    benchmark.extra_info["frames"] = len(texts)

    def feed(text: str) -> None:
        exchange.handle_message(client, json.loads(text))

    def setup() -> None:
        feed(snap)

    benchmark.pedantic(_run_all, args=(feed, texts), setup=setup, rounds=10, iterations=1)
    books = list(exchange.orderbooks.values())
    assert books and len(books[0]["asks"]) > LEVELS // 2
