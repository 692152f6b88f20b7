# OrderBook C side arrays and the strict raw JSON scanner for update/order_book frames.
# Textual include of _core.pyx (Cython `include`): it shares that module's cimports and names.

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
