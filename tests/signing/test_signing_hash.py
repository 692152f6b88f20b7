"""SdkSigner signs exactly the intended fields, chain id and key: checked by independent models.

A small Poseidon2 model (signer-spec §3–§5, constants from the vectors file) recomputes
`msg = H5([chain_id, tx_type, nonce, expired_at, account, api_key] + body)` from the signed
tx_info and compares it with the library's tx_hash; this pins the chain id (argument, URL rule,
or asked from the node) and every signed field. A Schnorr/ECgFp5 verifier model (§2, §4) then
checks each signature against the public key of the API key index used, and serves as the
local node's signature verifier in an end-to-end test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _helpers import check_auth_token
from lighterfast import protocol as P
from lighterfast.signing import GroupedOrder, SdkSigner, SignedTx, generate_api_key

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
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


# ================================================================================================
# Schnorr over ECgFp5 (signer-spec §2, §4): an independent verifier for the library's signatures
# ================================================================================================

N_ORDER = int(VECTORS["constants"]["n"])
Q5 = PRIME**5
F5 = tuple[int, int, int, int, int]
Point = tuple[F5, F5, F5, F5]  # (X:Z:U:T) with x = X/Z, u = x/y = U/T
ZERO: F5 = (0, 0, 0, 0, 0)
ONE: F5 = (1, 0, 0, 0, 0)
CURVE_A: F5 = (2, 0, 0, 0, 0)
CURVE_B: F5 = (0, 263, 0, 0, 0)
NEUTRAL: Point = (ZERO, ONE, ZERO, ONE)


def f_add(a: F5, b: F5) -> F5:
    return tuple((x + y) % PRIME for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def f_sub(a: F5, b: F5) -> F5:
    return tuple((x - y) % PRIME for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def f_scale(a: F5, k: int) -> F5:
    return tuple(x * k % PRIME for x in a)  # type: ignore[return-value]


def f_mul(a: F5, b: F5) -> F5:
    """Product in GF(p)[z]/(z^5 - 3)."""
    a0, a1, a2, a3, a4 = a
    b0, b1, b2, b3, b4 = b
    return (
        (a0 * b0 + 3 * (a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1)) % PRIME,
        (a0 * b1 + a1 * b0 + 3 * (a2 * b4 + a3 * b3 + a4 * b2)) % PRIME,
        (a0 * b2 + a1 * b1 + a2 * b0 + 3 * (a3 * b4 + a4 * b3)) % PRIME,
        (a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + 3 * a4 * b4) % PRIME,
        (a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0) % PRIME,
    )


def f_pow(a: F5, e: int) -> F5:
    result = ONE
    while e:
        if e & 1:
            result = f_mul(result, a)
        a = f_mul(a, a)
        e >>= 1
    return result


def f_inv0(a: F5) -> F5:
    """Inverse, or 0 for 0 (the encoding relies on it)."""
    return ZERO if a == ZERO else f_pow(a, Q5 - 2)


def f_is_square(a: F5) -> bool:
    return a == ZERO or f_pow(a, (Q5 - 1) // 2) == ONE


def f_sqrt(a: F5) -> F5 | None:
    """Tonelli–Shanks in GF(p^5); None for a non-square."""
    if a == ZERO:
        return ZERO
    if not f_is_square(a):
        return None
    s, q = 0, Q5 - 1
    while q % 2 == 0:
        q //= 2
        s += 1
    z, k = (0, 1, 0, 0, 0), 2
    while f_is_square(z):
        z, k = (k, 1, 0, 0, 0), k + 1
    m, c, t, r = s, f_pow(z, q), f_pow(a, q), f_pow(a, (q + 1) // 2)
    while t != ONE:
        i, t2 = 0, t
        while t2 != ONE:
            t2 = f_mul(t2, t2)
            i += 1
        b = c
        for _ in range(m - i - 1):
            b = f_mul(b, b)
        m, c = i, f_mul(b, b)
        t, r = f_mul(t, c), f_mul(r, b)
    return r


def p_add(p1: Point, p2: Point) -> Point:
    """Complete addition in fractional (x, u) coordinates (also doubles)."""
    x1, z1, u1, t1_ = p1
    x2, z2, u2, t2_ = p2
    t1, t2, t3, t4 = f_mul(x1, x2), f_mul(z1, z2), f_mul(u1, u2), f_mul(t1_, t2_)
    t5 = f_sub(f_sub(f_mul(f_add(x1, z1), f_add(x2, z2)), t1), t2)
    t6 = f_sub(f_sub(f_mul(f_add(u1, t1_), f_add(u2, t2_)), t3), t4)
    t7 = f_add(t1, f_mul(CURVE_B, t2))
    t8 = f_mul(t4, t7)
    t9 = f_mul(t3, f_add(f_mul(f_scale(CURVE_B, 2), t5), f_scale(t7, 2)))
    t10 = f_mul(f_add(t4, f_scale(t3, 2)), f_add(t5, t7))
    return (
        f_mul(CURVE_B, f_sub(t10, t8)),
        f_sub(t8, t9),
        f_mul(t6, f_sub(f_mul(CURVE_B, t2), t1)),
        f_add(t8, t9),
    )


def p_mul(point: Point, k: int) -> Point:
    result = NEUTRAL
    for bit in bin(k)[2:] if k else "":
        result = p_add(result, result)
        if bit == "1":
            result = p_add(result, point)
    return result


def encode(point: Point) -> F5:
    return f_mul(point[3], f_inv0(point[2]))


def decode(w: F5) -> Point | None:
    if w == ZERO:
        return NEUTRAL
    e = f_sub(f_mul(w, w), CURVE_A)
    root = f_sqrt(f_sub(f_mul(e, e), f_scale(CURVE_B, 4)))
    if root is None:
        return None
    half = (PRIME + 1) // 2
    x1, x2 = f_scale(f_add(e, root), half), f_scale(f_sub(e, root), half)
    return (x2 if f_is_square(x1) else x1, ONE, ONE, w)


def hex_f5(text: str) -> F5:
    raw = bytes.fromhex(text.removeprefix("0x"))
    assert len(raw) == 40
    return tuple(int.from_bytes(raw[8 * i : 8 * i + 8], "little") for i in range(5))  # type: ignore[return-value]


GENERATOR: Point = (
    tuple(int(x) for x in VECTORS["constants"]["generator_x"]),  # type: ignore[arg-type]
    ONE,
    ONE,
    (4, 0, 0, 0, 0),
)


def schnorr_verify(public_key_hex: str, message: F5, signature: bytes) -> bool:
    """poseidon_crypto's Validate: R = s*G + e*Q, accept iff H5(encode(R) || m) mod n == e."""
    if len(signature) != 80:
        return False
    s = int.from_bytes(signature[:40], "little") % N_ORDER
    e = int.from_bytes(signature[40:], "little") % N_ORDER
    q = decode(hex_f5(public_key_hex))
    if q is None:
        return False
    r = p_add(p_mul(GENERATOR, s), p_mul(q, e))
    digest = hash_no_pad([*encode(r), *message], 5)
    return int.from_bytes(bytes.fromhex(fp5_hex(digest)), "little") % N_ORDER == e


