"""`WsInfo`: order, trade and book state kept from Lighter's WebSocket streams.

Every received text frame goes through `feed_raw` (public: recorded sessions replay through
it): orjson parses it once, a precomputed table routes it by its `type`, the compiled caches
(COI cache, order books) are updated, then the hooks run. Reads (`get_ltp`,
`get_recent_trades`, `get_order_by_coi`, `get_order_book`) are synchronous and O(1).

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

Modules: `state` (frame path, caches, books), `hooks`, `reads`, `connect` (factories, decimals
resolution, life cycle, resync). `run` is `lighterfast.runner.run` (uvloop when installed).
"""

from ..runner import run
from .connect import WsInfo
from .state import WsInfoStats

__all__ = ["WsInfo", "WsInfoStats", "run"]
