# The nonce pool: _NoncePool, _fill_loop, _random_k and the pid cache.
# Textual include of _native.pyx (Cython `include`): it shares that module's cimports and names.

# ================================================================================================
# The nonce pool: (k, encode(k*G)) pairs made off the critical path
# ================================================================================================

DEFAULT_NONCE_POOL = 64  # pairs per signer (~25 µs each to make); 0 turns the pool off
cdef int _POOL_MAX = 4096
cdef int _pid_cache = 0
_log = logging.getLogger("lighterfast.signing")


cdef void _forget_pid() noexcept nogil:
    """pthread_atfork child handler: the next pid check asks the kernel again."""
    global _pid_cache
    _pid_cache = 0


cdef inline int _pid() noexcept nogil:
    """This process's id, cached until a fork (any fork: the handler is the C library's)."""
    global _pid_cache
    if _pid_cache == 0:
        _pid_cache = getpid()
    return _pid_cache


pthread_atfork(NULL, NULL, _forget_pid)


cdef int _random_k(uint64_t *k) noexcept nogil:
    """k = 64 bytes from the OS CSPRNG (getrandom) reduced mod n; 0 if the kernel refused."""
    cdef uint8_t wide[64]
    cdef ssize_t got
    cdef size_t have = 0
    while have < 64:
        got = getrandom(wide + have, 64 - have, 0)
        if got <= 0:
            memset(wide, 0, 64)
            return 0
        have += <size_t>got
    lf_sc_from_wide(wide, k)
    memset(wide, 0, 64)
    return 1


