"""Market definitions served by the local node (decimals, minimums, margin fractions).

Defaults mirror mainnet's first perp ids (protocol §1.3): 0 = ETH, 1 = BTC, 2 = SOL. Market
ids are 64-bit on the venue (§8): any id the signer signs (0..254, 256..2^48-1) can be served,
and spot markets (`market_type="spot"`, symbols `BASE/QUOTE`) have ids from 2048 up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from lighterfast import protocol as p

MARKET_TYPES = ("perp", "spot")
_MAX_ORDER_PREFIX = p.MAX_ORDER_INDEX >> 48  # 4095: order indexes stay below 2^60


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market as the node serves it; amounts are human strings like the venue's.

    A spot market is matched like a perp by the engine; it differs in how it is listed
    (`spot_order_book_details`, `market_type`, a `BASE/QUOTE` symbol).
    """

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
    market_type: str = "perp"  # "perp" or "spot"
    quote_asset_id: int = 3  # USDC
    # order_index = (order_prefix << 48) | seq; 0 = the live layout's market_index + 1 (§0.2).
    # Ids above 4094 do not fit it under 2^60: the node gives those a free prefix.
    order_slot: int = 0

    def __post_init__(self) -> None:
        check_market_id(self.market_index)
        if self.market_type not in MARKET_TYPES:
            raise ValueError(f"market_type must be 'perp' or 'spot', got {self.market_type!r}")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ValueError(f"symbol must be a non-empty str, got {self.symbol!r}")
        if self.is_spot:
            base, sep, quote = self.symbol.partition("/")
            if not (sep and base and quote and "/" not in quote):
                raise ValueError(
                    f"a spot symbol is BASE/QUOTE (e.g. 'SKY/USDC'), got {self.symbol!r}"
                )
            if self.market_index < p.MIN_SPOT_MARKET_INDEX:
                low = p.MIN_SPOT_MARKET_INDEX
                raise ValueError(f"spot market_index must be >= {low}, got {self.market_index}")
        elif "/" in self.symbol:
            raise ValueError(f"a perp symbol has no '/' (e.g. 'ETH'), got {self.symbol!r}")
        if type(self.order_slot) is not int or not 0 <= self.order_slot <= _MAX_ORDER_PREFIX:
            raise ValueError(f"order_slot must be 0..{_MAX_ORDER_PREFIX}, got {self.order_slot!r}")
        if self.size_decimals < 0 or self.price_decimals < 0:
            raise ValueError("size_decimals and price_decimals must be >= 0")
        if self.size_decimals + self.price_decimals > 6:
            raise ValueError("size_decimals + price_decimals must be <= 6 (USDC has 6 decimals)")

    @property
    def order_prefix(self) -> int:
        """The high bits of this market's order indexes (1..4095, so they stay < 2^60)."""
        return self.order_slot or self.market_index + 1

    @property
    def is_spot(self) -> bool:
        """True for a spot market (listed in `spot_order_book_details`)."""
        return self.market_type == "spot"

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


def check_market_id(market_index: object) -> int:
    """A market id the signer signs: an int in 0..254 or 256..2^48-1 (255 means all markets)."""
    if type(market_index) is not int:
        raise ValueError(f"market_index must be an int, got {type(market_index).__name__}")
    if not 0 <= market_index <= p.MAX_MARKET_INDEX or market_index == p.ALL_MARKETS:
        raise ValueError(
            f"market_index must be 0..{p.MAX_PERP_MARKET_INDEX} or "
            f"{p.ALL_MARKETS + 1}..{p.MAX_MARKET_INDEX} ({p.ALL_MARKETS} means all markets),"
            f" got {market_index}"
        )
    return market_index


def check_market_set(markets: Sequence[MarketSpec]) -> tuple[MarketSpec, ...]:
    """The node's markets: MarketSpec objects with distinct ids and symbols, at least one."""
    specs = tuple(markets)
    if not specs or not all(isinstance(s, MarketSpec) for s in specs):
        raise ValueError("markets must be a non-empty sequence of MarketSpec")
    for what, values in (
        ("market ids", [str(s.market_index) for s in specs]),
        ("symbols", [s.symbol.upper() for s in specs]),
    ):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"markets: duplicate {what}: {', '.join(dupes)}")
    return _with_order_slots(specs)


def _with_order_slots(specs: tuple[MarketSpec, ...]) -> tuple[MarketSpec, ...]:
    """Give markets whose id + 1 does not fit 12 bits a distinct free order-index prefix."""
    used = {s.order_prefix for s in specs if s.order_prefix <= _MAX_ORDER_PREFIX}
    free = (n for n in range(_MAX_ORDER_PREFIX, 0, -1) if n not in used)
    out = []
    for s in specs:
        if s.order_prefix > _MAX_ORDER_PREFIX:
            slot = next(free, None)
            if slot is None:
                raise ValueError(f"markets: more than {_MAX_ORDER_PREFIX} markets")
            s = replace(s, order_slot=slot)
        out.append(s)
    prefixes = [s.order_prefix for s in out]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError("markets: two markets share an order-index prefix (order_slot)")
    return tuple(out)


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


# A wide set for tests of 64-bit ids: perps above the old 12-bit band and a spot market.
WIDE_MARKETS: tuple[MarketSpec, ...] = (
    *DEFAULT_MARKETS,
    MarketSpec(4095, "LIT", 2, 4, "20.00", "10.000000", start_price="0.8000"),
    MarketSpec(4098, "DOGE", 0, 5, "100", "10.000000", start_price="0.15000"),
    MarketSpec(40000, "PEPE", 0, 6, "100000", "10.000000", start_price="0.000120"),
    MarketSpec(2**40, "WIDE", 2, 2, "0.10", "10.000000", start_price="100.00"),
    MarketSpec(
        2048,
        "SKY/USDC",
        1,
        5,
        "200.0",
        "10.000000",
        base_asset_id=8,
        start_price="0.06000",
        market_type="spot",
    ),
)


def parse_markets_arg(text: str) -> tuple[MarketSpec, ...]:
    """Parse a CLI market list `"ETH:4:2,BTC:5:1,SKY/USDC:1:5:2048"`.

    Each item is SYMBOL:SIZE_DEC:PRICE_DEC[:MARKET_ID]; without an id markets are numbered
    from 0 in order. A `BASE/QUOTE` symbol is a spot market (its id must be given, >= 2048).
    """
    specs: list[MarketSpec] = []
    for i, item in enumerate(filter(None, (part.strip() for part in text.split(",")))):
        parts = item.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"markets: expected SYMBOL:SIZE_DEC:PRICE_DEC[:ID], got {item!r}")
        try:
            sd, pd = int(parts[1]), int(parts[2])
            market_index = int(parts[3]) if len(parts) == 4 else i
        except ValueError:
            raise ValueError(f"markets: decimals and id must be integers, got {item!r}") from None
        symbol = parts[0]
        min_base = format_fixed(max(1, 10 ** max(sd - 2, 0)), sd) if sd else "1"
        kind = "spot" if "/" in symbol else "perp"
        specs.append(
            MarketSpec(market_index, symbol, sd, pd, min_base, "10.000000", market_type=kind)
        )
    if not specs:
        raise ValueError("markets: at least one market is required")
    ids = [s.market_index for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"markets: duplicate market ids in {text!r}")
    return tuple(specs)
