# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native Lighter L2 signer (the default): Poseidon2, ECgFp5 and Schnorr in C, byte-exact with the .so.

`NativeSigner` is a `SignerBase` (the same interface, validation and `SignedTx`/tx_info output as
`SdkSigner`, signer-spec §4-§5), but signs in-process in microseconds instead of calling the Go
library. Nonces come from a pool of (k, encode(k*G)) pairs filled by a background thread without
the GIL (k from the OS CSPRNG, used once, wiped); when it is empty, k is hedged:
BLAKE2b-512(sk || msg || 32 fresh random bytes) mod n. Guard rails: a self-check against
lighter-sdk's library at first use (`selfcheck`), and `fall_back_to_go_library` (the dealer
calls it on a venue's 21120 to a native signature).
"""

import asyncio
import binascii
import hashlib
import logging
import os
import threading
import time
import weakref

from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.unicode cimport PyUnicode_DecodeASCII

from ..errors import SignerError
from ..protocol import (
    ALL_MARKETS,
    ATTR_CANCEL_ALL_MARKET,
    DEFAULT_ORDER_EXPIRY_MS,
    DEFAULT_TX_EXPIRY_MS,
    TX_TYPE_CANCEL_ALL_ORDERS,
    TX_TYPE_CANCEL_ORDER,
    TX_TYPE_CHANGE_PUB_KEY,
    TX_TYPE_CREATE_GROUPED_ORDERS,
    TX_TYPE_CREATE_ORDER,
    TX_TYPE_MODIFY_ORDER,
    TX_TYPE_UPDATE_LEVERAGE,
    TX_TYPE_UPDATE_MARGIN,
)
from .base import SignerBase
from .types import SignedTx
from .validate import check_nonce


cdef extern from "_native_impl.h" nogil:
    void lf_init()
    void lf_permute(uint64_t *s)
    void lf_hash(const uint64_t *inp, size_t n, uint64_t *out, int m)
    void lf_tx_message(const uint64_t *words, size_t n, const uint64_t *attr8, uint64_t *out)
    void lf_mulgen_encode(const uint64_t *k, uint64_t *out)
    void lf_sc_from_bytes(const uint8_t *b, uint64_t *out)
    void lf_sc_from_wide(const uint8_t *b, uint64_t *out)
    void lf_sign(const uint64_t *sk, const uint64_t *msg, const uint64_t *k, uint8_t *sig)
    void lf_sign_r(const uint64_t *sk, const uint64_t *msg, const uint64_t *k,
                   const uint64_t *r, uint8_t *sig)
    int lf_verify(const uint64_t *pub, const uint64_t *msg, const uint8_t *sig)
    int lf_decodes(const uint64_t *w)
    void sc_load(uint64_t *out, const uint8_t *b)
    long long lf_now_ms()
    void sc_store(uint8_t *b, const uint64_t *x)
    void lf_hex_f5(char *p, const uint64_t *x)
    char *lf_tx_json(char *p, const uint64_t *w, int nf, const char *const *names,
                     const size_t *lens, const uint8_t *sig, const char *tail, size_t tail_len)


cdef extern from "<sys/random.h>" nogil:
    ssize_t getrandom(void *buf, size_t buflen, unsigned int flags)

cdef extern from "<unistd.h>" nogil:
    int getpid()

cdef extern from "<pthread.h>" nogil:
    int pthread_atfork(void (*prepare)(), void (*parent)(), void (*child)())


lf_init()  # the fixed-base table (64 x 16 affine points, 80 KiB), ~2 ms once per process

__all__ = [
    "DEFAULT_NONCE_POOL",
    "N",
    "NativeSigner",
    "hash_no_pad",
    "mul_generator",
    "permute",
    "public_key",
    "schnorr_sign",
    "schnorr_verify",
    "decodes",
    "tx_message",
]

N = 1067993516717146951041484916571792702745057740581727230159139685185762082554198619328292418486241
cdef enum:
    MAX_WORDS = 64
cdef uint64_t MASK64 = 0xFFFFFFFFFFFFFFFF

# Attribute type → its nil value when not 0 (signer-spec §5.3): cancel-all's market is "all".
_ATTR_NIL = {int(ATTR_CANCEL_ALL_MARKET): ALL_MARKETS}
# Job kinds besides the wire tx types (which are all positive): a batch and an auth token.
cdef int _JOB_MANY = -1
cdef int _JOB_TOKEN = -2


# ================================================================================================
# Low-level primitives (also the test surface)
# ================================================================================================


cdef inline bytes _f5_to_bytes(const uint64_t *x):
    cdef uint8_t buf[40]
    sc_store(buf, x)
    return PyBytes_FromStringAndSize(<char *>buf, 40)


cdef bytes _need40(object value, str name):
    if not isinstance(value, bytes) or len(<bytes>value) != 40:
        raise ValueError(f"{name} must be 40 bytes")
    return <bytes>value


def permute(state):
    """The Poseidon2 width-12 permutation of 12 integers (each < 2^64, reduced mod p)."""
    cdef uint64_t s[12]
    cdef int i
    if len(state) != 12:
        raise ValueError("state must hold 12 words")
    for i in range(12):
        s[i] = <uint64_t>(state[i] & MASK64)
        if s[i] >= 0xFFFFFFFF00000001:
            s[i] -= 0xFFFFFFFF00000001
    lf_permute(s)
    return [s[i] for i in range(12)]


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


cdef void _attr_words(object attributes, uint64_t *attr8, bint *present) except *:
    """Sorted non-nil (type, value) pairs padded with (0, 0) to 4 slots (signer-spec §5.3)."""
    cdef int slot = 0
    present[0] = False
    if not attributes:
        return
    pairs = sorted((int(k), int(v)) for k, v in attributes.items())
    pairs = [(k, v) for k, v in pairs if v != _ATTR_NIL.get(k, 0)]
    if len(pairs) > 4:
        raise ValueError("at most 4 attributes")
    memset(attr8, 0, 8 * sizeof(uint64_t))
    for k, v in pairs:
        attr8[2 * slot] = <uint64_t>(k & MASK64)
        attr8[2 * slot + 1] = <uint64_t>(v & MASK64)
        slot += 1
    present[0] = slot > 0


def tx_message(words, attributes=None):
    """The signed message of a tx (80-hex tx_hash as 40 bytes) from its hash words and attributes."""
    cdef uint64_t buf[MAX_WORDS]
    cdef uint64_t attr8[8]
    cdef uint64_t out[5]
    cdef bint present
    cdef Py_ssize_t n = len(words), i
    if n > MAX_WORDS:
        raise ValueError(f"at most {MAX_WORDS} words")
    for i in range(n):
        buf[i] = <uint64_t>(words[i] & MASK64)
    _attr_words(attributes, attr8, &present)
    lf_tx_message(buf, n, attr8 if present else NULL, out)
    return _f5_to_bytes(out)


def mul_generator(k):
    """encode(k*G) as 40 bytes, for any integer k (reduced mod n)."""
    cdef uint64_t sc[5]
    cdef uint64_t out[5]
    raw = (int(k) % N).to_bytes(40, "little")
    lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(raw), sc)
    lf_mulgen_encode(sc, out)
    return _f5_to_bytes(out)


def public_key(private_key):
    """The 40-byte public key (encode(sk*G)) of a 40-byte little-endian private key."""
    cdef uint64_t sk[5]
    cdef uint64_t out[5]
    raw = _need40(private_key, "private_key")
    lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(raw), sk)
    lf_mulgen_encode(sk, out)
    memset(sk, 0, sizeof(sk))
    return _f5_to_bytes(out)


def decodes(w):
    """True if the 40-byte F5 value w is the encoding of a group element."""
    cdef uint64_t x[5]
    raw = _need40(w, "w")
    sc_load(x, <const uint8_t *>PyBytes_AS_STRING(raw))
    return lf_decodes(x) == 1


def schnorr_sign(private_key, message, k=None):
    """80-byte Schnorr signature s || e of a 40-byte message; k (int) only for tests."""
    cdef uint64_t sk[5]
    cdef uint64_t msg[5]
    cdef uint64_t kk[5]
    cdef uint8_t sig[80]
    raw = _need40(private_key, "private_key")
    m = _need40(message, "message")
    lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(raw), sk)
    sc_load(msg, <const uint8_t *>PyBytes_AS_STRING(m))
    _canon5(msg)
    if k is None:
        wide = hashlib.blake2b(raw + m + os.urandom(32), digest_size=64).digest()
        lf_sc_from_wide(<const uint8_t *>PyBytes_AS_STRING(wide), kk)
    else:
        kb = (int(k) % N).to_bytes(40, "little")
        lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(kb), kk)
    lf_sign(sk, msg, kk, sig)
    memset(sk, 0, sizeof(sk))
    memset(kk, 0, sizeof(kk))
    return PyBytes_FromStringAndSize(<char *>sig, 80)


def schnorr_verify(public_key, message, signature):
    """poseidon_crypto's Validate (s, e read mod n): True if signature is valid for message."""
    cdef uint64_t pub[5]
    cdef uint64_t msg[5]
    pk = _need40(public_key, "public_key")
    m = _need40(message, "message")
    if not isinstance(signature, bytes) or len(signature) != 80:
        return False
    sc_load(pub, <const uint8_t *>PyBytes_AS_STRING(pk))
    sc_load(msg, <const uint8_t *>PyBytes_AS_STRING(m))
    _canon5(msg)
    return lf_verify(pub, msg, <const uint8_t *>PyBytes_AS_STRING(signature)) == 1


