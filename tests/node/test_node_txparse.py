"""tx_info parsing and the signer's range rules, as the node applies them (pure functions)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from lighterfast import protocol as p
from lighterfast.testnode.txparse import TxError, check_header_ranges, check_ranges, parse_tx

NOW = int(time.time() * 1000)
DAY = 86_400_000


def _header(**kw: Any) -> dict[str, Any]:
    h = {"AccountIndex": 281, "ApiKeyIndex": 4, "ExpiredAt": NOW + 599_000, "Nonce": 0}
    h.update(kw)
    return h


def _create(**kw: Any) -> dict[str, Any]:
    info = {
        **_header(),
        "MarketIndex": 0,
        "ClientOrderIndex": 1,
        "BaseAmount": 100,
        "Price": 300_000,
        "IsAsk": 0,
        "Type": 0,
        "TimeInForce": 1,
        "ReduceOnly": 0,
        "TriggerPrice": 0,
        "OrderExpiry": NOW + 7 * DAY,
        "Sig": "x" * 108,
        "L2TxAttributes": None,
    }
    info.update(kw)
    return info


def _code(tx_type: int, info: dict[str, Any]) -> int:
    try:
        tx = parse_tx(tx_type, orjson.dumps(info).decode())
        check_header_ranges(tx)
        check_ranges(tx, NOW, lambda m: m in (0, 1, 2))
    except TxError as err:
        return err.code
    return 0


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, 0),
        ({"MarketIndex": 9}, p.ERR_INVALID_MARKET_INDEX),
        ({"ClientOrderIndex": p.MAX_COI + 1}, p.ERR_INVALID_COI),
        ({"ClientOrderIndex": 0}, 0),
        ({"BaseAmount": 0}, p.ERR_INVALID_BASE_AMOUNT),
        ({"BaseAmount": 0, "ReduceOnly": 1}, 0),
        ({"ReduceOnly": 2}, p.ERR_INVALID_TX_INFO),
        ({"Price": 0}, p.ERR_INVALID_PRICE),
        ({"Price": p.MAX_PRICE + 1}, p.ERR_INVALID_PRICE),
        ({"IsAsk": 3}, p.ERR_INVALID_IS_ASK),
        ({"Type": 9}, p.ERR_INVALID_ORDER_TYPE),
        ({"TimeInForce": 5}, p.ERR_INVALID_TIME_IN_FORCE),
        ({"TriggerPrice": 5}, p.ERR_INVALID_TRIGGER_PRICE),
        ({"Type": 2, "TimeInForce": 0, "TriggerPrice": 0}, p.ERR_INVALID_TRIGGER_PRICE),
        ({"Type": 2, "TimeInForce": 1, "TriggerPrice": 10}, p.ERR_INVALID_TIME_IN_FORCE),
        ({"Type": 2, "TimeInForce": 0, "TriggerPrice": 10}, 0),
        ({"Type": 1, "TimeInForce": 1, "OrderExpiry": 0}, p.ERR_INVALID_TIME_IN_FORCE),
        ({"Type": 1, "TimeInForce": 0}, p.ERR_INVALID_EXPIRY),
        ({"Type": 1, "TimeInForce": 0, "OrderExpiry": 0}, 0),
        ({"Type": 6, "TimeInForce": 0, "OrderExpiry": 0}, p.ERR_INVALID_TIME_IN_FORCE),
        ({"TimeInForce": 0}, p.ERR_INVALID_EXPIRY),
        ({"OrderExpiry": 0}, p.ERR_INVALID_EXPIRY),
        ({"OrderExpiry": NOW + 60_000}, p.ERR_INVALID_EXPIRY),
        ({"OrderExpiry": NOW + 31 * DAY}, p.ERR_INVALID_EXPIRY),
        ({"OrderExpiry": -1}, p.ERR_INVALID_EXPIRY),
        ({"AccountIndex": -1}, p.ERR_INVALID_ACCOUNT_INDEX),
        ({"ApiKeyIndex": 255}, p.ERR_INVALID_API_KEY_INDEX),
        ({"Nonce": -1}, p.ERR_INVALID_TX_INFO),
        ({"ExpiredAt": 2**48}, p.ERR_INVALID_TX_INFO),
        ({"Sig": 5}, p.ERR_INVALID_TX_INFO),
        ({"IsAsk": True}, p.ERR_INVALID_TX_INFO),  # JSON true is not an integer
        ({"L2TxAttributes": {"1": 5, "2": 6, "3": 7, "6": 1, "7": 1}}, p.ERR_INVALID_TX_INFO),
        ({"L2TxAttributes": {"4": "1"}}, p.ERR_INVALID_TX_INFO),
        ({"L2TxAttributes": {"4": 1}}, 0),
    ],
)
def test_create_order_rules(fields: dict[str, Any], code: int) -> None:
    assert _code(p.TX_TYPE_CREATE_ORDER, _create(**fields)) == code


@pytest.mark.parametrize(
    ("tx_type", "body", "code"),
    [
        (15, {"MarketIndex": 0, "Index": 5}, 0),
        (15, {"MarketIndex": 0, "Index": 0}, p.ERR_INVALID_ORDER_INDEX),
        (15, {"MarketIndex": 0, "Index": p.MAX_ORDER_INDEX + 1}, p.ERR_INVALID_ORDER_INDEX),
        (15, {"MarketIndex": 7, "Index": 5}, p.ERR_INVALID_MARKET_INDEX),
        (15, {"MarketIndex": 0}, p.ERR_INVALID_TX_INFO),
        (17, {"MarketIndex": 0, "Index": 5, "BaseAmount": 1, "Price": 1, "TriggerPrice": 0}, 0),
        (17, {"MarketIndex": 0, "Index": 5, "BaseAmount": -1, "Price": 1, "TriggerPrice": 0},
         p.ERR_INVALID_BASE_AMOUNT),
        (17, {"MarketIndex": 0, "Index": 5, "BaseAmount": 1, "Price": 0, "TriggerPrice": 0},
         p.ERR_INVALID_PRICE),
        (17, {"MarketIndex": 0, "Index": 5, "BaseAmount": 1, "Price": 1, "TriggerPrice": -1},
         p.ERR_INVALID_TRIGGER_PRICE),
        (16, {"TimeInForce": 0, "Time": 0}, 0),
        (16, {"TimeInForce": 0, "Time": 5}, p.ERR_INVALID_CANCEL_ALL_TIME),
        (16, {"TimeInForce": 1, "Time": NOW + 60_000}, p.ERR_INVALID_CANCEL_ALL_TIME),
        (16, {"TimeInForce": 1, "Time": NOW + DAY}, 0),
        (16, {"TimeInForce": 2, "Time": 0}, 0),
        (16, {"TimeInForce": 3, "Time": 0}, p.ERR_INVALID_CANCEL_ALL_TIF),
        (16, {"TimeInForce": 0, "Time": 0, "L2TxAttributes": {"5": 9}}, p.ERR_INVALID_MARKET_INDEX),
        (20, {"MarketIndex": 0, "InitialMarginFraction": 500, "MarginMode": 0}, 0),
        (29, {"MarketIndex": 5, "USDCAmount": 1, "Direction": 1}, p.ERR_INVALID_MARKET_INDEX),
        (8, {}, p.ERR_UNSUPPORTED_TX_TYPE),
    ],
)  # fmt: skip
def test_other_tx_rules(tx_type: int, body: dict[str, Any], code: int) -> None:
    info = {**_header(), **body, "Sig": "s"}
    info.setdefault("L2TxAttributes", None)
    assert _code(tx_type, info) == code


def test_grouped_orders_rules() -> None:
    leg = {k: v for k, v in _create().items() if k in _ORDER_KEYS}
    good = {**_header(), "GroupingType": 1, "Orders": [leg, leg], "Sig": "s"}
    assert _code(28, good) == 0
    assert _code(28, {**good, "GroupingType": 4}) == 21741
    assert _code(28, {**good, "Orders": [leg] * 4}) == 21741
    assert _code(28, {**good, "Orders": []}) == p.ERR_INVALID_TX_INFO
    assert _code(28, {**good, "Orders": [leg, {**leg, "Price": "1"}]}) == p.ERR_INVALID_TX_INFO
    assert _code(28, {**good, "Orders": [leg, {**leg, "Price": 0}]}) == p.ERR_INVALID_PRICE


_ORDER_KEYS = {
    "MarketIndex", "ClientOrderIndex", "BaseAmount", "Price", "IsAsk", "Type", "TimeInForce",
    "ReduceOnly", "TriggerPrice", "OrderExpiry",
}  # fmt: skip


@pytest.mark.parametrize(
    ("tx_type", "tx_info"),
    [("14", "[]"), (14, 5), (14, b"\xff"), (None, "{}"), (14.0, "{}"), ("abc", "{}")],
)
def test_parse_refuses_non_objects(tx_type: Any, tx_info: Any) -> None:
    with pytest.raises(TxError) as exc:
        parse_tx(tx_type, tx_info)
    assert exc.value.code == p.ERR_INVALID_TX_INFO


def test_parse_accepts_object_and_bytes_keeping_text() -> None:
    info = _create()
    text = orjson.dumps(info).decode()
    from_obj = parse_tx(14, info)
    from_bytes = parse_tx("14", text.encode())
    assert from_obj.info_str == from_bytes.info_str == text
    assert (from_obj.account_index, from_obj.nonce, from_obj.api_key_index) == (281, 0, 4)
