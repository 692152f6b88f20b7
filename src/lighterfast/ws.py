"""`WsInfo`: order, trade and book state kept from Lighter's WebSocket streams.

Every received text frame goes through `feed_raw` (public: recorded sessions replay through
it): orjson parses it once, a precomputed table routes it by its `type`, the compiled caches
(COI cache, order books) are updated, then the hooks run. Reads (`get_ltp`,
`get_recent_trades`, `get_order_by_coi`, `get_order_book`) are synchronous and O(1).

Tx replies (for the dealer): every request carries a unique `data.id`; its reply frame
(`jsonapi/sendtx*`, or an error frame `{"error":…,"id":…}`) resolves the future registered
for that id on the connection, from this frame path. Use `send_tx` / `send_tx_batch` (they
return a decoded `wire.TxReply`, errors included, never raised), or lower level
`rid = ws.new_request_id(); await ws.request(wire.encode_sendtx_batch(..., request_id=rid),
rid, timeout)` for the raw reply dict. A socket drop fails the waiters with `WsClosed`; a
timeout raises `asyncio.TimeoutError`. Replies nobody waits for go to the `on_tx_reply` hook.
A bare `transport.websocket.WsConnection` (no WsInfo) routes replies by id on its own.

Reconnects resubscribe every channel and resync: books by their fresh snapshots (deltas
drop until then), open orders by REST `accountActiveOrders` once and by the orders snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import time
from asyncio import FIRST_COMPLETED
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

import orjson

from . import protocol as P
from ._checks import check_flag, check_int, check_seconds
from ._counters import Counters
from .config import resolve_base_url
from .core import IMPLEMENTATION, CoiCache, OrderBook, order_book_market
from .errors import ConfigError, MarketNotFound, WsClosed
from .markets import fetch_market_rows, lookup_static, resolve_market
from .runner import run
from .transport.websocket import WsConnection, ws_url_for
from .wire import (
    PONG,
    TxReply,
    encode_sendtx,
    encode_sendtx_batch,
    encode_subscribe,
    encode_unsubscribe,
    parse_tx_reply,
    subscribe_channel,
    to_frame_channel,
)

logger = logging.getLogger("lighterfast.ws")

__all__ = ["WsInfo", "WsInfoStats", "run"]

Hook = Callable[[Any], Any]
"""A hook: a plain function or a coroutine function taking the frame's payload."""

DEFAULT_COI_CACHE_SIZE = 65536
DEFAULT_TAPE_SIZE = 1000
# Finished orders remembered so that wait_order_by_coi() also sees an order that was filled
# or canceled before the wait started (the COI cache drops terminal orders at once).
RECENT_FINISHED_SIZE = 4096
RAW_SCAN_BOOKS = 4  # up to this many books, each is asked in turn; beyond, route by channel
MALFORMED_WARNINGS = 20  # then one warning per 1000 malformed frames (a broken feed is loud)
REST_RESYNC_TIMEOUT_S = 5.0

_CONFIG_KEYS = frozenset(
    {
        "base_url",
        "account_index",
        "l1_private_key",
        "api_keys",
        "api_key_index",
        "api_key_private_key",
    }
)

_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_loads = orjson.loads
_order_book_market = order_book_market
_JSONDecodeError = orjson.JSONDecodeError
_is_terminal = P.is_terminal_status


class WsInfoStats(Counters):
    """Counters of the frame path (plain attributes)."""

    __slots__ = (
        "book_duplicates",
        "book_gaps",
        "book_resyncs",
        "error_frames",
        "hook_errors",
        "malformed",
        "reauths",
        "reconnects",
        "rest_resyncs",
        "unknown",
    )
    book_duplicates: int
    book_gaps: int
    book_resyncs: int
    error_frames: int
    hook_errors: int
    malformed: int
    reauths: int
    reconnects: int
    rest_resyncs: int
    unknown: int


def _flatten(value: Any) -> list[dict[str, Any]]:
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


def _overlay_options() -> frozenset[str]:
    """Override names `run_overlay_from_config` accepts besides the config keys."""
    names = set(inspect.signature(WsInfo.run_overlay).parameters)
    names |= set(inspect.signature(WsInfo.__init__).parameters)
    return frozenset(names - {"self", "cls", "opts"}) | {"signer", "token_provider"}


