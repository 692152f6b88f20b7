# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The node's own compiled verifier: Poseidon2 sponge and ECgFp5 Schnorr verify (signer-spec §4.2).

Built from the client's C header (`signing/_native_impl.h`, via `_verify_impl.h`) but imports
nothing of the client at the Python level, so the node stays independent of `lighterfast.signing`.
Each public key gets a 80 KiB table of its multiples once (cached, bounded), so a verify costs
two table walks instead of the core's 320 doublings. Public data only.
"""

from libc.stdint cimport uint8_t, uint64_t
from cpython.bytes cimport PyBytes_AS_STRING


cdef extern from "_verify_impl.h" nogil:
    void lf_init()
    void lf_hash(const uint64_t *inp, size_t n, uint64_t *out, int m)
    int lf_verify(const uint64_t *pub, const uint64_t *msg, const uint8_t *sig)
    void *lfn_table_new(const uint64_t *pub)
    void lfn_table_free(void *tab)
    int lfn_verify(const void *qtab, const uint64_t *msg, const uint8_t *sig)


lf_init()  # the fixed-base table for s*G (~2 ms once per process)

__all__ = ["hash_no_pad", "schnorr_verify", "schnorr_verify_reference"]

cdef enum:
    MAX_WORDS = 64
cdef uint64_t MASK64 = 0xFFFFFFFFFFFFFFFF
cdef uint64_t PRIME = 0xFFFFFFFF00000001
cdef Py_ssize_t MAX_TABLES = 128  # 80 KiB each: at most ~10 MiB of key tables


cdef class _KeyTable:
    """The multiples table of one public key (NULL: the key encodes no point)."""

    cdef void *tab

    def __dealloc__(self):
        if self.tab != NULL:
            lfn_table_free(self.tab)


cdef dict _tables = {}


cdef _KeyTable _table(bytes public_key):
    cdef _KeyTable t = _tables.get(public_key)
    cdef uint64_t pub[5]
    if t is None:
        _f5_read(<const uint8_t *>PyBytes_AS_STRING(public_key), pub)
        t = _KeyTable()
        t.tab = lfn_table_new(pub)
        if len(_tables) >= MAX_TABLES:
            _tables.clear()
        _tables[public_key] = t
    return t


cdef inline void _f5_read(const uint8_t *b, uint64_t *out) noexcept:
    """Five little-endian u64 words from 40 bytes."""
    cdef int i, j
    cdef uint64_t v
    for i in range(5):
        v = 0
        for j in range(7, -1, -1):
            v = (v << 8) | b[8 * i + j]
        out[i] = v


def hash_no_pad(words, int m):
    """Overwrite-mode Poseidon2 sponge (rate 8, no padding): the first m (1..12) output words."""
    cdef uint64_t buf[MAX_WORDS]
    cdef uint64_t out[12]
    cdef Py_ssize_t n = len(words), i
    if m < 1 or m > 12:
        raise ValueError("m must be in 1..12")
    if n > MAX_WORDS:
        raise ValueError(f"at most {MAX_WORDS} words")
    for i in range(n):
        buf[i] = <uint64_t>(words[i] & MASK64)
    lf_hash(buf, n, out, m)
    return [out[i] for i in range(m)]


cdef bint _message(bytes message, uint64_t *msg):
    """Read a 40-byte message hash; False unless canonical (a hash always is)."""
    cdef int i
    _f5_read(<const uint8_t *>PyBytes_AS_STRING(message), msg)
    for i in range(5):
        if msg[i] >= PRIME:
            return False
    return True


def schnorr_verify(bytes public_key, bytes message, bytes signature):
    """True iff the 80-byte signature s||e signs the 40-byte message for the 40-byte public key.

    Any other length is simply invalid (False): the inputs come from the wire.
    """
    cdef uint64_t msg[5]
    cdef _KeyTable t
    if len(public_key) != 40 or len(message) != 40 or len(signature) != 80:
        return False
    if not _message(message, msg):
        return False
    t = _table(public_key)
    if t.tab == NULL:
        return False
    return lfn_verify(t.tab, msg, <const uint8_t *>PyBytes_AS_STRING(signature)) == 1


def schnorr_verify_reference(bytes public_key, bytes message, bytes signature):
    """`schnorr_verify` through the core's own lf_verify (no table): the reference for tests."""
    cdef uint64_t pub[5]
    cdef uint64_t msg[5]
    if len(public_key) != 40 or len(message) != 40 or len(signature) != 80:
        return False
    if not _message(message, msg):
        return False
    _f5_read(<const uint8_t *>PyBytes_AS_STRING(public_key), pub)
    return lf_verify(pub, msg, <const uint8_t *>PyBytes_AS_STRING(signature)) == 1
