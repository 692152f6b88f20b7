"""`lighterfast demo`: one small quoting bot per symbol against a Lighter node.

Each bot reads its market from a `WsInfo` (book, public trades, its own orders and fills) and
requotes one bid and one ask with `LighterDealer.batch_cancel_and_create` (COI-first: the
previous quotes are cancelled by client order index, no order-index lookup, one send).
Without `--base-url` it starts a `LocalNode` in-process with simulated market flow and one
funded account per bot, so nonce lanes never collide. With `dry_run` (on that node too) or
against a mainnet URL without `live=True` it sends nothing and prints what it would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any
from urllib.parse import urlparse

from .. import protocol as P
from .._counters import RequestTally
from ..errors import ConfigError, LighterError, OrderNotFoundByCoi
from .demo_stats import BotStats, BoundedSet
from .demo_view import percentile, rest_reads

DEFAULT_SYMBOLS = ("ETH", "BTC", "SOL")
DEMO_COLLATERAL = 100_000  # USDC per bot account on the local node
P99_MIN_SAMPLES = 100  # below this a "p99" is the max: the tail is shown as max instead
UNMATCHED_TRADES = 1000  # own-account fills kept until their COI is known (or forever unknown)
RECENT_COIS = 4096  # finished COIs whose late fills are still counted (bounded memory)
RECENT_TRADES = 4096  # trade ids remembered so that a resent trade is counted once
LATENCY_NOTE = (
    "latency = send → node acceptance of one requote batch (up to 4 signed txs) with the"
    " embedded node, its market flow and every bot sharing this one process; BENCHMARKS.md's"
    " ~1.6 ms (0.6 ms signed natively) is one order against a node in its own process"
)
RATE_HEADROOM = 0.8  # share of the tier's budget the bots spend (WsInfo reads use the rest)
SHUTDOWN_READS = 3  # REST calls kept in reserve for the final cancel + reads
MAINNET_HOSTS = frozenset({urlparse(P.MAINNET_URL).hostname})
DEAD_MAN_VENUE_S = 300.0  # the venue schedules a cancel-all 5 min … 15 days ahead
DEMO_TX_RECORDS = 2048  # the in-process node's tx records kept (flat memory over hours)
DEMO_TAPE_SIZE = 100  # trades per WsInfo tape: the bots read fills by hook, not the tape
DEMO_ORDER_HISTORY = 512  # its finished orders kept per account and by COI (same reason)
DEAD_MAN_LOCAL_S = 60.0  # the in-process node's window is lowered to this (renewed every 20 s)


@dataclass(kw_only=True)
class DemoOptions:
    """What `lighterfast demo` was asked to do (every field has the CLI's default)."""

    symbols: Sequence[str] = DEFAULT_SYMBOLS
    duration: float | None = 20.0  # seconds; None = until Ctrl-C
    base_url: str | None = None  # None: start a LocalNode in-process
    config: str | None = None  # config.json for --base-url (keys, account)
    live: bool = False  # allow sending to mainnet
    dry_run: bool = False  # never send: show what the bots would send (implied on mainnet)
    premium: bool = False  # pace as a premium account (24 000 weight/min) instead of standard
    size_lots: int = 2  # quote size in multiples of the market's minimum size
    half_spread_bps: float = 1.0  # quotes at fair ± this many basis points
    skew_bps: float = 0.5  # fair moves this many bp against each lot of inventory
    max_lots: int = 10  # stop quoting the side that would grow inventory past this
    min_interval: float = 0.25  # seconds between two requotes of one bot
    node_latency: str = "premium"  # execution latency tier of the in-process node
    node_rate_limits: bool = True  # the in-process node enforces the tier's rate limits
    signer: str = "native"  # "native" (lighterfast's C signer, the default) or "sdk" (Go library)
    native_signer: bool = False  # legacy spelling of signer="native" (the default now)
    dead_man: bool = True  # each account's bot arms a dead-man switch (scheduled cancel-all)

    def __post_init__(self) -> None:
        check_duration(self.duration)
        if self.native_signer:
            self.signer = "native"
        if self.signer not in ("native", "sdk"):
            raise ValueError(f"signer: expected 'native' or 'sdk', got {self.signer!r}")


def check_duration(duration: Any) -> None:
    """Refuse a duration that is not None or a number of seconds > 0 (NaN, 0, -1, "20")."""
    if duration is None:
        return
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise ConfigError(f"duration must be seconds > 0 or None, got {duration!r}")
    if math.isnan(duration) or not duration > 0:
        raise ConfigError(f"duration must be seconds > 0 (None: until stopped), got {duration!r}")


def is_mainnet(url: str) -> bool:
    """True when `url` points at Lighter's mainnet API host."""
    return (urlparse(url).hostname or "").lower() in MAINNET_HOSTS


class QuoteBot:
    """A one-symbol market maker: a bid and an ask around the book's mid, skewed by inventory.

    `dealer` is None in dry-run mode: the bot then only records what it would send.
    """

    def __init__(
        self,
        symbol: str,
        ws: Any,
        dealer: Any,
        market: Any,
        options: DemoOptions,
        *,
        account_index: int | None,
        interval: float,
        on_dry_run: Callable[[str], None] | None = None,
    ) -> None:
        self.symbol = symbol
        self.ws = ws
        self.dealer = dealer
        self.market = market
        self.options = options
        self.account_index = account_index
        self.api_key_index = getattr(getattr(dealer, "config", None), "api_key_index", None)
        self.interval = interval
        self.on_dry_run = on_dry_run
        self.dead_man_s: float | None = None  # set by the demo for one bot per account
        self.dead_man: Any = None  # the armed DeadManSwitch (its txs are counted apart)
        self.stats = BotStats()
        self.tick = Decimal(1).scaleb(-market.price_decimals)
        self.size = Decimal(market.min_base_amount or "0").scaleb(0) * options.size_lots
        if self.size <= 0:
            self.size = Decimal(1).scaleb(-market.size_decimals) * options.size_lots
        self.start_position = 0.0
        self.quotes: dict[int, tuple[str, float]] = {}  # live COI → (side, price)
        self.cancelling: set[int] = set()  # cancel accepted, stream has not confirmed yet
        self.issued = BoundedSet(RECENT_COIS)  # the COIs created lately (late fills are these)
        self.target: tuple[float | None, float | None] | None = None
        self.would_send: str = ""
        self._seen_trades = BoundedSet(RECENT_TRADES)
        self._unmatched: deque[dict[str, Any]] = deque(maxlen=UNMATCHED_TRADES)
        self.started = time.monotonic()
        self.stopped: float | None = None

    # --- stream hooks ---------------------------------------------------------------------------
    def on_trades(self, trades: list[dict[str, Any]]) -> None:
        """Count fills of this bot's own orders (by COI), once per trade id."""
        for trade in trades:
            if trade.get("market_id") != self.market.market_index:
                continue
            trade_id = trade.get("trade_id")
            if not isinstance(trade_id, int) or trade_id in self._seen_trades:
                continue
            side = self._my_side(trade)
            if side is None:
                if self.account_index in (trade.get("bid_account_id"), trade.get("ask_account_id")):
                    # Our account, COI not known yet: the fill can beat the batch's reply.
                    self._unmatched.append(trade)
                continue
            self._seen_trades.add(trade_id)
            size, price = Decimal(str(trade["size"])), Decimal(str(trade["price"]))
            self.stats.fills += 1
            self.stats.pnl.fill(side == "buy", size, price)
            if side == "buy":
                self.stats.bought += float(size)
            else:
                self.stats.sold += float(size)

    def _mine(self, coi: Any) -> bool:
        """True when `coi` is a live quote, a pending cancel or a COI created lately."""
        return coi in self.quotes or coi in self.cancelling or coi in self.issued

    def _my_side(self, trade: dict[str, Any]) -> str | None:
        """'buy'/'sell' when one side of the trade is an order this bot issued."""
        if self.account_index is None:
            return None
        if trade.get("bid_account_id") == self.account_index:
            if self._mine(trade.get("bid_client_id")):
                return "buy"
        if trade.get("ask_account_id") == self.account_index:
            if self._mine(trade.get("ask_client_id")):
                return "sell"
        return None

    # --- views ----------------------------------------------------------------------------------
    @property
    def position(self) -> float:
        """Position in base units: the start position plus this bot's fills."""
        return self.start_position + self.stats.bought - self.stats.sold

    def book_top(self) -> tuple[float | None, float | None]:
        """(best bid, best ask) prices from the WebSocket book (None when empty or stale)."""
        book = self.ws.get_order_book(self.market.market_index)
        if book is None or book.is_stale:
            return None, None
        bid, ask = book.best_bid(), book.best_ask()
        return (bid[0] if bid else None), (ask[0] if ask else None)

    def mid(self) -> float | None:
        """Mid of the book, else the last traded price."""
        bid, ask = self.book_top()
        if bid is not None and ask is not None:
            return (bid + ask) / 2.0
        ltp: float | None = self.ws.get_ltp()
        return ltp

    def pnl(self) -> tuple[Decimal, Decimal | None]:
        """(realised, marked-to-mid unrealised or None without a mark) of this bot's fills.

        Fees are not included (0 on the local node).
        """
        book = self.stats.pnl
        mid = self.mid()
        if mid is None:
            return book.realised, None if book.position else Decimal(0)
        return book.realised, book.unrealised(Decimal(repr(mid)))

    def shown_quotes(self) -> dict[str, tuple[int, float]]:
        """side → (COI, price) of the quotes to show: open on the stream, not crossing the book.

        A quote whose fill or cancel the stream reported is dropped at once; one not yet
        confirmed open (accepted, or executing as a taker) or crossing the shown book is hidden.
        """
        if self.dealer is None:
            return {}
        bid, ask = self.book_top()
        shown: dict[str, tuple[int, float]] = {}
        for coi, (side, price) in self._live_quotes().items():
            record = self.dealer.get_order_by_coi(coi)
            if record is None or record.get("status") != P.STATUS_OPEN:
                continue
            if side == "buy" and ask is not None and price >= ask:
                continue
            if side == "sell" and bid is not None and price <= bid:
                continue
            shown.setdefault(side, (coi, price))
        return shown

    def elapsed(self) -> float:
        """Seconds since the bot started (frozen once it stopped)."""
        end = self.stopped if self.stopped is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    def budget(self) -> tuple[int, int] | None:
        """(left, capacity) of the limiter that governs this bot's tx sends."""
        if self.dealer is None:
            return None
        budget = self.dealer.rate_budget()  # premium accounts send txs from their own bucket
        return budget.left, budget.capacity

    def snapshot(self) -> dict[str, Any]:
        """Everything the live view and the summary show for this symbol (no secrets)."""
        s = self.stats
        bid, ask = self.book_top()
        lat = list(s.latencies_us)
        p50 = percentile(lat, 50)
        p99 = percentile(lat, 99) if len(lat) >= P99_MIN_SAMPLES else None
        own = self.shown_quotes()
        realised, unrealised = self.pnl()
        budget = self.budget()
        return {
            "symbol": self.symbol,
            "market_index": self.market.market_index,
            "account_index": self.account_index,
            "api_key_index": None if self.dealer is None else self.api_key_index,
            "price_decimals": self.market.price_decimals,
            "size_decimals": self.market.size_decimals,
            "best_bid": bid,
            "best_ask": ask,
            "ltp": self.ws.get_ltp(),
            "own_bid": own["buy"][1] if "buy" in own else None,
            "own_ask": own["sell"][1] if "sell" in own else None,
            "own_bid_coi": own["buy"][0] if "buy" in own else None,
            "own_ask_coi": own["sell"][0] if "sell" in own else None,
            "fills": s.fills,
            "bought": round(s.bought, 12),
            "sold": round(s.sold, 12),
            "position": round(self.position, 12),
            "pnl": None if unrealised is None else round(float(realised + unrealised), 8),
            "pnl_realised": round(float(realised), 8),
            "pnl_unrealised": None if unrealised is None else round(float(unrealised), 8),
            "batches": s.batches,
            "txs_accepted": s.txs_accepted,
            "dead_man_txs": 0
            if self.dead_man is None
            else self.dead_man.renewals + self.dead_man.aborts,
            "txs_rejected": s.txs_rejected,
            "quotes_sent": s.quotes,
            "orders_per_s": round(s.txs_accepted / self.elapsed(), 3),
            "latency_samples": len(lat),
            "latency_p50_ms": None if p50 is None else round(p50 / 1000.0, 3),
            "latency_p99_ms": None if p99 is None else round(p99 / 1000.0, 3),  # None: < 100
            "latency_max_ms": round(max(lat) / 1000.0, 3) if lat else None,
            "budget_left": None if budget is None else budget[0],
            "budget_capacity": None if budget is None else budget[1],
            "last_error": s.last_error,
            "would_send": self.would_send,
            "account_reads": s.account_reads,
            "stream_position": s.stream_position,
            "available_balance": s.available_balance,
        }

    # --- the loop -------------------------------------------------------------------------------
    def targets(self) -> tuple[float | None, float | None] | None:
        """(bid, ask) prices to quote now; a side is None when inventory is at its limit."""
        mid = self.mid()
        if mid is None or mid <= 0:
            return None
        o = self.options
        lots = float(Decimal(str(self.position)) / self.size) if self.size else 0.0
        fair = mid * (1.0 - o.skew_bps * lots / 1e4)
        half = max(mid * o.half_spread_bps / 1e4, float(self.tick))
        bid = Decimal(repr(fair - half)).quantize(self.tick, rounding=ROUND_FLOOR)
        ask = Decimal(repr(fair + half)).quantize(self.tick, rounding=ROUND_CEILING)
        if ask <= bid:
            ask = bid + self.tick
        return (
            float(bid) if lots < o.max_lots and bid > 0 else None,
            float(ask) if lots > -o.max_lots else None,
        )

    def _live_quotes(self) -> dict[int, tuple[str, float]]:
        """Forget quotes the order stream reported finished (filled, cancelled, expired)."""
        if self.dealer is not None:
            view = self.dealer.get_order_by_coi
            for coi in [c for c in self.quotes if view(c) is None]:
                del self.quotes[coi]
            if self.cancelling:
                self.cancelling = {c for c in self.cancelling if view(c) is not None}
        return self.quotes

    async def step(self) -> bool:
        """Requote once if the wanted prices differ from the live quotes (False: no book yet)."""
        wanted = self.targets()
        if wanted is None:
            return False
        live = self._live_quotes()
        have = {side: price for side, price in live.values()}
        want = {
            side: price
            for side, price in zip(("buy", "sell"), wanted, strict=True)
            if price is not None
        }
        if have == want and len(live) == len(want):
            return True
        size = float(self.size)
        new = [(price, size if side == "buy" else -size) for side, price in want.items()]
        if self.dealer is None:
            pd, sd = self.market.price_decimals, self.market.size_decimals
            text = f"{self.symbol}: cancel {sorted(live)} create " + ", ".join(
                f"{'buy' if q > 0 else 'sell'} {abs(q):.{sd}f} @ {p:.{pd}f}" for p, q in new
            )
            self.would_send = text
            if self.target != wanted and self.on_dry_run is not None:
                self.on_dry_run(text)
            self.target = wanted
            return True
        if self._can_send():  # else keep what the shutdown needs; requote once the window rolls
            await self._send(list(live), new)
        return True

    def _can_send(self) -> bool:
        """True when a tx batch fits the budget with the shutdown's reads still in reserve
        (on a fleet the shared budget paces the send itself: it waits for room)."""
        if getattr(self.dealer, "_fleet_link", None) is not None:
            return True
        return self.dealer.rate_budget().can_send_batch(reserve_reads=SHUTDOWN_READS)

    async def _send(self, cancels: list[int], new: list[tuple[float, float]]) -> None:
        """One batch: cancel `cancels` by COI, create `new`; record latency and results."""
        started = time.perf_counter_ns()
        try:
            results = await self.dealer.batch_cancel_and_create(
                cancel_client_order_indices=cancels, new_limit_orders=new
            )
        except OrderNotFoundByCoi:
            self._live_quotes()
            return
        except (LighterError, ValueError) as exc:
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            return
        elapsed_us = (time.perf_counter_ns() - started) / 1000.0
        self.stats.batches += 1
        accepted = [r for r in results if r.get("accepted")]
        self.stats.txs_accepted += len(accepted)
        self.stats.txs_rejected += len(results) - len(accepted)
        if accepted:
            self.stats.latencies_us.append(elapsed_us)
        for result in results:
            if result.get("action") == "cancel" and result.get("accepted"):
                coi = int(result["client_order_index"])
                if self.quotes.pop(coi, None) is not None:
                    self.cancelling.add(coi)  # gone once the stream says so
            if result.get("action") != "create":
                continue  # a refused cancel keeps its quote: the next step retries it
            coi = int(result["client_order_index"])
            self.issued.add(coi)
            if result.get("accepted") or result.get("status") == "unknown":
                self.quotes[coi] = (result["side"], float(result["price"]))
                self.stats.quotes += 1
            elif result.get("message"):
                self.stats.last_error = str(result["message"])
        if self._unmatched:
            pending = list(self._unmatched)
            self._unmatched.clear()
            self.on_trades(pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Requote every `interval` seconds until `stop` is set; with `dead_man_s`, the node
        cancels the account's orders if this process dies or its loop stalls that long."""
        async with contextlib.AsyncExitStack() as guard:
            if self.dealer is not None and self.dead_man_s is not None:
                try:
                    self.dead_man = self.dealer.dead_man_switch(self.dead_man_s)
                    await guard.enter_async_context(self.dead_man)
                except Exception as exc:  # the demo quotes on; the view shows why
                    self.stats.last_error = f"dead-man switch: {type(exc).__name__}: {exc}"
            await self._requote_until(stop)

    async def _requote_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wait = self.interval
            try:
                if not await self.step():
                    wait = min(wait, self.options.min_interval)  # look again for the book soon
            except Exception as exc:  # a demo keeps going; the view shows the last error
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            try:
                await self.read_account()
            except Exception as exc:
                self.stats.last_error = f"account read: {type(exc).__name__}: {exc}"
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def read_account(self) -> None:
        """Read position and balance as a bot would (the dealer serves both from its WsInfo)."""
        if self.dealer is None:
            return
        position = await self.dealer.fetch_my_position()
        balance = await self.dealer.fetch_my_balance()
        self.stats.account_reads += 2
        self.stats.stream_position = position.get("size")
        self.stats.available_balance = balance.get("available_balance")

    async def shutdown(self, timeout: float = 5.0) -> dict[str, Any]:
        """Cancel the bot's live quotes, wait until the stream confirms, read the node's truth."""
        self.stopped = time.monotonic()
        final: dict[str, Any] = {}
        if self.dealer is None:
            return final
        live = list(self._live_quotes())
        if live:
            await self._send(live, [])
        deadline = time.monotonic() + timeout
        while (self._live_quotes() or self.cancelling) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        try:
            open_orders = await asyncio.wait_for(self.dealer.fetch_open_orders(), timeout)
            mine = [o for o in open_orders if self._mine(o["client_order_index"])]
            final["open_orders_end"] = len(mine)
            position = await asyncio.wait_for(self.dealer.fetch_my_position(), timeout)
            final["position_node"] = position["size"]
            # Fills whose frames were still in flight when the quotes were cancelled.
            while abs(position["size"] - self.position) > 1e-12 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        except (LighterError, asyncio.TimeoutError) as exc:
            final["final_read_error"] = f"{type(exc).__name__}: {exc}"
        return final


# --- setting the bots up ------------------------------------------------------------------------


@dataclass
class _Bot:
    bot: QuoteBot
    closers: list[Callable[[], Any]]


def _pacing(options: DemoOptions, n_bots: int) -> tuple[int | None, float]:
    """(per-bot rate_limit_per_minute or None for premium, requote interval in seconds)."""
    if options.premium:
        return None, options.min_interval
    per_bot = max(SHUTDOWN_READS + 1, int(P.STANDARD_REQUESTS_PER_MINUTE * RATE_HEADROOM) // n_bots)
    return per_bot, max(options.min_interval, P.RATE_WINDOW_S / per_bot)


async def _make_bot(
    symbol: str,
    options: DemoOptions,
    *,
    base_url: str,
    account_index: int,
    api_key_index: int,
    private_key: str,
    rate_limit: int | None,
    interval: float,
    dealer_kwargs: dict[str, Any] | None = None,
    share_with: Any = None,
    tally: Any = None,
) -> _Bot:
    """WsInfo (book, trades, own orders) + LighterDealer for one symbol, wired together."""
    from ..dealer import DealerConfig, LighterDealer
    from ..ws import WsInfo

    closers: list[Callable[[], Any]] = []
    extra = dict(dealer_kwargs or {})
    signer: Any = share_with.signer if share_with is not None else None
    try:
        if signer is None:
            from .. import signing

            kind = signing.NativeSigner if options.signer == "native" else signing.SdkSigner
            signer = await kind.create(
                account_index,
                {api_key_index: private_key},
                chain_id=extra.get("chain_id"),
                base_url=base_url,
            )
            closers.append(signer.close)
        ws = await WsInfo.run_overlay(
            account_index,
            api_key_index,
            private_key,
            symbol=symbol,
            base_url=base_url,
            order_book=True,
            signer=signer,  # None: WsInfo makes (and owns) its own
            tape_size=DEMO_TAPE_SIZE,
        )
        closers.insert(0, ws.aclose)
        if tally is not None:  # the resync path's client (made on a reconnect)
            ws.on_rest_client = tally.watch
        cfg = DealerConfig(
            base_url=base_url,
            account_index=account_index,
            api_key_index=api_key_index,
            api_key_private_key=private_key,
            symbol=symbol,
            price_source=ws,
            standard_account=not options.premium,
            rate_limit_per_minute=rate_limit,
            **extra,
        )
        # Two dealers on one API key take nonces from one lane by themselves (dealer.nonces).
        dealer = await LighterDealer.create(cfg, signer=signer)
        closers.insert(0, dealer.aclose)
        if tally is not None:
            tally.watch(dealer._rest)  # every REST call of the dealer (no public accessor)
    except BaseException:
        await _run_closers(closers)
        raise
    bot = QuoteBot(
        symbol, ws, dealer, dealer.market, options, account_index=account_index, interval=interval
    )
    ws.on_orders = dealer.feed_ws_orders
    ws.on_orders_resync = dealer.resync_ws_orders  # orders that ended while disconnected
    ws.on_trades = bot.on_trades
    with contextlib.suppress(LighterError, asyncio.TimeoutError):
        bot.start_position = (await dealer.fetch_my_position())["size"]
    return _Bot(bot, closers)


async def _local_bots(
    options: DemoOptions, node: Any, interval: float, rate_limit: int | None, tally: Any = None
) -> list[_Bot]:
    """One funded account (own key, own nonce lane) per symbol on the local node."""
    bots: list[_Bot] = []
    dead_man = None
    if hasattr(node, "max_tx_records"):  # an in-process node: keep its history small
        node.max_tx_records = min(node.max_tx_records, DEMO_TX_RECORDS)
        node.engine.max_coi_memo = node.engine.inactive_per_account = DEMO_ORDER_HISTORY
    if options.dead_man:
        engine = getattr(node, "engine", None)  # an in-process node: allow a short schedule
        if engine is not None:
            engine.cancel_all_min_delay_ms = min(
                engine.cancel_all_min_delay_ms, int(DEAD_MAN_LOCAL_S * 1000)
            )
            dead_man = DEAD_MAN_LOCAL_S
        else:
            dead_man = DEAD_MAN_VENUE_S
    try:
        for symbol in options.symbols:
            dev = await node.create_account(collateral=DEMO_COLLATERAL)
            bots.append(
                await _make_bot(
                    symbol,
                    options,
                    base_url=node.base_url,
                    account_index=dev.account_index,
                    api_key_index=dev.api_key_index,
                    private_key=dev.private_key,
                    rate_limit=rate_limit,
                    interval=interval,
                    dealer_kwargs={"chain_id": node.chain_id},
                    tally=tally,
                )
            )
            bots[-1].bot.dead_man_s = dead_man  # one account per bot: each arms its own
    except BaseException:
        await _close_all(bots)
        raise
    return bots


async def _config_bots(
    options: DemoOptions,
    base_url: str,
    cfg: dict[str, Any],
    interval: float,
    rl: int | None,
    tally: Any = None,
) -> list[_Bot]:
    """Bots of the config's account: one API key each when there are enough, else shared."""
    keys = cfg["api_keys"]
    bots: list[_Bot] = []
    leaders: dict[int, Any] = {}
    try:
        for n, symbol in enumerate(options.symbols):
            key = keys[n % len(keys)]
            index = key["api_key_index"]
            made = await _make_bot(
                symbol,
                options,
                base_url=base_url,
                account_index=cfg["account_index"],
                api_key_index=index,
                private_key=key["api_key_private_key"],
                rate_limit=rl,
                interval=interval,
                share_with=leaders.get(index),
                tally=tally,
            )
            leaders.setdefault(index, made.bot.dealer)
            if n == 0 and options.dead_man:  # one schedule per account: the first bot's
                made.bot.dead_man_s = DEAD_MAN_VENUE_S
            bots.append(made)
    except BaseException:
        await _close_all(bots)
        raise
    return bots


async def _dry_run_bots(
    options: DemoOptions, base_url: str, interval: float, report: Callable[[str], None]
) -> list[_Bot]:
    """Public book + trades only (no keys, no dealer): the bots print what they would send."""
    from ..markets import resolve_market
    from ..ws import WsInfo

    bots: list[_Bot] = []
    try:
        for symbol in options.symbols:
            ws = await WsInfo.run_public_trades_simple(
                symbol=symbol, base_url=base_url, order_book=True
            )
            try:
                market = await resolve_market(symbol=symbol, base_url=base_url)
            except BaseException:
                await ws.aclose()
                raise
            bot = QuoteBot(
                symbol,
                ws,
                None,
                market,
                options,
                account_index=None,
                interval=interval,
                on_dry_run=report,
            )
            bots.append(_Bot(bot, [ws.aclose]))
    except BaseException:
        await _close_all(bots)
        raise
    return bots


async def _run_closers(closers: Sequence[Callable[[], Any]]) -> None:
    """Call each closer (sync or async) in order; one failing does not stop the others."""
    for closer in closers:
        with contextlib.suppress(Exception):
            result = closer()
            if inspect.isawaitable(result):
                await result


async def _close_all(bots: Sequence[_Bot]) -> None:
    """Close the bots newest first (a dealer sharing another's nonce lanes before that one)."""
    for made in reversed(bots):
        await _run_closers(made.closers)


# --- the command ------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """The final summary: per-symbol snapshots plus how the run went."""

    mode: str  # "local", "remote" or "dry-run"
    base_url: str
    duration_s: float
    symbols: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)  # how to read the figures
    rest_requests: dict[str, Any] = field(default_factory=dict)  # see `rest_reads`

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no secrets: account indexes and figures only)."""
        return {
            "mode": self.mode,
            "base_url": self.base_url,
            "duration_s": round(self.duration_s, 3),
            "symbols": self.symbols,
            "notes": self.notes,
            "rest_requests": self.rest_requests,
        }


def _validate(options: DemoOptions) -> list[str]:
    symbols = [s.strip().upper() for s in options.symbols if s.strip()]
    if not symbols:
        raise ConfigError("--symbols: give at least one symbol, e.g. ETH,BTC,SOL")
    if len(set(symbols)) != len(symbols):
        raise ConfigError("--symbols: a symbol appears twice")
    check_duration(options.duration)  # the fields may have changed since __init__
    if options.size_lots < 1 or options.max_lots < 1:
        raise ConfigError("size and inventory limits must be >= 1 lot")
    if not options.half_spread_bps > 0:
        raise ConfigError("--spread-bps must be > 0")
    return symbols


async def run_demo(
    options: DemoOptions,
    *,
    node: Any = None,
    view: Any = None,
    stop: asyncio.Event | None = None,
) -> DemoResult:
    """Run the bots for `options.duration` (or until `stop` is set) and return the summary.

    `node`: an already running LocalNode to trade on (tests); otherwise one is started here
    when `options.base_url` is None. With `options.dry_run` the bots only read that node's
    public book and send nothing. `view`: an object with `start(bots)`, `update(bots)`,
    `message(text)` and `stop()` (see `demo_view`); None runs silently.
    """
    from ..config import load_lighter_config

    options.symbols = _validate(options)
    stop = stop or asyncio.Event()
    say: Callable[[str], None] = view.message if view is not None else (lambda _text: None)
    own_node = None
    if options.base_url is None and node is None:
        from ..testnode import LocalNode

        tier = "premium" if options.premium else "standard"
        own_node = LocalNode(
            port=0,
            simulate_flow=True,
            exec_latency_ms=options.node_latency,
            rate_limits=tier if options.node_rate_limits else None,
        )
        await own_node.start()
        node = own_node
        limits = f"{tier} rate limits" if options.node_rate_limits else "no rate limits"
        say(f"local node on {node.base_url} (simulated market flow, {limits})")
    bots: list[_Bot] = []
    notes: list[str] = []
    tally = RequestTally()
    try:
        rate_limit, interval = _pacing(options, len(options.symbols))
        if node is not None and options.dry_run:
            mode, base_url = "dry-run", node.base_url
            say("dry run: the bots read the public book and send nothing")
            bots = await _dry_run_bots(options, base_url, interval, say)
        elif node is not None:
            mode, base_url = "local", node.base_url
            notes.append(LATENCY_NOTE)
            bots = await _local_bots(options, node, interval, rate_limit, tally)
        else:
            assert options.base_url is not None
            base_url = options.base_url.rstrip("/")
            if options.dry_run or (is_mainnet(base_url) and not options.live):
                mode = "dry-run"
                if not options.dry_run:
                    say(f"{base_url} is mainnet: dry run (pass --live to send orders)")
                bots = await _dry_run_bots(options, base_url, interval, say)
            else:
                mode = "remote"
                cfg = load_lighter_config(options.config, {"base_url": base_url})
                if len(cfg["api_keys"]) < len(options.symbols):
                    say(
                        f"{len(cfg['api_keys'])} API key(s) for {len(options.symbols)} bots: "
                        "bots on the same key share its nonce lane"
                    )
                bots = await _config_bots(options, base_url, cfg, interval, rate_limit, tally)
        if rate_limit is not None and mode != "dry-run":
            notes.append(
                f"standard pacing: {rate_limit} of the {P.STANDARD_REQUESTS_PER_MINUTE}"
                f" requests/min per bot, so a bot requotes at most every {interval:.2f} s"
            )
        if options.dead_man and mode != "dry-run":
            armed = {b.bot.dead_man_s for b in bots if b.bot.dead_man_s is not None}
            if armed:
                notes.append(
                    f"dead-man switch: the node cancels a bot's orders {max(armed):.0f} s after"
                    " its process stops renewing (a scheduled cancel-all; aborted on exit)"
                )
        for note in notes:
            say(note)
        started = time.monotonic()
        tally.start()  # from here on every REST request of the bots counts as after start-up
        tasks = [asyncio.create_task(b.bot.run(stop), name=f"bot-{b.bot.symbol}") for b in bots]
        if view is not None:
            with contextlib.suppress(AttributeError):
                view.tally = tally  # the views show the REST line while running
            view.start([b.bot for b in bots])
        try:
            end = None if options.duration is None else started + options.duration
            while not stop.is_set():
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25 if left is None else min(0.25, left))
                if view is not None:
                    view.update([b.bot for b in bots])
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        duration = time.monotonic() - started
        reads = rest_reads(tally)  # before the shutdown's own reads
        finals = await asyncio.gather(*(b.bot.shutdown() for b in bots))
        rows = []
        for made, final in zip(bots, finals, strict=True):
            row = made.bot.snapshot()
            row.update(final)
            rows.append(row)
        if view is not None:
            view.stop()
        return DemoResult(mode, base_url, duration, rows, notes, rest_requests=reads)
    finally:
        await _close_all(bots)
        if own_node is not None:
            await own_node.stop()
