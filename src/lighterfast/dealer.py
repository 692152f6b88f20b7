"""`LighterDealer`: COI-first orders, validated at enqueue, signed and batched at flush.

Design decision (nonces): **signing happens at flush**. Orders are validated and converted to
wire integers when they are queued (so bad input raises at once and nothing is queued), but
nonces are assigned and signatures made only when a chunk of the queue is about to leave,
while its key's nonce lane is held (see `lighterfast.nonces`). A signed transaction therefore
exists only for the duration of one send; if the node rejects it, its nonces are either
given back (nothing consumed) or re-fetched, and the *same intents* are re-signed — a nonce is
never carried over to a different transaction, and no signed tx waits in a queue where a
resync could invalidate it.

Sending: one `jsonapi/sendtxbatch` frame per `max_ws_batch` transactions over the dealer's own
WebSocket (replies matched by a unique `id`), or REST `sendTxBatch` when no socket is up. Every
send passes the WeightLimiter. `flush()` returns one acceptance dict per transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import math
import os
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from . import protocol as P
from ._checks import check_flag, check_int
from .config import DealerConfig, load_lighter_config
from .core import CoiCache, Scale, WeightLimiter
from .errors import (
    ConfigError,
    LighterError,
    NodeUnreachable,
    NonceError,
    OrderNotFoundByCoi,
    RateLimited,
    SignerError,
    TxRejected,
    WsClosed,
)
from .log import make_loggers, tx_preview
from .markets import MarketInfo, fetch_market_rows, resolve_market
from .nonces import NonceManager
from .transport.rest import RestClient
from .wire import encode_sendtx_batch, error_from_code, parse_tx_reply

__all__ = ["CoiAllocator", "DealerConfig", "LighterDealer", "RateBudget"]


@dataclass(frozen=True)
class RateBudget:
    """What the rate limiter lets the dealer send right now (weight units, protocol §5)."""

    left: int  # units left now in the bucket that order sends draw from
    capacity: int  # that bucket's size per window
    batch_cost: int  # units one sendTxBatch costs
    read_cost: int  # units one account read costs
    shared_with_reads: bool  # True: sends and reads share one bucket (standard account)

    def can_send_batch(self, reserve_reads: int = 0) -> bool:
        """True when one batch fits now, keeping `reserve_reads` account reads in reserve."""
        reserve = reserve_reads * self.read_cost if self.shared_with_reads else 0
        return self.left >= self.batch_cost + reserve


# --- client order indexes ----------------------------------------------------------------------

# COI = max(last + 1, ticks since COI_EPOCH), one tick = 1/COI_PER_SECOND s (244 µs): the
# suggested "seconds × 4096" band, at sub-second resolution so that a restart within the same
# second does not reissue that second's COIs. Live captures only show COIs up to ~4.2e11
# accepted and a third party reports 21727 above 2^31 (lighter-protocol §2.11); this stays in
# the observed band: ≈2.5e11 in late 2026, 4.2e11 in 2028, 2^39 in 2029.
# Sustained > COI_PER_SECOND orders/s borrows ticks from the future (the COI runs ahead of the
# clock); a process restarted sooner than that lead, or after the clock stepped back, may
# reissue a COI the node still knows (21728 duplicate) — pass coi_start/coi_allocator then.
# Allocators on the wall clock share one process-wide high-water mark.
COI_EPOCH_S = 1_735_689_600  # 2025-01-01T00:00:00Z
COI_PER_SECOND = 4096
_COI_EPOCH_NS = COI_EPOCH_S * 1_000_000_000


class _HighWater:
    """The highest COI issued by the allocators sharing this mark (lock-guarded)."""

    __slots__ = ("lock", "value")

    def __init__(self, value: int = 0) -> None:
        self.lock = threading.Lock()
        self.value = value


_WALL_CLOCK_MARK = _HighWater()


def _wall_clock_ticks() -> int:
    """COI ticks since COI_EPOCH by the wall clock (exact integer arithmetic)."""
    return (time.time_ns() - _COI_EPOCH_NS) * COI_PER_SECOND // 1_000_000_000


class CoiAllocator:
    """Monotonic COI source: time-based (unique across restarts) or a plain counter.

    `start=None`: `max(last + 1, (now - 2025-01-01) in s × 4096)`; allocators on the wall clock
    (no `clock_s`, a seconds clock for tests) share the process's last COI. `start=N`: N, N+1,
    … for this allocator only (the caller keeps COIs unique across runs).
    """

    def __init__(
        self, clock_s: Callable[[], float] | None = None, *, start: int | None = None
    ) -> None:
        if clock_s is None:
            self._ticks = _wall_clock_ticks
        else:
            self._ticks = lambda: int((clock_s() - COI_EPOCH_S) * COI_PER_SECOND)
        if start is None:
            self._mark = _WALL_CLOCK_MARK if clock_s is None else _HighWater()
            self._counter = False
        else:
            self._mark = _HighWater(_coi(start) - 1)
            self._counter = True

    def __call__(self) -> int:
        return self.next()

    def next(self) -> int:
        """A fresh COI in 1..2^48-1, larger than every COI this allocator issued before."""
        mark = self._mark
        with mark.lock:
            coi = mark.value + 1
            if not self._counter:
                coi = max(coi, self._ticks())
            if coi > P.MAX_COI:
                raise LighterError(
                    f"COI allocator passed {P.MAX_COI}"
                    + (" (coi_start too high)" if self._counter else " (clock far ahead?)")
                )
            mark.value = coi
        return coi


# One allocator per process: several dealers of one account in one process never collide.
_COI_ALLOCATOR = CoiAllocator()

# --- queued intents -----------------------------------------------------------------------------

ACTION_CREATE = "create"
ACTION_CANCEL = "cancel"
ACTION_MODIFY = "modify"
ACTION_CANCEL_ALL = "cancel_all"

# Waits before each resync of a key after an invalid-nonce reply. The first resync is at once;
# the later ones cover a nextNonce that lags accepted txs (the venue says it does not update
# right away; the SDK's polling manager waits >= 350 ms between uses of a key; §2.10).
NONCE_RESYNC_DELAYS_S: tuple[float, ...] = (0.0, 0.05, 0.15, 0.35)

_SIGN_METHOD = {
    ACTION_CREATE: "create_order",
    ACTION_CANCEL: "cancel_order",
    ACTION_MODIFY: "modify_order",
    ACTION_CANCEL_ALL: "cancel_all_orders",
}
_TX_TYPE = {
    ACTION_CREATE: P.TX_TYPE_CREATE_ORDER,
    ACTION_CANCEL: P.TX_TYPE_CANCEL_ORDER,
    ACTION_MODIFY: P.TX_TYPE_MODIFY_ORDER,
    ACTION_CANCEL_ALL: P.TX_TYPE_CANCEL_ALL_ORDERS,
}


def _signer_checks() -> dict[str, Any]:
    from .signing import (
        validate_cancel_all_orders,
        validate_cancel_order,
        validate_create_order,
        validate_modify_order,
    )

    return {
        ACTION_CREATE: validate_create_order,
        ACTION_CANCEL: validate_cancel_order,
        ACTION_MODIFY: validate_modify_order,
        ACTION_CANCEL_ALL: validate_cancel_all_orders,
    }


_SIGNER_CHECKS = _signer_checks()

_TIF_ALIASES = {
    "gtt": P.TIF_GTT,
    "gtc": P.TIF_GTT,
    "good-till-time": P.TIF_GTT,
    "good_till_time": P.TIF_GTT,
    "ioc": P.TIF_IOC,
    "immediate-or-cancel": P.TIF_IOC,
    "immediate_or_cancel": P.TIF_IOC,
    "post_only": P.TIF_POST_ONLY,
    "post-only": P.TIF_POST_ONLY,
    "alo": P.TIF_POST_ONLY,
}


@dataclass(slots=True)
class _Intent:
    """One validated transaction waiting for its nonce and signature."""

    action: str
    kwargs: dict[str, Any]  # signer kwargs except nonce and api_key_index
    coi: int | None
    market_index: int | None
    api_key_index: int | None = None  # fixed for cancel/modify of a COI sent on a key
    summary: dict[str, Any] = field(default_factory=dict)


_batch_buffer: contextvars.ContextVar[list[_Intent] | None] = contextvars.ContextVar(
    "lighterfast_dealer_batch", default=None
)

_RATE_RETRY_BASE_S = 0.25

# Statuses of a COI the dealer issued that a stream snapshot may not show yet.
_NOT_YET_LIVE = frozenset({"queued", "accepted", "unknown"})
# Final status of an order that vanished from the live set while the stream was down.
STATUS_GONE = "finished while disconnected"


def _split_signed(value: Any, name: str) -> tuple[bool, Any]:
    """(is_ask, magnitude) of a signed human size: + buys, − sells; 0, NaN, bool rejected."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number (float, int, str or Decimal), got bool")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{name} must be a finite number, got nan")
        if value == 0:
            raise ValueError(f"{name} must not be 0 (positive buys, negative sells)")
        return (value < 0), (-value if value < 0 else value)
    if isinstance(value, (str, Decimal)):
        text = str(value).strip()
        try:
            number = Decimal(text)
        except Exception:
            raise ValueError(f"{name} is not a decimal number: {value!r}") from None
        if number.is_nan():
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if number == 0:
            raise ValueError(f"{name} must not be 0 (positive buys, negative sells)")
        negative = number < 0
        if isinstance(value, Decimal):
            return negative, -value if negative else value
        return negative, text[1:] if negative or text.startswith("+") else text
    raise TypeError(
        f"{name} must be a number (float, int, str or Decimal), got {type(value).__name__}"
    )


