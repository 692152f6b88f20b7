"""Fault injection for the local node: gaps, duplicates, closes, shutdown notices, stalls,
forced refusals (429 / invalid nonce / any code) of the next N requests, and broken or late
replies to txs the node has already accepted (nonce consumed, order executed).

Called on `node.faults` by tests, or over HTTP through `POST /dev/v1/faults` (routes_dev.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson

from lighterfast import protocol as p

if TYPE_CHECKING:
    from .channels import StreamHub, WsSession

# What a REST tx reply can turn into after the node accepted the tx (`fault_next_tx_reply`).
REPLY_FAULTS = ("html_502", "html_200", "cut")
BAD_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>cloudflare</center></body></html>"
)


class Faults:
    """Fault switches of one node."""

    def __init__(self, hub: StreamHub) -> None:
        self._hub = hub
        self.forced_tx_errors: list[tuple[int, str, int]] = []  # (code, message, http status)
        # Refusals for the next REST /api/v1 requests of any endpoint (then tx ones above).
        self.forced_request_errors: list[tuple[int, str, int]] = []
        self.invert_reply_order = False  # test mode: stream frames before the sendTx reply
        self.reply_faults: list[str] = []  # next REST tx replies, after acceptance (REPLY_FAULTS)
        self.reply_delay_ms = 0.0  # every tx reply (REST and WS) waits this long after acceptance

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

    def fault_next_tx_reply(self, kind: str, count: int = 1) -> None:
        """The next `count` REST tx requests are accepted (nonces consumed, executed) but their
        reply is a 502 HTML page (`html_502`), a 200 with an HTML body (`html_200`), or the
        connection is closed without a reply (`cut`)."""
        if kind not in REPLY_FAULTS:
            raise ValueError(f"kind must be one of {', '.join(REPLY_FAULTS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        self.reply_faults.extend([kind] * count)

    def take_reply_fault(self) -> str | None:
        """The fault for the tx reply being written now (None: a normal reply)."""
        return self.reply_faults.pop(0) if self.reply_faults else None

    def delay_tx_replies(self, ms: float) -> None:
        """Hold every tx reply (REST and WS) `ms` milliseconds after acceptance (0: off); the
        tx executes meanwhile, as on a slow link."""
        if not 0 <= ms < 600_000:
            raise ValueError("ms must be in [0, 600000)")
        self.reply_delay_ms = float(ms)

    def clear(self) -> None:
        """Drop pending forced errors, reply and delta faults; resume stalled sockets."""
        self.forced_tx_errors.clear()
        self.forced_request_errors.clear()
        self.reply_faults.clear()
        self.reply_delay_ms = 0.0
        self._hub.drop_next_delta.clear()
        self._hub.duplicate_next_delta.clear()
        self.invert_reply_order = False
        self.stall(False)
