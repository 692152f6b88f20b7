"""`WsInfo`: order, trade and book state kept from Lighter's WebSocket streams.

Every received text frame goes through `feed_raw` (public: recorded sessions replay through
it): orjson parses it once, a precomputed table routes it by its `type`, the compiled caches
(COI cache, order books) are updated, then the hooks run. Reads (`get_ltp`,
`get_recent_trades`, `get_order_by_coi`, `get_order_book`) are synchronous and O(1).

Account state (ws/account.py), kept from frames with no REST read: with an account,
`account_all_positions`, `user_stats` and `account_all_assets` are subscribed (with the
token) and read by `get_position(market=None)`, `get_positions()`, `get_balance()`;
`market_stats=` (the factories' default: the WsInfo's market) feeds
`get_market_stats(market)`, `ticker=` (default off) feeds `get_ticker()` /
`get_best_bid_ask()` without a book. Hooks `on_positions(list of position views)`,
`on_account(balance view)`, `on_market_stats(stats view)`. Views are dicts of floats;
`account_state_ready` says whether they follow the node now (every snapshot since the last
reconnect arrived and no bad frame awaits its resync). A dealer handed this WsInfo as
`price_source` (same account) reads `fetch_my_position` / `fetch_my_balance` from it.
Public trades are kept once by `trade_id` (a bounded set of recent ids) across the subscribe
replay of the last 50 prints and reconnects; `liquidation_trades` prints are kept with
`is_liquidation: True` (others False).

Tx replies (for the dealer): every request carries a unique `data.id`; its reply frame
(`jsonapi/sendtx*`, or an error frame `{"error":…,"id":…}`) resolves the future registered
for that id on the connection, from this frame path. Use `send_tx` / `send_tx_batch` (they
return a decoded `wire.TxReply`, errors included, never raised), or lower level
`rid = ws.new_request_id(); await ws.request(wire.encode_sendtx_batch(..., request_id=rid),
rid, timeout)` for the raw reply dict. A socket drop fails the waiters with `WsClosed`; a
timeout raises `asyncio.TimeoutError`. Replies nobody waits for go to the `on_tx_reply` hook.
A bare `transport.websocket.WsConnection` (no WsInfo) routes replies by id on its own.

Reconnects resubscribe every channel and resync: books by their fresh snapshots (deltas
drop until then), open orders by REST `accountActiveOrders` once and by the orders snapshot.

Modules: `state` (frame path, caches, books), `account` (positions, balance, market stats,
ticker), `hooks`, `reads`, `connect` (factories, decimals resolution, life cycle, resync).
`run` is `lighterfast.runner.run` (uvloop when installed).
"""

from ..runner import run
from .connect import WsInfo
from .state import WsInfoStats

__all__ = ["WsInfo", "WsInfoStats", "run"]