def auth_message_hash(message: str) -> F5:
    raw = message.encode("ascii")
    words = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
    return tuple(hash_no_pad(words, 5))  # type: ignore[return-value]


def verify_signed_tx(tx: SignedTx, public_key_hex: str, chain_id: int) -> bool:
    import base64

    info = json.loads(tx.tx_info)
    message = hex_f5(tx_hash_of(chain_id, tx.tx_type, info))
    return schnorr_verify(public_key_hex, message, base64.b64decode(info["Sig"]))


def verify_token(token: str, public_key_hex: str) -> bool:
    message, signature = token.rsplit(":", 1)
    return schnorr_verify(public_key_hex, auth_message_hash(message), bytes.fromhex(signature))


class Verifier:
    """A `LocalNode(signature_verifier=...)` built on the model above."""

    def verify_tx(self, chain_id: int, tx: Any, public_key: str) -> bool:
        return verify_signed_tx(SignedTx(tx.tx_type, tx.info_str, ""), public_key, chain_id)

    def verify_auth(self, message: str, signature_hex: str, public_key: str) -> bool:
        return schnorr_verify(public_key, auth_message_hash(message), bytes.fromhex(signature_hex))


# -- the verifier model against the vectors ------------------------------------------------------


def test_curve_model_matches_vectors() -> None:
    for case in VECTORS["curve_mul_generator"]:
        got = fp5_hex(list(encode(p_mul(GENERATOR, int(case["scalar_dec"])))))
        assert got == case["encode_k_times_G_hex"], case["scalar_dec"]
    for case in VECTORS["decode"]:
        assert (decode(hex_f5(case["w_hex"])) is not None) == case["decodes"]
    for name, key in VECTORS["keys"].items():
        sk = int.from_bytes(bytes.fromhex(key["private_key"][2:]), "little") % N_ORDER
        assert fp5_hex(list(encode(p_mul(GENERATOR, sk)))) == key["public_key"][2:], name


