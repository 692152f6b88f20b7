"""Seed README 10.1: several cancels plus several new orders in one batch, one send.

Every order is priced from the live book (bids below the best bid, asks above the best ask),
so they rest instead of filling against the node's market flow.
"""

import asyncio

from _common import CONFIG, resting_prices

from lighterfast import LighterDealer


async def main():
    async with await LighterDealer.from_config(CONFIG, symbol="ETH") as dealer:
        bid, ask = await resting_prices()  # 3 % outside the best bid / best ask
        coi1 = (await dealer.create_limit_order(bid, +0.005))["client_order_index"]
        coi2 = (await dealer.create_limit_order(ask, -0.005))["client_order_index"]
        await dealer.flush()

        new_bid, new_ask = await resting_prices(away=0.025)
        result = await dealer.batch_cancel_and_create(
            cancel_client_order_indices=[coi1, coi2],
            new_limit_orders=[(new_bid, +0.005), (new_ask, -0.005)],
        )
        print(result)


asyncio.run(main())
