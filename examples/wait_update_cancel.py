"""Seed README 10.3: wait for the order frame of a COI, then update and cancel it by COI."""

import asyncio

from _common import ACC, BASE_URL, CONFIG, KEY, KI

from lighterfast import LighterDealer
from lighterfast.ws import WsInfo


async def main():
    ws = await WsInfo.run_overlay(
        account_index=ACC, api_key_index=KI, api_key_private_key=KEY, symbol="ETH",
        base_url=BASE_URL,
    )
    dealer = await LighterDealer.from_config(CONFIG, symbol="ETH")
    ws.on_orders = dealer.feed_ws_orders
    ws.on_orders_resync = dealer.resync_ws_orders  # 切断中に終わった注文を反映
    async with dealer:
        coi = (await dealer.create_limit_order(3000.0, +0.005))["client_order_index"]
        await dealer.flush()

        o = await ws.wait_order_by_coi(coi, timeout=2.0)
        if o:
            await dealer.update_order_by_coi(coi, price=3002.0, quantity=0.004)
            await dealer.flush()
            await dealer.cancel_order_by_coi(coi)
            await dealer.flush()
        print("order seen on the stream:", bool(o))
    await ws.aclose()


asyncio.run(main())
