"""Orders beyond limit and market: stops, take-profits, brackets (OTOCO), OTO/OCO groups,
leverage and margin updates, and the dead-man switch (scheduled cancel-all, `deadman.py`).

Every method validates and converts at once (a bad argument raises, nothing is queued), queues
one transaction like `create_limit_order`, and returns its summary with the COI of every leg;
`flush()` signs and sends. Sizes are signed as everywhere in the dealer: + buys, − sells. Each
leg is an order of its own in the live view: cancel or modify it by its COI.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from .. import protocol as P
from .._checks import check_flag
from ..errors import SignerError
from .deadman import DeadManSwitch, _DeadManMixin
from .intents import (
    _SIGNER_CHECKS,
    ACTION_GROUPED,
    ACTION_LEVERAGE,
    ACTION_MARGIN,
    _expiry_ms,
    _Intent,
    _IntentsMixin,
    _split_signed,
    _tif,
)
from .order_view import _NOT_YET_LIVE

__all__ = ["GROUPING_OCO", "GROUPING_OTO", "GROUPING_OTOCO", "DeadManSwitch", "_TradingMixin"]

GROUPING_OTO = 1  # one triggers the other: a parent, then a stop or take-profit child
GROUPING_OCO = 2  # one cancels the other: a stop-loss and a take-profit closing one position
GROUPING_OTOCO = 3  # a parent, then a stop-loss and a take-profit that cancel each other
_GROUPING_NAMES = {GROUPING_OTO: "oto", GROUPING_OCO: "oco", GROUPING_OTOCO: "otoco"}

_KINDS = {  # kind → (market flavour, limit flavour)
    "stop_loss": (P.ORDER_TYPE_STOP_LOSS, P.ORDER_TYPE_STOP_LOSS_LIMIT),
    "take_profit": (P.ORDER_TYPE_TAKE_PROFIT, P.ORDER_TYPE_TAKE_PROFIT_LIMIT),
}
_MARGIN_MODES = {"cross": 0, "isolated": 1}


class _TradingMixin(_DeadManMixin, _IntentsMixin):
    """The trading surface past plain limit/market orders (see the README's section)."""

    # --- single trigger orders ----------------------------------------------------------------

    async def create_stop_order(
        self,
        size: Any,
        trigger_price: Any,
        price: Any = None,
        *,
        reduce_only: bool = True,
        expiry: Any = None,
        slippage: float | None = None,
        client_order_index: int | None = None,
    ) -> dict[str, Any]:
        """Queue a stop-loss (size + buys, − sells) that fires when the mark price reaches
        `trigger_price`: a market order (worst price trigger ± slippage) or, with `price`, a
        stop-loss-limit order at `price`. Reduce-only unless told otherwise."""
        return self._queue_trigger(
            "stop_loss", size, trigger_price, price, reduce_only, expiry, slippage,
            client_order_index,
        )  # fmt: skip

    async def create_take_profit_order(
        self,
        size: Any,
        trigger_price: Any,
        price: Any = None,
        *,
        reduce_only: bool = True,
        expiry: Any = None,
        slippage: float | None = None,
        client_order_index: int | None = None,
    ) -> dict[str, Any]:
        """Queue a take-profit (size + buys, − sells) that fires at `trigger_price`: a market
        order or, with `price`, a take-profit-limit order. Reduce-only unless told otherwise."""
        return self._queue_trigger(
            "take_profit", size, trigger_price, price, reduce_only, expiry, slippage,
            client_order_index,
        )  # fmt: skip

    def _queue_trigger(
        self,
        kind: str,
        size: Any,
        trigger_price: Any,
        price: Any,
        reduce_only: Any,
        expiry: Any,
        slippage: Any,
        coi: int | None,
    ) -> dict[str, Any]:
        is_ask, magnitude = _split_signed(size, "size")
        base_amount = self._size_int(magnitude)
        reduce_only = check_flag("reduce_only", reduce_only)
        leg = self._trigger_leg(
            kind, is_ask, base_amount, trigger_price, price, slippage, bool(reduce_only),
            _stop_expiry(expiry), "",
        )  # fmt: skip
        intent = self._build_create(
            self.scale.format_price(leg["price"]),
            size,
            reduce_only=bool(reduce_only),
            time_in_force=leg["time_in_force"],
            client_order_index=coi,
            price_rounding="nearest",
        )
        intent.kwargs.update(
            order_type=leg["order_type"],
            trigger_price=leg["trigger_price"],
            order_expiry=leg["order_expiry"],
            price=leg["price"],
        )
        intent.summary.update(
            type=P.ORDER_TYPE_NAMES[leg["order_type"]],
            trigger_price=self.scale.price_to_float(leg["trigger_price"]),
            price=self.scale.price_to_float(leg["price"]),
            time_in_force=P.TIF_NAMES[leg["time_in_force"]],
        )
        self._enqueue([intent])
        return dict(intent.summary)

    def _trigger_leg(
        self,
        kind: str,
        is_ask: bool,
        base_amount: int,
        trigger_price: Any,
        price: Any,
        slippage: Any,
        reduce_only: bool,
        expiry_ms: int,
        name: str,
    ) -> dict[str, Any]:
        """One stop-loss / take-profit leg as wire integers; raises naming the argument."""
        label = name or "trigger_price"
        if trigger_price is None or (
            isinstance(trigger_price, (int, float, Decimal)) and not isinstance(trigger_price, bool)
            and trigger_price == 0
        ):  # fmt: skip
            what = "a stop-loss" if kind == "stop_loss" else "a take-profit"
            raise ValueError(f"{label} is required for {what} order (the mark price it fires at)")
        try:
            trigger_int = self._trigger_int(trigger_price)
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        market_type, limit_type = _KINDS[kind]
        if price is None:
            slip = self.config.market_slippage if slippage is None else slippage
            if isinstance(slip, bool) or not isinstance(slip, (int, float)) or not 0 <= slip < 1:
                raise ValueError("slippage must be a fraction in [0, 1)")
            factor = Decimal(1) - Decimal(str(slip)) if is_ask else Decimal(1) + Decimal(str(slip))
            worst = Decimal(trigger_int) * factor
            price_int = int(worst.to_integral_value(ROUND_FLOOR if is_ask else ROUND_CEILING))
            price_int = min(max(price_int, P.MIN_PRICE), P.MAX_PRICE)
            order_type, tif = market_type, P.TIF_IOC
        else:
            if slippage is not None:
                raise ValueError("slippage applies to a market stop only (price=None)")
            price_name = f"{name}_price" if name else "price"
            try:
                price_int = self._price_int(price, price_name)
            except ValueError as exc:
                raise ValueError(f"{price_name}: {exc}") from None
            order_type, tif = limit_type, P.TIF_GTT
        return {
            "market_index": self.market.market_index,
            "client_order_index": 0,
            "base_amount": base_amount,
            "price": price_int,
            "is_ask": is_ask,
            "order_type": order_type,
            "time_in_force": tif,
            "reduce_only": reduce_only,
            "trigger_price": trigger_int,
            "order_expiry": expiry_ms,
        }

    # --- grouped orders -----------------------------------------------------------------------

    async def create_bracket_order(
        self,
        price: Any,
        size: Any,
        *,
        take_profit: Any,
        stop_loss: Any,
        take_profit_price: Any = None,
        stop_loss_price: Any = None,
        post_only: bool = False,
        time_in_force: Any = None,
        reduce_only: bool = False,
        expiry: Any = None,
        slippage: float | None = None,
        client_order_indices: Any = None,
    ) -> dict[str, Any]:
        """Queue an OTOCO: a limit entry at `price` (size + buys, − sells) whose fill arms a
        take-profit and a stop-loss (trigger prices; `*_price` makes that leg a limit order)
        that close the filled size and cancel each other. Returns the COI of each leg."""
        parent = self._parent_leg(price, size, post_only, time_in_force, reduce_only, expiry)
        is_ask = parent["is_ask"]
        entry = parent["price"]
        child_expiry = parent["order_expiry"] or _default_expiry_ms()
        tp = self._trigger_leg(
            "take_profit", not is_ask, 0, take_profit, take_profit_price, slippage, True,
            child_expiry, "take_profit",
        )  # fmt: skip
        sl = self._trigger_leg(
            "stop_loss", not is_ask, 0, stop_loss, stop_loss_price, slippage, True,
            child_expiry, "stop_loss",
        )  # fmt: skip
        _check_sides(is_ask, entry, tp["trigger_price"], sl["trigger_price"], "price")
        return self._queue_group(
            GROUPING_OTOCO,
            [("parent", parent), ("stop_loss", sl), ("take_profit", tp)],
            client_order_indices,
        )

    async def create_oto(
        self,
        price: Any,
        size: Any,
        *,
        trigger_price: Any,
        kind: str = "stop_loss",
        child_price: Any = None,
        post_only: bool = False,
        time_in_force: Any = None,
        reduce_only: bool = False,
        expiry: Any = None,
        slippage: float | None = None,
        client_order_indices: Any = None,
    ) -> dict[str, Any]:
        """Queue an OTO: a limit entry whose fill arms one child, a "stop_loss" or
        "take_profit" at `trigger_price` closing the filled size (`child_price`: a limit)."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'stop_loss' or 'take_profit', got {kind!r}")
        parent = self._parent_leg(price, size, post_only, time_in_force, reduce_only, expiry)
        is_ask = parent["is_ask"]
        child = self._trigger_leg(
            kind, not is_ask, 0, trigger_price, child_price, slippage, True,
            parent["order_expiry"] or _default_expiry_ms(), "trigger",
        )  # fmt: skip
        trigger = child["trigger_price"]
        if kind == "take_profit":
            _check_sides(is_ask, parent["price"], trigger, None, "price")
        else:
            _check_sides(is_ask, parent["price"], None, trigger, "price")
        return self._queue_group(
            GROUPING_OTO, [("parent", parent), (kind, child)], client_order_indices
        )

    async def create_oco(
        self,
        size: Any,
        *,
        take_profit: Any,
        stop_loss: Any,
        take_profit_price: Any = None,
        stop_loss_price: Any = None,
        reduce_only: bool = True,
        expiry: Any = None,
        slippage: float | None = None,
        client_order_indices: Any = None,
    ) -> dict[str, Any]:
        """Queue an OCO closing a position (size − closes a long, + a short): a take-profit and
        a stop-loss at their trigger prices; the one that fires cancels the other."""
        if check_flag("reduce_only", reduce_only) is not True:
            raise ValueError("reduce_only: both legs of an OCO must be reduce-only (protocol §2.7)")
        is_ask, magnitude = _split_signed(size, "size")
        base_amount = self._size_int(magnitude)
        when = _stop_expiry(expiry, explicit=True)
        tp = self._trigger_leg(
            "take_profit", is_ask, base_amount, take_profit, take_profit_price, slippage, True,
            when, "take_profit",
        )  # fmt: skip
        sl = self._trigger_leg(
            "stop_loss", is_ask, base_amount, stop_loss, stop_loss_price, slippage, True,
            when, "stop_loss",
        )  # fmt: skip
        # Closing a long (a sell): take profit above, stop below; closing a short: the reverse.
        tp_int, sl_int = tp["trigger_price"], sl["trigger_price"]
        if (tp_int <= sl_int) if is_ask else (tp_int >= sl_int):
            where = "above" if is_ask else "below"
            raise ValueError(
                f"take_profit {take_profit} must be {where} stop_loss {stop_loss} for a"
                f" {'sell' if is_ask else 'buy'} OCO (wrong side)"
            )
        return self._queue_group(
            GROUPING_OCO, [("stop_loss", sl), ("take_profit", tp)], client_order_indices
        )

    def _parent_leg(
        self,
        price: Any,
        size: Any,
        post_only: Any,
        time_in_force: Any,
        reduce_only: Any,
        expiry: Any,
    ) -> dict[str, Any]:
        """The entry of an OTO/OTOCO: a limit order, checked as `create_limit_order` checks it."""
        tif = None if time_in_force is None else _tif(time_in_force)
        intent = self._build_create(
            price,
            size,
            post_only=post_only,
            reduce_only=reduce_only,
            time_in_force=tif,
            expiry=expiry,
            client_order_index=P.MAX_COI,  # placeholder; the group assigns real COIs
        )
        kwargs = dict(intent.kwargs)
        if kwargs["order_expiry"] == -1:  # grouped orders carry explicit, equal expiries
            kwargs["order_expiry"] = _default_expiry_ms()
        return kwargs

    def _queue_group(
        self, grouping: int, legs: list[tuple[str, dict[str, Any]]], cois: Any
    ) -> dict[str, Any]:
        """Give each leg a COI, check the group as the signer will, queue one grouped intent."""
        self._check_open()
        chosen = self._group_cois(len(legs), cois)
        orders = []
        for (_, leg), coi in zip(legs, chosen, strict=True):
            orders.append({**leg, "client_order_index": coi, "is_ask": bool(leg["is_ask"])})
        kwargs = {"grouping_type": grouping, "orders": orders}
        _SIGNER_CHECKS[ACTION_GROUPED](**kwargs)
        names = {name: coi for (name, _), coi in zip(legs, chosen, strict=True)}
        summary: dict[str, Any] = {
            "client_order_index": chosen[0],
            "action": ACTION_GROUPED,
            "grouping": _GROUPING_NAMES[grouping],
            "market_index": self.market.market_index,
            "symbol": self.market.symbol,
            "legs": names,
            "client_order_indices": list(chosen),
            "orders": [
                self._leg_summary(name, o) for (name, _), o in zip(legs, orders, strict=True)
            ],
            "status": "queued",
        }
        intent = _Intent(ACTION_GROUPED, kwargs, chosen[0], self.market.market_index, None, summary)
        self._enqueue([intent])
        for order in orders:
            self._remember_leg(order)
        return dict(summary)

    def _group_cois(self, count: int, cois: Any) -> list[int]:
        """COIs for the legs: given (a list, one per leg, distinct and free) or allocated."""
        from .coi import check_coi

        if cois is None:
            chosen = [check_coi(self._next_coi()) for _ in range(count)]
        else:
            if isinstance(cois, (str, bytes, Mapping)) or not isinstance(cois, (list, tuple)):
                raise TypeError("client_order_indices must be a list of ints, one per leg")
            if len(cois) != count:
                raise ValueError(f"client_order_indices must hold {count} COIs (one per leg)")
            chosen = [check_coi(c) for c in cois]
            if len(set(chosen)) != count:
                raise ValueError("client_order_indices must be distinct")
        for coi in chosen:
            self._check_coi_free(coi)
        return chosen

    def _leg_summary(self, name: str, order: Mapping[str, Any]) -> dict[str, Any]:
        base = order["base_amount"]
        return {
            "leg": name,
            "client_order_index": order["client_order_index"],
            "side": "sell" if order["is_ask"] else "buy",
            "type": P.ORDER_TYPE_NAMES[order["order_type"]],
            "price": self.scale.price_to_float(order["price"]),
            "trigger_price": self.scale.price_to_float(order["trigger_price"])
            if order["trigger_price"]
            else 0.0,
            "size": self.scale.size_to_float(base) * (-1 if order["is_ask"] else 1)
            if base
            else 0.0,
            "reduce_only": bool(order["reduce_only"]),
        }

    def _remember_leg(self, order: Mapping[str, Any]) -> None:
        """One leg in the live view as "queued" (cancel / modify it by its COI at once)."""
        coi = order["client_order_index"]
        self._finished.pop(coi)
        self._orders.put(
            coi,
            {
                "client_order_index": coi,
                "market_index": order["market_index"],
                "is_ask": bool(order["is_ask"]),
                "price_int": order["price"],
                "base_amount_int": order["base_amount"],
                "trigger_price_int": order["trigger_price"],
                "status": "queued",
                "order_index": None,
                "api_key_index": None,
            },
        )

    # --- the send engine's view of a grouped create (one tx, several COIs) --------------------

    def _view_accepted(self, intent: _Intent, key: int) -> None:
        if intent.action != ACTION_GROUPED:
            super()._view_accepted(intent, key)
            return
        for coi in intent.new_cois():
            record = self._orders.get(coi)
            if record is None:
                continue
            if record["status"] in ("queued", "unknown"):
                record["status"] = "accepted"
            record["api_key_index"] = key
            record.setdefault("accepted_at", time.monotonic())

    def _rejected(self, intent: _Intent, error: Any, key: int, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = super()._rejected(intent, error, key, **kw)
        if intent.action == ACTION_GROUPED:
            status = kw.get("status", "rejected")
            for coi in intent.new_cois():
                record = self._orders.get(coi)
                if record is None:
                    continue
                if status == "unknown":
                    if record.get("status") in ("queued", "accepted"):
                        record["status"] = "unknown"
                elif record.get("status") in ("queued", "unknown"):
                    self._orders.pop(coi)
                    self._finished.put(coi, "rejected")
        return result

    def _stream_confirmed(self, intent: _Intent) -> bool:
        if intent.action != ACTION_GROUPED:
            return super()._stream_confirmed(intent)
        for coi in intent.new_cois():
            record = self._orders.get(coi)
            if record is not None and record.get("status") not in _NOT_YET_LIVE:
                return True
            final = self._finished.get(coi)
            if final is not None and final != "rejected":
                return True
        return False

    # --- leverage and margin ------------------------------------------------------------------

    async def update_leverage(
        self, leverage: Any, margin_mode: str = "cross", *, market_index: int | None = None
    ) -> dict[str, Any]:
        """Queue an UpdateLeverage for this dealer's market: `leverage` (e.g. 10 = 10x) is sent
        as the initial margin fraction 10000 / leverage; `margin_mode` "cross" or "isolated"."""
        if isinstance(leverage, bool) or not isinstance(leverage, (int, float, Decimal)):
            raise TypeError(f"leverage must be a number, got {type(leverage).__name__}")
        lev = Decimal(str(leverage))
        if not lev.is_finite() or lev < 1:
            raise ValueError(f"leverage must be a number >= 1, got {leverage!r}")
        fraction = int(Decimal(P.MARGIN_FRACTION_TICK) / lev)
        if isinstance(margin_mode, bool) or margin_mode not in _MARGIN_MODES:
            raise ValueError(f"margin_mode must be 'cross' or 'isolated', got {margin_mode!r}")
        market = self._market_for(market_index)
        kwargs = {
            "market_index": market,
            "initial_margin_fraction": fraction,
            "margin_mode": _MARGIN_MODES[margin_mode],
        }
        summary = {
            "client_order_index": None,
            "action": ACTION_LEVERAGE,
            "market_index": market,
            "leverage": float(lev),
            "initial_margin_fraction": fraction,
            "margin_mode": margin_mode,
            "status": "queued",
        }
        return self._queue_account_tx(ACTION_LEVERAGE, kwargs, market, summary)

    async def update_margin(
        self, amount: Any, *, market_index: int | None = None
    ) -> dict[str, Any]:
        """Queue an UpdateMargin on this market's isolated position: `amount` USDC (+ adds
        margin from the account, − takes it back)."""
        if isinstance(amount, bool) or not isinstance(amount, (int, float, str, Decimal)):
            raise TypeError(f"amount must be a number (USDC), got {type(amount).__name__}")
        try:
            usdc = Decimal(str(amount).strip())
        except Exception:
            raise ValueError(f"amount is not a decimal number: {amount!r}") from None
        if not usdc.is_finite() or usdc == 0:
            raise ValueError(
                f"amount must be a non-zero number of USDC (+ adds, − removes), got {amount!r}"
            )
        micro = abs(usdc).scaleb(6)
        if micro != micro.to_integral_value():
            raise ValueError(f"amount {amount!r} has more than 6 decimals (USDC micro-units)")
        market = self._market_for(market_index)
        kwargs = {
            "market_index": market,
            "usdc_amount": int(micro),
            "direction": 1 if usdc > 0 else 0,
        }
        summary = {
            "client_order_index": None,
            "action": ACTION_MARGIN,
            "market_index": market,
            "amount": float(usdc),
            "status": "queued",
        }
        return self._queue_account_tx(ACTION_MARGIN, kwargs, market, summary)

    def _market_for(self, market_index: Any) -> int:
        from .intents import check_market_index

        return (
            self.market.market_index if market_index is None else check_market_index(market_index)
        )

    def _queue_account_tx(
        self, action: str, kwargs: dict[str, Any], market: int, summary: dict[str, Any]
    ) -> dict[str, Any]:
        """Queue a leverage / margin tx; a custom signer without `sign_<action>` is refused
        (SignerError) before anything is queued."""
        self._check_open()
        if not callable(getattr(self._signer, f"sign_{action}", None)):
            raise SignerError(
                f"{type(self._signer).__name__} cannot sign {action} (no sign_{action}); nothing"
                " queued"
            )
        intent = _Intent(action, kwargs, None, market, None, summary)
        self._enqueue([intent])
        return dict(summary)


# --- helpers --------------------------------------------------------------------------------


def _default_expiry_ms() -> int:
    """The signer's default order expiry (now + 28 days), made explicit for grouped orders."""
    return int(time.time() * 1000) + P.DEFAULT_ORDER_EXPIRY_MS


def _stop_expiry(expiry: Any, *, explicit: bool = False) -> int:
    """A trigger order's expiry: given (epoch ms, in the venue's window) or 28 days."""
    if expiry is None:
        return _default_expiry_ms() if explicit else -1
    return _expiry_ms(expiry)


def _check_sides(
    is_ask: bool, entry: int, take_profit: int | None, stop_loss: int | None, name: str
) -> None:
    """A buy entry's take-profit above and stop-loss below its price (a sell's: the reverse)."""
    side = "sell" if is_ask else "buy"
    if take_profit is not None and ((take_profit >= entry) if is_ask else (take_profit <= entry)):
        where = "below" if is_ask else "above"
        raise ValueError(f"take_profit must be {where} the {side} entry {name} (wrong side)")
    if stop_loss is not None and ((stop_loss <= entry) if is_ask else (stop_loss >= entry)):
        where = "above" if is_ask else "below"
        raise ValueError(f"stop_loss must be {where} the {side} entry {name} (wrong side)")
