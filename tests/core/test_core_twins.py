"""Property tests: the compiled core and its pure-Python twin, driven by the same random
operation sequences, must give identical results (values, exceptions and messages)."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lighterfast.core import _core, _core_py
from lighterfast.protocol import MAX_BASE_AMOUNT, MAX_PRICE

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(fn: Any, *args: Any) -> tuple[Any, ...]:
    """A call's result, or its exception type and message, as one comparable value."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the point is to compare every failure too
        return ("err", type(exc).__name__, str(exc))


# --- Scale ------------------------------------------------------------------------------------

DECIMAL_TEXT = st.from_regex(
    r"\s?[+-]?[0-9]{0,12}(\.[0-9]{0,22})?([eE][+-]?[0-9]{1,4})?\s?", fullmatch=True
)
NOISE_TEXT = st.text(alphabet="0123456789.+-eEnaifNAIFsty _\t", max_size=14)
SPECIAL_TEXT = st.sampled_from(
    ["nan", "-nan", "+inf", "Infinity", "-INFINITY", "sNaN", "+-inf", " inf\n", "in", "nanx"]
)
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-9, max_value=1e12),
    # floats that are (or are 1 ulp from) k / 10**d: the compiled fast path's territory
    st.builds(
        lambda k, d, ulps: math.nextafter(k / 10**d, ulps * 1e300),
        st.integers(min_value=1, max_value=10**16),
        st.integers(min_value=0, max_value=18),
        st.sampled_from([0, 0, -1, 1]),
    ),
    st.integers(min_value=-(10**22), max_value=10**22),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=Decimal("1e-20"), max_value=Decimal("1e13"), places=None),
    DECIMAL_TEXT,
    NOISE_TEXT,
    SPECIAL_TEXT,
    st.booleans(),
    st.none(),
    st.sampled_from([b"1", [1], 1j]),
)
ROUNDING = st.sampled_from(["nearest", "up", "down", "half-even", None])
DECIMALS = st.integers(min_value=0, max_value=18)


@SETTINGS
@given(DECIMALS, DECIMALS, st.lists(st.tuples(VALUES, ROUNDING), min_size=1, max_size=8))
def test_scale_to_int_twins(price_decimals: int, size_decimals: int, calls: list[Any]) -> None:
    fast, pure = (
        _core.Scale(price_decimals, size_decimals),
        _core_py.Scale(price_decimals, size_decimals),
    )
    for value, rounding in calls:
        assert outcome(fast.price_to_int, value, rounding) == outcome(
            pure.price_to_int, value, rounding
        )
        assert outcome(fast.size_to_int, value, rounding) == outcome(
            pure.size_to_int, value, rounding
        )


WIRE_TEXT = st.one_of(
    st.from_regex(r"[0-9]{1,22}(\.[0-9]{0,22})?", fullmatch=True),
    st.text(alphabet="0123456789.-+e \u0661", max_size=12),
    st.integers(),
    st.none(),
)
INTS = st.one_of(
    st.integers(min_value=-5, max_value=2**64), st.integers(), st.booleans(), st.floats()
)


@SETTINGS
@given(DECIMALS, DECIMALS, st.lists(st.tuples(WIRE_TEXT, INTS), min_size=1, max_size=8))
def test_scale_wire_twins(price_decimals: int, size_decimals: int, calls: list[Any]) -> None:
    fast, pure = (
        _core.Scale(price_decimals, size_decimals),
        _core_py.Scale(price_decimals, size_decimals),
    )
    for text, number in calls:
        for name in ("parse_price", "parse_size"):
            assert outcome(getattr(fast, name), text) == outcome(getattr(pure, name), text)
        for name in ("format_price", "format_size", "price_to_float", "size_to_float"):
            assert outcome(getattr(fast, name), number) == outcome(getattr(pure, name), number)


ROUNDING_MODES = {
    "nearest": decimal.ROUND_HALF_UP,
    "up": decimal.ROUND_CEILING,
    "down": decimal.ROUND_FLOOR,
}


