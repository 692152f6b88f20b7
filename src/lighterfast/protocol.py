"""Wire constants of the Lighter protocol: every venue number in one place, with its source.

Shared by the client and the local node (`lighterfast.testnode`). Sections refer to
`docs/lighter-protocol.md` (the project's protocol reference).
"""

from __future__ import annotations

from typing import Final

# --- §0.1 chain ids ------------------------------------------------------------------------
CHAIN_ID_MAINNET: Final = 304
CHAIN_ID_TESTNET: Final = 300
MAINNET_URL: Final = "https://mainnet.zklighter.elliot.ai"
TESTNET_URL: Final = "https://testnet.zklighter.elliot.ai"
CHAIN_ID_ROBINHOOD: Final = 466324  # api.rh.lighter.xyz (SDK endpoint_profiles.py)

# --- §0.2 index spaces (the reference signer's range checks) --------------------------------
MAX_ACCOUNT_INDEX: Final = 2**48 - 2
MIN_API_KEY_INDEX: Final = 0
MAX_API_KEY_INDEX: Final = 254
ALL_API_KEYS: Final = 255
MAX_PERP_MARKET_INDEX: Final = 254
ALL_MARKETS: Final = 255
MIN_SPOT_MARKET_INDEX: Final = 2048  # spot ids start here (the node's market_type says which)
# Market ids are 64-bit on the venue; lighter-sdk 1.1.8's signer takes 0..254 and 256..2^48-1
# (255 is "all markets", valid only where a tx means every market: cancel-all, reads).
MAX_MARKET_INDEX: Final = 2**48 - 1
MIN_COI: Final = 1
MAX_COI: Final = 2**48 - 1
NIL_COI: Final = 0
MIN_ORDER_INDEX: Final = 2**48
MAX_ORDER_INDEX: Final = 2**60 - 1
MIN_BASE_AMOUNT: Final = 1
MAX_BASE_AMOUNT: Final = 2**48 - 1
MIN_PRICE: Final = 1
MAX_PRICE: Final = 2**32 - 1  # uint32 on the wire
MAX_TIMESTAMP_MS: Final = 2**48 - 1
MAX_NONCE: Final = 2**63 - 1
MAX_GROUPED_ORDERS: Final = 3

# --- §0.3 scaling --------------------------------------------------------------------------
USDC_SCALE: Final = 10**6
MARGIN_FRACTION_TICK: Final = 10_000
FEE_TICK: Final = 1_000_000

# --- §2.1 tx types -------------------------------------------------------------------------
TX_TYPE_CHANGE_PUB_KEY: Final = 8
TX_TYPE_TRANSFER: Final = 12
TX_TYPE_WITHDRAW: Final = 13
TX_TYPE_CREATE_ORDER: Final = 14
TX_TYPE_CANCEL_ORDER: Final = 15
TX_TYPE_CANCEL_ALL_ORDERS: Final = 16
TX_TYPE_MODIFY_ORDER: Final = 17
TX_TYPE_UPDATE_LEVERAGE: Final = 20
TX_TYPE_CREATE_GROUPED_ORDERS: Final = 28
TX_TYPE_UPDATE_MARGIN: Final = 29
ORDER_TX_TYPES: Final = frozenset(
    {
        TX_TYPE_CREATE_ORDER,
        TX_TYPE_CANCEL_ORDER,
        TX_TYPE_CANCEL_ALL_ORDERS,
        TX_TYPE_MODIFY_ORDER,
        TX_TYPE_CREATE_GROUPED_ORDERS,
    }
)

# --- §2.3 order type / time in force -------------------------------------------------------
ORDER_TYPE_LIMIT: Final = 0
ORDER_TYPE_MARKET: Final = 1
ORDER_TYPE_STOP_LOSS: Final = 2
ORDER_TYPE_STOP_LOSS_LIMIT: Final = 3
ORDER_TYPE_TAKE_PROFIT: Final = 4
ORDER_TYPE_TAKE_PROFIT_LIMIT: Final = 5
ORDER_TYPE_TWAP: Final = 6
ORDER_TYPE_NAMES: Final = {
    0: "limit",
    1: "market",
    2: "stop-loss",
    3: "stop-loss-limit",
    4: "take-profit",
    5: "take-profit-limit",
    6: "twap",
    7: "twap-sub",
    8: "liquidation",
}

