"""Setup several benchmark modules share: the 15 signed orders and a fresh (uv)loop."""

from __future__ import annotations

import asyncio
from typing import Any

from lighterfast import protocol as P

N = 15  # orders signed per round
ACCOUNT = 1234
KEY = 4
ORDERS: list[dict[str, Any]] = [
    dict(
        market_index=0,
        client_order_index=1000 + i,
        base_amount=100,
        price=300000 + i,
        is_ask=bool(i % 2),
        order_type=P.ORDER_TYPE_LIMIT,
        time_in_force=P.TIF_GTT,
        reduce_only=False,
        trigger_price=0,
        order_expiry=-1,
        nonce=1 + i,
        api_key_index=KEY,
    )
    for i in range(N)
]


def new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop where uvloop is installed, else the stdlib one."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
