"""Shared by the route modules: the route context, JSON replies and the API guard.

Replies are JSON with a top-level `code`; errors are `{"code","message"}` (HTTP status: §1.4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from lighterfast import protocol as p

from .ratelimit import RATE_LIMIT_HTML, TX_ENDPOINTS
from .txparse import TxError

if TYPE_CHECKING:
    from .engine import Engine
    from .node import LocalNode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(obj: Any, status: int = 200) -> web.Response:
    """`obj` as an `application/json` response."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def error_reply(err: TxError, html: bool = False) -> web.Response:
    """The `{"code","message"}` reply of `err` (or the firewall's HTML page for a 429)."""
    if html and err.code == p.ERR_TOO_MANY_REQUESTS:  # §7.15 switch: a firewall's HTML page
        return web.Response(body=RATE_LIMIT_HTML, status=err.http_status, content_type="text/html")
    return json_reply({"code": err.code, "message": err.message}, err.http_status)


def param_error(detail: str) -> TxError:
    """The venue's `invalid param` refusal with `detail`."""
    return TxError(p.ERR_INVALID_PARAM, f"invalid param : {detail}")


def batch_pairs(tx_types: object, tx_infos: object) -> list[tuple[object, object]]:
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


def _html_errors(node: LocalNode) -> bool:
    limits = node.rate_limits
    return limits is not None and limits.enabled and limits.body == "html"


def _account_l1(node: LocalNode, request: web.Request, endpoint: str) -> str | None:
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


@dataclass(frozen=True, slots=True)
class RouteContext:
    """The state every route factory closes over: the node and its engine at build time."""

    node: LocalNode
    engine: Engine

    def guard(self, fn: Handler) -> Handler:
        """`fn` behind the API checks (forced errors, rate limits, hook); TxError → its reply."""
        node = self.node

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
                            endpoint, request.remote or "", _account_l1(node, request, endpoint)
                        )
                        if err is not None:
                            raise err
                hook = node.request_hook
                if hook is not None:
                    err = hook(endpoint, request.remote or "", request)
                    if err is not None:
                        return error_reply(err)
                return await fn(request)
            except TxError as err:
                return error_reply(err, is_api and _html_errors(node))

        return handler
