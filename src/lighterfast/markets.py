"""Markets: symbol ⇄ market index, price/size decimals and scales, minimum amounts.

The node is the truth: its `orderBookDetails` (else `orderBooks`) table is read once per
process and base_url and cached. The built-in static table serves only when no node is asked
or, in lazy mode, when the node cannot be read (with a WARNING). Explicit scales must agree
with the node's; without a node they win. Market ids are 64-bit (0..254 and 256..2^48-1, what
the signer signs); spot markets (`market_type` "spot", ids from 2048) resolve by their
`BASE/QUOTE` symbol ("SKY/USDC"), perps by their base ("ETH").
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import protocol as P
from ._checks import check_market
from .errors import ConfigError, LighterError, MarketNotFound, NodeUnreachable, TxRejected, describe

log = logging.getLogger("lighterfast.markets")


@dataclass(frozen=True)
class MarketInfo:
    """One market's identity and integer scaling (`price_scale` = 10**price_decimals).

    `source` says where the values came from: "node", "static" (built-in table) or "explicit".
    `market_type` is the venue's: "perp", "spot" (symbol `BASE/QUOTE`) or another kind it lists.
    """

    symbol: str
    market_index: int
    price_decimals: int
    size_decimals: int
    min_base_amount: str | None = None
    min_quote_amount: str | None = None
    source: str = field(default="static", compare=False)
    market_type: str = "perp"

    @property
    def is_spot(self) -> bool:
        """True for a spot market."""
        return self.market_type == "spot"

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
# the captured ORDER_BOOKS catalog row for ETH). Used only when no node can be asked.
STATIC_MARKETS: dict[str, MarketInfo] = {
    "ETH": MarketInfo("ETH", 0, 2, 4, "0.0050", "10.000000"),
    "BTC": MarketInfo("BTC", 1, 1, 5, None, None),
    "SOL": MarketInfo("SOL", 2, 3, 3, None, None),
}
_STATIC_BY_INDEX: dict[int, MarketInfo] = {m.market_index: m for m in STATIC_MARKETS.values()}

MarketFetcher = Callable[[], Awaitable[list[Mapping[str, Any]]]]

# base_url -> {symbol: MarketInfo}; filled by node_markets / cache_markets.
_CACHE: dict[str, dict[str, MarketInfo]] = {}
# base_url -> the fetch in flight, so that concurrent resolutions share one read.
_PENDING: dict[str, asyncio.Future[dict[str, MarketInfo]]] = {}


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
    """`"eth"`, `"ETH-USD"`, `"ETH/USDC:USDC"` → `"ETH"` for perps; spot keeps `BASE/QUOTE`.

    `"sky/usdc"` → `"SKY/USDC"`: a slash without a settle part is a spot pair, as listed.
    """
    if not isinstance(symbol, str) or not symbol.strip():
        raise ConfigError("symbol: expected a non-empty string such as 'ETH'")
    s = symbol.strip().upper()
    if ":" in s:  # ccxt perp form BASE/QUOTE:SETTLE
        s = s.split("/", 1)[0]
    elif "/" in s:  # spot BASE/QUOTE, the venue's own spelling
        base, _, quote = s.partition("/")
        if not base.strip() or not quote.strip():
            raise ConfigError(
                f"symbol: a spot pair is BASE/QUOTE such as 'SKY/USDC', got {symbol!r}"
            )
        return f"{base.strip()}/{quote.strip()}"
    for suffix in ("-USD", "-PERP", "USDT", "-USDC"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
    return s


def market_from_row(row: Mapping[str, Any], market_type: str | None = None) -> MarketInfo:
    """MarketInfo from an orderBookDetails row (or an orderBooks row with supported_*).

    `market_type` is the row's own field, else `market_type` (the list it came from), else
    "spot" for a `BASE/QUOTE` symbol and "perp" otherwise. A market id the signer cannot sign
    (255, above 2^48-1) raises ValueError.
    """
    price_dec = row.get("price_decimals", row.get("supported_price_decimals"))
    size_dec = row.get("size_decimals", row.get("supported_size_decimals"))
    market_id = row.get("market_id")
    if price_dec is None or size_dec is None or market_id is None:
        raise ValueError("market row lacks market_id / price_decimals / size_decimals")
    symbol = str(row.get("symbol", "")).upper()
    kind = row.get("market_type") or market_type or ("spot" if "/" in symbol else "perp")
    return MarketInfo(
        symbol=symbol,
        market_index=check_market("market_id", int(market_id)),
        price_decimals=int(price_dec),
        size_decimals=int(size_dec),
        min_base_amount=_amount(row.get("min_base_amount")),
        min_quote_amount=_amount(row.get("min_quote_amount")),
        source="node",
        market_type=str(kind).lower(),
    )


def _signable(market_id: Any) -> bool:
    """True unless `market_id` is an integer the signer refuses (255, negative, >= 2^48)."""
    try:
        value = int(market_id)
    except (TypeError, ValueError):
        return True  # not an id at all: market_from_row names the problem
    return 0 <= value <= P.MAX_MARKET_INDEX and value != P.ALL_MARKETS


def _amount(value: Any) -> str | None:
    """A minimum amount as the venue's decimal string; None when absent."""
    return None if value is None or value == "" else str(value)


