"""Markets: symbol ⇄ market index, price/size decimals and scales, minimum amounts.

A static table covers the known mainnet perps; anything else is fetched once per node from
`orderBookDetails` (falling back to `orderBooks`) and cached. Explicit scales in the
config always win over both.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, MarketNotFound


@dataclass(frozen=True)
class MarketInfo:
    """One market's identity and integer scaling (`price_scale` = 10**price_decimals)."""

    symbol: str
    market_index: int
    price_decimals: int
    size_decimals: int
    min_base_amount: str | None = None
    min_quote_amount: str | None = None

    @property
    def price_scale(self) -> int:
        """Integer units per 1.0 of price."""
        return 10**self.price_decimals

    @property
    def size_scale(self) -> int:
        """Integer units per 1.0 of size (also called base_scale)."""
        return 10**self.size_decimals

    base_scale = size_scale


# Known mainnet perps (protocol §0.3: ETH size 4 / price 2; BTC 5/1; SOL 3/3; minimums from
# the captured ORDER_BOOKS catalog row for ETH). Only entries confirmed by the protocol doc:
# a wrong static entry would misprice orders, a missing one only costs one REST read.
STATIC_MARKETS: dict[str, MarketInfo] = {
    "ETH": MarketInfo("ETH", 0, 2, 4, "0.0050", "10.000000"),
    "BTC": MarketInfo("BTC", 1, 1, 5, None, None),
    "SOL": MarketInfo("SOL", 2, 3, 3, None, None),
}
_STATIC_BY_INDEX: dict[int, MarketInfo] = {m.market_index: m for m in STATIC_MARKETS.values()}

MarketFetcher = Callable[[], Awaitable[list[Mapping[str, Any]]]]

# base_url -> {symbol: MarketInfo}; filled by fetch_markets.
_CACHE: dict[str, dict[str, MarketInfo]] = {}


def decimals_from_scale(scale: Any, name: str) -> int:
    """10**k → k; anything that is not a positive power of ten raises ConfigError."""
    if isinstance(scale, bool):
        raise ConfigError(f"{name}: expected a power of ten such as 100, got a bool")
    if not isinstance(scale, int):
        try:
            as_float = float(scale)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a power of ten such as 100") from None
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise ConfigError(f"{name}: expected a power of ten, got {scale!r}")
        scale = int(as_float)
    if scale < 1:
        raise ConfigError(f"{name}: expected a power of ten >= 1, got {scale}")
    digits = len(str(scale)) - 1
    if 10**digits != scale:
        raise ConfigError(f"{name}: expected a power of ten, got {scale}")
    return digits


def normalise_symbol(symbol: str) -> str:
    """`"eth"`, `"ETH-USD"`, `"ETH/USDC:USDC"` → `"ETH"` for perps; spot keeps `BASE/QUOTE`."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise ConfigError("symbol: expected a non-empty string such as 'ETH'")
    s = symbol.strip().upper()
    if ":" in s:  # ccxt perp form BASE/QUOTE:SETTLE
        s = s.split("/", 1)[0]
    for suffix in ("-USD", "-PERP", "USDT", "-USDC"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
    return s


def market_from_row(row: Mapping[str, Any]) -> MarketInfo:
    """MarketInfo from an orderBookDetails row (or an orderBooks row with supported_*)."""
    price_dec = row.get("price_decimals", row.get("supported_price_decimals"))
    size_dec = row.get("size_decimals", row.get("supported_size_decimals"))
    if price_dec is None or size_dec is None or row.get("market_id") is None:
        raise ValueError("market row lacks market_id / price_decimals / size_decimals")
    return MarketInfo(
        symbol=str(row.get("symbol", "")).upper(),
        market_index=int(row["market_id"]),
        price_decimals=int(price_dec),
        size_decimals=int(size_dec),
        min_base_amount=row.get("min_base_amount"),
        min_quote_amount=row.get("min_quote_amount"),
    )


def cache_markets(base_url: str, rows: Iterable[Mapping[str, Any]]) -> dict[str, MarketInfo]:
    """Store a node's market rows in the module cache and return the table."""
    table = {}
    for row in rows:
        info = market_from_row(row)
        table[info.symbol] = info
    _CACHE[base_url.rstrip("/")] = table
    return table


