"""Validation of every tx kind before anything is signed (protocol §0.2, signer-spec §5.5).

Each check raises TypeError/ValueError naming the field; both signers use these, so they refuse
the same input with the same words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .. import protocol as P
from .._checks import check_market
from .types import GroupedOrder

__all__ = [
    "check_api_key_index",
    "check_deadline",
    "check_nonce",
    "check_private_key",
    "int_field",
    "validate_cancel_all_orders",
    "validate_cancel_order",
    "validate_create_grouped_orders",
    "validate_create_order",
    "validate_modify_order",
    "validate_update_leverage",
    "validate_update_margin",
]

_PRIVATE_KEY_HEX_LEN: Final = 80  # 40 bytes (signer-spec §1.1)
INT64_MAX: Final = 2**63 - 1
MAX_USDC_AMOUNT: Final = 2**60 - 1  # micro-USDC: the library refuses more (checked against it)


def int_field(name: str, value: Any, lo: int, hi: int) -> int:
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


def _market(name: str, value: Any) -> int:
    """A market id as the library takes it: 0..254 or 256..2^48-1 (255 means "all markets" and
    is only cancel-all's). Spot or perp is the node's market_type, never read from the id."""
    return check_market(name, value)


def check_nonce(value: Any) -> int:
    """A tx nonce, 0..2^63-1."""
    return int_field("nonce", value, 0, P.MAX_NONCE)


def check_api_key_index(value: Any) -> int:
    """An API key index, 0..254 (255 means every key and is never a signing key)."""
    return int_field("api_key_index", value, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)


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
    if (  # the dealer's common case, plain ints and bools: the same checks in one expression
        type(market_index) is int
        and type(client_order_index) is int
        and type(base_amount) is int
        and type(price) is int
        and type(is_ask) is bool
        and type(reduce_only) is bool
        and order_type == P.ORDER_TYPE_LIMIT
        and type(order_type) is int
        and (time_in_force == P.TIF_GTT or time_in_force == P.TIF_POST_ONLY)
        and type(time_in_force) is int
        and trigger_price == 0
        and type(trigger_price) is int
        and order_expiry == -1
        and type(order_expiry) is int
        and 0 <= market_index < P.ALL_MARKETS
        and P.NIL_COI <= client_order_index <= P.MAX_COI
        and (0 if reduce_only else P.MIN_BASE_AMOUNT) <= base_amount <= P.MAX_BASE_AMOUNT
        and P.MIN_PRICE <= price <= P.MAX_PRICE
    ):
        return (
            market_index,
            client_order_index,
            base_amount,
            price,
            int(is_ask),
            order_type,
            time_in_force,
            int(reduce_only),
            0,
            -1,
        )
    f = field_prefix
    market_index = _market(f + "market_index", market_index)
    client_order_index = int_field(
        f + "client_order_index", client_order_index, P.NIL_COI, P.MAX_COI
    )
    reduce = _flag(f + "reduce_only", reduce_only)
    base_amount = int_field(
        f + "base_amount", base_amount, 0 if reduce else P.MIN_BASE_AMOUNT, P.MAX_BASE_AMOUNT
    )
    price = int_field(f + "price", price, P.MIN_PRICE, P.MAX_PRICE)
    ask = _flag(f + "is_ask", is_ask)
    order_type = int_field(f + "order_type", order_type, P.ORDER_TYPE_LIMIT, P.ORDER_TYPE_TWAP)
    time_in_force = int_field(f + "time_in_force", time_in_force, P.TIF_IOC, P.TIF_POST_ONLY)
    trigger_price = int_field(f + "trigger_price", trigger_price, 0, P.MAX_PRICE)
    if order_expiry != -1:  # -1 = the signer's default, now + 28 days
        order_expiry = int_field(f + "order_expiry", order_expiry, 0, P.MAX_TIMESTAMP_MS)
    elif type(order_expiry) is not int:
        raise TypeError(f"{f}order_expiry must be an int, got {type(order_expiry).__name__}")
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
        int_field("order_index", order_index, P.MIN_COI, P.MAX_ORDER_INDEX),
    )


def validate_modify_order(
    *, market_index: int, order_index: int, base_amount: int, price: int, trigger_price: int = 0
) -> tuple[int, int, int, int, int]:
    """Check a modify's fields; base_amount 0 passes as the signer allows it (meaning unclear)."""
    return (
        _market("market_index", market_index),
        int_field("order_index", order_index, P.MIN_COI, P.MAX_ORDER_INDEX),
        int_field("base_amount", base_amount, 0, P.MAX_BASE_AMOUNT),
        int_field("price", price, P.MIN_PRICE, P.MAX_PRICE),
        int_field("trigger_price", trigger_price, 0, P.MAX_PRICE),
    )


def validate_cancel_all_orders(*, time_in_force: int, time: int) -> tuple[int, int]:
    """Check cancel-all: tif 0 (now) and 2 (abort) need time 0; tif 1 (schedule) a ms timestamp."""
    time_in_force = int_field("time_in_force", time_in_force, P.CANCEL_ALL_NOW, P.CANCEL_ALL_ABORT)
    if time_in_force == P.CANCEL_ALL_SCHEDULE:
        time = int_field("time", time, 1, P.MAX_TIMESTAMP_MS)
    else:
        time = int_field("time", time, 0, 0)
    return time_in_force, time


def validate_update_leverage(
    *, market_index: int, initial_margin_fraction: int, margin_mode: int
) -> tuple[int, int, int]:
    """Check an UpdateLeverage: initial margin fraction 1..10000 (ticks of 1e-4, 10000 / leverage),
    margin mode 0 (cross) or 1 (isolated); the library refuses the same."""
    return (
        _market("market_index", market_index),
        int_field("initial_margin_fraction", initial_margin_fraction, 1, P.MARGIN_FRACTION_TICK),
        int_field("margin_mode", margin_mode, 0, 1),
    )


def validate_update_margin(
    *, market_index: int, usdc_amount: int, direction: int
) -> tuple[int, int, int]:
    """Check an UpdateMargin: usdc_amount in micro-USDC 1..2^60-1, direction 1 (add to the
    isolated position) or 0 (remove from it)."""
    return (
        _market("market_index", market_index),
        int_field("usdc_amount", usdc_amount, 1, MAX_USDC_AMOUNT),
        int_field("direction", direction, 0, 1),
    )


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
    """The fields of one grouped order given as a GroupedOrder or a mapping."""
    if isinstance(order, GroupedOrder):
        return order._asdict()
    if isinstance(order, Mapping):
        return order
    raise TypeError(f"orders[{index}] must be a GroupedOrder or a mapping")


def validate_create_grouped_orders(
    *, grouping_type: int, orders: Sequence[GroupedOrder | Mapping[str, Any]]
) -> tuple[int, list[tuple[int, ...]]]:
    """Check a grouped-orders tx: per-order rules plus the OTO / OCO / OTOCO shape rules."""
    grouping_type = int_field("grouping_type", grouping_type, 1, 3)
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


def check_private_key(api_key_index: int, private_key: Any) -> bytes:
    """A 40-byte private key given as 80 hex digits (0x optional), as ASCII hex bytes; the
    error names the key index, never the key."""
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


def check_deadline(deadline: Any) -> int:
    """An auth-token deadline in Unix seconds, 1..2^63-1 (an integral float is accepted)."""
    value = deadline
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    # 0 would make the library pick now + 7 h; the caller must choose the deadline.
    return int_field("deadline", value, 1, INT64_MAX)