def cache_markets(base_url: str, rows: Iterable[Mapping[str, Any]]) -> dict[str, MarketInfo]:
    """Store a node's market rows in the module cache and return the table.

    A row whose market id no signer can sign is left out with a WARNING (the rest serve).
    """
    table = {}
    for row in rows:
        if not _signable(row.get("market_id")):
            log.warning(
                "markets: %s lists %r as market %r, which no signer signs: left out",
                base_url,
                row.get("symbol"),
                row.get("market_id"),
            )
            continue
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
    _PENDING.clear()


async def fetch_market_rows(rest: Any) -> list[Mapping[str, Any]]:
    """Market rows from `orderBookDetails`, else `orderBooks`, through a counted RestClient.

    A transport failure (refused, timed out, no such host) raises NodeUnreachable.
    """
    try:
        try:
            body = await rest.get("orderBookDetails", {"market_id": P.ALL_MARKETS})
            rows = list(body.get("order_book_details") or [])
            for row in body.get("spot_order_book_details") or []:
                rows.append(row if row.get("market_type") else {**row, "market_type": "spot"})
            if rows:
                return rows
        except TxRejected:
            pass
        body = await rest.get("orderBooks", {"market_id": P.ALL_MARKETS})
        return list(body.get("order_books") or [])
    except LighterError as exc:
        cause = unreachable_cause(exc)
        if cause is None:
            raise
        raise NodeUnreachable(rest.base_url, describe(cause)) from exc


def unreachable_cause(exc: BaseException) -> BaseException | None:
    """The connection-level error behind `exc` (refused, timeout, DNS, dropped), or None."""
    import aiohttp

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NodeUnreachable):
            return seen
        if isinstance(seen, (aiohttp.ClientConnectionError, TimeoutError, OSError)):
            return seen
        seen = seen.__cause__
    return None


async def node_markets(base_url: str, fetcher: MarketFetcher) -> dict[str, MarketInfo]:
    """The node's market table: read once per process and base_url, shared by concurrent calls."""
    key = base_url.rstrip("/")
    table = _CACHE.get(key)
    if table is not None:
        return table
    loop = asyncio.get_running_loop()
    pending = _PENDING.get(key)
    if pending is None or pending.get_loop() is not loop:
        pending = loop.create_task(_fetch_into_cache(key, fetcher))
        _PENDING[key] = pending
        pending.add_done_callback(lambda done: _forget_pending(key, done))
    return await asyncio.shield(pending)


async def _fetch_into_cache(key: str, fetcher: MarketFetcher) -> dict[str, MarketInfo]:
    return cache_markets(key, await fetcher())


def _forget_pending(key: str, done: asyncio.Future[dict[str, MarketInfo]]) -> None:
    if _PENDING.get(key) is done:
        del _PENDING[key]
    if not done.cancelled():
        done.exception()  # retrieved here: every waiter gets it re-raised by its await


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


def _what(symbol: str | None, index: int | None) -> str:
    return f"symbol {symbol!r}" if symbol is not None else f"market_index {index}"


def _not_found(symbol: str | None, index: int | None, why: str | None) -> MarketNotFound:
    return MarketNotFound(
        f"market not found: {_what(symbol, index)} is not in the static table and"
        f" {why or 'no node was asked'}; pass market_index=, price_scale= and size_scale="
        " (e.g. price_scale=100, size_scale=10000) in DealerConfig"
    )


def _not_listed(
    symbol: str | None, index: int | None, base_url: str, table: Mapping[str, MarketInfo]
) -> MarketNotFound:
    listed = ", ".join(
        f"{m.symbol}#{m.market_index}" for m in sorted(table.values(), key=_by_index)[:12]
    )
    more = ", ..." if len(table) > 12 else ""
    return MarketNotFound(
        f"market not found: {_what(symbol, index)} is not listed by the node at {base_url}"
        f" (it lists {listed or 'no markets'}{more}); check the symbol, or pass market_index=,"
        " price_scale= and size_scale= in DealerConfig"
    )


def _by_index(info: MarketInfo) -> int:
    return info.market_index