cdef inline void _canon5(uint64_t *x) noexcept:
    cdef int i
    for i in range(5):
        if x[i] >= 0xFFFFFFFF00000001:
            x[i] -= 0xFFFFFFFF00000001


include "_native_pool.pxi"


# ================================================================================================
# Keys
# ================================================================================================


cdef class _Key:
    """One API private key: its reduced scalar (and raw bytes, for a switch to the Go library) in
    C memory, and a hedge hash primed with it."""

    cdef uint64_t sk[5]
    cdef uint8_t raw[40]
    cdef object hedge
    cdef readonly bytes public_key
    cdef bint wiped
    cdef bint corrupt

    def __cinit__(self, bytes raw):
        cdef uint64_t out[5]
        if len(raw) != 40:
            raise ValueError("private key must be 40 bytes")
        memcpy(self.raw, PyBytes_AS_STRING(raw), 40)
        lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(raw), self.sk)
        self.hedge = hashlib.blake2b(digest_size=64)
        self.hedge.update(raw)
        lf_mulgen_encode(self.sk, out)
        self.public_key = _f5_to_bytes(out)
        self.wiped = False
        self.corrupt = False

    cdef int sign_into(self, const uint64_t *msg, object k, object pool, uint8_t *sig) except -1:
        """Signature (80 bytes at sig) of a canonical message: a pooled nonce, else a hedged random
        k; `k` (an int) is injected by tests and the self-check only."""
        cdef uint64_t kk[5]
        cdef uint64_t rr[5]
        if self.wiped:
            raise SignerError("signer is closed")
        if k is not None:
            kb = (int(k) % N).to_bytes(40, "little")
            lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(kb), kk)
            lf_sign(self.sk, msg, kk, sig)
        elif pool is not None and (<_NoncePool>pool).take(kk, rr):
            lf_sign_r(self.sk, msg, kk, rr, sig)
        else:
            h = self.hedge.copy()
            h.update(_f5_to_bytes(msg))
            h.update(os.urandom(32))
            wide = h.digest()
            lf_sc_from_wide(<const uint8_t *>PyBytes_AS_STRING(wide), kk)
            lf_sign(self.sk, msg, kk, sig)
        memset(kk, 0, sizeof(kk))
        if self.corrupt:
            sig[0] ^= 1
        return 0

    cdef bytes sign(self, const uint64_t *msg, object k, object pool):
        """`sign_into`, as bytes."""
        cdef uint8_t sig[80]
        self.sign_into(msg, k, pool, sig)
        return PyBytes_FromStringAndSize(<char *>sig, 80)

    def _corrupt_for_tests(self, bint on=True):
        """TEST SEAM: make every later signature of this key invalid (one bit of s flipped), to
        show the venue-side guard (21120 → the Go library) against a real verifying node."""
        self.corrupt = on

    def hex(self):
        """The private key as 0x + 80 hex digits (only to hand it to the Go library)."""
        if self.wiped:
            raise SignerError("signer is closed")
        return "0x" + PyBytes_FromStringAndSize(<char *>self.raw, 40).hex()

    def __dealloc__(self):
        memset(self.sk, 0, sizeof(self.sk))
        memset(self.raw, 0, sizeof(self.raw))

    def wipe(self):
        """Forget the key (zero the scalar and bytes, drop the hedge state)."""
        memset(self.sk, 0, sizeof(self.sk))
        memset(self.raw, 0, sizeof(self.raw))
        self.hedge = None
        self.wiped = True

    def __repr__(self):
        return "<_Key redacted>"

    def __reduce__(self):
        raise TypeError("signing keys cannot be pickled")


