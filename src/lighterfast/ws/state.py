"""The frame path of `WsInfo`: parse, route, update the caches and books, run the hooks.

Every received text frame goes through `feed_raw` (public: recorded sessions replay through
it): orjson parses it once, a precomputed table routes it by its `type`, the compiled caches
(COI cache, order books) are updated, then the hooks run. `WsState` holds that state and the
handlers in one class (no extra call per frame); `WsReads` adds the reads, `WsInfo` the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson

from .. import protocol as P
from .._checks import check_flag, check_int, check_market, check_seconds
from .._counters import Counters
from ..core import IMPLEMENTATION, MAX_BOOK_NONCE_STEP, CoiCache, OrderBook, order_book_market
from ..errors import ConfigError, MarketNotFound, WsClosed
from ..markets import lookup_static
from ..transport.websocket import WsConnection
from ..wire import (
    PONG,
    encode_subscribe,
    encode_unsubscribe,
    http_url_for,
    subscribe_channel,
)
from .hooks import Hook, HookRunner

logger = logging.getLogger("lighterfast.ws")

DEFAULT_COI_CACHE_SIZE = 65536
DEFAULT_TAPE_SIZE = 1000
# Public trade ids remembered to drop repeats: every `trade` subscribe replays the last 50
# prints (§8), so a few replays' worth is enough; bounded whatever the stream sends.
TRADE_IDS_KEPT = 4096
# Finished orders remembered so that wait_order_by_coi() also sees an order that was filled
# or canceled before the wait started (the COI cache drops terminal orders at once). Only the
# fields below are kept (a tuple, not the ~40-key frame): a few hundred bytes per order.
# A wait looks seconds back: 1024 is minutes of a busy bot's history (and ~0.5 MB).
RECENT_FINISHED_SIZE = 1024
FINISHED_FIELDS = (
    "client_order_index",
    "order_index",
    "market_index",
    "status",
    "is_ask",
    "price",
    "initial_base_amount",
    "remaining_base_amount",
    "filled_base_amount",
    "filled_quote_amount",
    "updated_at",
)
RAW_SCAN_BOOKS = 4  # up to this many books, each is asked in turn; beyond, route by channel
MALFORMED_LOG_INTERVAL_S = 30.0  # a new kind of bad frame is logged at once, repeats this often
ORDERS_RESYNC_INTERVAL_S = 5.0  # at most one orders resubscribe per interval after bad frames
BOOK_DUPLICATES_RESYNC = 64  # replays since the last snapshot before a book resubscribes
KNOWN_STATUSES = frozenset(P.STATUS_CODES) | {"expired"}
_ORDER_AMOUNTS = ("price", "initial_base_amount", "remaining_base_amount", "filled_base_amount")
_INF = math.inf

_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_loads = orjson.loads
_order_book_market = order_book_market
_JSONDecodeError = orjson.JSONDecodeError
_is_terminal = P.is_terminal_status


class WsInfoStats(Counters):
    """Counters of the frame path (plain attributes)."""

    __slots__ = (
        "account_resyncs",
        "book_duplicates",
        "book_gaps",
        "book_resyncs",
        "error_frames",
        "hook_errors",
        "malformed",
        "order_resyncs",
        "reauths",
        "reconnects",
        "rest_resyncs",
        "trade_duplicates",
        "unknown",
    )
    account_resyncs: int
    book_duplicates: int
    book_gaps: int
    book_resyncs: int
    error_frames: int
    hook_errors: int
    malformed: int
    order_resyncs: int
    reauths: int
    reconnects: int
    rest_resyncs: int
    trade_duplicates: int
    unknown: int


def flatten(value: Any) -> list[dict[str, Any]]:
    """`orders`/`trades` payloads come as a list or as a map market → list (§4.5)."""
    if value is None:
        return []
    if type(value) is list:
        return value
    if type(value) is dict:
        values = list(value.values())
        if len(values) == 1 and type(values[0]) is list:
            return values[0]
        out: list[dict[str, Any]] = []
        for item in values:
            if type(item) is not list:
                raise TypeError(f"expected a list per market, got {type(item).__name__}")
            out.extend(item)
        return out
    raise TypeError(f"expected a list or a map of lists, got {type(value).__name__}")


def _number_ok(value: Any, positive: bool) -> bool:
    """A finite number >= 0 (> 0 when `positive`) given as a wire string or a JSON number."""
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            return False
    elif type(value) is int or type(value) is float:
        number = value
    else:
        return False
    return 0.0 < number < _INF if positive else 0.0 <= number < _INF


def _trade_id_key(trade: dict[str, Any]) -> int:
    """A validated trade's id (-1 when it carries none)."""
    trade_id: int = trade.get("trade_id", -1)
    return trade_id


