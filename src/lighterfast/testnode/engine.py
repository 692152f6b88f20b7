"""Matching engine of the local node: one price-time priority book per market, in integers.

The engine executes accepted txs (create / cancel / modify / cancel-all / grouped orders),
updates positions and collateral, and records what changed in `Engine.changes` for the
stream layer. Business failures never raise: they end as a `canceled-*` order status and as
an `ae` (app error) on the tx record.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import itertools
import random
import time
from collections import deque
from typing import Any

from lighterfast import protocol as p

from .accounts import Account, AccountRegistry, Position
from .book import Changes, MarketBook, Order, TradeRecord
from .markets import MarketSpec, maker_below_minimum

INACTIVE_PER_ACCOUNT = 1000
MAX_COI_MEMO = 20_000  # finished orders kept for lookups by COI (live ones always are)

# Venue codes of the leverage / margin txs (protocol §1.4) the engine refuses at execution.
ERR_INVALID_IMF = 21113  # invalid initial margin fraction
ERR_MARGIN_MODE_CHANGE = 21132  # margin mode change on a market with position or open order
ERR_INVALID_MARGIN_MODE = 21613
ERR_NO_POSITION = 21614  # no position found
ERR_INVALID_MARGIN_DIRECTION = 21615  # invalid update margin direction
MARGIN_MODE_CROSS = 0
MARGIN_MODE_ISOLATED = 1
_TRIGGER_TYPES = frozenset(
    {
        p.ORDER_TYPE_STOP_LOSS,
        p.ORDER_TYPE_STOP_LOSS_LIMIT,
        p.ORDER_TYPE_TAKE_PROFIT,
        p.ORDER_TYPE_TAKE_PROFIT_LIMIT,
    }
)


def min_initial_margin_fraction(spec: MarketSpec) -> int:
    """The lowest initial margin fraction (highest leverage) a market allows, as served."""
    return spec.default_initial_margin_fraction // 5 or 1


class AppError(Exception):
    """A business failure at execution time: becomes `event_info.ae` (no sendTx error)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(p.ERROR_MESSAGES.get(code, "error"))


