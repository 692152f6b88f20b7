"""The local node's aiohttp application: REST, WebSocket and dev routes on one port.

The routes live in `routes_rest`, `routes_ws` and `routes_dev`; this module only assembles them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .routes_common import RouteContext
from .routes_dev import dev_routes
from .routes_rest import not_found, rest_routes
from .routes_ws import ws_route

if TYPE_CHECKING:
    from .node import LocalNode


def build_app(node: LocalNode) -> web.Application:
    """The aiohttp application serving `node`."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    ctx = RouteContext(node, node.engine)
    app.add_routes([*rest_routes(ctx), ws_route(ctx), *dev_routes(ctx)])
    app.router.add_route("*", "/{tail:.*}", not_found)  # last: every other path is a JSON 404
    return app
