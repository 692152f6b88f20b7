"""Account and market state of `WsInfo` kept from the streams: positions, balance, stats, ticker.

Channels (protocol §4.4/§4.5/§8): `account_all_positions/{a}` (snapshot = every position of
the account, updates = the changed markets, merged), `user_stats/{a}` (replace),
`account_all_assets/{a}` (replace per asset), `market_stats/{m}` (replace) and `ticker/{m}`
(full best bid/ask each frame). Values are checked before they enter state; a frame with a
bad value is counted and dropped whole, and the account channels resubscribe for a fresh
snapshot (their state may be wrong after a dropped update). Views are plain dicts of floats
(human units, like `get_ltp()` and the dealer's reads); reads return copies.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from .. import protocol as P
from .._checks import check_flag, check_market
from ..wire import subscribe_channel
from .hooks import Hook
from .state import WsState

logger = logging.getLogger("lighterfast.ws")

# Bounds of what the account state keeps (issue 12: bounded memory whatever the stream sends).
MAX_POSITIONS = 4096  # markets with a position row; a frame beyond this is refused
MAX_ASSETS = 256
ACCOUNT_RESYNC_INTERVAL_S = 5.0  # at most one account resubscribe per interval after bad frames

_INF = math.inf
_POSITION_PRICES = ("avg_entry_price", "liquidation_price", "position_value", "allocated_margin")
_POSITION_PNL = ("unrealized_pnl", "realized_pnl")
_POSITION_COUNTS = ("open_order_count", "pending_order_count")
_STATS_FIELDS = (
    "available_balance",
    "buying_power",
    "collateral",
    "leverage",
    "margin_usage",
    "portfolio_value",
)
_ASSET_FIELDS = ("balance", "locked_balance", "margin_balance")
_MARKET_PRICES = ("index_price", "mark_price", "mid_price", "last_trade_price")
_MARKET_RATES = ("current_funding_rate", "funding_rate", "base_interest_rate")
_MARKET_AMOUNTS = ("open_interest", "open_interest_limit")
_MARKET_DAILY = (
    "daily_base_token_volume",
    "daily_quote_token_volume",
    "daily_price_low",
    "daily_price_high",
    "daily_price_change",
)


class BadValue(ValueError):
    """A value of an account or market frame that must not enter state."""


def _num(value: Any, field: str, *, signed: bool = False, empty_ok: bool = True) -> float | None:
    """A wire decimal (string or JSON number) as a finite float; None for ""/null/absent."""
    if value is None or (value == "" and empty_ok):
        return None
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            raise BadValue(f"{field} {value!r}") from None
    elif type(value) is int or type(value) is float:
        number = float(value)
    else:
        raise BadValue(f"{field} {value!r}")
    if not -_INF < number < _INF or (not signed and number < 0.0):
        raise BadValue(f"{field} {value!r}")
    return number


def _count(value: Any, field: str) -> int:
    """A non-negative int field (absent: 0)."""
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise BadValue(f"{field} {value!r}")
    return value


def _market_key(key: Any) -> int:
    """A market id from a map key ("36") or an int field, in the signer's range."""
    try:
        market = int(key) if type(key) is str and key.isdigit() else key
        return check_market("market", market)
    except (TypeError, ValueError):
        raise BadValue(f"market {key!r}") from None