def trade_problem(trade: Any) -> str | None:
    """Why a trade dict must not enter state (price and size finite > 0, id an int), or None."""
    if type(trade) is not dict:
        return f"trade is a {type(trade).__name__}"
    if not _number_ok(trade.get("price"), True):
        return f"trade price {trade.get('price')!r}"
    if not _number_ok(trade.get("size"), True):
        return f"trade size {trade.get('size')!r}"
    trade_id = trade.get("trade_id", 0)
    if type(trade_id) is not int or trade_id < 0:
        return f"trade_id {trade_id!r}"
    return None


def order_problem(order: Any) -> str | None:
    """Why an order dict must not enter state (COI range, known status, amounts), or None."""
    if type(order) is not dict:
        return f"order is a {type(order).__name__}"
    coi = order.get("client_order_index")
    if type(coi) is not int or not 0 <= coi <= P.MAX_COI:
        return f"client_order_index {coi!r}"
    status = order.get("status")
    if type(status) is not str or status not in KNOWN_STATUSES:
        return f"status {status!r}"
    for field in _ORDER_AMOUNTS:
        value = order.get(field)
        if value is not None and not _number_ok(value, False):
            return f"{field} {value!r}"
    return None


def check_index(name: str, value: Any, hi: int) -> int:
    """An index argument checked against its protocol bound (the one checker, _checks)."""
    return check_int(name, value, 0, hi)


def known_decimals(market: int) -> tuple[int, int] | None:
    """(price_decimals, size_decimals) from the static markets table, if listed."""
    info = lookup_static(market_index=market)
    if info is None:
        return None
    return info.price_decimals, info.size_decimals


