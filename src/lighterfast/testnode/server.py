"""aiohttp routes of the local node: REST (`/`, `/info`, `/api/v1/...`, `/dev/v1/...`) and WS.

Handlers translate between the wire and `LocalNode`; every reply is JSON with a top-level
`code`, errors are `{"code","message"}` with the HTTP status of protocol §1.4.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from lighterfast import protocol as p

from .channels import WsSession, error_frame
from .ratelimit import RATE_LIMIT_HTML, TX_ENDPOINTS
from .shapes import (
    asset_detail_json,
    detailed_account_json,
    exchange_stats_row,
    order_book_detail,
    order_book_row,
    order_json,
    simple_order_json,
    trade_json,
)
from .txparse import TxError

if TYPE_CHECKING:
    from .node import LocalNode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("lighterfast.testnode")
_PONG = orjson.dumps({"type": "pong"})


def _accepted_body(accepted: Any, tx_hash: str | list[str]) -> dict[str, Any]:
    """The 200 reply of sendTx / sendTxBatch (volume quota only when the node reports one)."""
    body = {
        "code": 200,
        "message": accepted.message,
        "tx_hash": tx_hash,
        "predicted_execution_time_ms": accepted.predicted_execution_time_ms,
    }
    if accepted.volume_quota_remaining is not None:
        body["volume_quota_remaining"] = accepted.volume_quota_remaining
    return body


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _error(err: TxError, html: bool = False) -> web.Response:
    if html and err.code == p.ERR_TOO_MANY_REQUESTS:  # §7.15 switch: a firewall's HTML page
        return web.Response(body=RATE_LIMIT_HTML, status=err.http_status, content_type="text/html")
    return _json({"code": err.code, "message": err.message}, err.http_status)


def _param_error(detail: str) -> TxError:
    return TxError(p.ERR_INVALID_PARAM, f"invalid param : {detail}")


def _int_param(q: Any, name: str, default: int | None = None) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        if default is None:
            raise _param_error(f"{name} is required")
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise _param_error(f"{name} must be an integer") from None


def _limit(q: Any, hi: int) -> int:
    limit = _int_param(q, "limit")
    if not 1 <= limit <= hi:
        raise _param_error(f"limit must be between 1 and {hi}")
    return limit


def build_app(node: LocalNode) -> web.Application:
    """The aiohttp application serving `node`."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    eng = node.engine

    def html_errors() -> bool:
        limits = node.rate_limits
        return limits is not None and limits.enabled and limits.body == "html"

    def account_l1(request: web.Request, endpoint: str) -> str | None:
        """L1 address of the account a read names (`account_index`, or `account?by=index`)."""
        q = request.query
        raw = q.get("account_index")
        if raw is None and endpoint == "account" and q.get("by", "index") == "index":
            raw = q.get("value")
        if raw is None:
            return None
        try:
            acct = node.accounts.get(int(raw))
        except ValueError:
            return None
        return None if acct is None else acct.l1_address

    def wrap(fn: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            path = request.path
            is_api = not path.startswith("/dev/")
            try:
                endpoint = path[len("/api/v1/") :] if path.startswith("/api/v1/") else path
                if is_api:
                    forced = node.faults.forced_request_errors
                    if forced:
                        code, msg, status = forced.pop(0)
                        raise TxError(code, msg, status)
                    limits = node.rate_limits
                    if limits is not None and endpoint not in TX_ENDPOINTS:  # txs: in accept()
                        err = limits.check_request(
                            endpoint, request.remote or "", account_l1(request, endpoint)
                        )
                        if err is not None:
                            raise err
                hook = node.request_hook
                if hook is not None:
                    err = hook(endpoint, request.remote or "", request)
                    if err is not None:
                        return _error(err)
                return await fn(request)
            except TxError as err:
                return _error(err, is_api and html_errors())

        return handler

    def market_param(q: Any, name: str = "market_id", required: bool = True) -> int:
        m = _int_param(q, name, None if required else p.ALL_MARKETS)
        if m != p.ALL_MARKETS and m not in eng.specs:
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
        return m

    def require_auth(request: web.Request, account_index: int | None) -> None:
        token = request.headers.get("Authorization") or request.query.get("auth")
        if not token:
            raise _param_error("auth query param and Authorization header are empty")
        err = node.check_auth(token, account_index)
        if err is not None:
            raise err

    # --- root ---------------------------------------------------------------------------
    async def root(_: web.Request) -> web.StreamResponse:
        return _json(
            {"code": 200, "status": 1, "network_id": node.chain_id, "timestamp": int(time.time())}
        )

    async def info(_: web.Request) -> web.StreamResponse:
        return _json({"code": 200, "contract_address": node.contract_address})

    # --- transactions -------------------------------------------------------------------
    async def _reply_then_execute(
        request: web.Request, body: dict[str, Any], accepted: Any
    ) -> web.StreamResponse:
        resp = _json(body)
        if node.faults.invert_reply_order:
            accepted.schedule()
            await asyncio.sleep(0.01 + max(node.latency.values()) / 1000)
            return resp
        try:
            await resp.prepare(request)
            await resp.write_eof()
        finally:
            accepted.schedule()  # accepted means executed, even if the client went away
        return resp

    async def send_tx(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        tx_type = form.get("tx_type")
        tx_info = form.get("tx_info")
        if tx_type is None or tx_info is None:
            raise TxError(p.ERR_INVALID_TX_INFO)
        accepted = node.accept(
            [(str(tx_type), str(tx_info))], batch=False, remote=request.remote or ""
        )
        body = _accepted_body(accepted, accepted.tx_hashes[0])
        return await _reply_then_execute(request, body, accepted)

    async def send_tx_batch(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        raw = _batch_pairs(form.get("tx_types"), form.get("tx_infos"))
        accepted = node.accept(raw, batch=True, remote=request.remote or "")
        body = _accepted_body(accepted, accepted.tx_hashes)
        return await _reply_then_execute(request, body, accepted)

    async def next_nonce(request: web.Request) -> web.StreamResponse:
        q = request.query
        nonce = node.next_nonce(_int_param(q, "account_index"), _int_param(q, "api_key_index"))
        return _json({"code": 200, "nonce": nonce})

    async def tx(request: web.Request) -> web.StreamResponse:
        q = request.query
        by = q.get("by", "hash")
        value = q.get("value", "")
        if by != "hash":
            raise _param_error("by must be hash")
        rec = node.tx_records.get(value)
        if rec is None:
            raise TxError(p.ERR_TX_NOT_FOUND)
        return _json(rec)

    # --- market data --------------------------------------------------------------------
    async def order_books(request: web.Request) -> web.StreamResponse:
        m = market_param(request.query, required=False)
        if request.query.get("filter", "all") == "spot":  # the node serves perps only
            return _json({"code": 200, "order_books": []})
        rows = [order_book_row(s) for i, s in eng.specs.items() if m in (p.ALL_MARKETS, i)]
        return _json({"code": 200, "order_books": rows})

    async def order_book_details(request: web.Request) -> web.StreamResponse:
        m = market_param(request.query, required=False)
        rows = [order_book_detail(b) for i, b in eng.books.items() if m in (p.ALL_MARKETS, i)]
        if request.query.get("filter", "all") == "spot":
            rows = []
        return _json({"code": 200, "order_book_details": rows, "spot_order_book_details": []})

    async def order_book_orders(request: web.Request) -> web.StreamResponse:
        q = request.query
        m = market_param(q)
        if m == p.ALL_MARKETS:
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
        limit = _limit(q, 250)
        book = eng.books[m]
        asks = book.orders(True)
        bids = book.orders(False)
        spec = book.spec
        return _json(
            {
                "code": 200,
                "total_asks": len(asks),
                "asks": [simple_order_json(o, spec) for o in asks[:limit]],
                "total_bids": len(bids),
                "bids": [simple_order_json(o, spec) for o in bids[:limit]],
            }
        )

    async def recent_trades(request: web.Request) -> web.StreamResponse:
        q = request.query
        m = market_param(q)
        if m == p.ALL_MARKETS:
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
        limit = _limit(q, 100)
        book = eng.books[m]
        trades = list(book.recent_trades)[::-1][:limit]
        return _json({"code": 200, "trades": [trade_json(t, book.spec) for t in trades]})

    async def trades(request: web.Request) -> web.StreamResponse:
        q = request.query
        sort_by = q.get("sort_by")
        if sort_by not in ("block_height", "timestamp", "trade_id"):
            raise _param_error("sort_by must be block_height, timestamp or trade_id")
        limit = _limit(q, 100)
        m = market_param(q, required=False)
        account = _int_param(q, "account_index", -1)
        if account >= 0:
            require_auth(request, account)
            source = list(eng.account_trades.get(account, ()))
        else:
            source = [t for b in eng.books.values() for t in b.recent_trades]
        if m != p.ALL_MARKETS:
            source = [t for t in source if t.market_index == m]
        role = q.get("role", "all")
        if account >= 0 and role in ("maker", "taker"):
            want_maker = role == "maker"
            source = [t for t in source if (t.maker.account_index == account) == want_maker]
        source.sort(key=lambda t: t.trade_id, reverse=q.get("sort_dir", "desc") != "asc")
        out = [trade_json(t, eng.specs[t.market_index]) for t in source[:limit]]
        return _json({"code": 200, "next_cursor": "", "trades": out})

    async def asset_details(_: web.Request) -> web.StreamResponse:
        assets = [asset_detail_json(3, "USDC", 6)]
        assets += [
            asset_detail_json(s.base_asset_id, s.symbol, 8) for s in node.markets if s.base_asset_id
        ]
        return _json({"code": 200, "asset_details": assets})

    async def current_height(_: web.Request) -> web.StreamResponse:
        return _json({"code": 200, "height": eng.block_height})

    async def exchange_stats(_: web.Request) -> web.StreamResponse:
        rows = [exchange_stats_row(b) for b in eng.books.values()]
        volume = sum(r["daily_quote_token_volume"] for r in rows)
        trades = sum(r["daily_trades_count"] for r in rows)
        return _json(
            {
                "code": 200,
                "total": len(rows),
                "order_book_stats": rows,
                "daily_usd_volume": volume,
                "daily_trades_count": trades,
            }
        )

    async def funding_rates(_: web.Request) -> web.StreamResponse:
        rows = [
            {"market_id": s.market_index, "exchange": "lighter", "symbol": s.symbol, "rate": 0.0}
            for s in node.markets
        ]
        return _json({"code": 200, "funding_rates": rows})

    # --- accounts -----------------------------------------------------------------------
    async def account(request: web.Request) -> web.StreamResponse:
        q = request.query
        by = q.get("by", "index")
        value = q.get("value", "")
        acct = None
        if by == "index":
            try:
                acct = node.accounts.get(int(value))
            except ValueError:
                raise _param_error("value must be an account index") from None
        elif by == "l1_address":
            acct = next(
                (
                    a
                    for a in node.accounts.accounts.values()
                    if a.l1_address.lower() == value.lower()
                ),
                None,
            )
        else:
            raise _param_error("by must be index or l1_address")
        if acct is None:
            raise TxError(p.ERR_ACCOUNT_NOT_FOUND)
        return _json(
            {
                "code": 200,
                "total": 1,
                "accounts": [detailed_account_json(eng, acct)],
                "next_cursor": "",
            }
        )

    async def apikeys(request: web.Request) -> web.StreamResponse:
        q = request.query
        account_index = _int_param(q, "account_index")
        key_index = _int_param(q, "api_key_index", p.ALL_API_KEYS)
        acct = node.accounts.get(account_index)
        if acct is None:
            raise TxError(p.ERR_ACCOUNT_NOT_FOUND)
        keys = [
            {
                "account_index": account_index,
                "api_key_index": k,
                "nonce": acct.nonces[k].accepted,
                "public_key": pub,
                "transaction_time": 0,
            }
            for k, pub in sorted(acct.api_keys.items())
            if key_index in (p.ALL_API_KEYS, k)
        ]
        if not keys and key_index != p.ALL_API_KEYS:
            raise TxError(p.ERR_API_KEY_NOT_FOUND)
        return _json({"code": 200, "api_keys": keys})

    def _auth_account(request: web.Request) -> int:
        q = request.query
        account_index = _int_param(q, "account_index")
        require_auth(request, account_index)
        if node.accounts.get(account_index) is None:
            raise TxError(p.ERR_ACCOUNT_NOT_FOUND)
        return account_index

    async def active_orders(request: web.Request) -> web.StreamResponse:
        account_index = _auth_account(request)
        m = market_param(request.query, required=False)
        orders = [
            order_json(o, eng.specs[o.market_index])
            for o in eng.live.values()
            if o.account_index == account_index and m in (p.ALL_MARKETS, o.market_index)
        ]
        return _json({"code": 200, "orders": orders})

    async def inactive_orders(request: web.Request) -> web.StreamResponse:
        account_index = _auth_account(request)
        q = request.query
        limit = _limit(q, 100)
        m = market_param(q, required=False)
        ask_filter = _int_param(q, "ask_filter", -1)
        src = list(eng.inactive.get(account_index, ()))[::-1]
        out = [
            order_json(o, eng.specs[o.market_index])
            for o in src
            if m in (p.ALL_MARKETS, o.market_index) and ask_filter in (-1, int(o.is_ask))
        ][:limit]
        return _json({"code": 200, "next_cursor": "", "orders": out})

    async def account_orders(request: web.Request) -> web.StreamResponse:
        account_index = _auth_account(request)
        raw = request.query.get("client_order_indexes", "")
        try:
            cois = [int(x) for x in raw.replace("[", "").replace("]", "").split(",") if x.strip()]
        except ValueError:
            raise _param_error("client_order_indexes must be integers") from None
        if not cois or len(cois) > 20:
            raise _param_error("client_order_indexes must list 1 to 20 values")
        out = []
        for coi in cois:
            o = eng.by_coi_any.get((account_index, coi))
            if o is not None:
                out.append(order_json(o, eng.specs[o.market_index]))
        return _json({"code": 200, "orders": out})

    async def account_limits(request: web.Request) -> web.StreamResponse:
        acct = node.accounts.accounts[_auth_account(request)]
        limits = node.rate_limits
        tier = "standard" if limits is None else limits.tier_of(acct.l1_address)
        return _json(
            {
                "code": 200,
                "user_tier": tier,
                "user_tier_name": tier.capitalize(),
                "max_llp_percentage": 0,
                "max_llp_amount": "0",
                "can_create_public_pool": False,
                "current_maker_fee_tick": 0,
                "current_taker_fee_tick": 0,
                "effective_lit_stakes": "0",
                "leased_lit": "0",
                "user_tier_last_update": 0,
            }
        )

    # --- dev ----------------------------------------------------------------------------
    async def dev_accounts(request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            raise _param_error("body must be JSON") from None
        if not isinstance(body, dict):
            raise _param_error("body must be a JSON object")
        try:
            dev = await node.create_account(
                body.get("collateral", 100_000),
                api_key_index=int(body.get("api_key_index", 4)),
            )
        except (ValueError, TypeError) as exc:
            raise _param_error(str(exc)) from None
        acct = node.accounts.accounts[dev.account_index]
        return _json(
            {
                "code": 200,
                "account_index": dev.account_index,
                "api_key_index": dev.api_key_index,
                "private_key": dev.private_key,
                "public_key": dev.public_key,
                "l1_address": acct.l1_address,
                "base_url": node.base_url,
                "ws_url": node.ws_url,
                "chain_id": node.chain_id,
            }
        )

    async def json_body(request: web.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            raise _param_error("body must be JSON") from None
        if not isinstance(body, dict):
            raise _param_error("body must be a JSON object")
        return body

    async def dev_faults(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        name = body.get("fault")
        if name not in DEV_FAULTS:
            raise _param_error(f"fault must be one of {', '.join(DEV_FAULTS)}")
        try:
            after = apply_fault(node, str(name), body)
        except (ValueError, TypeError, KeyError) as exc:
            raise _param_error(f"{name}: {exc}") from None
        resp = _json({"code": 200, "fault": name})
        if after is None:
            return resp
        await resp.prepare(request)  # reply first: the fault may close this very server
        await resp.write_eof()
        node._background(after)
        return resp

    async def dev_rate_limits(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        try:
            configure_rate_limits(node, body)
        except (ValueError, TypeError) as exc:
            raise _param_error(str(exc)) from None
        limits = node.rate_limits
        on = limits is not None and limits.enabled
        return _json({"code": 200, "enabled": on, "tier": limits.tier if on and limits else None})

    async def not_found(_: web.Request) -> web.StreamResponse:  # JSON 404 like the venue
        return _json({"code": p.ERR_NOT_FOUND, "message": "not found"}, 404)

    # --- websocket ----------------------------------------------------------------------
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
                raw = _batch_pairs(data.get("tx_types"), data.get("tx_infos"))
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
        if node.faults.invert_reply_order:
            accepted.schedule()
            loop = asyncio.get_running_loop()
            loop.call_later(0.01 + max(node.latency.values()) / 1000, s.send, frame)
            return
        s.send(frame)
        accepted.schedule()

    r = app.router
    r.add_get("/", wrap(root))
    r.add_get("/info", wrap(info))
    r.add_get(p.WS_PATH, stream)
    v1 = "/api/v1/"
    r.add_post(v1 + "sendTx", wrap(send_tx))
    r.add_post(v1 + "sendTxBatch", wrap(send_tx_batch))
    r.add_get(v1 + "nextNonce", wrap(next_nonce))
    r.add_get(v1 + "tx", wrap(tx))
    r.add_get(v1 + "orderBooks", wrap(order_books))
    r.add_get(v1 + "orderBookDetails", wrap(order_book_details))
    r.add_get(v1 + "orderBookOrders", wrap(order_book_orders))
    r.add_get(v1 + "recentTrades", wrap(recent_trades))
    r.add_get(v1 + "trades", wrap(trades))
    r.add_get(v1 + "assetDetails", wrap(asset_details))
    r.add_get(v1 + "currentHeight", wrap(current_height))
    r.add_get(v1 + "exchangeStats", wrap(exchange_stats))
    r.add_get(v1 + "funding-rates", wrap(funding_rates))
    r.add_get(v1 + "account", wrap(account))
    r.add_get(v1 + "apikeys", wrap(apikeys))
    r.add_get(v1 + "accountActiveOrders", wrap(active_orders))
    r.add_get(v1 + "accountInactiveOrders", wrap(inactive_orders))
    r.add_get(v1 + "accountOrders", wrap(account_orders))
    r.add_get(v1 + "accountLimits", wrap(account_limits))
    r.add_post("/dev/v1/accounts", wrap(dev_accounts))
    r.add_post("/dev/v1/faults", wrap(dev_faults))
    r.add_post("/dev/v1/rate_limits", wrap(dev_rate_limits))
    r.add_route("*", "/{tail:.*}", not_found)
    return app


def _batch_pairs(tx_types: object, tx_infos: object) -> list[tuple[object, object]]:
    """Decode a batch's `tx_types` / `tx_infos` (JSON strings; arrays tolerated) into pairs."""
    try:
        types = orjson.loads(tx_types) if isinstance(tx_types, (str, bytes)) else tx_types
        infos = orjson.loads(tx_infos) if isinstance(tx_infos, (str, bytes)) else tx_infos
    except orjson.JSONDecodeError:
        raise TxError(p.ERR_INVALID_TX_INFO) from None
    if not isinstance(types, list) or not isinstance(infos, list):
        raise TxError(p.ERR_INVALID_TX_INFO)
    if len(types) != len(infos):
        raise TxError(p.ERR_BATCH_LENGTH_MISMATCH)
    return list(zip(types, infos, strict=True))


# `POST /dev/v1/faults` body: {"fault": <name>, ...parameters}; every `node.faults` action.
DEV_FAULTS = (
    "drop_book_delta",  # market_index
    "duplicate_book_delta",  # market_index
    "stall",  # on (default true), session_id (default: every socket)
    "close",  # code (1011), message, session_id (default: every socket)
    "shutdown",  # close_in_ms (100), code (1001)
    "rate_limit",  # count (1), scope ("tx" | "rest")
    "invalid_nonce",  # count (1)
    "tx_error",  # code, message, http_status (400), count (1)
    "invert_reply_order",  # on (default true)
    "restart",  # down_ms (0), code (1012)
    "clear",
)


def apply_fault(node: LocalNode, name: str, body: dict[str, Any]) -> Any:
    """Apply one dev-route fault; returns a coroutine to run after the reply, or None."""
    f = node.faults
    if name in ("drop_book_delta", "duplicate_book_delta"):
        m = int(body["market_index"])
        if m not in node.engine.specs:
            raise ValueError(f"unknown market_index {m}")
        (f.drop_next_book_delta if name == "drop_book_delta" else f.duplicate_next_book_delta)(m)
    elif name == "stall":
        f.stall(bool(body.get("on", True)), body.get("session_id"))
    elif name == "close":
        f.sessions_for(body.get("session_id"))  # an unknown id is refused before the reply
        return f.close_all(
            int(body.get("code", 1011)), str(body.get("message", "")), body.get("session_id")
        )
    elif name == "shutdown":
        return f.send_shutdown(int(body.get("close_in_ms", 100)), int(body.get("code", 1001)))
    elif name == "rate_limit":
        f.force_rate_limit(int(body.get("count", 1)), str(body.get("scope", "tx")))
    elif name == "invalid_nonce":
        f.force_invalid_nonce(int(body.get("count", 1)))
    elif name == "tx_error":
        msg = body.get("message")
        f.force_next_tx_error(
            int(body["code"]),
            None if msg is None else str(msg),
            int(body.get("http_status", 400)),
            int(body.get("count", 1)),
        )
    elif name == "invert_reply_order":
        f.invert_reply_order = bool(body.get("on", True))
    elif name == "restart":
        return node.restart(float(body.get("down_ms", 0)) / 1000, int(body.get("code", 1012)))
    else:  # clear
        f.clear()
    return None


def configure_rate_limits(node: LocalNode, body: dict[str, Any]) -> None:
    """`POST /dev/v1/rate_limits`: {"tier": "standard"|"premium"|"plus"|null (off)} and/or
    {"account_index": n, "account_tier": tier}, {"volume_quota": bool}, {"reset": true}."""
    from .ratelimit import RateLimits

    if "tier" in body:
        tier = body["tier"]
        if tier is None:
            node.rate_limits = None
        elif node.rate_limits is None:
            node.rate_limits = RateLimits(str(tier))
        else:
            node.rate_limits.set_default_tier(str(tier))
    if "account_index" in body:
        node.set_account_tier(int(body["account_index"]), str(body.get("account_tier")))
    if "volume_quota" in body:
        if node.rate_limits is None:
            raise ValueError("rate limits are off on this node")
        node.rate_limits.volume_quota = bool(body["volume_quota"])
    if body.get("reset") and node.rate_limits is not None:
        node.rate_limits.reset()
