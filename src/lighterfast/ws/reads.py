"""Reads of `WsInfo`: synchronous O(1) views of the caches, and the per-COI wait."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from .. import protocol as P
from .._checks import check_market
from ..core import OrderBook
from ..errors import WsClosed
from ..wire.frames import flat_position
from .account import WsAccount
from .state import FINISHED_FIELDS, check_index


class WsReads(WsAccount):
    """`get_ltp`, `get_recent_trades`, `get_order_by_coi`, `get_order_book`, `wait_order_by_coi`,
    and the account/market reads `get_position(s)`, `get_balance`, `get_market_stats`,
    `get_ticker`, `get_best_bid_ask`."""

    # After aclose() every read raises WsClosed: a closed stream no longer follows the venue, so
    # serving its last values (a price, a book, an order) would be serving a guess.
    def _check_open(self) -> None:
        if self._closed:
            raise WsClosed("WsInfo is closed: its prices, books and orders are no longer kept")

    def get_ltp(self) -> float | None:
        """Last traded price from public trades (None before the first trade)."""
        if self._closed:
            self._check_open()
        return self._ltp

    def get_recent_trades(self, n: int = 20, public: bool = False) -> list[dict[str, Any]]:
        """Up to `n` trades, newest first: the public tape or the account's own fills."""
        if type(n) is bool or not isinstance(n, int) or n < 0:
            raise ValueError(f"n: expected an int >= 0, got {n!r}")
        if type(public) is not bool:
            raise TypeError(f"public: expected a bool, got {type(public).__name__}")
        self._check_open()
        tape = self._public_trades if public else self._own_trades
        return list(itertools.islice(reversed(tape), min(n, len(tape))))

    def get_order_by_coi(self, coi: int) -> dict[str, Any] | None:
        """The live order with this client order index (None when unknown or finished)."""
        self._check_open()
        return self._coi.get(check_index("coi", coi, P.MAX_COI))  # type: ignore[no-any-return]

    def get_order_book(self, market: int | None = None) -> OrderBook | None:
        """The order book of `market` (default: this WsInfo's market, else its only book)."""
        self._check_open()
        if market is None:
            if self.market_id is not None and self.market_id in self._books:
                return self._books[self.market_id]
            if len(self._books) == 1:
                return next(iter(self._books.values()))
            return None
        return self._books.get(check_market("market", market))

    def book_age(self, market: int | None = None) -> float | None:
        """Seconds since the book of `market` last applied a frame (None: no book or no frame).

        With `is_stale` this tells whether the book is a usable price source: it is marked
        stale the moment its socket is down or found silent, and until the next snapshot.
        """
        book = self.get_order_book(market)
        return None if book is None else book.age

    # --- account and market state (ws/account.py keeps it from the streams) -------------------
    def get_position(self, market: int | None = None) -> dict[str, Any]:
        """The account's position on `market` (default: this WsInfo's market), from the stream.

        A new dict of floats, the same keys as `LighterDealer.fetch_my_position()`:
        `market_index`, `symbol`, `size` (signed, + long), `side` ("long"/"short"/"flat"),
        `avg_entry_price`, `position_value`, `unrealized_pnl`, `realized_pnl`,
        `liquidation_price`, `allocated_margin`, `open_order_count`, `pending_order_count`,
        `margin_mode`. A market without a position row reads flat (`symbol` from its market
        stats, None when not subscribed). Check
        `account_state_ready` first: before the snapshot (or while down) it may be behind.
        """
        self._check_open()
        market = self._market_or_default(market)
        view = self._positions.get(market)
        return dict(view) if view is not None else flat_position(market, self._symbols.get(market))

    def get_positions(self) -> dict[int, dict[str, Any]]:
        """Every non-flat position of the account, market id → the view of `get_position`."""
        self._check_open()
        return {m: dict(v) for m, v in self._positions.items() if v["size"]}

    def get_balance(self) -> dict[str, Any] | None:
        """Collateral, available margin and balances from `user_stats`/`account_all_assets`.

        A new dict of floats: `account_index`, `collateral`, `available_balance` (margin free
        for new orders), `total_asset_value` and `portfolio_value` (the stats' portfolio
        value), `cross_asset_value` (cross-margin portfolio value), `buying_power`,
        `margin_usage`, `leverage`, `assets` (symbol → balance, locked_balance,
        margin_balance). None before the first `user_stats` frame.
        """
        self._check_open()
        return self._balance_view()

    def get_market_stats(self, market: int | None = None) -> dict[str, Any] | None:
        """The last `market_stats` of `market` (default: this WsInfo's), None before one came.

        A new dict of floats: `mark_price`, `index_price`, `mid_price`, `last_trade_price`,
        `current_funding_rate` (the estimate of the next payment), `funding_rate`,
        `next_funding_time` (ms), `open_interest`, `open_interest_limit`, daily volumes and
        range. Subscribed with `market_stats=` (True: this WsInfo's market, or a list).
        """
        self._check_open()
        market = self._market_or_default(market)
        view = self._market_stats.get(market)
        return None if view is None else dict(view)

    def get_ticker(self, market: int | None = None) -> dict[str, Any] | None:
        """The last `ticker` frame of `market` (best bid/ask and sizes, floats; None on an
        empty side), None before one came. Subscribed with `ticker=` (no book needed)."""
        self._check_open()
        view = self._tickers.get(self._market_or_default(market))
        return None if view is None else dict(view)

    def get_best_bid_ask(self, market: int | None = None) -> tuple[float | None, float | None]:
        """(best bid, best ask) from the kept book when it is fresh, else from the ticker."""
        self._check_open()
        market = self._market_or_default(market)
        book = self._books.get(market)
        if book is not None and not book.is_stale:
            bid, ask = book.best_bid(), book.best_ask()
            return (float(bid[0]) if bid else None, float(ask[0]) if ask else None)
        view = self._tickers.get(market)
        if view is None:
            return None, None
        return view["best_bid"], view["best_ask"]

    def _market_or_default(self, market: int | None) -> int:
        if market is None:
            if self.market_id is None:
                raise ValueError("market: this WsInfo has no market of its own; pass market=")
            return self.market_id
        return check_market("market", market)

    @property
    def coi_cache(self) -> Any:
        """The COI cache (core `CoiCache`): live orders keyed by client order index."""
        return self._coi

    async def wait_order_by_coi(
        self, coi: int, timeout: float | None = 5.0
    ) -> dict[str, Any] | None:
        """The order frame for `coi` as soon as it arrives (or at once if known); None on timeout.

        Resolved by the frame path itself (a per-COI future), no polling. A recently finished
        order (filled/canceled) counts as arrived; for it only the fields in
        `state.FINISHED_FIELDS` are kept (status, indexes, side, price and amounts).
        """
        if type(coi) is bool or not isinstance(coi, int):
            raise TypeError(f"coi: expected an int, got {type(coi).__name__}")
        check_index("coi", coi, P.MAX_COI)
        if timeout is not None and (
            type(timeout) is bool or not isinstance(timeout, (int, float)) or not timeout >= 0
        ):
            raise ValueError(f"timeout: expected seconds >= 0 (or None), got {timeout!r}")
        self._check_open()  # a closed stream will never deliver it: say so now, not at timeout
        order = self._coi.get(coi)
        if order is not None:
            return order  # type: ignore[no-any-return]
        ended = self._finished.get(coi)
        if ended is not None:
            return dict(zip(FINISHED_FIELDS, ended, strict=True))
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        waiters = self._coi_waiters.setdefault(coi, [])
        waiters.append(fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            remaining = self._coi_waiters.get(coi)
            if remaining is not None:
                with contextlib.suppress(ValueError):
                    remaining.remove(fut)
                if not remaining:
                    del self._coi_waiters[coi]