TIF_IOC: Final = 0
TIF_GTT: Final = 1
TIF_POST_ONLY: Final = 2
TIF_NAMES: Final = {0: "immediate-or-cancel", 1: "good-till-time", 2: "post-only"}

CANCEL_ALL_NOW: Final = 0
CANCEL_ALL_SCHEDULE: Final = 1
CANCEL_ALL_ABORT: Final = 2

# Signer: OrderExpiry=-1 means now + 28 days; server window for non-zero expiry (§2.3).
DEFAULT_ORDER_EXPIRY_MS: Final = 28 * 24 * 3600 * 1000
MIN_ORDER_EXPIRY_PERIOD_MS: Final = 5 * 60 * 1000
MAX_ORDER_EXPIRY_PERIOD_MS: Final = 30 * 24 * 3600 * 1000
DEFAULT_TX_EXPIRY_MS: Final = 10 * 60 * 1000 - 1000  # signer default ExpiredAt = now + 599 s

# --- §2.8 attributes -----------------------------------------------------------------------
ATTR_INTEGRATOR_ACCOUNT: Final = "1"
ATTR_INTEGRATOR_TAKER_FEE: Final = "2"
ATTR_INTEGRATOR_MAKER_FEE: Final = "3"
ATTR_SKIP_NONCE: Final = "4"
ATTR_CANCEL_ALL_MARKET: Final = "5"
ATTR_SELF_TRADE_BEHAVIOUR: Final = "6"
ATTR_SELF_TRADE_EQUALITY: Final = "7"
ATTR_ORDER_VERSION: Final = "8"

# --- §1.3 order status strings -------------------------------------------------------------
STATUS_IN_PROGRESS: Final = "in-progress"
STATUS_PENDING: Final = "pending"
STATUS_OPEN: Final = "open"
STATUS_FILLED: Final = "filled"
STATUS_CANCELED: Final = "canceled"
STATUS_CANCELED_POST_ONLY: Final = "canceled-post-only"
STATUS_CANCELED_REDUCE_ONLY: Final = "canceled-reduce-only"
STATUS_CANCELED_POSITION_NOT_ALLOWED: Final = "canceled-position-not-allowed"
STATUS_CANCELED_MARGIN_NOT_ALLOWED: Final = "canceled-margin-not-allowed"
STATUS_CANCELED_TOO_MUCH_SLIPPAGE: Final = "canceled-too-much-slippage"
STATUS_CANCELED_NOT_ENOUGH_LIQUIDITY: Final = "canceled-not-enough-liquidity"
STATUS_CANCELED_SELF_TRADE: Final = "canceled-self-trade"
STATUS_CANCELED_EXPIRED: Final = "canceled-expired"
STATUS_CANCELED_OCO: Final = "canceled-oco"
STATUS_CANCELED_CHILD: Final = "canceled-child"
STATUS_CANCELED_LIQUIDATION: Final = "canceled-liquidation"
STATUS_CANCELED_INVALID_BALANCE: Final = "canceled-invalid-balance"
# Numeric codes used inside event_info (§1.3 table).
STATUS_CODES: Final = {
    STATUS_IN_PROGRESS: 0,
    STATUS_PENDING: 1,
    STATUS_OPEN: 2,
    STATUS_FILLED: 3,
    STATUS_CANCELED: 4,
    STATUS_CANCELED_POST_ONLY: 5,
    STATUS_CANCELED_REDUCE_ONLY: 6,
    STATUS_CANCELED_POSITION_NOT_ALLOWED: 7,
    STATUS_CANCELED_MARGIN_NOT_ALLOWED: 8,
    STATUS_CANCELED_TOO_MUCH_SLIPPAGE: 9,
    STATUS_CANCELED_NOT_ENOUGH_LIQUIDITY: 10,
    STATUS_CANCELED_SELF_TRADE: 11,
    STATUS_CANCELED_EXPIRED: 12,
    STATUS_CANCELED_OCO: 13,
    STATUS_CANCELED_CHILD: 14,
    STATUS_CANCELED_LIQUIDATION: 15,
    STATUS_CANCELED_INVALID_BALANCE: 16,
}
LIVE_STATUSES: Final = frozenset({STATUS_IN_PROGRESS, STATUS_PENDING, STATUS_OPEN})


