# cython: language_level=3, auto_pickle=False
"""Compiled core of lighterfast: Scale, CoiCache, WeightLimiter, OrderBook.

Behaviour is defined by the pure-Python twin `_core_py.py`; property tests require both to give
identical results (values, errors and messages) for the same operations.
"""

cimport cython
from cpython.bool cimport PyBool_Check
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Check, PyDict_GetItemWithError
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.list cimport PyList_Check
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_Check, PyUnicode_DATA, PyUnicode_GET_LENGTH
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport qsort
from libc.string cimport memcmp, memmove
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import time
from decimal import Decimal

from lighterfast.protocol import MAX_BASE_AMOUNT, MAX_PRICE

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int* ptype) except NULL

__all__ = ["CoiCache", "OrderBook", "Scale", "WeightLimiter", "order_book_market"]

cdef enum:
    MAX_DECIMALS = 18
    MAX_INT_DIGITS = 19  # more integer digits than this is above every wire maximum (< 2^63)
    EXP_CLAMP = 100000000  # exponents beyond this overflow or round to 0 anyway

cdef int64_t INT64_MAX_C = 9223372036854775807
cdef uint64_t MAX_PRICE_C = MAX_PRICE
cdef uint64_t MAX_BASE_AMOUNT_C = MAX_BASE_AMOUNT
# A delta's nonce advances by the engine events of one ~50 ms batch (tens live, §4.6); a larger
# step is a corrupt frame that would otherwise make every later delta look like a replay.
cdef int64_t MAX_BOOK_NONCE_STEP_C = 4294967296
MAX_BOOK_NONCE_STEP = 4294967296
cdef int64_t EXACT_DOUBLE_LIMIT = 4503599627370496  # 2**52: sums and differences stay exact
cdef object _INT64_MAX = 2**63 - 1
cdef object _DecimalStr = Decimal.__str__
cdef object _float_repr = float.__repr__
cdef object _monotonic = time.monotonic

cdef object K_PRICE = "price"
cdef object K_SIZE = "size"
cdef object K_NONCE = "nonce"
cdef object K_BEGIN_NONCE = "begin_nonce"
cdef object K_ASKS = "asks"
cdef object K_BIDS = "bids"
cdef object K_COI = "client_order_index"
cdef object K_STATUS = "status"
cdef object R_NEAREST = "nearest"
cdef object R_UP = "up"
cdef object R_DOWN = "down"

cdef double[19] POW10_D
cdef int64_t[19] POW10_I
cdef int _p
POW10_D[0] = 1.0
POW10_I[0] = 1
for _p in range(1, 19):
    POW10_I[_p] = POW10_I[_p - 1] * 10
    POW10_D[_p] = <double>POW10_I[_p]


# ---------------------------------------------------------------------------------------------
# decimal text parsing (no float, no Decimal)

cdef enum:
    OK = 0
    E_SYNTAX = 1
    E_NONFINITE = 2
    E_NEGATIVE = 3
    E_ZERO = 4
    E_OVERFLOW = 5
    E_ROUNDS_ZERO = 6
    E_DECIMALS = 7

cdef enum:
    ROUND_NEAREST = 0
    ROUND_UP = 1
    ROUND_DOWN = 2


cdef inline bint _is_ws(char c) noexcept nogil:
    return c == 32 or (9 <= c <= 13)