def _human(text: Any) -> float | None:
    """A wire decimal string as a float ('' and None → None)."""
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _order_view(order: Mapping[str, Any]) -> dict[str, Any]:
    """An Order object (REST or WS) as a plain dict of human numbers."""
    is_ask = bool(order.get("is_ask"))
    remaining = _human(order.get("remaining_base_amount"))
    return {
        "client_order_index": order.get("client_order_index"),
        "order_index": order.get("order_index"),
        "market_index": order.get("market_index"),
        "side": "sell" if is_ask else "buy",
        "is_ask": is_ask,
        "price": _human(order.get("price")),
        "size": remaining,
        "initial_size": _human(order.get("initial_base_amount")),
        "filled_size": _human(order.get("filled_base_amount")),
        "trigger_price": _human(order.get("trigger_price")),
        "status": order.get("status"),
        "type": order.get("type"),
        "time_in_force": order.get("time_in_force"),
        "reduce_only": bool(order.get("reduce_only")),
        "order_expiry": order.get("order_expiry"),
    }


class LighterDealer:
    """COI-first order sender for one market of one account (see the api-contract).

    Build with `await LighterDealer.create(cfg)` or `await LighterDealer.from_config(...)`.
    `create_*`/`cancel_*`/`update_*` validate and queue, returning at once; `flush()` signs and
    sends; `async with dealer:` flushes and closes on exit.
    """

    def __init__(
        self,
        config: DealerConfig,
        market: MarketInfo,
        *,
        signer: Any,
        rest: RestClient,
        limiter: Any,
        owns_signer: bool = True,
        nonces: NonceManager | None = None,
    ) -> None:
        self.config = config
        self.market = market
        self.scale = Scale(market.price_decimals, market.size_decimals)
        # Market minimums as wire integers (min quote in base_amount × price units).
        self._min_base = (
            self.scale.parse_size(str(market.min_base_amount)) if market.min_base_amount else None
        )
        self._min_quote_wire = (
            int(
                (
                    Decimal(str(market.min_quote_amount))
                    * self.scale.size_scale
                    * self.scale.price_scale
                ).to_integral_value(ROUND_CEILING)
            )
            if market.min_quote_amount
            else None
        )
        self.log, self.tx_log = make_loggers(config.logger)
        self._signer = signer
        self._owns_signer = owns_signer
        self._rest = rest
        self.limiter = limiter
        assert config.api_keys and config.account_index is not None
        self.account_index: int = config.account_index
        self._nonces = (
            nonces if nonces is not None else NonceManager(list(config.api_keys), self._fetch_nonce)
        )
        self._queue: list[_Intent] = []
        # COI → what we know of the order: our intent, then WS/REST updates.
        self._orders = CoiCache(config.coi_cache_size)
        self._next_coi: Callable[[], int] = (
            config.coi_allocator
            if config.coi_allocator is not None
            else _COI_ALLOCATOR
            if config.coi_start is None
            else CoiAllocator(start=config.coi_start)
        )
        self._finished = CoiCache(config.coi_cache_size)  # COI → final status
        self.price_source: Any = config.price_source
        self._ws: Any = None
        self._ws_ids = itertools.count(1)
        self._ws_prefix = f"lf{os.getpid()}-{id(self) & 0xFFFFFF:x}-"
        self._inflight: set[asyncio.Task[Any]] = set()
        self._auth: Any = None
        self._closed = False
        self._closing = False
        self.last_batch_results: list[dict[str, Any]] = []  # acceptances of the last batch()
        self.stats = {"sent_batches": 0, "accepted_txs": 0, "rejected_txs": 0, "nonce_resyncs": 0}

    def __repr__(self) -> str:
        return (
            f"LighterDealer(account_index={self.account_index}, market={self.market.symbol!r}"
            f"#{self.market.market_index}, keys={self._nonces.api_key_indices},"
            f" queued={len(self._queue)}, closed={self._closed})"
        )

    # ==========================================================================================
    # construction
    # ==========================================================================================

    @classmethod
    async def create(
        cls,
        config: DealerConfig,
        *,
        signer: Any = None,
        share_nonces_with: LighterDealer | None = None,
    ) -> LighterDealer:
        """Resolve the market, load the signer and open the transports for `config`.

        `share_nonces_with`: an open dealer of the same account, node and API keys; both then
        take nonces from one lane per key (never counting separately). Close this one first.
        """
        if not isinstance(config, DealerConfig):
            raise TypeError("config must be a DealerConfig")
        config.require_credentials()
        assert config.api_keys is not None and config.account_index is not None
        shared_nonces = _shared_nonces(config, share_nonces_with)
        capacity = config.rate_limit_per_minute or (
            P.STANDARD_REQUESTS_PER_MINUTE
            if config.standard_account
            else P.PREMIUM_WEIGHT_PER_MINUTE
        )
        limiter = WeightLimiter(capacity, P.RATE_WINDOW_S)
        # Premium: transactions have their own budget (24000 weight = 4000 sends per minute).
        tx_limiter = None if config.standard_account else WeightLimiter(capacity, P.RATE_WINDOW_S)
        log, _ = make_loggers(config.logger)
        rest = RestClient(
            config.base_url,
            limiter=limiter,
            tx_limiter=tx_limiter,
            standard_account=config.standard_account,
            jitter_ms=config.jitter_ms,
            timeout=config.request_timeout,
            max_retries=config.max_retries,
            logger=log,
        )
        try:
            # The node's market table is the truth and this read is the first contact: an
            # unreachable node fails here at once (NodeUnreachable), unless lazy_connect.
            market = await resolve_market(
                symbol=config.symbol,
                market_index=config.market_index,
                price_scale=config.price_scale,
                size_scale=config.size_scale,
                base_url=config.base_url,
                fetcher=lambda: _fetch_market_rows(rest),
                lazy=config.lazy_connect,
                logger=log,
            )
            online = market.source == "node" or not config.lazy_connect
            owns = signer is None
            if signer is None:
                from .signing import NativeSigner, SdkSigner

                signer_cls: Any = NativeSigner if config.signer == "native" else SdkSigner
                signer = await signer_cls.create(
                    config.account_index,
                    dict(config.api_keys),
                    chain_id=config.chain_id if online else _offline_chain_id(config),
                    base_url=config.base_url,
                )
        except NodeUnreachable as exc:
            await rest.close()
            hint = "or set lazy_connect=True to start now and connect at first use"
            raise NodeUnreachable(exc.url, exc.detail, hint) from exc.__cause__
        except BaseException:
            await rest.close()
            raise
        try:
            dealer = cls(
                config,
                market,
                signer=signer,
                rest=rest,
                limiter=limiter,
                owns_signer=owns,
                nonces=shared_nonces,
            )
        except BaseException:
            await rest.close()
            if owns:
                signer.close()
            raise
        if config.use_ws:
            try:
                if online:
                    await dealer._connect_ws()
                else:  # lazy and the node is down: REST until the socket comes up by itself
                    from .transport.websocket import WsConnection, ws_url_for

                    ws = WsConnection(
                        config.ws_url or ws_url_for(config.base_url), name="dealer-ws"
                    )
                    dealer._ws = ws
                    await ws.start(wait=False)
            except BaseException:
                await dealer.aclose()
                raise
        log.info(
            "dealer ready: account %d, market %s (#%d, price %d / size %d decimals from the %s),"
            " keys %s, %s",
            config.account_index,
            market.symbol,
            market.market_index,
            market.price_decimals,
            market.size_decimals,
            "node" if market.source == "node" else f"{market.source} table",
            sorted(config.api_keys),
            "websocket" if dealer._ws_usable() else "REST",
        )
        return dealer

    @classmethod
    async def from_config(
        cls,
        path: str | os.PathLike[str] | None = "config.json",
        symbol: str | None = None,
        **overrides: Any,
    ) -> LighterDealer:
        """Build from config.json + env + overrides (arguments > env > file).

        `symbol` defaults to "ETH" unless `market_index=` is given.
        """
        if symbol is None and overrides.get("market_index") is None:
            symbol = "ETH"
        if symbol is not None:
            overrides["symbol"] = symbol
        signer = overrides.pop("signer", None)
        if isinstance(signer, str):  # the config field ("sdk" / "native"), not a signer object
            overrides["signer"], signer = signer, None
        share = overrides.pop("share_nonces_with", None)
        data = load_lighter_config(path, overrides)
        return await cls.create(
            DealerConfig.from_mapping(data), signer=signer, share_nonces_with=share
        )

    # ==========================================================================================
    # what other parts of a bot may share or watch
    # ==========================================================================================

    @property
    def signer(self) -> Any:
        """The signer this dealer signs with (pass it to a WsInfo or dealer of the same key)."""
        return self._signer

    @property
    def closed(self) -> bool:
        """True once `aclose()` has run."""
        return self._closed

    def rate_budget(self) -> RateBudget:
        """The limiter bucket order sends draw from, as it stands now (premium: its own)."""
        rest = self._rest
        limiter = rest.tx_limiter if rest.tx_limiter is not None else rest.limiter
        return RateBudget(
            left=int(limiter.available()),
            capacity=int(limiter.capacity),
            batch_cost=rest.cost("sendTxBatch"),
            read_cost=rest.cost("account"),
            shared_with_reads=rest.tx_limiter is None,
        )

    # ==========================================================================================
    # context management
    # ==========================================================================================

    async def __aenter__(self) -> LighterDealer:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Flush what is queued, wait for sends in flight, then close everything; idempotent."""
        if self._closed or self._closing:
            return
        self._closing = True
        try:
            if self._queue:
                try:
                    await self.flush()
                except Exception:
                    self.log.exception("flush on close failed")
            if self._inflight:
                await asyncio.gather(*list(self._inflight), return_exceptions=True)
        finally:
            self._closed = True
            self._warn_unsent("closed")
            ws, self._ws = self._ws, None
            if ws is not None:
                try:
                    await ws.close()
                except Exception as exc:
                    self.log.debug("websocket close raised %s", _describe(exc))
            if self._auth is not None:
                try:
                    await self._auth.aclose()
                except Exception as exc:
                    self.log.debug("auth provider close raised %s", _describe(exc))
            await self._rest.close()
            if self._owns_signer and self._signer is not None:
                try:
                    self._signer.close()
                except Exception as exc:
                    self.log.debug("signer close raised %s", _describe(exc))
            self.log.info("dealer closed")

    def _check_open(self) -> None:
        if self._closed:
            raise LighterError("dealer is closed")

    def _warn_unsent(self, how: str) -> None:
        """Say how many queued transactions will never be sent (closed or collected with them)."""
        count = len(self._queue)
        if count:
            self.log.warning(
                "dealer %s with %d queued transaction%s never sent (flush() before closing)",
                how,
                count,
                "" if count == 1 else "s",
            )

    def __del__(self) -> None:
        # A dealer dropped without aclose() loses its queue: never silently.
        if not getattr(self, "_closed", True) and getattr(self, "_queue", None):
            self._warn_unsent("garbage-collected")

    # ==========================================================================================
    # conversion helpers
    # ==========================================================================================

    def _price_int(self, value: Any, name: str = "price", rounding: str | None = None) -> int:
        mode = rounding or self.config.rounding
        if mode == "exact":
            low = self.scale.price_to_int(_as_price_input(value, name), "down")
            high = self.scale.price_to_int(_as_price_input(value, name), "up")
            if low != high:
                raise ValueError(
                    f"{name} {value!r} has more decimals than the market's"
                    f" {self.market.price_decimals} (rounding='exact')"
                )
            return low
        if mode not in ("nearest", "up", "down"):
            raise ValueError(f"rounding must be nearest, up, down or exact, got {mode!r}")
        return self.scale.price_to_int(_as_price_input(value, name), mode)  # type: ignore[arg-type]

    def _size_int(self, magnitude: Any, name: str = "size") -> int:
        try:
            return self.scale.size_to_int(magnitude, "down")
        except ValueError as exc:
            if name != "size":
                raise ValueError(str(exc).replace("size", name, 1)) from None
            raise

    # ==========================================================================================
    # queueing
    # ==========================================================================================

    def _enqueue(self, intents: Sequence[_Intent]) -> None:
        """Append validated intents to the current batch buffer or the dealer queue.

        The signer's own rules run here too, so that nothing it would refuse at flush time
        (after earlier chunks may have left) is ever queued.
        """
        self._check_open()
        for intent in intents:
            _SIGNER_CHECKS[intent.action](**intent.kwargs)
        buffer = _batch_buffer.get()
        target = buffer if buffer is not None else self._queue
        for intent in intents:
            if intent.action == ACTION_CREATE:
                self._remember_create(intent)
            target.append(intent)

    def _build_create(
        self,
        price: Any,
        size: Any,
        *,
        order_type: int = P.ORDER_TYPE_LIMIT,
        post_only: bool = False,
        reduce_only: bool = False,
        time_in_force: Any = None,
        expiry: Any = None,
        price_rounding: str | None = None,
        client_order_index: int | None = None,
    ) -> _Intent:
        """Validate and convert one create into an intent (raises before anything is queued)."""
        is_ask, magnitude = _split_signed(size, "size")
        base_amount = self._size_int(magnitude)
        price_int = self._price_int(price, "price", price_rounding)
        post_only = check_flag("post_only", post_only)
        reduce_only = check_flag("reduce_only", reduce_only)
        if order_type == P.ORDER_TYPE_MARKET:
            tif = P.TIF_IOC
        elif post_only:
            tif = P.TIF_POST_ONLY
            if time_in_force is not None and _tif(time_in_force) != P.TIF_POST_ONLY:
                raise ValueError("time_in_force conflicts with post_only=True")
        else:
            tif = P.TIF_GTT if time_in_force is None else _tif(time_in_force)
        if tif == P.TIF_IOC:
            if expiry not in (None, 0):
                raise ValueError("expiry must be None for an immediate-or-cancel order")
            order_expiry = 0
        else:
            order_expiry = -1 if expiry is None else _expiry_ms(expiry)
        self._check_minimums(base_amount, price_int, tif, order_type)
        coi = _coi(self._next_coi() if client_order_index is None else client_order_index)
        kwargs = {
            "market_index": self.market.market_index,
            "client_order_index": coi,
            "base_amount": base_amount,
            "price": price_int,
            "is_ask": is_ask,
            "order_type": order_type,
            "time_in_force": tif,
            "reduce_only": bool(reduce_only),
            "trigger_price": 0,
            "order_expiry": order_expiry,
        }
        summary = {
            "client_order_index": coi,
            "action": ACTION_CREATE,
            "market_index": self.market.market_index,
            "symbol": self.market.symbol,
            "side": "sell" if is_ask else "buy",
            "price": self.scale.price_to_float(price_int),
            "size": self.scale.size_to_float(base_amount) * (-1 if is_ask else 1),
            "type": P.ORDER_TYPE_NAMES[order_type],
            "time_in_force": P.TIF_NAMES[tif],
            "reduce_only": bool(reduce_only),
            "status": "queued",
        }
        return _Intent(ACTION_CREATE, kwargs, coi, self.market.market_index, None, summary)

    def _check_minimums(
        self, base_amount: int, price_int: int, tif: int, order_type: int, name: str = "size"
    ) -> None:
        """Reject maker orders below the node's min base / min quote amount (§0.3)."""
        if order_type != P.ORDER_TYPE_LIMIT or tif == P.TIF_IOC:
            return
        if self._min_base is not None:
            if base_amount < self._min_base:
                raise ValueError(
                    f"{name} {self.scale.format_size(base_amount)} is below the market minimum"
                    f" {self.market.min_base_amount} ({self.market.symbol})"
                )
        if self._min_quote_wire is not None and base_amount * price_int < self._min_quote_wire:
            quote = (
                Decimal(base_amount)
                * Decimal(price_int)
                / (self.scale.size_scale * self.scale.price_scale)
            )
            if quote < Decimal(str(self.market.min_quote_amount)):
                raise ValueError(
                    f"{name} x price = {quote} is below the market minimum quote amount"
                    f" {self.market.min_quote_amount} ({self.market.symbol})"
                )

    async def create_limit_order(
        self,
        price: Any,
        size: Any,
        *,
        post_only: bool = False,
        reduce_only: bool = False,
        time_in_force: Any = None,
        expiry: Any = None,
        client_order_index: int | None = None,
    ) -> dict[str, Any]:
        """Queue a limit order (size + buys, − sells); returns its summary with the COI."""
        intent = self._build_create(
            price,
            size,
            post_only=post_only,
            reduce_only=reduce_only,
            time_in_force=time_in_force,
            expiry=expiry,
            client_order_index=client_order_index,
        )
        self._enqueue([intent])
        return dict(intent.summary)

    async def _enqueue_limit(self, price: Any, size: Any, **opts: Any) -> dict[str, Any]:
        """Seed-README name for `create_limit_order` (used inside `batch()` blocks)."""
        return await self.create_limit_order(price, size, **opts)

    async def create_market_order(
        self,
        size: Any,
        avg_execution_price: Any = None,
        *,
        reduce_only: bool = False,
        slippage: float | None = None,
        client_order_index: int | None = None,
    ) -> dict[str, Any]:
        """Queue an IOC market order; the worst price is `avg_execution_price` or ref ± slippage."""
        is_ask, magnitude = _split_signed(size, "size")
        self._size_int(magnitude)  # validate before any price read
        check_flag("reduce_only", reduce_only)
        if avg_execution_price is not None:
            price: Any = avg_execution_price
            rounding = "down" if is_ask else "up"
        else:
            slip = self.config.market_slippage if slippage is None else slippage
            if isinstance(slip, bool) or not isinstance(slip, (int, float)) or not 0 <= slip < 1:
                raise ValueError("slippage must be a fraction in [0, 1)")
            ref = await self._reference_price(is_ask)
            factor = Decimal(1) - Decimal(str(slip)) if is_ask else Decimal(1) + Decimal(str(slip))
            worst = Decimal(ref) * factor
            worst_int = int(worst.to_integral_value(ROUND_FLOOR if is_ask else ROUND_CEILING))
            if worst_int < P.MIN_PRICE:
                worst_int = P.MIN_PRICE
            price = self.scale.format_price(min(worst_int, P.MAX_PRICE))
            rounding = "nearest"
        intent = self._build_create(
            price,
            size,
            order_type=P.ORDER_TYPE_MARKET,
            reduce_only=reduce_only,
            price_rounding=rounding
            if avg_execution_price is None or self.config.rounding != "exact"
            else "exact",
            client_order_index=client_order_index,
        )
        self._enqueue([intent])
        return dict(intent.summary)

    async def _reference_price(self, is_ask: bool) -> int:
        """Best opposite price (or LTP) as a wire integer, from the price source or REST."""
        source = self.price_source
        market = self.market.market_index
        if source is not None:
            book = None
            getter = getattr(source, "get_order_book", None)
            if callable(getter):
                try:
                    book = getter(market)
                except Exception:
                    book = None
            if book is not None and not getattr(book, "is_stale", False):
                level = book.best_bid() if is_ask else book.best_ask()
                if level:
                    return self.scale.price_to_int(repr(float(level[0])), "nearest")
            ltp_getter = getattr(source, "get_ltp", None)
            ltp = ltp_getter() if callable(ltp_getter) else None
            if ltp:
                return self.scale.price_to_int(repr(float(ltp)), "nearest")
        body = await self._rest.get("orderBookOrders", {"market_id": market, "limit": 1})
        side = body.get("bids" if is_ask else "asks") or []
        if side:
            return self.scale.parse_price(str(side[0]["price"]))
        trades = (await self._rest.get("recentTrades", {"market_id": market, "limit": 1})).get(
            "trades"
        ) or []
        if trades:
            return self.scale.parse_price(str(trades[0]["price"]))
        raise LighterError(
            f"no reference price for a market order on {self.market.symbol}: the book side is"
            " empty and there are no trades; pass avg_execution_price="
        )

    def _known_order(self, coi: Any) -> dict[str, Any]:
        """The live-view record of a COI, or OrderNotFoundByCoi (nothing signed)."""
        coi = _coi(coi)
        record = self._orders.get(coi)
        if record is not None:
            return record
        final = self._finished.get(coi)
        if final is not None:
            raise OrderNotFoundByCoi(coi, f"already finished: {final}")
        raise OrderNotFoundByCoi(coi, "never issued by this dealer nor seen on the order streams")

    async def cancel_order_by_coi(self, coi: int) -> dict[str, Any]:
        """Queue a cancel of the order with this COI (sent as `Index`, no lookup needed)."""
        intent = self._build_cancel(coi)
        self._enqueue([intent])
        return dict(intent.summary)

    def _build_cancel(self, coi: Any) -> _Intent:
        """A cancel of a known COI, sent as `Index` on the key that sent its create."""
        record = self._known_order(coi)
        coi = record["client_order_index"]
        market = record.get("market_index")
        market = self.market.market_index if market is None else market
        return _Intent(
            ACTION_CANCEL,
            {"market_index": market, "order_index": coi},
            coi,
            market,
            record.get("api_key_index"),
            {
                "client_order_index": coi,
                "action": ACTION_CANCEL,
                "market_index": market,
                "status": "queued",
            },
        )

    async def update_order_by_coi(
        self,
        coi: int,
        price: Any = None,
        quantity: Any = None,
        trigger_price: Any = None,
    ) -> dict[str, Any]:
        """Queue a modify; fields left None keep the order's current value."""
        record = self._known_order(coi)
        intent = self._build_modify(record, price, quantity, trigger_price)
        self._enqueue([intent])
        return dict(intent.summary)

    def _build_modify(
        self, record: Mapping[str, Any], price: Any, quantity: Any, trigger_price: Any
    ) -> _Intent:
        market = record.get("market_index")
        market = self.market.market_index if market is None else market
        if market != self.market.market_index and (price is not None or quantity is not None):
            raise ValueError(
                f"order {record['client_order_index']} is on market {market}; modify it with a"
                f" dealer for that market (this one converts for {self.market.symbol})"
            )
        if price is None:
            price_int = record.get("price_int")
            if price_int is None:
                raise ValueError("price: current price unknown; pass price=")
        else:
            price_int = self._price_int(price, "price")
        if quantity is None:
            base_amount = record.get("base_amount_int")
            if base_amount is None:
                raise ValueError("quantity: current size unknown; pass quantity=")
        else:
            is_ask, magnitude = _split_signed(quantity, "quantity")
            if is_ask and not record.get("is_ask"):
                raise ValueError(
                    "quantity: negative quantity for a buy order (a modify keeps the side)"
                )
            base_amount = self._size_int(magnitude, "quantity")
        if market == self.market.market_index:  # the node refuses a resting order below them
            self._check_minimums(base_amount, price_int, P.TIF_GTT, P.ORDER_TYPE_LIMIT, "quantity")
        if trigger_price is None:
            trigger_int = record.get("trigger_price_int") or 0
        elif trigger_price == 0:
            trigger_int = 0
        else:
            trigger_int = self._price_int(trigger_price, "trigger_price")
        coi = record["client_order_index"]
        return _Intent(
            ACTION_MODIFY,
            {
                "market_index": market,
                "order_index": coi,
                "base_amount": base_amount,
                "price": price_int,
                "trigger_price": trigger_int,
            },
            coi,
            market,
            record.get("api_key_index"),
            {
                "client_order_index": coi,
                "action": ACTION_MODIFY,
                "market_index": market,
                "price": self.scale.price_to_float(price_int),
                "quantity": self.scale.size_to_float(base_amount),
                "trigger_price": self.scale.price_to_float(trigger_int) if trigger_int else 0.0,
                "status": "queued",
            },
        )

    async def cancel_all_orders(self) -> dict[str, Any]:
        """Queue a cancel of every open order of the account (all markets, now)."""
        intent = _Intent(
            ACTION_CANCEL_ALL,
            {"time_in_force": P.CANCEL_ALL_NOW, "time": 0},
            None,
            None,
            None,
            {"client_order_index": None, "action": ACTION_CANCEL_ALL, "status": "queued"},
        )
        self._enqueue([intent])
        return dict(intent.summary)

    async def batch_cancel_and_create(
        self,
        cancel_client_order_indices: Iterable[int] = (),
        new_limit_orders: Iterable[tuple[Any, Any]] = (),
    ) -> list[dict[str, Any]]:
        """Cancel COIs and create limit orders in one batch, one send; returns the acceptances.

        Everything is validated first: one bad COI or order raises and nothing is sent.
        """
        self._check_open()
        intents: list[_Intent] = []
        for coi in _as_list(cancel_client_order_indices, "cancel_client_order_indices"):
            intents.append(self._build_cancel(coi))
        for position, item in enumerate(_as_list(new_limit_orders, "new_limit_orders")):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(f"new_limit_orders[{position}]: expected (price, size)")
            intents.append(self._build_create(item[0], item[1]))
        if not intents:
            return []
        self._check_open()
        for intent in intents:
            _SIGNER_CHECKS[intent.action](**intent.kwargs)
        for intent in intents:  # register creates in the live view (no queue: sent right now)
            if intent.action == ACTION_CREATE:
                self._remember_create(intent)
        return await self._send_intents(intents, same_key=True)

    def _remember_create(self, intent: _Intent) -> None:
        """Put a create in the live view as "queued" (so it can be canceled/modified at once)."""
        assert intent.coi is not None
        self._orders.put(
            intent.coi,
            {
                "client_order_index": intent.coi,
                "market_index": intent.market_index,
                "is_ask": bool(intent.kwargs["is_ask"]),
                "price_int": intent.kwargs["price"],
                "base_amount_int": intent.kwargs["base_amount"],
                "trigger_price_int": intent.kwargs["trigger_price"],
                "status": "queued",
                "order_index": None,
                "api_key_index": None,
            },
        )

    # deprecated order-index API ---------------------------------------------------------------

    def _index_and_market(self, order_index: Any, market_index: Any) -> tuple[int, int]:
        """A checked exchange order index and market (default: this dealer's)."""
        market = self.market.market_index if market_index is None else _market_index(market_index)
        return _order_index(order_index), market

    async def cancel_order(
        self, order_index: int, market_index: int | None = None
    ) -> dict[str, Any]:
        """Deprecated: cancel by exchange order index; use `cancel_order_by_coi`."""
        _deprecated("cancel_order(order_index)", "cancel_order_by_coi(coi)")
        index, market = self._index_and_market(order_index, market_index)
        intent = _Intent(
            ACTION_CANCEL,
            {"market_index": market, "order_index": index},
            None,
            market,
            None,
            {"client_order_index": None, "order_index": index, "action": ACTION_CANCEL},
        )
        self._enqueue([intent])
        return dict(intent.summary)

    async def update_order(
        self,
        order_index: int,
        price: Any,
        quantity: Any,
        trigger_price: Any = 0,
        market_index: int | None = None,
    ) -> dict[str, Any]:
        """Deprecated: modify by order index (all fields needed); use `update_order_by_coi`."""
        _deprecated("update_order(order_index, ...)", "update_order_by_coi(coi, ...)")
        index, market = self._index_and_market(order_index, market_index)
        price_int = self._price_int(price, "price")
        _, magnitude = _split_signed(quantity, "quantity")
        base_amount = self._size_int(magnitude, "quantity")
        trigger_int = 0 if not trigger_price else self._price_int(trigger_price, "trigger_price")
        intent = _Intent(
            ACTION_MODIFY,
            {
                "market_index": market,
                "order_index": index,
                "base_amount": base_amount,
                "price": price_int,
                "trigger_price": trigger_int,
            },
            None,
            market,
            None,
            {"client_order_index": None, "order_index": index, "action": ACTION_MODIFY},
        )
        self._enqueue([intent])
        return dict(intent.summary)

    # ==========================================================================================
    # batches and flush
    # ==========================================================================================

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[LighterDealer]:
        """Queue inside the block, flush once on exit; an exception discards the block's orders."""
        self._check_open()
        outer = _batch_buffer.get()
        buffer: list[_Intent] = []
        token = _batch_buffer.set(buffer)
        try:
            yield self
        except BaseException:
            for intent in buffer:
                if intent.action == ACTION_CREATE and intent.coi is not None:
                    self._orders.pop(intent.coi)
            raise
        finally:
            _batch_buffer.reset(token)
        if outer is not None:  # nested: the outer block flushes
            outer.extend(buffer)
            return
        self._queue.extend(buffer)
        self.last_batch_results = await self.flush()

    @property
    def queued(self) -> int:
        """Number of transactions waiting for the next flush."""
        return len(self._queue)

    async def flush(self) -> list[dict[str, Any]]:
        """Sign and send everything queued now (by any task); one acceptance dict per tx, in order.

        Each dict is the order summary plus `accepted`, `status` ("accepted", "rejected", or
        "unknown" when the reply was lost), `code`, `message`, `tx_hash`, `nonce`,
        `api_key_index`. Acceptance is not execution: the outcome comes on the order streams.
        """
        self._check_open()  # also after aclose(): a closed dealer sends nothing, silently or not
        if not self._queue:
            return []
        intents, self._queue = self._queue, []
        return await self._send_intents(intents, same_key=False)

    async def _send_intents(
        self, intents: list[_Intent], *, same_key: bool
    ) -> list[dict[str, Any]]:
        """Partition intents into per-key chunks, send the keys in parallel, keep input order."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            plan = self._plan(intents, same_key)
            if len(plan) == 1:  # the common case: no task per lane needed
                ((key, chunks),) = plan.items()
                per_key = [await self._send_lane(key, chunks)]
            else:
                per_key = await asyncio.gather(
                    *(self._send_lane(key, chunks) for key, chunks in plan.items())
                )
        finally:
            if task is not None:
                self._inflight.discard(task)
        by_id: dict[int, dict[str, Any]] = {}
        for results in per_key:
            for intent_id, result in results:
                by_id[intent_id] = result
        return [by_id[id(intent)] for intent in intents]

    def _plan(self, intents: list[_Intent], same_key: bool) -> dict[int, list[list[_Intent]]]:
        """Assign keys (COI affinity first, rotation for the rest) and cut max_ws_batch chunks."""
        cap = self.config.max_ws_batch
        lists: dict[int, list[_Intent]] = {}
        if same_key:  # one batch: the key of an order it touches, else the next in rotation
            key = None
            for intent in intents:
                record = self._orders.get(intent.coi) if intent.coi is not None else None
                if record is not None and record.get("api_key_index") in self._nonces.lanes:
                    key = record["api_key_index"]
                    break
            if key is None:
                key = self._nonces.pick()
            lists[key] = list(intents)
        else:
            chosen: dict[int, int] = {}  # COI → key chosen earlier in this flush
            block_key: int | None = None
            block_fill = 0
            for intent in intents:
                key_for = intent.api_key_index
                if key_for is None and intent.coi is not None:
                    key_for = chosen.get(intent.coi)
                    if key_for is None and intent.action != ACTION_CREATE:
                        record = self._orders.get(intent.coi)
                        key_for = record.get("api_key_index") if record else None
                if key_for is None or key_for not in self._nonces.lanes:
                    if block_key is None or block_fill >= cap:
                        block_key, block_fill = self._nonces.pick(), 0
                    key_for = block_key
                    block_fill += 1
                if intent.coi is not None:
                    chosen[intent.coi] = key_for
                lists.setdefault(key_for, []).append(intent)
        for key, items in lists.items():
            for intent in items:
                if intent.action == ACTION_CREATE and intent.coi is not None:
                    record = self._orders.get(intent.coi)
                    if record is not None:
                        record["api_key_index"] = key
        return {
            key: [items[i : i + cap] for i in range(0, len(items), cap)]
            for key, items in lists.items()
        }

    async def _send_lane(
        self, key: int, chunks: list[list[_Intent]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Send one key's chunks in order while holding its nonce lane."""
        out: list[tuple[int, dict[str, Any]]] = []
        async with self._nonces.hold(key) as lane:
            for chunk in chunks:
                out.extend(await self._send_chunk(lane, chunk))
        return out

    async def _send_chunk(
        self, lane: Any, chunk: list[_Intent]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Take nonces, sign, send one batch; on 21104 resync and re-sign the same intents.

        The node's nextNonce may lag its accepted txs (protocol §2.10), so a resync can read a
        stale value: later resyncs wait a little first (NONCE_RESYNC_DELAYS_S), a bounded number
        of times. A 21104 consumes nothing, so re-signing with a fresh nonce reuses no nonce.
        """
        key = lane.api_key_index
        n = len(chunk)
        error: BaseException | None = None
        unknown = False  # sent, but the reply never came: the node may have accepted it
        for attempt in range(1 + len(NONCE_RESYNC_DELAYS_S)):
            if attempt:
                await asyncio.sleep(NONCE_RESYNC_DELAYS_S[attempt - 1])
            try:
                first = await lane.take(n)
            except Exception as exc:  # nextNonce failed: nothing signed, nothing sent
                error = exc
                break
            requests = []
            for offset, intent in enumerate(chunk):
                kwargs = dict(intent.kwargs)
                kwargs["nonce"] = first + offset
                kwargs["api_key_index"] = key
                requests.append((_SIGN_METHOD[intent.action], kwargs))
            try:
                signed = await self._signer.asign_many(requests)
            except BaseException as exc:  # nothing left the process: give the nonces back
                lane.rollback(first, n)
                if not isinstance(exc, Exception):
                    raise
                error = exc
                break
            if self.tx_log.is_enabled(10):
                for tx in signed:
                    self.tx_log.debug("send key=%d %s", key, tx_preview(tx.tx_type, tx.tx_info))
            try:
                hashes = await self._transmit(signed)
            except NonceError as exc:
                lane.invalidate()
                self.stats["nonce_resyncs"] += 1
                error = exc
                self.log.warning(
                    "key %d: %s on a batch of %d; resyncing nonce%s",
                    key,
                    exc,
                    n,
                    " and re-signing" if attempt < len(NONCE_RESYNC_DELAYS_S) else "",
                )
                continue
            except (TxRejected, RateLimited, SignerError) as exc:
                lane.rollback(first, n)  # a rejected request consumed nothing
                error = exc
                break
            except BaseException as exc:  # outcome unknown: ask the node before the next use
                lane.invalidate()
                if not isinstance(exc, Exception):  # cancelled mid-send: propagate
                    raise
                error = exc
                unknown = True
                break
            self.stats["sent_batches"] += 1
            self.stats["accepted_txs"] += n
            if len(hashes) != n:  # the node's hash is the acceptance truth; else the signer's
                hashes = [tx.tx_hash for tx in signed]
            return [
                (id(intent), self._accepted(intent, tx.tx_type, tx_hash, first + i, key))
                for i, (intent, tx, tx_hash) in enumerate(zip(chunk, signed, hashes, strict=True))
            ]
        assert error is not None
        self.stats["rejected_txs"] += n
        self.log.warning("batch of %d on key %d not accepted: %s", n, key, _describe(error))
        return [(id(intent), self._rejected(intent, error, key, unknown)) for intent in chunk]

    def _accepted(
        self, intent: _Intent, tx_type: int, tx_hash: str, nonce: int, key: int
    ) -> dict[str, Any]:
        result = dict(intent.summary)
        result.update(
            status="accepted",
            accepted=True,
            code=200,
            tx_type=tx_type,
            tx_hash=tx_hash,
            nonce=nonce,
            api_key_index=key,
        )
        if intent.coi is not None:
            record = self._orders.get(intent.coi)
            if record is not None:
                if intent.action == ACTION_CREATE:
                    record["status"] = (
                        "accepted" if record["status"] == "queued" else record["status"]
                    )
                    record["api_key_index"] = key
                elif intent.action == ACTION_MODIFY:
                    record["price_int"] = intent.kwargs["price"]
                    record["base_amount_int"] = intent.kwargs["base_amount"]
                    record["trigger_price_int"] = intent.kwargs["trigger_price"]
        return result

    def _rejected(
        self, intent: _Intent, error: BaseException, key: int, unknown: bool = False
    ) -> dict[str, Any]:
        """Result of a tx that was not accepted (`unknown`: sent, reply lost; see the stream)."""
        result = dict(intent.summary)
        code = getattr(error, "code", None)
        result.update(
            status="unknown" if unknown else "rejected",
            accepted=False,
            code=code,
            message=_describe(error),
            tx_hash=None,
            api_key_index=key,
        )
        if intent.action == ACTION_CREATE and intent.coi is not None:
            record = self._orders.get(intent.coi)
            # A create the node refused does not exist; an unknown outcome stays in the view
            # (status "unknown") until the order stream says otherwise.
            if record is not None and unknown:
                record["status"] = "unknown"
            elif record is not None and record.get("status") == "queued":
                self._orders.pop(intent.coi)
                self._finished.put(intent.coi, "rejected")
        return result

    async def _transmit(self, signed: Sequence[Any]) -> list[str]:
        """Send one signed batch (WS if connected, else REST); the node's tx hashes."""
        types = [tx.tx_type for tx in signed]
        infos = [tx.tx_info for tx in signed]
        ws = self._ws
        if ws is not None and self._ws_usable():
            body = await self._send_ws_batch(types, infos)
        else:
            body = await self._rest.send_tx_batch(types, infos)
        hashes = body.get("tx_hash")
        if isinstance(hashes, str):
            hashes = [hashes]
        if not isinstance(hashes, list):
            hashes = []
        return hashes

    # ==========================================================================================
    # WebSocket transport for tx batches
    # ==========================================================================================

    def _ws_usable(self) -> bool:
        ws = self._ws
        return ws is not None and bool(ws.connected)

    async def _connect_ws(self) -> None:
        """Open the dealer's own WebSocket for tx frames (REST is used while it is down)."""
        from .transport.websocket import WsConnection, ws_url_for

        url = self.config.ws_url or ws_url_for(self.config.base_url)
        ws = WsConnection(url, name="dealer-ws")
        try:
            await ws.start(wait=True, timeout=self.config.request_timeout)
        except Exception as exc:
            await ws.close()
            self.log.warning("WebSocket connect to %s failed (%s); sending over REST", url, exc)
            return
        self._ws = ws

    async def _send_ws_batch(self, types: list[int], infos: list[str]) -> dict[str, Any]:
        """One jsonapi/sendtxbatch frame, reply matched by `id`; retries rate-limit rejections."""
        attempt = 0
        while True:
            await self._rest.acquire("sendTxBatch")
            request_id = f"{self._ws_prefix}{next(self._ws_ids)}"
            frame = encode_sendtx_batch(types, infos, request_id=request_id)
            try:
                msg = await self._ws.request(frame, request_id, self.config.request_timeout)
            except asyncio.TimeoutError:
                raise WsClosed(
                    f"no reply to tx batch {request_id} within {self.config.request_timeout} s"
                ) from None
            reply = parse_tx_reply(msg)
            if reply.ok:
                return reply.raw
            err = error_from_code(reply.code, reply.message)
            if isinstance(err, RateLimited) and attempt < self.config.max_retries:
                attempt += 1
                delay = _RATE_RETRY_BASE_S * 2 ** (attempt - 1)
                self.log.warning(
                    "tx batch rate limited over WS (%s); retry %d in %.2f s", err, attempt, delay
                )
                await asyncio.sleep(delay)
                continue
            raise err

    # ==========================================================================================
    # nonces
    # ==========================================================================================

    async def _fetch_nonce(self, api_key_index: int) -> int:
        """nextNonce for one key, through the limiter (how a lane learns the node's value)."""
        nonce = await self._rest.next_nonce(self.account_index, api_key_index)
        self.log.debug("key %d: nextNonce = %d", api_key_index, nonce)
        return nonce

    async def _take_nonce(self, api_key_index: int | None = None) -> tuple[int, int]:
        """Take one nonce from a lane: (api_key_index, nonce). First use per key is counted."""
        return await self._nonces.take_one(api_key_index)

    # ==========================================================================================
    # live-order view
    # ==========================================================================================

    def feed_ws_orders(self, orders: Any) -> int:
        """Update the COI view from WS order frames (list, or map market → list); returns count.

        Live orders are stored with their order index and current price/size; filled,
        canceled* and expired orders are dropped and remembered as finished.
        """
        if isinstance(orders, Mapping):
            flat: list[Any] = []
            for value in orders.values():
                flat.extend(value if isinstance(value, list) else [value])
            orders = flat
        if not isinstance(orders, (list, tuple)):
            raise TypeError(f"orders must be a list of order dicts, got {type(orders).__name__}")
        # Pass 1 checks and converts everything; pass 2 changes the view (all or nothing).
        planned = [self._order_update(position, order) for position, order in enumerate(orders)]
        changed = 0
        for coi, status, fields in planned:
            if coi is None:  # an order placed without a COI: not in a COI view
                continue
            changed += 1
            if fields is None:
                self._orders.pop(coi)
                self._finished.put(coi, status)
                continue
            record = self._orders.get(coi)
            record = (
                {"client_order_index": coi, "api_key_index": None} if record is None else record
            )
            record.update(fields)
            self._orders.put(coi, record)
        return changed

    def _order_update(
        self, position: int, order: Any
    ) -> tuple[int | None, str, dict[str, Any] | None]:
        """(coi, status, fields to set) for one WS order; fields None = finished; raises if bad."""
        if not isinstance(order, Mapping):
            raise TypeError(f"orders[{position}] must be a dict, got {type(order).__name__}")
        coi = order.get("client_order_index")
        if coi in (None, 0):
            return None, "", None
        if isinstance(coi, bool) or not isinstance(coi, int) or not 0 < coi <= P.MAX_COI:
            raise ValueError(f"orders[{position}]: bad client_order_index {coi!r}")
        status = str(order.get("status", ""))
        if P.is_terminal_status(status):
            return coi, status, None
        known = self._orders.get(coi) or {}
        market = order.get("market_index", known.get("market_index"))
        fields: dict[str, Any] = {"status": status, "market_index": market}
        if order.get("order_index") is not None:
            fields["order_index"] = order["order_index"]
        if "is_ask" in order:
            fields["is_ask"] = bool(order["is_ask"])
        ours = market == self.market.market_index  # decimals known only for this market
        try:
            base_price = order.get("base_price")
            if isinstance(base_price, int) and base_price > 0:
                fields["price_int"] = base_price
            elif order.get("price") and ours:
                fields["price_int"] = self.scale.parse_price(str(order["price"]))
            base_size = order.get("base_size")
            if isinstance(base_size, int) and base_size > 0:
                fields["base_amount_int"] = base_size
            elif order.get("remaining_base_amount") and ours:
                fields["base_amount_int"] = self.scale.parse_size(
                    str(order["remaining_base_amount"])
                )
            trigger = order.get("trigger_price")
            if trigger and ours:
                fields["trigger_price_int"] = self.scale.parse_price(str(trigger))
        except ValueError as exc:
            raise ValueError(f"orders[{position}] (COI {coi}): {exc}") from None
        return coi, status, fields

    def resync_ws_orders(self, live_orders: Any) -> int:
        """Make the view match a full list of the account's live orders; returns COIs dropped.

        For `ws.on_orders_resync` (called after a reconnect's snapshot): an order the view saw
        live that is absent finished while the socket was down. Queued creates and accepted
        creates never seen on a stream yet are kept (the snapshot may predate them).
        """
        if isinstance(live_orders, (str, bytes, Mapping)) or not isinstance(live_orders, Iterable):
            raise TypeError(
                f"live_orders must be a list of order dicts, got {type(live_orders).__name__}"
            )
        live = list(live_orders)
        self.feed_ws_orders(live)  # validates every entry first
        present = {order.get("client_order_index") for order in live}
        dropped = 0
        for coi, record in self._orders.items():
            if coi in present:
                continue
            if record.get("order_index") is None and record.get("status") in _NOT_YET_LIVE:
                continue
            self._orders.pop(coi)
            self._finished.put(coi, STATUS_GONE)
            dropped += 1
        if dropped:
            self.log.info("order resync: %d order(s) finished while the stream was down", dropped)
        return dropped

    def get_order_by_coi(self, coi: int) -> dict[str, Any] | None:
        """The dealer's current view of one COI (None when unknown or finished)."""
        record = self._orders.get(_coi(coi))
        return dict(record) if record is not None else None

    # ==========================================================================================
    # reads
    # ==========================================================================================

    async def _auth_token(self) -> str:
        if self._auth is None:
            from .auth import AuthTokenProvider

            self._auth = AuthTokenProvider(self._signer, self._nonces.api_key_indices[0])
        token: str = await self._auth.get()
        return token

    async def fetch_open_orders(self, market_index: int | None = None) -> list[dict[str, Any]]:
        """Open orders of the account on a market (default: this dealer's), human numbers.

        Also warms the COI view, so orders of an earlier run can be canceled by COI.
        """
        self._check_open()
        market = self.market.market_index if market_index is None else _market_index(market_index)
        body = await self._rest.get(
            "accountActiveOrders",
            {"account_index": self.account_index, "market_id": market},
            auth=self._auth_token,
        )
        orders = body.get("orders") or []
        self.feed_ws_orders(list(orders))
        return [_order_view(o) for o in orders]

    async def _fetch_account(self) -> dict[str, Any]:
        body = await self._rest.get("account", {"by": "index", "value": self.account_index})
        accounts = body.get("accounts") or []
        if not accounts:
            raise TxRejected(P.ERR_ACCOUNT_NOT_FOUND, "account not found")
        account: dict[str, Any] = accounts[0]
        return account

    async def fetch_my_balance(self) -> dict[str, Any]:
        """Collateral and balances of the account as floats."""
        self._check_open()
        account = await self._fetch_account()
        assets = {}
        for asset in account.get("assets") or []:
            assets[str(asset.get("symbol"))] = {
                "balance": _human(asset.get("balance")),
                "locked_balance": _human(asset.get("locked_balance")),
                "margin_balance": _human(asset.get("margin_balance")),
            }
        return {
            "account_index": self.account_index,
            "collateral": _human(account.get("collateral")),
            "available_balance": _human(account.get("available_balance")),
            "total_asset_value": _human(account.get("total_asset_value")),
            "cross_asset_value": _human(account.get("cross_asset_value")),
            "assets": assets,
        }

    async def fetch_my_position(self, symbol: str | None = None) -> dict[str, Any]:
        """The account's position on a market (default: this dealer's); size signed, + long."""
        self._check_open()
        if symbol is None:
            market = self.market
        else:
            market = await resolve_market(
                symbol=symbol,
                base_url=self.config.base_url,
                fetcher=lambda: _fetch_market_rows(self._rest),
            )
        account = await self._fetch_account()
        for pos in account.get("positions") or []:
            if pos.get("market_id") == market.market_index:
                size = _human(pos.get("position")) or 0.0
                sign = -1 if int(pos.get("sign") or 0) < 0 else 1
                return {
                    "market_index": market.market_index,
                    "symbol": pos.get("symbol") or market.symbol,
                    "size": sign * size if size else 0.0,
                    "side": ("short" if sign < 0 else "long") if size else "flat",
                    "avg_entry_price": _human(pos.get("avg_entry_price")),
                    "position_value": _human(pos.get("position_value")),
                    "unrealized_pnl": _human(pos.get("unrealized_pnl")),
                    "realized_pnl": _human(pos.get("realized_pnl")),
                    "liquidation_price": _human(pos.get("liquidation_price")),
                    "open_order_count": pos.get("open_order_count"),
                }
        return {
            "market_index": market.market_index,
            "symbol": market.symbol,
            "size": 0.0,
            "side": "flat",
            "avg_entry_price": None,
            "position_value": 0.0,
            "unrealized_pnl": 0.0,
            "realized_pnl": 0.0,
            "liquidation_price": None,
            "open_order_count": 0,
        }


# --- small validators ------------------------------------------------------------------------


def _shared_nonces(config: DealerConfig, other: Any) -> NonceManager | None:
    """The nonce lanes of `other` for a dealer built from `config`, after checking they fit."""
    if other is None:
        return None
    if not isinstance(other, LighterDealer):
        raise TypeError("share_nonces_with must be a LighterDealer")
    if other.closed:
        raise ValueError("share_nonces_with: that dealer is closed")
    if other.account_index != config.account_index:
        raise ValueError(
            f"share_nonces_with: account {other.account_index} is not {config.account_index}"
        )
    if other.config.base_url != config.base_url:
        raise ValueError("share_nonces_with: that dealer talks to another node (base_url)")
    assert config.api_keys is not None
    keys, theirs = sorted(config.api_keys), sorted(other._nonces.api_key_indices)
    if keys != theirs:  # rotation picks from the shared lanes: each dealer must sign for all
        raise ValueError(f"share_nonces_with: API keys {keys} are not that dealer's {theirs}")
    return other._nonces


def _deprecated(old: str, new: str) -> None:
    """Warn the caller's caller that `old` is deprecated in favour of `new`."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


def _as_list(value: Any, name: str) -> list[Any]:
    """An iterable argument as a list; a str, bytes, mapping or scalar is refused by name."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    return list(value)


def _coi(value: Any) -> int:
    return check_int("client_order_index", value, P.MIN_COI, P.MAX_COI)


def _market_index(value: Any) -> int:
    return check_int("market_index", value, 0, P.MAX_SPOT_MARKET_INDEX)


def _order_index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"order_index must be an int, got {type(value).__name__}")
    if not P.MIN_ORDER_INDEX <= value <= P.MAX_ORDER_INDEX:
        raise ValueError(
            f"order_index must be an exchange order index ({P.MIN_ORDER_INDEX}..), got {value};"
            " for a client_order_index use cancel_order_by_coi/update_order_by_coi"
        )
    return value