@SETTINGS
@given(
    st.integers(min_value=0, max_value=10),
    st.one_of(
        st.decimals(min_value=Decimal("1e-14"), max_value=Decimal("1e11"), places=None),
        st.floats(min_value=1e-14, max_value=1e11),
        st.from_regex(r"[0-9]{1,10}\.[0-9]{1,14}", fullmatch=True),
    ),
    st.sampled_from(sorted(ROUNDING_MODES)),
)
def test_scale_matches_decimal_oracle(decimals: int, value: Any, rounding: str) -> None:
    """Independent of the twins: Decimal arithmetic on the exact (shortest-repr) value."""
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    with decimal.localcontext() as ctx:
        ctx.prec = 200
        expected = (exact * 10**decimals).to_integral_value(rounding=ROUNDING_MODES[rounding])
    for module in (_core, _core_py):
        scale = module.Scale(decimals, decimals)
        for method, limit in (
            (scale.price_to_int, MAX_PRICE),
            (scale.size_to_int, MAX_BASE_AMOUNT),
        ):
            got = outcome(method, value, rounding)
            if 1 <= expected <= limit:
                assert got == ("ok", int(expected))
            else:
                assert got[0] == "err" and got[1] == "ValueError"


# --- CoiCache ---------------------------------------------------------------------------------

STATUSES = st.sampled_from(
    ["open", "pending", "in-progress", "filled", "canceled", "canceled-self-trade", "expired"]
)
KEYS = st.integers(min_value=0, max_value=12)
ORDER = st.one_of(
    st.builds(lambda coi, status: {"client_order_index": coi, "status": status}, KEYS, STATUSES),
    st.sampled_from(
        [
            {"status": "open"},
            {"client_order_index": 1},
            {"client_order_index": "1", "status": "open"},
            {"client_order_index": 1, "status": None},
            [1, "open"],
        ]
    ),
)
CACHE_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"), st.one_of(KEYS, st.sampled_from([True, "3", 2.0])), st.integers()
        ),
        st.tuples(st.just("get"), KEYS),
        st.tuples(st.just("pop"), KEYS),
        st.tuples(st.just("contains"), KEYS),
        st.tuples(
            st.just("apply"),
            st.one_of(st.lists(ORDER, max_size=6), st.lists(ORDER, max_size=3).map(tuple)),
        ),
        st.tuples(st.just("clear")),
    ),
    max_size=120,
)


def run_cache_op(cache: Any, op: tuple[Any, ...]) -> tuple[Any, ...]:
    kind = op[0]
    if kind == "put":
        return outcome(cache.put, op[1], op[2])
    if kind == "get":
        return outcome(cache.get, op[1], "missing")
    if kind == "pop":
        return outcome(cache.pop, op[1])
    if kind == "contains":
        return ("ok", op[1] in cache)
    if kind == "apply":
        return outcome(cache.apply_orders, op[1])
    return outcome(cache.clear)


@SETTINGS
@given(st.integers(min_value=1, max_value=8), CACHE_OPS)
def test_coi_cache_twins(capacity: int, ops: list[tuple[Any, ...]]) -> None:
    fast, pure = _core.CoiCache(capacity), _core_py.CoiCache(capacity)
    for op in ops:
        assert run_cache_op(fast, op) == run_cache_op(pure, op), op
        assert fast.items() == pure.items()
        assert len(fast) == len(pure) <= capacity
        assert fast.values() == pure.values() and fast.keys() == pure.keys()


# --- WeightLimiter ----------------------------------------------------------------------------

LIMITER_OPS = st.lists(
    st.tuples(
        st.sampled_from(["try_acquire", "wait_time", "available"]),
        st.integers(min_value=-1, max_value=35),
        st.one_of(
            st.sampled_from([0.0, 0.25, 1.0, 30.0, 59.75, 60.0, -3.0, -60.0]),
            st.floats(min_value=-10, max_value=130, allow_nan=False),
        ),
    ),
    max_size=80,
)


