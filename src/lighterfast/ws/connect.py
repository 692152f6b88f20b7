"""`WsInfo`: the factories, market/decimals resolution, and the socket's life cycle.

Reconnects resubscribe every channel and resync: books by their fresh snapshots (deltas
drop until then), open orders by REST `accountActiveOrders` once and by the orders snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from .. import protocol as P
from ..config import resolve_base_url
from ..errors import ConfigError, MarketNotFound, WsClosed
from ..markets import fetch_market_rows, resolve_market
from ..transport.websocket import WsConnection
from ..wire import (
    TxReply,
    encode_sendtx,
    encode_sendtx_batch,
    encode_subscribe,
    encode_unsubscribe,
    http_url_for,
    parse_tx_reply,
    to_frame_channel,
    ws_url_for,
)
from .reads import WsReads
from .state import check_index, flatten, known_decimals

logger = logging.getLogger("lighterfast.ws")

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


def _overlay_options() -> frozenset[str]:
    """Override names `run_overlay_from_config` accepts besides the config keys."""
    names = set(inspect.signature(WsInfo.run_overlay).parameters)
    for klass in WsInfo.__mro__:  # every layer's __init__ (account.py's passes **kw on)
        if "__init__" in vars(klass) and klass is not object:
            names |= set(inspect.signature(vars(klass)["__init__"]).parameters)
    return frozenset(names - {"self", "cls", "opts", "kw"}) | {"signer", "token_provider"}


class WsInfo(WsReads):
    """WebSocket state for one account and/or markets: COI cache, trade tapes, LTP, books,
    positions, balance, market stats and tickers.

    Build it with a factory (`run_overlay`, `run_overlay_from_config`,
    `run_public_trades_simple`) or `replay()`; close with `aclose()` or `async with`.
    """

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
                known = known_decimals(market)
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
        """Account streams (orders, own trades, positions, balance) plus the market's public
        trades and market stats, running (`ticker=True` adds the best bid/ask stream).

        The auth token is made locally by the signer and refreshed before expiry; the socket
        keeps alive, reconnects with backoff and jitter, resubscribes and resyncs.
        `base_url`: else LIGHTER_BASE_URL, else config.json's; no default (ConfigError).
        """
        base_url = resolve_base_url(base_url)
        check_index("account_index", account_index, P.MAX_ACCOUNT_INDEX)
        check_index("api_key_index", api_key_index, P.MAX_API_KEY_INDEX)
        token_provider = opts.pop("token_provider", None)
        signer = opts.pop("signer", None)
        if (
            token_provider is None
            and signer is None
            and (not isinstance(api_key_private_key, str) or not api_key_private_key)
        ):
            raise ConfigError("api_key_private_key: missing")
        market, decimals = await _resolve_market(symbol, market_id, base_url, account_index)
        book_markets = list(books or [])
        if order_book and market is not None and market not in book_markets:
            book_markets.append(market)
        all_decimals = await _resolve_decimals(book_markets, base_url, decimals, account_index)

        # Helpers made here are owned (closed by aclose); ones passed in stay the caller's.
        owned: list[Callable[[], Awaitable[Any]]] = []
        if token_provider is None:
            from ..signing import AuthTokenProvider

            if signer is None:
                from ..signing import SdkSigner

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
        opts.setdefault("market_stats", market is not None)
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
        from ..config import load_lighter_config

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
        opts.setdefault("market_stats", True)
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
            options.setdefault("pong_timeout", self._pong_timeout)
            self._conn = WsConnection(
                ws_url_for(self.base_url),
                on_frame=self.feed_raw,
                on_connected=self._on_connected,
                on_disconnected=self._books_down,
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

    # --- sending (for the dealer) ---------------------------------------------------------------
    def new_request_id(self) -> str:
        """A request id unique on this connection (the connection's own scheme, the only one)."""
        if self._conn is None:
            raise WsClosed("WsInfo has no connection (replay mode or not started)")
        return self._conn.new_request_id()

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
        self._account_down()  # positions/balance follow the node again at their snapshots
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
            orders = self._valid_orders(flatten(body.get("orders")))
            if orders is None:
                return
            self._replace_orders(orders, None)
            self.stats.rest_resyncs += 1
        except Exception as exc:
            logger.warning(
                "ws: open-orders resync over REST failed (%s: %s); the stream snapshot will do",
                type(exc).__name__,
                exc,
            )

    def _make_rest(self) -> Any:
        """A REST client charged to the account's shared budget (the dealer's, if one is open)."""
        from ..transport.budget import budget_for
        from ..transport.rest import RestClient

        assert self.base_url is not None
        rest = RestClient(self.base_url, limiter=budget_for(self.base_url, self.account_index))
        self._rest = rest
        self._owns_rest = True
        if self.on_rest_client is not None:
            self.on_rest_client(rest)
        return rest

    def _resubscribe_orders(self) -> bool:
        """Unsubscribe + subscribe the private order streams (fresh token): a new snapshot."""
        return self._resubscribe_keys(
            [k for k, private in self._subscriptions.items() if private and "orders" in k]
        )

    def _resubscribe_keys(self, keys: list[str]) -> bool:
        """Unsubscribe + subscribe `keys` (private ones with a fresh token): new snapshots.

        False when there is nothing to do it with (no socket, not connected, or no token for
        a private key): the next reconnect's snapshots heal the state instead.
        """
        conn = self._conn
        keys = [k for k in keys if k in self._subscriptions]
        private = any(self._subscriptions[k] for k in keys)
        if conn is None or not conn.connected or not keys:
            return False
        if private and self._token_provider is None:
            return False

        async def resubscribe() -> None:
            token = await self._token() if private else None
            with contextlib.suppress(WsClosed):  # down: the reconnect resubscribes anyway
                for key in keys:
                    auth = token if self._subscriptions[key] else None
                    conn.send_raw(encode_unsubscribe(key))
                    conn.send_raw(encode_subscribe(key, auth))

        self._spawn(resubscribe(), "resync")
        return True

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


async def _fetch_market_rows(
    base_url: str, account_index: int | None = None
) -> list[Mapping[str, Any]]:
    """The node's market rows (read once per process and node; NodeUnreachable if it is down).

    Charged to the account's shared budget (`transport.budget`; None: the host's token-free).
    """
    from ..transport.budget import budget_for
    from ..transport.rest import RestClient

    url = http_url_for(base_url)
    rest = RestClient(url, limiter=budget_for(url, account_index))
    try:
        return await fetch_market_rows(rest)
    finally:
        await rest.close()


async def _resolve_market(
    symbol: str | None, market_id: int | None, base_url: str, account_index: int | None = None
) -> tuple[int | None, dict[int, tuple[int, int]]]:
    """(market index, {index: decimals}) for a symbol or an index, from the node's table."""
    if symbol is None and market_id is None:
        return None, {}
    info = await resolve_market(
        symbol=symbol,
        market_index=market_id,
        base_url=http_url_for(base_url),
        fetcher=lambda: _fetch_market_rows(base_url, account_index),
    )
    return info.market_index, {info.market_index: (info.price_decimals, info.size_decimals)}


async def _resolve_decimals(
    markets: Sequence[int],
    base_url: str,
    known: Mapping[int, tuple[int, int]],
    account_index: int | None = None,
) -> dict[int, tuple[int, int]]:
    out = dict(known)
    for market in markets:
        if market not in out:
            _, found = await _resolve_market(None, market, base_url, account_index)
            if market not in found:
                raise MarketNotFound(f"market_id {market}: unknown decimals for its order book")
            out.update(found)
    return out