def position_view(pos: Any, market: int) -> dict[str, Any]:
    """A Position object (§1.3) as a view: size signed (+ long), floats, counts; BadValue if bad.

    Same keys as `LighterDealer.fetch_my_position()` (dealer/reads.py), which reads the
    REST `account` row of the same object.
    """
    if type(pos) is not dict:
        raise BadValue(f"position is a {type(pos).__name__}")
    size = _num(pos.get("position"), "position") or 0.0
    sign = pos.get("sign", 1)
    if type(sign) is not int or sign not in (-1, 0, 1):
        raise BadValue(f"sign {sign!r}")
    field_market = pos.get("market_id")
    if field_market is not None and field_market != market:
        raise BadValue(f"market_id {field_market!r} under key {market}")
    view: dict[str, Any] = {
        "market_index": market,
        "symbol": pos.get("symbol"),
        "size": -size if sign < 0 and size else size,
        "side": ("short" if sign < 0 else "long") if size else "flat",
    }
    for field in _POSITION_PRICES:
        view[field] = _num(pos.get(field), field)
    for field in _POSITION_PNL:
        view[field] = _num(pos.get(field), field, signed=True)
    for field in _POSITION_COUNTS:
        view[field] = _count(pos.get(field), field)
    view["margin_mode"] = pos.get("margin_mode")
    return view


def stats_view(stats: Any) -> dict[str, Any]:
    """A user_stats `stats` object as floats (+ `cross`/`total` sub-views); BadValue if bad."""
    if type(stats) is not dict:
        raise BadValue(f"stats is a {type(stats).__name__}")
    view: dict[str, Any] = {f: _num(stats.get(f), f, signed=True) for f in _STATS_FIELDS}
    if view["collateral"] is None:
        raise BadValue("stats without collateral")
    for part in ("cross_stats", "total_stats"):
        sub = stats.get(part)
        if sub is not None:
            if type(sub) is not dict:
                raise BadValue(f"{part} is a {type(sub).__name__}")
            view[part] = {f: _num(sub.get(f), f"{part}.{f}", signed=True) for f in _STATS_FIELDS}
    return view


def asset_view(asset: Any) -> tuple[str, dict[str, float | None]]:
    """(symbol, {balance, locked_balance, margin_balance}) of an Asset row; BadValue if bad."""
    if type(asset) is not dict:
        raise BadValue(f"asset is a {type(asset).__name__}")
    symbol = asset.get("symbol")
    if type(symbol) is not str or not symbol:
        raise BadValue(f"asset symbol {symbol!r}")
    return symbol, {f: _num(asset.get(f), f, signed=True) for f in _ASSET_FIELDS}


def market_stats_view(stats: Any, market: int | None) -> dict[str, Any]:
    """A market_stats object as floats; `next_funding_time` is `funding_timestamp` (ms)."""
    if type(stats) is not dict:
        raise BadValue(f"market_stats is a {type(stats).__name__}")
    field_market = stats.get("market_id")
    if market is None:
        market = _market_key(field_market)
    elif field_market is not None and field_market != market:
        raise BadValue(f"market_id {field_market!r} on the stats of market {market}")
    funding_ts = stats.get("funding_timestamp")
    if funding_ts is not None and (type(funding_ts) is not int or funding_ts < 0):
        raise BadValue(f"funding_timestamp {funding_ts!r}")
    view: dict[str, Any] = {"market_index": market, "symbol": stats.get("symbol")}
    for field in _MARKET_PRICES:
        view[field] = _num(stats.get(field), field)
    for field in _MARKET_RATES:
        view[field] = _num(stats.get(field), field, signed=True)
    for field in _MARKET_AMOUNTS:
        view[field] = _num(stats.get(field), field)
    view["next_funding_time"] = funding_ts
    for field in _MARKET_DAILY:
        view[field] = _num(stats.get(field), field, signed=True)
    return view


def _ticker_side(side: Any, field: str) -> tuple[float | None, float | None]:
    """(price, size) of one ticker side; an empty side (`""`) is (None, None)."""
    if type(side) is not dict:
        raise BadValue(f"ticker {field} is a {type(side).__name__}")
    price = _num(side.get("price"), f"{field}.price")
    size = _num(side.get("size"), f"{field}.size")
    if price is not None and price <= 0.0:
        raise BadValue(f"{field}.price {side.get('price')!r}")
    return price, size


