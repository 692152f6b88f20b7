# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native Lighter L2 signer (opt-in): Poseidon2, ECgFp5 and Schnorr in C, byte-exact with the .so.

`NativeSigner` is a `SignerBase` (the same interface, validation and `SignedTx`/tx_info output as
`SdkSigner`, signer-spec §4-§5), but signs in-process in microseconds instead of calling the Go
library. Nonces are hedged: k = BLAKE2b-512(sk || msg || 32 fresh random bytes) mod n, never reused.
"""

import binascii
import hashlib
import os
import time

from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memset
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

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
    int lf_verify(const uint64_t *pub, const uint64_t *msg, const uint8_t *sig)
    int lf_decodes(const uint64_t *w)


lf_init()  # the fixed-base table (64 x 16 affine points, 80 KiB), ~2 ms once per process

__all__ = [
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


cdef inline void _f5_from_bytes(const uint8_t *b, uint64_t *out) noexcept:
    cdef int i, j
    cdef uint64_t v
    for i in range(5):
        v = 0
        for j in range(7, -1, -1):
            v = (v << 8) | b[8 * i + j]
        out[i] = v


cdef inline bytes _f5_to_bytes(const uint64_t *x):
    cdef uint8_t buf[40]
    cdef int i, j
    for i in range(5):
        for j in range(8):
            buf[8 * i + j] = <uint8_t>(x[i] >> (8 * j))
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
    _f5_from_bytes(<const uint8_t *>PyBytes_AS_STRING(raw), x)
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
    _f5_from_bytes(<const uint8_t *>PyBytes_AS_STRING(m), msg)
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
    _f5_from_bytes(<const uint8_t *>PyBytes_AS_STRING(pk), pub)
    _f5_from_bytes(<const uint8_t *>PyBytes_AS_STRING(m), msg)
    _canon5(msg)
    return lf_verify(pub, msg, <const uint8_t *>PyBytes_AS_STRING(signature)) == 1


cdef inline void _canon5(uint64_t *x) noexcept:
    cdef int i
    for i in range(5):
        if x[i] >= 0xFFFFFFFF00000001:
            x[i] -= 0xFFFFFFFF00000001


# ================================================================================================
# Keys
# ================================================================================================


cdef class _Key:
    """One API private key: its reduced scalar in C memory and a hedge hash primed with it."""

    cdef uint64_t sk[5]
    cdef object hedge
    cdef readonly bytes public_key
    cdef bint wiped

    def __cinit__(self, bytes raw):
        cdef uint64_t out[5]
        if len(raw) != 40:
            raise ValueError("private key must be 40 bytes")
        lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(raw), self.sk)
        self.hedge = hashlib.blake2b(digest_size=64)
        self.hedge.update(raw)
        lf_mulgen_encode(self.sk, out)
        self.public_key = _f5_to_bytes(out)
        self.wiped = False

    cdef bytes sign(self, const uint64_t *msg, object k):
        """Signature bytes of a canonical message; hedged random k unless one is injected."""
        cdef uint64_t kk[5]
        cdef uint8_t sig[80]
        if self.wiped:
            raise SignerError("signer is closed")
        if k is None:
            h = self.hedge.copy()
            h.update(_f5_to_bytes(msg))
            h.update(os.urandom(32))
            wide = h.digest()
            lf_sc_from_wide(<const uint8_t *>PyBytes_AS_STRING(wide), kk)
        else:
            kb = (int(k) % N).to_bytes(40, "little")
            lf_sc_from_bytes(<const uint8_t *>PyBytes_AS_STRING(kb), kk)
        lf_sign(self.sk, msg, kk, sig)
        memset(kk, 0, sizeof(kk))
        return PyBytes_FromStringAndSize(<char *>sig, 80)

    def __dealloc__(self):
        memset(self.sk, 0, sizeof(self.sk))

    def wipe(self):
        """Forget the key (zero the scalar, drop the hedge state)."""
        memset(self.sk, 0, sizeof(self.sk))
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


cdef str _order_fields(tuple row):
    return (
        f'"MarketIndex":{row[0]},"ClientOrderIndex":{row[1]},"BaseAmount":{row[2]},'
        f'"Price":{row[3]},"IsAsk":{row[4]},"Type":{row[5]},"TimeInForce":{row[6]},'
        f'"ReduceOnly":{row[7]},"TriggerPrice":{row[8]},"OrderExpiry":{row[9]}'
    )


cdef tuple _with_expiry(tuple row, object now_ms):
    if row[9] == -1:
        return row[:9] + (now_ms + DEFAULT_ORDER_EXPIRY_MS,)
    return row


def _leaf(tuple row):
    return hash_no_pad(row, 4)


class NativeSigner(SignerBase):
    """In-process signer (C Poseidon2 + ECgFp5 Schnorr), same interface and output as SdkSigner.

    Opt-in: pass it as `signer=` where a signer is taken. Thread-safe (each call holds the GIL
    for its few microseconds); async twins run inline. Keys live in C memory, never in reprs.
    """

    def _open(self, keys, base_url):
        self._keys = {index: _Key(bytes.fromhex(text.decode("ascii"))) for index, text in keys}
        self._clock_ms = _now_ms
        self._closed = False

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
        """Sign inline (microseconds)."""
        if self._closed:  # SignerBase._check_open, inlined: this is the hot path
            raise SignerError("signer is closed")
        kind = job[0]
        if kind == _JOB_MANY:
            return [self._sign(one) for one in <list>job[3]]
        if kind == _JOB_TOKEN:
            return self._token(job, None)
        return self._sign(job)

    async def _arun(self, tuple job):
        """Signing takes microseconds, so the async twins run inline too."""
        return self._run(job)

    def _prep_change_pub_key(self, *, pub_key, nonce, api_key_index):
        text = pub_key[2:] if pub_key[:2] in ("0x", "0X") else pub_key
        raw = bytes.fromhex(text)
        if len(raw) != 40:
            raise ValueError("pub_key must be 40 bytes (80 hex digits)")
        return self._job(TX_TYPE_CHANGE_PUB_KEY, self._key_index(api_key_index), check_nonce(nonce), raw)

    # -- signing -----------------------------------------------------------------------------

    def _sign(self, tuple job, object expired_at=None, object attributes=None, object k=None):
        """Hash, sign and format one prepared tx; `expired_at`, `attributes`, `k` for tests."""
        cdef uint64_t buf[MAX_WORDS]
        cdef uint64_t attr8[8]
        cdef uint64_t msg[5]
        cdef bint present
        cdef Py_ssize_t n, i
        cdef _Key key
        tx_type, key_pair, nonce, row = job
        index, key_obj = key_pair
        key = <_Key>key_obj
        if expired_at is None:
            now = self._clock_ms()
            expired_at = now + DEFAULT_TX_EXPIRY_MS
        else:
            now = expired_at - DEFAULT_TX_EXPIRY_MS
        if tx_type == TX_TYPE_CREATE_ORDER:
            row = _with_expiry(row, now)
            body = row
            mid = _order_fields(row) + ","
        elif tx_type == TX_TYPE_CANCEL_ORDER:
            body = row
            mid = f'"MarketIndex":{row[0]},"Index":{row[1]},'
        elif tx_type == TX_TYPE_MODIFY_ORDER:
            body = row
            mid = (
                f'"MarketIndex":{row[0]},"Index":{row[1]},"BaseAmount":{row[2]},'
                f'"Price":{row[3]},"TriggerPrice":{row[4]},'
            )
        elif tx_type == TX_TYPE_CANCEL_ALL_ORDERS:
            body = row
            mid = f'"TimeInForce":{row[0]},"Time":{row[1]},'
        elif tx_type == TX_TYPE_CREATE_GROUPED_ORDERS:
            grouping_type, orders = row
            orders = [_with_expiry(tuple(o), now) for o in orders]
            leaf = _leaf(orders[0])
            for o in orders[1:]:
                leaf = hash_no_pad(leaf + _leaf(o), 4)
            body = (grouping_type, *leaf)
            mid = (
                f'"GroupingType":{grouping_type},"Orders":['
                + ",".join(["{" + _order_fields(o) + "}" for o in orders]) + "],"
            )
        elif tx_type == TX_TYPE_CHANGE_PUB_KEY:
            raw = <bytes>row
            body = tuple(int.from_bytes(raw[8 * i: 8 * i + 8], "little") for i in range(5))
            mid = f'"PubKey":"{binascii.b2a_base64(raw, newline=False).decode()}","L1Sig":"",'
        else:
            raise ValueError(f"unsupported tx_type {tx_type}")
        buf[0] = <uint64_t>self._chain_id
        buf[1] = <uint64_t>tx_type
        buf[2] = <uint64_t>nonce
        buf[3] = <uint64_t>(expired_at & MASK64)
        buf[4] = <uint64_t>self._account_index
        buf[5] = <uint64_t>index
        n = 6
        for w in body:
            buf[n] = <uint64_t>(w & MASK64)
            n += 1
        _attr_words(attributes, attr8, &present)
        lf_tx_message(buf, n, attr8 if present else NULL, msg)
        sig = key.sign(msg, k)
        tx_info = (
            f'{{"AccountIndex":{self._account_index},"ApiKeyIndex":{buf[5]},{mid}'
            f'"ExpiredAt":{expired_at},"Nonce":{nonce},'
            f'"Sig":"{binascii.b2a_base64(sig, newline=False).decode()}",'
            f'"L2TxAttributes":{_attr_json(attributes)}}}'
        )
        return SignedTx(tx_type, tx_info, _f5_to_bytes(msg).hex())

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
        return message + ":" + key.sign(msg, k).hex()

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self):
        """Wipe the keys; later signing raises SignerError. Idempotent."""
        self._closed = True
        for key in self._keys.values():
            (<_Key>key).wipe()


def _now_ms():
    return time.time_ns() // 1_000_000
