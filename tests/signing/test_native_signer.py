"""NativeSigner (lighterfast.signing._native) against the .so's vectors, independent Python
models, and SdkSigner itself.

Oracles: the vectors file (real .so output, including signatures made with an injected nonce k),
the Poseidon2 / ECgFp5 / Schnorr models in test_signing_hash.py and testnode/txhash.py (pure
Python, written separately from the C), and the stock library through SdkSigner.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import pytest
import test_signing_hash as model

from _helpers import check_auth_token
from lighterfast import protocol as P
from lighterfast.errors import SignerError
from lighterfast.signing import GroupedOrder, NativeSigner, SdkSigner, SignedTx, Signer
from lighterfast.signing import _native as native
from lighterfast.testnode import txhash

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
KEYS = VECTORS["keys"]
PRIME = 2**64 - 2**32 + 1
N = int(VECTORS["constants"]["n"])
EXPIRY = 1796084850418
ORDER_KEYS = model.ORDER_KEYS


def priv(name: str) -> str:
    return str(KEYS[name]["private_key"])


def le_int(hex_text: str) -> int:
    return int.from_bytes(bytes.fromhex(hex_text), "little")


# ================================================================================================
# Field and hash
# ================================================================================================


@pytest.mark.parametrize("case", VECTORS["poseidon2"], ids=lambda c: c["kind"])
def test_poseidon2_known_answers(case: dict[str, Any]) -> None:
    words = [int(x) for x in case["input"]]
    want = [int(x) for x in case["output"]]
    if case["kind"] == "permutation":
        assert native.permute(words) == want
    elif case["kind"] == "hash_to_fp5":
        assert native.hash_no_pad(words, 5) == want
    else:
        assert native.hash_no_pad(words, 4) == want


EDGE_WORDS = [0, 1, PRIME - 1, PRIME, PRIME + 1, 2**63, 2**64 - 1, 2**32 - 1, 2**32]


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 10, 16, 17, 24])
def test_sponge_matches_the_python_model(length: int) -> None:
    rng = random.Random(length)
    for _ in range(5):
        words = [rng.choice([*EDGE_WORDS, rng.getrandbits(64)]) for _ in range(length)]
        for m in (4, 5, 8):
            assert native.hash_no_pad(words, m) == model.hash_no_pad(words, m)


def test_permutation_matches_the_python_model_on_random_and_noncanonical_states() -> None:
    rng = random.Random(7)
    for _ in range(20):
        state = [rng.choice([*EDGE_WORDS, rng.getrandbits(64)]) for _ in range(12)]
        assert native.permute(state) == model.permute(state)
    assert native.permute([PRIME + 3] * 12) == native.permute([3] * 12)


def test_empty_input_hashes_to_zeros_and_bad_arguments_are_refused() -> None:
    assert native.hash_no_pad([], 5) == [0] * 5
    with pytest.raises(ValueError, match="m must be"):
        native.hash_no_pad([1], 0)
    with pytest.raises(ValueError, match="at most"):
        native.hash_no_pad([1] * 65, 5)
    with pytest.raises(ValueError, match="12 words"):
        native.permute([1] * 11)


# ================================================================================================
# Curve and keys
# ================================================================================================


@pytest.mark.parametrize("case", VECTORS["curve_mul_generator"], ids=lambda c: c["scalar_dec"][:12])
def test_generator_multiples_known_answers(case: dict[str, Any]) -> None:
    assert native.mul_generator(int(case["scalar_dec"])).hex() == case["encode_k_times_G_hex"]


def test_generator_multiples_match_the_python_model_on_random_scalars() -> None:
    rng = random.Random(11)
    for k in [rng.randrange(N) for _ in range(3)] + [N - 1, 2**318, 16, 17, 31, 32, 33]:
        want = model.fp5_hex(list(model.encode(model.p_mul(model.GENERATOR, k))))
        assert native.mul_generator(k).hex() == want, k


@pytest.mark.parametrize("case", VECTORS["decode"], ids=lambda c: c["w_hex"][:12])
def test_decode_known_answers(case: dict[str, Any]) -> None:
    assert native.decodes(bytes.fromhex(case["w_hex"])) == case["decodes"]


def test_decode_agrees_with_the_python_model_on_random_values() -> None:
    rng = random.Random(5)
    results = set()
    for _ in range(12):
        w = tuple(rng.randrange(PRIME) for _ in range(5))
        raw = b"".join(x.to_bytes(8, "little") for x in w)
        got = native.decodes(raw)
        assert got == (model.decode(w) is not None)  # type: ignore[arg-type]
        results.add(got)
    assert results == {True, False}
    assert not native.decodes(b"\xff" * 40)  # non-canonical limbs


@pytest.mark.parametrize("name", sorted(KEYS))
def test_public_key_of_every_vector_key(name: str) -> None:
    key = KEYS[name]
    raw = bytes.fromhex(key["private_key"].removeprefix("0x"))
    assert "0x" + native.public_key(raw).hex() == key["public_key"]
    if name != "zero":
        signer = NativeSigner(5, {1: key["private_key"]})
        assert signer.public_key(1) == key["public_key"]


# ================================================================================================
# Schnorr: exact with a given k, verifiable with a random one
# ================================================================================================


@pytest.mark.parametrize("case", VECTORS["schnorr_fixed_k"], ids=lambda c: c["source"][:20])
def test_schnorr_fixed_k_is_exact(case: dict[str, Any]) -> None:
    sig = native.schnorr_sign(
        bytes.fromhex(case["private_key_le_hex"]),
        bytes.fromhex(case["message_fp5_hex"]),
        le_int(case["k_le_hex"]),
    )
    assert sig.hex() == case["s_le_hex"] + case["e_le_hex"]
    assert native.mul_generator(le_int(case["k_le_hex"])).hex() == case["r_encoding_hex"]


def test_native_verifier_agrees_with_go_on_tampered_and_malleable_signatures() -> None:
    for case in VECTORS["signature_negative_and_malleability"]:
        got = native.schnorr_verify(
            bytes.fromhex(case["public_key_hex"]),
            bytes.fromhex(case["message_fp5_hex"]),
            bytes.fromhex(case["signature_hex"]),
        )
        assert got == case["go_validate_accepts"], case["name"]
    for vec in VECTORS["transactions"]:
        pub = bytes.fromhex(vec["public_key"][2:])
        msg = bytes.fromhex(vec["tx_hash"])
        assert native.schnorr_verify(pub, msg, bytes.fromhex(vec["signature_hex"])), vec["name"]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_random_signatures_verify_with_the_python_model_and_fail_after_bit_flips() -> None:
    """The independent verifier (test_signing_hash) accepts native signatures, not flipped ones."""
    rng = random.Random(3)
    raw = bytes.fromhex(priv("gen1")[2:])
    pub_hex = KEYS["gen1"]["public_key"]
    other_pub = KEYS["gen2"]["public_key"]
    for _ in range(2):
        limbs = [rng.randrange(PRIME) for _ in range(5)]
        msg = b"".join(x.to_bytes(8, "little") for x in limbs)
        sig = native.schnorr_sign(raw, msg)
        assert int.from_bytes(sig[:40], "little") < N and int.from_bytes(sig[40:], "little") < N
        assert model.schnorr_verify(pub_hex, tuple(limbs), sig)  # type: ignore[arg-type]
        assert not model.schnorr_verify(other_pub, tuple(limbs), sig)  # type: ignore[arg-type]
        for bit in (0, 317, 320 + 5, 639 - 2):
            assert not model.schnorr_verify(pub_hex, tuple(limbs), flip(sig, bit))  # type: ignore[arg-type]
        bad_msg = (limbs[0] ^ 1, *limbs[1:])
        assert not model.schnorr_verify(pub_hex, bad_msg, sig)  # type: ignore[arg-type]


def test_many_random_signatures_verify_natively_and_every_bit_flip_fails() -> None:
    raw = bytes.fromhex(priv("fixed_b")[2:])
    pub = bytes.fromhex(KEYS["fixed_b"]["public_key"][2:])
    msg = bytes(range(40))
    msg = native.tx_message(list(msg))  # a canonical F5 message
    sig = native.schnorr_sign(raw, msg)
    assert native.schnorr_verify(pub, msg, sig)
    for bit in range(0, 640, 7):
        assert not native.schnorr_verify(pub, msg, flip(sig, bit)), bit
    for bit in range(0, 320, 13):
        assert not native.schnorr_verify(pub, flip(msg, bit), sig), bit
    assert not native.schnorr_verify(pub, msg, sig[:79])


def test_nonces_are_fresh_even_for_the_same_message() -> None:
    """Hedged k: 2000 signatures of one message are all different, valid, and s is unbiased."""
    raw = bytes.fromhex(priv("gen0")[2:])
    pub = bytes.fromhex(KEYS["gen0"]["public_key"][2:])
    msg = native.tx_message([1, 2, 3])
    sigs = {native.schnorr_sign(raw, msg) for _ in range(2000)}
    assert len(sigs) == 2000
    s_values = [int.from_bytes(sig[:40], "little") for sig in sigs]
    assert len(set(s_values)) == 2000 and max(s_values) < N
    # s = k - e*sk is uniform in [0, n) when k is: P(s >= 2^318) = (n - 2^318)/n ≈ 0.50
    high = sum(s >= 2**318 for s in s_values)
    expected = 2000 * (N - 2**318) / N
    assert abs(high - expected) < 6 * (2000 * 0.25) ** 0.5  # 6 sigma
    for sig in list(sigs)[:20]:
        assert native.schnorr_verify(pub, msg, sig)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_its_own_nonces() -> None:
    """No nonce state survives a fork: parent and child signing the same message differ."""
    raw = bytes.fromhex(priv("gen2")[2:])
    msg = native.tx_message([9, 9, 9])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write_end, native.schnorr_sign(raw, msg))
        finally:
            os._exit(0)
    os.close(write_end)
    theirs = b""
    while len(theirs) < 80:
        chunk = os.read(read_end, 80 - len(theirs))
        if not chunk:
            break
        theirs += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    ours = native.schnorr_sign(raw, msg)
    pub = bytes.fromhex(KEYS["gen2"]["public_key"][2:])
    assert len(theirs) == 80 and theirs != ours
    assert native.schnorr_verify(pub, msg, theirs) and native.schnorr_verify(pub, msg, ours)


def test_signing_from_many_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    signer = NativeSigner(77, {0: priv("fixed_b")}, chain_id=304)
    pub = bytes.fromhex(KEYS["fixed_b"]["public_key"][2:])

    def work(i: int) -> list[SignedTx]:
        return [
            signer.sign_cancel_order(market_index=i, order_index=j + 1, nonce=j, api_key_index=0)
            for j in range(100)
        ]

    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(work, range(4)))
    txs = [tx for batch in batches for tx in batch]
    assert len({tx.tx_info for tx in txs}) == 400
    for tx in txs[::7]:
        info = json.loads(tx.tx_info)
        assert txhash.message_hash(304, 15, info) == tx.tx_hash
        assert native.schnorr_verify(pub, bytes.fromhex(tx.tx_hash), base64.b64decode(info["Sig"]))


# ================================================================================================
# Transactions: every vector tx, and the .so signatures made with an injected nonce
# ================================================================================================


def kwargs_of(tx_type: int, info: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """NativeSigner keywords that reproduce a vector's tx_info."""

    def order(o: dict[str, Any]) -> dict[str, Any]:
        return dict(
            market_index=o["MarketIndex"], client_order_index=o["ClientOrderIndex"],
            base_amount=o["BaseAmount"], price=o["Price"], is_ask=o["IsAsk"],
            order_type=o["Type"], time_in_force=o["TimeInForce"], reduce_only=o["ReduceOnly"],
            trigger_price=o["TriggerPrice"], order_expiry=o["OrderExpiry"],
        )  # fmt: skip

    if tx_type == P.TX_TYPE_CREATE_ORDER:
        return "create_order", order(info)
    if tx_type == P.TX_TYPE_CANCEL_ORDER:
        return "cancel_order", dict(market_index=info["MarketIndex"], order_index=info["Index"])
    if tx_type == P.TX_TYPE_MODIFY_ORDER:
        return "modify_order", dict(
            market_index=info["MarketIndex"], order_index=info["Index"],
            base_amount=info["BaseAmount"], price=info["Price"],
            trigger_price=info["TriggerPrice"],
        )  # fmt: skip
    if tx_type == P.TX_TYPE_CANCEL_ALL_ORDERS:
        return "cancel_all_orders", dict(time_in_force=info["TimeInForce"], time=info["Time"])
    if tx_type == P.TX_TYPE_CREATE_GROUPED_ORDERS:
        orders = [order(o) for o in info["Orders"]]
        return "create_grouped_orders", dict(grouping_type=info["GroupingType"], orders=orders)
    assert tx_type == P.TX_TYPE_CHANGE_PUB_KEY
    return "change_pub_key", dict(pub_key=base64.b64decode(info["PubKey"]).hex())


