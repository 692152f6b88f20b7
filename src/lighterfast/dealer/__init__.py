"""`LighterDealer`: COI-first orders, validated at enqueue, signed and batched at flush.

The public index of the dealer package. Its sections: `coi` (the time-based COI band),
`intents` (order inputs → wire intents), `order_view` (COI → order), `send` (batch, plan,
sign at flush, transmit), `reads` (REST account reads), `nonces` (one lane per API key) and
`dealer` (the class, its construction and public order methods).
"""

from __future__ import annotations

from ..config import DealerConfig
from .coi import COI_EPOCH_S, COI_PER_SECOND, COI_SLOT_BITS, CoiAllocator, coi_parts
from .dealer import LighterDealer
from .order_view import STATUS_GONE
from .send import NONCE_RESYNC_DELAYS_S, RateBudget

__all__ = [
    "COI_EPOCH_S",
    "COI_PER_SECOND",
    "COI_SLOT_BITS",
    "NONCE_RESYNC_DELAYS_S",
    "STATUS_GONE",
    "CoiAllocator",
    "DealerConfig",
    "LighterDealer",
    "RateBudget",
    "coi_parts",
]
