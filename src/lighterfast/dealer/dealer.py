"""`LighterDealer`: construction, lifecycle and the public order methods.

The work is done by the section mixins it is made of (no extra call per order): intents
(validate and convert), order_view (COI → order), send (batch, sign at flush, transmit) and
reads (REST account reads). See `lighterfast.dealer.send` for the nonce design.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable, Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from .. import protocol as P
from .._checks import check_flag
from ..config import DealerConfig, load_lighter_config
from ..core import CoiCache, Scale
from ..errors import ConfigError, NodeUnreachable, describe
from ..log import make_loggers
from ..markets import MarketInfo, fetch_market_rows, resolve_market
from ..transport.budget import budget_for
from ..transport.rest import RestClient
from ..wire import chain_id_for_url, ws_url_for
from .coi import CoiAllocator, allocator_for_slot, slot_for_keys
from .intents import _SIGNER_CHECKS, ACTION_CREATE, _as_list, _Intent, _IntentsMixin, _split_signed
from .nonces import NonceManager, node_key
from .order_view import FinishedCois
from .reads import _ReadsMixin
from .send import _SendMixin
from .trading import _TradingMixin

FLEET_URL_ENV = "LIGHTERFAST_FLEET_URL"  # = lighterfast.fleet.FLEET_URL_ENV (no redis import)


class LighterDealer(_TradingMixin, _SendMixin, _IntentsMixin, _ReadsMixin):
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
        fleet_link: Any = None,
        fleet_keys: list[int] | None = None,
        fleet_coi: Callable[[], int] | None = None,
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
        # One lane per (node, account, key) in this process: dealers of one key never count
        # separately (nonces.shared_lane); a manager passed in is the caller's to close.
        self._owns_nonces = nonces is None
        self._fleet_link = fleet_link  # dealer.fleet_link.FleetLink, when a fleet is configured
        self._nonces = (
            nonces
            if nonces is not None
            else NonceManager(
                fleet_keys or list(config.api_keys),
                self._fetch_nonce,
                base_url=config.base_url,
                account_index=config.account_index,
            )
        )
        if fleet_link is not None:  # lanes used only under the process's leases of them
            fleet_link.attach(self._nonces.lanes)
        self._queue: list[_Intent] = []
        # COI → what we know of the order: our intent, then WS/REST updates.
        self._orders = CoiCache(config.coi_cache_size)
        self._next_coi: Callable[[], int] = (
            config.coi_allocator
            if config.coi_allocator is not None
            else fleet_coi
            if fleet_coi is not None
            else allocator_for_slot(slot_for_keys(config.api_keys))
            if config.coi_start is None
            else CoiAllocator(start=config.coi_start)
        )
        self._finished = FinishedCois(config.coi_cache_size)  # COI → final status, compact
        self.price_source: Any = config.price_source
        self._ws: Any = None
        self._inflight: set[asyncio.Task[Any]] = set()
        # Unknown outcomes (see send.py): `on_resolved(result)` gets each final result.
        self.on_resolved: Callable[[dict[str, Any]], Any] | None = None
        self._unknowns: dict[int, list[Any]] = {}
        self._resolvers: dict[int, asyncio.Task[None]] = {}
        self._hook_tasks: set[asyncio.Future[Any]] = set()
        # The background node check of orders no stream vouched for (reads.py); aclose ends it.
        self._node_check: asyncio.Task[None] | None = None
        self._node_check_again = False
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

        Dealers of one (node, account, API key) in this process share that key's nonce lane
        and the account's rate budget by themselves. `share_nonces_with` (deprecated, a
        DeprecationWarning) is still checked (an open dealer of the same account, node and
        keys) but adds nothing: the lanes are shared anyway.
        """
        if not isinstance(config, DealerConfig):
            raise TypeError("config must be a DealerConfig")
        config.require_credentials()
        assert config.api_keys is not None and config.account_index is not None
        _check_share(config, share_nonces_with)
        capacity = config.rate_limit_per_minute or (
            P.STANDARD_REQUESTS_PER_MINUTE
            if config.standard_account
            else P.PREMIUM_WEIGHT_PER_MINUTE
        )
        # The account's one budget in this process (shared with its other dealers and WsInfo
        # resyncs); premium: transactions have their own bucket (24000 weight = 4000 sends).
        budget = budget_for(
            config.base_url,
            config.account_index,
            standard_account=config.standard_account,
            capacity=capacity,
        )
        link: Any = None
        fleet_url = config.fleet or os.environ.get(FLEET_URL_ENV) or None
        if fleet_url:  # the fleet's windows replace the process budget's (all its clients)
            from .fleet_link import FleetLink  # needs redis: only with a fleet

            try:
                link = await FleetLink.open(fleet_url, config.account_index, config.fleet_host)
                budget.limiter, budget.tx_limiter = link.limiters(
                    config.standard_account, capacity, base_url=config.base_url
                )
            except BaseException:
                budget.release()
                if link is not None:
                    await link.close()
                raise
        limiter = budget.limiter
        log, _ = make_loggers(config.logger)
        rest = RestClient(
            config.base_url,
            limiter=budget,
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
                fetcher=lambda: fetch_market_rows(rest),
                lazy=config.lazy_connect,
                logger=log,
            )
            online = market.source == "node" or not config.lazy_connect
            owns = signer is None
            if signer is None:
                from .. import signing  # NativeSigner loads the compiled module: only on demand

                native = config.signer == "native"
                signer_cls: Any = signing.NativeSigner if native else signing.SdkSigner
                chain_id = config.chain_id if online else _offline_chain_id(config)
                if chain_id is None and chain_id_for_url(config.base_url) is None:
                    chain_id = await rest.network_id()  # counted, unlike the signer's own ask
                signer = await signer_cls.create(
                    config.account_index,
                    dict(config.api_keys),
                    chain_id=chain_id,
                    base_url=config.base_url,
                )
        except NodeUnreachable as exc:
            await rest.close()
            if link is not None:
                await link.close()
            hint = "or set lazy_connect=True to start now and connect at first use"
            raise NodeUnreachable(exc.url, exc.detail, hint) from exc.__cause__
        except BaseException:
            await rest.close()
            if link is not None:
                await link.close()
            raise
        fleet_keys: list[int] | None = None
        fleet_coi: Callable[[], int] | None = None
        try:
            if link is not None:
                fleet_keys = await link.lease_lanes(list(config.api_keys))
                if config.coi_allocator is None and config.coi_start is None:
                    fleet_coi = await link.coi_source()
            dealer = cls(
                config,
                market,
                signer=signer,
                rest=rest,
                limiter=limiter,
                owns_signer=owns,
                fleet_link=link,
                fleet_keys=fleet_keys,
                fleet_coi=fleet_coi,
            )
        except BaseException:
            await rest.close()
            if link is not None:
                await link.close()
            if owns:
                signer.close()
            raise
        if config.use_ws:
            try:
                if online:
                    await dealer._connect_ws()
                else:  # lazy and the node is down: REST until the socket comes up by itself
                    from ..transport.websocket import WsConnection

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
            await self._close_resolution()
        finally:
            check, self._node_check = self._node_check, None
            if check is not None:
                check.cancel()
                await asyncio.gather(check, return_exceptions=True)
            self._closed = True
            self._warn_unsent("closed")
            ws, self._ws = self._ws, None
            if ws is not None:
                try:
                    await ws.close()
                except Exception as exc:
                    self.log.debug("websocket close raised %s", describe(exc))
            if self._auth is not None:
                try:
                    await self._auth.aclose()
                except Exception as exc:
                    self.log.debug("auth provider close raised %s", describe(exc))
            if self._owns_nonces:
                self._nonces.close()
            await self._rest.close()
            link, self._fleet_link = self._fleet_link, None
            if link is not None:
                try:
                    await link.close()
                except Exception as exc:
                    self.log.warning("fleet release on close raised %s", describe(exc))
            if self._owns_signer and self._signer is not None:
                try:
                    self._signer.close()
                except Exception as exc:
                    self.log.debug("signer close raised %s", describe(exc))
            self.log.info("dealer closed")

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
    # public order methods: validate and queue (the send mixin flushes)
    # ==========================================================================================

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

    async def cancel_order_by_coi(self, coi: int) -> dict[str, Any]:
        """Queue a cancel of the order with this COI (sent as `Index`, no lookup needed)."""
        intent = self._build_cancel(coi)
        self._enqueue([intent])
        return dict(intent.summary)

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

    async def cancel_all_orders(self) -> dict[str, Any]:
        """Queue a cancel of every open order of the account (all markets, now)."""
        intent = self._build_cancel_all()
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
        for intent in intents:  # kept: signed as is (no second check)
            intent.row = _SIGNER_CHECKS[intent.action](**intent.kwargs)
        self._check_new_cois(intents)  # a COI twice in one batch: refused, nothing sent
        for intent in intents:  # register creates in the live view (no queue: sent right now)
            if intent.action == ACTION_CREATE:
                self._remember_create(intent)
        return await self._send_intents(intents, same_key=True)

    # deprecated order-index API ---------------------------------------------------------------

    async def cancel_order(
        self, order_index: int, market_index: int | None = None
    ) -> dict[str, Any]:
        """Deprecated: cancel by exchange order index; use `cancel_order_by_coi`."""
        _deprecated("cancel_order(order_index)", "cancel_order_by_coi(coi)")
        intent = self._build_cancel_by_index(order_index, market_index)
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
        intent = self._build_modify_by_index(
            order_index, price, quantity, trigger_price, market_index
        )
        self._enqueue([intent])
        return dict(intent.summary)


