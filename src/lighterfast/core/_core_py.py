"""Pure-Python twin of the compiled core (`_core.pyx`): the reference model it must equal.

Selected by `LIGHTERFAST_PURE_PYTHON=1` (see `lighterfast.core`); the property tests drive this
module and the compiled one with the same operations and require identical results.

Decisions (both twins):
* Scale: a float means its shortest repr digits, a str/Decimal its exact decimal text
  (`[+-]digits[.digits][e[+-]digits]`, ASCII whitespace around allowed); "nearest" rounds half
  up; errors are checked in the order rounding, type, syntax/finite, zero, negative, overflow,
  rounds-to-0.
  `parse_*` take exact wire strings (zero allowed, extra decimals only if they are zeros,
  range 0..2^63-1); `format_*` print exactly the market's decimals.
* CoiCache: re-putting a COI refreshes its age (an order still updating is evicted last);
  `get` does not. `apply_orders` validates the whole batch before changing anything.
* WeightLimiter: weight taken at t returns at exactly t + window; a `now` earlier than one
  already seen counts as the latest seen (never refunds, never corrupts the window).
* OrderBook: deltas need begin_nonce == nonce, else stale + False; a crossed (or locked,
  bid >= ask) result after a delta or snapshot marks the book stale and returns False (a missed
  delta); a stale book ignores deltas until the next snapshot, and its levels stay readable.
  Frames are fully validated before any level changes.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson

from lighterfast.protocol import MAX_BASE_AMOUNT, MAX_PRICE, is_terminal_status

__all__ = ["CoiCache", "OrderBook", "Scale", "WeightLimiter", "order_book_market"]

# A delta's nonce advances by the engine events of one ~50 ms batch (tens live, §4.6); a larger
# step is a corrupt frame that would otherwise make every later delta look like a replay.
MAX_BOOK_NONCE_STEP = 4294967296

MAX_DECIMALS = 18
INT64_MAX = 2**63 - 1
ROUNDINGS = ("nearest", "up", "down")
MAX_CACHE_CAPACITY = 2**31 - 1
MAX_LIMITER_CAPACITY = 2**62
# More integer digits than this after scaling is always above every wire maximum (< 2^63).
_MAX_INT_DIGITS = 19
# Exponents are clamped to this magnitude: anything beyond is overflow or rounds to 0 anyway.
_EXP_CLAMP = 100_000_000

_WS = " \t\n\r\f\v"
_DECIMAL_RE = re.compile(r"([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_SPECIALS = frozenset({"nan", "snan", "inf", "infinity"})
_WIRE_RE = re.compile(r"([0-9]+)(?:\.([0-9]*))?")


def _check_decimals(name: str, value: object) -> int:
    """Validate a decimals count (0..18) and return it."""
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_DECIMALS:
        raise ValueError(f"{name} must be in 0..{MAX_DECIMALS}, got {value}")
    return int(value)


def _number_text(field: str, value: object) -> str:
    """The exact decimal text of a float (shortest repr), str or Decimal; TypeError otherwise."""
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return Decimal.__str__(value)
    raise TypeError(
        f"{field} must be a number (float, int, str or Decimal), got {type(value).__name__}"
    )


def _to_int(field: str, value: object, decimals: int, rounding: str, max_value: int) -> int:
    """Human number -> wire integer at `decimals`, rounded as asked, within 1..max_value."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of 'nearest', 'up', 'down', got {rounding!r}")
    if type(value) is bool:
        raise TypeError(f"{field} must be a number (float, int, str or Decimal), got bool")
    if isinstance(value, int):
        number = int(value)
        if number < 0:
            raise ValueError(f"{field} must be positive, got {value!r}")
        if number == 0:
            raise ValueError(f"{field} must be > 0, got {value!r}")
        scaled = number * 10**decimals
        if scaled > max_value:
            raise ValueError(
                f"{field} {value!r} overflows the wire maximum {max_value} at {decimals} decimals"
            )
        return scaled
    text = _number_text(field, value).strip(_WS)
    match = _DECIMAL_RE.fullmatch(text)
    if match is None:
        if text.lstrip("+-").lower() in _SPECIALS and len(text) - len(text.lstrip("+-")) <= 1:
            raise ValueError(f"{field} must be a finite number, got {value!r}")
        raise ValueError(f"{field} is not a decimal number: {value!r}")
    sign, int_part, frac_part, frac_only, exp_text = match.groups()
    if int_part is None:
        int_part, frac_part = "", frac_only
    frac_part = frac_part or ""
    digits = (int_part + frac_part).lstrip("0")
    if not digits:
        raise ValueError(f"{field} must be > 0, got {value!r}")
    if sign == "-":
        raise ValueError(f"{field} must be positive, got {value!r}")
    exponent = 0
    if exp_text:
        exp_digits = exp_text.lstrip("+-").lstrip("0")
        exponent = _EXP_CLAMP if len(exp_digits) > 9 else min(int(exp_digits or "0"), _EXP_CLAMP)
        if exp_text[0] == "-":
            exponent = -exponent
    # scaled = int(digits) * 10**shift; `whole` = count of integer digits of the scaled value.
    shift = exponent - len(frac_part) + decimals
    whole = len(digits) + shift
    if whole > _MAX_INT_DIGITS:
        raise ValueError(
            f"{field} {value!r} overflows the wire maximum {max_value} at {decimals} decimals"
        )
    if whole <= 0:
        quotient = 0
        first_dropped = digits[0] if whole == 0 else "0"
        any_dropped = True
    else:
        quotient = int(digits[:whole]) * 10 ** max(0, whole - len(digits))
        dropped = digits[whole:]
        first_dropped = dropped[0] if dropped else "0"
        any_dropped = dropped.strip("0") != ""
    if rounding == "nearest":
        quotient += first_dropped >= "5"
    elif rounding == "up":
        quotient += any_dropped
    if quotient > max_value:
        raise ValueError(
            f"{field} {value!r} overflows the wire maximum {max_value} at {decimals} decimals"
        )
    if quotient == 0:
        raise ValueError(
            f"{field} {value!r} rounds to 0 at {decimals} decimals (rounding={rounding!r})"
        )
    return quotient