def cached_markets(base_url: str) -> dict[str, MarketInfo] | None:
    """The cached table of a node, or None if never fetched."""
    return _CACHE.get(base_url.rstrip("/"))


def clear_cache() -> None:
    """Forget every fetched table (tests, or after the venue lists new markets)."""
    _CACHE.clear()


def lookup_static(symbol: str | None = None, market_index: int | None = None) -> MarketInfo | None:
    """Static-table lookup by symbol or index; None when unknown."""
    if symbol is not None:
        return STATIC_MARKETS.get(normalise_symbol(symbol))
    if market_index is not None:
        return _STATIC_BY_INDEX.get(int(market_index))
    return None


def _lookup(
    table: Mapping[str, MarketInfo], symbol: str | None, index: int | None
) -> MarketInfo | None:
    if symbol is not None:
        return table.get(normalise_symbol(symbol))
    for info in table.values():
        if info.market_index == index:
            return info
    return None


def _not_found(symbol: str | None, index: int | None, where: str) -> MarketNotFound:
    what = f"symbol {symbol!r}" if symbol is not None else f"market_index {index}"
    return MarketNotFound(
        f"market not found: {what} is not in the static table and {where}; pass"
        " market_index=, price_scale= and size_scale= (e.g. price_scale=100, size_scale=10000)"
        " in DealerConfig"
    )


async def resolve_market(
    *,
    symbol: str | None = None,
    market_index: int | None = None,
    price_scale: int | None = None,
    size_scale: int | None = None,
    base_url: str | None = None,
    fetcher: MarketFetcher | None = None,
) -> MarketInfo:
    """Resolve a market from explicit config, the static table, or the node (cached).

    Explicit `price_scale`/`size_scale` win; with both scales and `market_index` no lookup
    happens at all. Raises MarketNotFound (saying what to pass) when nothing resolves.
    """
    if symbol is None and market_index is None:
        raise ConfigError("pass symbol= (e.g. 'ETH') or market_index=")
    explicit_price = (
        None if price_scale is None else decimals_from_scale(price_scale, "price_scale")
    )
    explicit_size = None if size_scale is None else decimals_from_scale(size_scale, "size_scale")
    if explicit_price is not None and explicit_size is not None and market_index is not None:
        name = normalise_symbol(symbol) if symbol is not None else f"MARKET{market_index}"
        found = lookup_static(symbol, None) if symbol is not None else None
        return MarketInfo(
            name,
            int(market_index),
            explicit_price,
            explicit_size,
            found.min_base_amount if found and found.market_index == market_index else None,
            found.min_quote_amount if found and found.market_index == market_index else None,
        )

    info = lookup_static(symbol, market_index if symbol is None else None)
    if info is None and base_url is not None:
        info_table = cached_markets(base_url)
        if info_table is None and fetcher is not None:
            try:
                info_table = cache_markets(base_url, await fetcher())
            except MarketNotFound:
                raise
            except Exception as exc:
                raise MarketNotFound(
                    f"market lookup failed: could not read the markets of {base_url}"
                    f" ({type(exc).__name__}: {exc}); pass market_index=, price_scale= and"
                    " size_scale= in DealerConfig"
                ) from exc
        if info_table is not None:
            info = _lookup(info_table, symbol, market_index if symbol is None else None)
    if info is None:
        where = f"{base_url} does not list it" if base_url else "no node was asked"
        raise _not_found(symbol, market_index, where)
    if market_index is not None and symbol is not None and info.market_index != market_index:
        raise ConfigError(
            f"symbol {symbol!r} is market {info.market_index}, but market_index={market_index}"
            " was passed"
        )
    if explicit_price is not None or explicit_size is not None:
        info = MarketInfo(
            info.symbol,
            info.market_index,
            info.price_decimals if explicit_price is None else explicit_price,
            info.size_decimals if explicit_size is None else explicit_size,
            info.min_base_amount,
            info.min_quote_amount,
        )
    return info
