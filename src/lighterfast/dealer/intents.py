"""Intents: order inputs validated and converted to wire integers, waiting to be signed.

Everything a bad argument can break raises here, at enqueue time, before anything is queued;
the signer's own checks (`lighterfast.signing.validate_*`) run on the result as well.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .. import protocol as P
from .._checks import check_flag, check_int, check_market
from ..signing import (
    validate_cancel_all_orders,
    validate_cancel_order,
    validate_create_grouped_orders,
    validate_create_order,
    validate_modify_order,
    validate_update_leverage,
    validate_update_margin,
)
from .coi import check_coi
from .order_view import _OrderViewMixin

ACTION_CREATE = "create"
ACTION_CANCEL = "cancel"
ACTION_MODIFY = "modify"
ACTION_CANCEL_ALL = "cancel_all"
ACTION_GROUPED = "create_grouped"  # OTO / OCO / OTOCO: one tx, a COI per leg (trading.py)
ACTION_LEVERAGE = "update_leverage"
ACTION_MARGIN = "update_margin"

_SIGN_METHOD = {
    ACTION_CREATE: "create_order",
    ACTION_CANCEL: "cancel_order",
    ACTION_MODIFY: "modify_order",
    ACTION_CANCEL_ALL: "cancel_all_orders",
    ACTION_GROUPED: "create_grouped_orders",
    ACTION_LEVERAGE: "update_leverage",
    ACTION_MARGIN: "update_margin",
}

# The wire tx type of each action (the signer's `_rows_job` takes it with the validated row).
_TX_TYPE = {
    ACTION_CREATE: P.TX_TYPE_CREATE_ORDER,
    ACTION_CANCEL: P.TX_TYPE_CANCEL_ORDER,
    ACTION_MODIFY: P.TX_TYPE_MODIFY_ORDER,
    ACTION_CANCEL_ALL: P.TX_TYPE_CANCEL_ALL_ORDERS,
    ACTION_GROUPED: P.TX_TYPE_CREATE_GROUPED_ORDERS,
    ACTION_LEVERAGE: P.TX_TYPE_UPDATE_LEVERAGE,
    ACTION_MARGIN: P.TX_TYPE_UPDATE_MARGIN,
}

# The signer's own input rules, run at enqueue so that a flush never meets a refusal midway.
_SIGNER_CHECKS: dict[str, Callable[..., Any]] = {
    ACTION_CREATE: validate_create_order,
    ACTION_CANCEL: validate_cancel_order,
    ACTION_MODIFY: validate_modify_order,
    ACTION_CANCEL_ALL: validate_cancel_all_orders,
    ACTION_GROUPED: validate_create_grouped_orders,
    ACTION_LEVERAGE: validate_update_leverage,
    ACTION_MARGIN: validate_update_margin,
}

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
    row: Any = None  # what the signer's check returned at enqueue (signed as is at flush)

    def signer_row(self) -> tuple[int, Any]:
        """(wire tx type, validated row) for the signer; the check runs now if it has not."""
        row = self.row
        if row is None:
            row = self.row = _SIGNER_CHECKS[self.action](**self.kwargs)
        return _TX_TYPE[self.action], row

    def new_cois(self) -> tuple[int, ...]:
        """The COIs this intent creates: a create's own, every leg of a grouped create."""
        if self.action == ACTION_CREATE:
            return () if self.coi is None else (self.coi,)
        if self.action == ACTION_GROUPED:
            return tuple(o["client_order_index"] for o in self.kwargs["orders"])
        return ()


def _split_signed(value: Any, name: str) -> tuple[bool, Any]:
    """(is_ask, magnitude) of a signed human size: + buys, − sells; 0, NaN, bool rejected."""
    kind = type(value)
    if kind is float or kind is int:  # the hot path: plain numbers (NaN fails both tests)
        if value > 0:
            return False, value
        if value < 0:
            return True, -value
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


