"""encode_sendtx_batch's one-pass path (the signer's lists) gives the checked path's bytes."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from lighterfast import protocol as P
from lighterfast.signing import NativeSigner
from lighterfast.wire import encode_sendtx_batch, sendtx_batch_form

KEYS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())["keys"]


def _checked(types: object, infos: object, request_id: str | None) -> bytes:
    """The frame as the checking path builds it: the form's strings under `data`."""
    form = sendtx_batch_form(types, infos)  # type: ignore[arg-type]
    data = {} if request_id is None else {"id": request_id}
    data.update(form)
    return orjson.dumps({"type": P.WS_MSG_SEND_TX_BATCH, "data": data})


@pytest.fixture(scope="module")
def signed() -> list[object]:
    """Three real signatures (create, cancel, modify) of the native signer."""
    signer = NativeSigner(7, {2: str(KEYS["one"]["private_key"])}, nonce_pool=0)
    order = dict(
        market_index=0, client_order_index=99, base_amount=1000, price=312_345, is_ask=True,
        order_type=P.ORDER_TYPE_LIMIT, time_in_force=P.TIF_GTT, api_key_index=2,
    )  # fmt: skip
    try:
        return list(
            signer.sign_many(
                [
                    ("create_order", {**order, "nonce": 5}),
                    ("cancel_order", {"market_index": 0, "order_index": 99, "nonce": 6,
                                      "api_key_index": 2}),
                    ("modify_order", {"market_index": 0, "order_index": 99, "base_amount": 900,
                                      "price": 312_000, "trigger_price": 0, "nonce": 7,
                                      "api_key_index": 2}),
                ]
            )
        )  # fmt: skip
    finally:
        signer.close()


@pytest.mark.parametrize("request_id", ["dealer-1-2", None])
def test_signer_lists_encode_as_the_checked_path(
    signed: list[object], request_id: str | None
) -> None:
    types = [tx.tx_type for tx in signed]  # type: ignore[attr-defined]
    infos = [tx.tx_info for tx in signed]  # type: ignore[attr-defined]
    frame = encode_sendtx_batch(types, infos, request_id=request_id)
    assert frame == _checked(types, infos, request_id)
    data = orjson.loads(frame)["data"]
    assert orjson.loads(data["tx_infos"]) == infos and orjson.loads(data["tx_types"]) == types
    assert ("id" in data) is (request_id is not None)


def test_other_shapes_take_the_checking_path(signed: list[object]) -> None:
    info = signed[0].tx_info  # type: ignore[attr-defined]
    expected = encode_sendtx_batch([14], [info], request_id="r")
    assert encode_sendtx_batch((14,), (info,), request_id="r") == expected  # tuples
    assert encode_sendtx_batch([14], [f" {info}\n"], request_id="r") == expected  # padded
    assert encode_sendtx_batch([14], [info.encode()], request_id="r") == expected  # bytes
    with pytest.raises(TypeError, match=r"tx_types\[0\]"):
        encode_sendtx_batch([True], [info])  # a bool is not a tx type, on either path
    with pytest.raises(ValueError, match="max_batch"):
        encode_sendtx_batch([14, 14], [info, info], max_batch=1)
    with pytest.raises(ValueError, match=r"tx_infos\[0\]"):
        encode_sendtx_batch([14], ["[1]"])  # JSON, but not an object