def sign_vector(vec: dict[str, Any], k: int) -> SignedTx:
    info = json.loads(vec["tx_info"])
    kind, kwargs = kwargs_of(vec["tx_type"], info)
    signer = NativeSigner(
        info["AccountIndex"], {info["ApiKeyIndex"]: priv(vec["key"])}, chain_id=vec["chain_id"]
    )
    return signer._sign_with_k(
        kind, k, expired_at=info["ExpiredAt"], attributes=info["L2TxAttributes"],
        nonce=info["Nonce"], api_key_index=info["ApiKeyIndex"], **kwargs,
    )  # fmt: skip


def unsigned(tx_info: str) -> str:
    """tx_info with the signature blanked (everything else byte for byte)."""
    head, rest = tx_info.split('"Sig":"', 1)
    return head + '"Sig":"' + rest.split('"', 1)[1]


TRANSACTIONS = VECTORS["transactions"]


@pytest.mark.parametrize("vec", TRANSACTIONS, ids=[v["name"] for v in TRANSACTIONS])
def test_every_vector_transaction_hash_and_tx_info(vec: dict[str, Any]) -> None:
    """Same tx_hash and the same tx_info bytes (Sig aside) as the .so, and a valid signature."""
    tx = sign_vector(vec, 12345)
    assert tx.tx_type == vec["tx_type"]
    assert tx.tx_hash == vec["tx_hash"]
    assert unsigned(tx.tx_info) == unsigned(vec["tx_info"])
    sig = base64.b64decode(json.loads(tx.tx_info)["Sig"])
    pub = bytes.fromhex(vec["public_key"][2:])
    assert native.schnorr_verify(pub, bytes.fromhex(tx.tx_hash), sig)
    info = json.loads(vec["tx_info"])
    if vec["tx_type"] != P.TX_TYPE_CHANGE_PUB_KEY:  # the node's hash model knows order txs
        assert txhash.message_hash(vec["chain_id"], vec["tx_type"], info) == vec["tx_hash"]