def _parse_wire(field: str, text: object, decimals: int) -> int:
    """Exact wire decimal string ("3000.05", "0.0000") -> integer at `decimals`; no float."""
    if not isinstance(text, str):
        raise TypeError(f"{field} must be a str, got {type(text).__name__}")
    match = _WIRE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{field} is not a wire decimal string: {text!r}")
    int_part, frac_part = match.group(1), match.group(2) or ""
    if len(frac_part) > decimals:
        if frac_part[decimals:].strip("0"):
            raise ValueError(f"{field} {text!r} has more than {decimals} decimals")
        frac_part = frac_part[:decimals]
    digits = (int_part + frac_part.ljust(decimals, "0")).lstrip("0")
    if len(digits) > _MAX_INT_DIGITS or (digits and int(digits) > INT64_MAX):
        raise ValueError(f"{field} {text!r} overflows int64")
    return int(digits) if digits else 0


def _format_wire(field: str, value: object, decimals: int) -> str:
    """Integer -> wire string with exactly `decimals` decimals ("0.0050")."""
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    if value < 0 or value > INT64_MAX:
        raise ValueError(f"{field} must be in 0..{INT64_MAX}, got {value}")
    text = str(int(value))
    if decimals == 0:
        return text
    text = text.rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


def _to_float(field: str, value: object, scale: int) -> float:
    """Wire integer -> human float (correctly rounded int / scale)."""
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    return int(value) / scale


