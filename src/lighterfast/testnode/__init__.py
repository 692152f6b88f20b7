"""`lighterfast.testnode`: a local Lighter node (REST + WebSocket on one loopback port).

An independent re-implementation of the venue's observable behaviour (protocol doc §6) for
tests, benchmarks and demos::

    async with LocalNode(port=0, exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=10_000)   # DevAccount, key slot 4
        # node.base_url, node.ws_url, node.chain_id (304), node.state, node.faults

Options (keyword): `chain_id`, `markets` (MarketSpec tuple), `exec_latency_ms` (ms, a tier name
"standard"/"premium"/"plus"/"zero", or {"taker","maker","cancel"}), `book_tick_ms` (50; 0 =
flush after every execution), `batch_cap` (50 documented; 15 strict), `next_nonce_mode`
("executed" lags by the latency, "accepted"), `margin_check`, `initial_nonce`,
`verify_signatures` (True: every tx signature and auth token is checked against the account's
registered API key, 21120 / 20013, nothing consumed; False only for throughput benchmarks),
`signature_verifier` (replaces the built-in `NativeVerifier`), `tx_hash_mode` ("signer" = the
real signed hash, "fast"),
`ws_ping_interval` / `ws_pong_timeout` / `ws_idle_timeout`, `house_liquidity_levels`,
`simulate_flow` (+ `flow_interval_ms`, `flow_seed`), `rate_limits` (None = off, the default;
a tier name or a `RateLimits`). Hooks: `node.request_hook` (REST), `node.ws_hook` (WS frames).
`NodeThread(**options)` serves a node from its own loop thread for synchronous callers.

Rate limits (`RateLimits`, protocol §5.1/§4.9): REST per IP and per L1 address over a rolling
60 s window; standard = 60 requests (heavier endpoints cost more), premium 24 000 / plus
120 000 weight with the §5.1 endpoint weights and sendTx/sendTxBatch in a per-L1 bucket of
their own; HTTP 429 `{"code":23000,"message":"Too Many Requests!"}`. WS: 200 client messages
per minute (30009; tx frames count against the account's sendTx budget instead), 50
unanswered subscribe requests (30010), 500 subscriptions per socket (23001), 200 sockets and
80 new sockets per minute per IP (23003). `RateLimits(volume_quota=True)` (opt-in) makes
premium accounts spend the §5.2 volume quota (1 000 at start, +1 per $3 traded, one free tx
per 15 s; long runs of a quoting bot exhaust it, as on the venue). Limits are off by default
in LocalNode and `lighterfast node`; `RateLimits.refusals` counts refusals per code.

Faults (`node.faults`, or `POST /dev/v1/faults {"fault": name, ...}`): drop_book_delta,
duplicate_book_delta, stall and close (code; every socket or one `session_id`), shutdown
(close_in_ms), rate_limit (count, scope tx|rest), invalid_nonce (count), tx_error (code,
count), invert_reply_order, restart (down_ms; `await node.restart()` keeps accounts, keys,
nonces, orders, positions; same port), clear.
`POST /dev/v1/rate_limits {"tier": ..|null, "account_index", "account_tier", "volume_quota",
"reset"}`.

§7 switches (default = the protocol doc's advice; details in `LocalNode`'s docstring):
`batch_cap` 50 (15 strict), `nonce_window` 0 (strict), `next_nonce_mode` "executed",
`ws_tx_reply_extras` False, `ws_string_tx_info` True, `ws_tx_error_style` "error",
`expired_tx_code` 21501, `cut_expired_subscriptions` False, `private_channels`,
`account_orders_channel` "market_account", `full_position_updates` False, `ws_ping_interval`
60 s, `ws_idle_timeout` 120 s, `exec_latency_ms` tier table, `RateLimits(http_status, body)`.
"""

from __future__ import annotations

from .accounts import DEFAULT_DEV_API_KEY_INDEX, DevAccount
from .faults import Faults
from .markets import DEFAULT_MARKETS, MarketSpec
from .node import TIER_LATENCY_MS, TX_HASH_MODES, LocalNode, NodeState, SignatureVerifier
from .ratelimit import RateLimits
from .threaded import NodeThread
from .txparse import EXPIRED_TX_CODE, TxError
from .verify import NativeVerifier

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
    "NativeVerifier",
    "NodeState",
    "NodeThread",
    "RateLimits",
    "SignatureVerifier",
    "TxError",
]
