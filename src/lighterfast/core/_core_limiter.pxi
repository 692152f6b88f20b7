# WeightLimiter.
# Textual include of _core.pyx (Cython `include`): it shares that module's cimports and names.

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