cdef inline bint _is_digit(char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline char _lower(char c) noexcept nogil:
    if 65 <= c <= 90:
        return c + 32
    return c


cdef bint _is_special(const char* s, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    """True if s[start:end] is one sign at most followed by nan/snan/inf/infinity (any case)."""
    cdef Py_ssize_t length, i
    cdef const char* word
    cdef Py_ssize_t word_length
    cdef int w
    if start < end and (s[start] == 43 or s[start] == 45):
        start += 1
        if start < end and (s[start] == 43 or s[start] == 45):
            return False
    length = end - start
    for w in range(4):
        if w == 0:
            word = b"nan"
            word_length = 3
        elif w == 1:
            word = b"snan"
            word_length = 4
        elif w == 2:
            word = b"inf"
            word_length = 3
        else:
            word = b"infinity"
            word_length = 8
        if length != word_length:
            continue
        for i in range(length):
            if _lower(s[start + i]) != word[i]:
                break
        else:
            return True
    return False


cdef int _decimal_to_int(const char* s, Py_ssize_t n, int decimals, int rounding,
                         uint64_t max_value, uint64_t* out) noexcept nogil:
    """Decimal text -> integer at `decimals` with rounding; an E_* code on failure."""
    cdef Py_ssize_t start = 0, end = n, i, int_start, int_len, frac_start, frac_len
    cdef Py_ssize_t zeros, total, k, j, significant
    cdef bint negative = False, exp_negative = False, any_dropped
    cdef int64_t exponent = 0, shift, whole
    cdef uint64_t quotient = 0
    cdef char first_dropped, c
    while start < end and _is_ws(s[start]):
        start += 1
    while end > start and _is_ws(s[end - 1]):
        end -= 1
    i = start
    if i < end and (s[i] == 43 or s[i] == 45):
        negative = s[i] == 45
        i += 1
    int_start = i
    while i < end and _is_digit(s[i]):
        i += 1
    int_len = i - int_start
    frac_start = i
    frac_len = 0
    if i < end and s[i] == 46:
        i += 1
        frac_start = i
        while i < end and _is_digit(s[i]):
            i += 1
        frac_len = i - frac_start
    if int_len == 0 and frac_len == 0:
        return E_NONFINITE if _is_special(s, start, end) else E_SYNTAX
    if i < end and (s[i] == 101 or s[i] == 69):
        i += 1
        if i < end and (s[i] == 43 or s[i] == 45):
            exp_negative = s[i] == 45
            i += 1
        if i >= end or not _is_digit(s[i]):
            return E_SYNTAX
        while i < end and _is_digit(s[i]):
            if exponent < 1000000000:
                exponent = exponent * 10 + (s[i] - 48)
            i += 1
        if exponent > EXP_CLAMP:
            exponent = EXP_CLAMP
        if exp_negative:
            exponent = -exponent
    if i != end:
        return E_SYNTAX
    # Significant digits: the concatenation int+frac without its leading zeros.
    total = int_len + frac_len
    zeros = 0
    while zeros < total:
        c = s[int_start + zeros] if zeros < int_len else s[frac_start + zeros - int_len]
        if c != 48:
            break
        zeros += 1
    significant = total - zeros
    if significant == 0:
        return E_ZERO
    if negative:
        return E_NEGATIVE
    shift = exponent - frac_len + decimals
    whole = significant + shift
    if whole > MAX_INT_DIGITS:
        return E_OVERFLOW
    if whole <= 0:
        quotient = 0
        if whole == 0:
            k = zeros
            first_dropped = s[int_start + k] if k < int_len else s[frac_start + k - int_len]
        else:
            first_dropped = 48
        any_dropped = True
    else:
        for j in range(whole):
            if j < significant:
                k = zeros + j
                c = s[int_start + k] if k < int_len else s[frac_start + k - int_len]
                quotient = quotient * 10 + <uint64_t>(c - 48)
            else:
                quotient = quotient * 10
        first_dropped = 48
        any_dropped = False
        for j in range(whole, significant):
            k = zeros + j
            c = s[int_start + k] if k < int_len else s[frac_start + k - int_len]
            if j == whole:
                first_dropped = c
            if c != 48:
                any_dropped = True
                break
    if rounding == ROUND_NEAREST:
        if first_dropped >= 53:
            quotient += 1
    elif rounding == ROUND_UP:
        if any_dropped:
            quotient += 1
    if quotient > max_value:
        return E_OVERFLOW
    if quotient == 0:
        return E_ROUNDS_ZERO
    out[0] = quotient
    return OK


cdef inline void _accumulate(uint64_t* acc, int* significant, int digit) noexcept nogil:
    """Append one decimal digit; `significant` counts digits after the leading zeros (20 = too many)."""
    if significant[0] > 0:
        if significant[0] >= MAX_INT_DIGITS:
            significant[0] = MAX_INT_DIGITS + 1
        else:
            acc[0] = acc[0] * 10 + <uint64_t>digit
            significant[0] += 1
    elif digit != 0:
        acc[0] = <uint64_t>digit
        significant[0] = 1


cdef int _parse_wire_c(const char* s, Py_ssize_t n, int decimals, int64_t* out) noexcept nogil:
    """Wire decimal string ("3000.05", "0.0") -> integer at `decimals`; an E_* code on failure."""
    cdef Py_ssize_t i = 0, frac_index = 0
    cdef uint64_t acc = 0
    cdef int significant = 0
    cdef bint too_many = False
    cdef int digit
    while i < n and _is_digit(s[i]):
        _accumulate(&acc, &significant, s[i] - 48)
        i += 1
    if i == 0:
        return E_SYNTAX
    if i < n:
        if s[i] != 46:
            return E_SYNTAX
        i += 1
        while i < n and _is_digit(s[i]):
            digit = s[i] - 48
            if frac_index < decimals:
                _accumulate(&acc, &significant, digit)
            elif digit != 0:
                too_many = True
            frac_index += 1
            i += 1
        if i != n:
            return E_SYNTAX
    while frac_index < decimals:
        _accumulate(&acc, &significant, 0)
        frac_index += 1
    if too_many:
        return E_DECIMALS
    if significant > MAX_INT_DIGITS or acc > <uint64_t>INT64_MAX_C:
        return E_OVERFLOW
    out[0] = <int64_t>acc
    return OK


cdef int _parse_wire_obj(object text, int decimals, int64_t* out) except -1:
    """Parse a str through `_parse_wire_c`; non-ASCII text is a syntax error (returns the code)."""
    if not PyUnicode_IS_ASCII(text):
        return E_SYNTAX
    return _parse_wire_c(<const char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                         decimals, out)


cdef str _wire_error(str field, object text, int decimals, int code):
    """The message of a wire-string parse failure (same words as the pure twin)."""
    if code == E_DECIMALS:
        return f"{field} {text!r} has more than {decimals} decimals"
    if code == E_OVERFLOW:
        return f"{field} {text!r} overflows int64"
    return f"{field} is not a wire decimal string: {text!r}"


cdef int _check_decimals(str name, object value) except -1:
    if PyBool_Check(value) or not PyLong_Check(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_DECIMALS:
        raise ValueError(f"{name} must be in 0..{MAX_DECIMALS}, got {value}")
    return <int>value


cdef int _rounding_code(object rounding) except -1:
    if rounding is R_NEAREST:
        return ROUND_NEAREST
    if rounding is R_DOWN:
        return ROUND_DOWN
    if rounding is R_UP:
        return ROUND_UP
    if rounding == R_NEAREST:
        return ROUND_NEAREST
    if rounding == R_UP:
        return ROUND_UP
    if rounding == R_DOWN:
        return ROUND_DOWN
    raise ValueError(f"rounding must be one of 'nearest', 'up', 'down', got {rounding!r}")


cdef object _to_int(str field, object value, int decimals, object rounding, uint64_t max_value):
    """Human number -> wire integer at `decimals`, rounded as asked, within 1..max_value."""
    cdef int mode = _rounding_code(rounding)
    cdef int overflow = 0
    cdef long long number
    cdef double number_d, scaled_d
    cdef uint64_t result = 0
    cdef int code
    cdef char* buffer
    cdef object text
    if PyBool_Check(value):
        raise TypeError(f"{field} must be a number (float, int, str or Decimal), got bool")
    if PyLong_Check(value):
        number = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow < 0 or (overflow == 0 and number < 0):
            raise ValueError(f"{field} must be positive, got {value!r}")
        if overflow == 0 and number == 0:
            raise ValueError(f"{field} must be > 0, got {value!r}")
        if overflow > 0 or <uint64_t>number > max_value // <uint64_t>POW10_I[decimals]:
            raise ValueError(
                f"{field} {value!r} overflows the wire maximum {max_value} at {decimals} decimals"
            )
        return <uint64_t>number * <uint64_t>POW10_I[decimals]
    if PyFloat_Check(value):
        # Fast path: if r / 10**decimals round-trips to this float and its scaled value is
        # below 2**52, no other decimal at that precision does (they are > 1 ulp apart), so
        # the shortest repr is that decimal and the exact answer is r whatever the rounding.
        number_d = PyFloat_AS_DOUBLE(value)
        scaled_d = number_d * POW10_D[decimals]
        if 0.5 <= scaled_d < 4503599627370496.0:
            number = <long long>(scaled_d + 0.5)
            if (<uint64_t>number <= max_value
                    and <double>number / POW10_D[decimals] == number_d):
                return number
        buffer = PyOS_double_to_string(number_d, b"r", 0, 0, NULL)
        try:
            code = _decimal_to_int(buffer, len(buffer), decimals, mode, max_value, &result)
        finally:
            PyMem_Free(buffer)
    else:
        if PyUnicode_Check(value):
            text = value
        elif isinstance(value, Decimal):
            text = _DecimalStr(value)
        else:
            raise TypeError(
                f"{field} must be a number (float, int, str or Decimal), "
                f"got {type(value).__name__}"
            )
        if PyUnicode_IS_ASCII(text):
            code = _decimal_to_int(<const char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                                   decimals, mode, max_value, &result)
        else:
            code = _to_int_unicode(text, decimals, mode, max_value, &result)
    if code == OK:
        return result
    if code == E_NONFINITE:
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    if code == E_NEGATIVE:
        raise ValueError(f"{field} must be positive, got {value!r}")
    if code == E_ZERO:
        raise ValueError(f"{field} must be > 0, got {value!r}")
    if code == E_OVERFLOW:
        raise ValueError(
            f"{field} {value!r} overflows the wire maximum {max_value} at {decimals} decimals"
        )
    if code == E_ROUNDS_ZERO:
        raise ValueError(
            f"{field} {value!r} rounds to 0 at {decimals} decimals (rounding={rounding!r})"
        )
    raise ValueError(f"{field} is not a decimal number: {value!r}")


cdef int _to_int_unicode(str text, int decimals, int mode, uint64_t max_value,
                         uint64_t* out) except -1:
    """Non-ASCII text: only ASCII whitespace may be stripped; anything else is a syntax error."""
    cdef str stripped = text.strip(" \t\n\r\f\v")
    cdef bytes raw
    if not stripped.isascii():
        return E_SYNTAX
    raw = stripped.encode("ascii")
    return _decimal_to_int(raw, len(raw), decimals, mode, max_value, out)


cdef inline object _int_to_float(int64_t value, int decimals):
    """Correctly rounded value / 10**decimals (same float as Python's int / int)."""
    if -EXACT_DOUBLE_LIMIT < value < EXACT_DOUBLE_LIMIT:
        return <double>value / POW10_D[decimals]
    return value / POW10_I[decimals]


cdef object _to_float(str field, object value, int decimals):
    if PyBool_Check(value) or not PyLong_Check(value):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    return int(value) / POW10_I[decimals]


cdef str _format_wire(str field, object value, int decimals):
    """Integer -> wire string with exactly `decimals` decimals ("0.0050")."""
    if PyBool_Check(value) or not PyLong_Check(value):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    if value < 0 or value > _INT64_MAX:
        raise ValueError(f"{field} must be in 0..{_INT64_MAX}, got {value}")
    cdef str text = str(int(value))
    if decimals == 0:
        return text
    text = text.rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


@cython.final
cdef class Scale:
    """Human <-> wire-integer conversion for one market's price and size decimals."""

    cdef readonly int price_decimals
    cdef readonly int size_decimals
    cdef int64_t _price_scale
    cdef int64_t _size_scale

    def __init__(self, price_decimals, size_decimals):
        self.price_decimals = _check_decimals("price_decimals", price_decimals)
        self.size_decimals = _check_decimals("size_decimals", size_decimals)
        self._price_scale = POW10_I[self.price_decimals]
        self._size_scale = POW10_I[self.size_decimals]

    @property
    def price_scale(self):
        """10 ** price_decimals."""
        return self._price_scale

    @property
    def size_scale(self):
        """10 ** size_decimals."""
        return self._size_scale

    def price_to_int(self, value, rounding="nearest"):
        """Human price -> wire integer (1..2^32-1); nearest rounds half up (away from zero)."""
        return _to_int("price", value, self.price_decimals, rounding, MAX_PRICE_C)

    def size_to_int(self, value, rounding="down"):
        """Human size -> wire base amount (1..2^48-1); rounds down by default."""
        return _to_int("size", value, self.size_decimals, rounding, MAX_BASE_AMOUNT_C)

    def price_to_float(self, value):
        """Wire price integer -> human float."""
        return _to_float("price", value, self.price_decimals)

    def size_to_float(self, value):
        """Wire base amount -> human float."""
        return _to_float("size", value, self.size_decimals)

    def parse_price(self, text):
        """Exact wire price string ("3000.05") -> integer; zero ok, extra decimals must be 0."""
        return _parse_wire_py("price", text, self.price_decimals)

    def parse_size(self, text):
        """Exact wire size string ("0.0050", "0.0") -> integer; zero allowed."""
        return _parse_wire_py("size", text, self.size_decimals)

    def format_price(self, value):
        """Wire price integer -> wire string with the market's decimals."""
        return _format_wire("price", value, self.price_decimals)

    def format_size(self, value):
        """Wire base amount -> wire string with the market's decimals ("0.0050")."""
        return _format_wire("size", value, self.size_decimals)

    def __repr__(self):
        return f"Scale(price_decimals={self.price_decimals}, size_decimals={self.size_decimals})"

    def __eq__(self, other):
        if not isinstance(other, Scale):
            return NotImplemented
        return (self.price_decimals, self.size_decimals) == (
            (<Scale>other).price_decimals,
            (<Scale>other).size_decimals,
        )

    def __hash__(self):
        return hash((self.price_decimals, self.size_decimals))


cdef object _parse_wire_py(str field, object text, int decimals):
    cdef int64_t result = 0
    cdef int code
    if not PyUnicode_Check(text):
        raise TypeError(f"{field} must be a str, got {type(text).__name__}")
    code = _parse_wire_obj(text, decimals, &result)
    if code != OK:
        raise ValueError(_wire_error(field, text, decimals, code))
    return result


# ---------------------------------------------------------------------------------------------
# CoiCache: ring of keys in insertion order (lazy deletion) + dict index coi -> ring slot

@cython.final
cdef class CoiCache:
    """Bounded COI -> order map; when full, putting a new COI evicts the oldest entry.

    Age is insertion order, and re-putting an existing COI refreshes it (it becomes the
    newest): an order that still receives updates is the last one to evict. `get` does not.
    """

    cdef Py_ssize_t _capacity
    cdef list _ring_keys  # COI, or None for a dead slot (popped or refreshed key)
    cdef list _ring_values
    cdef Py_ssize_t _ring_size
    cdef Py_ssize_t _head  # oldest slot in use
    cdef Py_ssize_t _used  # slots in use from _head, dead ones included
    cdef dict _index  # coi -> slot

    def __init__(self, capacity=65536):
        if PyBool_Check(capacity) or not PyLong_Check(capacity):
            raise TypeError(f"capacity must be an int, got {type(capacity).__name__}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if capacity > 2**31 - 1:
            raise ValueError(f"capacity must be <= {2**31 - 1}, got {capacity}")
        self._capacity = capacity
        self._index = {}
        self._reset()

    cdef void _reset(self):
        self._ring_size = min(2 * self._capacity, 64)
        self._ring_keys = [None] * self._ring_size
        self._ring_values = [None] * self._ring_size
        self._head = 0
        self._used = 0

    @property
    def capacity(self):
        """Maximum number of entries."""
        return self._capacity

    cdef inline void _kill(self, Py_ssize_t slot):
        """Mark a slot dead and drop dead slots at the head of the ring."""
        self._ring_keys[slot] = None
        self._ring_values[slot] = None
        while self._used > 0 and self._ring_keys[self._head] is None:
            self._head += 1
            if self._head == self._ring_size:
                self._head = 0
            self._used -= 1

    cdef void _make_room(self):
        """Free ring slots: compact out dead slots (>= half are dead) or grow the ring."""
        cdef Py_ssize_t live = len(self._index)
        cdef Py_ssize_t new_size = self._ring_size
        cdef Py_ssize_t i, slot, out = 0
        cdef list keys, values
        cdef object key
        if live * 2 > self._ring_size:
            new_size = min(self._ring_size * 2, 2 * self._capacity)
        keys = [None] * new_size
        values = [None] * new_size
        slot = self._head
        for i in range(self._used):
            key = self._ring_keys[slot]
            if key is not None:
                keys[out] = key
                values[out] = self._ring_values[slot]
                self._index[key] = out
                out += 1
            slot += 1
            if slot == self._ring_size:
                slot = 0
        self._ring_keys = keys
        self._ring_values = values
        self._ring_size = new_size
        self._head = 0
        self._used = out

    cdef void _append(self, object key, object order):
        cdef Py_ssize_t slot
        if self._used == self._ring_size:
            self._make_room()
        slot = self._head + self._used
        if slot >= self._ring_size:
            slot -= self._ring_size
        self._ring_keys[slot] = key
        self._ring_values[slot] = order
        self._index[key] = slot
        self._used += 1

    cdef void _put(self, object key, object order):
        cdef object slot = self._index.get(key)
        cdef object oldest
        if slot is not None:
            self._kill(<Py_ssize_t>slot)
        elif len(self._index) >= self._capacity:
            oldest = self._ring_keys[self._head]  # head is always live when used > 0
            del self._index[oldest]
            self._kill(self._head)
        self._append(key, order)

    def put(self, coi, order):
        """Store `order` under `coi` as the newest entry, evicting the oldest when full."""
        if not PyLong_CheckExact(coi):
            if PyBool_Check(coi) or not PyLong_Check(coi):
                raise TypeError(f"coi must be an int, got {type(coi).__name__}")
            coi = int(coi)
        self._put(coi, order)

    def get(self, coi, default=None):
        """The order stored under `coi`, or `default`."""
        cdef object slot = self._index.get(coi)
        if slot is None:
            return default
        return self._ring_values[<Py_ssize_t>slot]

    def pop(self, coi, default=None):
        """Remove and return the order under `coi`, or `default`."""
        cdef object slot = self._index.pop(coi, None)
        cdef object order
        if slot is None:
            return default
        order = self._ring_values[<Py_ssize_t>slot]
        self._kill(<Py_ssize_t>slot)
        return order

    def clear(self):
        """Remove every entry."""
        self._index.clear()
        self._reset()

    cdef list _collect(self, int what):
        cdef list out = []
        cdef Py_ssize_t i, slot = self._head
        cdef object key
        for i in range(self._used):
            key = self._ring_keys[slot]
            if key is not None:
                if what == 0:
                    out.append(self._ring_values[slot])
                elif what == 1:
                    out.append(key)
                else:
                    out.append((key, self._ring_values[slot]))
            slot += 1
            if slot == self._ring_size:
                slot = 0
        return out

    def values(self):
        """Stored orders, oldest first."""
        return self._collect(0)

    def keys(self):
        """Stored COIs, oldest first."""
        return self._collect(1)

    def items(self):
        """(coi, order) pairs, oldest first."""
        return self._collect(2)

    def apply_orders(self, orders):
        """Insert live orders and drop terminal ones (filled/canceled*/expired); skip COI 0.

        Validates every order first (nothing changes on bad input); returns the number of
        entries stored or removed.
        """
        cdef list checked = _check_orders(orders)
        cdef Py_ssize_t changed = 0
        cdef tuple entry
        cdef object coi, slot
        for entry in checked:
            coi = entry[0]
            if coi == 0:
                continue
            if entry[1]:
                slot = self._index.pop(coi, None)
                if slot is not None:
                    self._kill(<Py_ssize_t>slot)
                    changed += 1
            else:
                self._put(coi, entry[2])
                changed += 1
        return changed

    def __len__(self):
        return len(self._index)

    def __contains__(self, coi):
        return coi in self._index

    def __repr__(self):
        return f"CoiCache(len={len(self._index)}, capacity={self._capacity})"


cdef inline bint _is_terminal(str status):
    """filled, expired and every canceled* status (protocol §1.3)."""
    return status == "filled" or status.startswith("canceled") or status == "expired"


cdef list _check_orders(object orders):
    """Validate a batch of order dicts: (coi, is_terminal, order) per order, or raise."""
    cdef list checked = []
    cdef Py_ssize_t position = 0
    cdef object order, coi, status
    cdef PyObject* found
    if not isinstance(orders, (list, tuple)):
        raise TypeError(f"orders must be a list of dicts, got {type(orders).__name__}")
    for order in orders:
        if not PyDict_Check(order):
            raise TypeError(f"orders[{position}] must be a dict, got {type(order).__name__}")
        found = PyDict_GetItemWithError(order, K_COI)
        if found is NULL:
            raise ValueError(f"orders[{position}] has no client_order_index")
        coi = <object>found
        if PyBool_Check(coi) or not PyLong_Check(coi):
            raise TypeError(
                f"orders[{position}].client_order_index must be an int, got {type(coi).__name__}"
            )
        found = PyDict_GetItemWithError(order, K_STATUS)
        if found is NULL:
            raise ValueError(f"orders[{position}] has no status")
        status = <object>found
        if not PyUnicode_Check(status):
            raise TypeError(
                f"orders[{position}].status must be a str, got {type(status).__name__}"
            )
        if not PyLong_CheckExact(coi):
            coi = int(coi)
        checked.append((coi, _is_terminal(status), order))
        position += 1
    return checked


# ---------------------------------------------------------------------------------------------
# WeightLimiter: ring of (expiry, weight) events, expiry ascending

cdef double _INF = float("inf")


@cython.final
cdef class WeightLimiter:
    """Rolling-window weighted budget: weight acquired at t is usable again at t + window.

    The clock is injectable (`now`); a `now` earlier than one already seen is treated as the
    latest seen, so a non-monotonic clock cannot corrupt the window.
    """

    cdef int64_t _capacity
    cdef double _window
    cdef double* _expiry
    cdef int64_t* _weight
    cdef Py_ssize_t _ring_size, _head, _count
    cdef int64_t _used
    cdef double _last

    def __cinit__(self, *args, **kwargs):
        self._ring_size = 16
        self._expiry = <double*>PyMem_Malloc(16 * sizeof(double))
        self._weight = <int64_t*>PyMem_Malloc(16 * sizeof(int64_t))
        if self._expiry is NULL or self._weight is NULL:
            raise MemoryError()
        self._head = 0
        self._count = 0
        self._used = 0
        self._last = -_INF

    def __dealloc__(self):
        PyMem_Free(self._expiry)
        PyMem_Free(self._weight)

    def __init__(self, capacity_per_minute, window=60.0):
        if PyBool_Check(capacity_per_minute) or not PyLong_Check(capacity_per_minute):
            raise TypeError(
                f"capacity_per_minute must be an int, got {type(capacity_per_minute).__name__}"
            )
        if capacity_per_minute < 1:
            raise ValueError(f"capacity_per_minute must be >= 1, got {capacity_per_minute}")
        if capacity_per_minute > 2**62:
            raise ValueError(f"capacity_per_minute must be <= {2**62}, got {capacity_per_minute}")
        if PyBool_Check(window) or not isinstance(window, (int, float)):
            raise TypeError(f"window must be a number, got {type(window).__name__}")
        if not 0.0 < float(window) < _INF:
            raise ValueError(f"window must be a positive finite number, got {window!r}")
        self._capacity = capacity_per_minute
        self._window = float(window)

    @property
    def capacity(self):
        """Weight budget per window."""
        return self._capacity

    @property
    def window(self):
        """Window length in seconds."""
        return self._window

    cdef int64_t _check_weight(self, object weight) except -1:
        if PyBool_Check(weight) or not PyLong_Check(weight):
            raise TypeError(f"weight must be an int, got {type(weight).__name__}")
        if not 1 <= weight <= self._capacity:
            raise ValueError(f"weight must be in 1..{self._capacity}, got {weight}")
        return weight

    cdef double _advance(self, object now) except? -1.0:
        """Move the clock to `now` and release every weight whose expiry is <= now."""
        cdef double current
        if now is None:
            current = _monotonic()
        elif PyFloat_Check(now):
            current = PyFloat_AS_DOUBLE(now)
        else:
            if PyBool_Check(now) or not PyLong_Check(now):
                raise TypeError(f"now must be a number, got {type(now).__name__}")
            current = float(now)
        if current != current or current == _INF or current == -_INF:
            raise ValueError(f"now must be finite, got {now!r}")
        if current < self._last:
            current = self._last
        self._last = current
        while self._count > 0 and self._expiry[self._head] <= current:
            self._used -= self._weight[self._head]
            self._head += 1
            if self._head == self._ring_size:
                self._head = 0
            self._count -= 1
        return current

    cdef int _push(self, double expiry, int64_t weight) except -1:
        cdef Py_ssize_t tail, new_size, i, slot
        cdef double* new_expiry
        cdef int64_t* new_weight
        if self._count > 0:
            tail = self._head + self._count - 1
            if tail >= self._ring_size:
                tail -= self._ring_size
            if self._expiry[tail] == expiry:
                self._weight[tail] += weight
                return 0
        if self._count == self._ring_size:
            new_size = self._ring_size * 2
            new_expiry = <double*>PyMem_Malloc(new_size * sizeof(double))
            new_weight = <int64_t*>PyMem_Malloc(new_size * sizeof(int64_t))
            if new_expiry is NULL or new_weight is NULL:
                PyMem_Free(new_expiry)
                PyMem_Free(new_weight)
                raise MemoryError()
            slot = self._head
            for i in range(self._count):
                new_expiry[i] = self._expiry[slot]
                new_weight[i] = self._weight[slot]
                slot += 1
                if slot == self._ring_size:
                    slot = 0
            PyMem_Free(self._expiry)
            PyMem_Free(self._weight)
            self._expiry = new_expiry
            self._weight = new_weight
            self._ring_size = new_size
            self._head = 0
        tail = self._head + self._count
        if tail >= self._ring_size:
            tail -= self._ring_size
        self._expiry[tail] = expiry
        self._weight[tail] = weight
        self._count += 1
        return 0

    def try_acquire(self, weight, now=None):
        """Take `weight` from the budget if it fits now; False (nothing taken) otherwise."""
        cdef int64_t amount = self._check_weight(weight)
        cdef double current = self._advance(now)
        if self._used + amount > self._capacity:
            return False
        self._push(current + self._window, amount)
        self._used += amount
        return True

    def wait_time(self, weight, now=None):
        """Seconds from `now` until `weight` would fit (0.0 if it fits now)."""
        cdef int64_t amount = self._check_weight(weight)
        cdef double current = self._advance(now)
        cdef int64_t missing = self._used + amount - self._capacity
        cdef Py_ssize_t i, slot = self._head
        cdef double wait
        if missing <= 0:
            return 0.0
        for i in range(self._count):
            missing -= self._weight[slot]
            if missing <= 0:
                wait = self._expiry[slot] - current
                return wait if wait > 0.0 else 0.0
            slot += 1
            if slot == self._ring_size:
                slot = 0
        raise AssertionError("unreachable: weight <= capacity")

    def available(self, now=None):
        """Weight that could be acquired at `now`."""
        self._advance(now)
        return self._capacity - self._used

    def __repr__(self):
        return f"WeightLimiter(capacity_per_minute={self._capacity}, window={self._window})"


# ---------------------------------------------------------------------------------------------
# OrderBook: per side a sorted C array of (key, size); bids key = price, asks key = -price,
# so both sides are ascending with the best level last (changes near the top move little).

ctypedef struct Level:
    int64_t key
    int64_t size


ctypedef struct SortLevel:
    int64_t key
    int64_t size
    Py_ssize_t order


cdef struct Side:
    Level* levels
    Py_ssize_t count
    Py_ssize_t capacity


cdef int _side_reserve(Side* side, Py_ssize_t needed) except -1:
    cdef Py_ssize_t capacity
    cdef Level* grown
    if needed <= side.capacity:
        return 0
    capacity = side.capacity * 2 if side.capacity else 256
    while capacity < needed:
        capacity *= 2
    grown = <Level*>PyMem_Realloc(side.levels, capacity * sizeof(Level))
    if grown is NULL:
        raise MemoryError()
    side.levels = grown
    side.capacity = capacity
    return 0


cdef inline Py_ssize_t _lower_bound(Side* side, int64_t key) noexcept nogil:
    cdef Py_ssize_t low = 0, high = side.count, middle
    while low < high:
        middle = (low + high) >> 1
        if side.levels[middle].key < key:
            low = middle + 1
        else:
            high = middle
    return low


cdef int _side_set(Side* side, int64_t key, int64_t size) except -1:
    """Set one level; size 0 deletes it (a no-op when absent)."""
    cdef Py_ssize_t position = _lower_bound(side, key)
    cdef bint found = position < side.count and side.levels[position].key == key
    if size == 0:
        if found:
            memmove(&side.levels[position], &side.levels[position + 1],
                    (side.count - position - 1) * sizeof(Level))
            side.count -= 1
        return 0
    if found:
        side.levels[position].size = size
        return 0
    if side.count == side.capacity:
        _side_reserve(side, side.count + 1)
    memmove(&side.levels[position + 1], &side.levels[position],
            (side.count - position) * sizeof(Level))
    side.levels[position].key = key
    side.levels[position].size = size
    side.count += 1
    return 0


cdef int _compare_sort_levels(const void* a, const void* b) noexcept nogil:
    cdef const SortLevel* left = <const SortLevel*>a
    cdef const SortLevel* right = <const SortLevel*>b
    if left.key != right.key:
        return -1 if left.key < right.key else 1
    if left.order != right.order:
        return -1 if left.order < right.order else 1
    return 0


cdef int64_t _nonce_field(dict frame, object key, str name) except -1:
    cdef PyObject* found = PyDict_GetItemWithError(frame, key)
    cdef object value
    cdef int overflow = 0
    cdef long long number
    if found is NULL:
        raise ValueError(f"order_book has no {name}")
    value = <object>found
    if PyLong_Check(value) and not PyBool_Check(value):
        number = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and number >= 0:
            return number
    raise ValueError(f"order_book.{name} must be an int in 0..{_INT64_MAX}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Raw `update/order_book` frames: a strict scanner over the JSON bytes (no Python objects).
# It accepts a conservative subset of JSON (ASCII, no escapes, no duplicate keys of interest,
# plain integers for nonces); anything else returns NULL / -1 so the caller takes the generic
# orjson path, which stays the single place where odd frames are judged.

ctypedef const unsigned char* cptr


cdef inline cptr _skip_ws(cptr p, cptr end) noexcept nogil:
    while p < end and (p[0] == 32 or p[0] == 10 or p[0] == 13 or p[0] == 9):
        p += 1
    return p


cdef unsigned char[256] STRING_STOP  # bytes that end a plain string run: " \\ controls non-ASCII
for _p in range(256):
    STRING_STOP[_p] = _p == 34 or _p == 92 or _p < 32 or _p >= 128


cdef inline cptr _string_end(cptr p, cptr end) noexcept nogil:
    """p at an opening quote: just past the closing quote, or NULL (escape, control, non-ASCII)."""
    p += 1
    while p < end and not STRING_STOP[p[0]]:
        p += 1
    if p < end and p[0] == 34:
        return p + 1
    return NULL


cdef cptr _number_end(cptr p, cptr end) noexcept nogil:
    """A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?"""
    if p < end and p[0] == 45:
        p += 1
    if p >= end or not (48 <= p[0] <= 57):
        return NULL
    if p[0] == 48:
        p += 1
    else:
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p < end and p[0] == 46:
        p += 1
        if p >= end or not (48 <= p[0] <= 57):
            return NULL
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p < end and (p[0] == 101 or p[0] == 69):
        p += 1
        if p < end and (p[0] == 43 or p[0] == 45):
            p += 1
        if p >= end or not (48 <= p[0] <= 57):
            return NULL
        while p < end and 48 <= p[0] <= 57:
            p += 1
    return p


cdef inline bint _literal(cptr p, cptr end, const char* word, Py_ssize_t length) noexcept nogil:
    return end - p >= length and memcmp(p, word, length) == 0


cdef cptr _skip_value(cptr p, cptr end, int depth) noexcept nogil:
    """Skip one JSON value starting at p (whitespace allowed before it); NULL if not accepted."""
    cdef unsigned char c, close
    cdef bint is_object
    p = _skip_ws(p, end)
    if p >= end:
        return NULL
    c = p[0]
    if c == 34:
        return _string_end(p, end)
    if c == 123 or c == 91:
        if depth >= 32:
            return NULL
        is_object = c == 123
        close = 125 if is_object else 93
        p = _skip_ws(p + 1, end)
        if p < end and p[0] == close:
            return p + 1
        while True:
            if is_object:
                p = _skip_ws(p, end)
                if p >= end or p[0] != 34:
                    return NULL
                p = _string_end(p, end)
                if p is NULL:
                    return NULL
                p = _skip_ws(p, end)
                if p >= end or p[0] != 58:
                    return NULL
                p += 1
            p = _skip_value(p, end, depth + 1)
            if p is NULL:
                return NULL
            p = _skip_ws(p, end)
            if p >= end:
                return NULL
            if p[0] == 44:
                p += 1
                continue
            if p[0] == close:
                return p + 1
            return NULL
    if c == 45 or 48 <= c <= 57:
        return _number_end(p, end)
    if c == 116 and _literal(p, end, b"true", 4):
        return p + 4
    if c == 102 and _literal(p, end, b"false", 5):
        return p + 5
    if c == 110 and _literal(p, end, b"null", 4):
        return p + 4
    return NULL


cdef inline bint _key_is(cptr key, Py_ssize_t length, const char* word, Py_ssize_t word_length
                         ) noexcept nogil:
    return length == word_length and _literal(key, key + length, word, word_length)


cdef cptr _uint_value(cptr p, cptr end, int64_t* out) noexcept nogil:
    """A plain non-negative JSON integer that fits int64; NULL for floats, negatives, overflow."""
    cdef uint64_t value = 0
    cdef int digits = 0
    cdef cptr start = p
    while p < end and 48 <= p[0] <= 57:
        if digits >= 19:
            return NULL
        value = value * 10 + (p[0] - 48)
        digits += 1
        p += 1
    if digits == 0 or (digits > 1 and start[0] == 48) or value > <uint64_t>INT64_MAX_C:
        return NULL
    if p < end and (p[0] == 46 or p[0] == 101 or p[0] == 69):
        return NULL
    out[0] = <int64_t>value
    return p


cdef inline cptr _next_member(cptr p, cptr end, bint* done) noexcept nogil:
    """After a member value: ',' continues, '}' (or ']') ends; NULL otherwise."""
    p = _skip_ws(p, end)
    if p >= end:
        return NULL
    if p[0] == 44:
        done[0] = False
        return p + 1
    if p[0] == 125 or p[0] == 93:
        done[0] = True
        return p + 1
    return NULL


cdef cptr _open_object(cptr p, cptr end, bint* empty) noexcept nogil:
    """p at '{' (after whitespace): position of the first key, or past '}' when empty."""
    p = _skip_ws(p, end)
    if p >= end or p[0] != 123:
        return NULL
    p = _skip_ws(p + 1, end)
    if p < end and p[0] == 125:
        empty[0] = True
        return p + 1
    empty[0] = False
    return p


cdef cptr _read_key(cptr p, cptr end, cptr* key, Py_ssize_t* length) noexcept nogil:
    """p at a key's opening quote: the key bytes, and the position after its ':'."""
    cdef cptr after
    p = _skip_ws(p, end)
    if p >= end or p[0] != 34:
        return NULL
    after = _string_end(p, end)
    if after is NULL:
        return NULL
    key[0] = p + 1
    length[0] = after - p - 2
    p = _skip_ws(after, end)
    if p >= end or p[0] != 58:
        return NULL
    return p + 1


@cython.final
cdef inline double _mono_now() noexcept nogil:
    """CLOCK_MONOTONIC seconds (the clock of time.monotonic), without a Python call."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef class OrderBook:
    """L2 book of one market keyed by integer price, fed by order_book snapshots and deltas.

    Gaps (begin_nonce != previous nonce) and crossed results mark the book stale; a stale
    book ignores deltas (returns False) until the next snapshot. Levels stay readable.
    """

    cdef readonly int64_t market_index
    cdef readonly int price_decimals
    cdef readonly int size_decimals
    cdef int64_t _nonce
    cdef bint _stale
    cdef double _updated  # monotonic time of the last applied snapshot or delta (0: never)
    cdef Side _bids
    cdef Side _asks
    cdef Level* _scratch  # parsed (price, size) of one frame: asks first, then bids
    cdef Py_ssize_t _scratch_capacity
    cdef bytes _channel  # b"order_book:<market_index>", for raw frames

    def __cinit__(self, *args, **kwargs):
        self._bids.levels = NULL
        self._bids.count = 0
        self._bids.capacity = 0
        self._asks.levels = NULL
        self._asks.count = 0
        self._asks.capacity = 0
        self._scratch = NULL
        self._scratch_capacity = 0
        self._nonce = 0
        self._stale = True
        self._updated = 0.0

    def __dealloc__(self):
        PyMem_Free(self._bids.levels)
        PyMem_Free(self._asks.levels)
        PyMem_Free(self._scratch)

    def __init__(self, market_index, price_decimals, size_decimals):
        if PyBool_Check(market_index) or not PyLong_Check(market_index):
            raise TypeError(f"market_index must be an int, got {type(market_index).__name__}")
        if not 0 <= market_index <= _INT64_MAX:
            raise ValueError(f"market_index must be in 0..{_INT64_MAX}, got {market_index}")
        self.price_decimals = _check_decimals("price_decimals", price_decimals)
        self.size_decimals = _check_decimals("size_decimals", size_decimals)
        self.market_index = market_index
        self._channel = f"order_book:{market_index}".encode()

    @property
    def nonce(self):
        """Nonce of the last applied snapshot or update."""
        return self._nonce

    @property
    def is_stale(self):
        """True before the first snapshot and after a gap or crossed book."""
        return self._stale

    @property
    def age(self):
        """Seconds since the last applied snapshot or delta (None before the first one)."""
        if self._updated == 0.0:
            return None
        return _mono_now() - self._updated

    @property
    def bid_levels(self):
        """Number of bid levels."""
        return self._bids.count

    @property
    def ask_levels(self):
        """Number of ask levels."""
        return self._asks.count

    def mark_stale(self):
        """Ignore deltas until the next snapshot (e.g. after a reconnect)."""
        self._stale = True

    cdef inline bint _crossed(self) noexcept:
        return (self._bids.count > 0 and self._asks.count > 0
                and self._bids.levels[self._bids.count - 1].key
                >= -self._asks.levels[self._asks.count - 1].key)

    cdef Py_ssize_t _parse_side(self, dict frame, object key, str side,
                                Py_ssize_t start) except -1:
        """Parse one side's levels into the scratch buffer from `start`; returns the new end."""
        cdef PyObject* found = PyDict_GetItemWithError(frame, key)
        cdef list levels
        cdef object level, price_text, size_text
        cdef Py_ssize_t count, position = 0
        cdef int64_t price = 0, size = 0
        cdef int code
        cdef Level* grown
        if found is NULL or <object>found is None:
            return start
        if not PyList_Check(<object>found):
            raise ValueError(
                f"order_book.{side} must be a list, got {type(<object>found).__name__}"
            )
        levels = <list>found
        count = len(levels)
        if start + count > self._scratch_capacity:
            grown = <Level*>PyMem_Realloc(self._scratch, (start + count) * 2 * sizeof(Level))
            if grown is NULL:
                raise MemoryError()
            self._scratch = grown
            self._scratch_capacity = (start + count) * 2
        for level in levels:
            if not PyDict_Check(level):
                raise ValueError(
                    f"order_book.{side}[{position}] must be a dict, got {type(level).__name__}"
                )
            found = PyDict_GetItemWithError(level, K_PRICE)
            price_text = <object>found if found is not NULL else None
            found = PyDict_GetItemWithError(level, K_SIZE)
            size_text = <object>found if found is not NULL else None
            if not PyUnicode_Check(price_text) or not PyUnicode_Check(size_text):
                raise ValueError(f"order_book.{side}[{position}] needs str price and size")
            code = _parse_wire_obj(price_text, self.price_decimals, &price)
            if code != OK:
                raise ValueError(f"order_book.{side}[{position}]: "
                                 + _wire_error("price", price_text, self.price_decimals, code))
            code = _parse_wire_obj(size_text, self.size_decimals, &size)
            if code != OK:
                raise ValueError(f"order_book.{side}[{position}]: "
                                 + _wire_error("size", size_text, self.size_decimals, code))
            if price == 0:
                raise ValueError(f"order_book.{side}[{position}]: price must be > 0")
            self._scratch[start + position].key = price
            self._scratch[start + position].size = size
            position += 1
        return start + count

    cdef int _load_side(self, Side* side, Py_ssize_t start, Py_ssize_t end,
                        bint negate) except -1:
        """Replace a side with scratch[start:end]: sort, keep the last of equal prices, drop zeros."""
        cdef Py_ssize_t count = end - start, i, out = 0
        cdef SortLevel* sorted_levels
        side.count = 0
        if count == 0:
            return 0
        sorted_levels = <SortLevel*>PyMem_Malloc(count * sizeof(SortLevel))
        if sorted_levels is NULL:
            raise MemoryError()
        try:
            for i in range(count):
                sorted_levels[i].key = (-self._scratch[start + i].key if negate
                                        else self._scratch[start + i].key)
                sorted_levels[i].size = self._scratch[start + i].size
                sorted_levels[i].order = i
            qsort(sorted_levels, count, sizeof(SortLevel), _compare_sort_levels)
            _side_reserve(side, count)
            for i in range(count):
                if i + 1 < count and sorted_levels[i + 1].key == sorted_levels[i].key:
                    continue  # a later level for the same price wins
                if sorted_levels[i].size == 0:
                    continue
                side.levels[out].key = sorted_levels[i].key
                side.levels[out].size = sorted_levels[i].size
                out += 1
            side.count = out
        finally:
            PyMem_Free(sorted_levels)
        return 0

    def apply_snapshot(self, order_book):
        """Replace the book with a snapshot; clears stale. False (and stale) if it is crossed."""
        cdef dict frame
        cdef int64_t nonce
        cdef Py_ssize_t asks_end, bids_end
        if not PyDict_Check(order_book):
            raise ValueError(f"order_book must be a dict, got {type(order_book).__name__}")
        frame = <dict>order_book
        nonce = _nonce_field(frame, K_NONCE, "nonce")
        asks_end = self._parse_side(frame, K_ASKS, "asks", 0)
        bids_end = self._parse_side(frame, K_BIDS, "bids", asks_end)
        self._load_side(&self._asks, 0, asks_end, True)
        self._load_side(&self._bids, asks_end, bids_end, False)
        self._nonce = nonce
        self._updated = _mono_now()
        self._stale = self._crossed()
        return not self._stale

    def apply_update(self, order_book):
        """Apply a delta if begin_nonce continues the chain; False (stale) on a gap or cross."""
        cdef dict frame
        cdef int64_t begin_nonce, nonce
        cdef Py_ssize_t asks_end, bids_end, i
        if self._stale:
            return False
        if not PyDict_Check(order_book):
            raise ValueError(f"order_book must be a dict, got {type(order_book).__name__}")
        frame = <dict>order_book
        begin_nonce = _nonce_field(frame, K_BEGIN_NONCE, "begin_nonce")
        nonce = _nonce_field(frame, K_NONCE, "nonce")
        asks_end = self._parse_side(frame, K_ASKS, "asks", 0)
        bids_end = self._parse_side(frame, K_BIDS, "bids", asks_end)
        if begin_nonce != self._nonce or nonce - begin_nonce > MAX_BOOK_NONCE_STEP_C:
            self._stale = True
            return False
        for i in range(asks_end):
            _side_set(&self._asks, -self._scratch[i].key, self._scratch[i].size)
        for i in range(asks_end, bids_end):
            _side_set(&self._bids, self._scratch[i].key, self._scratch[i].size)
        self._nonce = nonce
        self._updated = _mono_now()
        if self._crossed():
            self._stale = True
            return False
        return True

    cdef int _scratch_push(self, Py_ssize_t index, int64_t price, int64_t size) except -1:
        cdef Level* grown
        cdef Py_ssize_t capacity
        if index >= self._scratch_capacity:
            capacity = self._scratch_capacity * 2 if self._scratch_capacity else 64
            grown = <Level*>PyMem_Realloc(self._scratch, capacity * sizeof(Level))
            if grown is NULL:
                raise MemoryError()
            self._scratch = grown
            self._scratch_capacity = capacity
        self._scratch[index].key = price
        self._scratch[index].size = size
        return 0

    cdef cptr _raw_levels(self, cptr p, cptr end, Py_ssize_t* used) except? NULL:
        """Parse `[{"price": "...", "size": "..."}, ...]` (or null) into the scratch buffer."""
        cdef cptr key, price_text, size_text, value_end
        cdef Py_ssize_t key_length, price_length, size_length
        cdef bint done, empty
        cdef int64_t price, size
        p = _skip_ws(p, end)
        if p < end and p[0] == 110 and _literal(p, end, b"null", 4):
            return p + 4
        if p >= end or p[0] != 91:
            return NULL
        p = _skip_ws(p + 1, end)
        if p < end and p[0] == 93:
            return p + 1
        while True:
            p = _open_object(p, end, &empty)
            if p is NULL or empty:
                return NULL
            price_text = NULL
            size_text = NULL
            price_length = size_length = 0
            done = False
            while not done:
                p = _read_key(p, end, &key, &key_length)
                if p is NULL:
                    return NULL
                p = _skip_ws(p, end)
                if _key_is(key, key_length, b"price", 5) or _key_is(key, key_length, b"size", 4):
                    if p >= end or p[0] != 34:
                        return NULL
                    value_end = _string_end(p, end)
                    if value_end is NULL:
                        return NULL
                    if key_length == 5:
                        if price_text is not NULL:
                            return NULL
                        price_text = p + 1
                        price_length = value_end - p - 2
                    else:
                        if size_text is not NULL:
                            return NULL
                        size_text = p + 1
                        size_length = value_end - p - 2
                    p = value_end
                else:
                    p = _skip_value(p, end, 2)
                    if p is NULL:
                        return NULL
                p = _next_member(p, end, &done)
                if p is NULL or (done and (p - 1)[0] != 125):
                    return NULL
            if price_text is NULL or size_text is NULL:
                return NULL
            if _parse_wire_c(<const char*>price_text, price_length, self.price_decimals,
                             &price) != OK or price == 0:
                return NULL
            if _parse_wire_c(<const char*>size_text, size_length, self.size_decimals,
                             &size) != OK:
                return NULL
            self._scratch_push(used[0], price, size)
            used[0] += 1
            p = _next_member(p, end, &done)
            if p is NULL:
                return NULL
            if done:
                return p if (p - 1)[0] == 93 else NULL

    cdef int _raw_update(self, cptr p, Py_ssize_t n) except -2:
        """Scan one update/order_book frame and apply it; -1 when it needs the generic path."""
        cdef cptr end = p + n, key, inner
        cdef Py_ssize_t key_length, used = 0, first_end = 0, asks_start = 0, asks_end = 0
        cdef Py_ssize_t bids_start = 0, bids_end = 0, channel_length, i
        cdef bint done, empty, seen_type = False, seen_channel = False, seen_book = False
        cdef bint seen_nonce, seen_begin, seen_asks, seen_bids
        cdef int64_t nonce = 0, begin_nonce = 0
        cdef const char* channel = self._channel
        channel_length = len(self._channel)
        p = _open_object(p, end, &empty)
        if p is NULL or empty:
            return -1
        done = False
        while not done:
            p = _read_key(p, end, &key, &key_length)
            if p is NULL:
                return -1
            p = _skip_ws(p, end)
            if _key_is(key, key_length, b"type", 4):
                if seen_type or not _literal(p, end, b'"update/order_book"', 19):
                    return -1
                seen_type = True
                p += 19
            elif _key_is(key, key_length, b"channel", 7):
                if (seen_channel or end - p < channel_length + 2 or p[0] != 34
                        or not _literal(p + 1, end, channel, channel_length)
                        or p[channel_length + 1] != 34):
                    return -1
                seen_channel = True
                p += channel_length + 2
            elif _key_is(key, key_length, b"order_book", 10):
                if seen_book:
                    return -1
                seen_book = True
                seen_nonce = seen_begin = seen_asks = seen_bids = False
                p = _open_object(p, end, &empty)
                if p is NULL or empty:
                    return -1
                inner = p
                done = False
                while not done:
                    p = _read_key(p, end, &key, &key_length)
                    if p is NULL:
                        return -1
                    p = _skip_ws(p, end)
                    if _key_is(key, key_length, b"nonce", 5):
                        if seen_nonce:
                            return -1
                        seen_nonce = True
                        p = _uint_value(p, end, &nonce)
                    elif _key_is(key, key_length, b"begin_nonce", 11):
                        if seen_begin:
                            return -1
                        seen_begin = True
                        p = _uint_value(p, end, &begin_nonce)
                    elif _key_is(key, key_length, b"asks", 4):
                        if seen_asks:
                            return -1
                        seen_asks = True
                        asks_start = used
                        p = self._raw_levels(p, end, &used)
                        asks_end = used
                    elif _key_is(key, key_length, b"bids", 4):
                        if seen_bids:
                            return -1
                        seen_bids = True
                        bids_start = used
                        p = self._raw_levels(p, end, &used)
                        bids_end = used
                    else:
                        p = _skip_value(p, end, 1)
                    if p is NULL:
                        return -1
                    p = _next_member(p, end, &done)
                    if p is NULL or (done and (p - 1)[0] != 125):
                        return -1
                if not (seen_nonce and seen_begin):
                    return -1
                done = False
            else:
                p = _skip_value(p, end, 1)
                if p is NULL:
                    return -1
            p = _next_member(p, end, &done)
            if p is NULL or (done and (p - 1)[0] != 125):
                return -1
        if _skip_ws(p, end) != end or not (seen_type and seen_channel and seen_book):
            return -1
        # Same decisions as WsInfo's generic path: stale -> 0, replay -> 2, then apply_update.
        if self._stale:
            return 0
        if nonce <= self._nonce:
            return 2
        if begin_nonce != self._nonce:
            self._stale = True
            return 0
        if nonce - begin_nonce > MAX_BOOK_NONCE_STEP_C:
            self._stale = True
            return 3
        for i in range(asks_start, asks_end):
            _side_set(&self._asks, -self._scratch[i].key, self._scratch[i].size)
        for i in range(bids_start, bids_end):
            _side_set(&self._bids, self._scratch[i].key, self._scratch[i].size)
        self._nonce = nonce
        self._updated = _mono_now()
        if self._crossed():
            self._stale = True
            return 0
        return 1

    def apply_update_raw(self, payload):
        """Apply an `update/order_book` frame straight from its JSON bytes (no dicts).

        Returns 1 applied, 0 not applied (stale, gap or crossed, as `apply_update` False),
        2 a replay (nonce <= book nonce; nothing changed), 3 an implausible nonce step (more
        than MAX_BOOK_NONCE_STEP: not applied, book stale), or -1: not handled here (another
        channel, or JSON outside the scanner's strict subset) -- use the generic path.
        """
        if PyBytes_Check(payload):
            return self._raw_update(<cptr>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        if PyUnicode_Check(payload) and PyUnicode_IS_ASCII(payload):
            return self._raw_update(<cptr>PyUnicode_DATA(payload), PyUnicode_GET_LENGTH(payload))
        return -1

    cdef inline tuple _float_level(self, int64_t price, int64_t size):
        return (_int_to_float(price, self.price_decimals), _int_to_float(size, self.size_decimals))

    def best_bid(self):
        """(price, size) of the highest bid, or None."""
        if self._bids.count == 0:
            return None
        cdef Level* level = &self._bids.levels[self._bids.count - 1]
        return self._float_level(level.key, level.size)

    def best_ask(self):
        """(price, size) of the lowest ask, or None."""
        if self._asks.count == 0:
            return None
        cdef Level* level = &self._asks.levels[self._asks.count - 1]
        return self._float_level(-level.key, level.size)

    cdef list _top(self, Side* side, object n, bint negate, bint as_float):
        cdef Py_ssize_t count = _check_depth(n), i
        cdef list out = []
        cdef Level* level
        cdef int64_t price
        if count > side.count:
            count = side.count
        for i in range(count):
            level = &side.levels[side.count - 1 - i]
            price = -level.key if negate else level.key
            if as_float:
                out.append(self._float_level(price, level.size))
            else:
                out.append((price, level.size))
        return out

    def bids_int(self, n=10):
        """Top `n` bids as wire integers, best first."""
        return self._top(&self._bids, n, False, False)

    def asks_int(self, n=10):
        """Top `n` asks as wire integers, best first."""
        return self._top(&self._asks, n, True, False)

    def bids(self, n=10):
        """Top `n` bids as (price, size) floats, best first."""
        return self._top(&self._bids, n, False, True)

    def asks(self, n=10):
        """Top `n` asks as (price, size) floats, best first."""
        return self._top(&self._asks, n, True, True)

    def mid(self):
        """(best bid + best ask) / 2 as a float, or None if a side is empty."""
        cdef int64_t bid, ask
        if self._bids.count == 0 or self._asks.count == 0:
            return None
        bid = self._bids.levels[self._bids.count - 1].key
        ask = -self._asks.levels[self._asks.count - 1].key
        if bid < EXACT_DOUBLE_LIMIT and ask < EXACT_DOUBLE_LIMIT:
            return <double>(bid + ask) / (2.0 * POW10_D[self.price_decimals])
        return (<object>bid + <object>ask) / (2 * POW10_I[self.price_decimals])

    def spread(self):
        """best ask - best bid as a float, or None if a side is empty."""
        cdef int64_t bid, ask
        if self._bids.count == 0 or self._asks.count == 0:
            return None
        bid = self._bids.levels[self._bids.count - 1].key
        ask = -self._asks.levels[self._asks.count - 1].key
        if bid < EXACT_DOUBLE_LIMIT and ask < EXACT_DOUBLE_LIMIT:
            return <double>(ask - bid) / POW10_D[self.price_decimals]
        return (<object>ask - <object>bid) / POW10_I[self.price_decimals]

    def __repr__(self):
        return (
            f"OrderBook(market_index={self.market_index}, bids={self._bids.count}, "
            f"asks={self._asks.count}, nonce={self._nonce}, stale={self._stale})"
        )


cdef Py_ssize_t _check_depth(object n) except -1:
    """Validate a depth argument (int >= 0)."""
    if PyBool_Check(n) or not PyLong_Check(n):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n > 2**62:
        return 2**62
    return n


def order_book_market(payload):
    """Market index of an `update/order_book` frame from its JSON bytes, else -1 (routing hint).

    Reads the top-level `type` and `channel` only; `OrderBook.apply_update_raw` re-checks both.
    """
    cdef cptr p, end, key
    cdef Py_ssize_t key_length, n
    cdef bint done = False, empty, typed = False
    cdef int64_t market = -1, value
    cdef int digits
    if PyBytes_Check(payload):
        p = <cptr>PyBytes_AS_STRING(payload)
        n = PyBytes_GET_SIZE(payload)
    elif PyUnicode_Check(payload) and PyUnicode_IS_ASCII(payload):
        p = <cptr>PyUnicode_DATA(payload)
        n = PyUnicode_GET_LENGTH(payload)
    else:
        return -1
    end = p + n
    p = _open_object(p, end, &empty)
    if p is NULL or empty:
        return -1
    while not done:
        p = _read_key(p, end, &key, &key_length)
        if p is NULL:
            return -1
        p = _skip_ws(p, end)
        if _key_is(key, key_length, b"type", 4):
            if not _literal(p, end, b'"update/order_book"', 19):
                return -1
            typed = True
            p += 19
        elif _key_is(key, key_length, b"channel", 7):
            if not _literal(p, end, b'"order_book:', 12):
                return -1
            p += 12
            value = 0
            digits = 0
            while p < end and 48 <= p[0] <= 57 and digits < 18:
                value = value * 10 + (p[0] - 48)
                digits += 1
                p += 1
            if digits == 0 or p >= end or p[0] != 34:
                return -1
            market = value
            p += 1
        else:
            p = _skip_value(p, end, 1)
            if p is NULL:
                return -1
        if typed and market >= 0:
            return market
        p = _next_member(p, end, &done)
        if p is NULL or (done and (p - 1)[0] != 125):
            return -1
    return -1
