"""The tx_hash SdkSigner returns is the hash of exactly the fields and chain id intended.

A small independent Poseidon2 model (signer-spec §3–§5, constants from the vectors file)
recomputes `msg = H5([chain_id, tx_type, nonce, expired_at, account, api_key] + body)` from
the signed tx_info and compares it with the library's tx_hash. This pins the chain id
(argument, URL rule, or asked from the node) and every signed field, not just the JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lighterfast import protocol as P
from lighterfast.signing import GroupedOrder, SdkSigner, SignedTx, generate_api_key

VECTORS = json.loads((Path(__file__).parent / "data" / "signer-vectors.json").read_text())
_C = VECTORS["constants"]["poseidon2"]
PRIME = 2**64 - 2**32 + 1
RC_E = [[int(x) for x in row] for row in _C["external_round_constants"]]
RC_I = [int(x) for x in _C["internal_round_constants"]]
DIAG = [int(x) for x in _C["internal_diag"]]
ACCOUNT = 98765
KEY = 6


def _external(s: list[int]) -> list[int]:
    out: list[int] = []
    for b in range(3):
        a, c1, c2, d = s[4 * b : 4 * b + 4]
        out += [2 * a + 3 * c1 + c2 + d, a + 2 * c1 + 3 * c2 + d, a + c1 + 2 * c2 + 3 * d,
                3 * a + c1 + c2 + 2 * d]  # fmt: skip
    sums = [out[k] + out[4 + k] + out[8 + k] for k in range(4)]
    return [(x + sums[i % 4]) % PRIME for i, x in enumerate(out)]


def _full_round(s: list[int], rc: list[int]) -> list[int]:
    return _external([pow((x + c) % PRIME, 7, PRIME) for x, c in zip(s, rc, strict=True)])


def permute(state: list[int]) -> list[int]:
    s = _external([x % PRIME for x in state])
    for r in range(4):
        s = _full_round(s, RC_E[r])
    for r in range(22):
        s[0] = pow((s[0] + RC_I[r]) % PRIME, 7, PRIME)
        total = sum(s)
        s = [(total + DIAG[i] * x) % PRIME for i, x in enumerate(s)]
    for r in range(4, 8):
        s = _full_round(s, RC_E[r])
    return s


def hash_no_pad(words: list[int], m: int) -> list[int]:
    """Overwrite-mode sponge, rate 8, no padding; first m words of the state."""
    state = [0] * 12
    for i in range(0, len(words), 8):
        chunk = [w % 2**64 for w in words[i : i + 8]]
        state[: len(chunk)] = chunk
        state = permute(state)
    return state[:m]


def fp5_hex(limbs: list[int]) -> str:
    return b"".join(x.to_bytes(8, "little") for x in limbs).hex()


ORDER_KEYS = ("MarketIndex", "ClientOrderIndex", "BaseAmount", "Price", "IsAsk", "Type",
              "TimeInForce", "ReduceOnly", "TriggerPrice", "OrderExpiry")  # fmt: skip


def order_words(o: dict[str, Any]) -> list[int]:
    return [o[k] for k in ORDER_KEYS]


def tx_hash_of(chain_id: int, tx_type: int, info: dict[str, Any]) -> str:
    """Recompute the signed message of an attribute-free order tx from its tx_info."""
    assert info["L2TxAttributes"] is None
    frame = [chain_id, tx_type, info["Nonce"], info["ExpiredAt"], info["AccountIndex"],
             info["ApiKeyIndex"]]  # fmt: skip
    if tx_type == P.TX_TYPE_CREATE_ORDER:
        body = order_words(info)
    elif tx_type == P.TX_TYPE_CANCEL_ORDER:
        body = [info["MarketIndex"], info["Index"]]
    elif tx_type == P.TX_TYPE_MODIFY_ORDER:
        body = [info["MarketIndex"], info["Index"], info["BaseAmount"], info["Price"],
                info["TriggerPrice"]]  # fmt: skip
    elif tx_type == P.TX_TYPE_CANCEL_ALL_ORDERS:
        body = [info["TimeInForce"], info["Time"]]
    elif tx_type == P.TX_TYPE_CREATE_GROUPED_ORDERS:
        leaf = hash_no_pad(order_words(info["Orders"][0]), 4)
        for order in info["Orders"][1:]:
            leaf = hash_no_pad(leaf + hash_no_pad(order_words(order), 4), 4)
        body = [info["GroupingType"], *leaf]
    else:
        raise AssertionError(tx_type)
    return fp5_hex(hash_no_pad(frame + body, 5))


# ------------------------------------------------------------------------------------------------
# The model itself, against the vectors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["poseidon2"], ids=lambda c: c["kind"])
def test_model_matches_poseidon2_vectors(case: dict[str, Any]) -> None:
    words = [int(x) for x in case["input"]]
    want = [int(x) for x in case["output"]]
    if case["kind"] == "permutation":
        assert permute(words) == want
    elif case["kind"] == "hash_to_fp5":
        assert hash_no_pad(words, 5) == want
    else:
        assert hash_no_pad(words, 4) == want


ATTRIBUTE_FREE = [
    v for v in VECTORS["transactions"]
    if v["tx_type"] in (14, 15, 16, 17, 28) and json.loads(v["tx_info"])["L2TxAttributes"] is None
]  # fmt: skip


@pytest.mark.parametrize("vec", ATTRIBUTE_FREE, ids=[v["name"] for v in ATTRIBUTE_FREE])
def test_model_matches_library_hashes_in_vectors(vec: dict[str, Any]) -> None:
    info = json.loads(vec["tx_info"])
    assert tx_hash_of(vec["chain_id"], vec["tx_type"], info) == vec["tx_hash"]


# ------------------------------------------------------------------------------------------------
# SdkSigner's output: the hash covers the intended chain id and fields
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_key() -> str:
    return generate_api_key()[0]


@pytest.fixture
def requests() -> list[tuple[str, dict[str, Any]]]:
    expiry = 1796084850418
    return [
        ("create_order", dict(market_index=2, client_order_index=11, base_amount=123,
                              price=4567, is_ask=True, order_type=0, time_in_force=2,
                              order_expiry=expiry, nonce=3, api_key_index=KEY)),
        ("create_order", dict(market_index=0, client_order_index=0, base_amount=5, price=99,
                              is_ask=False, order_type=1, time_in_force=0, order_expiry=0,
                              reduce_only=True, nonce=4, api_key_index=KEY)),
        ("cancel_order", dict(market_index=2, order_index=P.MAX_ORDER_INDEX, nonce=5,
                              api_key_index=KEY)),
        ("modify_order", dict(market_index=1, order_index=11, base_amount=7, price=P.MAX_PRICE,
                              trigger_price=3, nonce=6, api_key_index=KEY)),
        ("cancel_all_orders", dict(time_in_force=1, time=expiry, nonce=7, api_key_index=KEY)),
        ("create_grouped_orders", dict(grouping_type=3, nonce=8, api_key_index=KEY, orders=[
            GroupedOrder(1, 31, 100, 5000, False, 0, 1, order_expiry=expiry),
            GroupedOrder(1, 32, 0, 4000, True, 2, 0, True, 4000, expiry),
            GroupedOrder(1, 33, 0, 6000, True, 4, 0, True, 6000, expiry),
        ])),
    ]  # fmt: skip


def check(signed: list[SignedTx], chain_id: int) -> None:
    for tx in signed:
        info = json.loads(tx.tx_info)
        assert tx_hash_of(chain_id, tx.tx_type, info) == tx.tx_hash
        assert tx_hash_of(chain_id + 1, tx.tx_type, info) != tx.tx_hash


@pytest.mark.parametrize(
    "kwargs,chain_id",
    [
        (dict(), 304),
        (dict(base_url=P.TESTNET_URL), 300),
        (dict(base_url="https://api.rh.lighter.xyz"), 466324),
        (dict(chain_id=12345, base_url=P.MAINNET_URL), 12345),
    ],
)
def test_signed_hash_covers_chain_and_fields(
    private_key: str,
    requests: list[tuple[str, dict[str, Any]]],
    kwargs: dict[str, Any],
    chain_id: int,
) -> None:
    with SdkSigner(ACCOUNT, {KEY: private_key}, **kwargs) as s:
        check(s.sign_many(requests), chain_id)


async def test_chain_id_asked_from_the_node(
    private_key: str, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    from lighterfast.testnode import LocalNode

    async with LocalNode(chain_id=300, exec_latency_ms=0) as node:
        s = await SdkSigner.create(ACCOUNT, {KEY: private_key}, base_url=node.base_url)
    try:
        assert s.chain_id == 300
        check(await s.asign_many(requests), 300)
    finally:
        s.close()