def _check_agrees(
    info: MarketInfo,
    explicit: int | None,
    scale: int | None,
    name: str,
    base_url: str | None,
) -> None:
    """ConfigError naming both values when an explicit scale contradicts the node's."""
    node_dec = info.price_decimals if name == "price_scale" else info.size_decimals
    if explicit is None or explicit == node_dec:
        return
    kind = "price" if name == "price_scale" else "size"
    raise ConfigError(
        f"{name}={scale} contradicts the node at {base_url}: {info.symbol} (market"
        f" {info.market_index}) has {kind}_decimals {node_dec}, i.e. {name}={10**node_dec};"
        f" remove {name} or set it to {10**node_dec}"
    )


async def resolve_market(
    *,
    symbol: str | None = None,
    market_index: int | None = None,
    price_scale: int | None = None,
    size_scale: int | None = None,
    base_url: str | None = None,
    fetcher: MarketFetcher | None = None,
    lazy: bool = False,
    logger: Any = None,
) -> MarketInfo:
    """Resolve a market from the node (cached), else the static table or explicit config.

    With `base_url` and `fetcher` the node's table decides; explicit scales that contradict
    it raise ConfigError. An unreachable node raises NodeUnreachable, unless `lazy`: then the
    static table (or the explicit values) serve and a WARNING says so. Without a node,
    explicit `price_scale`/`size_scale` win over the static table.
    """
    if symbol is None and market_index is None:
        raise ConfigError("pass symbol= (e.g. 'ETH') or market_index=")
    explicit_price = (
        None if price_scale is None else decimals_from_scale(price_scale, "price_scale")
    )
    explicit_size = None if size_scale is None else decimals_from_scale(size_scale, "size_scale")
    fully_explicit = (
        explicit_price is not None and explicit_size is not None and market_index is not None
    )
    by_index = market_index if symbol is None else None
    url = base_url.rstrip("/") if base_url is not None else None

    unavailable: str | None = None  # why the node's table could not be used (lazy only)
    info: MarketInfo | None = None
    if url is not None and fetcher is not None:
        try:
            table = await node_markets(url, fetcher)
        except NodeUnreachable as exc:
            if not lazy:
                raise
            unavailable = str(exc)
        except (ConfigError, MarketNotFound):
            raise
        except Exception as exc:
            if not lazy and not fully_explicit:
                raise MarketNotFound(
                    f"market lookup failed: could not read the markets of {url}"
                    f" ({describe(exc)}); pass market_index=, price_scale= and size_scale="
                    " in DealerConfig"
                ) from exc
            unavailable = f"could not read the markets of {url} ({describe(exc)})"
        else:
            info = _lookup(table, symbol, by_index)
            if info is None and not fully_explicit:
                raise _not_listed(symbol, market_index, url, table)
            if info is None:
                unavailable = f"the node at {url} does not list {_what(symbol, market_index)}"

    if info is None:  # no node asked, or its table is unavailable
        info = _offline_market(symbol, market_index, explicit_price, explicit_size, unavailable)
        if unavailable is not None:
            (logger or log).warning(
                "markets: %s; using the %s values for %s (market %d: price %d / size %d"
                " decimals) - they may not match the node",
                unavailable,
                "explicit" if info.source == "explicit" else "built-in static table's",
                info.symbol,
                info.market_index,
                info.price_decimals,
                info.size_decimals,
            )
    if market_index is not None and symbol is not None and info.market_index != market_index:
        raise ConfigError(
            f"symbol {symbol!r} is market {info.market_index}, but market_index={market_index}"
            " was passed"
        )
    if info.source == "node":
        _check_agrees(info, explicit_price, price_scale, "price_scale", url)
        _check_agrees(info, explicit_size, size_scale, "size_scale", url)
        return info
    if info.source == "static" and (explicit_price is not None or explicit_size is not None):
        info = MarketInfo(
            info.symbol,
            info.market_index,
            info.price_decimals if explicit_price is None else explicit_price,
            info.size_decimals if explicit_size is None else explicit_size,
            info.min_base_amount,
            info.min_quote_amount,
            source="explicit",
            market_type=info.market_type,
        )
    return info


def _offline_market(
    symbol: str | None,
    market_index: int | None,
    explicit_price: int | None,
    explicit_size: int | None,
    why: str | None,
) -> MarketInfo:
    """The market without a node: fully explicit config, else the static table."""
    if explicit_price is not None and explicit_size is not None and market_index is not None:
        name = normalise_symbol(symbol) if symbol is not None else f"MARKET{market_index}"
        found = lookup_static(symbol, None) if symbol is not None else None
        same = found is not None and found.market_index == market_index
        return MarketInfo(
            name,
            int(market_index),
            explicit_price,
            explicit_size,
            found.min_base_amount if found is not None and same else None,
            found.min_quote_amount if found is not None and same else None,
            source="explicit",
            market_type="spot" if "/" in name else "perp",
        )
    info = lookup_static(symbol, market_index if symbol is None else None)
    if info is None:
        raise _not_found(symbol, market_index, why)
    return info
