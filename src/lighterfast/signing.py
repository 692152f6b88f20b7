"""Signing layer: the `Signer` interface, input validation, and `SdkSigner`.

`SdkSigner` drives the Go signer library that lighter-sdk ships. Every call into that library
(signing and freeing) runs on one long-lived worker thread, never on the main thread: a cgo
call from the process's main thread makes glibc parse /proc/self/maps (signer-spec §7.4),
which costs ~0.8 ms per call, against ~1 µs from any other thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    NamedTuple,
    Protocol,
    TypedDict,
    runtime_checkable,
)

from . import protocol as P
from .errors import ConfigError, NodeUnreachable, SignerError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "AuthTokenProvider",
    "AuthTokenUnavailable",
    "CancelAllOrdersArgs",
    "CancelOrderArgs",
    "CreateGroupedOrdersArgs",
    "CreateOrderArgs",
    "GroupedOrder",
    "ModifyOrderArgs",
    "SdkSigner",
    "SignedTx",
    "Signer",
    "agenerate_api_key",
    "chain_id_for_url",
    "generate_api_key",
    "go_call_count",
    "go_call_thread_ids",
    "validate_cancel_all_orders",
    "validate_cancel_order",
    "validate_create_grouped_orders",
    "validate_create_order",
    "validate_modify_order",
]

log = logging.getLogger("lighterfast.signing")

# Request kinds `sign_many` understands; each names a `sign_<kind>` method.
SIGN_KINDS: Final = (
    "create_order",
    "cancel_order",
    "modify_order",
    "cancel_all_orders",
    "create_grouped_orders",
)

# Hosts the SDK maps to a chain id by URL substring (lighter/signer_client.py); unknown → None.
_HOST_CHAIN_IDS: Final = (
    ("mainnet.zklighter", P.CHAIN_ID_MAINNET),
    ("testnet.zklighter", P.CHAIN_ID_TESTNET),
    ("api.rh-testnet.lighter", P.CHAIN_ID_TESTNET),
    ("api.rh.lighter", P.CHAIN_ID_ROBINHOOD),
)
# CreateClient needs a URL; the library only uses it for nonce=-1 and CheckClient, which
# SdkSigner never triggers (nonces are always explicit). Port 9 (discard) on loopback.
_DUMMY_URL: Final = "http://127.0.0.1:9"
_PRIVATE_KEY_HEX_LEN: Final = 80  # 40 bytes (signer-spec §1.1)
_INT64_MAX: Final = 2**63 - 1
# A unit of worker work: the function to run on the worker thread and its arguments.
_Job = tuple[Callable[..., Any], tuple[Any, ...]]


# ================================================================================================
# Results
# ================================================================================================


class SignedTx(NamedTuple):
    """One signed tx: wire tx type, the signer's tx_info JSON string, the 80-hex tx hash."""

    tx_type: int
    tx_info: str
    tx_hash: str

    def __repr__(self) -> str:
        """Show type and hash; the signature inside tx_info is never printed."""
        return f"SignedTx(tx_type={self.tx_type}, tx_hash={self.tx_hash!r}, tx_info=<redacted>)"

    def __str__(self) -> str:
        return self.__repr__()


class GroupedOrder(NamedTuple):
    """One order of a grouped-orders tx (protocol §2.7), integers as on the wire."""

    market_index: int
    client_order_index: int
    base_amount: int
    price: int
    is_ask: bool | int
    order_type: int
    time_in_force: int
    reduce_only: bool | int = False
    trigger_price: int = 0
    order_expiry: int = -1