class WsState(HookRunner):
    """Caches, books, tapes and the frame path; `WsInfo` (connect.py) adds factories, socket."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        account_index: int | None = None,
        api_key_index: int | None = None,
        market_id: int | None = None,
        account_streams: bool = True,
        public_trades: bool = False,
        books: Sequence[int] = (),
        decimals: Mapping[int, tuple[int, int]] | None = None,
        token_provider: Any = None,
        rest: Any = None,
        resync_rest: bool = True,
        reauth_on_refresh: bool = True,
        coi_cache_size: int = DEFAULT_COI_CACHE_SIZE,
        tape_size: int = DEFAULT_TAPE_SIZE,
        ping_interval: float = P.WS_DEFAULT_PING_INTERVAL_S,
        pong_timeout: float = 3.0,
        connection_options: Mapping[str, Any] | None = None,
        subscribe_timeout: float = 5.0,
    ) -> None:
        if (
            type(coi_cache_size) is bool
            or not isinstance(coi_cache_size, int)
            or coi_cache_size < 1
        ):
            raise ValueError(f"coi_cache_size: expected a positive int, got {coi_cache_size!r}")
        if type(tape_size) is bool or not isinstance(tape_size, int) or tape_size < 1:
            raise ValueError(f"tape_size: expected a positive int, got {tape_size!r}")
        if base_url is not None and (
            not isinstance(base_url, str)
            or not base_url.startswith(("http://", "https://", "ws://", "wss://"))
        ):
            raise ConfigError(f"base_url: expected an http(s):// or ws(s):// URL, got {base_url!r}")
        for flag, value in (
            ("account_streams", account_streams),
            ("public_trades", public_trades),
            ("resync_rest", resync_rest),
            ("reauth_on_refresh", reauth_on_refresh),
        ):
            check_flag(flag, value)
        if check_seconds("ping_interval", ping_interval) >= P.WS_IDLE_TIMEOUT_S:
            raise ValueError(
                f"ping_interval: must be < {P.WS_IDLE_TIMEOUT_S} s, got {ping_interval}"
            )
        check_seconds("subscribe_timeout", subscribe_timeout)
        check_seconds("pong_timeout", pong_timeout)
        if isinstance(books, (str, bytes)) or not isinstance(books, Sequence):
            raise TypeError(f"books: expected a list of market indexes, got {type(books).__name__}")
        if account_index is not None:
            check_index("account_index", account_index, P.MAX_ACCOUNT_INDEX)
        if api_key_index is not None:
            check_index("api_key_index", api_key_index, P.MAX_API_KEY_INDEX)
        if market_id is not None:
            check_market("market_id", market_id)
        self.base_url = None if base_url is None else http_url_for(base_url)
        self.account_index = account_index
        self.api_key_index = api_key_index
        self.market_id = market_id
        self.stats = WsInfoStats()

        self.on_orders: Hook | None = None
        self.on_trades: Hook | None = None
        self.on_public_trades: Hook | None = None
        self.on_order_book: Hook | None = None
        self.on_tx_reply: Hook | None = None
        # Called with every live order after a snapshot replaced the COI cache (reconnect,
        # re-auth): orders absent from it finished while we were not listening.
        self.on_orders_resync: Hook | None = None
        self.on_error: Hook | None = None

        self._coi = CoiCache(coi_cache_size)
        self._finished: OrderedDict[int, tuple[Any, ...]] = OrderedDict()
        self._coi_waiters: dict[int, list[asyncio.Future[dict[str, Any]]]] = {}
        self._own_trades: deque[dict[str, Any]] = deque(maxlen=tape_size)
        self._public_trades: deque[dict[str, Any]] = deque(maxlen=tape_size)
        self._last_public_trade_id = -1
        self._seen_trade_ids: set[int] = set()
        self._seen_trade_order: deque[int] = deque()
        self._ltp: float | None = None

        self._decimals: dict[int, tuple[int, int]] = dict(decimals or {})
        self._books: dict[int, OrderBook] = {}
        self._books_by_channel: dict[str, OrderBook] = {}
        self._book_channels: dict[int, str] = {}
        # The raw-bytes book path pays off only with the compiled core (the twin parses JSON).
        self._raw_path = IMPLEMENTATION == "compiled"
        self._raw_books: tuple[OrderBook, ...] = ()  # books fed by the raw path
        self._resyncing: set[str] = set()
        self._book_replays: dict[int, int] = {}  # market -> replays since its last snapshot
        self._bad_kinds: set[str] = set()  # kinds of bad frame already logged
        self._bad_logged_at = 0.0
        self._bad_unlogged = 0
        self._orders_resync_at = -_INF
        self._awaiting_acks: dict[str, str] = {}  # frame channel -> subscribe key
        self._acks_done = asyncio.Event()
        self._subscribe_timeout = float(subscribe_timeout)

        # Subscriptions: subscribe key → needs auth.
        self._subscriptions: dict[str, bool] = {}
        if account_index is not None and account_streams:
            self._subscriptions[subscribe_channel(P.CH_ACCOUNT_ALL_ORDERS, account_index)] = True
            self._subscriptions[subscribe_channel(P.CH_ACCOUNT_ALL_TRADES, account_index)] = True
        if public_trades:
            if market_id is None:
                raise ValueError("market_id: public trades need a market")
            self._subscriptions[subscribe_channel(P.CH_TRADE, market_id)] = False
        for market in books:
            self._add_book(check_market("books[]", market))
            self._subscriptions[subscribe_channel(P.CH_ORDER_BOOK, market)] = False

        self._token_provider = token_provider
        self._token_version: Any = None
        self._rest = rest
        self._owns_rest = False
        # Called with each REST client WsInfo makes for itself (observability: the demo counts
        # its requests); one passed in as `rest` is the caller's to watch.
        self.on_rest_client: Callable[[Any], None] | None = None
        self._owned_closers: list[Callable[[], Awaitable[Any]]] = []
        self._resync_rest = resync_rest
        self._reauth_on_refresh = reauth_on_refresh
        self._ping_interval = ping_interval
        self._pong_timeout = float(pong_timeout)
        self._connection_options = dict(connection_options or {})
        self._conn: WsConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hook_queue: asyncio.Queue[Awaitable[Any]] | None = None
        self._hook_task: asyncio.Task[None] | None = None
        self._connect_count = 0
        self._closed = False

        self._dispatch: dict[str, Callable[[dict[str, Any]], None]] = {
            "update/order_book": self._on_book_update,
            "subscribed/order_book": self._on_book_snapshot,
            "update/trade": self._on_public_trades,
            "subscribed/trade": self._on_public_trades_snapshot,
            "update/account_all_orders": self._on_orders,
            "subscribed/account_all_orders": self._on_orders_snapshot,
            "update/account_orders": self._on_orders,
            "subscribed/account_orders": self._on_orders_snapshot_market,
            "update/account_all_trades": self._on_own_trades,
            "subscribed/account_all_trades": self._on_own_trades_snapshot,
            P.WS_MSG_SEND_TX: self._on_tx_reply,
            P.WS_MSG_SEND_TX_BATCH: self._on_tx_reply,
            "error": self._on_error_frame,
            "connected": self._on_control,
            "ping": self._on_control,
            "pong": self._on_control,
            "shutdown": self._on_control,
            "unsubscribed": self._on_control,
        }

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("replay" if self._conn is None else "live")
        return (
            f"WsInfo(account_index={self.account_index}, market_id={self.market_id}, {state}, "
            f"orders={len(self._coi)}, books={sorted(self._books)})"
        )

    # --- the frame path -------------------------------------------------------------------------
    def feed_raw(self, payload: bytes | str) -> None:
        """Apply one received text frame (bytes or str). Never raises for bad frames.

        Book deltas of a subscribed market take the compiled core's raw-bytes scanner (no
        Python objects built); whatever it declines, and every other frame, is parsed once
        by orjson and routed by its `type`.
        """
        raw_books = self._raw_books
        if raw_books:
            result = -1
            book = None
            try:
                if len(raw_books) <= RAW_SCAN_BOOKS:
                    # A book declines another market's frame in ~0.1 µs: asking each is
                    # cheaper than locating the channel first.
                    for book in raw_books:
                        result = book.apply_update_raw(payload)
                        if result != -1:
                            break
                else:
                    book = self._books.get(_order_book_market(payload))
                    if book is not None:
                        result = book.apply_update_raw(payload)
            except TypeError:
                result = -1
            if result == 1:
                hook = self.on_order_book
                if hook is not None:
                    self._call_hook(hook, book)
                return
            if result == 2:
                assert book is not None
                self._book_replay(book)  # a repeated (already applied) delta
                return
            if result == 0:
                assert book is not None
                self._book_not_applied(book)
                return
            if result == 3:
                assert book is not None
                self._book_poisoned(book, "implausible nonce step")
                return
            # -1: not a book delta, or declined (unusual spelling, malformed): parse it below
        try:
            msg = _loads(payload)
        except _JSONDecodeError as exc:
            self._bad_frame("invalid JSON", exc)
            return
        except TypeError as exc:
            self._bad_frame("not bytes/str", exc)
            return
        try:
            handler = self._dispatch[msg["type"]]
        except (KeyError, TypeError, IndexError):
            self._route_untyped(msg)
            return
        try:
            handler(msg)
        except _MALFORMED as exc:
            self._bad_frame(f"bad {msg.get('type')!s} frame", exc)

    def _bad_frame(self, what: str, exc: BaseException | str) -> None:
        """Count a dropped frame or value; log each kind once, then one line per interval."""
        self.stats.malformed += 1
        n = self.stats.malformed
        kinds = self._bad_kinds
        now = time.monotonic()
        detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if what not in kinds and len(kinds) < 64:
            kinds.add(what)
            logger.warning("ws: dropped malformed frame #%d (%s: %s)", n, what, detail)
            self._bad_logged_at = now
        elif now - self._bad_logged_at >= MALFORMED_LOG_INTERVAL_S:
            logger.warning(
                "ws: dropped %d more malformed frames (latest #%d: %s: %s)",
                self._bad_unlogged + 1,
                n,
                what,
                detail,
            )
            self._bad_logged_at = now
            self._bad_unlogged = 0
        else:
            self._bad_unlogged += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("ws: dropped malformed frame #%d (%s)", n, what)

    def _route_untyped(self, msg: Any) -> None:
        """Frames without a known `type`: error frames, unknown channels."""
        if type(msg) is not dict:
            self._bad_frame("not a JSON object", TypeError(type(msg).__name__))
            return
        if "error" in msg:
            self._on_error_frame(msg)
            return
        kind = msg.get("type")
        if kind is not None and type(kind) is not str:
            self._bad_frame("non-string type", TypeError(type(kind).__name__))
            return
        self.stats.unknown += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "ws: ignored frame type=%r channel=%r", msg.get("type"), msg.get("channel")
            )

    def _ack(self, msg: dict[str, Any]) -> None:
        """A `subscribed/*` frame: its channel's subscription is live."""
        awaiting = self._awaiting_acks
        if awaiting and awaiting.pop(msg.get("channel", ""), None) is not None and not awaiting:
            self._acks_done.set()

    # order book ----------------------------------------------------------------------------------
    def _add_book(self, market: int) -> OrderBook:
        book = self._books.get(market)
        if book is not None:
            return book
        decimals = self._decimals.get(market) or known_decimals(market)
        if decimals is None:
            raise MarketNotFound(
                f"market_id {market}: unknown decimals for its order book; pass decimals"
            )
        self._decimals[market] = decimals
        book = OrderBook(market, decimals[0], decimals[1])
        self._books[market] = book
        channel = P.CH_ORDER_BOOK + ":" + str(market)
        self._books_by_channel[channel] = book
        self._book_channels[market] = channel
        self._raw_books = tuple(self._books.values()) if self._raw_path else ()
        return book

    def _on_book_update(self, msg: dict[str, Any]) -> None:
        channel = msg["channel"]
        book = self._books_by_channel.get(channel)
        if book is None:
            self.stats.unknown += 1
            return
        try:
            order_book = msg["order_book"]
            nonce = order_book["nonce"]
            if nonce <= book.nonce and not book.is_stale:
                self._book_replay(book)  # a repeated (already applied) delta, not a gap
                return
            begin = order_book.get("begin_nonce")
            if (
                not book.is_stale
                and begin == book.nonce
                and type(nonce) is int
                and nonce - book.nonce > MAX_BOOK_NONCE_STEP
            ):
                self._book_poisoned(book, "implausible nonce step")
                return
            applied = book.apply_update(order_book)
        except _MALFORMED as exc:
            self._book_poisoned(book, f"bad update/order_book frame: {type(exc).__name__}: {exc}")
            return
        if applied:
            hook = self.on_order_book
            if hook is not None:
                self._call_hook(hook, book)
            return
        self._book_not_applied(book)

    def _book_replay(self, book: OrderBook) -> None:
        """A delta at or below the book's nonce; many since the snapshot mean a bad nonce got in."""
        self.stats.book_duplicates += 1
        market = book.market_index
        n = self._book_replays.get(market, 0) + 1
        self._book_replays[market] = n
        if n > BOOK_DUPLICATES_RESYNC:
            self._book_replays[market] = 0
            self._book_poisoned(book, f"{n} replayed deltas since the snapshot")

    def _book_poisoned(self, book: OrderBook, why: str) -> None:
        """A delta with bad values: counted, logged, and the book resyncs from a snapshot."""
        self._bad_frame("bad order_book delta", why)
        channel = self._book_channels[book.market_index]
        if channel in self._resyncing:
            book.mark_stale()
            return
        self._resync_book(channel, book, why)

    def _book_not_applied(self, book: OrderBook) -> None:
        """A delta the book refused: a gap or cross starts a resync; while stale, it drops."""
        channel = self._book_channels[book.market_index]
        if channel in self._resyncing:
            return  # stale: deltas drop until the new snapshot
        self.stats.book_gaps += 1
        self._resync_book(channel, book, "begin_nonce gap or crossed book")

    def _on_book_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        channel = msg["channel"]
        book = self._books_by_channel.get(channel)
        if book is None:
            self.stats.unknown += 1
            return
        try:
            ok = book.apply_snapshot(msg["order_book"])
        except _MALFORMED as exc:
            book.mark_stale()
            self._bad_frame("bad subscribed/order_book frame", exc)
            self._resyncing.discard(channel)
            self._resync_book(channel, book, "unreadable snapshot")
            return
        self._resyncing.discard(channel)
        self._book_replays[book.market_index] = 0
        if not ok:
            self.stats.book_gaps += 1
            self._resync_book(channel, book, "crossed snapshot")
            return
        hook = self.on_order_book
        if hook is not None:
            self._call_hook(hook, book)

    def _resync_book(self, channel: str, book: OrderBook, why: str) -> None:
        """Mark stale, then unsubscribe + subscribe (§4.6); deltas drop until the snapshot."""
        book.mark_stale()
        self._resyncing.add(channel)
        conn = self._conn
        if conn is None or not conn.connected:
            # Replay mode (the next recorded snapshot heals it) or down (reconnect resubscribes).
            logger.warning(
                "ws: %s on %s (nonce %s); waiting for a snapshot", why, channel, book.nonce
            )
            return
        logger.warning("ws: %s on %s (nonce %s); resubscribing", why, channel, book.nonce)
        key = channel.replace(":", "/")
        try:
            conn.send_raw(encode_unsubscribe(key))
            conn.send_raw(encode_subscribe(key))
            self.stats.book_resyncs += 1
        except WsClosed:
            pass

    # trades ------------------------------------------------------------------------------------
    def _on_public_trades(self, msg: dict[str, Any]) -> None:
        self._public(msg, snapshot=False)

    def _on_public_trades_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        self._public(msg, snapshot=True)

    def _valid_trades(self, trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The trades whose values may enter state; the others are counted and logged."""
        for trade in trades:
            if trade_problem(trade) is not None:
                break
        else:
            return trades
        good = []
        for trade in trades:
            problem = trade_problem(trade)
            if problem is None:
                good.append(trade)
            else:
                self._bad_frame("bad trade values", problem)
        return good

    def _public(self, msg: dict[str, Any], snapshot: bool) -> None:
        """Public prints: `trades` and the disjoint `liquidation_trades` (marked
        `is_liquidation`), each kept once by `trade_id` across subscribe replays and reconnects."""
        trades = flatten(msg.get("trades"))
        for trade in trades:
            if type(trade) is dict:
                trade["is_liquidation"] = False
        liquidations = msg.get("liquidation_trades")
        if liquidations:
            marked = flatten(liquidations)
            for trade in marked:
                if type(trade) is dict:
                    trade["is_liquidation"] = True
            trades = trades + marked
        trades = self._valid_trades(trades)
        if not trades:
            return
        if snapshot:
            # The replay of the last ~50 prints, oldest first; prints older than the newest
            # seen were either seen or missed for good (the tape stays in trade order).
            trades.sort(key=_trade_id_key)
            last = self._last_public_trade_id
            if last >= 0:
                old = len(trades)
                trades = [t for t in trades if _trade_id_key(t) > last]
                self.stats.trade_duplicates += old - len(trades)
        trades = self._unseen_trades(trades)
        if not trades:
            return
        newest = trades[0]
        newest_id = int(newest.get("trade_id", -1))
        for trade in trades:
            trade_id = int(trade.get("trade_id", -1))
            if trade_id >= newest_id:
                newest, newest_id = trade, trade_id
        self._public_trades.extend(trades)
        if newest_id >= self._last_public_trade_id or newest_id < 0:
            # An older print arriving late does not move the last price backwards.
            self._last_public_trade_id = max(newest_id, self._last_public_trade_id)
            self._ltp = float(newest["price"])
        hook = self.on_public_trades
        if hook is not None:
            self._call_hook(hook, trades)

    def _unseen_trades(self, trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The trades whose `trade_id` was not seen yet (id-less ones are kept); remembers them."""
        seen = self._seen_trade_ids
        order = self._seen_trade_order
        out = []
        for trade in trades:
            trade_id = trade.get("trade_id")
            if trade_id is not None:
                if trade_id in seen:
                    self.stats.trade_duplicates += 1
                    continue
                seen.add(trade_id)
                order.append(trade_id)
                if len(order) > TRADE_IDS_KEPT:
                    seen.discard(order.popleft())
            out.append(trade)
        return out

    def _on_own_trades_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        self._on_own_trades(msg)

    def _on_own_trades(self, msg: dict[str, Any]) -> None:
        trades = self._valid_trades(flatten(msg.get("trades")))
        if not trades:
            return
        self._own_trades.extend(trades)
        hook = self.on_trades
        if hook is not None:
            self._call_hook(hook, trades)

    # orders ------------------------------------------------------------------------------------
    def _valid_orders(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The orders if every one may enter state; else None: the frame is counted, dropped
        whole (it changes nothing) and the order streams resync."""
        for order in orders:
            problem = order_problem(order)
            if problem is not None:
                self._bad_frame("bad order values", problem)
                self._resync_orders("an order frame with bad values")
                return None
        return orders

    def _resync_orders(self, why: str) -> None:
        """Orders may be wrong: `WsInfo` resubscribes the order streams (here: replay, log)."""
        now = time.monotonic()
        if now - self._orders_resync_at < ORDERS_RESYNC_INTERVAL_S:
            return
        self._orders_resync_at = now
        if not self._resubscribe_orders():
            logger.warning("ws: %s; the orders resync waits for the next snapshot", why)
            return
        logger.warning("ws: %s; resubscribing the order streams", why)
        self.stats.order_resyncs += 1

    def _resubscribe_orders(self) -> bool:
        """Ask for a fresh orders snapshot; False when there is no socket (replay mode)."""
        return False

    def _books_down(self) -> None:
        """The socket is down or silent: every book is stale until its next snapshot."""
        for book in self._books.values():
            book.mark_stale()

    def _on_orders_snapshot(self, msg: dict[str, Any]) -> None:
        """Snapshot = every live order of the account: it replaces the cache (resync)."""
        self._ack(msg)
        orders = self._valid_orders(flatten(msg.get("orders")))
        if orders is None:
            return
        self._replace_orders(orders, None)
        self._orders_arrived(orders)

    def _on_orders_snapshot_market(self, msg: dict[str, Any]) -> None:
        """Per-market snapshot: replaces that market's orders only."""
        self._ack(msg)
        orders = self._valid_orders(flatten(msg.get("orders")))
        if orders is None:
            return
        family_args = str(msg.get("channel", "")).split(":")
        market = int(family_args[1]) if len(family_args) > 1 else None
        self._replace_orders(orders, market)
        self._orders_arrived(orders)

    def _replace_orders(self, orders: list[dict[str, Any]], market: int | None) -> None:
        """Make the cache equal a snapshot of live orders (all markets, or one market)."""
        CoiCache(1).apply_orders(orders)  # validates before the cache is touched
        cache = self._coi
        if market is None:
            cache.clear()
        else:
            for order in cache.values():
                if order.get("market_index") == market:
                    cache.pop(order.get("client_order_index"))
        cache.apply_orders(orders)
        hook = self.on_orders_resync
        if hook is not None:
            self._call_hook(hook, cache.values())

    def _on_orders(self, msg: dict[str, Any]) -> None:
        orders = self._valid_orders(flatten(msg.get("orders")))
        if not orders:
            return
        self._coi.apply_orders(orders)
        self._orders_arrived(orders)

    def _orders_arrived(self, orders: list[dict[str, Any]]) -> None:
        """Remember finished orders, wake COI waiters, run the on_orders hook."""
        finished = self._finished
        for order in orders:
            coi = order.get("client_order_index")
            if not coi:
                continue
            status = order.get("status")
            if type(status) is str and _is_terminal(status):
                finished[coi] = tuple([order.get(f) for f in FINISHED_FIELDS])
                finished.move_to_end(coi)
                if len(finished) > RECENT_FINISHED_SIZE:
                    finished.popitem(last=False)
            elif finished:
                finished.pop(coi, None)  # the COI is live again: forget its old ending
        waiters = self._coi_waiters
        if waiters:
            for order in orders:
                futs = waiters.pop(order.get("client_order_index", 0), None)
                if futs:
                    for fut in futs:
                        if not fut.done():
                            fut.set_result(order)
        hook = self.on_orders
        if hook is not None and orders:
            self._call_hook(hook, orders)

    # replies, errors, control ----------------------------------------------------------------
    def _on_tx_reply(self, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        conn = self._conn
        if rid is not None and conn is not None and conn.resolve_reply(rid, msg):
            return
        hook = self.on_tx_reply
        if hook is not None:
            self._call_hook(hook, msg)
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug("ws: tx reply nobody waited for (id=%r)", rid)

    def _on_error_frame(self, msg: dict[str, Any]) -> None:
        self.stats.error_frames += 1
        rid = msg.get("id")
        conn = self._conn
        if rid is not None and conn is not None and conn.resolve_reply(rid, msg):
            return
        err = msg.get("error")
        if isinstance(err, dict):
            code, message = err.get("code"), err.get("message")
        else:
            code, message = msg.get("code"), msg.get("message")
        logger.warning("ws: error frame code=%s message=%s", code, message)
        hook = self.on_error
        if hook is not None:
            self._call_hook(hook, msg)

    def _on_control(self, msg: dict[str, Any]) -> None:
        """connected / ping / pong / shutdown / unsubscribed: the transport acts on them."""
        if msg.get("type") == "ping" and self._conn is not None and self._conn.connected:
            with contextlib.suppress(WsClosed):
                self._conn.send_raw(PONG)