def is_terminal_status(status: str) -> bool:
    """True for `filled`, `expired` and every `canceled*` status (the order is finished)."""
    return status == STATUS_FILLED or status.startswith("canceled") or status == "expired"


# --- §1.4 error codes (messages verbatim; the SDK matches "invalid nonce") -----------------
ERR_INVALID_PARAM: Final = 20001
ERR_INVALID_AUTH: Final = 20013
ERR_ACCOUNT_NOT_FOUND: Final = 21100
ERR_INVALID_ACCOUNT_INDEX: Final = 21102
ERR_INVALID_NONCE: Final = 21104
ERR_BATCH_NONCE_NOT_INCREASING: Final = 21105
ERR_API_KEY_NOT_FOUND: Final = 21109
ERR_INVALID_API_KEY_INDEX: Final = 21110
ERR_INVALID_SIGNATURE: Final = 21120
ERR_BATCH_MIXED_KEYS: Final = 21121
ERR_NOT_ENOUGH_COLLATERAL: Final = 21301
ERR_TX_NOT_FOUND: Final = 21500
ERR_INVALID_TX_INFO: Final = 21501
ERR_UNSUPPORTED_TX_TYPE: Final = 21505
ERR_TOO_MANY_PENDING_TXS: Final = 21506
ERR_BATCH_LENGTH_MISMATCH: Final = 21513
ERR_BATCH_TOO_LARGE: Final = 21514
ERR_INVALID_MARKET_INDEX: Final = 21602
ERR_INVALID_ORDER_INDEX: Final = 21700
ERR_INVALID_BASE_AMOUNT: Final = 21701
ERR_INVALID_PRICE: Final = 21702
ERR_INVALID_IS_ASK: Final = 21703
ERR_INVALID_ORDER_TYPE: Final = 21704
ERR_INVALID_TIME_IN_FORCE: Final = 21705
ERR_INVALID_ORDER_AMOUNT: Final = 21706  # also the local node's code for below-minimum orders
ERR_ORDER_NOT_OWNED: Final = 21707
ERR_INVALID_EXPIRY: Final = 21711
ERR_CANCEL_ALL_QUEUED: Final = 21712
ERR_INVALID_CANCEL_ALL_TIF: Final = 21713
ERR_INVALID_CANCEL_ALL_TIME: Final = 21714
ERR_NOT_ACTIVE_ORDER: Final = 21715
ERR_INVALID_COI: Final = 21727
ERR_COI_EXISTS: Final = 21728
ERR_INVALID_TRIGGER_PRICE: Final = 21729
ERR_REDUCE_ONLY_INCREASES: Final = 21732
ERR_NOT_ENOUGH_MARGIN: Final = 21739
ERR_TOO_MANY_REQUESTS: Final = 23000
ERR_TOO_MANY_SUBSCRIPTIONS: Final = 23001
ERR_TOO_MANY_CONNECTIONS: Final = 23003
ERR_NOT_FOUND: Final = 29404
ERR_INTERNAL: Final = 29500
ERR_INVALID_JSON: Final = 30000
ERR_INVALID_TYPE: Final = 30001
ERR_NOT_SUBSCRIBED: Final = 30002
ERR_ALREADY_SUBSCRIBED: Final = 30003
ERR_INVALID_CHANNEL: Final = 30005
ERR_TOO_MANY_WS_MESSAGES: Final = 30009
ERR_TOO_MANY_INFLIGHT: Final = 30010