class _IntentsMixin(_OrderViewMixin):
    """Build create/cancel/modify intents for this dealer's market (nothing queued here)."""

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

    def _trigger_int(self, value: Any) -> int:
        """A trigger price as a wire int; 0 (any numeric zero) = none; bool refused by name."""
        if isinstance(value, bool):  # False == 0 would silently mean "no trigger"
            raise TypeError("trigger_price must be a number (float, int, str or Decimal), got bool")
        if isinstance(value, (int, float, Decimal)) and value == 0:
            return 0
        return self._price_int(value, "trigger_price")

    def _size_int(self, magnitude: Any, name: str = "size") -> int:
        try:
            return self.scale.size_to_int(magnitude, "down")
        except ValueError as exc:
            if name != "size":
                raise ValueError(str(exc).replace("size", name, 1)) from None
            raise

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
        scale = self.scale
        market = self.market
        base_amount = scale.size_to_int(magnitude, "down")  # = self._size_int(magnitude)
        price_int = self._price_int(price, "price", price_rounding)
        if post_only is not False:
            post_only = check_flag("post_only", post_only)
        if reduce_only is not False:
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
        coi = check_coi(self._next_coi() if client_order_index is None else client_order_index)
        self._check_coi_free(coi)  # a live/queued COI: refused, nothing queued (CoiInUse)
        market_index = market.market_index
        size_f = scale.size_to_float(base_amount)
        kwargs = {
            "market_index": market_index,
            "client_order_index": coi,
            "base_amount": base_amount,
            "price": price_int,
            "is_ask": is_ask,
            "order_type": order_type,
            "time_in_force": tif,
            "reduce_only": reduce_only,
            "trigger_price": 0,
            "order_expiry": order_expiry,
        }
        summary = {
            "client_order_index": coi,
            "action": ACTION_CREATE,
            "market_index": market_index,
            "symbol": market.symbol,
            "side": "sell" if is_ask else "buy",
            "price": scale.price_to_float(price_int),
            "size": -size_f if is_ask else size_f,
            "type": P.ORDER_TYPE_NAMES[order_type],
            "time_in_force": P.TIF_NAMES[tif],
            "reduce_only": reduce_only,
            "status": "queued",
        }
        return _Intent(ACTION_CREATE, kwargs, coi, market_index, None, summary)

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
        # The node refuses a resting order below them; base 0 is a whole-position child (kept).
        if market == self.market.market_index and base_amount:
            self._check_minimums(base_amount, price_int, P.TIF_GTT, P.ORDER_TYPE_LIMIT, "quantity")
        if trigger_price is None:
            trigger_int = record.get("trigger_price_int") or 0
        else:
            trigger_int = self._trigger_int(trigger_price)
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

    def _build_cancel_all(self) -> _Intent:
        """A cancel of every open order of the account (all markets, now)."""
        return _Intent(
            ACTION_CANCEL_ALL,
            {"time_in_force": P.CANCEL_ALL_NOW, "time": 0},
            None,
            None,
            None,
            {"client_order_index": None, "action": ACTION_CANCEL_ALL, "status": "queued"},
        )

    def _index_and_market(self, order_index: Any, market_index: Any) -> tuple[int, int]:
        """A checked exchange order index and market (default: this dealer's)."""
        market = (
            self.market.market_index if market_index is None else check_market_index(market_index)
        )
        return check_order_index(order_index), market

    def _build_cancel_by_index(self, order_index: Any, market_index: Any) -> _Intent:
        """A cancel by exchange order index (the deprecated API; no COI, no key affinity)."""
        index, market = self._index_and_market(order_index, market_index)
        return _Intent(
            ACTION_CANCEL,
            {"market_index": market, "order_index": index},
            None,
            market,
            None,
            {"client_order_index": None, "order_index": index, "action": ACTION_CANCEL},
        )

    def _build_modify_by_index(
        self, order_index: Any, price: Any, quantity: Any, trigger_price: Any, market_index: Any
    ) -> _Intent:
        """A modify by exchange order index with every field given (the deprecated API)."""
        index, market = self._index_and_market(order_index, market_index)
        price_int = self._price_int(price, "price")
        _, magnitude = _split_signed(quantity, "quantity")
        base_amount = self._size_int(magnitude, "quantity")
        trigger_int = 0 if trigger_price is None else self._trigger_int(trigger_price)
        return _Intent(
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


# --- order-input validators ------------------------------------------------------------------


def _as_list(value: Any, name: str) -> list[Any]:
    """An iterable argument as a list; a str, bytes, mapping or scalar is refused by name."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    return list(value)


def check_market_index(value: Any, *, all_ok: bool = False) -> int:
    """A market id as the venue numbers them (64-bit; 255 = all markets only if `all_ok`)."""
    return check_market("market_index", value, all_ok=all_ok)


def check_order_index(value: Any) -> int:
    """An exchange order index (not a COI: those go through the *_by_coi methods)."""
    try:
        return check_int("order_index", value, P.MIN_ORDER_INDEX, P.MAX_ORDER_INDEX)
    except ValueError:
        raise ValueError(
            f"order_index must be an exchange order index ({P.MIN_ORDER_INDEX}..), got {value};"
            " for a client_order_index use cancel_order_by_coi/update_order_by_coi"
        ) from None


def _tif(value: Any) -> int:
    """A time-in-force as the wire int, from its int or one of its names (case-insensitive)."""
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
