"""Simulated market flow for demos: a house maker quoting around a drifting mid, a house taker
hitting it now and then. Runs inside the engine (no signed txs), like other venue users.
The maker cancels its own opposite quotes before a new quote would meet them (no self-cross).
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lighterfast import protocol as p

from .book import Order

if TYPE_CHECKING:
    from .accounts import Account
    from .node import LocalNode

HOUSE_COLLATERAL = 10**15  # USDC micro-units: never runs out of margin
LEVELS_PER_SIDE = 5


class MarketFlow:
    """One step per interval: requote a level, maybe take liquidity, drift the mid."""

    def __init__(self, node: LocalNode, seed: int | None = None) -> None:
        self.node = node
        self.rng = random.Random(seed)
        self.maker: Account = node.accounts.create(HOUSE_COLLATERAL)
        self.taker: Account = node.accounts.create(HOUSE_COLLATERAL)
        self.mids: dict[int, int] = {}
        for spec in node.markets:
            mid = int(Decimal(spec.start_price).scaleb(spec.price_decimals))
            self.mids[spec.market_index] = max(mid, 10**spec.price_decimals)
        self.quotes: dict[int, list[Order]] = {m: [] for m in self.mids}

    def _order(self, market: int, is_ask: bool, price: int, size: int, tif: int) -> dict[str, Any]:
        return {
            "MarketIndex": market,
            "ClientOrderIndex": 0,
            "BaseAmount": size,
            "Price": price,
            "IsAsk": int(is_ask),
            "Type": p.ORDER_TYPE_LIMIT,
            "TimeInForce": tif,
            "ReduceOnly": 0,
            "TriggerPrice": 0,
            "OrderExpiry": 0
            if tif == p.TIF_IOC
            else int(time.time() * 1000) + p.DEFAULT_ORDER_EXPIRY_MS,
        }

    def step(self) -> None:
        """Advance every market by one random event batch."""
        eng = self.node.engine
        now_us = eng.now_us()
        rng = self.rng
        for m, mid in self.mids.items():
            spec = eng.specs[m]
            tick = max(1, mid // 10_000)
            if rng.random() < 0.3:
                mid = max(tick * 10, mid + rng.choice((-1, 1)) * tick)
                self.mids[m] = mid
            quotes = [o for o in self.quotes[m] if o.is_live]
            while len(quotes) >= 2 * LEVELS_PER_SIDE:
                victim = quotes.pop(rng.randrange(len(quotes)))
                eng.cancel_order(self.maker, m, victim.order_index, now_us)
            size = spec.min_base_int * rng.randint(1, 20)
            for is_ask in (True, False):
                offset = rng.randint(1, LEVELS_PER_SIDE) * tick
                price = mid + offset if is_ask else mid - offset
                if price > 0:
                    # Never cross itself: first pull own quotes the new one would meet.
                    for q in [q for q in quotes if q.is_ask != is_ask]:
                        if (q.price >= price) if is_ask else (q.price <= price):
                            quotes.remove(q)
                            eng.cancel_order(self.maker, m, q.order_index, now_us)
                    o = eng.create_order(self.maker, self._order(m, is_ask, price, size, 1), now_us)
                    if o.is_live:
                        quotes.append(o)
            self.quotes[m] = quotes
            if rng.random() < 0.4:
                is_ask = rng.random() < 0.5
                worst = mid - LEVELS_PER_SIDE * tick if is_ask else mid + LEVELS_PER_SIDE * tick
                if worst > 0:
                    eng.create_order(
                        self.taker,
                        self._order(m, is_ask, worst, spec.min_base_int, p.TIF_IOC),
                        now_us,
                    )
        self.node.publish_engine_changes(now_us)
