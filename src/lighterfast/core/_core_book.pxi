# OrderBook and order_book_market.
# Textual include of _core.pyx (Cython `include`): it shares that module's cimports and names.

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
