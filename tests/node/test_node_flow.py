"""`simulate_flow`: a live market on every default market, seen by a plain WebSocket client."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from lighterfast import protocol as p
from lighterfast.testnode import DEFAULT_MARKETS, LocalNode
from lighterfast.testnode.flow import MarketFlow


async def test_flow_moves_every_default_market_within_seconds() -> None:
    """Default flow settings: book deltas and public trades on every market within 5 s."""
    async with LocalNode(exec_latency_ms=0, simulate_flow=True, flow_seed=3) as node:
        markets = [s.market_index for s in DEFAULT_MARKETS]
        async with aiohttp.ClientSession() as http, http.ws_connect(node.ws_url) as ws:
            for m in markets:
                for fam in ("order_book", "trade"):
                    await ws.send_str(
                        orjson.dumps({"type": "subscribe", "channel": f"{fam}/{m}"}).decode()
                    )
            book_moves: set[int] = set()
            trades: dict[int, list[dict[str, Any]]] = {m: [] for m in markets}

            async def read() -> None:
                while len(book_moves) < len(markets) or not all(trades.values()):
                    f = orjson.loads((await ws.receive()).data)
                    if f.get("type") == "update/order_book":
                        book_moves.add(int(f["channel"].split(":")[1]))
                    elif f.get("type") == "update/trade":
                        trades[int(f["channel"].split(":")[1])].extend(f["trades"])

            await asyncio.wait_for(read(), 5.0)
        flow = node.flow
        house = {flow.maker.index, flow.taker.index}
        for m, ts in trades.items():
            for t in ts:
                assert t["market_id"] == m
                assert t["ask_account_id"] != t["bid_account_id"]
                assert {t["ask_account_id"], t["bid_account_id"]} <= house


async def test_house_maker_never_crosses_itself() -> None:
    """Many flow steps (no sleeping): the maker's own bids stay below its own asks and no
    house order is ever cancelled for self-trade."""
    async with LocalNode(exec_latency_ms=0, flow_seed=11) as node:
        flow = MarketFlow(node, seed=11)
        eng = node.engine
        maker = flow.maker.index

        def self_trade_cancels() -> int:
            return sum(
                o.status == p.STATUS_CANCELED_SELF_TRADE
                for a in (maker, flow.taker.index)
                for o in eng.inactive.get(a, ())
            )

        for step in range(1500):
            flow.step()
            if step % 50 == 0:
                assert self_trade_cancels() == 0
            for m in flow.mids:
                mine = [
                    o for o in eng.live.values() if o.account_index == maker and o.market_index == m
                ]
                bids = [o.price for o in mine if not o.is_ask]
                asks = [o.price for o in mine if o.is_ask]
                if bids and asks:
                    assert max(bids) < min(asks)
        done = [o for a in (maker, flow.taker.index) for o in eng.inactive.get(a, ())]
        assert done  # the flow really filled and cancelled orders
        assert all(o.status != p.STATUS_CANCELED_SELF_TRADE for o in done)
        assert sum(len(b.recent_trades) for b in eng.books.values()) > 100
