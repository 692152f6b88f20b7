"""Shared by the examples: the config file (written by
`lighterfast node --simulate-flow --write-config local-node.json`), what it holds, and
`resting_prices()`, which prices orders away from the live book so that they rest."""

from __future__ import annotations

import asyncio
import os
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from lighterfast.config import load_lighter_config
from lighterfast.ws import WsInfo

CONFIG = os.environ.get("LIGHTER_CONFIG", "local-node.json")
_cfg = load_lighter_config(CONFIG)

BASE_URL: str = _cfg["base_url"]
ACC: int = _cfg["account_index"]
KI: int = _cfg["api_key_index"]
KEY: str = _cfg["api_key_private_key"]
KEYS: list[dict] = _cfg["api_keys"]  # every key of the account, the primary first

BOOK_WAIT_S = 2.0  # an empty book stays empty: then nothing can fill, any price rests
EMPTY_BOOK_PRICE = 3000.0  # the seed's ETH price, used only when the book and tape are empty


async def resting_prices(
    ws: WsInfo | None = None, *, away: float = 0.03, symbol: str = "ETH"
) -> tuple[float, float]:
    """(bid, ask) `away` (3 %) below the best bid and above the best ask of the live book, on
    the market's tick: orders there rest instead of filling. `ws` needs `order_book=True`;
    without one a public stream is opened for the moment."""
    own = ws is None
    if ws is None:
        ws = await WsInfo.run_public_trades_simple(
            symbol=symbol, base_url=BASE_URL, order_book=True
        )
    try:
        book = ws.get_order_book()
        if book is None:
            raise RuntimeError("resting_prices: open the WsInfo with order_book=True")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BOOK_WAIT_S
        while True:
            bid, ask, ltp = book.best_bid(), book.best_ask(), ws.get_ltp()
            if bid or ask or ltp or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
    finally:
        if own:
            await ws.aclose()
    near_bid = bid[0] if bid else ask[0] if ask else ltp or EMPTY_BOOK_PRICE
    near_ask = ask[0] if ask else bid[0] if bid else ltp or EMPTY_BOOK_PRICE
    tick = Decimal(1).scaleb(-book.price_decimals)
    lower = (Decimal(str(near_bid)) * Decimal(str(1 - away))).quantize(tick, ROUND_DOWN)
    upper = (Decimal(str(near_ask)) * Decimal(str(1 + away))).quantize(tick, ROUND_UP)
    return float(lower), float(upper)