class Scale:
    """Human <-> wire-integer conversion for one market's price and size decimals."""

    __slots__ = ("_price_decimals", "_price_scale", "_size_decimals", "_size_scale")

    def __init__(self, price_decimals: int, size_decimals: int) -> None:
        self._price_decimals = _check_decimals("price_decimals", price_decimals)
        self._size_decimals = _check_decimals("size_decimals", size_decimals)
        self._price_scale = 10**self._price_decimals
        self._size_scale = 10**self._size_decimals

    @property
    def price_decimals(self) -> int:
        """Decimals of the market's price."""
        return self._price_decimals

    @property
    def size_decimals(self) -> int:
        """Decimals of the market's size (base amount)."""
        return self._size_decimals

    @property
    def price_scale(self) -> int:
        """10 ** price_decimals."""
        return self._price_scale

    @property
    def size_scale(self) -> int:
        """10 ** size_decimals."""
        return self._size_scale

    def price_to_int(self, value: Any, rounding: str = "nearest") -> int:
        """Human price -> wire integer (1..2^32-1); nearest rounds half up (away from zero)."""
        return _to_int("price", value, self._price_decimals, rounding, MAX_PRICE)

    def size_to_int(self, value: Any, rounding: str = "down") -> int:
        """Human size -> wire base amount (1..2^48-1); rounds down by default."""
        return _to_int("size", value, self._size_decimals, rounding, MAX_BASE_AMOUNT)

    def price_to_float(self, value: int) -> float:
        """Wire price integer -> human float."""
        return _to_float("price", value, self._price_scale)

    def size_to_float(self, value: int) -> float:
        """Wire base amount -> human float."""
        return _to_float("size", value, self._size_scale)

    def parse_price(self, text: str) -> int:
        """Exact wire price string ("3000.05") -> integer; zero ok, extra decimals must be 0."""
        return _parse_wire("price", text, self._price_decimals)

    def parse_size(self, text: str) -> int:
        """Exact wire size string ("0.0050", "0.0") -> integer; zero allowed."""
        return _parse_wire("size", text, self._size_decimals)

    def format_price(self, value: int) -> str:
        """Wire price integer -> wire string with the market's decimals."""
        return _format_wire("price", value, self._price_decimals)

    def format_size(self, value: int) -> str:
        """Wire base amount -> wire string with the market's decimals ("0.0050")."""
        return _format_wire("size", value, self._size_decimals)

    def __repr__(self) -> str:
        return f"Scale(price_decimals={self._price_decimals}, size_decimals={self._size_decimals})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scale):
            return NotImplemented
        return (self._price_decimals, self._size_decimals) == (
            other._price_decimals,
            other._size_decimals,
        )

    def __hash__(self) -> int:
        return hash((self._price_decimals, self._size_decimals))


def _check_coi(coi: object) -> int:
    """A COI key must be an int (bools are refused)."""
    if type(coi) is bool or not isinstance(coi, int):
        raise TypeError(f"coi must be an int, got {type(coi).__name__}")
    return int(coi)


class CoiCache:
    """Bounded COI -> order map; when full, putting a new COI evicts the oldest entry.

    Age is insertion order, and re-putting an existing COI refreshes it (it becomes the
    newest): an order that still receives updates is the last one to evict. `get` does not.
    """

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = 65536) -> None:
        if type(capacity) is bool or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, got {type(capacity).__name__}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if capacity > MAX_CACHE_CAPACITY:
            raise ValueError(f"capacity must be <= {MAX_CACHE_CAPACITY}, got {capacity}")
        self._capacity = int(capacity)
        self._entries: dict[int, Any] = {}

    @property
    def capacity(self) -> int:
        """Maximum number of entries."""
        return self._capacity

    def put(self, coi: int, order: Any) -> None:
        """Store `order` under `coi` as the newest entry, evicting the oldest when full."""
        key = _check_coi(coi)
        entries = self._entries
        if key in entries:
            del entries[key]
        elif len(entries) >= self._capacity:
            del entries[next(iter(entries))]
        entries[key] = order

    def get(self, coi: int, default: Any = None) -> Any:
        """The order stored under `coi`, or `default`."""
        return self._entries.get(coi, default)

    def pop(self, coi: int, default: Any = None) -> Any:
        """Remove and return the order under `coi`, or `default`."""
        return self._entries.pop(coi, default)

    def clear(self) -> None:
        """Remove every entry."""
        self._entries.clear()

    def values(self) -> list[Any]:
        """Stored orders, oldest first."""
        return list(self._entries.values())

    def keys(self) -> list[int]:
        """Stored COIs, oldest first."""
        return list(self._entries.keys())

    def items(self) -> list[tuple[int, Any]]:
        """(coi, order) pairs, oldest first."""
        return list(self._entries.items())

    def apply_orders(self, orders: Iterable[Any]) -> int:
        """Insert live orders and drop terminal ones (filled/canceled*/expired); skip COI 0.

        Validates every order first (nothing changes on bad input); returns the number of
        entries stored or removed.
        """
        checked = _check_orders(orders)
        changed = 0
        for coi, terminal, order in checked:
            if coi == 0:
                continue
            if terminal:
                if coi in self._entries:
                    del self._entries[coi]
                    changed += 1
            else:
                self.put(coi, order)
                changed += 1
        return changed

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, coi: object) -> bool:
        return coi in self._entries

    def __repr__(self) -> str:
        return f"CoiCache(len={len(self._entries)}, capacity={self._capacity})"