# ================================================================================================
# NativeSigner
# ================================================================================================


cdef str _attr_json(object attributes):
    if not attributes:
        return "null"
    items = sorted((int(k), int(v)) for k, v in attributes.items())
    return "{" + ",".join([f'"{k}":{v}' for k, v in items]) + "}"


# Flat txs: every field one integer, hashed in the order of its tx_info keys (signer-spec §5).
_ORDER_NAMES = (
    b'"MarketIndex":', b'"ClientOrderIndex":', b'"BaseAmount":', b'"Price":', b'"IsAsk":',
    b'"Type":', b'"TimeInForce":', b'"ReduceOnly":', b'"TriggerPrice":', b'"OrderExpiry":',
)
_FLAT = {
    TX_TYPE_CREATE_ORDER: _ORDER_NAMES,
    TX_TYPE_CANCEL_ORDER: (b'"MarketIndex":', b'"Index":'),
    TX_TYPE_MODIFY_ORDER: (
        b'"MarketIndex":', b'"Index":', b'"BaseAmount":', b'"Price":', b'"TriggerPrice":'
    ),
    TX_TYPE_CANCEL_ALL_ORDERS: (b'"TimeInForce":', b'"Time":'),
    TX_TYPE_UPDATE_LEVERAGE: (b'"MarketIndex":', b'"InitialMarginFraction":', b'"MarginMode":'),
}
cdef long long _TX_EXPIRY = DEFAULT_TX_EXPIRY_MS
cdef long long _ORDER_EXPIRY = DEFAULT_ORDER_EXPIRY_MS
cdef uint64_t _CREATE = TX_TYPE_CREATE_ORDER
_new_tuple = tuple.__new__  # SignedTx without its Python-level __new__


