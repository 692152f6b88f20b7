"""Fault injection for the local node: gaps, duplicates, closes, shutdown notices, stalls,
forced refusals (429 / invalid nonce / any code) of the next N requests.

Called on `node.faults` by tests, or over HTTP through `POST /dev/v1/faults` (routes_dev.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson

from lighterfast import protocol as p

if TYPE_CHECKING:
    from .channels import StreamHub, WsSession


class Faults:
    """Fault switches of one node."""

    def __init__(self, hub: StreamHub) -> None:
        self._hub = hub
        self.forced_tx_errors: list[tuple[int, str, int]] = []  # (code, message, http status)
        # Refusals for the next REST /api/v1 requests of any endpoint (then tx ones above).
        self.forced_request_errors: list[tuple[int, str, int]] = []
        self.invert_reply_order = False  # test mode: stream frames before the sendTx reply

    def drop_next_book_delta(self, market_index: int) -> None:
        """The next order_book delta of a market is not sent (subscribers see a nonce gap)."""
        self._hub.drop_next_delta.add(market_index)

    def duplicate_next_book_delta(self, market_index: int) -> None:
        """The next order_book delta of a market is sent twice."""
        self._hub.duplicate_next_delta.add(market_index)

    def sessions_for(self, session_id: str | None) -> list[WsSession]:
        """Every session, or the one whose greeting carried `session_id` (ValueError if gone)."""
        if session_id is None:
            return list(self._hub.sessions)
        found = [s for s in self._hub.sessions if s.session_id == session_id]
        if not found:
            raise ValueError(f"unknown session_id {session_id!r}")
        return found

    async def close_all(
        self, code: int = 1011, message: str = "", session_id: str | None = None
    ) -> None:
        """Close every WebSocket (or only `session_id`'s) with `code` (e.g. 1001, 1011)."""
        sessions = self.sessions_for(session_id)
        await asyncio.gather(
            *(s.close(code, message.encode()) for s in sessions), return_exceptions=True
        )

    async def send_shutdown(self, close_in_ms: int = 100, code: int = 1001) -> None:
        """Send `{"type":"shutdown","close_in_ms":N}` to every socket, then close them."""
        self._hub.broadcast(orjson.dumps({"type": "shutdown", "close_in_ms": close_in_ms}))
        await asyncio.sleep(close_in_ms / 1000)
        await self.close_all(code, "shutdown")

    def stall(self, on: bool = True, session_id: str | None = None) -> None:
        """Stop (or resume) writing frames to every socket (or only `session_id`'s); queued
        frames are kept."""
        for s in self.sessions_for(session_id):
            s.stalled = on
            if not on:
                s.wakeup.set()

    def force_next_tx_error(
        self,
        code: int = p.ERR_INVALID_NONCE,
        message: str | None = None,
        http_status: int = 400,
        count: int = 1,
    ) -> None:
        """The next `count` tx requests (REST sendTx/sendTxBatch, WS tx frames) are refused
        with this error; nothing is consumed."""
        if count < 1:
            raise ValueError("count must be >= 1")
        msg = message if message is not None else p.ERROR_MESSAGES.get(code, "error")
        self.forced_tx_errors.extend([(code, msg, http_status)] * count)

    def force_invalid_nonce(self, count: int = 1) -> None:
        """The next `count` tx requests get HTTP 400 / 21104 `invalid nonce`."""
        self.force_next_tx_error(p.ERR_INVALID_NONCE, count=count)

    def force_rate_limit(self, count: int = 1, scope: str = "tx") -> None:
        """The next `count` requests get HTTP 429 / 23000: tx requests only (`scope="tx"`) or
        every REST /api/v1 request (`scope="rest"`)."""
        if scope == "tx":
            self.force_next_tx_error(p.ERR_TOO_MANY_REQUESTS, http_status=429, count=count)
        elif scope == "rest":
            if count < 1:
                raise ValueError("count must be >= 1")
            err = (p.ERR_TOO_MANY_REQUESTS, p.ERROR_MESSAGES[p.ERR_TOO_MANY_REQUESTS], 429)
            self.forced_request_errors.extend([err] * count)
        else:
            raise ValueError("scope must be 'tx' or 'rest'")

    def clear(self) -> None:
        """Drop pending forced errors and delta faults; resume stalled sockets."""
        self.forced_tx_errors.clear()
        self.forced_request_errors.clear()
        self._hub.drop_next_delta.clear()
        self._hub.duplicate_next_delta.clear()
        self.invert_reply_order = False
        self.stall(False)