def test_verifier_matches_library_signatures_in_vectors() -> None:
    for vec in VECTORS["transactions"][:6]:
        message = hex_f5(vec["tx_hash"])
        assert schnorr_verify(vec["public_key"], message, bytes.fromhex(vec["signature_hex"]))
    for vec in VECTORS["auth_tokens"]:
        assert verify_token(vec["token"], vec["public_key"])
    for case in VECTORS["signature_negative_and_malleability"]:
        got = schnorr_verify(
            case["public_key_hex"],
            hex_f5(case["message_fp5_hex"]),
            bytes.fromhex(case["signature_hex"]),
        )
        assert got == case["go_validate_accepts"], case["name"]


# -- SdkSigner's signatures verify under the key registered for the index used -------------------


def test_every_signature_verifies_under_its_own_key(
    requests: list[tuple[str, dict[str, Any]]],
) -> None:
    (priv_a, pub_a), (priv_b, pub_b) = generate_api_key(), generate_api_key()
    other = KEY + 1
    with SdkSigner(ACCOUNT, {KEY: priv_a, other: priv_b}, chain_id=300) as s:
        signed_a = s.sign_many(requests)
        signed_b = s.sign_many([(kind, {**kw, "api_key_index": other}) for kind, kw in requests])
        token_a = s.create_auth_token(1800000000, KEY)
        token_b = s.create_auth_token(1800000000, other)
    for tx in signed_a:
        assert verify_signed_tx(tx, pub_a, 300)
    for tx in signed_a[:2]:
        assert not verify_signed_tx(tx, pub_b, 300)
        assert not verify_signed_tx(tx, pub_a, 304)
    for tx in signed_b[:2]:
        assert verify_signed_tx(tx, pub_b, 300)
        assert not verify_signed_tx(tx, pub_a, 300)
    assert verify_token(token_a, pub_a) and not verify_token(token_a, pub_b)
    assert verify_token(token_b, pub_b) and not verify_token(token_b, pub_a)
    tampered = "1800000001" + token_a[len("1800000000") :]
    assert not verify_token(tampered, pub_a)


async def test_node_with_signature_checks_accepts_ours_and_refuses_tampering() -> None:
    """The local node, verifying every signature with the model above, over real HTTP."""
    import time

    import aiohttp

    from lighterfast.testnode import LocalNode

    async with (
        LocalNode(exec_latency_ms=0, signature_verifier=Verifier()) as node,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        acct = await node.create_account(collateral=10_000)
        key = acct.api_key_index
        s = await SdkSigner.create(
            acct.account_index, {key: acct.private_key}, base_url=node.base_url
        )
        try:
            async with http.get(
                node.base_url + "/api/v1/nextNonce",
                params={"account_index": acct.account_index, "api_key_index": key},
            ) as resp:
                nonce = (await resp.json())["nonce"]
            tx = await s.asign_create_order(
                market_index=0, client_order_index=5, base_amount=100, price=150000,
                is_ask=False, order_type=0, time_in_force=1, nonce=nonce, api_key_index=key,
            )  # fmt: skip
            forged = tx.tx_info.replace('"Price":150000', '"Price":150001')
            assert forged != tx.tx_info
            url = node.base_url + "/api/v1/sendTx"
            async with http.post(url, data={"tx_type": "14", "tx_info": forged}) as resp:
                body = await resp.json()
                assert resp.status == 400 and body["code"] == P.ERR_INVALID_SIGNATURE, body
            async with http.post(url, data={"tx_type": "14", "tx_info": tx.tx_info}) as resp:
                body = await resp.json()
                assert resp.status == 200 and body["code"] == 200, body
            assert body["tx_hash"] == tx.tx_hash  # the node hashes what the signer signed

            token = await s.acreate_auth_token(int(time.time()) + 600, key)
            await check_auth_token(http, node, acct.account_index, token)
        finally:
            s.close()