def _check_orders(orders: Iterable[Any]) -> list[tuple[int, bool, Any]]:
    """Validate a batch of order dicts: (coi, is_terminal, order) per order, or raise."""
    if not isinstance(orders, (list, tuple)):
        raise TypeError(f"orders must be a list of dicts, got {type(orders).__name__}")
    checked = []
    for position, order in enumerate(orders):
        if not isinstance(order, dict):
            raise TypeError(f"orders[{position}] must be a dict, got {type(order).__name__}")
        if "client_order_index" not in order:
            raise ValueError(f"orders[{position}] has no client_order_index")
        coi = order["client_order_index"]
        if type(coi) is bool or not isinstance(coi, int):
            raise TypeError(
                f"orders[{position}].client_order_index must be an int, got {type(coi).__name__}"
            )
        if "status" not in order:
            raise ValueError(f"orders[{position}] has no status")
        status = order["status"]
        if not isinstance(status, str):
            raise TypeError(f"orders[{position}].status must be a str, got {type(status).__name__}")
        checked.append((int(coi), is_terminal_status(status), order))
    return checked


def _check_now(now: object, last: float) -> float:
    """Resolve the clock argument; an earlier `now` than one already seen counts as that one."""
    if now is None:
        value = time.monotonic()
    else:
        if type(now) is bool or not isinstance(now, (int, float)):
            raise TypeError(f"now must be a number, got {type(now).__name__}")
        value = float(now)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"now must be finite, got {now!r}")
    return value if value > last else last


class WeightLimiter:
    """Rolling-window weighted budget: weight acquired at t is usable again at t + window.

    The clock is injectable (`now`); a `now` earlier than one already seen is treated as the
    latest seen, so a non-monotonic clock cannot corrupt the window.
    """

    __slots__ = ("_capacity", "_events", "_last", "_used", "_window")

    def __init__(self, capacity_per_minute: int, window: float = 60.0) -> None:
        if type(capacity_per_minute) is bool or not isinstance(capacity_per_minute, int):
            raise TypeError(
                f"capacity_per_minute must be an int, got {type(capacity_per_minute).__name__}"
            )
        if capacity_per_minute < 1:
            raise ValueError(f"capacity_per_minute must be >= 1, got {capacity_per_minute}")
        if capacity_per_minute > MAX_LIMITER_CAPACITY:
            raise ValueError(
                f"capacity_per_minute must be <= {MAX_LIMITER_CAPACITY}, got {capacity_per_minute}"
            )
        if type(window) is bool or not isinstance(window, (int, float)):
            raise TypeError(f"window must be a number, got {type(window).__name__}")
        if not 0.0 < float(window) < float("inf"):
            raise ValueError(f"window must be a positive finite number, got {window!r}")
        self._capacity = int(capacity_per_minute)
        self._window = float(window)
        self._events: deque[list[Any]] = deque()  # [expiry, weight], expiry ascending
        self._used = 0
        self._last = float("-inf")

    @property
    def capacity(self) -> int:
        """Weight budget per window."""
        return self._capacity

    @property
    def window(self) -> float:
        """Window length in seconds."""
        return self._window

    def _check_weight(self, weight: object) -> int:
        if type(weight) is bool or not isinstance(weight, int):
            raise TypeError(f"weight must be an int, got {type(weight).__name__}")
        if not 1 <= weight <= self._capacity:
            raise ValueError(f"weight must be in 1..{self._capacity}, got {weight}")
        return int(weight)

    def _advance(self, now: object) -> float:
        """Move the clock to `now` and release every weight whose expiry is <= now."""
        current = _check_now(now, self._last)
        self._last = current
        events = self._events
        while events and events[0][0] <= current:
            self._used -= events.popleft()[1]
        return current

    def try_acquire(self, weight: int, now: float | None = None) -> bool:
        """Take `weight` from the budget if it fits now; False (nothing taken) otherwise."""
        amount = self._check_weight(weight)
        current = self._advance(now)
        if self._used + amount > self._capacity:
            return False
        expiry = current + self._window
        events = self._events
        if events and events[-1][0] == expiry:
            events[-1][1] += amount
        else:
            events.append([expiry, amount])
        self._used += amount
        return True

    def wait_time(self, weight: int, now: float | None = None) -> float:
        """Seconds from `now` until `weight` would fit (0.0 if it fits now)."""
        amount = self._check_weight(weight)
        current = self._advance(now)
        missing = self._used + amount - self._capacity
        if missing <= 0:
            return 0.0
        for expiry, event_weight in self._events:
            missing -= event_weight
            if missing <= 0:
                return max(0.0, expiry - current)
        raise AssertionError("unreachable: weight <= capacity")  # pragma: no cover

    def available(self, now: float | None = None) -> int:
        """Weight that could be acquired at `now`."""
        self._advance(now)
        return self._capacity - self._used

    def __repr__(self) -> str:
        return f"WeightLimiter(capacity_per_minute={self._capacity}, window={self._window})"


