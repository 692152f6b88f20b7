"""WebSocket sessions and channels of the local node: subscribe/unsubscribe, snapshots, updates.

One `WsSession` per socket with an ordered outbound queue (a writer task drains it), so a tx
reply queued before the frames its execution causes is always written first.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from lighterfast import protocol as p

from .book import Changes
from .engine import Engine
from .shapes import (
    asset_json,
    levels_json,
    market_stats_json,
    order_json,
    position_json,
    stats_json,
    trade_json,
)
from .txparse import TxError

_dumps = orjson.dumps


def error_frame(code: int, message: str | None = None, req_id: Any = None) -> bytes:
    """`{"error":{"code","message"}}` (+ echoed id when known)."""
    msg = message if message is not None else p.ERROR_MESSAGES.get(code, "error")
    frame: dict[str, Any] = {"error": {"code": code, "message": msg}}
    if req_id is not None:
        frame["id"] = req_id
    return _dumps(frame)


class WsSession:
    """One client socket: subscriptions, liveness clocks and an ordered outbound queue."""

    def __init__(self, ws: web.WebSocketResponse, readonly: bool, remote: str = "") -> None:
        self.ws = ws
        self.readonly = readonly
        self.remote = remote
        # Frames queued / written so far, and the queue positions of subscribe/unsubscribe
        # replies: those not written yet are the "inflight" requests of §4.9.
        self.queued = 0
        self.written = 0
        self.reply_marks: deque[int] = deque()
        self.sub_deadlines: dict[str, int] = {}  # private channel -> auth token deadline (s)
        self.session_id = str(uuid.uuid4())
        self.subs: set[str] = set()
        self.out: deque[bytes] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.stalled = False
        now = time.monotonic()
        self.last_client_frame = now
        self.last_server_ping = now
        self.ping_outstanding_since: float | None = None
        self.writer_task: asyncio.Task[None] | None = None

    def send(self, data: bytes) -> None:
        """Queue one text frame (dropped silently once the socket is closed)."""
        if self.closed:
            return
        self.out.append(data)
        self.queued += 1
        self.wakeup.set()

    def mark_reply(self) -> None:
        """The frame queued last answers a subscribe/unsubscribe request."""
        self.reply_marks.append(self.queued)

    def inflight(self) -> int:
        """Subscribe/unsubscribe requests whose reply is not written to the socket yet."""
        marks = self.reply_marks
        written = self.written
        while marks and marks[0] <= written:
            marks.popleft()
        return len(marks)

    async def writer(self) -> None:
        """Drain the outbound queue in order; stops when the socket closes."""
        ws = self.ws
        out = self.out
        try:
            while not self.closed:
                await self.wakeup.wait()
                self.wakeup.clear()
                while out and not self.stalled and not self.closed:
                    await ws.send_frame(out.popleft(), WSMsgType.TEXT)
                    self.written += 1
        except (ConnectionError, RuntimeError):
            self.closed = True

    async def close(self, code: int, message: bytes = b"") -> None:
        """Flush what is queued (best effort), then close with `code`."""
        if self.closed:
            return
        self.closed = True
        ws = self.ws
        try:
            while self.out and not self.stalled:
                await ws.send_frame(self.out.popleft(), WSMsgType.TEXT)
                self.written += 1
        except (ConnectionError, RuntimeError):
            pass
        self.wakeup.set()
        await ws.close(code=code, message=message)


class StreamHub:
    """All sessions and channel subscriptions; turns engine changes into frames."""

    def __init__(
        self,
        engine: Engine,
        check_auth: Callable[[str, int], TxError | None],
    ) -> None:
        self.engine = engine
        self.check_auth = check_auth
        self.sessions: set[WsSession] = set()
        self.subscribers: dict[str, set[WsSession]] = {}
        self.offset = random.randint(10_000, 100_000)
        self.drop_next_delta: set[int] = set()
        self.duplicate_next_delta: set[int] = set()
        self.private_channels: frozenset[str] = p.PRIVATE_CHANNELS  # §7.7 switch
        self.account_orders_channel = "market_account"  # §7.8: "account_orders:{m}:{a}" / ":{m}"
        self.full_position_updates = False  # §7.9: True = every position in each update
        self.cut_expired_subscriptions = False  # §7.6: drop private subs when the token expires
        self.limits: Callable[[], Any] = lambda: None  # -> RateLimits | None (the node's)

    # --- subscriptions --------------------------------------------------------------------
    def subscribe(self, s: WsSession, channel: object, auth: object) -> None:
        """Handle one subscribe request: validate, register, send the snapshot."""
        if not isinstance(channel, str) or not channel:
            s.send(error_frame(p.ERR_INVALID_CHANNEL, "Invalid Channel: "))
            return
        parts = channel.split("/")
        family = parts[0]
        args = parts[1:]
        key, err = self._resolve(family, args)
        if err is not None:
            s.send(err)
            return
        assert key is not None
        if family in self.private_channels:  # an unneeded `auth` elsewhere is ignored (§4.4)
            if not isinstance(auth, str) or not auth:
                s.send(
                    error_frame(
                        p.ERR_INVALID_PARAM, f"invalid param : auth field is required: {key}"
                    )
                )
                return
            account = int(args[-1])
            auth_err = self.check_auth(auth, account)
            if auth_err is not None:
                s.send(error_frame(auth_err.code, auth_err.message))
                return
        if key in s.subs:
            s.send(error_frame(p.ERR_ALREADY_SUBSCRIBED, f"Already Subscribed to : {key}"))
            return
        limits = self.limits()
        if limits is not None:
            cap = limits.check_subscriptions(len(s.subs))
            if cap is not None:
                s.send(error_frame(cap.code, cap.message))
                return
        if family == p.CH_ORDER_BOOK:
            # Publish pending deltas first so the snapshot's nonce continues the chain.
            self.flush_book(int(args[0]))
        s.subs.add(key)
        self.subscribers.setdefault(key, set()).add(s)
        if family in self.private_channels and isinstance(auth, str):
            s.sub_deadlines[key] = int(auth.split(":", 1)[0])
        s.send(_dumps(self._snapshot(family, args, key)))

    def unsubscribe(self, s: WsSession, channel: object) -> None:
        """Handle one unsubscribe request."""
        if not isinstance(channel, str):
            s.send(error_frame(p.ERR_INVALID_CHANNEL, "Invalid Channel: "))
            return
        key = channel.replace("/", ":")
        if key not in s.subs:
            s.send(error_frame(p.ERR_NOT_SUBSCRIBED, f"Not Subscribed to {key}"))
            return
        s.subs.discard(key)
        s.sub_deadlines.pop(key, None)
        subs = self.subscribers.get(key)
        if subs is not None:
            subs.discard(s)
            if not subs:
                del self.subscribers[key]
        # The live ack is written with spaces after ':' and ',' (protocol §4.3).
        s.send(f'{{"type": "unsubscribed", "channel": "{key}"}}'.encode())

    def drop_session(self, s: WsSession) -> None:
        """Forget a closed session."""
        self.sessions.discard(s)
        for key in s.subs:
            subs = self.subscribers.get(key)
            if subs is not None:
                subs.discard(s)
                if not subs:
                    del self.subscribers[key]
        s.subs.clear()

    def _resolve(self, family: str, args: list[str]) -> tuple[str | None, bytes | None]:
        """Channel key in ':' form, or an error frame."""
        markets = self.engine.specs
        invalid_market = error_frame(p.ERR_INVALID_CHANNEL, "Invalid Channel:  (marketId)")

        def market_ok(a: str, allow_all: bool = False) -> bool:
            if allow_all and a == "all":
                return True
            return a.isdigit() and int(a) in markets

        def account_ok(a: str) -> bool:
            return a.isdigit() and self.engine.accounts.get(int(a)) is not None

        bad = error_frame(p.ERR_INVALID_CHANNEL, f"Invalid Channel: {'/'.join([family, *args])}")
        if family in (p.CH_ORDER_BOOK, p.CH_TRADE, p.CH_TICKER):
            if len(args) != 1:
                return None, bad
            if not market_ok(args[0]):
                return None, invalid_market
            return f"{family}:{args[0]}", None
        if family == p.CH_MARKET_STATS:
            if len(args) != 1:
                return None, bad
            if not market_ok(args[0], allow_all=True):
                return None, invalid_market
            return f"{family}:{args[0]}", None
        if family == p.CH_HEIGHT:
            return (family, None) if not args else (None, bad)
        if family == p.CH_ACCOUNT_ORDERS:
            if len(args) != 2:
                return None, bad
            if not market_ok(args[0]):
                return None, invalid_market
            if not account_ok(args[1]):
                return None, bad
            return f"{family}:{args[0]}:{args[1]}", None
        if family in _ACCOUNT_CHANNELS:
            if len(args) != 1 or not account_ok(args[0]):
                return None, bad
            return f"{family}:{args[0]}", None
        return None, bad

    # --- snapshots ------------------------------------------------------------------------
    def _snapshot(self, family: str, args: list[str], key: str) -> dict[str, Any]:
        eng = self.engine
        now_ms = int(time.time() * 1000)
        t = f"subscribed/{family}"
        if family == p.CH_ORDER_BOOK:
            book = eng.books[int(args[0])]
            self.offset += random.randint(1, 9)
            ob: dict[str, Any] = {
                "code": 0,
                "asks": levels_json(book.levels(True), book.spec),
                "bids": levels_json(book.levels(False), book.spec),
                "offset": self.offset,
                "nonce": book.flushed_nonce,
                "begin_nonce": 0,
                "last_updated_at": book.last_updated_at,
            }
            frame: dict[str, Any] = {
                "type": t,
                "channel": key,
                "timestamp": now_ms,
                "offset": self.offset,
            }
            if book.last_updated_at:
                frame["last_updated_at"] = book.last_updated_at
            frame["order_book"] = ob
            return frame
        if family == p.CH_TRADE:
            book = eng.books[int(args[0])]
            trades = [trade_json(tr, book.spec) for tr in list(book.recent_trades)[-50:]]
            return {
                "type": t,
                "channel": key,
                "nonce": book.trade_nonce,
                "trades": trades,
                "liquidation_trades": [],
            }
        if family == p.CH_TICKER:
            return {"type": t, "channel": key, **self._ticker(int(args[0]), now_ms)}
        if family == p.CH_MARKET_STATS:
            if args[0] == "all":
                stats: Any = {str(m): market_stats_json(b) for m, b in eng.books.items()}
            else:
                stats = market_stats_json(eng.books[int(args[0])])
            return {"type": t, "channel": key, "timestamp": now_ms, "market_stats": stats}
        if family == p.CH_HEIGHT:
            return {"type": t, "channel": key, "height": eng.block_height, "timestamp": now_ms}
        account = int(args[-1])
        acct = eng.accounts.accounts[account]
        if family == p.CH_ACCOUNT_ALL_ORDERS:
            return {"type": t, "channel": key, "orders": self._live_orders(account, None)}
        if family == p.CH_ACCOUNT_ORDERS:
            m = int(args[0])
            return {
                "type": t,
                "channel": self._account_orders_wire(key),
                "account": account,
                "nonce": eng.block_height,
                "orders": self._live_orders(account, m),
            }
        if family == p.CH_ACCOUNT_ALL_TRADES:
            return {
                "type": t,
                "channel": key,
                "trades": {},
                "total_volume": 0,
                "monthly_volume": 0,
                "weekly_volume": 0,
                "daily_volume": 0,
            }
        if family == p.CH_ACCOUNT_ALL_POSITIONS:
            return {"type": t, "channel": key, **self._positions(account, None)}
        if family == p.CH_ACCOUNT_ALL_ASSETS:
            return {
                "type": t,
                "channel": key,
                "timestamp": now_ms,
                "assets": {"3": asset_json(acct)},
            }
        if family == p.CH_USER_STATS:
            return {"type": t, "channel": key, "timestamp": now_ms, "stats": stats_json(eng, acct)}
        if family == p.CH_ACCOUNT_TX:
            return {"type": t, "channel": key, "txs": []}
        # account_all
        return {"type": t, "channel": key, **self._account_all(account, None)}

    def _account_orders_wire(self, key: str) -> str:
        """`channel` string of an account_orders frame per the §7.8 switch."""
        if self.account_orders_channel == "market":
            return key.rsplit(":", 1)[0]
        return key

    def expire_subscriptions(self, now_s: float) -> None:
        """With `cut_expired_subscriptions`: end private subscriptions whose token deadline
        passed, with a 20013 error frame naming the channel (no unsubscribe ack)."""
        if not self.cut_expired_subscriptions:
            return
        for s in list(self.sessions):
            for key, deadline in list(s.sub_deadlines.items()):
                if deadline <= now_s:
                    del s.sub_deadlines[key]
                    s.subs.discard(key)
                    subs = self.subscribers.get(key)
                    if subs is not None:
                        subs.discard(s)
                        if not subs:
                            del self.subscribers[key]
                    s.send(error_frame(p.ERR_INVALID_AUTH, f"invalid auth: token expired: {key}"))

    def _live_orders(self, account: int, market: int | None) -> dict[str, list[dict[str, Any]]]:
        eng = self.engine
        out: dict[str, list[dict[str, Any]]] = {}
        for o in eng.live.values():
            if o.account_index == account and (market is None or o.market_index == market):
                out.setdefault(str(o.market_index), []).append(
                    order_json(o, eng.specs[o.market_index], snapshot=True)
                )
        return out

    def _positions(self, account: int, markets: set[int] | None) -> dict[str, Any]:
        eng = self.engine
        acct = eng.accounts.accounts[account]
        ms = sorted(acct.positions) if markets is None else sorted(markets)
        return {
            "positions": {str(m): position_json(eng, acct, m) for m in ms},
            "shares": [],
            "last_funding_round": None,
            "last_funding_discount": None,
        }

    def _account_all(self, account: int, trades: dict[str, list[Any]] | None) -> dict[str, Any]:
        eng = self.engine
        acct = eng.accounts.accounts[account]
        vol = acct.volume_quote / 1e6
        return {
            "account": account,
            "assets": {"3": asset_json(acct)},
            "positions": {str(m): position_json(eng, acct, m) for m in sorted(acct.positions)},
            "funding_histories": {},
            "trades": trades or {},
            "shares": [],
            "daily_trades_count": acct.trades_count,
            "weekly_trades_count": acct.trades_count,
            "monthly_trades_count": acct.trades_count,
            "total_trades_count": acct.trades_count,
            "daily_volume": vol,
            "weekly_volume": vol,
            "monthly_volume": vol,
            "total_volume": vol,
        }

    def _ticker(self, m: int, now_ms: int) -> dict[str, Any]:
        book = self.engine.books[m]
        spec = book.spec
        now_us = book.last_updated_at

        def side(is_ask: bool) -> dict[str, str]:
            lv = book.levels(is_ask, 1)
            if not lv:
                return {"price": "", "size": ""}
            return {"price": spec.format_price(lv[0][0]), "size": spec.format_size(lv[0][1])}

        return {
            "timestamp": now_ms,
            "last_updated_at": now_us,
            "nonce": book.flushed_nonce,
            "ticker": {
                "s": spec.symbol,
                "a": side(True),
                "b": side(False),
                "last_updated_at": now_us,
            },
        }

    # --- publishing -----------------------------------------------------------------------
    def _publish(self, key: str, frame: dict[str, Any] | bytes) -> None:
        subs = self.subscribers.get(key)
        if not subs:
            return
        data = frame if isinstance(frame, bytes) else _dumps(frame)
        for s in subs:
            s.send(data)

    def flush_book(self, m: int) -> None:
        """Send the batched delta of market `m` (if any) and advance its nonce chain."""
        eng = self.engine
        book = eng.books[m]
        if not book.pending:
            return
        touched = book.take_pending()
        begin = book.flushed_nonce
        book.flushed_nonce = book.nonce
        key = f"order_book:{m}"
        if m in self.drop_next_delta:
            self.drop_next_delta.discard(m)
            return
        subs = self.subscribers.get(key)
        if subs:
            spec = book.spec
            fp, fs = spec.format_price, spec.format_size
            asks = [{"price": fp(px), "size": fs(sz)} for a, px, sz in touched if a]
            bids = [{"price": fp(px), "size": fs(sz)} for a, px, sz in touched if not a]
            self.offset += random.randint(1, 9)
            frame = _dumps(
                {
                    "type": "update/order_book",
                    "channel": key,
                    "timestamp": int(time.time() * 1000),
                    "offset": self.offset,
                    "last_updated_at": book.last_updated_at,
                    "order_book": {
                        "code": 0,
                        "asks": asks,
                        "bids": bids,
                        "offset": self.offset,
                        "nonce": book.nonce,
                        "begin_nonce": begin,
                        "last_updated_at": book.last_updated_at,
                    },
                }
            )
            for s in subs:
                s.send(frame)
                if m in self.duplicate_next_delta:
                    s.send(frame)
            self.duplicate_next_delta.discard(m)
        ticker_key = f"ticker:{m}"
        if self.subscribers.get(ticker_key):
            now_ms = int(time.time() * 1000)
            ticker = self._ticker(m, now_ms)
            self._publish(ticker_key, {"type": "update/ticker", "channel": ticker_key, **ticker})

    def flush_all_books(self) -> None:
        """Tick: flush every market's pending delta."""
        for m in self.engine.books:
            self.flush_book(m)

    def publish_changes(self, ch: Changes) -> None:
        """Frames for one execution step: orders, trades, positions, stats, txs."""
        if ch.empty() and not ch.markets:
            return
        eng = self.engine
        specs = eng.specs
        now_ms = int(time.time() * 1000)
        subscribers = self.subscribers
        # Public trades per market.
        if ch.trades:
            by_market: dict[int, list[dict[str, Any]]] = {}
            by_account: dict[int, dict[str, list[dict[str, Any]]]] = {}
            for tr in ch.trades:
                tj = trade_json(tr, specs[tr.market_index])
                by_market.setdefault(tr.market_index, []).append(tj)
                for a in (tr.ask_account, tr.bid_account):
                    by_account.setdefault(a, {}).setdefault(str(tr.market_index), []).append(tj)
            for m, trades in by_market.items():
                key = f"trade:{m}"
                if key in subscribers:
                    book = eng.books[m]
                    self._publish(
                        key,
                        {
                            "type": "update/trade",
                            "channel": key,
                            "nonce": book.trade_nonce,
                            "trades": trades,
                            "liquidation_trades": [],
                        },
                    )
            for a, tmap in by_account.items():
                key = f"account_all_trades:{a}"
                if key in subscribers:
                    self._publish(
                        key, {"type": "update/account_all_trades", "channel": key, "trades": tmap}
                    )
        else:
            by_account = {}
        # Orders.
        for a, orders in ch.orders.items():
            key = f"account_all_orders:{a}"
            want_all = key in subscribers
            if not want_all and not any(
                f"account_orders:{o.market_index}:{a}" in subscribers for o in orders.values()
            ):
                continue  # nobody listens: do not build the order objects
            per_market: dict[int, list[dict[str, Any]]] = {}
            for o in orders.values():
                per_market.setdefault(o.market_index, []).append(
                    order_json(o, specs[o.market_index])
                )
            if want_all:
                self._publish(
                    key,
                    {
                        "type": "update/account_all_orders",
                        "channel": key,
                        "orders": {str(m): v for m, v in per_market.items()},
                    },
                )
            for m, v in per_market.items():
                mkey = f"account_orders:{m}:{a}"
                if mkey in subscribers:
                    self._publish(
                        mkey,
                        {
                            "type": "update/account_orders",
                            "channel": self._account_orders_wire(mkey),
                            "account": a,
                            "nonce": eng.block_height,
                            "orders": {str(m): v},
                        },
                    )
        # Positions, assets, stats, account_all.
        pos_by_account: dict[int, set[int]] = {}
        for a, m in ch.positions:
            pos_by_account.setdefault(a, set()).add(m)
        for a in ch.accounts:
            pos_by_account.setdefault(a, set())
        for a, markets in pos_by_account.items():
            if eng.accounts.get(a) is None:
                continue
            key = f"account_all_positions:{a}"
            if key in subscribers and markets:
                self._publish(
                    key,
                    {
                        "type": "update/account_all_positions",
                        "channel": key,
                        **self._positions(a, None if self.full_position_updates else markets),
                    },
                )
            key = f"user_stats:{a}"
            if key in subscribers:
                acct = eng.accounts.accounts[a]
                self._publish(
                    key,
                    {
                        "type": "update/user_stats",
                        "channel": key,
                        "timestamp": now_ms,
                        "stats": stats_json(eng, acct),
                    },
                )
            key = f"account_all_assets:{a}"
            if key in subscribers and a in by_account:
                acct = eng.accounts.accounts[a]
                self._publish(
                    key,
                    {
                        "type": "update/account_all_assets",
                        "channel": key,
                        "timestamp": now_ms,
                        "assets": {"3": asset_json(acct)},
                    },
                )
            key = f"account_all:{a}"
            if key in subscribers:
                self._publish(
                    key,
                    {
                        "type": "update/account_all",
                        "channel": key,
                        **self._account_all(a, by_account.get(a)),
                    },
                )
        for tx in ch.txs:
            key = f"account_tx:{tx['account_index']}"
            if key in subscribers:
                self._publish(key, {"type": "update/account_tx", "channel": key, "txs": [tx]})
        for m in ch.markets:
            for key in (f"market_stats:{m}", "market_stats:all"):
                if key in subscribers:
                    stats = market_stats_json(eng.books[m])
                    value: Any = {str(m): stats} if key.endswith("all") else stats
                    self._publish(
                        key,
                        {
                            "type": "update/market_stats",
                            "channel": key,
                            "timestamp": now_ms,
                            "market_stats": value,
                        },
                    )

    def publish_height(self) -> None:
        """`update/height` to height subscribers."""
        if "height" in self.subscribers:
            self._publish(
                "height",
                {
                    "channel": "height",
                    "height": self.engine.block_height,
                    "timestamp": int(time.time() * 1000),
                    "type": "update/height",
                },
            )

    def broadcast(self, data: bytes) -> None:
        """One frame to every session."""
        for s in list(self.sessions):
            s.send(data)


_ACCOUNT_CHANNELS = frozenset(
    {
        p.CH_ACCOUNT_ALL,
        p.CH_ACCOUNT_ALL_ORDERS,
        p.CH_ACCOUNT_ALL_TRADES,
        p.CH_ACCOUNT_ALL_POSITIONS,
        p.CH_ACCOUNT_ALL_ASSETS,
        p.CH_USER_STATS,
        p.CH_ACCOUNT_TX,
    }
)
