"""Seed README 4.2: WsInfo from arguments, dealer from config.json; create → update → cancel by COI.

Run a node first (`lighterfast node --write-config config.json`), then run this file.
"""

import asyncio

from _common import ACC, BASE_URL, CONFIG, KEY, KI

from lighterfast import LighterDealer
from lighterfast.ws import WsInfo


async def main():
    ws = await WsInfo.run_overlay(
        account_index=ACC,
        api_key_index=KI,
        api_key_private_key=KEY,
        symbol="ETH",  # または market_id=0
        base_url=BASE_URL,
    )

    dealer = await LighterDealer.from_config(CONFIG, symbol="ETH")
    ws.on_orders = dealer.feed_ws_orders  # COI→OID解決のウォームアップ
    ws.on_orders_resync = dealer.resync_ws_orders  # 切断中に終わった注文を反映

    async with dealer:
        res = await dealer.create_limit_order(price=3000.05, size=+0.005)
        coi = res["client_order_index"]
        print(await dealer.flush())

        await dealer.update_order_by_coi(coi, price=2999.99, quantity=0.006)
        print(await dealer.flush())

        await dealer.cancel_order_by_coi(coi)
        print(await dealer.flush())

    await ws.aclose()


asyncio.run(main())
