"""wire.py: channel helpers, request frames (double-encoded batches), tx replies → exceptions."""

from __future__ import annotations

import orjson
import pytest

from lighterfast import protocol as P
from lighterfast.errors import NonceError, RateLimited, TxRejected
from lighterfast.wire import (
    encode_sendtx,
    encode_sendtx_batch,
    encode_sendtx_batch_signed,
    encode_subscribe,
    encode_unsubscribe,
    error_from_code,
    frame_channel,
    http_url_for,
    is_private_channel,
    parse_channel,
    parse_tx_reply,
    reply_error,
    sendtx_batch_form,
    split_type,
    subscribe_channel,
    to_frame_channel,
    ws_url_for,
)

INFO_A = '{"AccountIndex":1,"ApiKeyIndex":4,"Nonce":7,"Sig":"x=","L2TxAttributes":null}'
INFO_B = '{"AccountIndex":1,"ApiKeyIndex":4,"Nonce":8,"Sig":"y=","L2TxAttributes":null}'


def test_channels_both_spellings() -> None:
    assert subscribe_channel("order_book", 0) == "order_book/0"
    assert subscribe_channel("account_orders", 1, 77) == "account_orders/1/77"
    assert subscribe_channel("height") == "height"
    assert frame_channel("order_book", 0) == "order_book:0"
    assert to_frame_channel("account_orders/1/77") == "account_orders:1:77"
    assert parse_channel("order_book:12") == ("order_book", ("12",))
    assert parse_channel("account_orders/1/77") == ("account_orders", ("1", "77"))
    assert parse_channel("height") == ("height", ())
    assert is_private_channel("account_all_orders/5") and not is_private_channel("trade:0")
    assert split_type("update/order_book") == ("update", "order_book")
    assert split_type("connected") == ("connected", "")
    with pytest.raises(ValueError, match="channel family"):
        subscribe_channel("order_book/0")
    with pytest.raises(ValueError, match="channel"):
        parse_channel(":0")
    with pytest.raises(TypeError, match="channel"):
        parse_channel(0)  # type: ignore[arg-type]


def test_subscribe_frames() -> None:
    assert orjson.loads(encode_subscribe("trade/0")) == {"type": "subscribe", "channel": "trade/0"}
    sub = orjson.loads(encode_subscribe("account_all_orders/5", "tok"))
    assert sub == {"type": "subscribe", "channel": "account_all_orders/5", "auth": "tok"}
    assert orjson.loads(encode_unsubscribe("order_book/0"))["type"] == "unsubscribe"
    with pytest.raises(ValueError, match="auth"):
        encode_subscribe("account_all_orders/5", "")
    with pytest.raises(ValueError, match="channel"):
        encode_unsubscribe("")


def test_sendtx_embeds_the_tx_info_object_unchanged() -> None:
    frame = encode_sendtx(14, INFO_A, request_id="r1")
    assert INFO_A.encode() in frame  # byte-for-byte, key order kept
    msg = orjson.loads(frame)
    assert msg == {
        "type": P.WS_MSG_SEND_TX,
        "data": {"id": "r1", "tx_type": 14, "tx_info": orjson.loads(INFO_A)},
    }
    assert "id" not in orjson.loads(encode_sendtx(15, INFO_B))["data"]


def test_batch_is_double_encoded() -> None:
    frame = encode_sendtx_batch([14, 15], [INFO_A, INFO_B], request_id="b-1")
    msg = orjson.loads(frame)
    assert msg["type"] == P.WS_MSG_SEND_TX_BATCH and msg["data"]["id"] == "b-1"
    assert msg["data"]["tx_types"] == "[14,15]"
    assert orjson.loads(msg["data"]["tx_infos"]) == [INFO_A, INFO_B]  # strings inside a string
    form = sendtx_batch_form([14], [INFO_A])
    assert form == {"tx_types": "[14]", "tx_infos": orjson.dumps([INFO_A]).decode()}


class _Signed:
    def __init__(self, tx_type: int, tx_info: str) -> None:
        self.tx_type = tx_type
        self.tx_info = tx_info


def test_batch_from_signed_objects() -> None:
    frame = encode_sendtx_batch_signed([_Signed(14, INFO_A), _Signed(15, INFO_B)], request_id="s")
    assert frame == encode_sendtx_batch([14, 15], [INFO_A, INFO_B], request_id="s")
    with pytest.raises(TypeError, match="SignedTx"):
        encode_sendtx_batch_signed([object()])


@pytest.mark.parametrize(
    ("types", "infos", "kwargs", "exc", "field"),
    [
        ([14, 15], [INFO_A], {}, ValueError, "tx_infos"),
        ([], [], {}, ValueError, "tx_types"),
        ([14] * 16, [INFO_A] * 16, {"max_batch": 15}, ValueError, "max_batch"),
        ([True], [INFO_A], {}, TypeError, r"tx_types\[0\]"),
        ([14], ["not json"], {}, ValueError, r"tx_infos\[0\]"),
        ([14], [42], {}, TypeError, r"tx_infos\[0\]"),
        ("14", [INFO_A], {}, TypeError, "tx_types"),
        ([14], [INFO_A], {"request_id": ""}, ValueError, "request_id"),
    ],
)
def test_bad_batches_raise_naming_the_field(
    types: object, infos: object, kwargs: dict[str, object], exc: type[Exception], field: str
) -> None:
    with pytest.raises(exc, match=field):
        encode_sendtx_batch(types, infos, **kwargs)  # type: ignore[arg-type]


def test_tx_reply_forms() -> None:
    ok = parse_tx_reply(
        {"code": 200, "id": "x", "tx_hash": ["a", "b"], "type": "jsonapi/sendtxbatch"}
    )
    assert ok.ok and ok.tx_hash == ["a", "b"] and ok.request_id == "x"
    assert reply_error(ok) is None
    err = parse_tx_reply({"error": {"code": 21104, "message": "invalid nonce"}, "id": "y"})
    assert not err.ok and err.code == 21104 and err.request_id == "y"
    assert isinstance(reply_error(err), NonceError)
    alt = parse_tx_reply({"type": "jsonapi/sendtx", "code": 21120, "message": "invalid signature"})
    assert not alt.ok and alt.code == 21120 and alt.request_id is None
    exc = reply_error(alt)
    assert isinstance(exc, TxRejected) and exc.code == 21120


def test_error_codes_map_to_exceptions() -> None:
    assert isinstance(
        error_from_code(21105, "batch transaction nonce is not increasing"), NonceError
    )
    assert isinstance(error_from_code(23000, "Too Many Requests!"), RateLimited)
    assert isinstance(error_from_code(30009, "Too Many Websocket Messages!"), RateLimited)
    assert isinstance(error_from_code(0, "", http_status=429), RateLimited)
    rejected = error_from_code(21739, "not enough margin to create the order", http_status=400)
    assert type(rejected) is TxRejected and rejected.http_status == 400


@pytest.mark.parametrize(
    ("rest", "ws"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/stream"),
        ("https://mainnet.zklighter.elliot.ai", "wss://mainnet.zklighter.elliot.ai/stream"),
    ],
)
def test_rest_and_websocket_urls_map_both_ways(rest: str, ws: str) -> None:
    assert ws_url_for(rest) == ws and ws_url_for(rest + "/") == ws and ws_url_for(ws) == ws
    assert http_url_for(ws) == rest and http_url_for(rest + "/") == rest


def test_ws_url_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="base_url"):
        ws_url_for("ftp://127.0.0.1:8080")
