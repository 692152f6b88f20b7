"""REST routes of the local node: `/`, `/info` and `/api/v1/...` (txs, market data, accounts).

Handlers translate between the wire and `LocalNode`; `RouteContext.guard` wraps each one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from lighterfast import protocol as p

from .faults import BAD_GATEWAY_HTML
from .routes_common import RouteContext, batch_pairs, json_reply, param_error
from .shapes import (
    asset_detail_json,
    detailed_account_json,
    exchange_stats_row,
    order_book_detail,
    order_book_row,
    order_json,
    simple_order_json,
    spot_order_book_detail,
    trade_json,
)
from .txparse import TxError


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


def _int_param(q: Any, name: str, default: int | None = None) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        if default is None:
            raise param_error(f"{name} is required")
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise param_error(f"{name} must be an integer") from None


def _limit(q: Any, hi: int) -> int:
    limit = _int_param(q, "limit")
    if not 1 <= limit <= hi:
        raise param_error(f"limit must be between 1 and {hi}")
    return limit


def rest_routes(ctx: RouteContext) -> list[web.RouteDef]:
    """The `/`, `/info` and `/api/v1/...` routes, each behind `ctx.guard`."""
    node = ctx.node
    eng = ctx.engine
    wrap = ctx.guard

    def market_param(q: Any, name: str = "market_id", required: bool = True) -> int:
        m = _int_param(q, name, None if required else p.ALL_MARKETS)
        if m != p.ALL_MARKETS and m not in eng.specs:
            raise TxError(p.ERR_INVALID_MARKET_INDEX)
        return m

    def require_auth(request: web.Request, account_index: int | None) -> None:
        token = request.headers.get("Authorization") or request.query.get("auth")
        if not token:
            raise param_error("auth query param and Authorization header are empty")
        err = node.check_auth(token, account_index)
        if err is not None:
            raise err

    # --- root ---------------------------------------------------------------------------
    async def root(_: web.Request) -> web.StreamResponse:
        return json_reply(
            {"code": 200, "status": 1, "network_id": node.chain_id, "timestamp": int(time.time())}
        )

    async def info(_: web.Request) -> web.StreamResponse:
        return json_reply({"code": 200, "contract_address": node.contract_address})

    # --- transactions -------------------------------------------------------------------
    async def _reply_then_execute(
        request: web.Request, body: dict[str, Any], accepted: Any
    ) -> web.StreamResponse:
        resp = json_reply(body)
        fault = node.faults.take_reply_fault()
        delay_ms = node.faults.reply_delay_ms
        if fault is not None or delay_ms:  # accepted (nonces consumed): execute whatever happens
            accepted.schedule()
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            if fault == "cut":  # no reply at all: the client sees the connection drop
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            if fault is not None:
                status = 502 if fault == "html_502" else 200
                return web.Response(body=BAD_GATEWAY_HTML, status=status, content_type="text/html")
            return resp
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
        raw = batch_pairs(form.get("tx_types"), form.get("tx_infos"))
        accepted = node.accept(raw, batch=True, remote=request.remote or "")
        body = _accepted_body(accepted, accepted.tx_hashes)
        return await _reply_then_execute(request, body, accepted)

    async def next_nonce(request: web.Request) -> web.StreamResponse:
        q = request.query
        nonce = node.next_nonce(_int_param(q, "account_index"), _int_param(q, "api_key_index"))
        return json_reply({"code": 200, "nonce": nonce})

    async def tx(request: web.Request) -> web.StreamResponse:
        q = request.query
        by = q.get("by", "hash")
        value = q.get("value", "")
        if by != "hash":
            raise param_error("by must be hash")
        rec = node.tx_records.get(value)
        if rec is None:
            raise TxError(p.ERR_TX_NOT_FOUND)
        return json_reply(rec)

    # --- market data --------------------------------------------------------------------
    def listed(q: Any) -> list[int]:
        """Market ids a market-data read covers: `market_id` (255 = all) and `filter`."""
        m = market_param(q, required=False)
        kind = q.get("filter", "all")
        out = []
        for i, spec in eng.specs.items():
            if m not in (p.ALL_MARKETS, i):
                continue
            if kind in ("perp", "spot") and spec.market_type != kind:
                continue
            out.append(i)
        return out

    async def order_books(request: web.Request) -> web.StreamResponse:
        rows = [order_book_row(eng.specs[i]) for i in listed(request.query)]
        return json_reply({"code": 200, "order_books": rows})

    async def order_book_details(request: web.Request) -> web.StreamResponse:
        books = [eng.books[i] for i in listed(request.query)]
        return json_reply(
            {
                "code": 200,
                "order_book_details": [order_book_detail(b) for b in books if not b.spec.is_spot],
                "spot_order_book_details": [
                    spot_order_book_detail(b) for b in books if b.spec.is_spot
                ],
            }
        )

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
        return json_reply(
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
        return json_reply({"code": 200, "trades": [trade_json(t, book.spec) for t in trades]})

    async def trades(request: web.Request) -> web.StreamResponse:
        q = request.query
        sort_by = q.get("sort_by")
        if sort_by not in ("block_height", "timestamp", "trade_id"):
            raise param_error("sort_by must be block_height, timestamp or trade_id")
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
        return json_reply({"code": 200, "next_cursor": "", "trades": out})

    async def asset_details(_: web.Request) -> web.StreamResponse:
        names = {3: "USDC"}
        for s in node.markets:  # a spot market's base asset is the part before "/"
            if s.base_asset_id:
                names.setdefault(s.base_asset_id, s.symbol.split("/", 1)[0])
        assets = [asset_detail_json(i, name, 6 if i == 3 else 8) for i, name in names.items()]
        return json_reply({"code": 200, "asset_details": assets})

    async def current_height(_: web.Request) -> web.StreamResponse:
        return json_reply({"code": 200, "height": eng.block_height})

    async def exchange_stats(_: web.Request) -> web.StreamResponse:
        rows = [exchange_stats_row(b) for b in eng.books.values()]
        volume = sum(r["daily_quote_token_volume"] for r in rows)
        trades = sum(r["daily_trades_count"] for r in rows)
        return json_reply(
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
            if not s.is_spot
        ]
        return json_reply({"code": 200, "funding_rates": rows})

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
                raise param_error("value must be an account index") from None
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
            raise param_error("by must be index or l1_address")
        if acct is None:
            raise TxError(p.ERR_ACCOUNT_NOT_FOUND)
        return json_reply(
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
        return json_reply({"code": 200, "api_keys": keys})

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
        return json_reply({"code": 200, "orders": orders})

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
        return json_reply({"code": 200, "next_cursor": "", "orders": out})

    async def account_orders(request: web.Request) -> web.StreamResponse:
        account_index = _auth_account(request)
        raw = request.query.get("client_order_indexes", "")
        try:
            cois = [int(x) for x in raw.replace("[", "").replace("]", "").split(",") if x.strip()]
        except ValueError:
            raise param_error("client_order_indexes must be integers") from None
        if not cois or len(cois) > 20:
            raise param_error("client_order_indexes must list 1 to 20 values")
        out = []
        for coi in cois:
            o = eng.by_coi_any.get((account_index, coi))
            if o is not None:
                out.append(order_json(o, eng.specs[o.market_index]))
        return json_reply({"code": 200, "orders": out})

    async def account_limits(request: web.Request) -> web.StreamResponse:
        acct = node.accounts.accounts[_auth_account(request)]
        limits = node.rate_limits
        tier = "standard" if limits is None else limits.tier_of(acct.l1_address)
        return json_reply(
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

    v1 = "/api/v1/"
    return [
        web.get("/", wrap(root)),
        web.get("/info", wrap(info)),
        web.post(v1 + "sendTx", wrap(send_tx)),
        web.post(v1 + "sendTxBatch", wrap(send_tx_batch)),
        web.get(v1 + "nextNonce", wrap(next_nonce)),
        web.get(v1 + "tx", wrap(tx)),
        web.get(v1 + "orderBooks", wrap(order_books)),
        web.get(v1 + "orderBookDetails", wrap(order_book_details)),
        web.get(v1 + "orderBookOrders", wrap(order_book_orders)),
        web.get(v1 + "recentTrades", wrap(recent_trades)),
        web.get(v1 + "trades", wrap(trades)),
        web.get(v1 + "assetDetails", wrap(asset_details)),
        web.get(v1 + "currentHeight", wrap(current_height)),
        web.get(v1 + "exchangeStats", wrap(exchange_stats)),
        web.get(v1 + "funding-rates", wrap(funding_rates)),
        web.get(v1 + "account", wrap(account)),
        web.get(v1 + "apikeys", wrap(apikeys)),
        web.get(v1 + "accountActiveOrders", wrap(active_orders)),
        web.get(v1 + "accountInactiveOrders", wrap(inactive_orders)),
        web.get(v1 + "accountOrders", wrap(account_orders)),
        web.get(v1 + "accountLimits", wrap(account_limits)),
    ]


async def not_found(_: web.Request) -> web.StreamResponse:
    """The catch-all: a JSON 404 like the venue's."""
    return json_reply({"code": p.ERR_NOT_FOUND, "message": "not found"}, 404)
