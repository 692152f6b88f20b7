"""Seed README 6: public trades → LTP and the recent public tape (no keys needed)."""

import asyncio

from _common import BASE_URL

from lighterfast.ws import WsInfo


async def main():
    ws_pub = await WsInfo.run_public_trades_simple(symbol="ETH", base_url=BASE_URL)
    await asyncio.sleep(1.5)
    print("LTP:", ws_pub.get_ltp())
    print("Recent:", ws_pub.get_recent_trades(5, public=True))
    await ws_pub.aclose()


asyncio.run(main())