# --- construction helpers ------------------------------------------------------------------


def _check_share(config: DealerConfig, other: Any) -> None:
    """Deprecated `share_nonces_with`: warn, and refuse a dealer whose lanes cannot be ours."""
    if other is None:
        return
    warnings.warn(
        "share_nonces_with is deprecated: dealers of one node, account and API key share its"
        " nonce lane by themselves",
        DeprecationWarning,
        stacklevel=3,
    )
    if not isinstance(other, LighterDealer):
        raise TypeError("share_nonces_with must be a LighterDealer")
    if other.closed:
        raise ValueError("share_nonces_with: that dealer is closed")
    if other.account_index != config.account_index:
        raise ValueError(
            f"share_nonces_with: account {other.account_index} is not {config.account_index}"
        )
    if node_key(other.config.base_url) != node_key(config.base_url):
        raise ValueError("share_nonces_with: that dealer talks to another node (base_url)")
    assert config.api_keys is not None
    keys, theirs = sorted(config.api_keys), sorted(other._nonces.api_key_indices)
    if keys != theirs:  # rotation picks from the shared lanes: each dealer must sign for all
        raise ValueError(f"share_nonces_with: API keys {keys} are not that dealer's {theirs}")


def _deprecated(old: str, new: str) -> None:
    """Warn the caller's caller that `old` is deprecated in favour of `new`."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


def _offline_chain_id(config: DealerConfig) -> int:
    """The chain id when the node cannot be asked (lazy start): config, else the known hosts."""
    chain_id = config.chain_id if config.chain_id is not None else chain_id_for_url(config.base_url)
    if chain_id is None:
        raise ConfigError(
            f"lazy_connect: the node at {config.base_url} cannot be reached now, so its chain id"
            " (GET / network_id) is unknown; pass chain_id="
        )
    return chain_id
