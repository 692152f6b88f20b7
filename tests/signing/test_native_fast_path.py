"""The native signer's fast paths (issue 13): the lazily reduced Poseidon2 permutation and the C
formatting of flat txs, each against an independent oracle.

* The permutation (shared by the client and the node's verifier) against the pure-Python model
  in testnode/txhash.py on random and edge-valued states (hypothesis).
* A flat tx (create / cancel / modify / cancel-all / leverage) signed on the C path against the
  same job forced onto the Python path (an int subclass is never taken by the C path): the same
  nonce k must give the same tx_info bytes (JSON, base64 Sig) and tx_hash.
* The C clock: ExpiredAt and the default OrderExpiry from the wall clock, as `_now_ms` reads it.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lighterfast import protocol as P
from lighterfast.signing import NativeSigner, SignedTx
from lighterfast.signing import _native as native
from lighterfast.testnode import _verify, txhash

PRIME = 2**64 - 2**32 + 1
EDGE = [0, 1, 2, PRIME - 1, PRIME, PRIME + 1, 2**32 - 1, 2**32, 2**63, 2**64 - 2, 2**64 - 1]
WORD = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from(EDGE))
KEY = "0x" + "3a" * 39 + "00"
ACCOUNT, INDEX = 281474976710000, 7
U48 = st.integers(0, 2**48 - 1)
U63 = st.integers(0, 2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORD, min_size=12, max_size=12))
def test_permutation_equals_the_python_model(state: list[int]) -> None:
    assert native.permute(state) == txhash.permute([w % PRIME for w in state])


@settings(max_examples=100, deadline=None)
@given(st.lists(WORD, min_size=0, max_size=24), st.sampled_from([4, 5, 8, 12]))
def test_node_verifier_sponge_equals_the_client_and_the_model(words: list[int], m: int) -> None:
    want = txhash.hash_no_pad(words, m)
    assert native.hash_no_pad(words, m) == want
    assert _verify.hash_no_pad(words, m) == want


class Wide(int):
    """An int the C path refuses (not exactly int): the same value, formatted in Python."""


ORDER = st.tuples(
    U48, U48, U48, st.integers(1, 2**32 - 1), st.integers(0, 1), st.integers(0, 6),
    st.integers(0, 2), st.integers(0, 1), st.integers(0, 2**32 - 1),
    st.one_of(st.just(-1), st.integers(0, 2**48)),
)  # fmt: skip
FLAT_ROWS = {
    P.TX_TYPE_CREATE_ORDER: ORDER,
    P.TX_TYPE_CANCEL_ORDER: st.tuples(U48, U63),
    P.TX_TYPE_MODIFY_ORDER: st.tuples(U48, U63, U48, U48, U48),
    P.TX_TYPE_CANCEL_ALL_ORDERS: st.tuples(st.integers(0, 2), U48),
    P.TX_TYPE_UPDATE_LEVERAGE: st.tuples(U48, st.integers(0, 2**16), st.integers(0, 1)),
}
ATTRS = st.one_of(
    st.none(),
    st.dictionaries(st.integers(0, 9), st.integers(0, 2**40), max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(FLAT_ROWS)).flatmap(lambda t: st.tuples(st.just(t), FLAT_ROWS[t])),
    U63, st.integers(599_000, 2**48), ATTRS, st.integers(1, 2**300),
)  # fmt: skip
def test_flat_txs_print_the_same_text_on_the_c_and_python_paths(
    kind_row: tuple[int, tuple[int, ...]], nonce: int, expired_at: int,
    attributes: dict[int, int] | None, k: int,
) -> None:  # fmt: skip
    tx_type, row = kind_row
    signer = NativeSigner(ACCOUNT, {INDEX: KEY}, chain_id=304, nonce_pool=0)
    key = signer._keys[INDEX]
    fast = signer._sign((tx_type, (INDEX, key), nonce, row), expired_at, attributes, k)
    wide_row = tuple(Wide(w) for w in row)
    slow = signer._sign((tx_type, (INDEX, key), nonce, wide_row), expired_at, attributes, k)
    assert type(fast) is SignedTx and type(slow) is SignedTx
    assert fast == slow
    info = json.loads(fast.tx_info)
    assert info["AccountIndex"] == ACCOUNT and info["ExpiredAt"] == expired_at
    sig = base64.b64decode(info["Sig"])
    pub = bytes.fromhex(signer.public_key(INDEX)[2:])
    assert native.schnorr_verify(pub, bytes.fromhex(fast.tx_hash), sig)
    signer.close()


def test_the_c_clock_stamps_expiry_like_now_ms() -> None:
    signer = NativeSigner(ACCOUNT, {INDEX: KEY}, chain_id=304, nonce_pool=0)
    args: dict[str, Any] = dict(
        market_index=0, client_order_index=5, base_amount=100, price=3000, is_ask=False,
        order_type=P.ORDER_TYPE_LIMIT, time_in_force=P.TIF_GTT, nonce=9, api_key_index=INDEX,
    )  # fmt: skip
    before = time.time_ns() // 1_000_000
    tx = signer.sign_create_order(**args)
    after = time.time_ns() // 1_000_000
    info = json.loads(tx.tx_info)
    assert before + P.DEFAULT_TX_EXPIRY_MS <= info["ExpiredAt"] <= after + P.DEFAULT_TX_EXPIRY_MS
    now = info["ExpiredAt"] - P.DEFAULT_TX_EXPIRY_MS
    assert info["OrderExpiry"] == now + P.DEFAULT_ORDER_EXPIRY_MS
    words = [304, tx.tx_type, 9, info["ExpiredAt"], ACCOUNT, INDEX,
             *(info[k] for k in txhash.ORDER_FIELDS)]  # fmt: skip
    assert native.tx_message(words).hex() == tx.tx_hash
    signer.close()
