"""The node's order book and its records: orders, trades, one market's price-time book, changes.

Plain data the engine (`engine.py`) mutates and the stream layer (`channels.py`, `shapes.py`)
reads; no matching logic lives here.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lighterfast import protocol as p

from .accounts import Position
from .markets import MarketSpec

SEQ_TOP = 1 << 48  # bids count down from here (§0.2 observed layout)
RECENT_TRADES = 100


class Order:
    """One order in the engine (integers only)."""

    __slots__ = (
        "account_index",
        "block_height",
        "coi",
        "created_at",
        "expiry",
        "filled_base",
        "filled_quote",
        "initial_base",
        "is_ask",
        "margin",
        "market_index",
        "order_index",
        "order_type",
        "order_version",
        "parent_order_index",
        "price",
        "reduce_only",
        "remaining_base",
        "self_trade_mode",
        "seq",
        "status",
        "tif",
        "to_cancel",
        "transaction_time",
        "trigger_price",
        "trigger_status",
        "updated_at",
    )

    def __init__(
        self,
        order_index: int,
        seq: int,
        account_index: int,
        market_index: int,
        coi: int,
        is_ask: bool,
        price: int,
        base: int,
        order_type: int,
        tif: int,
        reduce_only: bool,
        trigger_price: int,
        expiry: int,
        now_s: int,
        now_us: int,
    ) -> None:
        self.order_index = order_index
        self.seq = seq
        self.account_index = account_index
        self.market_index = market_index
        self.coi = coi
        self.is_ask = is_ask
        self.price = price
        self.initial_base = base
        self.remaining_base = base
        self.filled_base = 0
        self.filled_quote = 0
        self.order_type = order_type
        self.tif = tif
        self.reduce_only = reduce_only
        self.trigger_price = trigger_price
        self.expiry = expiry
        self.status = p.STATUS_IN_PROGRESS
        self.trigger_status = "na"
        self.created_at = now_s
        self.updated_at = now_s
        self.transaction_time = now_us
        self.block_height = 0
        self.order_version = 0
        self.parent_order_index = 0
        self.to_cancel = 0
        self.margin = 0
        self.self_trade_mode = 0  # attribute "6": 0 expire maker, 1 expire taker, 2 both

    @property
    def is_live(self) -> bool:
        """Open or pending (not terminal)."""
        return self.status in p.LIVE_STATUSES


@dataclass(slots=True)
class TradeRecord:
    """One fill between a maker and a taker order."""

    trade_id: int
    market_index: int
    size: int
    price: int
    maker: Order
    taker: Order
    timestamp_ms: int
    transaction_time: int
    block_height: int
    taker_pos_before: Position
    maker_pos_before: Position
    taker_sign_changed: bool
    maker_sign_changed: bool
    taker_imf: int
    maker_imf: int
    # Order fields at fill time (orders keep changing afterwards).
    ask_id: int = 0
    bid_id: int = 0
    ask_coi: int = 0
    bid_coi: int = 0
    ask_account: int = 0
    bid_account: int = 0
    is_maker_ask: bool = False


class MarketBook:
    """Price-time book of one market; levels are FIFO deques keyed by integer price."""

    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self.bids: dict[int, deque[Order]] = {}
        self.asks: dict[int, deque[Order]] = {}
        self.bid_prices: list[int] = []  # ascending; best bid is the last
        self.ask_prices: list[int] = []  # ascending; best ask is the first
        self.level_size: dict[tuple[bool, int], int] = {}
        self.nonce = 0  # book event counter (jumps like the venue's)
        self.flushed_nonce = 0
        self.pending: dict[tuple[bool, int], None] = {}  # levels touched since last flush
        self.last_updated_at = 0
        self.ask_seq = 0
        self.bid_seq = SEQ_TOP
        self.recent_trades: deque[TradeRecord] = deque(maxlen=RECENT_TRADES)
        self.trade_nonce = 0
        self.last_trade_price = 0
        self.mark_price_override = 0  # a dev route's pinned mark price (0: the last trade)
        self.pending_triggers: list[Order] = []
        self.daily_base_volume = 0
        self.daily_quote_volume = 0
        self.daily_trades = 0
        self.daily_high = 0
        self.daily_low = 0
        self.open_interest = 0  # sum of long sizes
        self.stats_dirty = False

    def mark_price(self) -> int:
        """The price stop / take-profit orders trigger on: pinned by a dev route, else the last
        trade price (0 before the first trade)."""
        return self.mark_price_override or self.last_trade_price

    def best_bid(self) -> int | None:
        """Best bid price or None."""
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        """Best ask price or None."""
        return self.ask_prices[0] if self.ask_prices else None

    def _touch(self, is_ask: bool, price: int, now_us: int) -> None:
        self.nonce += random.randint(1, 7)
        self.pending[(is_ask, price)] = None
        self.last_updated_at = now_us

    def add(self, order: Order, now_us: int, to_front: bool = False) -> None:
        """Rest an order at the back (or front) of its price level."""
        side = self.asks if order.is_ask else self.bids
        level = side.get(order.price)
        if level is None:
            level = side[order.price] = deque()
            bisect.insort(self.ask_prices if order.is_ask else self.bid_prices, order.price)
        if to_front:
            level.appendleft(order)
        else:
            level.append(order)
        key = (order.is_ask, order.price)
        self.level_size[key] = self.level_size.get(key, 0) + order.remaining_base
        self._touch(order.is_ask, order.price, now_us)

    def remove(self, order: Order, now_us: int) -> None:
        """Take a resting order out of its level."""
        side = self.asks if order.is_ask else self.bids
        level = side.get(order.price)
        if level is None:
            return
        try:
            level.remove(order)
        except ValueError:
            return
        self._reduce_level(order.is_ask, order.price, order.remaining_base, now_us)
        if not level:
            del side[order.price]
            prices = self.ask_prices if order.is_ask else self.bid_prices
            i = bisect.bisect_left(prices, order.price)
            del prices[i]

    def _reduce_level(self, is_ask: bool, price: int, amount: int, now_us: int) -> None:
        key = (is_ask, price)
        left = self.level_size.get(key, 0) - amount
        if left > 0:
            self.level_size[key] = left
        else:
            self.level_size.pop(key, None)
        self._touch(is_ask, price, now_us)

    def levels(self, is_ask: bool, limit: int | None = None) -> list[tuple[int, int]]:
        """(price, size) levels best first."""
        prices = self.ask_prices if is_ask else self.bid_prices[::-1]
        if limit is not None:
            prices = prices[:limit]
        return [(px, self.level_size[(is_ask, px)]) for px in prices]

    def orders(self, is_ask: bool) -> list[Order]:
        """Resting orders of one side, best price first, time priority within a level."""
        side = self.asks if is_ask else self.bids
        prices = self.ask_prices if is_ask else self.bid_prices[::-1]
        return [o for px in prices for o in side[px]]

    def take_pending(self) -> list[tuple[bool, int, int]]:
        """Touched levels since the last flush as (is_ask, price, size now); clears them."""
        out = [(a, px, self.level_size.get((a, px), 0)) for (a, px) in self.pending]
        self.pending.clear()
        return out


@dataclass(slots=True)
class Changes:
    """What one execution step changed, for the stream layer to publish."""

    orders: dict[int, dict[int, Order]] = field(default_factory=dict)  # account -> idx -> order
    trades: list[TradeRecord] = field(default_factory=list)
    positions: set[tuple[int, int]] = field(default_factory=set)  # (account, market)
    accounts: set[int] = field(default_factory=set)
    markets: set[int] = field(default_factory=set)  # stats changed
    txs: list[dict[str, Any]] = field(default_factory=list)

    def order(self, o: Order) -> None:
        """Record an order change (the final state is what gets published)."""
        self.orders.setdefault(o.account_index, {})[o.order_index] = o
        self.accounts.add(o.account_index)

    def empty(self) -> bool:
        """True when nothing changed."""
        return not (self.orders or self.trades or self.positions or self.accounts or self.txs)
