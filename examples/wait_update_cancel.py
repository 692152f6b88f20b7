"""Seed README 10.3: wait for the order frame of a COI, then update and cancel it by COI.

The bid rests 3 % below the live best bid and the update moves it up a little, still well
below the book, so neither fills against the node's market flow.
"""

import asyncio

from _common import ACC, BASE_URL, CONFIG, KEY, KI, resting_prices

from lighterfast import LighterDealer
from lighterfast.ws import WsInfo


async def main():
    ws = await WsInfo.run_overlay(
        account_index=ACC,
        api_key_index=KI,
        api_key_private_key=KEY,
        symbol="ETH",
        base_url=BASE_URL,
        order_book=True,
    )
    dealer = await LighterDealer.from_config(CONFIG, symbol="ETH")
    ws.on_orders = dealer.feed_ws_orders
    ws.on_orders_resync = dealer.resync_ws_orders  # 切断中に終わった注文を反映
    async with dealer:
        bid, _ = await resting_prices(ws)  # 3 % below the best bid
        coi = (await dealer.create_limit_order(bid, +0.006))["client_order_index"]
        await dealer.flush()

        o = await ws.wait_order_by_coi(coi, timeout=2.0)
        if o:
            higher, _ = await resting_prices(ws, away=0.025)
            await dealer.update_order_by_coi(coi, price=higher, quantity=0.005)
            await dealer.flush()
            await dealer.cancel_order_by_coi(coi)
            await dealer.flush()
        print("order seen on the stream:", bool(o))
    await ws.aclose()


asyncio.run(main())