def _check_nonce(frame: dict[str, Any], key: str) -> int:
    """An int64 nonce field of an order_book object."""
    if key not in frame:
        raise ValueError(f"order_book has no {key}")
    value = frame[key]
    if type(value) is bool or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise ValueError(f"order_book.{key} must be an int in 0..{INT64_MAX}, got {value!r}")
    return int(value)


def _parse_levels(frame: dict[str, Any], side: str, scale: Scale) -> list[tuple[int, int]]:
    """Parse one side's level dicts into (price, size) integers; ValueError on bad input."""
    levels = frame.get(side)
    if levels is None:
        return []
    if not isinstance(levels, list):
        raise ValueError(f"order_book.{side} must be a list, got {type(levels).__name__}")
    parsed = []
    for position, level in enumerate(levels):
        where = f"order_book.{side}[{position}]"
        if not isinstance(level, dict):
            raise ValueError(f"{where} must be a dict, got {type(level).__name__}")
        price_text = level.get("price")
        size_text = level.get("size")
        if not isinstance(price_text, str) or not isinstance(size_text, str):
            raise ValueError(f"{where} needs str price and size")
        try:
            price = scale.parse_price(price_text)
            size = scale.parse_size(size_text)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if price == 0:
            raise ValueError(f"{where}: price must be > 0")
        parsed.append((price, size))
    return parsed


class _Side:
    """One side of the book: price -> size plus the prices sorted ascending."""

    __slots__ = ("prices", "sizes")

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.prices: list[int] = []

    def set(self, price: int, size: int) -> None:
        sizes = self.sizes
        if size == 0:
            if price in sizes:
                del sizes[price]
                del self.prices[bisect_left(self.prices, price)]
        else:
            if price not in sizes:
                self.prices.insert(bisect_left(self.prices, price), price)
            sizes[price] = size


