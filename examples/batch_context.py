"""Seed README 10.2: queue inside `async with dealer.batch()`, one flush on exit."""

import asyncio

from _common import CONFIG

from lighterfast import LighterDealer


async def main():
    async with await LighterDealer.from_config(CONFIG, symbol="ETH") as dealer:
        async with dealer.batch():
            await dealer._enqueue_limit(3001.0, +0.005)
            await dealer._enqueue_limit(2998.0, -0.005)
        # ここで自動 flush()
        print(dealer.last_batch_results)


asyncio.run(main())