cdef str _fields(tuple names, tuple row):
    """`"Name":value,` for every field of a flat tx (the general path's text)."""
    return "".join([f"{n.decode()}{v}," for n, v in zip(names, row)])


cdef tuple _with_expiry(tuple row, object now_ms):
    if row[9] == -1:
        return row[:9] + (now_ms + DEFAULT_ORDER_EXPIRY_MS,)
    return row


def _leaf(tuple row):
    return hash_no_pad(row, 4)


cdef inline bint _u63(object v, uint64_t *out) except -1:
    """v as a word if it is an int in [0, 2^63): then its hashed word and its text are plain."""
    cdef int overflow = 0
    cdef long long x
    if not PyLong_CheckExact(v):
        return False
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or x < 0:
        return False
    out[0] = <uint64_t>x
    return True


cdef object _sign_job(object signer, tuple job, object expired_at, object attributes, object k):
    """Hash, sign and format one prepared tx: flat ones on the C path, the rest in Python."""
    cdef uint64_t expired
    if expired_at is None:
        clock = signer._clock_ms
        if clock is _now_ms:
            expired = <uint64_t>(lf_now_ms() + _TX_EXPIRY)  # `_now_ms()`, in C
            out = _sign_flat(signer, job, expired, attributes, k)
            return out if out is not None else _sign_general(signer, job, expired, attributes, k)
        expired_at = clock() + DEFAULT_TX_EXPIRY_MS
    if _u63(expired_at, &expired):
        out = _sign_flat(signer, job, expired, attributes, k)
        if out is not None:
            return out
    return _sign_general(signer, job, expired_at, attributes, k)