ERROR_MESSAGES: Final = {
    ERR_INVALID_AUTH: "invalid auth: invalid deadline",
    ERR_ACCOUNT_NOT_FOUND: "account not found",
    ERR_INVALID_ACCOUNT_INDEX: "invalid account index",
    ERR_INVALID_NONCE: "invalid nonce",
    ERR_BATCH_NONCE_NOT_INCREASING: "batch transaction nonce is not increasing",
    ERR_API_KEY_NOT_FOUND: "api key not found",
    ERR_INVALID_API_KEY_INDEX: "invalid api key index",
    ERR_INVALID_SIGNATURE: "invalid signature",
    ERR_BATCH_MIXED_KEYS: "all transactions in the batch must have use same account and apikey",
    ERR_NOT_ENOUGH_COLLATERAL: "not enough collateral",
    ERR_TX_NOT_FOUND: "transaction not found",
    ERR_INVALID_TX_INFO: "invalid tx info",
    ERR_UNSUPPORTED_TX_TYPE: "unsupported tx type",
    ERR_TOO_MANY_PENDING_TXS: "too many pending txs. Please try again later",
    ERR_BATCH_LENGTH_MISMATCH: "TxInfos and TxTypes should have the same length",
    ERR_BATCH_TOO_LARGE: "maximum 50 transactions allowed per batch",
    ERR_INVALID_MARKET_INDEX: "invalid market index",
    ERR_INVALID_ORDER_INDEX: "invalid order index",
    ERR_INVALID_BASE_AMOUNT: "invalid base amount",
    ERR_INVALID_PRICE: "invalid price",
    ERR_INVALID_IS_ASK: "invalid isAsk",
    ERR_INVALID_ORDER_TYPE: "invalid OrderType",
    ERR_INVALID_TIME_IN_FORCE: "invalid OrderTimeInForce",
    ERR_INVALID_ORDER_AMOUNT: "invalid order base or quote amount",
    ERR_ORDER_NOT_OWNED: "account is not owner of the order",
    ERR_INVALID_EXPIRY: "invalid expiry",
    ERR_CANCEL_ALL_QUEUED: "account has a queued cancel all orders request",
    ERR_INVALID_CANCEL_ALL_TIF: "invalid cancel all time in force",
    ERR_INVALID_CANCEL_ALL_TIME: "invalid cancel all time",
    ERR_NOT_ACTIVE_ORDER: "given order is not an active order",
    ERR_INVALID_COI: "invalid client order index",
    ERR_COI_EXISTS: "client order index already exists",
    ERR_INVALID_TRIGGER_PRICE: "invalid order trigger price",
    ERR_REDUCE_ONLY_INCREASES: "reduce only increases position",
    ERR_NOT_ENOUGH_MARGIN: "not enough margin to create the order",
    ERR_TOO_MANY_REQUESTS: "Too Many Requests!",
    ERR_TOO_MANY_SUBSCRIPTIONS: "Too Many Subscriptions!",
    ERR_TOO_MANY_CONNECTIONS: "Too Many Connections!",
    ERR_NOT_FOUND: "not found",
    ERR_INTERNAL: "internal server error",
    ERR_INVALID_JSON: "Invalid Json",
    ERR_INVALID_TYPE: "Invalid Type",
    ERR_TOO_MANY_WS_MESSAGES: "Too Many Websocket Messages!",
    ERR_TOO_MANY_INFLIGHT: "Too Many Inflight Messages!",
}
NONCE_ERROR_CODES: Final = frozenset({ERR_INVALID_NONCE, ERR_BATCH_NONCE_NOT_INCREASING})

# --- §4 WebSocket ----------------------------------------------------------------------------
WS_PATH: Final = "/stream"
WS_IDLE_TIMEOUT_S: Final = 120.0  # server closes a socket with no client frame for 2 min (§4.8)
WS_DEFAULT_PING_INTERVAL_S: Final = 30.0  # headroom: 4 pings inside the 2-minute rule
WS_MSG_SEND_TX: Final = "jsonapi/sendtx"
WS_MSG_SEND_TX_BATCH: Final = "jsonapi/sendtxbatch"