def ticker_view(ticker: Any, market: int) -> dict[str, Any]:
    """A ticker object (best bid/ask, §4.5) as floats; a crossed pair is refused."""
    if type(ticker) is not dict:
        raise BadValue(f"ticker is a {type(ticker).__name__}")
    bid, bid_size = _ticker_side(ticker.get("b"), "b")
    ask, ask_size = _ticker_side(ticker.get("a"), "a")
    if bid is not None and ask is not None and bid >= ask:
        raise BadValue(f"crossed ticker bid {bid} >= ask {ask}")
    return {
        "market_index": market,
        "symbol": ticker.get("s"),
        "best_bid": bid,
        "best_bid_size": bid_size,
        "best_ask": ask,
        "best_ask_size": ask_size,
        "updated_at": ticker.get("last_updated_at"),
    }


def _market_list(name: str, value: Any, default: int | None) -> list[int]:
    """`market_stats=`/`ticker=`: True (this WsInfo's market), False, or a list of markets."""
    if value is True or value is False:
        return [default] if value and default is not None else []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name}: expected a bool or a list of market ids, got {value!r}")
    return [check_market(f"{name}[]", m) for m in value]


class WsAccount(WsState):
    """Position, balance, market-stats and ticker caches and their frame handlers."""

    def __init__(
        self,
        *,
        account_state: bool = True,
        market_stats: bool | Sequence[int] = False,
        ticker: bool | Sequence[int] = False,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        check_flag("account_state", account_state)
        self.on_positions: Hook | None = None
        self.on_account: Hook | None = None
        self.on_market_stats: Hook | None = None

        self._positions: dict[int, dict[str, Any]] = {}
        self._stats: dict[str, Any] | None = None
        self._assets: dict[str, dict[str, float | None]] = {}
        self._asset_ids: dict[str, str] = {}  # asset id (map key) -> symbol
        self._market_stats: dict[int, dict[str, Any]] = {}
        self._tickers: dict[int, dict[str, Any]] = {}
        self._symbols: dict[int, str] = {}  # market -> symbol, from market_stats frames
        # Account parts whose snapshot arrived since the last (re)connect or bad frame.
        self._account_parts: set[str] = set()
        self._account_ready: set[str] = set()
        self._account_resync_at: dict[str, float] = {}  # family -> last resubscribe

        account = self.account_index
        if account is not None and account_state and kw.get("account_streams", True):
            for family in (P.CH_ACCOUNT_ALL_POSITIONS, P.CH_USER_STATS, P.CH_ACCOUNT_ALL_ASSETS):
                # §4.4: send the token for every account channel (an unneeded one is ignored).
                self._subscriptions[subscribe_channel(family, account)] = True
                self._account_parts.add(family)
        self._stats_markets = _market_list("market_stats", market_stats, self.market_id)
        for market in self._stats_markets:
            self._subscriptions[subscribe_channel(P.CH_MARKET_STATS, market)] = False
        self._ticker_channels: dict[str, int] = {}
        for market in _market_list("ticker", ticker, self.market_id):
            self._subscriptions[subscribe_channel(P.CH_TICKER, market)] = False
            self._ticker_channels[P.CH_TICKER + ":" + str(market)] = market

        self._dispatch.update(
            {
                "subscribed/account_all_positions": self._on_positions_snapshot,
                "update/account_all_positions": self._on_positions_update,
                "subscribed/user_stats": self._on_user_stats_snapshot,
                "update/user_stats": self._on_user_stats,
                "subscribed/account_all_assets": self._on_assets_snapshot,
                "update/account_all_assets": self._on_assets,
                "subscribed/market_stats": self._on_market_stats_snapshot,
                "update/market_stats": self._on_market_stats,
                "subscribed/ticker": self._on_ticker_snapshot,
                "update/ticker": self._on_ticker,
            }
        )

    # --- readiness ----------------------------------------------------------------------------
    @property
    def account_state_ready(self) -> bool:
        """True when positions, balance and assets follow the node: every account channel sent
        its snapshot since the last (re)connect, and no bad frame is awaiting its resync."""
        return (
            not self._closed
            and bool(self._account_parts)
            and self._account_ready >= self._account_parts
            and (self._conn is None or self._conn.connected)
        )

    def _account_down(self) -> None:
        """The socket dropped: account state may miss updates until the next snapshots."""
        self._account_ready.clear()

    def _books_down(self) -> None:
        """Down or silent: books stale, account state unvouched, tickers forgotten (a best
        bid/ask of a socket that no longer follows the venue is no price)."""
        super()._books_down()
        self._account_down()
        self._tickers.clear()

    def _account_bad(self, family: str, what: str, problem: BadValue | str) -> None:
        """A bad account frame: counted, logged, dropped; that channel resyncs (a snapshot)."""
        self._bad_frame(what, str(problem))
        self._account_ready.discard(family)
        now = time.monotonic()
        if self.account_index is None:
            return
        if now - self._account_resync_at.get(family, -_INF) < ACCOUNT_RESYNC_INTERVAL_S:
            return
        self._account_resync_at[family] = now
        key = subscribe_channel(family, self.account_index)
        if not self._resubscribe_keys([key]):
            logger.warning("ws: %s; the account resync waits for the next snapshot", what)
            return
        logger.warning("ws: %s; resubscribing %s", what, key)
        self.stats.account_resyncs += 1

    def _resubscribe_keys(self, keys: list[str]) -> bool:
        """Ask for fresh snapshots of `keys`; False when there is no socket (replay mode)."""
        return False

    # --- positions ----------------------------------------------------------------------------
    def _position_views(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        positions = msg.get("positions")
        if positions is None:
            return []
        if type(positions) is list:  # tolerate a list of rows carrying market_id
            items = [(p.get("market_id") if type(p) is dict else None, p) for p in positions]
        elif type(positions) is dict:
            items = list(positions.items())
        else:
            raise BadValue(f"positions is a {type(positions).__name__}")
        if len(items) > MAX_POSITIONS:
            raise BadValue(f"{len(items)} positions (more than {MAX_POSITIONS})")
        return [position_view(pos, _market_key(key)) for key, pos in items]

    def _on_positions_snapshot(self, msg: dict[str, Any]) -> None:
        """Snapshot = every position of the account: it replaces the cache."""
        self._ack(msg)
        try:
            views = self._position_views(msg)
        except BadValue as exc:
            self._account_bad(P.CH_ACCOUNT_ALL_POSITIONS, "bad account_all_positions frame", exc)
            return
        self._positions = {v["market_index"]: v for v in views}
        self._account_ready.add(P.CH_ACCOUNT_ALL_POSITIONS)
        self._positions_arrived(views)

    def _on_positions_update(self, msg: dict[str, Any]) -> None:
        """Update = the changed markets (all of them on some deployments): merged by market."""
        try:
            views = self._position_views(msg)
            positions = self._positions
            new = sum(1 for v in views if v["market_index"] not in positions)
            if len(positions) + new > MAX_POSITIONS:
                raise BadValue(f"more than {MAX_POSITIONS} positions")
        except BadValue as exc:
            self._account_bad(P.CH_ACCOUNT_ALL_POSITIONS, "bad account_all_positions frame", exc)
            return
        for view in views:
            positions[view["market_index"]] = view
        self._positions_arrived(views)

    def _positions_arrived(self, views: list[dict[str, Any]]) -> None:
        hook = self.on_positions
        if hook is not None and views:
            self._call_hook(hook, [dict(v) for v in views])

    # --- balance ------------------------------------------------------------------------------
    def _on_user_stats_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        if self._apply_user_stats(msg):
            self._account_ready.add(P.CH_USER_STATS)

    def _on_user_stats(self, msg: dict[str, Any]) -> None:
        self._apply_user_stats(msg)

    def _apply_user_stats(self, msg: dict[str, Any]) -> bool:
        try:
            view = stats_view(msg.get("stats"))
        except BadValue as exc:
            self._account_bad(P.CH_USER_STATS, "bad user_stats frame", exc)
            return False
        self._stats = view
        self._account_arrived()
        return True

    def _on_assets_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        if self._apply_assets(msg, replace=True):
            self._account_ready.add(P.CH_ACCOUNT_ALL_ASSETS)

    def _on_assets(self, msg: dict[str, Any]) -> None:
        self._apply_assets(msg, replace=False)

    def _apply_assets(self, msg: dict[str, Any], replace: bool) -> bool:
        """Assets by id: a snapshot replaces them all, an update replaces the assets it names."""
        try:
            assets = msg.get("assets") or {}
            if type(assets) is not dict:
                raise BadValue(f"assets is a {type(assets).__name__}")
            rows = [(str(k), *asset_view(v)) for k, v in assets.items()]
            ids = {} if replace else dict(self._asset_ids)
            for asset_id, symbol, _ in rows:
                ids[asset_id] = symbol
            if len(ids) > MAX_ASSETS:
                raise BadValue(f"more than {MAX_ASSETS} assets")
        except BadValue as exc:
            self._account_bad(P.CH_ACCOUNT_ALL_ASSETS, "bad account_all_assets frame", exc)
            return False
        kept = {} if replace else self._assets
        for _, symbol, view in rows:
            kept[symbol] = view
        self._assets = kept
        self._asset_ids = ids
        self._account_arrived()
        return True

    def _account_arrived(self) -> None:
        hook = self.on_account
        if hook is not None:
            balance = self._balance_view()
            if balance is not None:
                self._call_hook(hook, balance)

    def _balance_view(self) -> dict[str, Any] | None:
        """The balance as `get_balance()` returns it (a new dict), None before user_stats."""
        stats = self._stats
        if stats is None:
            return None
        cross = stats.get("cross_stats") or {}
        return {
            "account_index": self.account_index,
            "collateral": stats["collateral"],
            "available_balance": stats["available_balance"],
            "total_asset_value": stats["portfolio_value"],
            "cross_asset_value": cross.get("portfolio_value", stats["portfolio_value"]),
            "portfolio_value": stats["portfolio_value"],
            "buying_power": stats["buying_power"],
            "margin_usage": stats["margin_usage"],
            "leverage": stats["leverage"],
            "assets": {symbol: dict(view) for symbol, view in self._assets.items()},
        }

    # --- market stats and ticker --------------------------------------------------------------
    def _on_market_stats_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        self._on_market_stats(msg)

    def _on_market_stats(self, msg: dict[str, Any]) -> None:
        """Replace semantics: a bad frame is dropped (the next one heals), nothing resyncs."""
        stats = msg.get("market_stats")
        try:
            if type(stats) is dict and "market_id" not in stats and "symbol" not in stats:
                views = [market_stats_view(v, _market_key(k)) for k, v in stats.items()]
            else:
                views = [market_stats_view(stats, None)]
        except BadValue as exc:
            self._bad_frame("bad market_stats frame", str(exc))
            return
        kept = self._market_stats
        hook = self.on_market_stats
        for view in views:
            market = view["market_index"]
            if market not in kept and len(kept) >= MAX_POSITIONS:
                continue
            kept[market] = view
            symbol = view["symbol"]
            if type(symbol) is str and symbol:
                self._symbols[market] = symbol
            if hook is not None:
                self._call_hook(hook, dict(view))

    def _on_ticker_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        self._on_ticker(msg)

    def _on_ticker(self, msg: dict[str, Any]) -> None:
        market = self._ticker_channels.get(msg.get("channel", ""))
        if market is None:
            self.stats.unknown += 1
            return
        try:
            view = ticker_view(msg.get("ticker"), market)
        except BadValue as exc:
            self._bad_frame("bad ticker frame", str(exc))
            return
        self._tickers[market] = view
