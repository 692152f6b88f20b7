"""The signed message hash (`tx_hash`) of a tx, recomputed from its tx_info (signer-spec §3, §5).

Pure Python Poseidon2 over Goldilocks (~0.2-0.5 ms per order tx). It is the node's default
(`tx_hash_mode="signer"`), so replies carry the hash the signer printed, as the venue's do;
`tx_hash_mode="fast"` swaps in a stand-in hash for throughput benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lighterfast import protocol as p

from ._poseidon_constants import EXTERNAL_ROUND_CONSTANTS, INTERNAL_DIAG, INTERNAL_ROUND_CONSTANTS
from .txparse import ORDER_FIELDS, ParsedTx

PRIME = 2**64 - 2**32 + 1
_RC_FULL_FIRST = EXTERNAL_ROUND_CONSTANTS[:4]
_RC_FULL_LAST = EXTERNAL_ROUND_CONSTANTS[4:]
_MASK64 = 2**64 - 1
# Attributes whose nil value is not 0 (signer-spec §5.3).
_ATTR_NIL = {int(p.ATTR_CANCEL_ALL_MARKET): p.ALL_MARKETS}


def _external(
    s0: int, s1: int, s2: int, s3: int, s4: int, s5: int,
    s6: int, s7: int, s8: int, s9: int, s10: int, s11: int,
) -> list[int]:  # fmt: skip
    """circ(2*M4, M4, M4) on full integers, reduced mod p (unrolled: this is the hot loop)."""
    a0, a1 = 2 * s0 + 3 * s1 + s2 + s3, s0 + 2 * s1 + 3 * s2 + s3
    a2, a3 = s0 + s1 + 2 * s2 + 3 * s3, 3 * s0 + s1 + s2 + 2 * s3
    b0, b1 = 2 * s4 + 3 * s5 + s6 + s7, s4 + 2 * s5 + 3 * s6 + s7
    b2, b3 = s4 + s5 + 2 * s6 + 3 * s7, 3 * s4 + s5 + s6 + 2 * s7
    c0, c1 = 2 * s8 + 3 * s9 + s10 + s11, s8 + 2 * s9 + 3 * s10 + s11
    c2, c3 = s8 + s9 + 2 * s10 + 3 * s11, 3 * s8 + s9 + s10 + 2 * s11
    t0, t1, t2, t3 = a0 + b0 + c0, a1 + b1 + c1, a2 + b2 + c2, a3 + b3 + c3
    p = PRIME
    return [
        (a0 + t0) % p, (a1 + t1) % p, (a2 + t2) % p, (a3 + t3) % p,
        (b0 + t0) % p, (b1 + t1) % p, (b2 + t2) % p, (b3 + t3) % p,
        (c0 + t0) % p, (c1 + t1) % p, (c2 + t2) % p, (c3 + t3) % p,
    ]  # fmt: skip


_D = INTERNAL_DIAG


def permute(state: Sequence[int]) -> list[int]:
    """The width-12 Poseidon2 permutation (4 full, 22 partial, 4 full rounds)."""
    p = PRIME
    s = _external(*state)
    for rc in _RC_FULL_FIRST:
        s = _external(*[pow(x + c, 7, p) for x, c in zip(s, rc, strict=True)])
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 = s
    d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11 = _D
    for c in INTERNAL_ROUND_CONSTANTS:
        s0 = pow(s0 + c, 7, p)
        t = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11
        s0, s1, s2, s3 = (t + d0 * s0) % p, (t + d1 * s1) % p, (t + d2 * s2) % p, (t + d3 * s3) % p
        s4, s5, s6, s7 = (t + d4 * s4) % p, (t + d5 * s5) % p, (t + d6 * s6) % p, (t + d7 * s7) % p
        s8, s9 = (t + d8 * s8) % p, (t + d9 * s9) % p
        s10, s11 = (t + d10 * s10) % p, (t + d11 * s11) % p
    s = [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11]
    for rc in _RC_FULL_LAST:
        s = _external(*[pow(x + c, 7, p) for x, c in zip(s, rc, strict=True)])
    return s


def hash_no_pad(words: Sequence[int], m: int) -> list[int]:
    """Overwrite-mode sponge (rate 8, no padding); the first m output words."""
    state = [0] * 12
    for i in range(0, len(words), 8):
        chunk = words[i : i + 8]
        for j, w in enumerate(chunk):
            state[j] = w & _MASK64
        state = permute(state)
    return state[:m]


def _order_words(o: Mapping[str, Any]) -> list[int]:
    return [o[k] for k in ORDER_FIELDS]


Sponge = Callable[[Sequence[int], int], list[int]]


def _body(tx_type: int, info: Mapping[str, Any], hash_no_pad: Sponge) -> list[int]:
    if tx_type == p.TX_TYPE_CREATE_ORDER:
        return _order_words(info)
    if tx_type == p.TX_TYPE_CANCEL_ORDER:
        return [info["MarketIndex"], info["Index"]]
    if tx_type == p.TX_TYPE_MODIFY_ORDER:
        return [
            info["MarketIndex"],
            info["Index"],
            info["BaseAmount"],
            info["Price"],
            info["TriggerPrice"],
        ]
    if tx_type == p.TX_TYPE_CANCEL_ALL_ORDERS:
        return [info["TimeInForce"], info["Time"]]
    if tx_type == p.TX_TYPE_CREATE_GROUPED_ORDERS:
        orders = info["Orders"]
        leaf = hash_no_pad(_order_words(orders[0]), 4)
        for order in orders[1:]:
            leaf = hash_no_pad(leaf + hash_no_pad(_order_words(order), 4), 4)
        return [info["GroupingType"], *leaf]
    if tx_type == p.TX_TYPE_UPDATE_LEVERAGE:
        return [info["MarketIndex"], info["InitialMarginFraction"], info["MarginMode"]]
    if tx_type == p.TX_TYPE_UPDATE_MARGIN:
        amount = info["USDCAmount"]
        return [info["MarketIndex"], amount & 0xFFFFFFFF, amount >> 32, info["Direction"]]
    raise ValueError(f"tx_type {tx_type} has no known hash layout")


def message_hash(
    chain_id: int, tx_type: int, info: Mapping[str, Any], sponge: Sponge = hash_no_pad
) -> str:
    """80-hex signed message of a tx_info object (what the signer prints as tx_hash).

    `sponge`: this module's pure-Python Poseidon2 (the reference), or the node's compiled one.
    """
    hash_no_pad = sponge
    frame = [
        chain_id,
        tx_type,
        info["Nonce"],
        info["ExpiredAt"],
        info["AccountIndex"],
        info["ApiKeyIndex"],
    ]
    msg = hash_no_pad(frame + _body(tx_type, info, hash_no_pad), 5)
    attrs = info.get("L2TxAttributes") or {}
    pairs = sorted((int(k), v) for k, v in attrs.items() if v != _ATTR_NIL.get(int(k), 0))
    if pairs:
        words: list[int] = []
        for k, v in [*pairs, *[(0, 0)] * (4 - len(pairs))]:
            words += [k, v]
        msg = hash_no_pad(msg + hash_no_pad(words, 5), 5)
    return b"".join(x.to_bytes(8, "little") for x in msg).hex()


def signer_tx_hash(chain_id: int, tx: ParsedTx) -> str:
    """`LocalNode(tx_hasher=...)` hook: the real signed hash of an accepted tx."""
    return message_hash(chain_id, tx.tx_type, tx.info)
