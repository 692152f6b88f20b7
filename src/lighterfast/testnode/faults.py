"""Fault injection for the local node: gaps, duplicates, closes, shutdown notices, stalls.

Hooks a test calls on `node.faults`. The rate-limit / forced-error hooks are placeholders
wired into the acceptance path (`force_next_tx_error`) for the second-half issue to extend.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson

from lighterfast import protocol as p

if TYPE_CHECKING:
    from .channels import StreamHub


class Faults:
    """Fault switches of one node."""

    def __init__(self, hub: StreamHub) -> None:
        self._hub = hub
        self.forced_tx_errors: list[tuple[int, str, int]] = []  # (code, message, http status)
        self.invert_reply_order = False  # test mode: stream frames before the sendTx reply

    def drop_next_book_delta(self, market_index: int) -> None:
        """The next order_book delta of a market is not sent (subscribers see a nonce gap)."""
        self._hub.drop_next_delta.add(market_index)

    def duplicate_next_book_delta(self, market_index: int) -> None:
        """The next order_book delta of a market is sent twice."""
        self._hub.duplicate_next_delta.add(market_index)

    async def close_all(self, code: int = 1011, message: str = "") -> None:
        """Close every WebSocket with `code` (e.g. 1001, 1011)."""
        sessions = list(self._hub.sessions)
        await asyncio.gather(
            *(s.close(code, message.encode()) for s in sessions), return_exceptions=True
        )

    async def send_shutdown(self, close_in_ms: int = 100, code: int = 1001) -> None:
        """Send `{"type":"shutdown","close_in_ms":N}` to every socket, then close them."""
        self._hub.broadcast(orjson.dumps({"type": "shutdown", "close_in_ms": close_in_ms}))
        await asyncio.sleep(close_in_ms / 1000)
        await self.close_all(code, "shutdown")

    def stall(self, on: bool = True) -> None:
        """Stop (or resume) writing frames to every socket; queued frames are kept."""
        for s in self._hub.sessions:
            s.stalled = on
            if not on:
                s.wakeup.set()

    def force_next_tx_error(
        self, code: int = p.ERR_INVALID_NONCE, message: str | None = None, http_status: int = 400
    ) -> None:
        """The next sendTx / sendTxBatch is refused with this error (nothing consumed)."""
        msg = message if message is not None else p.ERROR_MESSAGES.get(code, "error")
        self.forced_tx_errors.append((code, msg, http_status))

    def force_rate_limit(self) -> None:
        """The next tx request gets HTTP 429 / 23000."""
        self.force_next_tx_error(p.ERR_TOO_MANY_REQUESTS, http_status=429)
