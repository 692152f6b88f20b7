"""Account reads over REST: open orders (which also warm the COI view), balance, position,
and the reference price a market order is bounded by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from .. import protocol as P
from ..errors import LighterError, TxRejected, describe
from ..markets import fetch_market_rows, resolve_market
from ..signing import AuthTokenProvider
from ..wire.frames import flat_position
from .intents import check_market_index
from .order_view import _human, _order_view, _OrderViewMixin

_COIS_PER_READ = 20  # accountOrders takes at most 20 COIs a request


class _ReadsMixin(_OrderViewMixin):
    """REST reads of the dealer's account and market (each passes the rate limiter)."""

    _node_check: asyncio.Task[None] | None
    _node_check_again: bool

    async def _reference_price(self, is_ask: bool) -> int:
        """Best opposite price (book, else ticker, else LTP) as a wire integer, from the price
        source or REST."""
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
            if book is not None and getattr(book, "is_stale", False):
                # A stale book (socket down or silent, or a resync pending) is no price at all.
                age = getattr(book, "age", None)
                since = "no frame yet" if age is None else f"last frame {age:.1f} s ago"
                raise LighterError(
                    f"price source: the order book of {self.market.symbol} (market {market}) is"
                    f" stale ({since}; its socket is down, silent or resyncing): refusing it as"
                    " the reference of a market order; retry after the resync or pass"
                    " avg_execution_price="
                )
            if book is not None:
                level = book.best_bid() if is_ask else book.best_ask()
                if level:
                    return self.scale.price_to_int(repr(float(level[0])), "nearest")
            else:
                # No book kept: a WsInfo's ticker stream (cleared while its socket is down).
                ticker_getter = getattr(source, "get_ticker", None)
                ticker = None
                if callable(ticker_getter):
                    try:
                        ticker = ticker_getter(market)
                    except Exception:
                        ticker = None
                best = ticker.get("best_bid" if is_ask else "best_ask") if ticker else None
                if best:
                    return self.scale.price_to_int(repr(float(best)), "nearest")
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

    async def _auth_token(self) -> str:
        """A read auth token of the dealer's first key (one provider, made at first use)."""
        if self._auth is None:
            self._auth = AuthTokenProvider(self._signer, self._nonces.api_key_indices[0])
        token: str = await self._auth.get()
        return token

    async def fetch_open_orders(self, market_index: int | None = None) -> list[dict[str, Any]]:
        """Open orders of the account on a market (default: this dealer's), human numbers.

        Also warms the COI view, so orders of an earlier run can be canceled by COI.
        """
        self._check_open()
        market = (
            self.market.market_index if market_index is None else check_market_index(market_index)
        )
        body = await self._rest.get(
            "accountActiveOrders",
            {"account_index": self.account_index, "market_id": market},
            auth=self._auth_token,
        )
        orders = body.get("orders") or []
        self.feed_ws_orders(list(orders))
        return [_order_view(o) for o in orders]

    async def _orders_by_coi(self, cois: Iterable[int]) -> list[dict[str, Any]]:
        """The node's Order objects of some COIs (accountOrders, 20 a request; absent: unknown)."""
        wanted = list(cois)
        out: list[dict[str, Any]] = []
        for i in range(0, len(wanted), _COIS_PER_READ):
            chunk = wanted[i : i + _COIS_PER_READ]
            body = await self._rest.get(
                "accountOrders",
                {
                    "account_index": self.account_index,
                    "client_order_indexes": ",".join(str(coi) for coi in chunk),
                },
                auth=self._auth_token,
            )
            out.extend(o for o in body.get("orders") or [] if isinstance(o, dict))
        return out

    async def reconcile(self, cois: Iterable[int] | None = None) -> dict[int, str]:
        """Ask the node (accountOrders) about orders no stream vouched for; COI → new status.

        Default: sent creates never seen on a stream; `cois`: those COIs of the view. Finished
        ones leave the view; an accepted create the node never heard of leaves it
        NODE_CHECK_GRACE s past acceptance as "not on the node" (earlier ones are kept).
        """
        self._check_open()
        asked = self._unvouched(cois)
        if not asked:
            return {}
        changed, _ = self._apply_node_orders(asked, await self._orders_by_coi(asked))
        return changed

    def _schedule_node_check(self) -> None:
        """Run the unvouched COIs' node check in one tracked background task (aclose ends it)."""
        if self._closed or self._closing:
            return
        task = self._node_check
        if task is not None and not task.done():
            self._node_check_again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): `await reconcile()` does it
        self._node_check_again = False
        self._node_check = loop.create_task(self._node_check_loop())

    async def _node_check_loop(self) -> None:
        """Check until nothing is left to settle (re-run when a resync came meanwhile)."""
        try:
            while not self._closed:
                self._node_check_again = False
                asked = self._unvouched()
                if not asked:
                    return
                orders = await self._orders_by_coi(asked)
                _, wait = self._apply_node_orders(asked, orders)
                if wait is None and not self._node_check_again:
                    return
                await asyncio.sleep(0.0 if wait is None else wait)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next resync or reconcile() tries again
            self.log.warning("order reconcile with the node failed: %s", describe(exc))

    async def _fetch_account(self) -> dict[str, Any]:
        body = await self._rest.get("account", {"by": "index", "value": self.account_index})
        accounts = body.get("accounts") or []
        if not accounts:
            raise TxRejected(P.ERR_ACCOUNT_NOT_FOUND, "account not found")
        account: dict[str, Any] = accounts[0]
        return account

    def _account_stream(self) -> Any:
        """The WsInfo this dealer was handed (`price_source`) when it follows this account now.

        A dealer reads its position and balance from a WsInfo when its `price_source` is a
        WsInfo of the same account whose account state is live (`account_state_ready`: the
        snapshots came since the last reconnect and no bad frame awaits its resync); else None
        and the read goes to REST.
        """
        source = self.price_source
        if source is None or getattr(source, "account_index", None) != self.account_index:
            return None
        if getattr(source, "account_state_ready", False) is not True:
            return None
        return source

    async def fetch_my_balance(self) -> dict[str, Any]:
        """Collateral and balances of the account as floats.

        From the handed WsInfo's streams when it follows this account (no request; see
        `_account_stream`), else one REST `account` read. Same keys either way.
        """
        self._check_open()
        stream = self._account_stream()
        if stream is not None:
            balance = stream.get_balance()
            if balance is not None:
                return {key: balance[key] for key in _BALANCE_KEYS}
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
        """The account's position on a market (default: this dealer's); size signed, + long.

        From the handed WsInfo's streams when it follows this account (no request; see
        `_account_stream`), else one REST `account` read. Same keys either way (those of
        `WsInfo.get_position`).
        """
        self._check_open()
        if symbol is None:
            market = self.market
        else:
            market = await resolve_market(
                symbol=symbol,
                base_url=self.config.base_url,
                fetcher=lambda: fetch_market_rows(self._rest),
            )
        stream = self._account_stream()
        if stream is not None:
            view: dict[str, Any] = stream.get_position(market.market_index)
            if view.get("symbol") is None:
                view["symbol"] = market.symbol
            return view
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
                    "liquidation_price": _human(pos.get("liquidation_price")),
                    "position_value": _human(pos.get("position_value")),
                    "allocated_margin": _human(pos.get("allocated_margin")),
                    "unrealized_pnl": _human(pos.get("unrealized_pnl")),
                    "realized_pnl": _human(pos.get("realized_pnl")),
                    "open_order_count": pos.get("open_order_count") or 0,
                    "pending_order_count": pos.get("pending_order_count") or 0,
                    "margin_mode": pos.get("margin_mode"),
                }
        return flat_position(market.market_index, market.symbol)


_BALANCE_KEYS = (
    "account_index",
    "collateral",
    "available_balance",
    "total_asset_value",
    "cross_asset_value",
    "assets",
)
