"""The WebSocket endpoint of the local node (`/stream`): sessions, subscriptions and tx frames.

`sendTx` / `sendTxBatch` frames take the same `LocalNode.accept` path as the REST routes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from lighterfast import protocol as p

from .channels import WsSession, error_frame
from .routes_common import RouteContext, batch_pairs
from .txparse import TxError

log = logging.getLogger("lighterfast.testnode")
_PONG = orjson.dumps({"type": "pong"})


def ws_route(ctx: RouteContext) -> web.RouteDef:
    """The `GET /stream` route (not behind the REST guard: WS limits are per frame)."""
    node = ctx.node

    async def stream(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        remote = request.remote or ""
        limits = node.rate_limits
        if limits is not None:
            open_count = sum(1 for x in node.hub.sessions if x.remote == remote and not x.closed)
            refused = limits.check_connection(remote, open_count)
            if refused is not None:  # error frame, then close (§4.9: 23003)
                await ws.send_bytes(error_frame(refused.code, refused.message))
                await ws.close(code=1008, message=b"too many connections")
                return ws
        readonly = request.query.get("readonly", "").lower() == "true"
        s = WsSession(ws, readonly, remote)
        node.hub.sessions.add(s)
        s.writer_task = asyncio.create_task(s.writer())
        s.send(orjson.dumps({"session_id": s.session_id, "type": "connected"}))
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        handle_ws(s, msg.data)
                    except Exception:  # a node bug must not kill the socket silently
                        log.exception("testnode: error handling a WebSocket frame")
                        s.send(error_frame(p.ERR_INTERNAL))
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            s.closed = True
            s.wakeup.set()
            node.hub.drop_session(s)
            if s.writer_task is not None:
                s.writer_task.cancel()
        return ws

    def handle_ws(s: WsSession, data: str | bytes) -> None:
        s.last_client_frame = time.monotonic()
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            s.send(error_frame(p.ERR_INVALID_JSON))
            return
        if not isinstance(obj, dict):
            s.send(error_frame(p.ERR_INVALID_JSON))
            return
        t = obj.get("type")
        is_tx = t == p.WS_MSG_SEND_TX or t == p.WS_MSG_SEND_TX_BATCH
        limits = node.rate_limits
        if limits is not None and not is_tx:  # tx frames count against sendTx (§4.7)
            err = limits.check_ws_message(s.remote)
            if err is None and (t == "subscribe" or t == "unsubscribe"):
                err = limits.check_inflight(s.inflight())
            if err is not None:
                s.send(error_frame(err.code, err.message))
                return
        hook = node.ws_hook
        if hook is not None:
            err = hook(s, obj)
            if err is not None:
                body = obj.get("data")
                req_id = body.get("id") if isinstance(body, dict) else None
                s.send(error_frame(err.code, err.message, req_id))
                return
        if is_tx:
            ws_tx(s, str(t), obj.get("data"))
        elif t == "ping":
            s.send(_PONG)
        elif t == "pong":
            s.ping_outstanding_since = None
        elif t == "subscribe":
            node.hub.subscribe(s, obj.get("channel"), obj.get("auth"))
            s.mark_reply()
        elif t == "unsubscribe":
            node.hub.unsubscribe(s, obj.get("channel"))
            s.mark_reply()
        else:
            s.send(error_frame(p.ERR_INVALID_TYPE))

    def tx_error_frame(t: str, err: TxError, req_id: Any) -> bytes:
        """A tx refusal in the configured §7.5 style."""
        style = node.ws_tx_error_style
        if style == "error":
            return error_frame(err.code, err.message, req_id)
        frame: dict[str, Any] = {
            "type": t if style == "typed" else "error",
            "code": err.code,
            "message": err.message,
        }
        if req_id is not None:
            frame["id"] = req_id
        return orjson.dumps(frame)

    def ws_tx(s: WsSession, t: str, data: object) -> None:
        if not isinstance(data, dict):
            s.send(tx_error_frame(t, TxError(p.ERR_INVALID_TX_INFO), None))
            return
        req_id = data.get("id")
        try:
            if s.readonly:
                raise TxError(30006, "Operation isn't supported")
            if t == p.WS_MSG_SEND_TX:
                if not node.ws_string_tx_info and not isinstance(data.get("tx_info"), dict):
                    raise TxError(p.ERR_INVALID_TX_INFO)  # §7.4 switch: object form only
                accepted = node.accept(
                    [(data.get("tx_type"), data.get("tx_info"))], batch=False, remote=s.remote
                )
                hashes: Any = accepted.tx_hashes[0]
            else:
                raw = batch_pairs(data.get("tx_types"), data.get("tx_infos"))
                accepted = node.accept(raw, batch=True, remote=s.remote)
                hashes = accepted.tx_hashes
        except TxError as err:
            s.send(tx_error_frame(t, err, req_id))
            return
        reply: dict[str, Any] = {"code": 200}
        if req_id is not None:
            reply["id"] = req_id
        if node.ws_tx_reply_extras:  # §7.4 switch: the REST reply's extra fields
            reply["message"] = accepted.message
            if accepted.volume_quota_remaining is not None:
                reply["volume_quota_remaining"] = accepted.volume_quota_remaining
        reply["predicted_execution_time_ms"] = accepted.predicted_execution_time_ms
        reply["tx_hash"] = hashes
        reply["type"] = t
        frame = orjson.dumps(reply)
        if node.faults.reply_delay_ms:  # fault: the reply waits, the tx executes meanwhile
            accepted.schedule()
            asyncio.get_running_loop().call_later(node.faults.reply_delay_ms / 1000, s.send, frame)
            return
        if node.faults.invert_reply_order:
            accepted.schedule()
            loop = asyncio.get_running_loop()
            loop.call_later(0.01 + max(node.latency.values()) / 1000, s.send, frame)
            return
        s.send(frame)
        accepted.schedule()

    return web.get(p.WS_PATH, stream)