cdef object _sign_flat(object signer, tuple job, uint64_t expired, object attributes, object k):
    """A flat tx whose words are all ints in [0, 2^63), hashed, signed and printed in C (the same
    text as `_sign_general`); None, before any signing, for anything else."""
    cdef uint64_t buf[16]
    cdef uint64_t attr8[8]
    cdef uint64_t msg[5]
    cdef uint8_t sig[80]
    cdef char text[1024]
    cdef char digest[80]
    cdef char *end
    cdef const char *nm[10]
    cdef size_t ln[10]
    cdef bint present = False
    cdef Py_ssize_t i, nf
    cdef long long order_expiry
    cdef bytes name, tail = b"null}"
    tx_type, key_pair, nonce, row = job
    names = _FLAT.get(tx_type)
    if names is None or type(row) is not tuple:
        return None
    nf = len(<tuple>names)
    index, key_obj = key_pair
    if (len(<tuple>row) != nf or not _u63(signer._chain_id, &buf[0])
            or not _u63(tx_type, &buf[1]) or not _u63(nonce, &buf[2])
            or not _u63(signer._account_index, &buf[4]) or not _u63(index, &buf[5])):
        return None
    buf[3] = expired
    for i in range(nf):
        w = (<tuple>row)[i]
        if not _u63(w, &buf[6 + i]):
            if i != 9 or buf[1] != _CREATE or w != -1:  # -1: the default, now + 28 days
                return None
            order_expiry = <long long>expired - _TX_EXPIRY + _ORDER_EXPIRY
            if order_expiry < 0:
                return None
            buf[6 + i] = <uint64_t>order_expiry
    if attributes is not None:
        _attr_words(attributes, attr8, &present)
        tail = (_attr_json(attributes) + "}").encode("ascii")
        if len(tail) > 256:
            return None
    for i in range(nf):
        name = <bytes>(<tuple>names)[i]
        nm[i] = PyBytes_AS_STRING(name)
        ln[i] = <size_t>PyBytes_GET_SIZE(name)
    lf_tx_message(buf, 6 + nf, attr8 if present else NULL, msg)
    (<_Key>key_obj).sign_into(msg, k, signer._pool, sig)
    end = lf_tx_json(text, buf, <int>nf, nm, ln, sig, PyBytes_AS_STRING(tail),
                     <size_t>PyBytes_GET_SIZE(tail))
    lf_hex_f5(digest, msg)
    return _new_tuple(SignedTx, (
        tx_type, PyUnicode_DecodeASCII(text, end - text, NULL), PyUnicode_DecodeASCII(digest, 80, NULL)
    ))


cdef object _sign_general(object signer, tuple job, object expired_at, object attributes, object k):
    """Any prepared tx, formatted in Python (grouped orders, margin, pub key, odd values)."""
    cdef uint64_t buf[MAX_WORDS]
    cdef uint64_t attr8[8]
    cdef uint64_t msg[5]
    cdef bint present
    cdef Py_ssize_t n, i
    cdef _Key key
    tx_type, key_pair, nonce, row = job
    index, key_obj = key_pair
    key = <_Key>key_obj
    now = expired_at - DEFAULT_TX_EXPIRY_MS
    names = _FLAT.get(tx_type)
    if names is not None:
        if tx_type == TX_TYPE_CREATE_ORDER:
            row = _with_expiry(row, now)
        body = row
        mid = _fields(names, row)
    elif tx_type == TX_TYPE_CREATE_GROUPED_ORDERS:
        grouping_type, orders = row
        orders = [_with_expiry(tuple(o), now) for o in orders]
        leaf = _leaf(orders[0])
        for o in orders[1:]:
            leaf = hash_no_pad(leaf + _leaf(o), 4)
        body = (grouping_type, *leaf)
        mid = (
            f'"GroupingType":{grouping_type},"Orders":['
            + ",".join(["{" + _fields(_ORDER_NAMES, o).rstrip(",") + "}" for o in orders]) + "],"
        )
    elif tx_type == TX_TYPE_UPDATE_MARGIN:  # the amount is hashed as two 32-bit words
        body = (row[0], row[1] & 0xFFFFFFFF, row[1] >> 32, row[2])
        mid = f'"MarketIndex":{row[0]},"USDCAmount":{row[1]},"Direction":{row[2]},'
    elif tx_type == TX_TYPE_CHANGE_PUB_KEY:
        raw = <bytes>row
        body = tuple(int.from_bytes(raw[8 * i: 8 * i + 8], "little") for i in range(5))
        mid = f'"PubKey":"{binascii.b2a_base64(raw, newline=False).decode()}","L1Sig":"",'
    else:
        raise ValueError(f"unsupported tx_type {tx_type}")
    buf[0] = <uint64_t>signer._chain_id
    buf[1] = <uint64_t>tx_type
    buf[2] = <uint64_t>nonce
    buf[3] = <uint64_t>(expired_at & MASK64)
    buf[4] = <uint64_t>signer._account_index
    buf[5] = <uint64_t>index
    n = 6
    for w in body:
        buf[n] = <uint64_t>(w & MASK64)
        n += 1
    _attr_words(attributes, attr8, &present)
    lf_tx_message(buf, n, attr8 if present else NULL, msg)
    sig = key.sign(msg, k, signer._pool)
    tx_info = (
        f'{{"AccountIndex":{signer._account_index},"ApiKeyIndex":{buf[5]},{mid}'
        f'"ExpiredAt":{expired_at},"Nonce":{nonce},'
        f'"Sig":"{binascii.b2a_base64(sig, newline=False).decode()}",'
        f'"L2TxAttributes":{_attr_json(attributes)}}}'
    )
    return SignedTx(tx_type, tx_info, _f5_to_bytes(msg).hex())


