"""UpdateLeverage (20) and UpdateMargin (29): NativeSigner byte for byte with the Go library
(SdkSigner) over the valid ranges (hypothesis), the independent Python hash of the node
(`testnode.txhash`), the library's recorded fixed-k outputs, and bad input refused by both
signers with the same named error before anything is signed."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lighterfast import protocol as P
from lighterfast.signing import (
    NativeSigner,
    SdkSigner,
    SignedTx,
    go_call_count,
    validate_update_leverage,
    validate_update_margin,
)
from lighterfast.signing import _native as native
from lighterfast.signing import _selfcheck_data as D
from lighterfast.testnode import txhash

ACCOUNT = 271_828  # an account index no other test registers with the library
KEY = 9
CHAIN = 304
PUB = bytes.fromhex(D.PUBLIC_KEY[2:])

markets = st.one_of(st.integers(0, 254), st.integers(256, 2**48 - 1))
nonces = st.integers(0, P.MAX_NONCE)
leverage_kwargs = st.fixed_dictionaries(
    {
        "market_index": markets,
        "initial_margin_fraction": st.integers(1, P.MARGIN_FRACTION_TICK),
        "margin_mode": st.integers(0, 1),
        "nonce": nonces,
    }
)
margin_kwargs = st.fixed_dictionaries(
    {
        "market_index": markets,
        "usdc_amount": st.one_of(
            st.integers(1, 2**60 - 1), st.sampled_from([1, 2**32 - 1, 2**32, 2**60 - 1])
        ),
        "direction": st.integers(0, 1),
        "nonce": nonces,
    }
)


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[SdkSigner, NativeSigner]]:
    keys = {KEY: D.PRIVATE_KEY}
    with (
        SdkSigner(ACCOUNT, keys, chain_id=CHAIN) as sdk,
        NativeSigner(ACCOUNT, keys, chain_id=CHAIN) as ours,
    ):
        assert ours.engine == "native"
        yield sdk, ours


def unsigned(tx_info: str) -> str:
    head, rest = tx_info.split('"Sig":"', 1)
    return head + '"Sig":"' + rest.split('"', 1)[1]


def check_same(kind: str, kwargs: dict[str, Any], sdk: SdkSigner, ours: NativeSigner) -> None:
    """The library and the native signer (pinned to the library's ExpiredAt) agree byte for
    byte but the Sig; both signatures verify on the hash the node computes independently."""
    kw = {**kwargs, "api_key_index": KEY}
    before = go_call_count()
    theirs: SignedTx = getattr(sdk, "sign_" + kind)(**kw)
    info = json.loads(theirs.tx_info)
    ours._clock_ms = lambda: info["ExpiredAt"] - P.DEFAULT_TX_EXPIRY_MS
    mine: SignedTx = getattr(ours, "sign_" + kind)(**kw)
    assert go_call_count() == before + 1  # the library signed once; ours natively
    assert mine.tx_type == theirs.tx_type == txhash_type(kind)
    assert mine.tx_hash == theirs.tx_hash
    assert unsigned(mine.tx_info) == unsigned(theirs.tx_info)
    assert txhash.message_hash(CHAIN, mine.tx_type, info) == theirs.tx_hash  # pure-Python model
    message = bytes.fromhex(theirs.tx_hash)
    assert native.schnorr_verify(PUB, message, base64.b64decode(info["Sig"]))
    assert native.schnorr_verify(PUB, message, base64.b64decode(json.loads(mine.tx_info)["Sig"]))


def txhash_type(kind: str) -> int:
    return P.TX_TYPE_UPDATE_LEVERAGE if kind == "update_leverage" else P.TX_TYPE_UPDATE_MARGIN


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(kwargs=leverage_kwargs)
def test_update_leverage_is_byte_exact_with_the_library(
    pair: tuple[SdkSigner, NativeSigner], kwargs: dict[str, Any]
) -> None:
    check_same("update_leverage", kwargs, *pair)


@_SETTINGS
@given(kwargs=margin_kwargs)
def test_update_margin_is_byte_exact_with_the_library(
    pair: tuple[SdkSigner, NativeSigner], kwargs: dict[str, Any]
) -> None:
    check_same("update_margin", kwargs, *pair)


@pytest.mark.parametrize(
    "vec", [v for v in D.TRANSACTIONS if v["kind"].startswith("update_")], ids=lambda v: v["kind"]
)
def test_the_librarys_fixed_k_outputs_byte_for_byte_signature_included(
    vec: dict[str, Any],
) -> None:
    keys = {vec["kwargs"]["api_key_index"]: D.PRIVATE_KEY}
    with NativeSigner(vec["account_index"], keys, chain_id=vec["chain_id"], nonce_pool=0) as ours:
        tx = ours._sign_with_k(vec["kind"], vec["k"], expired_at=vec["expired_at"], **vec["kwargs"])
    assert tx.tx_info == vec["tx_info"] and tx.tx_hash == vec["tx_hash"]
    info = json.loads(vec["tx_info"])
    assert txhash.message_hash(vec["chain_id"], tx.tx_type, info) == vec["tx_hash"]


def test_sign_many_async_twins_and_the_go_library_fallback(
    pair: tuple[SdkSigner, NativeSigner],
) -> None:
    sdk, _ = pair
    lev = {"market_index": 2, "initial_margin_fraction": 333, "margin_mode": 0}
    mar = {"market_index": 2, "usdc_amount": 5_000_000, "direction": 1}
    requests: list[tuple[str, dict[str, Any]]] = [
        ("update_leverage", {**lev, "nonce": 1, "api_key_index": KEY}),
        ("cancel_order", {"market_index": 2, "order_index": 7, "nonce": 2, "api_key_index": KEY}),
        ("update_margin", {**mar, "nonce": 3, "api_key_index": KEY}),
    ]
    with NativeSigner(ACCOUNT + 1, {KEY: D.PRIVATE_KEY}, chain_id=CHAIN) as ours:
        batch = ours.sign_many(requests)
        assert [t.tx_type for t in batch] == [20, 15, 29]
        one = asyncio.run(ours.asign_update_margin(**mar, nonce=4, api_key_index=KEY))
        two = asyncio.run(ours.asign_update_leverage(**lev, nonce=5, api_key_index=KEY))
        assert ours.fall_back_to_go_library("test")
        before = go_call_count()
        three = ours.sign_update_leverage(**lev, nonce=6, api_key_index=KEY)
        assert go_call_count() == before + 1 and ours.engine == "sdk"
    for tx in [*batch, one, two, three]:
        info = json.loads(tx.tx_info)
        assert txhash.message_hash(CHAIN, tx.tx_type, info) == tx.tx_hash
        assert native.schnorr_verify(PUB, bytes.fromhex(tx.tx_hash), base64.b64decode(info["Sig"]))
    assert asyncio.run(sdk.asign_update_margin(**mar, nonce=7, api_key_index=KEY)).tx_type == 29


BAD: list[tuple[str, dict[str, Any], type, str]] = [
    ("update_leverage", dict(initial_margin_fraction=0), ValueError, "initial_margin_fraction"),
    ("update_leverage", dict(initial_margin_fraction=10_001), ValueError,
     "initial_margin_fraction"),
    ("update_leverage", dict(initial_margin_fraction=1000.0), TypeError, "initial_margin_fraction"),
    ("update_leverage", dict(margin_mode=2), ValueError, "margin_mode"),
    ("update_leverage", dict(margin_mode=-1), ValueError, "margin_mode"),
    ("update_leverage", dict(margin_mode="isolated"), TypeError, "margin_mode"),
    ("update_leverage", dict(market_index=255), ValueError, "market_index"),
    ("update_leverage", dict(market_index=-1), ValueError, "market_index"),
    ("update_leverage", dict(market_index=2**48), ValueError, "market_index"),
    ("update_leverage", dict(nonce=-1), ValueError, "nonce"),
    ("update_leverage", dict(api_key_index=KEY + 1), ValueError, "api_key_index"),
    ("update_margin", dict(usdc_amount=0), ValueError, "usdc_amount"),
    ("update_margin", dict(usdc_amount=-5), ValueError, "usdc_amount"),
    ("update_margin", dict(usdc_amount=2**60), ValueError, "usdc_amount"),
    ("update_margin", dict(usdc_amount=True), TypeError, "usdc_amount"),
    ("update_margin", dict(direction=2), ValueError, "direction"),
    ("update_margin", dict(direction=-1), ValueError, "direction"),
    ("update_margin", dict(market_index=255), ValueError, "market_index"),
]  # fmt: skip
_GOOD = {
    "update_leverage": dict(market_index=0, initial_margin_fraction=1000, margin_mode=1),
    "update_margin": dict(market_index=0, usdc_amount=1_000_000, direction=1),
}


@pytest.mark.parametrize(("kind", "change", "error", "field"), BAD)
def test_bad_input_is_refused_by_name_before_signing(
    pair: tuple[SdkSigner, NativeSigner], kind: str, change: dict[str, Any], error: type, field: str
) -> None:
    sdk, ours = pair
    kwargs = {**_GOOD[kind], "nonce": 1, "api_key_index": KEY, **change}
    before, taken = go_call_count(), ours.nonce_pool["taken"]  # type: ignore[index]
    with pytest.raises(error, match=field) as theirs:
        getattr(sdk, "sign_" + kind)(**kwargs)
    with pytest.raises(error, match=field) as mine:
        getattr(ours, "sign_" + kind)(**kwargs)
    assert str(mine.value) == str(theirs.value)
    with pytest.raises(error, match=r"requests\[0\]"):
        ours.sign_many([(kind, kwargs)])
    assert go_call_count() == before  # the library was never entered
    assert ours.nonce_pool["taken"] == taken  # type: ignore[index]  # no nonce k was used
    validator = validate_update_leverage if kind == "update_leverage" else validate_update_margin
    fields = {k: v for k, v in kwargs.items() if k not in ("nonce", "api_key_index")}
    if not set(change) & {"nonce", "api_key_index"}:
        with pytest.raises(error, match=field):
            validator(**fields)


def test_missing_or_unknown_fields_are_type_errors(pair: tuple[SdkSigner, NativeSigner]) -> None:
    _, ours = pair
    with pytest.raises(TypeError, match="margin_mode"):
        ours.sign_update_leverage(  # type: ignore[call-arg]
            market_index=0, initial_margin_fraction=1000, nonce=1, api_key_index=KEY
        )
    with pytest.raises(TypeError, match="leverage"):
        ours.sign_update_margin(  # type: ignore[call-arg]
            market_index=0, usdc_amount=1, direction=1, leverage=3, nonce=1, api_key_index=KEY
        )