INJECTED = VECTORS["so_signatures_with_injected_nonce"]


@pytest.mark.parametrize(
    "vec", INJECTED, ids=[f"{v['so_function']}-{i}" for i, v in enumerate(INJECTED)]
)
def test_so_signatures_with_injected_nonce_byte_for_byte(vec: dict[str, Any]) -> None:
    k = int(vec["injected_k_dec"])
    assert native.mul_generator(k).hex() == vec["r_encoding_hex"]
    if vec["so_function"] == "CreateAuthToken":
        deadline, key_index, account = vec["so_args"]
        signer = NativeSigner(account, {key_index: priv(vec["key"])})
        assert signer._auth_token(deadline, key_index, k) == vec["token"]
        return
    tx = sign_vector(vec, k)
    assert tx.tx_info == vec["tx_info"]
    assert tx.tx_hash == vec["tx_hash"]
    sig = base64.b64decode(json.loads(tx.tx_info)["Sig"])
    assert sig.hex() == vec["signature_hex"]


@pytest.mark.parametrize("vec", VECTORS["auth_tokens"], ids=lambda v: str(v["deadline"]))
def test_auth_tokens_verify_and_native_tokens_have_the_same_message(vec: dict[str, Any]) -> None:
    signer = NativeSigner(vec["account_index"], {vec["api_key_index"]: priv(vec["key"])})
    token = signer.create_auth_token(vec["deadline"], vec["api_key_index"])
    message, sig_hex = token.rsplit(":", 1)
    assert message == vec["message"] and len(sig_hex) == 160
    pub = bytes.fromhex(vec["public_key"][2:])
    msg = bytes.fromhex(vec["derived"]["message_hash_fp5_hex"])
    assert native.schnorr_verify(pub, msg, bytes.fromhex(sig_hex))
    assert native.schnorr_verify(pub, msg, bytes.fromhex(vec["token"].rsplit(":", 1)[1]))
    assert model.verify_token(token, vec["public_key"])