class Engine:
    """All books, live orders and positions of the node."""

    def __init__(
        self,
        markets: tuple[MarketSpec, ...],
        accounts: AccountRegistry,
        *,
        margin_check: bool = True,
    ) -> None:
        self.specs = {m.market_index: m for m in markets}
        self.books = {m.market_index: MarketBook(m) for m in markets}
        self.accounts = accounts
        self.margin_check = margin_check
        # Earliest a scheduled cancel-all may fire, from now (the venue's window: 5 min; a
        # test node lowers it through `POST /dev/v1/cancel_all_window`).
        self.cancel_all_min_delay_ms = p.MIN_ORDER_EXPIRY_PERIOD_MS
        # History bounds (None: the module's MAX_COI_MEMO / INACTIVE_PER_ACCOUNT); a
        # long-running demo lowers them so that its node's memory stays flat.
        self.max_coi_memo: int | None = None
        self.inactive_per_account: int | None = None
        # USDC micro-units moved onto isolated positions by UpdateMargin: (account, market).
        self.isolated_margin: dict[tuple[int, int], int] = {}
        self.live: dict[int, Order] = {}  # order_index -> live order
        self.live_by_coi: dict[tuple[int, int], Order] = {}  # (account, coi) -> live order
        self.inactive: dict[int, deque[Order]] = {}  # account -> recent terminal orders
        self.by_coi_any: dict[tuple[int, int], Order] = {}  # latest order per (account, coi)
        self.account_trades: dict[int, deque[TradeRecord]] = {}
        self.open_counts: dict[tuple[int, int], int] = {}  # (account, market) -> open orders
        self.waiting_children: dict[int, list[Order]] = {}  # OTO parent index -> children
        self.expiries: list[tuple[int, int]] = []  # heap of (OrderExpiry ms, order_index)
        self.trade_id = random.randint(10**8, 10**9)
        self.block_height = 1000
        self.changes = Changes()

    # --- helpers --------------------------------------------------------------------------
    @staticmethod
    def now_us() -> int:
        """Wall clock in microseconds."""
        return time.time_ns() // 1000

    def take_changes(self) -> Changes:
        """Hand the accumulated changes to the caller and start a fresh record."""
        ch = self.changes
        self.changes = Changes()
        return ch

    def _new_order(self, acct: Account, o: dict[str, Any], now_us: int) -> Order:
        m = o["MarketIndex"]
        book = self.books[m]
        is_ask = bool(o["IsAsk"])
        if is_ask:
            book.ask_seq += 1
            seq = book.ask_seq
        else:
            book.bid_seq -= 1
            seq = book.bid_seq
        order_index = (book.spec.order_prefix << 48) | seq
        acct.total_order_count += 1
        return Order(
            order_index,
            seq,
            acct.index,
            m,
            o["ClientOrderIndex"],
            is_ask,
            o["Price"],
            o["BaseAmount"],
            o["Type"],
            o["TimeInForce"],
            bool(o["ReduceOnly"]),
            o["TriggerPrice"],
            o["OrderExpiry"],
            now_us // 1_000_000,
            now_us,
        )

    def _finish(self, order: Order, status: str, now_us: int) -> None:
        """Move an order to a terminal status and out of the live indexes."""
        if order.status == p.STATUS_OPEN:
            self._count_open(order, -1)
        order.status = status
        order.updated_at = now_us // 1_000_000
        order.transaction_time = now_us
        order.block_height = self.block_height
        self.live.pop(order.order_index, None)
        if order.coi:
            key = (order.account_index, order.coi)
            if self.live_by_coi.get(key) is order:
                del self.live_by_coi[key]
        acct = self.accounts.get(order.account_index)
        if acct is not None and order.margin:
            acct.order_margin -= order.margin
            order.margin = 0
        if order.order_type >= p.ORDER_TYPE_STOP_LOSS:
            book = self.books[order.market_index]
            if order in book.pending_triggers:
                book.pending_triggers.remove(order)
        q = self.inactive.get(order.account_index)
        if q is None:
            q = self.inactive[order.account_index] = deque(maxlen=self._inactive_cap())
        q.append(order)
        self.changes.order(order)
        self.changes.positions.add((order.account_index, order.market_index))
        if self.waiting_children and order.order_index in self.waiting_children:
            self._release_children(order, now_us)

    def _cancel_resting(self, order: Order, status: str, now_us: int) -> None:
        if order.status == p.STATUS_OPEN:
            self.books[order.market_index].remove(order, now_us)
        self._finish(order, status, now_us)
        if order.to_cancel:
            sibling = self.live.get(order.to_cancel)
            if sibling is not None:
                self._cancel_resting(sibling, p.STATUS_CANCELED_OCO, now_us)

    def _count_open(self, order: Order, delta: int) -> None:
        key = (order.account_index, order.market_index)
        self.open_counts[key] = self.open_counts.get(key, 0) + delta

    def find_order(self, account_index: int, index: int) -> Order | None:
        """Live order by COI (< 2^48) or order_index (>= 2^48)."""
        if index < p.MIN_ORDER_INDEX:
            return self.live_by_coi.get((account_index, index))
        return self.live.get(index)

    def imf(self, acct: Account, market_index: int) -> int:
        """Initial margin fraction (ticks of 1e-4) the account uses on a market."""
        pos = acct.positions.get(market_index)
        if pos is not None and pos.initial_margin_fraction:
            return pos.initial_margin_fraction
        return self.specs[market_index].default_initial_margin_fraction

    def position_margin(self, acct: Account) -> int:
        """Margin held by open positions at entry cost (USDC micro-units)."""
        total = 0
        for m, pos in acct.positions.items():
            if pos.size:
                spec = self.specs[m]
                total += pos.entry_quote * spec.quote_to_usdc * self.imf(acct, m) // 10_000
        return total

    def available_balance(self, acct: Account) -> int:
        """Collateral minus position and order margin (USDC micro-units)."""
        return acct.collateral - self.position_margin(acct) - acct.order_margin

    def _order_margin(self, acct: Account, order: Order) -> int:
        spec = self.specs[order.market_index]
        notional = order.remaining_base * order.price * spec.quote_to_usdc
        return notional * self.imf(acct, order.market_index) // 10_000

    def _require_margin(self, acct: Account, order: Order, now_us: int, held: int = 0) -> None:
        """Cancel `order` and raise 21xxx when its margin beyond `held` is not available."""
        if not self.margin_check or order.reduce_only:
            return
        if self._order_margin(acct, order) - held > self.available_balance(acct):
            self._finish(order, p.STATUS_CANCELED_MARGIN_NOT_ALLOWED, now_us)
            raise AppError(p.ERR_NOT_ENOUGH_MARGIN)

    def _set_margin(self, acct: Account, order: Order) -> None:
        new = 0 if order.reduce_only else self._order_margin(acct, order)
        acct.order_margin += new - order.margin
        order.margin = new

    # --- tx execution ---------------------------------------------------------------------
    def execute(self, tx_type: int, info: dict[str, Any], now_us: int) -> int:
        """Run one accepted tx; returns 0 or the app-error code (`ae`)."""
        self.block_height += 1
        acct = self.accounts.get(info["AccountIndex"])
        if acct is None:
            return p.ERR_ACCOUNT_NOT_FOUND
        try:
            if tx_type == p.TX_TYPE_CREATE_ORDER:
                self.create_order(acct, info, now_us, check_minimums=True)
            elif tx_type == p.TX_TYPE_CANCEL_ORDER:
                self.cancel_order(acct, info["MarketIndex"], info["Index"], now_us)
            elif tx_type == p.TX_TYPE_MODIFY_ORDER:
                self.modify_order(acct, info, now_us, check_minimums=True)
            elif tx_type == p.TX_TYPE_CANCEL_ALL_ORDERS:
                self.cancel_all(acct, info, now_us)
            elif tx_type == p.TX_TYPE_CREATE_GROUPED_ORDERS:
                self.create_grouped(acct, info, now_us, check_minimums=True)
            elif tx_type == p.TX_TYPE_UPDATE_LEVERAGE:
                self.update_leverage(acct, info)
            elif tx_type == p.TX_TYPE_UPDATE_MARGIN:
                self.update_margin(acct, info)
        except AppError as exc:
            return exc.code
        return 0

    def create_order(
        self, acct: Account, o: dict[str, Any], now_us: int, *, check_minimums: bool = False
    ) -> Order:
        """One order: COI, minimums (users' txs only), reduce-only, margin, post-only, match."""
        coi = o["ClientOrderIndex"]
        if coi and (acct.index, coi) in self.live_by_coi:
            raise AppError(p.ERR_COI_EXISTS)
        order = self._new_order(acct, o, now_us)
        attrs = o.get("L2TxAttributes")
        if attrs:
            order.self_trade_mode = attrs.get(p.ATTR_SELF_TRADE_BEHAVIOUR, 0)
        if coi:
            self._remember_coi(acct.index, coi, order)
        if check_minimums and self.below_minimum(order, order.remaining_base, order.price):
            self._finish(order, p.STATUS_CANCELED, now_us)
            raise AppError(p.ERR_INVALID_ORDER_AMOUNT)
        self._admit(acct, order, now_us)
        return order

    def below_minimum(self, order: Order, base: int, price: int) -> bool:
        """True for a maker limit order under its market's min base or quote amount (§0.3)."""
        return maker_below_minimum(self.specs[order.market_index], order, base, price)

    def _inactive_cap(self) -> int:
        """Finished orders (and trades) kept per account."""
        return self.inactive_per_account or INACTIVE_PER_ACCOUNT

    def _remember_coi(self, account_index: int, coi: int, order: Order) -> None:
        """Latest order per (account, COI), bounded: the oldest finished entries are dropped."""
        memo = self.by_coi_any
        key = (account_index, coi)
        memo.pop(key, None)  # re-insert at the end (dict order = recency)
        memo[key] = order
        cap = self.max_coi_memo or MAX_COI_MEMO
        if len(memo) > cap:
            for old_key in list(itertools.islice(memo, len(memo) - cap // 2)):
                if not memo[old_key].is_live:
                    del memo[old_key]

    def _admit(self, acct: Account, order: Order, now_us: int) -> None:
        """Checks then matching for a fresh (or triggered) order."""
        book = self.books[order.market_index]
        if order.coi:
            self.live_by_coi[(acct.index, order.coi)] = order
        self.live[order.order_index] = order
        if order.expiry:
            heapq.heappush(self.expiries, (order.expiry, order.order_index))
        if order.order_type in _TRIGGER_TYPES and order.trigger_status != "triggered":
            order.status = p.STATUS_PENDING
            order.trigger_status = "mark-price"
            book.pending_triggers.append(order)
            self.changes.order(order)
            self.changes.positions.add((acct.index, order.market_index))
            return
        if order.reduce_only:
            pos = acct.positions.get(order.market_index)
            size = pos.size if pos else 0
            reduces = (order.is_ask and size > 0) or (not order.is_ask and size < 0)
            if not reduces:
                self._finish(order, p.STATUS_CANCELED_REDUCE_ONLY, now_us)
                raise AppError(p.ERR_REDUCE_ONLY_INCREASES)
            cap = abs(size)
            if order.remaining_base == 0 or order.remaining_base > cap:
                order.remaining_base = cap
                if order.initial_base == 0 or order.initial_base > cap:
                    order.initial_base = cap
        self._require_margin(acct, order, now_us)
        if order.tif == p.TIF_POST_ONLY and self._crosses(order, book):
            self._finish(order, p.STATUS_CANCELED_POST_ONLY, now_us)
            return
        if self._match(acct, order, book, now_us):
            self._finish(order, p.STATUS_CANCELED_SELF_TRADE, now_us)
        elif order.remaining_base == 0:
            self._finish(order, p.STATUS_FILLED, now_us)
        elif order.order_type == p.ORDER_TYPE_MARKET or order.tif == p.TIF_IOC:
            if order.order_type == p.ORDER_TYPE_MARKET and order.filled_base == 0:
                opposite = book.bid_prices if order.is_ask else book.ask_prices
                status = (
                    p.STATUS_CANCELED_TOO_MUCH_SLIPPAGE
                    if opposite
                    else p.STATUS_CANCELED_NOT_ENOUGH_LIQUIDITY
                )
            else:
                status = p.STATUS_CANCELED
            self._finish(order, status, now_us)
        else:
            order.status = p.STATUS_OPEN
            self._count_open(order, 1)
            order.block_height = self.block_height
            book.add(order, now_us)
            self._set_margin(acct, order)
            self.changes.order(order)
            self.changes.positions.add((acct.index, order.market_index))

    @staticmethod
    def _crosses(order: Order, book: MarketBook) -> bool:
        if order.is_ask:
            best = book.best_bid()
            return best is not None and best >= order.price
        best = book.best_ask()
        return best is not None and best <= order.price

    def _match(self, acct: Account, taker: Order, book: MarketBook, now_us: int) -> bool:
        """Cross `taker` against the opposite side while prices allow.

        On meeting its own account's order the taker's self-trade mode decides: 0 (and 3)
        expire the maker, 1 expires the taker, 2 both. True = the taker must be expired.
        """
        side = book.bids if taker.is_ask else book.asks
        while taker.remaining_base > 0:
            best = book.best_bid() if taker.is_ask else book.best_ask()
            if best is None or (best < taker.price if taker.is_ask else best > taker.price):
                break
            level = side[best]
            maker = level[0]
            if maker.account_index == taker.account_index:
                mode = taker.self_trade_mode
                if mode in (0, 2, 3):
                    self._cancel_resting(maker, p.STATUS_CANCELED_SELF_TRADE, now_us)
                if mode in (1, 2):
                    return True
                continue
            qty = min(taker.remaining_base, maker.remaining_base)
            self._fill(taker, maker, qty, best, book, now_us)
        return False

    def _fill(
        self, taker: Order, maker: Order, qty: int, price: int, book: MarketBook, now_us: int
    ) -> None:
        spec = book.spec
        tacct = self.accounts.accounts[taker.account_index]
        macct = self.accounts.accounts[maker.account_index]
        tpos = tacct.position(spec.market_index)
        mpos = macct.position(spec.market_index)
        t_before = Position(tpos.size, tpos.entry_quote)
        m_before = Position(mpos.size, mpos.entry_quote)
        t_changed = self._apply_fill(tacct, tpos, spec, qty, price, buy=not taker.is_ask)
        m_changed = self._apply_fill(macct, mpos, spec, qty, price, buy=not maker.is_ask)
        quote = qty * price
        for o in (taker, maker):
            o.remaining_base -= qty
            o.filled_base += qty
            o.filled_quote += quote
            o.updated_at = now_us // 1_000_000
            o.transaction_time = now_us
        # Maker level bookkeeping.
        book._reduce_level(maker.is_ask, maker.price, qty, now_us)
        if maker.remaining_base == 0:
            level = (book.asks if maker.is_ask else book.bids)[maker.price]
            level.popleft()
            if not level:
                del (book.asks if maker.is_ask else book.bids)[maker.price]
                prices = book.ask_prices if maker.is_ask else book.bid_prices
                del prices[bisect.bisect_left(prices, maker.price)]
            self._finish(maker, p.STATUS_FILLED, now_us)
        else:
            self._set_margin(macct, maker)
            self.changes.order(maker)
        ask, bid = (maker, taker) if maker.is_ask else (taker, maker)
        self.trade_id += random.randint(1, 3)
        rec = TradeRecord(
            self.trade_id,
            spec.market_index,
            qty,
            price,
            maker,
            taker,
            now_us // 1000,
            now_us,
            self.block_height,
            t_before,
            m_before,
            t_changed,
            m_changed,
            self.imf(tacct, spec.market_index),
            self.imf(macct, spec.market_index),
            ask.order_index,
            bid.order_index,
            ask.coi,
            bid.coi,
            ask.account_index,
            bid.account_index,
            maker.is_ask,
        )
        book.recent_trades.append(rec)
        book.trade_nonce += random.randint(1, 5)
        book.last_trade_price = price
        book.daily_trades += 1
        book.daily_base_volume += qty
        book.daily_quote_volume += quote
        book.daily_high = max(book.daily_high, price)
        book.daily_low = price if book.daily_low == 0 else min(book.daily_low, price)
        book.stats_dirty = True
        usdc = quote * spec.quote_to_usdc
        for a in (tacct, macct):
            a.trades_count += 1
            a.volume_quote += usdc
            hist = self.account_trades.get(a.index)
            if hist is None:
                hist = self.account_trades[a.index] = deque(maxlen=self._inactive_cap())
            hist.append(rec)
        self.changes.trades.append(rec)
        self.changes.order(taker)
        self.changes.positions.add((tacct.index, spec.market_index))
        self.changes.positions.add((macct.index, spec.market_index))
        self.changes.markets.add(spec.market_index)

    def _apply_fill(
        self, acct: Account, pos: Position, spec: MarketSpec, qty: int, price: int, *, buy: bool
    ) -> bool:
        """Apply a fill to a position; realise PnL into collateral; True if the sign flipped."""
        delta = qty if buy else -qty
        old = pos.size
        if old == 0 or (old > 0) == buy:
            pos.size = old + delta
            pos.entry_quote += qty * price
        else:
            closing = min(qty, abs(old))
            entry_part = pos.entry_quote * closing // abs(old)
            pnl = (closing * price - entry_part) * (1 if old > 0 else -1)
            usdc = pnl * spec.quote_to_usdc
            pos.realized_pnl += usdc
            acct.collateral += usdc
            pos.entry_quote -= entry_part
            pos.size = old + delta
            rest = qty - closing
            if pos.size == 0:
                pos.entry_quote = 0
            elif rest:
                pos.entry_quote = rest * price
        book = self.books[spec.market_index]
        book.open_interest += max(pos.size, 0) - max(old, 0)
        return old != 0 and pos.size != 0 and (old > 0) != (pos.size > 0)

    def cancel_order(self, acct: Account, market_index: int, index: int, now_us: int) -> None:
        """Cancel by COI or order_index; unknown or foreign orders are app errors."""
        order = self.find_order(acct.index, index)
        if order is None or order.market_index != market_index:
            raise AppError(p.ERR_NOT_ACTIVE_ORDER)
        if order.account_index != acct.index:
            raise AppError(p.ERR_ORDER_NOT_OWNED)
        self._cancel_resting(order, p.STATUS_CANCELED, now_us)

    def modify_order(
        self, acct: Account, info: dict[str, Any], now_us: int, *, check_minimums: bool = False
    ) -> None:
        """Change price / size / trigger of a live order; priority kept only on a pure size cut."""
        order = self.find_order(acct.index, info["Index"])
        if order is None or order.market_index != info["MarketIndex"]:
            raise AppError(p.ERR_NOT_ACTIVE_ORDER)
        if order.account_index != acct.index:
            raise AppError(p.ERR_ORDER_NOT_OWNED)
        new_base = info["BaseAmount"]
        new_price = info["Price"]
        whole_position = order.reduce_only and order.status == p.STATUS_PENDING
        if new_base == 0 and not (whole_position and order.initial_base == 0):
            raise AppError(p.ERR_INVALID_BASE_AMOUNT)  # base 0 stays "the whole position" only
        if check_minimums and self.below_minimum(order, new_base, new_price):  # order unchanged
            raise AppError(p.ERR_INVALID_ORDER_AMOUNT)
        book = self.books[order.market_index]
        order.order_version += 1
        if order.status == p.STATUS_PENDING:
            order.remaining_base = new_base
            order.initial_base = order.filled_base + new_base
            order.price = new_price
            order.trigger_price = info["TriggerPrice"] or order.trigger_price
            order.updated_at = now_us // 1_000_000
            order.transaction_time = now_us
            self.changes.order(order)
            return
        keep_priority = new_price == order.price and new_base <= order.remaining_base
        if keep_priority:
            cut = order.remaining_base - new_base
            order.remaining_base = new_base
            order.initial_base = order.filled_base + new_base
            book._reduce_level(order.is_ask, order.price, cut, now_us)
            self._set_margin(acct, order)
            order.updated_at = now_us // 1_000_000
            order.transaction_time = now_us
            self.changes.order(order)
            return
        book.remove(order, now_us)
        order.remaining_base = new_base
        order.initial_base = order.filled_base + new_base
        order.price = new_price
        order.updated_at = now_us // 1_000_000
        order.transaction_time = now_us
        self._require_margin(acct, order, now_us, held=order.margin)
        if order.tif == p.TIF_POST_ONLY and self._crosses(order, book):
            self._finish(order, p.STATUS_CANCELED_POST_ONLY, now_us)
            return
        if self._match(acct, order, book, now_us):
            self._finish(order, p.STATUS_CANCELED_SELF_TRADE, now_us)
            return
        if order.remaining_base == 0:
            self._finish(order, p.STATUS_FILLED, now_us)
            return
        book.add(order, now_us)
        self._set_margin(acct, order)
        self.changes.order(order)

    def update_leverage(self, acct: Account, info: dict[str, Any]) -> None:
        """Set a market's initial margin fraction and margin mode (21113 / 21613 / 21132 / 21739).

        The fraction may not go below the market's minimum (its highest leverage) nor above
        10 000 (1x); the mode may change only with no position and no open order there; a
        higher fraction must still cover the margin already in use.
        """
        market = info["MarketIndex"]
        spec = self.specs[market]
        imf, mode = info["InitialMarginFraction"], info["MarginMode"]
        if mode not in (MARGIN_MODE_CROSS, MARGIN_MODE_ISOLATED):
            raise AppError(ERR_INVALID_MARGIN_MODE)
        if not min_initial_margin_fraction(spec) <= imf <= p.MARGIN_FRACTION_TICK:
            raise AppError(ERR_INVALID_IMF)
        pos = acct.position(market)
        busy = pos.size or self.open_counts.get((acct.index, market), 0)
        if mode != pos.margin_mode and (busy or self._pending_on(acct, market)):
            raise AppError(ERR_MARGIN_MODE_CHANGE)
        before = (pos.initial_margin_fraction, pos.margin_mode)
        pos.initial_margin_fraction, pos.margin_mode = imf, mode
        if self.margin_check and self.available_balance(acct) < 0:
            pos.initial_margin_fraction, pos.margin_mode = before
            raise AppError(p.ERR_NOT_ENOUGH_MARGIN)
        if mode == MARGIN_MODE_CROSS:
            self._release_isolated(acct, market)
        self.changes.positions.add((acct.index, market))
        self.changes.accounts.add(acct.index)

    def _pending_on(self, acct: Account, market: int) -> bool:
        """True when the account has a live pending (trigger or child) order on `market`."""
        return any(
            o.account_index == acct.index and o.market_index == market
            for o in self.live.values()
            if o.status == p.STATUS_PENDING
        )

    def update_margin(self, acct: Account, info: dict[str, Any]) -> None:
        """Move USDC onto (Direction 1) or off (0) an isolated position (21614 / 21615 / 21301)."""
        market = info["MarketIndex"]
        amount, direction = info["USDCAmount"], info["Direction"]
        if direction not in (0, 1):
            raise AppError(ERR_INVALID_MARGIN_DIRECTION)
        pos = acct.positions.get(market)
        if pos is None or pos.margin_mode != MARGIN_MODE_ISOLATED:
            raise AppError(ERR_NO_POSITION)
        key = (acct.index, market)
        held = self.isolated_margin.get(key, 0)
        if direction == 1:
            if amount > self.available_balance(acct):
                raise AppError(p.ERR_NOT_ENOUGH_COLLATERAL)
            acct.collateral -= amount
            self.isolated_margin[key] = held + amount
        else:
            if amount > held:
                raise AppError(p.ERR_NOT_ENOUGH_COLLATERAL)
            acct.collateral += amount
            self.isolated_margin[key] = held - amount
        self.changes.positions.add(key)
        self.changes.accounts.add(acct.index)

    def _release_isolated(self, acct: Account, market: int) -> None:
        """Back to cross margin: the isolated allocation returns to the account's collateral."""
        held = self.isolated_margin.pop((acct.index, market), 0)
        acct.collateral += held

    def cancel_all(self, acct: Account, info: dict[str, Any], now_us: int) -> None:
        """Cancel every live order now (optionally one market), schedule, or abort a schedule."""
        tif = info["TimeInForce"]
        if tif == p.CANCEL_ALL_SCHEDULE:
            acct.cancel_all_time = info["Time"]
            self.changes.accounts.add(acct.index)
            return
        if tif == p.CANCEL_ALL_ABORT:
            acct.cancel_all_time = 0
            self.changes.accounts.add(acct.index)
            return
        market = info.get("L2TxAttributes") or {}
        only = market.get(p.ATTR_CANCEL_ALL_MARKET, p.ALL_MARKETS)
        self._cancel_all_of(acct.index, only, p.STATUS_CANCELED, now_us)

    def _cancel_all_of(self, account_index: int, market: int, status: str, now_us: int) -> None:
        victims = [
            o
            for o in self.live.values()
            if o.account_index == account_index
            and (market == p.ALL_MARKETS or o.market_index == market)
        ]
        for o in victims:
            if o.is_live:
                self._cancel_resting(o, status, now_us)

    def create_grouped(
        self, acct: Account, info: dict[str, Any], now_us: int, *, check_minimums: bool = False
    ) -> None:
        """Grouped orders: parent first, then children; OCO siblings cancel each other."""
        orders = info["Orders"]
        cois = [o["ClientOrderIndex"] for o in orders if o["ClientOrderIndex"]]
        if len(set(cois)) != len(cois):
            raise AppError(p.ERR_COI_EXISTS)
        for coi in cois:
            if (acct.index, coi) in self.live_by_coi:
                raise AppError(p.ERR_COI_EXISTS)
        made: list[Order] = []
        for o in orders:
            order = self._new_order(acct, o, now_us)
            if order.coi:
                self._remember_coi(acct.index, order.coi, order)
            made.append(order)
        if check_minimums and any(self.below_minimum(o, o.remaining_base, o.price) for o in made):
            for order in made:  # the whole group is refused, like a single create
                self._finish(order, p.STATUS_CANCELED, now_us)
            raise AppError(p.ERR_INVALID_ORDER_AMOUNT)
        grouping = info["GroupingType"]
        if grouping == 2 and len(made) == 2:  # OCO
            made[0].to_cancel = made[1].order_index
            made[1].to_cancel = made[0].order_index
        elif len(made) > 1:
            for child in made[1:]:
                child.parent_order_index = made[0].order_index
            if len(made) == 3:
                made[1].to_cancel = made[2].order_index
                made[2].to_cancel = made[1].order_index
        if grouping == 2 or len(made) == 1:
            for order in made:
                with contextlib.suppress(AppError):
                    self._admit(acct, order, now_us)
            return
        # OTO / OTOCO: children wait for the parent to fill (trigger status "parent-order").
        parent, children = made[0], made[1:]
        for child in children:
            child.status = p.STATUS_PENDING
            child.trigger_status = "parent-order"
            self.live[child.order_index] = child
            if child.expiry:
                heapq.heappush(self.expiries, (child.expiry, child.order_index))
            if child.coi:
                self.live_by_coi[(acct.index, child.coi)] = child
            self.changes.order(child)
        self.waiting_children[parent.order_index] = children
        with contextlib.suppress(AppError):
            self._admit(acct, parent, now_us)

    def _release_children(self, parent: Order, now_us: int) -> None:
        """Parent finished: filled activates its children's triggers, otherwise cancels them."""
        children = self.waiting_children.pop(parent.order_index, None)
        if not children:
            return
        for child in children:
            if not child.is_live:
                continue
            if parent.status == p.STATUS_FILLED:
                child.trigger_status = "mark-price"
                self.books[child.market_index].pending_triggers.append(child)
                self.changes.order(child)
            else:
                self._finish(child, p.STATUS_CANCELED_CHILD, now_us)

    # --- timers ---------------------------------------------------------------------------
    def sweep(self, now_ms: int) -> None:
        """Expire GTT orders past their OrderExpiry and run due scheduled cancel-alls."""
        now_us = now_ms * 1000
        heap = self.expiries
        if len(heap) > 2 * len(self.live) + 10_000:  # drop entries of finished orders
            heap = self.expiries = [(o.expiry, i) for i, o in self.live.items() if o.expiry]
            heapq.heapify(heap)
        while heap and heap[0][0] <= now_ms:
            expiry, order_index = heapq.heappop(heap)
            o = self.live.get(order_index)
            if o is not None and o.expiry == expiry and o.is_live:
                self._cancel_resting(o, p.STATUS_CANCELED_EXPIRED, now_us)
        for acct in self.accounts.accounts.values():
            if acct.cancel_all_time and acct.cancel_all_time <= now_ms:
                acct.cancel_all_time = 0
                self._cancel_all_of(acct.index, p.ALL_MARKETS, p.STATUS_CANCELED, now_us)
                self.changes.accounts.add(acct.index)
        for market_index, book in self.books.items():  # children released, triggers resting
            if book.pending_triggers:
                self.run_triggers(market_index, now_us)

    def set_mark_price(self, market_index: int, price: int, now_us: int) -> None:
        """Pin a market's mark price (0 = follow the last trade again) and fire its triggers."""
        self.books[market_index].mark_price_override = price
        self.changes.markets.add(market_index)
        self.run_triggers(market_index, now_us)

    def run_triggers(self, market_index: int, now_us: int) -> None:
        """Activate pending SL/TP orders whose trigger the mark price crossed (§6: the venue
        triggers on mark; the node's mark is the last trade unless pinned by a dev route)."""
        book = self.books[market_index]
        last = book.mark_price()
        if not last or not book.pending_triggers:
            return
        fired: list[Order] = []
        for o in list(book.pending_triggers):
            stop = o.order_type in (p.ORDER_TYPE_STOP_LOSS, p.ORDER_TYPE_STOP_LOSS_LIMIT)
            # A sell stop fires when price falls to the trigger; a sell take-profit when it rises.
            falls = last <= o.trigger_price
            rises = last >= o.trigger_price
            hit = (falls if stop else rises) if o.is_ask else (rises if stop else falls)
            if hit:
                fired.append(o)
        for o in fired:
            book.pending_triggers.remove(o)
            o.trigger_status = "triggered"
            acct = self.accounts.accounts[o.account_index]
            if o.order_type in (p.ORDER_TYPE_STOP_LOSS, p.ORDER_TYPE_TAKE_PROFIT):
                o.tif = p.TIF_IOC
            self.live.pop(o.order_index, None)
            if o.coi:
                self.live_by_coi.pop((o.account_index, o.coi), None)
            try:
                self._admit(acct, o, now_us)
            except AppError:
                pass
            if o.to_cancel:  # one triggered: the other leg of the pair is cancelled
                sibling = self.live.get(o.to_cancel)
                if sibling is not None:
                    sibling.to_cancel = 0
                    self._cancel_resting(sibling, p.STATUS_CANCELED_OCO, now_us)
