# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native Lighter L2 signer (opt-in): Poseidon2, ECgFp5 and Schnorr in C, byte-exact with the .so.

`NativeSigner` has the same interface, validation and `SignedTx`/tx_info output as `SdkSigner`
(signer-spec §4-§5), but signs in-process in microseconds instead of calling the Go library.
Nonces are hedged: k = BLAKE2b-512(sk || msg || 32 fresh random bytes) mod n, never reused.
"""

import binascii
import hashlib
import math
import os
import time

from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memset
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize


cdef extern from "_signer_impl.h" nogil:
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

_EXPIRED_AT_MS = 599_000  # the .so: ExpiredAt = now_ms + 10 min - 1 s (signer-spec §5.1)
_DEFAULT_ORDER_EXPIRY_MS = 28 * 86_400_000  # order_expiry -1 → now + 28 days (§5.4)
_ATTR_NIL = {5: 255}  # attribute type → its nil value when not 0 (§5.3)

TX_CHANGE_PUB_KEY = 8
TX_CREATE_ORDER = 14
TX_CANCEL_ORDER = 15
TX_CANCEL_ALL_ORDERS = 16
TX_MODIFY_ORDER = 17
TX_CREATE_GROUPED_ORDERS = 28

_signing = None  # lighterfast.signing, imported on first use (it imports this module)


cdef object _sg():
    global _signing
    if _signing is None:
        from . import signing as _s
        _signing = _s
    return _signing


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
            raise _sg().SignerError("signer is closed")
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
        return row[:9] + (now_ms + _DEFAULT_ORDER_EXPIRY_MS,)
    return row


def _leaf(tuple row):
    return hash_no_pad(row, 4)


class NativeSigner:
    """In-process signer (C Poseidon2 + ECgFp5 Schnorr), same interface and output as SdkSigner.

    Opt-in: pass it as `signer=` where a signer is taken. Thread-safe (each call holds the GIL
    for its few microseconds); async twins run inline. Keys live in C memory, never in reprs.
    """

    def __init__(self, account_index, api_keys, *, chain_id=None, base_url=None):
        sg = _sg()
        self._closed = True
        self._keys = {}
        account_index = sg._int("account_index", account_index, 1, sg.P.MAX_ACCOUNT_INDEX)
        if not isinstance(api_keys, sg.Mapping) or not api_keys:
            raise ValueError("api_keys must be a non-empty mapping {api_key_index: private_key}")
        keys = {}
        for index, key in api_keys.items():
            index = sg._api_key_index(index)
            text = sg._normalize_private_key(index, key).decode("ascii")
            keys[index] = _Key(bytes.fromhex(text))
        if base_url is not None and not isinstance(base_url, str):
            raise TypeError("base_url must be a string")
        if chain_id is None:
            chain_id = sg.chain_id_for_url(base_url)
        if chain_id is None:
            chain_id = sg.P.CHAIN_ID_MAINNET  # the SDK's default for any other host
        self._chain_id = sg._int("chain_id", chain_id, 1, 2**31 - 1)
        self._account_index = account_index
        self._keys = keys
        self._api_key_indexes = frozenset(keys)
        self._clock_ms = _now_ms
        self._closed = False

    @classmethod
    async def create(cls, account_index, api_keys, *, chain_id=None, base_url=None):
        """Like the constructor, but an unknown host is asked for its chain id (`GET /`)."""
        sg = _sg()
        if chain_id is None:
            chain_id = sg.chain_id_for_url(base_url)
        if chain_id is None and base_url:
            chain_id = await sg.SdkSigner.discover_chain_id(base_url)
        return cls(account_index, api_keys, chain_id=chain_id, base_url=base_url)

    # -- properties ---------------------------------------------------------------------------

    @property
    def account_index(self):
        """The account every transaction and token is signed for."""
        return self._account_index

    @property
    def chain_id(self):
        """The L2 chain id signed into every transaction."""
        return self._chain_id

    @property
    def api_key_indexes(self):
        """The API key indexes this signer holds keys for."""
        return self._api_key_indexes

    @property
    def closed(self):
        """True after `close()`."""
        return self._closed

    def public_key(self, api_key_index):
        """The 0x-prefixed public key of one of this signer's API keys."""
        return "0x" + self._key(api_key_index)[1].public_key.hex()

    def __repr__(self):
        return (
            f"NativeSigner(account_index={self._account_index}, "
            f"api_key_indexes={sorted(self._api_key_indexes)}, chain_id={self._chain_id}"
            f"{', closed' if self._closed else ''})"
        )

    def __reduce__(self):
        raise TypeError("NativeSigner holds private keys and cannot be pickled")

    # -- preparation (validation before anything is signed) --------------------------------

    def _key(self, api_key_index):
        sg = _sg()
        index = sg._api_key_index(api_key_index)
        key = self._keys.get(index)
        if key is None:
            raise ValueError(f"api_key_index {index} has no private key in this signer")
        return index, key

    def _check_open(self):
        if self._closed:
            raise _sg().SignerError("signer is closed")

    def _prep_create_order(
        self, *, market_index, client_order_index, base_amount, price, is_ask, order_type,
        time_in_force, reduce_only=False, trigger_price=0, order_expiry=-1, nonce, api_key_index,
    ):
        sg = _sg()
        row = sg.validate_create_order(
            market_index=market_index, client_order_index=client_order_index,
            base_amount=base_amount, price=price, is_ask=is_ask, order_type=order_type,
            time_in_force=time_in_force, reduce_only=reduce_only, trigger_price=trigger_price,
            order_expiry=order_expiry,
        )
        return (TX_CREATE_ORDER, self._key(api_key_index), sg._nonce(nonce), row)

    def _prep_cancel_order(self, *, market_index, order_index, nonce, api_key_index):
        sg = _sg()
        row = sg.validate_cancel_order(market_index=market_index, order_index=order_index)
        return (TX_CANCEL_ORDER, self._key(api_key_index), sg._nonce(nonce), row)

    def _prep_modify_order(
        self, *, market_index, order_index, base_amount, price, trigger_price=0, nonce,
        api_key_index,
    ):
        sg = _sg()
        row = sg.validate_modify_order(
            market_index=market_index, order_index=order_index, base_amount=base_amount,
            price=price, trigger_price=trigger_price,
        )
        return (TX_MODIFY_ORDER, self._key(api_key_index), sg._nonce(nonce), row)

    def _prep_cancel_all_orders(self, *, time_in_force, time, nonce, api_key_index):
        sg = _sg()
        row = sg.validate_cancel_all_orders(time_in_force=time_in_force, time=time)
        return (TX_CANCEL_ALL_ORDERS, self._key(api_key_index), sg._nonce(nonce), row)

    def _prep_create_grouped_orders(self, *, grouping_type, orders, nonce, api_key_index):
        sg = _sg()
        row = sg.validate_create_grouped_orders(grouping_type=grouping_type, orders=orders)
        return (TX_CREATE_GROUPED_ORDERS, self._key(api_key_index), sg._nonce(nonce), row)

    def _prep_change_pub_key(self, *, pub_key, nonce, api_key_index):
        sg = _sg()
        text = pub_key[2:] if pub_key[:2] in ("0x", "0X") else pub_key
        raw = bytes.fromhex(text)
        if len(raw) != 40:
            raise ValueError("pub_key must be 40 bytes (80 hex digits)")
        return (TX_CHANGE_PUB_KEY, self._key(api_key_index), sg._nonce(nonce), raw)

    _preparers = {
        "create_order": _prep_create_order,
        "cancel_order": _prep_cancel_order,
        "modify_order": _prep_modify_order,
        "cancel_all_orders": _prep_cancel_all_orders,
        "create_grouped_orders": _prep_create_grouped_orders,
    }

    def _prep_many(self, requests):
        sg = _sg()
        if isinstance(requests, (str, bytes)) or not isinstance(requests, sg.Sequence):
            raise TypeError("requests must be a sequence of (kind, kwargs) pairs")
        jobs = []
        for i, request in enumerate(requests):
            try:
                kind, kwargs = request
            except (TypeError, ValueError):
                raise TypeError(f"requests[{i}] must be a (kind, kwargs) pair") from None
            prep = self._preparers.get(kind) if isinstance(kind, str) else None
            if prep is None:
                raise ValueError(
                    f"requests[{i}] kind must be one of {sg.SIGN_KINDS}, got {kind!r}"
                )
            if not isinstance(kwargs, sg.Mapping):
                raise TypeError(f"requests[{i}] kwargs must be a mapping")
            try:
                jobs.append(prep(self, **kwargs))
            except TypeError as exc:
                raise TypeError(f"requests[{i}] ({kind}): {exc}") from None
            except ValueError as exc:
                raise ValueError(f"requests[{i}] ({kind}): {exc}") from None
        return jobs

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
            expired_at = now + _EXPIRED_AT_MS
        else:
            now = expired_at - _EXPIRED_AT_MS
        if tx_type == TX_CREATE_ORDER:
            row = _with_expiry(row, now)
            body = row
            mid = _order_fields(row) + ","
        elif tx_type == TX_CANCEL_ORDER:
            body = row
            mid = f'"MarketIndex":{row[0]},"Index":{row[1]},'
        elif tx_type == TX_MODIFY_ORDER:
            body = row
            mid = (
                f'"MarketIndex":{row[0]},"Index":{row[1]},"BaseAmount":{row[2]},'
                f'"Price":{row[3]},"TriggerPrice":{row[4]},'
            )
        elif tx_type == TX_CANCEL_ALL_ORDERS:
            body = row
            mid = f'"TimeInForce":{row[0]},"Time":{row[1]},'
        elif tx_type == TX_CREATE_GROUPED_ORDERS:
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
        elif tx_type == TX_CHANGE_PUB_KEY:
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
        return _sg().SignedTx(tx_type, tx_info, _f5_to_bytes(msg).hex())

    def _sign_with_k(self, kind, k, *, expired_at, attributes=None, **kwargs):
        """TEST ONLY: sign with an injected nonce k, ExpiredAt and attributes (byte-exact checks)."""
        if kind == "change_pub_key":
            job = self._prep_change_pub_key(**kwargs)
        else:
            job = self._preparers[kind](self, **kwargs)
        return self._sign(job, expired_at, attributes, k)

    def _run(self, job):
        self._check_open()
        return self._sign(job)

    def sign_create_order(self, **kwargs):
        """Sign an L2CreateOrder (14). Keywords: see `Signer.sign_create_order`."""
        return self._run(self._prep_create_order(**kwargs))

    def sign_cancel_order(self, **kwargs):
        """Sign an L2CancelOrder (15); `order_index` may be a COI or an order index."""
        return self._run(self._prep_cancel_order(**kwargs))

    def sign_modify_order(self, **kwargs):
        """Sign an L2ModifyOrder (17); `order_index` may be a COI or an order index."""
        return self._run(self._prep_modify_order(**kwargs))

    def sign_cancel_all_orders(self, **kwargs):
        """Sign an L2CancelAllOrders (16) for every market."""
        return self._run(self._prep_cancel_all_orders(**kwargs))

    def sign_create_grouped_orders(self, **kwargs):
        """Sign an L2CreateGroupedOrders (28): OTO (1), OCO (2) or OTOCO (3)."""
        return self._run(self._prep_create_grouped_orders(**kwargs))

    def sign_many(self, requests):
        """Sign a batch, results in request order; every request is validated before any is signed."""
        self._check_open()
        return [self._sign(job) for job in self._prep_many(requests)]

    def create_auth_token(self, deadline, api_key_index):
        """Make an auth token `{deadline}:{account}:{key}:{sig hex}`; `deadline` in Unix seconds."""
        return self._auth_token(deadline, api_key_index, None)

    def _auth_token(self, deadline, api_key_index, k):
        cdef uint64_t buf[MAX_WORDS]
        cdef uint64_t msg[5]
        cdef Py_ssize_t n = 0, i
        cdef _Key key
        sg = _sg()
        self._check_open()
        value = deadline
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        value = sg._int("deadline", value, 1, sg._INT64_MAX)
        index, key_obj = self._key(api_key_index)
        key = <_Key>key_obj
        message = f"{value}:{self._account_index}:{index}"
        raw = message.encode("ascii")
        for i in range(0, len(raw), 8):
            buf[n] = int.from_bytes(raw[i: i + 8], "little")
            n += 1
        lf_hash(buf, n, msg, 5)
        return message + ":" + key.sign(msg, k).hex()

    # -- async twins (signing takes microseconds, so they run inline) -----------------------

    async def asign_create_order(self, **kwargs):
        """Async twin of `sign_create_order` (runs inline)."""
        return self.sign_create_order(**kwargs)

    async def asign_cancel_order(self, **kwargs):
        """Async twin of `sign_cancel_order` (runs inline)."""
        return self.sign_cancel_order(**kwargs)

    async def asign_modify_order(self, **kwargs):
        """Async twin of `sign_modify_order` (runs inline)."""
        return self.sign_modify_order(**kwargs)

    async def asign_cancel_all_orders(self, **kwargs):
        """Async twin of `sign_cancel_all_orders` (runs inline)."""
        return self.sign_cancel_all_orders(**kwargs)

    async def asign_create_grouped_orders(self, **kwargs):
        """Async twin of `sign_create_grouped_orders` (runs inline)."""
        return self.sign_create_grouped_orders(**kwargs)

    async def asign_many(self, requests):
        """Async twin of `sign_many` (runs inline)."""
        return self.sign_many(requests)

    async def acreate_auth_token(self, deadline, api_key_index):
        """Async twin of `create_auth_token` (runs inline)."""
        return self.create_auth_token(deadline, api_key_index)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self):
        """Wipe the keys; later signing raises SignerError. Idempotent."""
        self._closed = True
        for key in self._keys.values():
            (<_Key>key).wipe()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _now_ms():
    return time.time_ns() // 1_000_000