# ================================================================================================
# NativeSigner against SdkSigner (the stock library) on random valid inputs
# ================================================================================================


def random_order(rng: random.Random, *, explicit_expiry: bool) -> dict[str, Any]:
    """A random order the validation rules accept."""
    order_type = rng.choice(range(7))
    market = rng.choice([rng.randrange(0, 255), rng.randrange(256, 2**48)])  # never 255 ("all")
    expiry = rng.randrange(1, 2**48) if explicit_expiry else -1
    tif, trigger = P.TIF_GTT, 0
    if order_type == 0:
        tif = rng.choice([0, 1, 2])
        expiry = 0 if tif == 0 else expiry
    elif order_type == 1:
        tif, expiry = 0, 0
    elif order_type in (2, 4):
        tif, trigger = 0, rng.randrange(1, 2**32)
    elif order_type in (3, 5):
        tif, trigger = rng.choice([0, 1, 2]), rng.randrange(1, 2**32)
    reduce = rng.random() < 0.3
    return dict(
        market_index=market, client_order_index=rng.choice([0, rng.randrange(1, 2**48)]),
        base_amount=rng.randrange(0 if reduce else 1, 2**48), price=rng.randrange(1, 2**32),
        is_ask=rng.choice([True, False, 0, 1]), order_type=order_type, time_in_force=tif,
        reduce_only=reduce, trigger_price=trigger, order_expiry=expiry,
    )  # fmt: skip


