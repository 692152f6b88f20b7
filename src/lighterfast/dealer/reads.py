"""Account reads over REST: open orders (which also warm the COI view), balance, position,
and the reference price a market order is bounded by.
"""

from __future__ import annotations

from typing import Any

from .. import protocol as P
from ..errors import LighterError, TxRejected
from ..markets import fetch_market_rows, resolve_market
from ..signing import AuthTokenProvider
from .intents import check_market_index
from .order_view import _human, _order_view, _OrderViewMixin


class _ReadsMixin(_OrderViewMixin):
    """REST reads of the dealer's account and market (each passes the rate limiter)."""

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
                fetcher=lambda: fetch_market_rows(self._rest),
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
