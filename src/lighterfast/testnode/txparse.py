"""Parse and range-check tx_info exactly as the signer prints it (protocol §2.2-§2.9).

Parsing raises `TxError(21501)` for anything malformed; `check_ranges` raises the 217xx
codes the signer itself enforces. Both are pure functions of the tx.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from lighterfast import protocol as p

# Keys every L2 tx of a type must carry (struct order of the signer's JSON).
_COMMON = ("AccountIndex", "ApiKeyIndex", "ExpiredAt", "Nonce")
# The order fields, in the order the signer prints and hashes them (one grouped-order leg too).
ORDER_FIELDS = (
    "MarketIndex",
    "ClientOrderIndex",
    "BaseAmount",
    "Price",
    "IsAsk",
    "Type",
    "TimeInForce",
    "ReduceOnly",
    "TriggerPrice",
    "OrderExpiry",
)
INT_FIELDS: dict[int, tuple[str, ...]] = {
    p.TX_TYPE_CREATE_ORDER: (*_COMMON, *ORDER_FIELDS),
    p.TX_TYPE_CANCEL_ORDER: (*_COMMON, "MarketIndex", "Index"),
    p.TX_TYPE_CANCEL_ALL_ORDERS: (*_COMMON, "TimeInForce", "Time"),
    p.TX_TYPE_MODIFY_ORDER: (
        *_COMMON,
        "MarketIndex",
        "Index",
        "BaseAmount",
        "Price",
        "TriggerPrice",
    ),
    p.TX_TYPE_CREATE_GROUPED_ORDERS: (*_COMMON, "GroupingType"),
    p.TX_TYPE_UPDATE_LEVERAGE: (*_COMMON, "MarketIndex", "InitialMarginFraction", "MarginMode"),
    p.TX_TYPE_UPDATE_MARGIN: (*_COMMON, "MarketIndex", "USDCAmount", "Direction"),
}
SUPPORTED_TX_TYPES = frozenset(INT_FIELDS)

# Expired tx (ExpiredAt in the past): the venue's code is not captured (§7.6). The node answers
# with the param-error code 21501 and its verbatim message, before the nonce check.
EXPIRED_TX_CODE = p.ERR_INVALID_TX_INFO


class TxError(Exception):
    """A request the node refuses synchronously: carries the wire code, message, HTTP status."""

    __slots__ = ("code", "http_status", "message")

    def __init__(self, code: int, message: str | None = None, http_status: int = 400) -> None:
        self.code = code
        self.message = message if message is not None else p.ERROR_MESSAGES.get(code, "error")
        self.http_status = http_status
        super().__init__(f"{self.code}: {self.message}")


class ParsedTx:
    """One decoded L2 tx: header fields pulled out, the signer's object kept in `info`."""

    __slots__ = (
        "account_index",
        "api_key_index",
        "attributes",
        "expired_at",
        "info",
        "info_str",
        "nonce",
        "tx_hash",
        "tx_type",
    )

    def __init__(self, tx_type: int, info: dict[str, Any], info_str: str) -> None:
        self.tx_type = tx_type
        self.info = info
        self.info_str = info_str
        self.account_index: int = info["AccountIndex"]
        self.api_key_index: int = info["ApiKeyIndex"]
        self.nonce: int = info["Nonce"]
        self.expired_at: int = info["ExpiredAt"]
        attrs = info.get("L2TxAttributes")
        self.attributes: dict[str, int] = attrs or {}
        self.tx_hash = ""


def pseudo_tx_hash(info_str: str | bytes) -> str:
    """80-hex stand-in for the signed message hash (the node's `tx_hash_mode="fast"`)."""
    data = info_str.encode() if isinstance(info_str, str) else info_str
    return hashlib.blake2b(data, digest_size=40).hexdigest()


def _is_int(v: object) -> bool:
    return type(v) is int


