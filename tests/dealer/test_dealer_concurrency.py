"""Concurrency: 4 tasks × 200 orders on 2 API keys with random flushes, cancels and modifies,
while the node injects an invalid nonce, a 429, and another client moves one key's nonce.

Every COI must be accepted exactly once, no nonce error may be left, and the node's live
orders must equal the dealer's view (fed by a real WsInfo on the account streams)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from _helpers import eventually
from lighterfast import DealerConfig, LighterDealer
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo

pytestmark = pytest.mark.timeout(120)

TASKS = 4
ORDERS_PER_TASK = 200


async def test_four_tasks_two_keys_random_flushes_with_faults(node: LocalNode) -> None:
    acct = await node.create_account(collateral=10_000_000)
    key5_private, _ = await node.add_api_key(acct.account_index, 5)
    assert key5_private is not None
    cfg = DealerConfig(
        base_url=node.base_url,
        account_index=acct.account_index,
        api_keys={acct.api_key_index: acct.private_key, 5: key5_private},
        symbol="ETH",
        standard_account=False,
        jitter_ms=(0, 1),
    )
    rng = random.Random(7)
    results: list[dict[str, Any]] = []
    created: list[int] = []
    canceled: set[int] = set()
    modified: dict[int, tuple[int, int]] = {}  # coi -> (price int, size int) last requested
    progress = [0]

    ws = await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        market_id=0,
        base_url=node.base_url,
        public_trades=False,
    )
    dealer = await LighterDealer.create(cfg)
    ws.on_orders = dealer.feed_ws_orders
    try:

        async def trader(task: int) -> None:
            mine: list[int] = []
            for _ in range(ORDERS_PER_TASK):
                buy = rng.random() < 0.5
                price = round(rng.uniform(2000, 2499) if buy else rng.uniform(3500, 3999), 2)
                size = round(rng.uniform(0.005, 0.05), 4)
                res = await dealer.create_limit_order(price, size if buy else -size)
                mine.append(res["client_order_index"])
                created.append(res["client_order_index"])
                progress[0] += 1
                roll = rng.random()
                if roll < 0.05 and len(mine) > 3:
                    coi = mine.pop(rng.randrange(len(mine) - 1))
                    await dealer.cancel_order_by_coi(coi)
                    canceled.add(coi)
                elif roll < 0.10 and len(mine) > 3:
                    coi = mine[rng.randrange(len(mine) - 1)]
                    record = dealer.get_order_by_coi(coi)
                    assert record is not None
                    new_price = record["price_int"] + (1 if record["is_ask"] else -1)
                    await dealer.update_order_by_coi(coi, price=new_price / 100)
                    modified[coi] = (new_price, record["base_amount_int"])
                if rng.random() < 0.15:
                    results.extend(await dealer.flush())
                if rng.random() < 0.3:
                    await asyncio.sleep(0)
            results.extend(await dealer.flush())

        async def faults() -> None:
            await eventually(lambda: progress[0] > 150, timeout=10.0)
            node.faults.force_next_tx_error(21104)  # invalid nonce, nothing moved
            await eventually(lambda: not node.faults.forced_tx_errors, timeout=10.0)
            await eventually(lambda: progress[0] > 350, timeout=10.0)
            node.faults.force_rate_limit()  # HTTP 429 / 23000
            await eventually(lambda: not node.faults.forced_tx_errors, timeout=10.0)
            await eventually(lambda: progress[0] > 550, timeout=10.0)
            # Another client uses key 5 while the dealer's key-5 lane is idle (we hold it, so
            # the other client sees a settled nonce); afterwards the dealer's lane is 2 behind
            # the node and its next key-5 batch meets 21104 → one resync → resend.
            async with dealer._nonces.hold(5):
                other = await LighterDealer.create(  # as another process: a lane of its own
                    DealerConfig(
                        base_url=node.base_url.replace("127.0.0.1", "localhost"),
                        account_index=acct.account_index,
                        api_key_index=5,
                        api_key_private_key=key5_private,
                        symbol="ETH",
                        standard_account=False,
                        use_ws=False,
                    )
                )
                async with other:
                    await other.create_limit_order(1000.0, 0.01)
                    await other.create_limit_order(1001.0, 0.01)
                    other_results = await other.flush()
            assert all(r["accepted"] for r in other_results)
            created_by_other.extend(r["client_order_index"] for r in other_results)

        created_by_other: list[int] = []
        await asyncio.gather(*(trader(t) for t in range(TASKS)), faults())

        # every COI accepted exactly once; nothing left with a nonce error
        creates = [r for r in results if r["action"] == "create"]
        assert sorted(r["client_order_index"] for r in creates) == sorted(created)
        assert len(created) == TASKS * ORDERS_PER_TASK == len(set(created))
        rejected = [r for r in results if not r["accepted"]]
        assert rejected == []
        assert dealer.stats["nonce_resyncs"] >= 2  # the injected one and the desync on key 5
        # both keys were used, each with consecutive nonces
        by_key: dict[int, list[int]] = {}
        for r in results:
            by_key.setdefault(r["api_key_index"], []).append(r["nonce"])
        assert set(by_key) == {acct.api_key_index, 5}
        assert len({(k, n) for k, ns in by_key.items() for n in ns}) == len(results)
        for key, lane in dealer._nonces.lanes.items():
            assert lane.next_nonce == node.state.nonces[(acct.account_index, key)]

        # node state equals the dealer's view (fed only by the WS order stream)
        node_live = {
            o["client_order_index"]: o
            for o in node.state.orders.values()
            if o["owner_account_index"] == acct.account_index
            and o["client_order_index"] not in created_by_other
        }
        expected_live = set(created) - canceled
        # generous bound: the shared 2-core CI host can lag the order stream by seconds
        await eventually(
            lambda: set(_live_view(dealer)) - set(created_by_other) == expected_live, timeout=40.0
        )
        node_live = {
            o["client_order_index"]: o
            for o in node.state.orders.values()
            if o["owner_account_index"] == acct.account_index
            and o["client_order_index"] not in created_by_other
        }
        assert set(node_live) == expected_live
        view = _live_view(dealer)
        for coi, order in node_live.items():
            assert view[coi]["price_int"] == order["base_price"]
            assert view[coi]["base_amount_int"] == order["base_size"]
            assert view[coi]["order_index"] == order["order_index"]
            if coi in modified:
                assert (order["base_price"], order["base_size"]) == modified[coi]
        for coi in canceled:
            assert node.state.order_by_coi(acct.account_index, coi)["status"] == "canceled"
    finally:
        await dealer.aclose()
        await ws.aclose()


def _live_view(dealer: LighterDealer) -> dict[int, dict[str, Any]]:
    """The dealer's COI records whose last known status is open (from the stream)."""
    return {coi: rec for coi, rec in dealer._orders.items() if rec.get("status") == "open"}
