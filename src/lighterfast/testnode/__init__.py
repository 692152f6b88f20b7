"""`lighterfast.testnode`: a local Lighter node (REST + WebSocket on one loopback port).

An independent re-implementation of the venue's observable behaviour (protocol doc §6) for
tests, benchmarks and demos::

    async with LocalNode(port=0, exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=10_000)   # DevAccount, key slot 4
        # node.base_url, node.ws_url, node.chain_id (304), node.state, node.faults

Options (keyword): `chain_id`, `markets` (MarketSpec tuple), `exec_latency_ms` (ms, a tier name
"standard"/"premium"/"plus"/"zero", or {"taker","maker","cancel"}), `book_tick_ms` (50; 0 =
flush after every execution), `batch_cap` (15; 50 = documented cap), `next_nonce_mode`
("executed" lags by the latency, "accepted"), `margin_check`, `initial_nonce`,
`signature_verifier` (hook, off), `tx_hash_mode` ("signer" = the real signed hash, "fast"),
`ws_ping_interval` / `ws_pong_timeout` / `ws_idle_timeout`, `house_liquidity_levels`,
`simulate_flow`. Hooks: `node.request_hook` (REST) and `node.ws_hook` (WebSocket frames) for
rate limits, `node.faults`. `NodeThread(**options)` serves a node from its own loop thread for
synchronous callers.
"""

from __future__ import annotations

from .accounts import DEFAULT_DEV_API_KEY_INDEX, DevAccount
from .faults import Faults
from .markets import DEFAULT_MARKETS, MarketSpec
from .node import TIER_LATENCY_MS, TX_HASH_MODES, LocalNode, NodeState, SignatureVerifier
from .ratelimit import RateLimits
from .threaded import NodeThread
from .txparse import EXPIRED_TX_CODE, TxError

__all__ = [
    "DEFAULT_DEV_API_KEY_INDEX",
    "DEFAULT_MARKETS",
    "EXPIRED_TX_CODE",
    "TIER_LATENCY_MS",
    "TX_HASH_MODES",
    "DevAccount",
    "Faults",
    "LocalNode",
    "MarketSpec",
    "NodeState",
    "NodeThread",
    "RateLimits",
    "SignatureVerifier",
    "TxError",
]