def parse_tx(tx_type: object, tx_info: object) -> ParsedTx:
    """Decode one tx (tx_info as JSON str/bytes or already an object); 21501/21505 on failure."""
    if isinstance(tx_type, str):
        try:
            tx_type = int(tx_type)
        except ValueError:
            raise TxError(p.ERR_INVALID_TX_INFO) from None
    if not _is_int(tx_type):
        raise TxError(p.ERR_INVALID_TX_INFO)
    assert isinstance(tx_type, int)
    if isinstance(tx_info, (str, bytes)):
        try:
            info = orjson.loads(tx_info)
        except orjson.JSONDecodeError:
            raise TxError(p.ERR_INVALID_TX_INFO) from None
        info_str = tx_info if isinstance(tx_info, str) else tx_info.decode()
    elif isinstance(tx_info, dict):
        info = tx_info
        info_str = orjson.dumps(tx_info).decode()
    else:
        raise TxError(p.ERR_INVALID_TX_INFO)
    if not isinstance(info, dict):
        raise TxError(p.ERR_INVALID_TX_INFO)
    fields = INT_FIELDS.get(tx_type)
    if fields is None:
        # Header must still parse for a meaningful error ordering; unsupported wins.
        raise TxError(p.ERR_UNSUPPORTED_TX_TYPE)
    for key in fields:
        if type(info.get(key)) is not int:
            raise TxError(p.ERR_INVALID_TX_INFO)
    if type(info.get("Sig")) is not str:
        raise TxError(p.ERR_INVALID_TX_INFO)
    attrs = info.get("L2TxAttributes")
    if attrs is not None:
        if not isinstance(attrs, dict) or len(attrs) > 4:
            raise TxError(p.ERR_INVALID_TX_INFO)
        for k, v in attrs.items():
            if k not in _ATTR_KEYS or type(v) is not int:
                raise TxError(p.ERR_INVALID_TX_INFO)
    if tx_type == p.TX_TYPE_CREATE_GROUPED_ORDERS:
        orders = info.get("Orders")
        if not isinstance(orders, list) or not orders:
            raise TxError(p.ERR_INVALID_TX_INFO)
        for order in orders:
            if not isinstance(order, dict):
                raise TxError(p.ERR_INVALID_TX_INFO)
            for key in ORDER_FIELDS:
                if type(order.get(key)) is not int:
                    raise TxError(p.ERR_INVALID_TX_INFO)
    return ParsedTx(tx_type, info, info_str)


_ATTR_KEYS = frozenset(
    {
        p.ATTR_INTEGRATOR_ACCOUNT,
        p.ATTR_INTEGRATOR_TAKER_FEE,
        p.ATTR_INTEGRATOR_MAKER_FEE,
        p.ATTR_SKIP_NONCE,
        p.ATTR_CANCEL_ALL_MARKET,
        p.ATTR_SELF_TRADE_BEHAVIOUR,
        p.ATTR_SELF_TRADE_EQUALITY,
        p.ATTR_ORDER_VERSION,
    }
)


def check_header_ranges(tx: ParsedTx) -> None:
    """Account / key index ranges (21102 / 21110), checked before the account lookup."""
    if not 0 <= tx.account_index <= p.MAX_ACCOUNT_INDEX:
        raise TxError(p.ERR_INVALID_ACCOUNT_INDEX)
    if not p.MIN_API_KEY_INDEX <= tx.api_key_index <= p.MAX_API_KEY_INDEX:
        raise TxError(p.ERR_INVALID_API_KEY_INDEX)
    if not 0 <= tx.expired_at <= p.MAX_TIMESTAMP_MS or tx.nonce < 0:
        raise TxError(p.ERR_INVALID_TX_INFO)


def _check_order_fields(o: dict[str, Any], now_ms: int, market_ok: Any) -> None:
    """The signer's create-order rules (§2.3 table) plus the server's expiry window."""
    if not market_ok(o["MarketIndex"]):
        raise TxError(p.ERR_INVALID_MARKET_INDEX)
    coi = o["ClientOrderIndex"]
    if not 0 <= coi <= p.MAX_COI:
        raise TxError(p.ERR_INVALID_COI)
    reduce_only = o["ReduceOnly"]
    if reduce_only not in (0, 1):
        raise TxError(p.ERR_INVALID_TX_INFO)
    base = o["BaseAmount"]
    if not (p.MIN_BASE_AMOUNT <= base <= p.MAX_BASE_AMOUNT or (base == 0 and reduce_only == 1)):
        raise TxError(p.ERR_INVALID_BASE_AMOUNT)
    if not p.MIN_PRICE <= o["Price"] <= p.MAX_PRICE:
        raise TxError(p.ERR_INVALID_PRICE)
    if o["IsAsk"] not in (0, 1):
        raise TxError(p.ERR_INVALID_IS_ASK)
    otype = o["Type"]
    if not p.ORDER_TYPE_LIMIT <= otype <= p.ORDER_TYPE_TWAP:
        raise TxError(p.ERR_INVALID_ORDER_TYPE)
    tif = o["TimeInForce"]
    if tif not in (p.TIF_IOC, p.TIF_GTT, p.TIF_POST_ONLY):
        raise TxError(p.ERR_INVALID_TIME_IN_FORCE)
    trigger = o["TriggerPrice"]
    expiry = o["OrderExpiry"]
    is_trigger_type = otype in (
        p.ORDER_TYPE_STOP_LOSS,
        p.ORDER_TYPE_STOP_LOSS_LIMIT,
        p.ORDER_TYPE_TAKE_PROFIT,
        p.ORDER_TYPE_TAKE_PROFIT_LIMIT,
    )
    if is_trigger_type:
        if not p.MIN_PRICE <= trigger <= p.MAX_PRICE:
            raise TxError(p.ERR_INVALID_TRIGGER_PRICE)
    elif trigger != 0:
        raise TxError(p.ERR_INVALID_TRIGGER_PRICE)
    if otype == p.ORDER_TYPE_MARKET or otype in (p.ORDER_TYPE_STOP_LOSS, p.ORDER_TYPE_TAKE_PROFIT):
        if tif != p.TIF_IOC:
            raise TxError(p.ERR_INVALID_TIME_IN_FORCE)
    if otype == p.ORDER_TYPE_TWAP and tif != p.TIF_GTT:
        raise TxError(p.ERR_INVALID_TIME_IN_FORCE)
    needs_zero_expiry = otype == p.ORDER_TYPE_MARKET or (
        otype == p.ORDER_TYPE_LIMIT and tif == p.TIF_IOC
    )
    if needs_zero_expiry:
        if expiry != 0:
            raise TxError(p.ERR_INVALID_EXPIRY)
    elif not (
        now_ms + p.MIN_ORDER_EXPIRY_PERIOD_MS <= expiry <= now_ms + p.MAX_ORDER_EXPIRY_PERIOD_MS
    ):
        raise TxError(p.ERR_INVALID_EXPIRY)


