"""Seed README 10.4: one config.json, one WsInfo + dealer per symbol (arguments differ)."""

import asyncio

from _common import ACC, BASE_URL, CONFIG, KEY, KI

from lighterfast import LighterDealer
from lighterfast.ws import WsInfo


async def main():
    bots = []
    symbols = ["ETH", "BTC", "SOL"]
    for sym in symbols:
        ws = await WsInfo.run_overlay(
            account_index=ACC, api_key_index=KI, api_key_private_key=KEY, symbol=sym,
            base_url=BASE_URL,
        )
        dealer = await LighterDealer.from_config(CONFIG, symbol=sym)
        ws.on_orders = dealer.feed_ws_orders
        ws.on_orders_resync = dealer.resync_ws_orders  # 切断中に終わった注文を反映
        # 各Bot専用の戦略タスクを起動...
        bots.append((sym, ws, dealer))
    for sym, ws, dealer in bots:
        print(sym, dealer.market)
        await dealer.aclose()
        await ws.aclose()


asyncio.run(main())