def random_requests(rng: random.Random, key: int) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(24):
        nonce = rng.randrange(0, 2**40)
        kind = ("create_order", "cancel_order", "modify_order", "cancel_all_orders")[i % 4]
        if kind == "create_order":
            kw = random_order(rng, explicit_expiry=i % 8 != 0)
        elif kind == "cancel_order":
            kw = dict(market_index=rng.randrange(256, 2**48), order_index=rng.randrange(1, 2**60))
        elif kind == "modify_order":
            kw = dict(
                market_index=rng.randrange(0, 255), order_index=rng.randrange(1, 2**60),
                base_amount=rng.randrange(0, 2**48), price=rng.randrange(1, 2**32),
                trigger_price=rng.choice([0, rng.randrange(1, 2**32)]),
            )  # fmt: skip
        else:
            tif = rng.choice([0, 1, 2])
            kw = dict(time_in_force=tif, time=rng.randrange(1, 2**48) if tif == 1 else 0)
        out.append((kind, {**kw, "nonce": nonce, "api_key_index": key}))
    out.append(("create_grouped_orders", dict(grouping_type=3, nonce=5, api_key_index=key, orders=[
        GroupedOrder(1, 31, 100, 5000, False, 0, 1, order_expiry=EXPIRY),
        GroupedOrder(1, 32, 0, 4000, True, 2, 0, True, 4000, EXPIRY),
        GroupedOrder(1, 33, 0, 6000, True, 4, 0, True, 6000, EXPIRY),
    ])))  # fmt: skip
    out.append(("create_grouped_orders", dict(grouping_type=1, nonce=6, api_key_index=key, orders=[
        GroupedOrder(3, 0, 100, 5000, True, 1, 0, order_expiry=0),
        GroupedOrder(3, 0, 0, 6000, False, 4, 0, True, 6000, EXPIRY),
    ])))  # fmt: skip
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_same_tx_info_and_hash_as_sdk_signer(seed: int) -> None:
    rng = random.Random(seed)
    key = rng.randrange(0, 255)
    account = rng.randrange(1, 2**48 - 1)
    chain_id = rng.choice([300, 304, 466324])
    requests = random_requests(rng, key)
    private_key = priv("fixed_a")
    with SdkSigner(account, {key: private_key}, chain_id=chain_id) as sdk:
        theirs = sdk.sign_many(requests)
    ours = NativeSigner(account, {key: private_key}, chain_id=chain_id)
    pub = bytes.fromhex(KEYS["fixed_a"]["public_key"][2:])
    for (kind, kwargs), so_tx in zip(requests, theirs, strict=True):
        so_info = json.loads(so_tx.tx_info)

        # The .so stamps ExpiredAt (and a default OrderExpiry) from its clock: pin ours to it.
        def pinned(expired_at: int = so_info["ExpiredAt"]) -> int:
            return expired_at - 599_000

        ours._clock_ms = pinned
        tx = ours.sign_many([(kind, kwargs)])[0]
        assert tx.tx_type == so_tx.tx_type
        info = json.loads(tx.tx_info)
        defaulted = kind == "create_order" and kwargs["order_expiry"] == -1
        if defaulted:  # the .so reads its clock twice; the two stamps may differ by 1 ms
            assert 0 <= info["OrderExpiry"] - so_info["OrderExpiry"] <= 1
            assert info["OrderExpiry"] == info["ExpiredAt"] + 28 * 86_400_000 - 599_000
            # the .so's own tx_info hashes, natively, to the .so's tx_hash
            words = [chain_id, so_tx.tx_type, so_info["Nonce"], so_info["ExpiredAt"], account,
                     key, *(so_info[k] for k in ORDER_KEYS)]  # fmt: skip
            assert native.tx_message(words).hex() == so_tx.tx_hash
        else:
            assert unsigned(tx.tx_info) == unsigned(so_tx.tx_info), kind
            assert tx.tx_hash == so_tx.tx_hash, kind
        sig = base64.b64decode(info["Sig"])
        assert native.schnorr_verify(pub, bytes.fromhex(tx.tx_hash), sig)


