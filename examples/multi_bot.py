"""Seed README 10.4: one config file, one WsInfo + dealer per symbol, one API key per bot.

Each bot signs with its own key (its own nonce lane), so the bots never wait on each other's
nonces: run the node with `--keys-per-account 3`. With fewer keys than bots, bots on the
same key share its nonce lane (`share_nonces_with=`).
"""

import asyncio

from _common import ACC, BASE_URL, CONFIG, KEYS

from lighterfast import LighterDealer
from lighterfast.ws import WsInfo


async def main():
    bots = []
    by_key = {}  # api key index -> the first dealer signing with it
    symbols = ["ETH", "BTC", "SOL"]
    for n, sym in enumerate(symbols):
        key = KEYS[n % len(KEYS)]
        ki = key["api_key_index"]
        ws = await WsInfo.run_overlay(
            account_index=ACC,
            api_key_index=ki,
            api_key_private_key=key["api_key_private_key"],
            symbol=sym,
            base_url=BASE_URL,
        )
        dealer = await LighterDealer.from_config(
            CONFIG, symbol=sym, api_keys=[key], share_nonces_with=by_key.get(ki)
        )
        by_key.setdefault(ki, dealer)
        ws.on_orders = dealer.feed_ws_orders
        ws.on_orders_resync = dealer.resync_ws_orders  # 切断中に終わった注文を反映
        # 各Bot専用の戦略タスクを起動...
        bots.append((sym, ki, ws, dealer))
    if len(KEYS) < len(symbols):
        print(f"{len(KEYS)} API key(s) for {len(symbols)} bots: some bots share a nonce lane")
    for sym, ki, ws, dealer in reversed(bots):  # dealers sharing a lane close before its owner
        print(sym, "api key", ki, dealer.market)
        await dealer.aclose()
        await ws.aclose()


asyncio.run(main())
