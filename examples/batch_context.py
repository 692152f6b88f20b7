"""Seed README 10.2: queue inside `async with dealer.batch()`, one flush on exit.

The bid and the ask are priced from the live book, outside it, so they rest (the seed's
3001 bid / 2998 ask would cross each other and the book).
"""

import asyncio

from _common import CONFIG, resting_prices

from lighterfast import LighterDealer


async def main():
    async with await LighterDealer.from_config(CONFIG, symbol="ETH") as dealer:
        bid, ask = await resting_prices()  # 3 % outside the best bid / best ask
        async with dealer.batch():
            await dealer._enqueue_limit(bid, +0.005)
            await dealer._enqueue_limit(ask, -0.005)
        # ここで自動 flush()
        print(dealer.last_batch_results)


asyncio.run(main())