# ================================================================================================
# The Signer interface: validation parity, secrets, lifecycle
# ================================================================================================


@pytest.fixture
def signer() -> NativeSigner:
    return NativeSigner(98765, {6: priv("gen0"), 7: priv("gen1")}, chain_id=300)


def test_is_a_signer_and_never_shows_its_keys(signer: NativeSigner) -> None:
    assert isinstance(signer, Signer)
    assert signer.account_index == 98765 and signer.chain_id == 300
    assert signer.api_key_indexes == frozenset({6, 7})
    text = repr(signer) + str(signer) + repr(signer._keys)
    for name in ("gen0", "gen1"):
        secret = priv(name)[2:]
        assert secret not in text and secret[:16] not in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer._keys[6])  # type: ignore[attr-defined]
    tx = signer.sign_cancel_order(market_index=0, order_index=5, nonce=1, api_key_index=6)
    sig = json.loads(tx.tx_info)["Sig"]
    assert sig not in repr(tx) and sig not in str(tx)


def test_chain_id_rules_match_sdk_signer() -> None:
    key = {1: priv("gen0")}
    assert NativeSigner(5, key).chain_id == 304
    assert NativeSigner(5, key, base_url=P.TESTNET_URL).chain_id == 300
    assert NativeSigner(5, key, base_url="https://api.rh.lighter.xyz").chain_id == 466324
    assert NativeSigner(5, key, chain_id=12345, base_url=P.MAINNET_URL).chain_id == 12345


BAD_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("create_order", dict(market_index=255, client_order_index=1, base_amount=1, price=1,
                          is_ask=0, order_type=0, time_in_force=1, nonce=0, api_key_index=6)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=0, price=1,
                          is_ask=0, order_type=0, time_in_force=1, nonce=0, api_key_index=6)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=1, price=1,
                          is_ask=0, order_type=1, time_in_force=1, nonce=0, api_key_index=6)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=1, price=2**32,
                          is_ask=0, order_type=0, time_in_force=1, nonce=0, api_key_index=6)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=1, price=1,
                          is_ask=0, order_type=0, time_in_force=1, nonce=-1, api_key_index=6)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=1, price=1.0,
                          is_ask=0, order_type=0, time_in_force=1, nonce=0, api_key_index=6)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=1, price=1,
                          is_ask=0, order_type=0, time_in_force=1, nonce=0, api_key_index=9)),
    ("create_order", dict(market_index=0, client_order_index=1, base_amount=1, price=1,
                          is_ask=0, order_type=0, nonce=0, api_key_index=6)),
    ("cancel_order", dict(market_index=0, order_index=0, nonce=0, api_key_index=6)),
    ("modify_order", dict(market_index=0, order_index=2**60, base_amount=1, price=1, nonce=0,
                          api_key_index=6)),
    ("cancel_all_orders", dict(time_in_force=1, time=0, nonce=0, api_key_index=6)),
    ("create_grouped_orders", dict(grouping_type=2, orders=[], nonce=0, api_key_index=6)),
]  # fmt: skip


@pytest.mark.parametrize("kind,kwargs", BAD_CALLS)
def test_refuses_what_sdk_signer_refuses_with_the_same_error(
    signer: NativeSigner, kind: str, kwargs: dict[str, Any]
) -> None:
    with SdkSigner(98765, {6: priv("gen0")}, chain_id=300) as sdk:
        with pytest.raises((TypeError, ValueError)) as theirs:
            getattr(sdk, "sign_" + kind)(**kwargs)
    with pytest.raises(theirs.type) as ours:
        getattr(signer, "sign_" + kind)(**kwargs)
    if "missing" in str(theirs.value):  # the interpreter's wording differs from Cython's
        assert "time_in_force" in str(ours.value)
    else:
        assert str(ours.value) == str(theirs.value)
    good = ("cancel_order", dict(market_index=0, order_index=5, nonce=1, api_key_index=6))
    with pytest.raises(theirs.type, match=r"requests\[1\]"):
        signer.sign_many([good, (kind, kwargs)])


