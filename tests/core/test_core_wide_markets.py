"""64-bit market ids in the core: OrderBook and the raw frame scanner, compiled and pure.

Market ids above the old 12-bit band (4095, 4098, 40000, 2^40, up to 2^48-1) must route and
apply exactly like small ones, and a channel that only shares a prefix with the book's own
(`order_book:409` vs `order_book:4098`) must never be taken for it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lighterfast.core import _core, _core_py

WIDE = (4095, 4098, 40000, 2**40, 2**48 - 1)


@pytest.fixture(params=[_core, _core_py], ids=["compiled", "pure"])
def m(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


def delta(market: int | str, nonce: int, begin: int, bids: list[Any]) -> bytes:
    return orjson.dumps(
        {
            "type": "update/order_book",
            "channel": f"order_book:{market}",
            "offset": 1,
            "order_book": {"asks": [], "bids": bids, "nonce": nonce, "begin_nonce": begin},
        }
    )


@pytest.mark.parametrize("market", WIDE)
def test_a_wide_market_book_takes_its_own_frames(m: ModuleType, market: int) -> None:
    book = m.OrderBook(market, 2, 4)
    assert book.market_index == market and f"market_index={market}" in repr(book)
    assert book.apply_snapshot({"asks": [], "bids": [{"price": "9.00", "size": "1"}], "nonce": 5})
    payload = delta(market, 6, 5, [{"price": "9.50", "size": "2"}])
    assert m.order_book_market(payload) == market
    assert book.apply_update_raw(payload) == 1
    assert book.bids_int(5) == [(950, 20000), (900, 10000)]
    assert book.apply_update_raw(payload.decode()) == 2  # a replay, as text


@pytest.mark.parametrize(
    "other", ["409", "40980", "04098", "4097", "4098 ", "4098.0", "+4098", "-4098"]
)
def test_a_prefix_or_neighbour_channel_is_declined(m: ModuleType, other: str) -> None:
    book = m.OrderBook(4098, 2, 4)
    book.apply_snapshot({"asks": [], "bids": [], "nonce": 5})
    assert book.apply_update_raw(delta(other, 6, 5, [{"price": "1.00", "size": "1"}])) == -1
    assert book.nonce == 5 and book.bids_int(5) == []


def test_routing_hint_digits(m: ModuleType) -> None:
    assert m.order_book_market(delta(2**48 - 1, 1, 0, [])) == 2**48 - 1
    assert m.order_book_market(delta(10**18 - 1, 1, 0, [])) == 10**18 - 1  # 18 digits
    assert m.order_book_market(delta(10**18, 1, 0, [])) == -1  # 19 digits: not a hint
    assert m.order_book_market(delta("", 1, 0, [])) == -1
    assert m.order_book_market(delta("40000x", 1, 0, [])) == -1


def test_market_index_bounds_match(m: ModuleType) -> None:
    assert m.OrderBook(2**63 - 1, 2, 4).market_index == 2**63 - 1
    for bad, err in ((-1, ValueError), (2**63, ValueError), (True, TypeError), ("7", TypeError)):
        with pytest.raises(err, match="market_index"):
            m.OrderBook(bad, 2, 4)


def _outcome(mod: ModuleType, *args: Any) -> tuple[Any, ...]:
    try:
        return ("ok", mod.OrderBook(*args).market_index)
    except Exception as exc:  # compare failures too
        return ("err", type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=0, max_value=2**48 - 1).map(str),
        st.text(alphabet="0123456789", min_size=0, max_size=21),
        st.text(alphabet="0123456789 +-x:\u0661", max_size=8),
    )
)
def test_twins_agree_on_channel_suffixes(suffix: str) -> None:
    payload = delta(suffix, 1, 0, [])
    assert _core.order_book_market(payload) == _core_py.order_book_market(payload)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.booleans()))
def test_twins_agree_on_market_index(market: int) -> None:
    assert _outcome(_core, market, 2, 4) == _outcome(_core_py, market, 2, 4)
