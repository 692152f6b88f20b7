"""Dev routes of the local node (`/dev/v1/...`): new funded accounts, faults, rate limits,
the mark price stops trigger on, the scheduled cancel-all window.

Not part of the venue's API: tests and `lighterfast node` users drive the node through them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from lighterfast import protocol as p

from .routes_common import RouteContext, json_reply, param_error

if TYPE_CHECKING:
    from .node import LocalNode


def dev_routes(ctx: RouteContext) -> list[web.RouteDef]:
    """The `POST /dev/v1/...` routes, each behind `ctx.guard` (no API rate limits there)."""
    node = ctx.node
    wrap = ctx.guard

    async def dev_accounts(request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            raise param_error("body must be JSON") from None
        if not isinstance(body, dict):
            raise param_error("body must be a JSON object")
        try:
            dev = await node.create_account(
                body.get("collateral", 100_000),
                api_key_index=int(body.get("api_key_index", 4)),
            )
        except (ValueError, TypeError) as exc:
            raise param_error(str(exc)) from None
        acct = node.accounts.accounts[dev.account_index]
        return json_reply(
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
            raise param_error("body must be JSON") from None
        if not isinstance(body, dict):
            raise param_error("body must be a JSON object")
        return body

    async def dev_faults(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        name = body.get("fault")
        if name not in DEV_FAULTS:
            raise param_error(f"fault must be one of {', '.join(DEV_FAULTS)}")
        try:
            after = apply_fault(node, str(name), body)
        except (ValueError, TypeError, KeyError) as exc:
            raise param_error(f"{name}: {exc}") from None
        resp = json_reply({"code": 200, "fault": name})
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
            raise param_error(str(exc)) from None
        limits = node.rate_limits
        on = limits is not None and limits.enabled
        return json_reply(
            {"code": 200, "enabled": on, "tier": limits.tier if on and limits else None}
        )

    async def dev_mark_price(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        try:
            market, price = set_mark_price(node, body)
        except (ValueError, TypeError, KeyError) as exc:
            raise param_error(f"mark_price: {exc}") from None
        return json_reply({"code": 200, "market_index": market, "mark_price": price})

    async def dev_cancel_all_window(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        value = body.get("min_ms")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise param_error("min_ms must be an int >= 0 (milliseconds from now)")
        node.engine.cancel_all_min_delay_ms = value
        return json_reply({"code": 200, "min_ms": value})

    return [
        web.post("/dev/v1/accounts", wrap(dev_accounts)),
        web.post("/dev/v1/faults", wrap(dev_faults)),
        web.post("/dev/v1/rate_limits", wrap(dev_rate_limits)),
        web.post("/dev/v1/mark_price", wrap(dev_mark_price)),
        web.post("/dev/v1/cancel_all_window", wrap(dev_cancel_all_window)),
    ]


def set_mark_price(node: LocalNode, body: dict[str, Any]) -> tuple[int, int]:
    """`POST /dev/v1/mark_price` {"market_index": m, "price": wire int or human str | 0}: pin
    the mark price stops and take-profits trigger on (0 = the last trade again); fires the
    triggers it crosses and publishes what changed. Returns (market, wire price)."""
    market = body["market_index"]
    if isinstance(market, bool) or not isinstance(market, int) or market not in node.engine.specs:
        raise ValueError(f"unknown market_index {market!r}")
    raw = body["price"]
    spec = node.engine.specs[market]
    if isinstance(raw, bool):
        raise TypeError("price must be a wire int or a decimal string")
    if isinstance(raw, int):
        price = raw
    elif isinstance(raw, str):
        try:
            price = int(Decimal(raw).scaleb(spec.price_decimals))
        except InvalidOperation:
            raise ValueError(f"price is not a decimal: {raw!r}") from None
    else:
        raise TypeError("price must be a wire int or a decimal string")
    if not 0 <= price <= p.MAX_PRICE:
        raise ValueError(f"price out of range: {raw!r}")
    eng = node.engine
    eng.set_mark_price(market, price, eng.now_us())
    node.hub.publish_changes(eng.take_changes())
    return market, price


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
    "tx_reply",  # kind ("html_502" | "html_200" | "cut"), count (1): after acceptance
    "reply_delay",  # ms (0 = off): every tx reply waits after acceptance
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
    elif name == "tx_reply":
        f.fault_next_tx_reply(str(body["kind"]), int(body.get("count", 1)))
    elif name == "reply_delay":
        f.delay_tx_replies(float(body.get("ms", 0)))
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