def _http_url(base_url: str) -> str:
    """WebSocket or REST URL → the REST base URL."""
    url = base_url.rstrip("/")
    if url.endswith(P.WS_PATH):
        url = url[: -len(P.WS_PATH)]
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


def _check_index(name: str, value: Any, hi: int) -> int:
    return check_int(name, value, 0, hi)


class WsInfo:
    """WebSocket state for one account and/or markets: COI cache, trade tapes, LTP, books.

    Build it with a factory (`run_overlay`, `run_overlay_from_config`,
    `run_public_trades_simple`) or `replay()`; close with `aclose()` or `async with`.
    """

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
        if isinstance(books, (str, bytes)) or not isinstance(books, Sequence):
            raise TypeError(f"books: expected a list of market indexes, got {type(books).__name__}")
        if account_index is not None:
            _check_index("account_index", account_index, P.MAX_ACCOUNT_INDEX)
        if api_key_index is not None:
            _check_index("api_key_index", api_key_index, P.MAX_API_KEY_INDEX)
        if market_id is not None:
            _check_index("market_id", market_id, P.MAX_SPOT_MARKET_INDEX)
        self.base_url = None if base_url is None else _http_url(base_url)
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
        self._finished: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._coi_waiters: dict[int, list[asyncio.Future[dict[str, Any]]]] = {}
        self._own_trades: deque[dict[str, Any]] = deque(maxlen=tape_size)
        self._public_trades: deque[dict[str, Any]] = deque(maxlen=tape_size)
        self._last_public_trade_id = -1
        self._ltp: float | None = None

        self._decimals: dict[int, tuple[int, int]] = dict(decimals or {})
        self._books: dict[int, OrderBook] = {}
        self._books_by_channel: dict[str, OrderBook] = {}
        self._book_channels: dict[int, str] = {}
        # The raw-bytes book path pays off only with the compiled core (the twin parses JSON).
        self._raw_path = IMPLEMENTATION == "compiled"
        self._raw_books: tuple[OrderBook, ...] = ()  # books fed by the raw path
        self._resyncing: set[str] = set()
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
            self._add_book(_check_index("books[]", market, P.MAX_SPOT_MARKET_INDEX))
            self._subscriptions[subscribe_channel(P.CH_ORDER_BOOK, market)] = False

        self._token_provider = token_provider
        self._token_version: Any = None
        self._rest = rest
        self._owns_rest = False
        self._owned_closers: list[Callable[[], Awaitable[Any]]] = []
        self._resync_rest = resync_rest
        self._reauth_on_refresh = reauth_on_refresh
        self._ping_interval = ping_interval
        self._connection_options = dict(connection_options or {})
        self._conn: WsConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hook_queue: asyncio.Queue[Awaitable[Any]] | None = None
        self._hook_task: asyncio.Task[None] | None = None
        self._connect_count = 0
        self._request_ids = itertools.count(1)
        self._id_prefix = f"lf{os.getpid()}-{id(self) & 0xFFFF:x}-"
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

    # --- factories ------------------------------------------------------------------------------
    @classmethod
    def replay(
        cls,
        market_id: int | Sequence[int] | None = None,
        price_decimals: int | Mapping[int, int] | None = None,
        size_decimals: int | Mapping[int, int] | None = None,
        **opts: Any,
    ) -> WsInfo:
        """A socket-less WsInfo driven only by `feed_raw` (backtests, benchmarks, tests).

        Books are kept for `market_id` (one or several); decimals come from the arguments
        (an int, or a dict per market) or from the known markets table.
        """
        markets: list[int]
        if market_id is None:
            markets = sorted(price_decimals) if isinstance(price_decimals, Mapping) else []
        elif isinstance(market_id, int):
            markets = [market_id]
        else:
            markets = list(market_id)
        decimals: dict[int, tuple[int, int]] = {}
        for market in markets:
            pd = (
                price_decimals.get(market)
                if isinstance(price_decimals, Mapping)
                else price_decimals
            )
            sd = size_decimals.get(market) if isinstance(size_decimals, Mapping) else size_decimals
            if pd is None or sd is None:
                known = _known_decimals(market)
                if known is None:
                    raise MarketNotFound(
                        f"market_id {market}: unknown decimals; pass price_decimals= and "
                        "size_decimals="
                    )
                pd = known[0] if pd is None else pd
                sd = known[1] if sd is None else sd
            decimals[market] = (int(pd), int(sd))
        single = markets[0] if len(markets) == 1 else None
        opts.setdefault("base_url", None)
        info = cls(market_id=single, decimals=decimals, account_streams=False, **opts)
        for market in markets:
            info._add_book(market)
        return info

    @classmethod
    async def run_overlay(
        cls,
        account_index: int,
        api_key_index: int,
        api_key_private_key: str,
        *,
        symbol: str | None = None,
        market_id: int | None = None,
        base_url: str | None = None,
        ping_interval: float = P.WS_DEFAULT_PING_INTERVAL_S,
        chain_id: int | None = None,
        public_trades: bool = True,
        order_book: bool = False,
        books: Sequence[int] | None = None,
        token_lifetime: float = float(P.AUTH_TOKEN_DEFAULT_LIFETIME_S),
        token_refresh_margin: float = 60.0,
        connect_timeout: float = 10.0,
        **opts: Any,
    ) -> WsInfo:
        """Account streams (orders, own trades) plus the market's public trades, running.

        The auth token is made locally by the signer and refreshed before expiry; the socket
        keeps alive, reconnects with backoff and jitter, resubscribes and resyncs.
        `base_url`: else LIGHTER_BASE_URL, else config.json's; no default (ConfigError).
        """
        base_url = resolve_base_url(base_url)
        _check_index("account_index", account_index, P.MAX_ACCOUNT_INDEX)
        _check_index("api_key_index", api_key_index, P.MAX_API_KEY_INDEX)
        token_provider = opts.pop("token_provider", None)
        signer = opts.pop("signer", None)
        if (
            token_provider is None
            and signer is None
            and (not isinstance(api_key_private_key, str) or not api_key_private_key)
        ):
            raise ConfigError("api_key_private_key: missing")
        market, decimals = await _resolve_market(symbol, market_id, base_url)
        book_markets = list(books or [])
        if order_book and market is not None and market not in book_markets:
            book_markets.append(market)
        all_decimals = await _resolve_decimals(book_markets, base_url, decimals)

        # Helpers made here are owned (closed by aclose); ones passed in stay the caller's.
        owned: list[Callable[[], Awaitable[Any]]] = []
        if token_provider is None:
            from .auth import AuthTokenProvider

            if signer is None:
                from .signing import SdkSigner

                signer = SdkSigner(
                    account_index,
                    {api_key_index: api_key_private_key},
                    chain_id=chain_id,
                    base_url=base_url,
                )
                owned.append(_as_async(signer.close))
            token_provider = AuthTokenProvider(
                signer, api_key_index, lifetime=token_lifetime, refresh_margin=token_refresh_margin
            )
            owned.insert(0, token_provider.aclose)
        try:
            info = cls(
                base_url=base_url,
                account_index=account_index,
                api_key_index=api_key_index,
                market_id=market,
                public_trades=public_trades and market is not None,
                books=book_markets,
                decimals=all_decimals,
                token_provider=token_provider,
                ping_interval=ping_interval,
                **opts,
            )
        except BaseException:
            for closer in owned:
                await closer()
            raise
        info._owned_closers.extend(owned)
        try:
            if owned:
                token_provider.start()
            await info.start(timeout=connect_timeout)
        except BaseException:
            await info.aclose()
            raise
        return info

    @classmethod
    async def run_overlay_from_config(
        cls, path: str = "config.json", overrides: Mapping[str, Any] | None = None
    ) -> WsInfo:
        """`run_overlay` with secrets from config.json/env and the rest from `overrides`.

        Precedence: overrides > environment > file (api-contract "Configuration precedence");
        overrides that are not config keys (symbol, market_id, ...) go to `run_overlay`.
        """
        from .config import load_lighter_config

        over = dict(overrides or {})
        cfg = load_lighter_config(path, over, accept=_overlay_options())
        extra = {k: v for k, v in over.items() if k not in _CONFIG_KEYS}
        return await cls.run_overlay(
            cfg["account_index"],
            cfg["api_key_index"],
            cfg["api_key_private_key"],
            base_url=cfg["base_url"],
            **extra,
        )

    @classmethod
    async def run_public_trades_simple(
        cls,
        symbol: str | None = None,
        market_id: int | None = None,
        *,
        base_url: str | None = None,
        order_book: bool = False,
        books: Sequence[int] | None = None,
        connect_timeout: float = 10.0,
        **opts: Any,
    ) -> WsInfo:
        """Public `trade/<market>` stream only (no keys): LTP and the public tape.

        `base_url`: else LIGHTER_BASE_URL, else config.json's; no default (ConfigError).
        """
        base_url = resolve_base_url(base_url)
        market, decimals = await _resolve_market(symbol, market_id, base_url)
        if market is None:
            raise ConfigError("pass symbol= or market_id=")
        book_markets = list(books or [])
        if order_book and market not in book_markets:
            book_markets.append(market)
        all_decimals = await _resolve_decimals(book_markets, base_url, decimals)
        info = cls(
            base_url=base_url,
            market_id=market,
            public_trades=True,
            books=book_markets,
            decimals=all_decimals,
            **opts,
        )
        try:
            await info.start(timeout=connect_timeout)
        except BaseException:
            await info.aclose()
            raise
        return info

    # --- life cycle -----------------------------------------------------------------------------
    async def start(self, *, timeout: float | None = 10.0) -> None:
        """Open the socket, subscribe, and wait until subscribed (WsClosed on timeout)."""
        if self._closed:
            raise WsClosed("WsInfo is closed")
        if self.base_url is None:
            raise ConfigError("base_url missing: this WsInfo has no URL to connect to")
        if self._conn is None:
            options = dict(self._connection_options)
            options.setdefault("ping_interval", self._ping_interval)
            self._conn = WsConnection(
                ws_url_for(self.base_url),
                on_frame=self.feed_raw,
                on_connected=self._on_connected,
                name="ws",
                **options,
            )
        await self._conn.start(wait=True, timeout=timeout)
        if self._token_provider is not None and self._reauth_on_refresh and not self._tasks:
            self._spawn(self._reauth_loop(), "reauth")

    async def aclose(self) -> None:
        """Stop every task, close the socket and owned helpers; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._conn is not None:
            await self._conn.close()
        tasks = list(self._tasks)
        if self._hook_task is not None:
            tasks.append(self._hook_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._hook_task = None
        queue = self._hook_queue
        while queue is not None and not queue.empty():
            leftover = queue.get_nowait()
            queue.task_done()
            if inspect.iscoroutine(leftover):
                leftover.close()  # closed before it could run: drop it quietly
        for waiters in self._coi_waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(WsClosed("WsInfo closed while waiting for the order"))
        self._coi_waiters.clear()
        closers, self._owned_closers = self._owned_closers, []
        for closer in closers:
            try:
                await closer()
            except Exception:
                logger.exception("ws: closing a helper failed")
        if self._rest is not None and self._owns_rest:
            with contextlib.suppress(Exception):
                await self._rest.close()

    async def __aenter__(self) -> WsInfo:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def connection(self) -> WsConnection | None:
        """The live WebSocket connection (None in replay mode)."""
        return self._conn

    @property
    def connected(self) -> bool:
        """True while the socket is up and subscribed."""
        return self._conn is not None and self._conn.connected

    @property
    def subscriptions(self) -> list[str]:
        """Subscribe keys this WsInfo keeps (resubscribed after every reconnect)."""
        return list(self._subscriptions)

    # --- reads ----------------------------------------------------------------------------------
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
        return self._coi.get(_check_index("coi", coi, P.MAX_COI))  # type: ignore[no-any-return]

    def get_order_book(self, market: int | None = None) -> OrderBook | None:
        """The order book of `market` (default: this WsInfo's market, else its only book)."""
        self._check_open()
        if market is None:
            if self.market_id is not None and self.market_id in self._books:
                return self._books[self.market_id]
            if len(self._books) == 1:
                return next(iter(self._books.values()))
            return None
        return self._books.get(_check_index("market", market, P.MAX_SPOT_MARKET_INDEX))

    @property
    def coi_cache(self) -> Any:
        """The COI cache (core `CoiCache`): live orders keyed by client order index."""
        return self._coi

    async def wait_order_by_coi(
        self, coi: int, timeout: float | None = 5.0
    ) -> dict[str, Any] | None:
        """The order frame for `coi` as soon as it arrives (or at once if known); None on timeout.

        Resolved by the frame path itself (a per-COI future), no polling. A recently finished
        order (filled/canceled) counts as arrived.
        """
        if type(coi) is bool or not isinstance(coi, int):
            raise TypeError(f"coi: expected an int, got {type(coi).__name__}")
        _check_index("coi", coi, P.MAX_COI)
        if timeout is not None and (
            type(timeout) is bool or not isinstance(timeout, (int, float)) or not timeout >= 0
        ):
            raise ValueError(f"timeout: expected seconds >= 0 (or None), got {timeout!r}")
        self._check_open()  # a closed stream will never deliver it: say so now, not at timeout
        order = self._coi.get(coi)
        if order is None:
            order = self._finished.get(coi)
        if order is not None:
            return order  # type: ignore[no-any-return]
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

    # --- sending (for the dealer) ---------------------------------------------------------------
    def new_request_id(self) -> str:
        """A request id unique on this connection."""
        return self._id_prefix + str(next(self._request_ids))

    async def request(
        self, payload: bytes, request_id: str, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Send a frame carrying `data.id=request_id` and return its reply frame (raw dict)."""
        if self._conn is None:
            raise WsClosed("WsInfo has no connection (replay mode or not started)")
        return await self._conn.request(payload, request_id, timeout)

    async def send_tx(self, tx_type: int, tx_info: str, *, timeout: float = 5.0) -> TxReply:
        """Send one signed tx over the socket and return its decoded reply (not raised)."""
        rid = self.new_request_id()
        msg = await self.request(encode_sendtx(tx_type, tx_info, request_id=rid), rid, timeout)
        return parse_tx_reply(msg)

    async def send_tx_batch(
        self,
        tx_types: Sequence[int],
        tx_infos: Sequence[str],
        *,
        timeout: float = 5.0,
        max_batch: int | None = P.MAX_BATCH_STRICT,
    ) -> TxReply:
        """Send one `jsonapi/sendtxbatch` frame and return its decoded reply (not raised)."""
        rid = self.new_request_id()
        payload = encode_sendtx_batch(tx_types, tx_infos, request_id=rid, max_batch=max_batch)
        return parse_tx_reply(await self.request(payload, rid, timeout))

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
                self.stats.book_duplicates += 1  # a repeated (already applied) delta
                return
            if result == 0:
                assert book is not None
                self._book_not_applied(book)
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

    def _bad_frame(self, what: str, exc: BaseException) -> None:
        """Count and log a dropped frame (warnings for the first few, then every 1000th)."""
        self.stats.malformed += 1
        n = self.stats.malformed
        if n <= MALFORMED_WARNINGS or n % 1000 == 0:
            logger.warning(
                "ws: dropped malformed frame #%d (%s: %s: %s)", n, what, type(exc).__name__, exc
            )
        elif logger.isEnabledFor(logging.DEBUG):
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
        decimals = self._decimals.get(market) or _known_decimals(market)
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
        order_book = msg["order_book"]
        if order_book["nonce"] <= book.nonce and not book.is_stale:
            self.stats.book_duplicates += 1  # a repeated (already applied) delta, not a gap
            return
        if book.apply_update(order_book):
            hook = self.on_order_book
            if hook is not None:
                self._call_hook(hook, book)
            return
        self._book_not_applied(book)

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
        ok = book.apply_snapshot(msg["order_book"])
        self._resyncing.discard(channel)
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

    def _public(self, msg: dict[str, Any], snapshot: bool) -> None:
        trades = _flatten(msg.get("trades"))
        liquidations = msg.get("liquidation_trades")
        if liquidations:
            trades = trades + _flatten(liquidations)
        if not trades:
            return
        if snapshot and self._last_public_trade_id >= 0:
            # A re-subscribe replays the last ~50 trades: keep only the unseen ones.
            last = self._last_public_trade_id
            trades = [t for t in trades if int(t.get("trade_id", -1)) > last]
            if not trades:
                return
        newest = trades[0]
        newest_id = int(newest.get("trade_id", -1))
        for trade in trades:
            trade_id = int(trade.get("trade_id", -1))
            if trade_id >= newest_id:
                newest, newest_id = trade, trade_id
        price = float(newest["price"])
        self._public_trades.extend(trades)
        if newest_id > self._last_public_trade_id:
            self._last_public_trade_id = newest_id
        self._ltp = price
        hook = self.on_public_trades
        if hook is not None:
            self._call_hook(hook, trades)

    def _on_own_trades_snapshot(self, msg: dict[str, Any]) -> None:
        self._ack(msg)
        self._on_own_trades(msg)

    def _on_own_trades(self, msg: dict[str, Any]) -> None:
        trades = _flatten(msg.get("trades"))
        if not trades:
            return
        self._own_trades.extend(trades)
        hook = self.on_trades
        if hook is not None:
            self._call_hook(hook, trades)

    # orders ------------------------------------------------------------------------------------
    def _on_orders_snapshot(self, msg: dict[str, Any]) -> None:
        """Snapshot = every live order of the account: it replaces the cache (resync)."""
        self._ack(msg)
        orders = _flatten(msg.get("orders"))
        self._replace_orders(orders, None)
        self._orders_arrived(orders)

    def _on_orders_snapshot_market(self, msg: dict[str, Any]) -> None:
        """Per-market snapshot: replaces that market's orders only."""
        self._ack(msg)
        orders = _flatten(msg.get("orders"))
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
        orders = _flatten(msg.get("orders"))
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
                finished[coi] = order
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

    # hooks -------------------------------------------------------------------------------------
    def _call_hook(self, hook: Hook, payload: Any) -> None:
        """Run a hook; a raising hook is logged and counted, the stream goes on."""
        try:
            result = hook(payload)
        except Exception:
            self.stats.hook_errors += 1
            logger.exception("ws: hook %s raised", getattr(hook, "__name__", hook))
            return
        if result is not None and inspect.isawaitable(result):
            self._queue_hook(result)

    def _queue_hook(self, awaitable: Awaitable[Any]) -> None:
        """Async hooks run in arrival order on one task."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.stats.hook_errors += 1
            logger.error("ws: async hook called without a running event loop; skipped")
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            return
        if self._hook_queue is None:
            self._hook_queue = asyncio.Queue()
        if self._hook_task is None or self._hook_task.done():
            self._hook_task = loop.create_task(self._hook_runner(), name="lighterfast-ws-hooks")
        self._hook_queue.put_nowait(awaitable)

    async def _hook_runner(self) -> None:
        queue = self._hook_queue
        assert queue is not None
        while True:
            awaitable = await queue.get()
            try:
                await awaitable
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.hook_errors += 1
                logger.exception("ws: async hook raised")
            finally:
                queue.task_done()

    async def drain_hooks(self) -> None:
        """Wait until every queued async hook has run (tests, orderly shutdown)."""
        if self._hook_queue is not None:
            await self._hook_queue.join()

    # connection callbacks ------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"lighterfast-ws-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _token(self) -> str:
        provider = self._token_provider
        assert provider is not None
        token: str = await provider.get()
        self._token_version = getattr(provider, "version", None)
        return token

    async def _on_connected(self) -> None:
        """After every (re)connect: resync what moved while down, then resubscribe everything."""
        conn = self._conn
        assert conn is not None
        self._connect_count += 1
        reconnect = self._connect_count > 1
        if reconnect:
            self.stats.reconnects += 1
        for book in self._books.values():
            book.mark_stale()
        self._resyncing.clear()
        token: str | None = None
        if self._token_provider is not None and any(self._subscriptions.values()):
            token = await self._token()
        if reconnect and self._resync_rest and self.account_index is not None and token:
            await self._resync_orders_rest(token)
        self._awaiting_acks = {to_frame_channel(key): key for key in self._subscriptions}
        self._acks_done.clear()
        for key, private in self._subscriptions.items():
            conn.send_raw(encode_subscribe(key, token if private else None))
            if P.CH_ORDER_BOOK + "/" in key:
                self._resyncing.add(to_frame_channel(key))
        # Ready when every channel has sent its snapshot (errors carry no channel, §4.3).
        if self._awaiting_acks:
            acked = asyncio.ensure_future(self._acks_done.wait())
            lost = asyncio.ensure_future(conn.wait_socket_lost())
            try:
                await asyncio.wait(
                    {acked, lost}, timeout=self._subscribe_timeout, return_when=FIRST_COMPLETED
                )
            finally:
                acked.cancel()
                lost.cancel()
            if self._awaiting_acks and not lost.done():
                logger.warning(
                    "ws: no snapshot within %.1f s for %s; continuing without it",
                    self._subscribe_timeout,
                    sorted(self._awaiting_acks.values()),
                )
            self._awaiting_acks = {}

    async def _resync_orders_rest(self, token: str) -> None:
        """Open orders via REST `accountActiveOrders` once after a reconnect (auth header)."""
        rest = self._rest
        if rest is None:
            try:
                rest = self._make_rest()
            except Exception:
                logger.exception("ws: no REST client for the open-orders resync")
                return
        try:
            body = await asyncio.wait_for(
                rest.get("accountActiveOrders", {"account_index": self.account_index}, auth=token),
                REST_RESYNC_TIMEOUT_S,
            )
            orders = _flatten(body.get("orders"))
            self._replace_orders(orders, None)
            self.stats.rest_resyncs += 1
        except Exception as exc:
            logger.warning(
                "ws: open-orders resync over REST failed (%s: %s); the stream snapshot will do",
                type(exc).__name__,
                exc,
            )

    def _make_rest(self) -> Any:
        from .core import WeightLimiter
        from .transport.rest import RestClient

        assert self.base_url is not None
        rest = RestClient(
            self.base_url,
            limiter=WeightLimiter(P.STANDARD_REQUESTS_PER_MINUTE),
            standard_account=True,
        )
        self._rest = rest
        self._owns_rest = True
        return rest

    async def _reauth_loop(self) -> None:
        """When the token provider refreshes, re-subscribe private channels with the new token.

        Checks the provider's version a few times per token lifetime (cheap integer compare).
        """
        provider = self._token_provider
        while not self._closed:
            remaining = float(getattr(provider, "deadline", 0.0)) - time.time()
            await asyncio.sleep(min(30.0, max(0.05, remaining / 8.0)))
            version = getattr(provider, "version", None)
            if version is None or version == self._token_version:
                continue
            conn = self._conn
            if conn is None or not conn.connected:
                continue
            try:
                token = await self._token()
            except Exception as exc:
                logger.warning("ws: auth token refresh failed (%s); keeping the old one", exc)
                continue
            try:
                for key, private in self._subscriptions.items():
                    if private:
                        conn.send_raw(encode_unsubscribe(key))
                        conn.send_raw(encode_subscribe(key, token))
            except WsClosed:
                continue  # the reconnect subscribes with a fresh token anyway
            self.stats.reauths += 1


# --- helpers ----------------------------------------------------------------------------------
def _as_async(fn: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        result = fn()
        if inspect.isawaitable(result):
            return await result
        return result

    return call


def _known_decimals(market: int) -> tuple[int, int] | None:
    """(price_decimals, size_decimals) from the static markets table, if listed."""
    info = lookup_static(market_index=market)
    if info is None:
        return None
    return info.price_decimals, info.size_decimals


async def _fetch_market_rows(base_url: str) -> list[Mapping[str, Any]]:
    """The node's market rows (read once per process and node; NodeUnreachable if it is down)."""
    from .core import WeightLimiter
    from .transport.rest import RestClient

    rest = RestClient(_http_url(base_url), limiter=WeightLimiter(P.STANDARD_REQUESTS_PER_MINUTE))
    try:
        return await fetch_market_rows(rest)
    finally:
        await rest.close()


async def _resolve_market(
    symbol: str | None, market_id: int | None, base_url: str
) -> tuple[int | None, dict[int, tuple[int, int]]]:
    """(market index, {index: decimals}) for a symbol or an index, from the node's table."""
    if symbol is None and market_id is None:
        return None, {}
    info = await resolve_market(
        symbol=symbol,
        market_index=market_id,
        base_url=_http_url(base_url),
        fetcher=lambda: _fetch_market_rows(base_url),
    )
    return info.market_index, {info.market_index: (info.price_decimals, info.size_decimals)}


async def _resolve_decimals(
    markets: Sequence[int], base_url: str, known: Mapping[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    out = dict(known)
    for market in markets:
        if market not in out:
            _, found = await _resolve_market(None, market, base_url)
            if market not in found:
                raise MarketNotFound(f"market_id {market}: unknown decimals for its order book")
            out.update(found)
    return out