# ================================================================================================
# Validation (protocol §0.2, signer-spec §5.5): raise before anything is signed
# ================================================================================================


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    """Return `value` if it is an int in [lo, hi]; TypeError/ValueError naming `name` otherwise."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        value = int(value)
    if value < lo or value > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _flag(name: str, value: Any) -> int:
    """A 0/1 wire flag from a bool or the ints 0/1."""
    if value is True or value is False:
        return int(value)
    if type(value) is int and (value == 0 or value == 1):
        return value
    raise ValueError(f"{name} must be a bool or 0/1, got {value!r}")


def _is_perp(market_index: int) -> bool:
    return market_index <= P.MAX_PERP_MARKET_INDEX


def _market(name: str, value: Any) -> int:
    value = _int(name, value, 0, P.MAX_SPOT_MARKET_INDEX)
    if value > P.MAX_PERP_MARKET_INDEX and value < P.MIN_SPOT_MARKET_INDEX:
        raise ValueError(
            f"{name} must be a perp market 0..{P.MAX_PERP_MARKET_INDEX} or a spot market "
            f"{P.MIN_SPOT_MARKET_INDEX}..{P.MAX_SPOT_MARKET_INDEX}, got {value}"
        )
    return value


def _nonce(value: Any) -> int:
    return _int("nonce", value, 0, P.MAX_NONCE)


def _api_key_index(value: Any) -> int:
    return _int("api_key_index", value, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)


def validate_create_order(
    *,
    market_index: int,
    client_order_index: int,
    base_amount: int,
    price: int,
    is_ask: bool | int,
    order_type: int,
    time_in_force: int,
    reduce_only: bool | int = False,
    trigger_price: int = 0,
    order_expiry: int = -1,
    field_prefix: str = "",
) -> tuple[int, int, int, int, int, int, int, int, int, int]:
    """Check one order against the signer's rules; return its ten wire integers in body order."""
    f = field_prefix
    market_index = _market(f + "market_index", market_index)
    client_order_index = _int(f + "client_order_index", client_order_index, P.NIL_COI, P.MAX_COI)
    reduce = _flag(f + "reduce_only", reduce_only)
    base_amount = _int(
        f + "base_amount", base_amount, 0 if reduce else P.MIN_BASE_AMOUNT, P.MAX_BASE_AMOUNT
    )
    price = _int(f + "price", price, P.MIN_PRICE, P.MAX_PRICE)
    ask = _flag(f + "is_ask", is_ask)
    order_type = _int(f + "order_type", order_type, P.ORDER_TYPE_LIMIT, P.ORDER_TYPE_TWAP)
    time_in_force = _int(f + "time_in_force", time_in_force, P.TIF_IOC, P.TIF_POST_ONLY)
    trigger_price = _int(f + "trigger_price", trigger_price, 0, P.MAX_PRICE)
    if order_expiry != -1:  # -1 = the signer's default, now + 28 days
        order_expiry = _int(f + "order_expiry", order_expiry, 0, P.MAX_TIMESTAMP_MS)
    elif type(order_expiry) is not int:
        raise TypeError(f"{f}order_expiry must be an int, got {type(order_expiry).__name__}")
    perp = _is_perp(market_index)
    if reduce and not perp:
        raise ValueError(f"{f}reduce_only is not allowed on spot market {market_index}")
    kind = P.ORDER_TYPE_NAMES[order_type]
    if order_type == P.ORDER_TYPE_MARKET:
        if time_in_force != P.TIF_IOC:
            raise ValueError(f"{f}time_in_force must be IOC (0) for a market order")
        if order_expiry != 0:
            raise ValueError(f"{f}order_expiry must be 0 for a market order")
        if trigger_price != 0:
            raise ValueError(f"{f}trigger_price must be 0 for a market order")
    elif order_type == P.ORDER_TYPE_LIMIT:
        if trigger_price != 0:
            raise ValueError(f"{f}trigger_price must be 0 for a limit order")
        if time_in_force == P.TIF_IOC and order_expiry != 0:
            raise ValueError(f"{f}order_expiry must be 0 for an IOC limit order")
        if time_in_force != P.TIF_IOC and order_expiry == 0:
            raise ValueError(f"{f}order_expiry must not be 0 for a GTT or post-only limit order")
    elif order_type == P.ORDER_TYPE_TWAP:
        if time_in_force != P.TIF_GTT:
            raise ValueError(f"{f}time_in_force must be GTT (1) for a twap order")
        if trigger_price != 0:
            raise ValueError(f"{f}trigger_price must be 0 for a twap order")
        if order_expiry == 0:
            raise ValueError(f"{f}order_expiry must not be 0 for a twap order")
    else:  # stop-loss / take-profit, market or limit flavour
        if not perp:
            raise ValueError(f"{f}order_type {kind} is allowed on perp markets only")
        if order_type in (P.ORDER_TYPE_STOP_LOSS, P.ORDER_TYPE_TAKE_PROFIT):
            if time_in_force != P.TIF_IOC:
                raise ValueError(f"{f}time_in_force must be IOC (0) for a {kind} order")
        if trigger_price == 0:
            raise ValueError(f"{f}trigger_price must not be 0 for a {kind} order")
        if order_expiry == 0:
            raise ValueError(f"{f}order_expiry must not be 0 for a {kind} order")
    return (
        market_index,
        client_order_index,
        base_amount,
        price,
        ask,
        order_type,
        time_in_force,
        reduce,
        trigger_price,
        order_expiry,
    )


def validate_cancel_order(*, market_index: int, order_index: int) -> tuple[int, int]:
    """Check a cancel's market and `Index` (a COI 1..2^48-1 or an order index 2^48..2^60-1)."""
    return (
        _market("market_index", market_index),
        _int("order_index", order_index, P.MIN_COI, P.MAX_ORDER_INDEX),
    )


def validate_modify_order(
    *, market_index: int, order_index: int, base_amount: int, price: int, trigger_price: int = 0
) -> tuple[int, int, int, int, int]:
    """Check a modify's fields; base_amount 0 passes as the signer allows it (meaning unclear)."""
    return (
        _market("market_index", market_index),
        _int("order_index", order_index, P.MIN_COI, P.MAX_ORDER_INDEX),
        _int("base_amount", base_amount, 0, P.MAX_BASE_AMOUNT),
        _int("price", price, P.MIN_PRICE, P.MAX_PRICE),
        _int("trigger_price", trigger_price, 0, P.MAX_PRICE),
    )


def validate_cancel_all_orders(*, time_in_force: int, time: int) -> tuple[int, int]:
    """Check cancel-all: tif 0 (now) and 2 (abort) need time 0; tif 1 (schedule) a ms timestamp."""
    time_in_force = _int("time_in_force", time_in_force, P.CANCEL_ALL_NOW, P.CANCEL_ALL_ABORT)
    if time_in_force == P.CANCEL_ALL_SCHEDULE:
        time = _int("time", time, 1, P.MAX_TIMESTAMP_MS)
    else:
        time = _int("time", time, 0, 0)
    return time_in_force, time


_GROUP_SIZES: Final = {1: 2, 2: 2, 3: 3}  # OTO, OCO, OTOCO (signer-spec §5.5)
_TRIGGER_TYPES: Final = frozenset(
    {
        P.ORDER_TYPE_STOP_LOSS,
        P.ORDER_TYPE_STOP_LOSS_LIMIT,
        P.ORDER_TYPE_TAKE_PROFIT,
        P.ORDER_TYPE_TAKE_PROFIT_LIMIT,
    }
)
_SL_TYPES: Final = frozenset({P.ORDER_TYPE_STOP_LOSS, P.ORDER_TYPE_STOP_LOSS_LIMIT})
_TP_TYPES: Final = frozenset({P.ORDER_TYPE_TAKE_PROFIT, P.ORDER_TYPE_TAKE_PROFIT_LIMIT})


