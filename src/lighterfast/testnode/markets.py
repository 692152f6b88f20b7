"""Market definitions served by the local node (decimals, minimums, margin fractions).

Defaults mirror mainnet's first perp ids (protocol §1.3): 0 = ETH, 1 = BTC, 2 = SOL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from lighterfast import protocol as p


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One perp market as the node serves it; amounts are human strings like the venue's."""

    market_index: int
    symbol: str
    size_decimals: int
    price_decimals: int
    min_base_amount: str
    min_quote_amount: str
    base_asset_id: int = 0
    default_initial_margin_fraction: int = 500  # ticks of 1e-4 (5 % = 20x)
    maintenance_margin_fraction: int = 200
    closeout_margin_fraction: int = 80
    start_price: str = "0"  # reference price for stats before the first trade

    def __post_init__(self) -> None:
        if not 0 <= self.market_index <= 254:
            raise ValueError(f"market_index must be 0..254, got {self.market_index}")
        if self.size_decimals < 0 or self.price_decimals < 0:
            raise ValueError("size_decimals and price_decimals must be >= 0")
        if self.size_decimals + self.price_decimals > 6:
            raise ValueError("size_decimals + price_decimals must be <= 6 (USDC has 6 decimals)")

    @property
    def quote_decimals(self) -> int:
        """Decimals of a price x size product (`supported_quote_decimals`)."""
        return self.size_decimals + self.price_decimals

    @property
    def quote_to_usdc(self) -> int:
        """Factor turning size_int * price_int into USDC micro-units (1e6)."""
        return int(10 ** (6 - self.quote_decimals))

    @property
    def min_base_int(self) -> int:
        """`min_base_amount` as a wire integer."""
        return int(Decimal(self.min_base_amount).scaleb(self.size_decimals))

    @property
    def min_quote_int(self) -> int:
        """`min_quote_amount` in USDC micro-units."""
        return int(Decimal(self.min_quote_amount).scaleb(6))

    def format_price(self, value: int) -> str:
        """Wire string of an integer price with this market's decimals ("3000.05")."""
        return format_fixed(value, self.price_decimals)

    def format_size(self, value: int) -> str:
        """Wire string of an integer size with this market's decimals ("0.0050")."""
        return format_fixed(value, self.size_decimals)


class _OrderKind(Protocol):
    order_type: int
    tif: int
    reduce_only: bool


def maker_below_minimum(spec: MarketSpec, order: _OrderKind, base: int, price: int) -> bool:
    """True when a maker limit order of `base` at `price` is under the market's minimums.

    The venue applies `min_base_amount` and `min_quote_amount` to maker orders (§0.3); IOC
    and market orders and the reduce-only "close the whole position" form (base 0) are exempt.
    """
    if order.order_type != p.ORDER_TYPE_LIMIT or order.tif == p.TIF_IOC:
        return False
    if base == 0 and order.reduce_only:
        return False
    return base < spec.min_base_int or base * price * spec.quote_to_usdc < spec.min_quote_int


def format_fixed(value: int, decimals: int) -> str:
    """Fixed-point string of an integer with `decimals` digits after the point ("-0.05")."""
    if decimals == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def format_usdc(value: int) -> str:
    """USDC micro-units as a 6-decimal string."""
    return format_fixed(value, 6)


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(0, "ETH", 4, 2, "0.0050", "10.000000", base_asset_id=1, start_price="3000.00"),
    MarketSpec(1, "BTC", 5, 1, "0.00020", "10.000000", start_price="60000.0"),
    MarketSpec(2, "SOL", 3, 3, "0.050", "10.000000", start_price="150.000"),
)


def parse_markets_arg(text: str) -> tuple[MarketSpec, ...]:
    """Parse a CLI market list `"ETH:4:2,BTC:5:1"` (symbol:size_decimals:price_decimals)."""
    specs: list[MarketSpec] = []
    for i, item in enumerate(filter(None, (part.strip() for part in text.split(",")))):
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"markets: expected SYMBOL:SIZE_DEC:PRICE_DEC, got {item!r}")
        symbol, sd, pd = parts[0], int(parts[1]), int(parts[2])
        min_base = format_fixed(max(1, 10 ** max(sd - 2, 0)), sd) if sd else "1"
        specs.append(MarketSpec(i, symbol, sd, pd, min_base, "10.000000"))
    if not specs:
        raise ValueError("markets: at least one market is required")
    return tuple(specs)