CH_ORDER_BOOK: Final = "order_book"
CH_TICKER: Final = "ticker"
CH_TRADE: Final = "trade"
CH_MARKET_STATS: Final = "market_stats"
CH_HEIGHT: Final = "height"
CH_ACCOUNT_ALL: Final = "account_all"
CH_ACCOUNT_ORDERS: Final = "account_orders"
CH_ACCOUNT_ALL_ORDERS: Final = "account_all_orders"
CH_ACCOUNT_ALL_TRADES: Final = "account_all_trades"
CH_ACCOUNT_ALL_POSITIONS: Final = "account_all_positions"
CH_ACCOUNT_ALL_ASSETS: Final = "account_all_assets"
CH_USER_STATS: Final = "user_stats"
CH_ACCOUNT_TX: Final = "account_tx"
# Channels whose subscribe needs an auth token (§4.4: send one for every account channel).
PRIVATE_CHANNELS: Final = frozenset(
    {
        CH_ACCOUNT_ORDERS,
        CH_ACCOUNT_ALL_ORDERS,
        CH_ACCOUNT_ALL_TRADES,
        CH_ACCOUNT_ALL_POSITIONS,
        CH_ACCOUNT_ALL_ASSETS,
        CH_ACCOUNT_TX,
    }
)

# §4.7: batch cap. Error table says 50 (21514); newer material says 15. Default to the safe one.
MAX_BATCH_STRICT: Final = 15
MAX_BATCH_DOCUMENTED: Final = 50

# §4.9 WS limits (newest rate-limits page).
WS_MAX_CONNECTIONS: Final = 200
WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: Final = 500
WS_MAX_MESSAGES_PER_MINUTE: Final = 200
WS_MAX_INFLIGHT: Final = 50

# --- §3 auth tokens ------------------------------------------------------------------------
AUTH_TOKEN_DEFAULT_LIFETIME_S: Final = 10 * 60
AUTH_TOKEN_MAX_LIFETIME_S: Final = 8 * 3600

# --- §5 rate limits ------------------------------------------------------------------------
RATE_WINDOW_S: Final = 60.0
STANDARD_REQUESTS_PER_MINUTE: Final = 60
PREMIUM_WEIGHT_PER_MINUTE: Final = 24_000
PLUS_WEIGHT_PER_MINUTE: Final = 120_000
DEFAULT_ENDPOINT_WEIGHT: Final = 300
ENDPOINT_WEIGHTS: Final = {
    "sendTx": 6,
    "sendTxBatch": 6,
    "nextNonce": 6,
    "publicPools": 50,
    "txFromL1TxHash": 50,
    "accountInactiveOrders": 100,
    "deposit/latest": 100,
    "apikeys": 150,
    "transferFeeInfo": 500,
    "trades": 600,
    "recentTrades": 600,
    "changeAccountTier": 3000,
    "tokens": 3000,
    "tokens/revoke": 3000,
    "tokens/create": 23000,
}


def endpoint_weight(endpoint: str) -> int:
    """Premium weight of a REST endpoint name (the part after `/api/v1/`)."""
    return ENDPOINT_WEIGHTS.get(endpoint, DEFAULT_ENDPOINT_WEIGHT)


def standard_cost(endpoint: str) -> int:
    """Cost of one request in a standard account's 60/min bucket.

    Each request counts 1, except that `24000 / weight < 60` makes the smaller count apply
    (§5.1), which we express as a larger per-request cost in the same 60-unit bucket.
    """
    per_minute = PREMIUM_WEIGHT_PER_MINUTE // endpoint_weight(endpoint)
    if per_minute >= STANDARD_REQUESTS_PER_MINUTE:
        return 1
    return max(1, -(-STANDARD_REQUESTS_PER_MINUTE // max(per_minute, 1)))
