# CoiCache and the order-list checks it uses.
# Textual include of _core.pyx (Cython `include`): it shares that module's cimports and names.

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
