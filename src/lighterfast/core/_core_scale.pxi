# Decimal text parsing (no float, no Decimal) and Scale.
# Textual include of _core.pyx (Cython `include`): it shares that module's cimports and names.

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
