"""Seed README 4.2: WsInfo from arguments, dealer from the config file; create → update →
cancel by COI. The bid is priced 3 % below the live best bid so it rests (a bid at the touch
would fill at once against the node's market flow, and the update would find it gone).

Run a node first (`lighterfast node --simulate-flow --write-config local-node.json`), then
run this file.
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
        symbol="ETH",  # または market_id=0
        base_url=BASE_URL,
        order_book=True,  # the live book prices the orders below
    )

    dealer = await LighterDealer.from_config(CONFIG, symbol="ETH")
    ws.on_orders = dealer.feed_ws_orders  # COI→OID解決のウォームアップ
    ws.on_orders_resync = dealer.resync_ws_orders  # 切断中に終わった注文を反映

    async with dealer:
        bid, _ = await resting_prices(ws)  # 3 % below the best bid
        res = await dealer.create_limit_order(price=bid, size=+0.005)
        coi = res["client_order_index"]
        print(await dealer.flush())

        lower, _ = await resting_prices(ws, away=0.04)
        await dealer.update_order_by_coi(coi, price=lower, quantity=0.006)
        print(await dealer.flush())

        await dealer.cancel_order_by_coi(coi)
        print(await dealer.flush())

    await ws.aclose()


asyncio.run(main())