class OrderBook:
    """L2 book of one market keyed by integer price, fed by order_book snapshots and deltas.

    Gaps (begin_nonce != previous nonce) and crossed results mark the book stale; a stale
    book ignores deltas (returns False) until the next snapshot. Levels stay readable.
    """

    __slots__ = ("_asks", "_bids", "_market_index", "_nonce", "_scale", "_stale", "_updated")

    def __init__(self, market_index: int, price_decimals: int, size_decimals: int) -> None:
        if type(market_index) is bool or not isinstance(market_index, int):
            raise TypeError(f"market_index must be an int, got {type(market_index).__name__}")
        if not 0 <= market_index <= INT64_MAX:
            raise ValueError(f"market_index must be in 0..{INT64_MAX}, got {market_index}")
        self._market_index = int(market_index)
        self._scale = Scale(price_decimals, size_decimals)
        self._bids = _Side()
        self._asks = _Side()
        self._nonce = 0
        self._stale = True  # no snapshot yet
        self._updated = 0.0  # monotonic time of the last applied snapshot or delta (0: never)

    @property
    def market_index(self) -> int:
        """Market this book belongs to."""
        return self._market_index

    @property
    def price_decimals(self) -> int:
        """Price decimals of the market."""
        return self._scale.price_decimals

    @property
    def size_decimals(self) -> int:
        """Size decimals of the market."""
        return self._scale.size_decimals

    @property
    def nonce(self) -> int:
        """Nonce of the last applied snapshot or update."""
        return self._nonce

    @property
    def is_stale(self) -> bool:
        """True before the first snapshot and after a gap or crossed book."""
        return self._stale

    @property
    def age(self) -> float | None:
        """Seconds since the last applied snapshot or delta (None before the first one)."""
        if self._updated == 0.0:
            return None
        return time.monotonic() - self._updated

    @property
    def bid_levels(self) -> int:
        """Number of bid levels."""
        return len(self._bids.prices)

    @property
    def ask_levels(self) -> int:
        """Number of ask levels."""
        return len(self._asks.prices)

    def mark_stale(self) -> None:
        """Ignore deltas until the next snapshot (e.g. after a reconnect)."""
        self._stale = True

    def _crossed(self) -> bool:
        bids, asks = self._bids.prices, self._asks.prices
        return bool(bids) and bool(asks) and bids[-1] >= asks[0]

    def apply_snapshot(self, order_book: dict[str, Any]) -> bool:
        """Replace the book with a snapshot; clears stale. False (and stale) if it is crossed."""
        if not isinstance(order_book, dict):
            raise ValueError(f"order_book must be a dict, got {type(order_book).__name__}")
        nonce = _check_nonce(order_book, "nonce")
        asks = _parse_levels(order_book, "asks", self._scale)
        bids = _parse_levels(order_book, "bids", self._scale)
        self._bids, self._asks = _Side(), _Side()
        for price, size in asks:
            self._asks.set(price, size)
        for price, size in bids:
            self._bids.set(price, size)
        self._nonce = nonce
        self._updated = time.monotonic()
        self._stale = self._crossed()
        return not self._stale

    def apply_update(self, order_book: dict[str, Any]) -> bool:
        """Apply a delta if begin_nonce continues the chain; False (stale) on a gap or cross."""
        if self._stale:
            return False
        if not isinstance(order_book, dict):
            raise ValueError(f"order_book must be a dict, got {type(order_book).__name__}")
        begin_nonce = _check_nonce(order_book, "begin_nonce")
        nonce = _check_nonce(order_book, "nonce")
        asks = _parse_levels(order_book, "asks", self._scale)
        bids = _parse_levels(order_book, "bids", self._scale)
        if begin_nonce != self._nonce or nonce - begin_nonce > MAX_BOOK_NONCE_STEP:
            self._stale = True
            return False
        for price, size in asks:
            self._asks.set(price, size)
        for price, size in bids:
            self._bids.set(price, size)
        self._nonce = nonce
        self._updated = time.monotonic()
        if self._crossed():
            self._stale = True
            return False
        return True

    def apply_update_raw(self, payload: bytes | str) -> int:
        """Apply an `update/order_book` frame from its JSON text (the compiled twin scans bytes).

        Returns 1 applied, 0 not applied (stale, gap or crossed, as `apply_update` False),
        2 a replay (nonce <= book nonce; nothing changed), 3 an implausible nonce step (more
        than MAX_BOOK_NONCE_STEP: not applied, book stale), or -1: not handled here (another
        channel, or not a well-formed frame) -- use the generic path.
        """
        try:
            msg = orjson.loads(payload)
        except (orjson.JSONDecodeError, TypeError):
            return -1
        if (
            type(msg) is not dict
            or msg.get("type") != "update/order_book"
            or msg.get("channel") != f"order_book:{self._market_index}"
            or type(msg.get("order_book")) is not dict
        ):
            return -1
        frame = msg["order_book"]
        try:
            begin_nonce = _check_nonce(frame, "begin_nonce")
            nonce = _check_nonce(frame, "nonce")
            _parse_levels(frame, "asks", self._scale)
            _parse_levels(frame, "bids", self._scale)
        except ValueError:
            return -1
        if self._stale:
            return 0
        if nonce <= self._nonce:
            return 2
        if begin_nonce == self._nonce and nonce - begin_nonce > MAX_BOOK_NONCE_STEP:
            self._stale = True
            return 3
        return 1 if self.apply_update(frame) else 0

    def _float_level(self, price: int, size: int) -> tuple[float, float]:
        return price / self._scale.price_scale, size / self._scale.size_scale

    def best_bid(self) -> tuple[float, float] | None:
        """(price, size) of the highest bid, or None."""
        prices = self._bids.prices
        if not prices:
            return None
        return self._float_level(prices[-1], self._bids.sizes[prices[-1]])

    def best_ask(self) -> tuple[float, float] | None:
        """(price, size) of the lowest ask, or None."""
        prices = self._asks.prices
        if not prices:
            return None
        return self._float_level(prices[0], self._asks.sizes[prices[0]])

    def bids_int(self, n: int = 10) -> list[tuple[int, int]]:
        """Top `n` bids as wire integers, best first."""
        count = _check_depth(n)
        sizes, prices = self._bids.sizes, self._bids.prices
        top = prices[max(0, len(prices) - count) :][::-1]
        return [(price, sizes[price]) for price in top]

    def asks_int(self, n: int = 10) -> list[tuple[int, int]]:
        """Top `n` asks as wire integers, best first."""
        count = _check_depth(n)
        sizes = self._asks.sizes
        return [(price, sizes[price]) for price in self._asks.prices[:count]]

    def bids(self, n: int = 10) -> list[tuple[float, float]]:
        """Top `n` bids as (price, size) floats, best first."""
        return [self._float_level(price, size) for price, size in self.bids_int(n)]

    def asks(self, n: int = 10) -> list[tuple[float, float]]:
        """Top `n` asks as (price, size) floats, best first."""
        return [self._float_level(price, size) for price, size in self.asks_int(n)]

    def mid(self) -> float | None:
        """(best bid + best ask) / 2 as a float, or None if a side is empty."""
        bids, asks = self._bids.prices, self._asks.prices
        if not bids or not asks:
            return None
        return (bids[-1] + asks[0]) / (2 * self._scale.price_scale)

    def spread(self) -> float | None:
        """best ask - best bid as a float, or None if a side is empty."""
        bids, asks = self._bids.prices, self._asks.prices
        if not bids or not asks:
            return None
        return (asks[0] - bids[-1]) / self._scale.price_scale

    def __repr__(self) -> str:
        return (
            f"OrderBook(market_index={self._market_index}, bids={len(self._bids.prices)}, "
            f"asks={len(self._asks.prices)}, nonce={self._nonce}, stale={self._stale})"
        )


def _check_depth(n: object) -> int:
    """Validate a depth argument (int >= 0)."""
    if type(n) is bool or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return int(n)


def order_book_market(payload: bytes | str) -> int:
    """Market index of an `update/order_book` frame from its JSON text, else -1 (routing hint).

    The compiled twin reads only the top-level `type` and `channel` (first occurrence) and
    does not validate the rest; `OrderBook.apply_update_raw` re-checks both.
    """
    try:
        msg = orjson.loads(payload)
    except (orjson.JSONDecodeError, TypeError):
        return -1
    if type(msg) is not dict or msg.get("type") != "update/order_book":
        return -1
    channel = msg.get("channel")
    if type(channel) is not str or not channel.startswith("order_book:"):
        return -1
    digits = channel[len("order_book:") :]
    if not digits or len(digits) > 18 or not (digits.isascii() and digits.isdigit()):
        return -1
    return int(digits)