class NativeSigner(SignerBase):
    """In-process signer (C Poseidon2 + ECgFp5 Schnorr), same interface and output as SdkSigner.

    The dealer's default. `nonce_pool` precomputed nonces (0: none). If the process's self-check
    against lighter-sdk's library finds any difference, or `fall_back_to_go_library` is called
    (the dealer does on a 21120 to a native signature), it signs through an inner `SdkSigner`.
    Thread-safe (each call holds the GIL for its few microseconds); async twins run inline.
    Keys live in C memory, never in reprs.
    """

    def __init__(self, account_index, api_keys, *, chain_id=None, base_url=None,
                 nonce_pool=DEFAULT_NONCE_POOL):
        self._pool_size = _check_pool(nonce_pool)
        super().__init__(account_index, api_keys, chain_id=chain_id, base_url=base_url)

    @classmethod
    async def create(cls, account_index, api_keys, *, chain_id=None, base_url=None,
                     nonce_pool=DEFAULT_NONCE_POOL):
        """Like the constructor, but an unknown host is asked for its chain id, and the
        self-check (once per process) runs off the event loop."""
        from . import selfcheck

        chain_id = await cls._create_chain_id(chain_id, base_url)
        if not selfcheck.done():
            await asyncio.to_thread(selfcheck.ensure)
        return cls(account_index, api_keys, chain_id=chain_id, base_url=base_url,
                   nonce_pool=nonce_pool)

    def _open(self, keys, base_url):
        from . import selfcheck

        self._keys = {index: _Key(bytes.fromhex(text.decode("ascii"))) for index, text in keys}
        self._clock_ms = _now_ms
        self._fallback = None
        self._pool = _NoncePool(self._pool_size) if self._pool_size else None
        self._closed = False
        problem = selfcheck.ensure()
        if problem is not None:
            self.fall_back_to_go_library(f"self-check: {problem}", quiet=True)

    @property
    def engine(self):
        """"native" (this module's C code) or "sdk" (after a switch to lighter-sdk's library)."""
        return "native" if self._fallback is None else "sdk"

    @property
    def nonce_pool(self):
        """The pool's counters (ready, taken, misses, made, discarded), or None without one."""
        return None if self._pool is None else self._pool.stats()

    def fall_back_to_go_library(self, reason, *, quiet=False):
        """Sign through lighter-sdk's Go library (an inner SdkSigner) from now on; True if this
        call switched, False if it already did. Logs one WARNING naming `reason`."""
        from .sdk import SdkSigner

        if self._fallback is not None:
            return False
        self._check_open()
        keys = {index: (<_Key>key).hex() for index, key in self._keys.items()}
        self._fallback = SdkSigner(self._account_index, keys, chain_id=self._chain_id)
        del keys
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if not quiet:
            _log.warning(
                "account %d: switching signing to lighter-sdk's Go library (%s)",
                self._account_index, reason,
            )
        return True

    async def afall_back_to_go_library(self, reason):
        """Async twin of `fall_back_to_go_library` (the library is set up off the loop)."""
        if self._fallback is not None:
            return False
        return await asyncio.to_thread(self.fall_back_to_go_library, reason)

    def public_key(self, api_key_index):
        """The 0x-prefixed public key of one of this signer's API keys."""
        return "0x" + (<_Key>self._keys[self._key_index(api_key_index)]).public_key.hex()

    def __reduce__(self):
        raise TypeError("NativeSigner holds private keys and cannot be pickled")

    # -- the hooks of SignerBase: a job is (kind, (key index, key), nonce, row) -------------

    def _job(self, int tx_type, api_key_index, nonce, row):
        return (tx_type, (api_key_index, self._keys[api_key_index]), nonce, row)

    def _many_job(self, list jobs):
        return (_JOB_MANY, None, 0, jobs)

    def _token_job(self, api_key_index, deadline):
        return (_JOB_TOKEN, (api_key_index, self._keys[api_key_index]), 0, deadline)

    def _run(self, tuple job):
        """Sign inline (microseconds), or through the Go library after a switch."""
        if self._closed:  # SignerBase._check_open, inlined: this is the hot path
            raise SignerError("signer is closed")
        if self._fallback is not None:
            return self._fallback._run(self._go_job(job))
        kind = job[0]
        if kind == _JOB_MANY:
            return [_sign_job(self, <tuple>one, None, None, None) for one in <list>job[3]]
        if kind == _JOB_TOKEN:
            return self._token(job, None)
        return _sign_job(self, job, None, None, None)

    async def _arun(self, tuple job):
        """Signing takes microseconds, so the async twins run inline too (not the Go library)."""
        if self._fallback is not None and not self._closed:
            return await self._fallback._arun(self._go_job(job))
        return self._run(job)

    def _go_job(self, tuple job):
        """The inner SdkSigner's job for one of ours (the same validated rows)."""
        go = self._fallback
        kind = job[0]
        if kind == _JOB_MANY:
            return go._many_job([self._go_job(one) for one in <list>job[3]])
        if kind == _JOB_TOKEN:
            return go._token_job(job[1][0], job[3])
        return go._job(kind, job[1][0], job[2], job[3])

    def _prep_change_pub_key(self, *, pub_key, nonce, api_key_index):
        text = pub_key[2:] if pub_key[:2] in ("0x", "0X") else pub_key
        raw = bytes.fromhex(text)
        if len(raw) != 40:
            raise ValueError("pub_key must be 40 bytes (80 hex digits)")
        return self._job(TX_TYPE_CHANGE_PUB_KEY, self._key_index(api_key_index), check_nonce(nonce), raw)

    # -- signing -----------------------------------------------------------------------------

    def _sign(self, tuple job, object expired_at=None, object attributes=None, object k=None):
        """Hash, sign and format one prepared tx; `expired_at`, `attributes`, `k` for tests."""
        return _sign_job(self, job, expired_at, attributes, k)

    def _sign_with_k(self, kind, k, *, expired_at, attributes=None, **kwargs):
        """TEST ONLY: sign with an injected nonce k, ExpiredAt and attributes (byte-exact checks)."""
        if kind == "change_pub_key":
            job = self._prep_change_pub_key(**kwargs)
        else:
            job = self._preparers[kind](self, **kwargs)
        return self._sign(job, expired_at, attributes, k)

    def _auth_token(self, deadline, api_key_index, k):
        """TEST ONLY: `create_auth_token` with an injected nonce k (byte-exact checks)."""
        job = self._prep_auth_token(deadline, api_key_index)
        self._check_open()
        return self._token(job, k)

    def _token(self, tuple job, object k):
        """Sign `{deadline}:{account}:{key}` (Poseidon2 of its ASCII bytes in 8-byte words)."""
        cdef uint64_t buf[MAX_WORDS]
        cdef uint64_t msg[5]
        cdef Py_ssize_t n = 0, i
        cdef _Key key
        _, key_pair, _, value = job
        index, key_obj = key_pair
        key = <_Key>key_obj
        message = f"{value}:{self._account_index}:{index}"
        raw = message.encode("ascii")
        for i in range(0, len(raw), 8):
            buf[n] = int.from_bytes(raw[i: i + 8], "little")
            n += 1
        lf_hash(buf, n, msg, 5)
        return message + ":" + key.sign(msg, k, self._pool).hex()

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self):
        """Wipe the keys and the unused nonces; later signing raises SignerError. Idempotent."""
        self._closed = True
        for key in self._keys.values():
            (<_Key>key).wipe()
        if self._pool is not None:
            self._pool.close()
        if self._fallback is not None:
            self._fallback.close()


def _check_pool(value):
    """nonce_pool: an int 0..4096 (0 = no pool)."""
    if type(value) is not int:
        raise TypeError(f"nonce_pool must be an int, got {type(value).__name__}")
    if value < 0 or value > _POOL_MAX:
        raise ValueError(f"nonce_pool must be in 0..{_POOL_MAX}, got {value}")
    return value


def _now_ms():
    return time.time_ns() // 1_000_000