def check_ranges(
    tx: ParsedTx,
    now_ms: int,
    market_ok: Any,
    cancel_all_min_ms: int = p.MIN_ORDER_EXPIRY_PERIOD_MS,
) -> None:
    """Field ranges the signer enforces (21602, 21700-21729); nothing is consumed on failure.

    `cancel_all_min_ms`: the earliest a scheduled cancel-all may be set for, from now (the
    venue's 5 minutes unless a test node lowers it).
    """
    info = tx.info
    t = tx.tx_type
    if t == p.TX_TYPE_CREATE_ORDER:
        _check_order_fields(info, now_ms, market_ok)
    elif t in (p.TX_TYPE_CANCEL_ORDER, p.TX_TYPE_MODIFY_ORDER):
        if not market_ok(info["MarketIndex"]):
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
        index = info["Index"]
        if not (p.MIN_COI <= index <= p.MAX_ORDER_INDEX):
            raise TxError(p.ERR_INVALID_ORDER_INDEX)
        if t == p.TX_TYPE_MODIFY_ORDER:
            if not 0 <= info["BaseAmount"] <= p.MAX_BASE_AMOUNT:
                raise TxError(p.ERR_INVALID_BASE_AMOUNT)
            if not p.MIN_PRICE <= info["Price"] <= p.MAX_PRICE:
                raise TxError(p.ERR_INVALID_PRICE)
            if not 0 <= info["TriggerPrice"] <= p.MAX_PRICE:
                raise TxError(p.ERR_INVALID_TRIGGER_PRICE)
    elif t == p.TX_TYPE_CANCEL_ALL_ORDERS:
        tif = info["TimeInForce"]
        when = info["Time"]
        if tif == p.CANCEL_ALL_SCHEDULE:
            if not now_ms + cancel_all_min_ms <= when <= now_ms + 15 * 86_400_000:
                raise TxError(p.ERR_INVALID_CANCEL_ALL_TIME)
        elif tif in (p.CANCEL_ALL_NOW, p.CANCEL_ALL_ABORT):
            if when != 0:
                raise TxError(p.ERR_INVALID_CANCEL_ALL_TIME)
        else:
            raise TxError(p.ERR_INVALID_CANCEL_ALL_TIF)
        market = tx.attributes.get(p.ATTR_CANCEL_ALL_MARKET, p.ALL_MARKETS)
        if market != p.ALL_MARKETS and not market_ok(market):
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
    elif t == p.TX_TYPE_CREATE_GROUPED_ORDERS:
        orders = info["Orders"]
        if not 1 <= len(orders) <= p.MAX_GROUPED_ORDERS or info["GroupingType"] not in (1, 2, 3):
            raise TxError(21741, "invalid grouping type")
        for order in orders:
            _check_order_fields(order, now_ms, market_ok)
    elif t in (p.TX_TYPE_UPDATE_LEVERAGE, p.TX_TYPE_UPDATE_MARGIN):
        if not market_ok(info["MarketIndex"]):
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
