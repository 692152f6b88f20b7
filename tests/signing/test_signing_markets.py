"""64-bit market ids in both signers: exactly what lighter-sdk 1.1.8's library accepts.

The library takes a market id as an int64 and refuses 255 (its "all markets" value) and
anything outside 0..2^48-1, for every order kind; spot or perp is never read from the id. The
id is one Goldilocks word in the signed hash and a plain JSON integer in tx_info, so ids past
2^12 (the old spot band) must hash and print exactly as the library does.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from lighterfast import protocol as P
from lighterfast.errors import SignerError
from lighterfast.signing import GroupedOrder, NativeSigner, SdkSigner, SignedTx
from lighterfast.signing import _native as native
from lighterfast.signing import sdk as S
from lighterfast.testnode import txhash

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
KEY = VECTORS["keys"]["fixed_a"]
ACCOUNT, INDEX, CHAIN = 1234, 3, 304
E = 1797898697405
MARKETS = [256, 2047, 2048, 4095, 4098, 40000, 2**40, P.MAX_MARKET_INDEX]


@pytest.fixture(scope="module")
def sdk() -> Any:
    with SdkSigner(ACCOUNT, {INDEX: KEY["private_key"]}, chain_id=CHAIN) as signer:
        yield signer


@pytest.fixture(scope="module")
def ours() -> NativeSigner:
    return NativeSigner(ACCOUNT, {INDEX: KEY["private_key"]}, chain_id=CHAIN)


def unsigned(tx_info: str) -> str:
    """tx_info with the signature blanked (everything else byte for byte)."""
    head, rest = tx_info.split('"Sig":"', 1)
    return head + '"Sig":"' + rest.split('"', 1)[1]


def requests_for(market: int) -> list[tuple[str, dict[str, Any]]]:
    """Every order kind on one market, with the options that once depended on the id."""
    limit = dict(market_index=market, client_order_index=7, base_amount=1000, price=300000,
                 is_ask=False, order_type=0, time_in_force=1, order_expiry=E)  # fmt: skip
    grouped = [
        GroupedOrder(market, 31, 100, 5000, False, 0, 1, order_expiry=E),
        GroupedOrder(market, 32, 0, 4000, True, 2, 0, True, 4000, E),
        GroupedOrder(market, 33, 0, 6000, True, 4, 0, True, 6000, E),
    ]
    return [
        ("create_order", limit),
        ("create_order", {**limit, "reduce_only": True}),
        ("create_order", {**limit, "order_type": 2, "time_in_force": 0, "trigger_price": 9}),
        ("cancel_order", dict(market_index=market, order_index=5)),
        ("modify_order", dict(market_index=market, order_index=2**50, base_amount=3, price=4)),
        ("create_grouped_orders", dict(grouping_type=3, orders=grouped)),
    ]


def same_as_library(sdk: SdkSigner, ours: NativeSigner, kind: str, kwargs: dict[str, Any]) -> None:
    """The native tx equals the library's byte for byte (Sig aside: the library draws its own
    k), and the library's signature verifies against the native hash."""
    theirs: SignedTx = getattr(sdk, "sign_" + kind)(**kwargs, nonce=5, api_key_index=INDEX)
    info = json.loads(theirs.tx_info)
    ours._clock_ms = lambda: info["ExpiredAt"] - P.DEFAULT_TX_EXPIRY_MS
    mine: SignedTx = getattr(ours, "sign_" + kind)(**kwargs, nonce=5, api_key_index=INDEX)
    assert mine.tx_hash == theirs.tx_hash, kind
    assert unsigned(mine.tx_info) == unsigned(theirs.tx_info), kind
    pub = bytes.fromhex(KEY["public_key"][2:])
    go_sig = base64.b64decode(info["Sig"])
    assert native.schnorr_verify(pub, bytes.fromhex(mine.tx_hash), go_sig)
    assert txhash.message_hash(CHAIN, theirs.tx_type, info) == theirs.tx_hash


@pytest.mark.parametrize("market", MARKETS)
def test_large_market_ids_are_byte_exact_with_the_library(
    sdk: SdkSigner, ours: NativeSigner, market: int
) -> None:
    for kind, kwargs in requests_for(market):
        same_as_library(sdk, ours, kind, kwargs)
        if "market_index" in kwargs:
            tx = getattr(ours, "sign_" + kind)(**kwargs, nonce=5, api_key_index=INDEX)
            assert f'"MarketIndex":{market},' in tx.tx_info  # a plain JSON integer


def test_the_market_id_is_one_full_word_of_the_hash(sdk: SdkSigner) -> None:
    """2^40 and 2^40 + 255 hash differently (no truncation to 8 or 12 bits), as in the library."""
    hashes = set()
    for market in (2**40, 2**40 + 255, 2**40 + 4096, 2**40 + 2**32):
        tx = sdk.sign_cancel_order(market_index=market, order_index=5, nonce=5, api_key_index=3)
        words = [CHAIN, 15, 5, json.loads(tx.tx_info)["ExpiredAt"], ACCOUNT, INDEX, market, 5]
        assert native.tx_message(words).hex() == tx.tx_hash
        hashes.add(tx.tx_hash)
    assert len(hashes) == 4


@pytest.mark.parametrize("market", [P.ALL_MARKETS, P.MAX_MARKET_INDEX + 1, -1])
def test_255_and_ids_past_2_48_are_refused_as_the_library_refuses_them(
    sdk: SdkSigner, ours: NativeSigner, market: int
) -> None:
    for kind, kwargs in requests_for(market):
        for signer in (sdk, ours):
            before = S.go_call_count()
            with pytest.raises(ValueError, match="market_index"):
                getattr(signer, "sign_" + kind)(**kwargs, nonce=5, api_key_index=INDEX)
            assert S.go_call_count() == before  # refused before the library was entered
    # ... and the library itself refuses them (validation bypassed on its worker thread)
    row = (market, 7, 1000, 300000, 0, 0, 1, 0, 0, E)
    with pytest.raises(SignerError, match="MarketIndex"):
        sdk._worker.call(S._w_create_order, ACCOUNT, INDEX, 5, row)
    with pytest.raises(SignerError, match="MarketIndex"):
        sdk._worker.call(S._w_cancel_order, ACCOUNT, INDEX, 5, (market, 5))


def test_cancel_all_still_means_every_market(sdk: SdkSigner, ours: NativeSigner) -> None:
    same_as_library(sdk, ours, "cancel_all_orders", dict(time_in_force=0, time=0))
