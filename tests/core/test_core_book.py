"""OrderBook: L2 book from order_book snapshots and deltas (protocol §4.5/§4.6), both twins."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lighterfast.core import _core, _core_py

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from frames import make_book_frames


@pytest.fixture(params=[_core, _core_py], ids=["compiled", "pure"])
def m(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


def lv(price: str, size: str) -> dict[str, str]:
    return {"price": price, "size": size}


def ob(asks: list[Any], bids: list[Any], nonce: int, begin_nonce: int = 0) -> dict[str, Any]:
    return {
        "code": 0,
        "asks": asks,
        "bids": bids,
        "offset": 1,
        "nonce": nonce,
        "begin_nonce": begin_nonce,
        "last_updated_at": 0,
    }


def state(book: Any) -> tuple[Any, ...]:
    return (book.bids_int(10_000), book.asks_int(10_000), book.nonce, book.is_stale)


@pytest.fixture
def book(m: ModuleType) -> Any:
    b = m.OrderBook(0, 2, 4)
    snapshot = ob(
        [lv("3001.00", "1.0000"), lv("3000.50", "0.5"), lv("3002", "2")],
        [lv("2999.00", "0.1000"), lv("3000.00", "3")],
        nonce=100,
    )
    assert b.apply_snapshot(snapshot) is True
    return b


def test_new_book_is_stale_and_empty(m: ModuleType) -> None:
    b = m.OrderBook(1, 1, 5)
    assert b.is_stale and b.nonce == 0 and b.market_index == 1
    assert (b.price_decimals, b.size_decimals) == (1, 5)
    assert b.best_bid() is None and b.best_ask() is None
    assert b.mid() is None and b.spread() is None and b.bids() == [] and b.asks() == []
    assert b.apply_update(ob([lv("1", "1")], [], nonce=5, begin_nonce=0)) is False
    assert b.asks() == []


def test_snapshot_sorted_best_first(book: Any) -> None:
    assert not book.is_stale and book.nonce == 100
    assert book.best_bid() == (3000.0, 3.0)
    assert book.best_ask() == (3000.5, 0.5)
    assert book.bids() == [(3000.0, 3.0), (2999.0, 0.1)]
    assert book.asks(2) == [(3000.5, 0.5), (3001.0, 1.0)]
    assert book.asks_int(1) == [(300050, 5000)]
    assert book.bids_int(0) == []
    assert book.mid() == 3000.25
    assert book.spread() == 0.5
    assert (book.bid_levels, book.ask_levels) == (2, 3)


def test_update_chain(book: Any) -> None:
    assert book.apply_update(ob([lv("3000.50", "0.0000")], [lv("3000.10", "1")], 130, 100))
    assert book.nonce == 130
    assert book.best_ask() == (3001.0, 1.0)
    assert book.best_bid() == (3000.1, 1.0)
    assert book.apply_update(ob([], [lv("2999.00", "0.2500")], 131, 130))
    assert book.bids() == [(3000.1, 1.0), (3000.0, 3.0), (2999.0, 0.25)]


@pytest.mark.parametrize("zero", ["0", "0.0", "0.0000", "00.00", "0."])
def test_any_zero_spelling_deletes(book: Any, zero: str) -> None:
    assert book.apply_update(ob([lv("3001.00", zero)], [], 101, 100))
    assert book.asks_int() == [(300050, 5000), (300200, 20000)]


def test_delete_absent_level_is_noop(book: Any) -> None:
    before = book.asks_int()
    assert book.apply_update(ob([lv("3005.00", "0.0")], [lv("1.00", "0")], 101, 100))
    assert book.asks_int() == before and book.nonce == 101


def test_gap_marks_stale_and_ignores_deltas(book: Any) -> None:
    before = state(book)
    assert book.apply_update(ob([lv("3001.00", "0")], [], 150, 99)) is False  # gap
    assert book.is_stale and book.nonce == 100
    assert state(book)[:2] == before[:2]  # the gapped delta was not applied
    assert book.apply_update(ob([lv("3001.00", "0")], [], 150, 100)) is False  # stale: ignored
    assert book.asks_int()[1] == (300100, 10000)
    assert book.apply_snapshot(ob([lv("5", "1")], [lv("4", "1")], 7)) is True  # snapshot heals
    assert not book.is_stale and book.asks_int() == [(500, 10000)] and book.nonce == 7
    assert book.apply_update(ob([], [lv("4.5", "2")], 8, 7))


def test_crossed_update_marks_stale(book: Any) -> None:
    assert book.apply_update(ob([], [lv("3000.50", "1")], 101, 100)) is False  # bid == ask
    assert book.is_stale
    assert book.apply_update(ob([], [], 102, 101)) is False


def test_crossed_snapshot_is_stale(m: ModuleType) -> None:
    b = m.OrderBook(0, 2, 4)
    assert b.apply_snapshot(ob([lv("10.00", "1")], [lv("10.01", "1")], 5)) is False
    assert b.is_stale and b.nonce == 5
    assert b.best_bid() == (10.01, 1.0)  # levels stay readable; is_stale says not to trust them
    assert b.spread() == -0.01


def test_mark_stale(book: Any) -> None:
    book.mark_stale()
    assert book.is_stale
    assert book.apply_update(ob([], [], 101, 100)) is False


def test_snapshot_duplicates_and_zero_levels(m: ModuleType) -> None:
    b = m.OrderBook(0, 2, 4)
    snap = ob(
        [lv("1.00", "1"), lv("2.00", "0.0"), lv("1.0", "3"), lv("3", "1"), lv("3.00", "0")], [], 9
    )
    assert b.apply_snapshot(snap)
    assert b.asks_int() == [(100, 30000)]  # last level of a price wins; zeros are not levels


def test_empty_snapshot_and_missing_sides(m: ModuleType) -> None:
    b = m.OrderBook(0, 2, 4)
    assert b.apply_snapshot({"code": 0, "asks": [], "bids": [], "nonce": 0})
    assert not b.is_stale and b.best_bid() is None
    assert b.apply_update({"begin_nonce": 0, "nonce": 4, "asks": None})
    assert b.nonce == 4


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("nope", "order_book must be a dict"),
        ({"asks": [], "bids": [], "nonce": 101}, "order_book has no begin_nonce"),
        ({"asks": [], "bids": [], "begin_nonce": 100}, "order_book has no nonce"),
        (ob([], [], -1, 100), r"order_book.nonce must be an int"),
        ({**ob([], [], 101, 100), "begin_nonce": "100"}, r"order_book.begin_nonce must be an int"),
        ({**ob([], [], 101, 100), "nonce": True}, r"order_book.nonce must be an int"),
        ({**ob([], [], 101, 100), "nonce": 2**63}, r"order_book.nonce must be an int"),
        ({**ob([], [], 101, 100), "asks": {"1": "2"}}, r"order_book.asks must be a list"),
        (ob([lv("3001.00", "1"), ["3002", "1"]], [], 101, 100), r"asks\[1\] must be a dict"),
        (ob([], [{"price": "1"}], 101, 100), r"bids\[0\] needs str price and size"),
        (ob([], [{"price": 1.0, "size": "1"}], 101, 100), r"bids\[0\] needs str price and size"),
        (ob([lv("-1", "1")], [], 101, 100), r"asks\[0\]: price is not a wire decimal string"),
        (ob([lv("1", "1e3")], [], 101, 100), r"asks\[0\]: size is not a wire decimal string"),
        (ob([lv("1.001", "1")], [], 101, 100), r"asks\[0\]: price '1.001' has more than 2"),
        (ob([lv("1", "0.00001")], [], 101, 100), r"asks\[0\]: size '0.00001' has more than 4"),
        (ob([lv("0.00", "1")], [], 101, 100), r"asks\[0\]: price must be > 0"),
        (ob([lv("1", "99999999999999999999")], [], 101, 100), r"asks\[0\]: size .* overflows"),
    ],
)
def test_malformed_update_leaves_book_unchanged(book: Any, frame: Any, message: str) -> None:
    before = state(book)
    with pytest.raises(ValueError, match=message):
        book.apply_update(frame)
    assert state(book) == before


def test_malformed_snapshot_leaves_book_unchanged(book: Any) -> None:
    before = state(book)
    with pytest.raises(ValueError, match=r"bids\[1\]"):
        book.apply_snapshot(ob([lv("7", "1")], [lv("6", "1"), lv("x", "1")], 999))
    assert state(book) == before


def test_malformed_frame_with_gap_raises_first(book: Any) -> None:
    with pytest.raises(ValueError):
        book.apply_update(ob([lv("bad", "1")], [], 200, 1))
    assert not book.is_stale


def test_bad_construction_and_depth(m: ModuleType) -> None:
    with pytest.raises(TypeError, match="market_index must be an int"):
        m.OrderBook("0", 2, 4)
    with pytest.raises(ValueError, match="market_index must be in"):
        m.OrderBook(-1, 2, 4)
    with pytest.raises(ValueError, match="price_decimals"):
        m.OrderBook(0, 19, 4)
    b = m.OrderBook(0, 2, 4)
    with pytest.raises(ValueError, match="n must be >= 0"):
        b.bids(-1)
    with pytest.raises(TypeError, match="n must be an int"):
        b.asks_int(1.5)


def test_repr(book: Any) -> None:
    assert repr(book) == "OrderBook(market_index=0, bids=2, asks=3, nonce=100, stale=False)"


def test_realistic_frame_chain_matches_generator(m: ModuleType) -> None:
    frames = make_book_frames(levels=200, updates=300, seed=7)
    b = m.OrderBook(0, frames.price_decimals, frames.size_decimals)
    assert b.apply_snapshot(frames.inner_snapshot)
    assert (b.bid_levels, b.ask_levels) == (200, 200)
    for update in frames.inner_updates:
        assert b.apply_update(update)
    assert b.bids_int(10_000) == sorted(frames.final_bids.items(), reverse=True)
    assert b.asks_int(10_000) == sorted(frames.final_asks.items())
    assert b.nonce == frames.updates[-1]["order_book"]["nonce"]


def test_large_book_grows(m: ModuleType) -> None:
    b = m.OrderBook(0, 0, 0)
    asks = [lv(str(p), "1") for p in range(5000, 8000)]
    bids = [lv(str(p), "1") for p in range(1, 3001)]
    assert b.apply_snapshot(ob(asks, bids, 1))
    assert (b.bid_levels, b.ask_levels) == (3000, 3000)
    assert b.apply_update(ob([lv(str(p), "0") for p in range(5000, 7999)], [], 2, 1))
    assert b.asks_int() == [(7999, 1)]
    assert b.best_bid() == (3000.0, 1.0)