def _tif(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("time_in_force must be a str or int, got bool")
    if isinstance(value, int):
        if value not in P.TIF_NAMES:
            raise ValueError(f"time_in_force must be one of {sorted(P.TIF_NAMES)}, got {value}")
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TIF_ALIASES:
            return _TIF_ALIASES[key]
        raise ValueError(f"time_in_force must be one of {sorted(_TIF_ALIASES)}, got {value!r}")
    raise TypeError(f"time_in_force must be a str or int, got {type(value).__name__}")


def _expiry_ms(value: Any) -> int:
    """Absolute order expiry in epoch ms, inside the venue's window (now+5 min … now+30 days)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expiry must be an int (epoch milliseconds), got {type(value).__name__}")
    now = int(time.time() * 1000)
    if not now + P.MIN_ORDER_EXPIRY_PERIOD_MS <= value <= now + P.MAX_ORDER_EXPIRY_PERIOD_MS:
        raise ValueError(
            "expiry must be epoch milliseconds between now + 5 minutes and now + 30 days"
        )
    return value


def _as_price_input(value: Any, name: str) -> Any:
    """Prices are unsigned: refuse bool early with the field name (the core names `price`)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number (float, int, str or Decimal), got bool")
    return value


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _fetch_market_rows(rest: RestClient) -> list[Mapping[str, Any]]:
    """Market rows from orderBookDetails, else orderBooks (counted; NodeUnreachable if down)."""
    return await fetch_market_rows(rest)


def _offline_chain_id(config: DealerConfig) -> int:
    """The chain id when the node cannot be asked (lazy start): config, else the known hosts."""
    from .signing import chain_id_for_url

    chain_id = config.chain_id if config.chain_id is not None else chain_id_for_url(config.base_url)
    if chain_id is None:
        raise ConfigError(
            f"lazy_connect: the node at {config.base_url} cannot be reached now, so its chain id"
            " (GET / network_id) is unknown; pass chain_id="
        )
    return chain_id
