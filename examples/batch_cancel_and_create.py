"""Seed README 10.1: several cancels plus several new orders in one batch, one send."""

import asyncio

from _common import CONFIG

from lighterfast import LighterDealer


async def main():
    async with await LighterDealer.from_config(CONFIG, symbol="ETH") as dealer:
        coi1 = (await dealer.create_limit_order(3000.00, +0.005))["client_order_index"]
        coi2 = (await dealer.create_limit_order(3700.00, -0.005))["client_order_index"]
        await dealer.flush()

        result = await dealer.batch_cancel_and_create(
            cancel_client_order_indices=[coi1, coi2],
            new_limit_orders=[(3123.45, +0.005), (3650.00, -0.005)],
        )
        print(result)


asyncio.run(main())