cdef class _NoncePool:
    """A bounded stack of precomputed (k, encode(k*G)) pairs for one signer.

    A daemon thread refills it (the curve work without the GIL) when it falls to its low-water
    mark; `take` never blocks: an empty pool makes the caller sign the normal way. A pair is
    copied out and its slot zeroed, so no k is handed out twice; a forked child notices the pid
    change, wipes what it inherited and fills its own.
    """

    cdef uint64_t *slots  # capacity x 10 words: k[5] then r[5]
    cdef readonly int capacity
    cdef readonly int count
    cdef readonly int low_water
    cdef int pid
    cdef readonly bint closed
    cdef bint requested
    cdef bint broken
    cdef object wake
    cdef object thread
    cdef readonly unsigned long long taken
    cdef readonly unsigned long long misses
    cdef readonly unsigned long long made
    cdef readonly unsigned long long discarded
    cdef object __weakref__

    def __cinit__(self, int capacity):
        if capacity < 1 or capacity > _POOL_MAX:
            raise ValueError(f"nonce_pool must be in 0..{_POOL_MAX}, got {capacity}")
        self.slots = <uint64_t *>malloc(<size_t>capacity * 10 * sizeof(uint64_t))
        if self.slots == NULL:
            raise MemoryError()
        memset(self.slots, 0, <size_t>capacity * 10 * sizeof(uint64_t))
        self.capacity = capacity
        self.low_water = capacity // 2
        self.count = 0
        self.pid = _pid()
        self.wake = threading.Event()
        self._start()

    def __dealloc__(self):
        if self.slots != NULL:
            memset(self.slots, 0, <size_t>self.capacity * 10 * sizeof(uint64_t))
            free(self.slots)
            self.slots = NULL
        wake = self.wake
        if wake is not None:  # the filler sees its pool gone and ends now, not in 0.5 s
            try:
                wake.set()
            except Exception:
                pass

    def _start(self):
        self.requested = True
        self.wake.set()
        self.thread = threading.Thread(
            target=_fill_loop, args=(weakref.ref(self),), name="lighterfast-nonces", daemon=True
        )
        self.thread.start()

    cdef void _wipe(self) noexcept:
        memset(self.slots, 0, <size_t>self.capacity * 10 * sizeof(uint64_t))
        self.count = 0

    cdef bint take(self, uint64_t *k, uint64_t *r) except -1:
        """Copy one unused pair out (and zero its slot); False when there is none."""
        cdef uint64_t *slot
        if self.pid != _pid():  # a forked child: the parent's pairs are never ours to use
            self._after_fork()
        if self.count == 0:
            self.misses += 1
            if not self.requested and not self.closed:
                self.requested = True
                self.wake.set()
            return False
        self.count -= 1
        slot = self.slots + 10 * self.count
        memcpy(k, slot, 5 * sizeof(uint64_t))
        memcpy(r, slot + 5, 5 * sizeof(uint64_t))
        memset(slot, 0, 10 * sizeof(uint64_t))
        self.taken += 1
        if self.count <= self.low_water and not self.requested and not self.closed:
            self.requested = True
            self.wake.set()
        return True

    cdef void _after_fork(self) except *:
        self.discarded += self.count
        self._wipe()
        self.pid = _pid()
        self.wake = threading.Event()  # the parent's thread and event state stay behind
        if not self.closed and not self.broken:
            self._start()

    cdef int _fill(self) except -1:
        """Top the pool up (run by the filler thread): 1 to keep going, 0 to stop."""
        cdef int need, i, fresh = 0, pid = self.pid
        cdef uint64_t *buf
        cdef int ok = 1
        if self.closed or self.broken or pid != _pid():
            return 0
        need = self.capacity - self.count
        if need <= 0:
            self.requested = False
            return 1
        buf = <uint64_t *>malloc(<size_t>need * 10 * sizeof(uint64_t))
        if buf == NULL:
            return 0
        with nogil:
            for i in range(need):
                if not _random_k(buf + 10 * i):
                    ok = 0
                    break
                lf_mulgen_encode(buf + 10 * i, buf + 10 * i + 5)
                fresh += 1
        if not self.closed and pid == self.pid and pid == _pid():
            i = self.capacity - self.count
            if fresh > i:
                fresh = i
            memcpy(self.slots + 10 * self.count, buf, <size_t>fresh * 10 * sizeof(uint64_t))
            self.count += fresh
            self.made += fresh
        memset(buf, 0, <size_t>need * 10 * sizeof(uint64_t))
        free(buf)
        self.requested = False
        if not ok:
            self.broken = True
            _log.warning("nonce pool: the OS CSPRNG (getrandom) failed; signing without the pool")
            return 0
        return 1

    def close(self):
        """Wipe every unused pair and stop refilling. Idempotent."""
        self.closed = True
        self._wipe()
        self.wake.set()

    def wait_full(self, timeout=5.0):
        """Block until the pool is full (benchmarks and tests); True if it is."""
        deadline = time.monotonic() + timeout
        while self.count < self.capacity and time.monotonic() < deadline:
            if not self.requested:
                self.requested = True
                self.wake.set()
            time.sleep(0.0005)
        return self.count >= self.capacity

    def stats(self):
        """Counters: pairs ready now, handed out, misses (empty pool), made, discarded at fork."""
        return {
            "capacity": self.capacity, "ready": self.count, "taken": self.taken,
            "misses": self.misses, "made": self.made, "discarded": self.discarded,
        }

    def __repr__(self):
        return f"<_NoncePool {self.count}/{self.capacity}>"

    def __reduce__(self):
        raise TypeError("nonce pools cannot be pickled")


def _fill_loop(ref):
    """The filler thread: refill when asked (or every 0.5 s), end with the pool or its process.

    It runs at a lower scheduling priority (Linux: per thread), so that on a busy machine the
    refill yields to the thread that signs and to the socket's peer."""
    cdef _NoncePool pool
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not permitted: the default priority
        pass
    while True:
        obj = ref()
        if obj is None:
            return
        pool = <_NoncePool>obj
        wake = pool.wake
        wake.clear()
        if not pool._fill():
            return
        del pool, obj
        wake.wait(0.5)