def test_bad_keys_and_arguments_are_named(signer: NativeSigner) -> None:
    with pytest.raises(ValueError, match="80 hex digits"):
        NativeSigner(5, {1: "0x1234"})
    with pytest.raises(ValueError, match="not valid hex"):
        NativeSigner(5, {1: "zz" * 40})
    with pytest.raises(TypeError, match="hex string"):
        NativeSigner(5, {1: 1234})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="account_index"):
        NativeSigner(0, {1: priv("gen0")})
    with pytest.raises(ValueError, match="non-empty"):
        NativeSigner(5, {})
    with pytest.raises(ValueError, match="deadline"):
        signer.create_auth_token(0, 6)
    with pytest.raises(ValueError, match="kind must be one of"):
        signer.sign_many([("transfer", {})])
    with pytest.raises(TypeError, match="pair"):
        signer.sign_many([("cancel_order",)])  # type: ignore[list-item]


def test_signatures_use_the_key_of_the_index_given(signer: NativeSigner) -> None:
    pub6 = bytes.fromhex(KEYS["gen0"]["public_key"][2:])
    pub7 = bytes.fromhex(KEYS["gen1"]["public_key"][2:])
    for index, pub, other in ((6, pub6, pub7), (7, pub7, pub6)):
        tx = signer.sign_cancel_all_orders(time_in_force=0, time=0, nonce=3, api_key_index=index)
        sig = base64.b64decode(json.loads(tx.tx_info)["Sig"])
        assert native.schnorr_verify(pub, bytes.fromhex(tx.tx_hash), sig)
        assert not native.schnorr_verify(other, bytes.fromhex(tx.tx_hash), sig)
        token = signer.create_auth_token(1_800_000_000, index)
        assert token.startswith(f"1800000000:98765:{index}:")
        assert model.verify_token(token, "0x" + pub.hex())


async def test_async_twins_and_close(signer: NativeSigner) -> None:
    order = dict(market_index=0, client_order_index=1, base_amount=1, price=1, is_ask=0,
                 order_type=0, time_in_force=1, nonce=0, api_key_index=6)  # fmt: skip
    txs = [
        await signer.asign_create_order(**order),  # type: ignore[arg-type]
        await signer.asign_cancel_order(market_index=0, order_index=1, nonce=1, api_key_index=6),
        await signer.asign_modify_order(
            market_index=0, order_index=1, base_amount=2, price=3, nonce=2, api_key_index=6
        ),
        await signer.asign_cancel_all_orders(time_in_force=0, time=0, nonce=3, api_key_index=6),
        *(await signer.asign_many([("cancel_order", dict(market_index=1, order_index=9,
                                                         nonce=4, api_key_index=7))])),
    ]  # fmt: skip
    assert [t.tx_type for t in txs] == [14, 15, 17, 16, 15]
    for tx in txs:
        info = json.loads(tx.tx_info)
        assert txhash.message_hash(300, tx.tx_type, info) == tx.tx_hash
    token = await signer.acreate_auth_token(1_800_000_000, 6)
    assert model.verify_token(token, KEYS["gen0"]["public_key"])
    with signer:
        pass
    assert signer.closed
    with pytest.raises(SignerError, match="closed"):
        signer.sign_cancel_order(market_index=0, order_index=1, nonce=1, api_key_index=6)
    with pytest.raises(SignerError, match="closed"):
        await signer.acreate_auth_token(1_800_000_000, 6)
    signer.close()  # idempotent


# ================================================================================================
# End to end: the local node, checking every signature with the independent model
# ================================================================================================