def _order_fields(order: Any, index: int) -> Mapping[str, Any]:
    if isinstance(order, GroupedOrder):
        return order._asdict()
    if isinstance(order, Mapping):
        return order
    raise TypeError(f"orders[{index}] must be a GroupedOrder or a mapping")


def validate_create_grouped_orders(
    *, grouping_type: int, orders: Sequence[GroupedOrder | Mapping[str, Any]]
) -> tuple[int, list[tuple[int, ...]]]:
    """Check a grouped-orders tx: per-order rules plus the OTO / OCO / OTOCO shape rules."""
    grouping_type = _int("grouping_type", grouping_type, 1, 3)
    if isinstance(orders, (str, bytes)) or not isinstance(orders, Sequence):
        raise TypeError("orders must be a sequence of GroupedOrder or mappings")
    want = _GROUP_SIZES[grouping_type]
    if len(orders) != want:
        raise ValueError(f"orders must hold {want} orders for grouping_type {grouping_type}")
    rows: list[tuple[int, ...]] = []
    for i, order in enumerate(orders):
        fields = _order_fields(order, i)
        unknown = set(fields) - set(GroupedOrder._fields)
        if unknown:
            raise TypeError(f"orders[{i}] has unknown fields {sorted(unknown)}")
        try:
            rows.append(validate_create_order(**fields, field_prefix=f"orders[{i}]."))
        except TypeError as exc:
            if "missing" in str(exc) or "unexpected" in str(exc):
                raise TypeError(f"orders[{i}]: {exc}") from None
            raise
    market = rows[0][0]
    for i, row in enumerate(rows):
        if row[0] != market:
            raise ValueError(f"orders[{i}].market_index must equal orders[0].market_index")
        if not _is_perp(row[0]):
            raise ValueError(f"orders[{i}].market_index: grouped orders are perp-only")
    cois = [row[1] for row in rows if row[1] != P.NIL_COI]
    if len(cois) != len(set(cois)):
        raise ValueError("orders: client_order_index values must be distinct")
    children = rows[1:] if grouping_type != 2 else rows
    for i, row in enumerate(children, start=0 if grouping_type == 2 else 1):
        if row[5] not in _TRIGGER_TYPES:
            raise ValueError(f"orders[{i}].order_type must be stop-loss/take-profit (2..5)")
    if grouping_type == 2:  # OCO: one SL and one TP, same base, side and expiry, reduce-only
        a, b = rows
        if {a[5] in _SL_TYPES, b[5] in _SL_TYPES} != {True, False}:
            raise ValueError("orders: an OCO group needs one stop-loss and one take-profit")
        if a[2] != b[2]:
            raise ValueError("orders[1].base_amount must equal orders[0].base_amount (OCO)")
        if a[4] != b[4]:
            raise ValueError("orders[1].is_ask must equal orders[0].is_ask (OCO)")
        if a[9] != b[9]:
            raise ValueError("orders[1].order_expiry must equal orders[0].order_expiry (OCO)")
        for i, row in enumerate(rows):
            if not row[7]:
                raise ValueError(f"orders[{i}].reduce_only must be set in an OCO group")
    else:  # OTO / OTOCO: a parent plus triggered children of the opposite side, base 0
        parent = rows[0]
        if parent[5] in _TRIGGER_TYPES or parent[5] == P.ORDER_TYPE_TWAP:
            raise ValueError("orders[0].order_type must be limit or market (the parent)")
        for i, row in enumerate(rows[1:], start=1):
            if row[2] != 0:
                raise ValueError(f"orders[{i}].base_amount must be 0 (a child order)")
            if row[4] == parent[4]:
                raise ValueError(f"orders[{i}].is_ask must be opposite to the parent's")
            if parent[9] != 0 and row[9] != parent[9]:
                raise ValueError(f"orders[{i}].order_expiry must equal the parent's order_expiry")
        if grouping_type == 3:
            kinds = {rows[1][5] in _SL_TYPES, rows[2][5] in _SL_TYPES}
            if kinds != {True, False}:
                raise ValueError("orders: an OTOCO group needs one stop-loss and one take-profit")
            if rows[1][9] != rows[2][9]:
                raise ValueError("orders[2].order_expiry must equal orders[1].order_expiry (OTOCO)")
    return grouping_type, rows


# ================================================================================================
# Request shapes (keyword arguments of each sign method; also the mappings `sign_many` takes)
# ================================================================================================


class _CreateOrderRequired(TypedDict):
    market_index: int
    client_order_index: int
    base_amount: int
    price: int
    is_ask: bool | int
    order_type: int
    time_in_force: int
    nonce: int
    api_key_index: int


class CreateOrderArgs(_CreateOrderRequired, total=False):
    """Keywords of `sign_create_order`; reduce_only, trigger_price, order_expiry optional."""

    reduce_only: bool | int
    trigger_price: int
    order_expiry: int


class CancelOrderArgs(TypedDict):
    """Keywords of `sign_cancel_order` (`order_index` is a COI or an order index)."""

    market_index: int
    order_index: int
    nonce: int
    api_key_index: int


class _ModifyOrderRequired(TypedDict):
    market_index: int
    order_index: int
    base_amount: int
    price: int
    nonce: int
    api_key_index: int


class ModifyOrderArgs(_ModifyOrderRequired, total=False):
    """Keywords of `sign_modify_order`; trigger_price optional (0)."""

    trigger_price: int


