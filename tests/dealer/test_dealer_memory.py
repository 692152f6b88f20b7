"""The dealer's memory of finished orders is bounded and lean (a status code per COI)."""

from __future__ import annotations

import gc
import random
import tracemalloc
from typing import Any

import pytest

from _helpers import eventually, make_dealer
from lighterfast.dealer.order_view import FinishedCois
from lighterfast.errors import OrderNotFoundByCoi
from lighterfast.testnode import LocalNode

FINISHED = 100_000
BASE_COI = 3 * 10**13


async def test_100k_finished_orders_cost_little_and_stay_bounded(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        # one real order frame from the node, then 100 000 orders of that shape
        coi = (await dealer.create_limit_order(1000.00, 0.01))["client_order_index"]
        await dealer.flush()
        template = await eventually(lambda: node.state.order_by_coi(acc, coi))
        capacity = dealer.config.coi_cache_size
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for start in range(0, FINISHED, 1000):
                frames = [
                    {**template, "client_order_index": BASE_COI + i, "order_index": 2**48 + i}
                    for i in range(start, start + 1000)
                ]
                dealer.feed_ws_orders(frames)  # live
                for frame in frames:  # then finished, each status a fresh str as from orjson
                    frame["status"] = "".join(["can", "celed"])
                dealer.feed_ws_orders(frames)
            del frames
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        print(f"\nretained by {FINISHED} finished orders: {retained / 1e6:.2f} MB")
        assert len(dealer._finished) == capacity  # bounded: the oldest are forgotten
        assert retained < 40 * capacity  # ~30 bytes a COI (a dict of statuses took ~215)
        newest = BASE_COI + FINISHED - 1
        with pytest.raises(OrderNotFoundByCoi, match="already finished: canceled"):
            await dealer.cancel_order_by_coi(newest)
        with pytest.raises(OrderNotFoundByCoi, match="finished"):  # forgotten: said so
            await dealer.cancel_order_by_coi(BASE_COI)
        assert dealer.get_order_by_coi(coi) is not None  # the real live order is kept


def test_finished_cois_match_a_dict_model_under_random_use() -> None:
    """put/get/pop/eviction against a plain model: same answers, never above capacity."""
    rng = random.Random(12)
    for capacity in (1, 5, 64, 1000):
        store = FinishedCois(capacity)
        model: dict[int, tuple[str, int]] = {}  # coi -> (status, ring position)
        ring: list[int] = []
        head = 0
        for _ in range(20_000):
            coi = rng.randrange(1, 3 * capacity + 20) << 8 | 4  # one slot: same low byte
            roll = rng.random()
            if roll < 0.6:
                status = rng.choice(["filled", "canceled", "rejected", f"odd-{rng.randrange(9)}"])
                store.put(coi, status)
                if coi in model:
                    model[coi] = (status, model[coi][1])
                    continue
                if len(ring) < capacity:
                    position = len(ring)
                    ring.append(coi)
                else:
                    position, old = head, ring[head]
                    if old in model and model[old][1] == position:
                        del model[old]
                    ring[position] = coi
                    head = (head + 1) % capacity
                model[coi] = (status, position)
            elif roll < 0.8:
                assert store.pop(coi) == model.pop(coi, (None, 0))[0]
            else:
                assert store.get(coi) == model.get(coi, (None, 0))[0]
                assert (coi in store) == (coi in model)
            assert len(store) == len(model) <= capacity
        assert all(store.get(c) == status for c, (status, _) in model.items())
    with pytest.raises(ValueError):
        FinishedCois(0)
    with pytest.raises((TypeError, ValueError)):
        FinishedCois(10).put(0, "filled")
