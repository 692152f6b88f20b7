"""`lighterfast.testnode`: a local Lighter node (REST + WebSocket on one loopback port).

An independent re-implementation of the venue's observable behaviour (protocol doc §6) for
tests, benchmarks and demos::

    async with LocalNode(port=0, exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=10_000)
"""

from __future__ import annotations

from .accounts import DEFAULT_DEV_API_KEY_INDEX, DevAccount
from .faults import Faults
from .markets import DEFAULT_MARKETS, MarketSpec
from .node import TIER_LATENCY_MS, LocalNode, NodeState, SignatureVerifier
from .txparse import EXPIRED_TX_CODE, TxError

__all__ = [
    "DEFAULT_DEV_API_KEY_INDEX",
    "DEFAULT_MARKETS",
    "EXPIRED_TX_CODE",
    "TIER_LATENCY_MS",
    "DevAccount",
    "Faults",
    "LocalNode",
    "MarketSpec",
    "NodeState",
    "SignatureVerifier",
    "TxError",
]
