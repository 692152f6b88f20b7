"""The signed message hash (`tx_hash`) of a tx, recomputed from its tx_info (signer-spec §3, §5).

Pure Python Poseidon2 over Goldilocks; ~10x slower than the node's default stand-in hash, so
the node uses it only with `LocalNode(tx_hasher=signer_tx_hash)`. With it the node's replies
carry the same `tx_hash` the signer returned, as the venue's do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lighterfast import protocol as p

from ._poseidon_constants import EXTERNAL_ROUND_CONSTANTS, INTERNAL_DIAG, INTERNAL_ROUND_CONSTANTS
from .txparse import ParsedTx

PRIME = 2**64 - 2**32 + 1
_RC_FULL_FIRST = EXTERNAL_ROUND_CONSTANTS[:4]
_RC_FULL_LAST = EXTERNAL_ROUND_CONSTANTS[4:]
_MASK64 = 2**64 - 1
_ORDER_KEYS = (
    "MarketIndex",
    "ClientOrderIndex",
    "BaseAmount",
    "Price",
    "IsAsk",
    "Type",
    "TimeInForce",
    "ReduceOnly",
    "TriggerPrice",
    "OrderExpiry",
)
# Attributes whose nil value is not 0 (signer-spec §5.3).
_ATTR_NIL = {int(p.ATTR_CANCEL_ALL_MARKET): p.ALL_MARKETS}


def _external(s: list[int]) -> list[int]:
    """circ(2*M4, M4, M4) on full integers, reduced mod p."""
    out = []
    for b in (0, 4, 8):
        a, c, e, d = s[b], s[b + 1], s[b + 2], s[b + 3]
        out.append(2 * a + 3 * c + e + d)
        out.append(a + 2 * c + 3 * e + d)
        out.append(a + c + 2 * e + 3 * d)
        out.append(3 * a + c + e + 2 * d)
    s0 = out[0] + out[4] + out[8]
    s1 = out[1] + out[5] + out[9]
    s2 = out[2] + out[6] + out[10]
    s3 = out[3] + out[7] + out[11]
    sums = (s0, s1, s2, s3)
    return [(x + sums[i & 3]) % PRIME for i, x in enumerate(out)]


def permute(state: Sequence[int]) -> list[int]:
    """The width-12 Poseidon2 permutation (4 full, 22 partial, 4 full rounds)."""
    s = _external(list(state))
    for rc in _RC_FULL_FIRST:
        s = _external([pow(x + c, 7, PRIME) for x, c in zip(s, rc, strict=True)])
    diag = INTERNAL_DIAG
    for c in INTERNAL_ROUND_CONSTANTS:
        s[0] = pow(s[0] + c, 7, PRIME)
        total = sum(s)
        s = [(total + d * x) % PRIME for d, x in zip(diag, s, strict=True)]
    for rc in _RC_FULL_LAST:
        s = _external([pow(x + c, 7, PRIME) for x, c in zip(s, rc, strict=True)])
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
    return [o[k] for k in _ORDER_KEYS]


def _body(tx_type: int, info: Mapping[str, Any]) -> list[int]:
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


def message_hash(chain_id: int, tx_type: int, info: Mapping[str, Any]) -> str:
    """80-hex signed message of a tx_info object (what the signer prints as tx_hash)."""
    frame = [
        chain_id,
        tx_type,
        info["Nonce"],
        info["ExpiredAt"],
        info["AccountIndex"],
        info["ApiKeyIndex"],
    ]
    msg = hash_no_pad(frame + _body(tx_type, info), 5)
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