class CancelAllOrdersArgs(TypedDict):
    """Keywords of `sign_cancel_all_orders`."""

    time_in_force: int
    time: int
    nonce: int
    api_key_index: int


class CreateGroupedOrdersArgs(TypedDict):
    """Keywords of `sign_create_grouped_orders`."""

    grouping_type: int
    orders: Sequence[GroupedOrder | Mapping[str, Any]]
    nonce: int
    api_key_index: int


# ================================================================================================
# The Signer interface
# ================================================================================================


@runtime_checkable
class Signer(Protocol):
    """What the dealer and the WS layer need from a signer: integers in, `SignedTx` out."""

    @property
    def account_index(self) -> int:
        """The account every transaction and token is signed for."""
        ...

    @property
    def chain_id(self) -> int:
        """The L2 chain id signed into every transaction."""
        ...

    def sign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx: ...

    def sign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx: ...

    def sign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx: ...

    def sign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx: ...

    def sign_create_grouped_orders(self, **kwargs: Unpack[CreateGroupedOrdersArgs]) -> SignedTx: ...

    def sign_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SignedTx]: ...

    def create_auth_token(self, deadline: int, api_key_index: int) -> str: ...

    async def asign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx: ...

    async def asign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx: ...

    async def asign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx: ...

    async def asign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx: ...

    async def asign_create_grouped_orders(
        self, **kwargs: Unpack[CreateGroupedOrdersArgs]
    ) -> SignedTx: ...

    async def asign_many(
        self, requests: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[SignedTx]: ...

    async def acreate_auth_token(self, deadline: int, api_key_index: int) -> str: ...

    def close(self) -> None: ...


# ================================================================================================
# The Go library (lighter-sdk's bundled signer), only ever entered from the worker thread
# ================================================================================================

_MAIN_THREAD_ID: Final = threading.main_thread().ident
_go_call_threads: set[int] = set()
_go_calls = [0]


def go_call_thread_ids() -> frozenset[int]:
    """Ids of every thread that has entered the Go library through this module (for tests)."""
    return frozenset(_go_call_threads)


def go_call_count() -> int:
    """How many library entries (signing jobs) have passed the thread guard so far."""
    return _go_calls[0]


class _SignedTxResponse(ctypes.Structure):
    _fields_ = (
        ("txType", ctypes.c_uint8),
        ("txInfo", ctypes.c_void_p),
        ("txHash", ctypes.c_void_p),
        ("messageToSign", ctypes.c_void_p),
        ("err", ctypes.c_void_p),
    )


class _StrOrErr(ctypes.Structure):
    _fields_ = (("str", ctypes.c_void_p), ("err", ctypes.c_void_p))


class _ApiKeyResponse(ctypes.Structure):
    _fields_ = (
        ("privateKey", ctypes.c_void_p),
        ("publicKey", ctypes.c_void_p),
        ("err", ctypes.c_void_p),
    )


class _CreateOrderTxReq(ctypes.Structure):
    _fields_ = (
        ("MarketIndex", ctypes.c_int64),
        ("ClientOrderIndex", ctypes.c_int64),
        ("BaseAmount", ctypes.c_int64),
        ("Price", ctypes.c_uint32),
        ("IsAsk", ctypes.c_uint8),
        ("Type", ctypes.c_uint8),
        ("TimeInForce", ctypes.c_uint8),
        ("ReduceOnly", ctypes.c_uint8),
        ("TriggerPrice", ctypes.c_uint32),
        ("OrderExpiry", ctypes.c_int64),
    )


_I: Final = ctypes.c_int
_LL: Final = ctypes.c_longlong
_U8: Final = ctypes.c_uint8


def _load_cdll() -> ctypes.CDLL:
    """Open lighter-sdk's signer library for this platform through the SDK's own loader."""
    from lighter import signer_client

    loader = getattr(signer_client, "__get_shared_library", None)
    if loader is not None:
        lib: ctypes.CDLL = loader()
        return lib
    # A newer SDK without the private loader: reuse its singleton's path, own handle.
    return ctypes.CDLL(signer_client.get_signer()._name)


class _GoLibrary:
    """Typed view of the exact library functions used (SDK 1.1.8 lighter-signer-*.h)."""

    def __init__(self, cdll: ctypes.CDLL) -> None:
        self.path: str = cdll._name
        f = cdll.GenerateAPIKey
        f.argtypes, f.restype = [], _ApiKeyResponse
        self.generate_api_key = f
        f = cdll.CreateClient
        f.argtypes = [ctypes.c_char_p, ctypes.c_char_p, _I, _I, _LL]
        f.restype = ctypes.c_void_p
        self.create_client = f
        f = cdll.SignCreateOrder
        # market, coi, base, price, is_ask, type, tif, reduce_only, trigger, expiry,
        # integrator account, taker fee, maker fee, self-trade mode, equality, skip nonce,
        # nonce, api key, account
        f.argtypes = [_LL, _LL, _LL, _I, _I, _I, _I, _I, _I, _LL, _LL, _I, _I, _U8, _U8, _U8]
        f.argtypes += [_LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_create_order = f
        f = cdll.SignCreateGroupedOrders
        f.argtypes = [_U8, ctypes.POINTER(_CreateOrderTxReq), _I, _LL, _I, _I, _U8, _U8, _U8]
        f.argtypes += [_LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_create_grouped_orders = f
        f = cdll.SignCancelOrder
        f.argtypes = [_LL, _LL, _U8, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_cancel_order = f
        f = cdll.SignCancelAllOrders
        f.argtypes = [_I, _LL, _LL, _U8, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_cancel_all_orders = f
        f = cdll.SignModifyOrder
        # market, index, base, price, trigger, integrator account, taker fee, maker fee,
        # self-trade mode, equality, skip nonce, nonce, order version, api key, account
        f.argtypes = [_LL, _LL, _LL, _LL, _LL, _LL, _I, _I, _U8, _U8, _U8, _LL, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_modify_order = f
        f = cdll.CreateAuthToken
        f.argtypes = [_LL, _I, _LL]
        f.restype = _StrOrErr
        self.create_auth_token = f
        f = cdll.Free
        f.argtypes, f.restype = [ctypes.c_void_p], None
        self.free = f

    # -- helpers (worker thread only) ------------------------------------------------------

    def take(self, ptr: int | None) -> str | None:
        """Copy a C string the library returned, then free it with the library's own Free."""
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8")
        finally:
            self.free(ptr)

    def signed(self, response: _SignedTxResponse) -> SignedTx:
        """Turn a SignedTxResponse into a SignedTx (or SignerError); frees all four strings."""
        take = self.take
        error = take(response.err)
        tx_info = take(response.txInfo)
        tx_hash = take(response.txHash)
        take(response.messageToSign)
        if error is not None:
            raise SignerError(f"signer refused: {error}")
        if tx_info is None or tx_hash is None:
            raise SignerError("signer returned no transaction")
        return SignedTx(response.txType, tx_info, tx_hash)


_library: _GoLibrary | None = None
_library_lock = threading.Lock()
_library_forked = [False]  # the library was loaded before a fork: its Go runtime is gone here


def _guard() -> _GoLibrary:
    """Record the calling thread and refuse the main thread; return the loaded library."""
    ident = threading.get_ident()
    if ident == _MAIN_THREAD_ID:
        raise SignerError("internal: the Go signer must not be entered from the main thread")
    if _library_forked[0]:
        raise SignerError(_FORKED)
    _go_call_threads.add(ident)
    _go_calls[0] += 1
    global _library
    lib = _library
    if lib is None:
        with _library_lock:
            if _library is None:
                _library = _GoLibrary(_load_cdll())
            lib = _library
    return lib


# -- functions that run on the worker ---------------------------------------------------------


def _w_create_clients(
    url: bytes, keys: list[tuple[int, bytes]], chain_id: int, account_index: int
) -> None:
    lib = _guard()
    for api_key_index, private_key in keys:
        response = lib.create_client(url, private_key, chain_id, api_key_index, account_index)
        error = lib.take(response)
        if error is not None:
            raise SignerError(f"signer refused api_key_index {api_key_index}: {error}")


def _w_generate_api_key() -> tuple[str, str]:
    lib = _guard()
    response = lib.generate_api_key()
    private_key = lib.take(response.privateKey)
    public_key = lib.take(response.publicKey)
    error = lib.take(response.err)
    if error is not None or private_key is None or public_key is None:
        raise SignerError(f"key generation failed: {error}")
    return private_key, public_key


def _w_create_order(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_create_order(*row, 0, 0, 0, 0, 0, 0, nonce, key, account))


def _w_cancel_order(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_cancel_order(row[0], row[1], 0, nonce, key, account))


def _w_modify_order(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_modify_order(*row, 0, 0, 0, 0, 0, 0, nonce, 0, key, account))


def _w_cancel_all_orders(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    response = lib.sign_cancel_all_orders(row[0], row[1], P.ALL_MARKETS, 0, nonce, key, account)
    return lib.signed(response)


def _w_create_grouped_orders(
    account: int, key: int, nonce: int, row: tuple[int, list[tuple[int, ...]]]
) -> SignedTx:
    lib = _guard()
    grouping_type, orders = row
    array = (_CreateOrderTxReq * len(orders))(*(_CreateOrderTxReq(*o) for o in orders))
    response = lib.sign_create_grouped_orders(
        grouping_type, array, len(orders), 0, 0, 0, 0, 0, 0, nonce, key, account
    )
    return lib.signed(response)


def _w_auth_token(account: int, key: int, deadline: int) -> str:
    lib = _guard()
    response = lib.create_auth_token(deadline, key, account)
    token = lib.take(response.str)
    error = lib.take(response.err)
    if error is not None or token is None:
        raise SignerError(f"signer refused auth token: {error}")
    return token


def _w_many(jobs: list[tuple[Callable[..., SignedTx], tuple[Any, ...]]]) -> list[SignedTx]:
    out: list[SignedTx] = []
    for i, (fn, args) in enumerate(jobs):
        try:
            out.append(fn(*args))
        except SignerError as exc:
            raise SignerError(f"request {i}: {exc}") from None
    return out


# ================================================================================================
# The worker thread
# ================================================================================================


class _Waiter:
    """Blocking hand-off for synchronous callers: a pre-acquired lock the worker releases."""

    __slots__ = ("error", "lock", "result")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.result: Any = None
        self.error: BaseException | None = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _SignerWorker:
    """One long-lived thread that runs every Go call, in submission order (a FIFO queue)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lighterfast-signer", daemon=True)
        self._thread.start()
        self.ident = self._thread.ident
        self.forked = False  # set in a fork child: neither this thread nor Go survived the fork

    def _run(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is None:
                return
            fn, args, loop, target = job
            error: BaseException | None = None
            result: Any = None
            try:
                result = fn(*args)
            except BaseException as exc:
                error = exc
            if loop is None:
                target.result = result
                target.error = error
                target.lock.release()
            else:
                try:
                    loop.call_soon_threadsafe(_settle, target, result, error)
                except RuntimeError:  # the caller's loop is closed; nobody is waiting
                    pass
            del job, target, result, error

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the worker and block until it is done (for synchronous callers)."""
        if threading.get_ident() == self.ident:
            return fn(*args)
        if self.forked:
            raise SignerError(_FORKED)
        waiter = _Waiter()
        self._queue.put((fn, args, None, waiter))
        waiter.lock.acquire()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue `fn(*args)`; the returned future of the running loop completes with its result."""
        if self.forked:
            raise SignerError(_FORKED)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((fn, args, loop, future))
        return future

    def stop(self, wait: bool = True) -> None:
        """Let queued work finish, then end the thread."""
        self._queue.put(None)
        if wait and threading.get_ident() != self.ident:
            self._thread.join(timeout=10.0)


_FORKED: Final = (
    "the signer cannot be used in a forked child process (its worker thread and the Go "
    "runtime do not survive fork); start child processes with the 'spawn' method"
)


_worker: _SignerWorker | None = None
_worker_users = 0
# Reentrant: a signer finalized by the GC (`__del__`) may release while this thread acquires.
_worker_lock = threading.RLock()


def _acquire_worker() -> _SignerWorker:
    global _worker, _worker_users
    with _worker_lock:
        if _worker is None:
            _worker = _SignerWorker()
        _worker_users += 1
        return _worker


def _release_worker(wait: bool = True) -> None:
    global _worker, _worker_users
    with _worker_lock:
        _worker_users -= 1
        if _worker_users > 0 or _worker is None:
            return
        worker, _worker = _worker, None
    worker.stop(wait)


def _after_fork_in_child() -> None:
    """A fork copies neither the worker thread nor the Go runtime's threads: start afresh."""
    global _worker, _worker_users, _worker_lock
    if _worker is not None:
        _worker.forked = True
    if _library is not None:
        _library_forked[0] = True
    _worker, _worker_users, _worker_lock = None, 0, threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _import_sdk() -> None:
    """Import lighter-sdk's signer module in the caller's thread (the worker only dlopens)."""
    try:
        from lighter import signer_client  # noqa: F401
    except ImportError as exc:  # pragma: no cover - lighter-sdk is a hard dependency
        raise SignerError(f"lighter-sdk is not installed: {exc}") from None


def generate_api_key() -> tuple[str, str]:
    """A fresh API key pair `(private_key, public_key)` from the library's GenerateAPIKey."""
    _import_sdk()
    worker = _acquire_worker()
    try:
        result: tuple[str, str] = worker.call(_w_generate_api_key)
        return result
    finally:
        _release_worker()


async def agenerate_api_key() -> tuple[str, str]:
    """Async twin of `generate_api_key`: the loop is not blocked while the key is made."""
    _import_sdk()
    worker = _acquire_worker()
    try:
        result: tuple[str, str] = await worker.submit(_w_generate_api_key)
        return result
    finally:
        _release_worker()


# ================================================================================================
# SdkSigner
# ================================================================================================


def chain_id_for_url(url: str | None) -> int | None:
    """Chain id for a known Lighter host by the SDK's substring rules; None for other hosts."""
    if not url:
        return None
    for needle, chain_id in _HOST_CHAIN_IDS:
        if needle in url:
            return chain_id
    return None


def _normalize_private_key(api_key_index: int, private_key: Any) -> bytes:
    if not isinstance(private_key, str):
        raise TypeError(f"api_keys[{api_key_index}] must be a hex string")
    text = private_key[2:] if private_key[:2] in ("0x", "0X") else private_key
    if len(text) != _PRIVATE_KEY_HEX_LEN:
        raise ValueError(
            f"api_keys[{api_key_index}] must be {_PRIVATE_KEY_HEX_LEN} hex digits (40 bytes), "
            f"got {len(text)} characters"
        )
    try:
        bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"api_keys[{api_key_index}] is not valid hex") from None
    return text.encode("ascii")


class SdkSigner:
    """The stock lighter-sdk signer library, called from one dedicated worker thread.

    Thread-safe: any thread or event loop may call it; calls run one at a time in FIFO order.
    The library keeps one client per (account, API key) for the whole process, so two signers
    for the same account and key index share it (the last private key registered wins).
    """

    def __init__(
        self,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
    ) -> None:
        job = self._setup(account_index, api_keys, chain_id, base_url)
        try:
            self._worker.call(job[0], *job[1])
        except BaseException:
            _release_worker()
            raise
        self._ready()

    def _setup(
        self,
        account_index: int,
        api_keys: Mapping[int, str],
        chain_id: int | None,
        base_url: str | None,
    ) -> _Job:
        """Validate the arguments, take the worker; return the job that registers the keys."""
        self._closed = True
        account_index = _int("account_index", account_index, 1, P.MAX_ACCOUNT_INDEX)
        if not isinstance(api_keys, Mapping) or not api_keys:
            raise ValueError("api_keys must be a non-empty mapping {api_key_index: private_key}")
        keys = [
            (_api_key_index(index), _normalize_private_key(index, key))
            for index, key in api_keys.items()
        ]
        if base_url is not None and not isinstance(base_url, str):
            raise TypeError("base_url must be a string")
        if chain_id is None:
            chain_id = chain_id_for_url(base_url)
        if chain_id is None:
            chain_id = P.CHAIN_ID_MAINNET  # the SDK's default for any other host
        chain_id = _int("chain_id", chain_id, 1, 2**31 - 1)
        self._account_index = account_index
        self._chain_id = chain_id
        self._api_key_indexes = frozenset(index for index, _ in keys)
        url = (base_url or _DUMMY_URL).rstrip("/").encode("utf-8")
        _import_sdk()
        self._worker = _acquire_worker()
        return _w_create_clients, (url, keys, chain_id, account_index)

    def _ready(self) -> None:
        self._closed = False
        log.debug(
            "signer ready: account %d, api keys %s, chain %d",
            self._account_index,
            sorted(self._api_key_indexes),
            self._chain_id,
        )

    # -- construction helpers ---------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
    ) -> SdkSigner:
        """Like the constructor, but never blocks the loop, and an unknown host is asked for its
        chain id (`GET /` → `network_id`)."""
        if chain_id is None:
            chain_id = chain_id_for_url(base_url)
        if chain_id is None and base_url:
            chain_id = await cls.discover_chain_id(base_url)
        self = cls.__new__(cls)
        job = self._setup(account_index, api_keys, chain_id, base_url)
        try:
            await self._worker.submit(job[0], *job[1])
        except BaseException:
            _release_worker()
            raise
        self._ready()
        return self

    @staticmethod
    async def discover_chain_id(base_url: str, *, timeout: float = 5.0) -> int:
        """Ask a node for its chain id: `GET /` answers `network_id` (protocol §1.2)."""
        import aiohttp

        url = base_url.rstrip("/") + "/"
        try:
            client_timeout = aiohttp.ClientTimeout(total=timeout)
            async with aiohttp.ClientSession(timeout=client_timeout) as session:
                async with session.get(url) as response:
                    body = await response.json(content_type=None)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise NodeUnreachable(base_url.rstrip("/"), f"GET / {detail}") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise ConfigError(
                f"could not read the chain id from {url} ({type(exc).__name__}); pass chain_id="
            ) from None
        network_id = body.get("network_id") if isinstance(body, dict) else None
        if type(network_id) is not int or network_id <= 0:
            raise ConfigError(f"{url} did not state a network_id; pass chain_id=")
        return network_id

    # -- properties ---------------------------------------------------------------------------

    @property
    def account_index(self) -> int:
        """The account every transaction and token is signed for."""
        return self._account_index

    @property
    def chain_id(self) -> int:
        """The L2 chain id signed into every transaction."""
        return self._chain_id

    @property
    def api_key_indexes(self) -> frozenset[int]:
        """The API key indexes this signer holds keys for."""
        return self._api_key_indexes

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed

    def __repr__(self) -> str:
        return (
            f"SdkSigner(account_index={self._account_index}, "
            f"api_key_indexes={sorted(self._api_key_indexes)}, chain_id={self._chain_id}"
            f"{', closed' if self._closed else ''})"
        )

    # -- preparation: validate in the caller's thread, before anything is signed -----------

    def _key(self, api_key_index: Any) -> int:
        index = _api_key_index(api_key_index)
        if index not in self._api_key_indexes:
            raise ValueError(f"api_key_index {index} has no private key in this signer")
        return index

    def _check_open(self) -> None:
        if self._closed:
            raise SignerError("signer is closed")

    def _prep(
        self,
        worker: Callable[..., SignedTx],
        row: Any,
        nonce: int,
        api_key_index: int,
    ) -> _Job:
        """One signing job: the worker and its arguments, after the fields were validated."""
        return worker, (self._account_index, self._key(api_key_index), _nonce(nonce), row)

    def _prep_create_order(
        self,
        *,
        market_index: int,
        client_order_index: int,
        base_amount: int,
        price: int,
        is_ask: bool | int,
        order_type: int,
        time_in_force: int,
        reduce_only: bool | int = False,
        trigger_price: int = 0,
        order_expiry: int = -1,
        nonce: int,
        api_key_index: int,
    ) -> _Job:
        row = validate_create_order(
            market_index=market_index,
            client_order_index=client_order_index,
            base_amount=base_amount,
            price=price,
            is_ask=is_ask,
            order_type=order_type,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            trigger_price=trigger_price,
            order_expiry=order_expiry,
        )
        return self._prep(_w_create_order, row, nonce, api_key_index)

    def _prep_cancel_order(self, *, nonce: int, api_key_index: int, **fields: Any) -> _Job:
        row = validate_cancel_order(**fields)
        return self._prep(_w_cancel_order, row, nonce, api_key_index)

    def _prep_modify_order(self, *, nonce: int, api_key_index: int, **fields: Any) -> _Job:
        row = validate_modify_order(**fields)
        return self._prep(_w_modify_order, row, nonce, api_key_index)

    def _prep_cancel_all_orders(self, *, nonce: int, api_key_index: int, **fields: Any) -> _Job:
        row = validate_cancel_all_orders(**fields)
        return self._prep(_w_cancel_all_orders, row, nonce, api_key_index)

    def _prep_create_grouped_orders(self, *, nonce: int, api_key_index: int, **fields: Any) -> _Job:
        row = validate_create_grouped_orders(**fields)
        return self._prep(_w_create_grouped_orders, row, nonce, api_key_index)

    def _prep_many(
        self, requests: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> tuple[Callable[..., list[SignedTx]], tuple[Any, ...]]:
        if isinstance(requests, (str, bytes)) or not isinstance(requests, Sequence):
            raise TypeError("requests must be a sequence of (kind, kwargs) pairs")
        jobs: list[tuple[Callable[..., SignedTx], tuple[Any, ...]]] = []
        for i, request in enumerate(requests):
            try:
                kind, kwargs = request
            except (TypeError, ValueError):
                raise TypeError(f"requests[{i}] must be a (kind, kwargs) pair") from None
            prep = self._preparers.get(kind) if isinstance(kind, str) else None
            if prep is None:
                raise ValueError(f"requests[{i}] kind must be one of {SIGN_KINDS}, got {kind!r}")
            if not isinstance(kwargs, Mapping):
                raise TypeError(f"requests[{i}] kwargs must be a mapping")
            try:
                jobs.append(prep(self, **kwargs))
            except TypeError as exc:
                raise TypeError(f"requests[{i}] ({kind}): {exc}") from None
            except ValueError as exc:
                raise ValueError(f"requests[{i}] ({kind}): {exc}") from None
        return _w_many, (jobs,)

    _preparers: ClassVar[dict[str, Callable[..., _Job]]] = {
        "create_order": _prep_create_order,
        "cancel_order": _prep_cancel_order,
        "modify_order": _prep_modify_order,
        "cancel_all_orders": _prep_cancel_all_orders,
        "create_grouped_orders": _prep_create_grouped_orders,
    }

    def _prep_auth_token(
        self, deadline: int, api_key_index: int
    ) -> tuple[Callable[..., str], tuple[Any, ...]]:
        value: Any = deadline
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        # 0 would make the library pick now + 7 h; the caller must choose the deadline.
        value = _int("deadline", value, 1, _INT64_MAX)
        return _w_auth_token, (self._account_index, self._key(api_key_index), value)

    # -- synchronous API (blocks the calling thread until the worker is done) -----------------

    def _run(self, job: tuple[Callable[..., Any], tuple[Any, ...]]) -> Any:
        self._check_open()
        return self._worker.call(job[0], *job[1])

    def sign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx:
        """Sign an L2CreateOrder (14). Keywords: see `Signer.sign_create_order`."""
        result: SignedTx = self._run(self._prep_create_order(**kwargs))
        return result

    def sign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx:
        """Sign an L2CancelOrder (15); `order_index` may be a COI or an order index."""
        result: SignedTx = self._run(self._prep_cancel_order(**kwargs))
        return result

    def sign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx:
        """Sign an L2ModifyOrder (17); `order_index` may be a COI or an order index."""
        result: SignedTx = self._run(self._prep_modify_order(**kwargs))
        return result

    def sign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx:
        """Sign an L2CancelAllOrders (16) for every market."""
        result: SignedTx = self._run(self._prep_cancel_all_orders(**kwargs))
        return result

    def sign_create_grouped_orders(self, **kwargs: Unpack[CreateGroupedOrdersArgs]) -> SignedTx:
        """Sign an L2CreateGroupedOrders (28): OTO (1), OCO (2) or OTOCO (3)."""
        result: SignedTx = self._run(self._prep_create_grouped_orders(**kwargs))
        return result

    def sign_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SignedTx]:
        """Sign a batch in one worker hop, results in request order. Every request is validated
        before any is signed; if the library refuses one, SignerError names its index."""
        result: list[SignedTx] = self._run(self._prep_many(requests))
        return result

    def create_auth_token(self, deadline: int, api_key_index: int) -> str:
        """Make an auth token `{deadline}:{account}:{key}:{sig hex}`; `deadline` in Unix seconds."""
        result: str = self._run(self._prep_auth_token(deadline, api_key_index))
        return result

    # -- async API (the loop never blocks; one thread hop per call) ---------------------------

    def _submit(self, job: tuple[Callable[..., Any], tuple[Any, ...]]) -> asyncio.Future[Any]:
        self._check_open()
        return self._worker.submit(job[0], *job[1])

    async def asign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx:
        """Async twin of `sign_create_order`."""
        result: SignedTx = await self._submit(self._prep_create_order(**kwargs))
        return result

    async def asign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx:
        """Async twin of `sign_cancel_order`."""
        result: SignedTx = await self._submit(self._prep_cancel_order(**kwargs))
        return result

    async def asign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx:
        """Async twin of `sign_modify_order`."""
        result: SignedTx = await self._submit(self._prep_modify_order(**kwargs))
        return result

    async def asign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx:
        """Async twin of `sign_cancel_all_orders`."""
        result: SignedTx = await self._submit(self._prep_cancel_all_orders(**kwargs))
        return result

    async def asign_create_grouped_orders(
        self, **kwargs: Unpack[CreateGroupedOrdersArgs]
    ) -> SignedTx:
        """Async twin of `sign_create_grouped_orders`."""
        result: SignedTx = await self._submit(self._prep_create_grouped_orders(**kwargs))
        return result

    async def asign_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SignedTx]:
        """Async twin of `sign_many` (one thread hop for the whole batch)."""
        result: list[SignedTx] = await self._submit(self._prep_many(requests))
        return result

    async def acreate_auth_token(self, deadline: int, api_key_index: int) -> str:
        """Async twin of `create_auth_token`."""
        result: str = await self._submit(self._prep_auth_token(deadline, api_key_index))
        return result

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop using the worker (it ends when its last user closes). Idempotent."""
        if self._closed:
            return
        self._closed = True
        _release_worker()

    def __del__(self) -> None:
        # A signer dropped without close() still releases the worker (without joining it).
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):
                _release_worker(wait=False)

    def __enter__(self) -> SdkSigner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Re-exported so `from lighterfast.signing import AuthTokenProvider` works (auth.py owns it).
from .auth import AuthTokenProvider, AuthTokenUnavailable  # noqa: E402

# Opt-in native signer (C Poseidon2/ECgFp5 Schnorr in lighterfast._signer): the same interface,
# validation and tx_info as SdkSigner, microseconds per signature. Never the default.
try:
    from ._signer import NativeSigner
except ImportError as _native_error:  # pragma: no cover - the extension is not built
    _NATIVE_MISSING = str(_native_error)

    class NativeSigner:  # type: ignore[no-redef]
        """Placeholder when the compiled native signer is missing: constructing it raises."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise SignerError(f"the native signer extension is not built: {_NATIVE_MISSING}")


__all__ += ["NativeSigner"]