async def test_local_node_accepts_native_transactions_and_tokens() -> None:
    import time

    import aiohttp

    from lighterfast.testnode import LocalNode

    async with (
        LocalNode(exec_latency_ms=0, signature_verifier=model.Verifier()) as node,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        acct = await node.create_account(collateral=10_000)
        key = acct.api_key_index
        s = await NativeSigner.create(
            acct.account_index, {key: acct.private_key}, base_url=node.base_url
        )
        assert s.chain_id == node.chain_id
        async with http.get(
            node.base_url + "/api/v1/nextNonce",
            params={"account_index": acct.account_index, "api_key_index": key},
        ) as resp:
            nonce = (await resp.json())["nonce"]
        url = node.base_url + "/api/v1/sendTx"
        tx = await s.asign_create_order(
            market_index=0, client_order_index=5, base_amount=100, price=150000,
            is_ask=False, order_type=0, time_in_force=1, nonce=nonce, api_key_index=key,
        )  # fmt: skip
        forged = tx.tx_info.replace('"Price":150000', '"Price":150001')
        async with http.post(url, data={"tx_type": "14", "tx_info": forged}) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["code"] == P.ERR_INVALID_SIGNATURE, body
        async with http.post(url, data={"tx_type": "14", "tx_info": tx.tx_info}) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["code"] == 200, body
        assert body["tx_hash"] == tx.tx_hash
        cancel = await s.asign_cancel_order(
            market_index=0, order_index=5, nonce=nonce + 1, api_key_index=key
        )
        async with http.post(url, data={"tx_type": "15", "tx_info": cancel.tx_info}) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["code"] == 200, body

        token = await s.acreate_auth_token(int(time.time()) + 600, key)
        await check_auth_token(http, node, acct.account_index, token)
        s.close()


@pytest.mark.parametrize("use_ws", [True, False], ids=["ws", "rest"])
async def test_dealer_with_a_native_signer_against_a_verifying_node(use_ws: bool) -> None:
    """Opt-in through `LighterDealer.create(config, signer=...)`: create, modify, cancel."""
    import asyncio

    from lighterfast.config import DealerConfig
    from lighterfast.dealer import LighterDealer
    from lighterfast.testnode import LocalNode

    async with LocalNode(exec_latency_ms=0, signature_verifier=model.Verifier()) as node:
        acct = await node.create_account(collateral=100_000)
        acc, key = acct.account_index, acct.api_key_index
        config = DealerConfig(
            base_url=node.base_url, account_index=acc, api_key_index=key,
            api_key_private_key=acct.private_key, symbol="ETH", standard_account=False,
            jitter_ms=(0, 1), use_ws=use_ws,
        )  # fmt: skip
        signer = NativeSigner(acc, {key: acct.private_key}, chain_id=node.chain_id)
        async with await LighterDealer.create(config, signer=signer) as dealer:
            coi = (await dealer.create_limit_order(price=3000.05, size=+0.005))[
                "client_order_index"
            ]
            assert [r["accepted"] for r in await dealer.flush()] == [True]
            await dealer.update_order_by_coi(coi, price=2999.99, quantity=0.006)
            assert (await dealer.flush())[0]["accepted"]
            await dealer.cancel_order_by_coi(coi)
            assert (await dealer.flush())[0]["accepted"]
            for _ in range(300):
                order = node.state.order_by_coi(acc, coi)
                if order is not None and order["status"] == "canceled":
                    break
                await asyncio.sleep(0.01)
            assert order is not None and order["status"] == "canceled"
            assert order["base_price"] == 299999 and order["base_size"] == 60
        assert not signer.closed  # the caller's signer stays the caller's
        signer.close()


async def test_auth_token_provider_takes_a_native_signer() -> None:
    from lighterfast.signing.auth import AuthTokenProvider

    signer = NativeSigner(1234, {3: priv("fixed_a")})
    async with AuthTokenProvider(signer, 3, lifetime=600.0) as provider:
        token = await provider.get()
    assert token.split(":")[1:3] == ["1234", "3"]
    assert model.verify_token(token, KEYS["fixed_a"]["public_key"])
    signer.close()


async def test_config_signer_native_selects_the_native_signer(tmp_path: Any) -> None:
    """`signer="native"` through from_config: the dealer owns a NativeSigner the node accepts."""
    from lighterfast.config import DealerConfig
    from lighterfast.dealer import LighterDealer
    from lighterfast.errors import ConfigError
    from lighterfast.testnode import LocalNode

    with pytest.raises(ConfigError, match="signer"):
        DealerConfig(account_index=1, api_key_index=4, api_key_private_key="x", signer="rust")
    async with LocalNode(exec_latency_ms=0, signature_verifier=model.Verifier()) as node:
        acct = await node.create_account(collateral=100_000)
        cfg = tmp_path / "config.json"
        cfg.write_text(json.dumps({"Lighter": {
            "base_url": node.base_url, "account_index": acct.account_index,
            "api_keys": [{"api_key_index": acct.api_key_index,
                          "api_key_private_key": acct.private_key}],
        }}))  # fmt: skip
        dealer = await LighterDealer.from_config(
            cfg, symbol="ETH", signer="native", standard_account=False, jitter_ms=(0, 1)
        )
        async with dealer:
            assert isinstance(dealer._signer, NativeSigner)
            coi = (await dealer.create_limit_order(price=3000.05, size=+0.005))[
                "client_order_index"
            ]
            assert [r["accepted"] for r in await dealer.flush()] == [True]
            assert node.state.nonces[(acct.account_index, acct.api_key_index)] >= 1
        assert dealer._signer.closed  # the dealer made it, so the dealer closed it
        assert coi > 0