@SETTINGS
@given(
    st.integers(min_value=1, max_value=30),
    st.sampled_from([60.0, 1.0, 0.25, 7.5]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    LIMITER_OPS,
)
def test_weight_limiter_twins(capacity: int, window: float, start: float, ops: list[Any]) -> None:
    fast, pure = _core.WeightLimiter(capacity, window), _core_py.WeightLimiter(capacity, window)
    now = start
    for kind, weight, step in ops:
        now += step  # mostly forward, sometimes back: both must clamp identically
        if kind == "available":
            assert outcome(fast.available, now) == outcome(pure.available, now)
        else:
            got = outcome(getattr(fast, kind), weight, now)
            assert got == outcome(getattr(pure, kind), weight, now)
            if kind == "wait_time" and got[0] == "ok":
                assert got[1] >= 0.0
        assert fast.available(now) == pure.available(now)
        assert 0 <= fast.available(now) <= capacity


# --- OrderBook --------------------------------------------------------------------------------


def spell(value: int, decimals: int, variant: int) -> str:
    """A wire spelling of `value` at `decimals`: canonical, trimmed, padded or broken."""
    text = str(value).rjust(decimals + 1, "0")
    canonical = f"{text[:-decimals]}.{text[-decimals:]}" if decimals else text
    if variant == 1 and decimals:
        trimmed = canonical.rstrip("0")
        return trimmed + "0" if trimmed.endswith(".") else trimmed
    if variant == 2:
        return canonical + ("00" if decimals else ".00")
    if variant == 3:
        return canonical + ("01" if decimals else ".01")  # too many decimals
    if variant == 4:
        return "-" + canonical
    return canonical


LEVEL = st.one_of(
    st.tuples(
        st.integers(min_value=1, max_value=40),
        st.one_of(st.just(0), st.integers(min_value=0, max_value=5000)),
        st.sampled_from([0, 0, 0, 1, 2]),
    ),
    st.tuples(
        st.integers(min_value=0, max_value=40),
        st.integers(min_value=0, max_value=50),
        st.sampled_from([0, 1, 2, 3, 4]),
    ),
    st.sampled_from(["not-a-dict", {"price": "1"}, {"price": 1, "size": "1"}]),
)
BOOK_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("snapshot"),
            st.lists(LEVEL, max_size=8),
            st.lists(LEVEL, max_size=8),
            st.integers(min_value=0, max_value=10**6),
        ),
        st.tuples(
            st.just("update"),
            st.lists(LEVEL, max_size=5),
            st.lists(LEVEL, max_size=5),
            st.integers(min_value=1, max_value=50),
            st.booleans(),
        ),
        st.tuples(st.just("mark_stale")),
    ),
    max_size=40,
)


def make_levels(raw: list[Any], price_decimals: int, size_decimals: int) -> list[Any]:
    out: list[Any] = []
    for item in raw:
        if isinstance(item, tuple):
            price, size, variant = item
            out.append(
                {
                    "price": spell(price, price_decimals, variant),
                    "size": spell(size, size_decimals, variant),
                }
            )
        else:
            out.append(item)
    return out


def book_state(book: Any) -> tuple[Any, ...]:
    return (
        book.bids_int(1000),
        book.asks_int(1000),
        book.nonce,
        book.is_stale,
        book.best_bid(),
        book.best_ask(),
        book.mid(),
        book.spread(),
        book.bids(3),
        book.asks(3),
        book.bid_levels,
        book.ask_levels,
        repr(book),
    )


@SETTINGS
@given(st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=3), BOOK_OPS)
def test_order_book_twins(price_decimals: int, size_decimals: int, ops: list[Any]) -> None:
    fast = _core.OrderBook(3, price_decimals, size_decimals)
    pure = _core_py.OrderBook(3, price_decimals, size_decimals)
    model: dict[str, dict[int, int]] = {"asks": {}, "bids": {}}
    for op in ops:
        if op[0] == "mark_stale":
            fast.mark_stale()
            pure.mark_stale()
        else:
            asks = make_levels(op[1], price_decimals, size_decimals)
            bids = make_levels(op[2], price_decimals, size_decimals)
            was_stale = pure.is_stale
            if op[0] == "snapshot":
                frame = {"code": 0, "asks": asks, "bids": bids, "nonce": op[3], "begin_nonce": 0}
                got = outcome(fast.apply_snapshot, frame)
                assert got == outcome(pure.apply_snapshot, frame)
                applies = got[0] == "ok"
                if applies:
                    model = {"asks": {}, "bids": {}}
            else:
                begin = pure.nonce if op[4] else pure.nonce + op[3]
                frame = {
                    "code": 0,
                    "asks": asks,
                    "bids": bids,
                    "nonce": pure.nonce + op[3],
                    "begin_nonce": begin,
                }
                got = outcome(fast.apply_update, frame)
                assert got == outcome(pure.apply_update, frame)
                applies = got[0] == "ok" and not was_stale and op[4]
            if applies:  # an independent dict model of the levels
                for side, levels in (("asks", asks), ("bids", bids)):
                    for level in levels:
                        price = int(Decimal(level["price"]) * 10**price_decimals)
                        size = int(Decimal(level["size"]) * 10**size_decimals)
                        if size:
                            model[side][price] = size
                        else:
                            model[side].pop(price, None)
        state = book_state(fast)
        assert state == book_state(pure)
        assert state[0] == sorted(model["bids"].items(), reverse=True)
        assert state[1] == sorted(model["asks"].items())
