"""An explicit COI cannot alias a live order: refused locally, the real order left untouched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from _helpers import eventually, make_dealer, node_nonce
from lighterfast import CoiInUse
from lighterfast.testnode import LocalNode

COI = 424_242


def _allocator(values: list[int]) -> Any:
    """A coi_allocator handing out `values` in order (a bot's own, buggy, numbering)."""
    source: Iterator[int] = iter(values)
    return lambda: next(source)


async def test_reused_live_coi_from_own_allocator_is_refused_and_the_order_untouched(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    alloc = _allocator([COI, COI, COI + 1])
    async with await make_dealer(node, funded_account, coi_allocator=alloc) as dealer:
        await dealer.create_limit_order(1000.00, 0.01)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: (node.state.order_by_coi(acc, COI) or {}).get("status") == "open")
        sent = node_nonce(node, funded_account)
        with pytest.raises(CoiInUse, match=f"coi_in_use: client_order_index={COI}") as info:
            await dealer.create_limit_order(1234.00, 0.01)  # the allocator repeats COI
        assert info.value.coi == COI and isinstance(info.value, ValueError)
        assert dealer.queued == 0  # nothing queued, nothing signed
        assert dealer.get_order_by_coi(COI)["price_int"] == 100000  # the record is the real one
        # a size-only modify keeps the real price (it moved the order to 1234.00 before)
        await dealer.update_order_by_coi(COI, quantity=0.02)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: node.state.order_by_coi(acc, COI)["base_size"] == 200)
        order = node.state.order_by_coi(acc, COI)
        assert order["base_price"] == 100000 and order["status"] == "open"
        assert node_nonce(node, funded_account) == sent + 1  # only the modify was sent
        # the allocator's next COI is fresh: accepted as usual
        assert (await dealer.create_limit_order(1000.00, 0.01))["client_order_index"] == COI + 1
        assert dealer.queued == 1


async def test_explicit_client_order_index_of_a_queued_or_live_order_is_refused(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        await dealer.create_limit_order(1000.00, 0.01, client_order_index=COI)
        with pytest.raises(CoiInUse, match="queued"):  # queued, not flushed yet
            await dealer.create_limit_order(1001.00, 0.01, client_order_index=COI)
        with pytest.raises(CoiInUse):
            await dealer.create_market_order(-0.01, 900.0, client_order_index=COI)
        assert dealer.queued == 1
        assert (await dealer.flush())[0]["accepted"]
        with pytest.raises(CoiInUse, match=r"accepted|open"):  # in flight / live
            await dealer.create_limit_order(1001.00, 0.01, client_order_index=COI)
        await eventually(lambda: node.state.order_by_coi(acc, COI))
        # inside a batch block: the block's own creates count as queued
        with pytest.raises(CoiInUse):
            async with dealer.batch():
                await dealer.create_limit_order(1002.00, 0.01, client_order_index=COI + 5)
                await dealer.create_limit_order(1003.00, 0.01, client_order_index=COI + 5)
        assert dealer.get_order_by_coi(COI + 5) is None and dealer.queued == 0
        assert node.state.order_by_coi(acc, COI)["base_price"] == 100000


async def test_batch_cancel_and_create_refuses_a_coi_twice(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    alloc = _allocator([COI + 7, COI + 7, COI + 8, COI + 9])
    async with await make_dealer(node, funded_account, coi_allocator=alloc) as dealer:
        sent = node_nonce(node, funded_account)
        with pytest.raises(CoiInUse, match="twice"):
            await dealer.batch_cancel_and_create([], [(1000.00, 0.01), (1001.00, 0.01)])
        assert dealer.get_order_by_coi(COI + 7) is None  # no phantom record
        assert node_nonce(node, funded_account) == sent
        results = await dealer.batch_cancel_and_create([], [(1000.00, 0.01), (1001.00, 0.01)])
        assert [r["client_order_index"] for r in results] == [COI + 8, COI + 9]
        assert all(r["accepted"] for r in results)
        await eventually(lambda: node.state.order_by_coi(acc, COI + 9))


async def test_a_rejected_create_frees_its_coi(node: LocalNode, funded_account: Any) -> None:
    """A create the node refused does not exist: its COI may be used again."""
    async with await make_dealer(node, funded_account) as dealer:
        await dealer.create_limit_order(1000.00, 0.01, client_order_index=COI + 20)
        dealer._signer.close()  # the signer is gone: the flush rejects, nothing sent
        result = (await dealer.flush())[0]
        assert result["status"] == "rejected"
        assert dealer.get_order_by_coi(COI + 20) is None
        summary = await dealer.create_limit_order(1000.00, 0.01, client_order_index=COI + 20)
        assert summary["client_order_index"] == COI + 20 and dealer.queued == 1
        dealer._queue.clear()  # the signer is closed: nothing more to send


async def test_a_finished_coi_may_be_used_again(node: LocalNode, funded_account: Any) -> None:
    """The node frees a COI once its order is finished; so does the dealer's view."""
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        await dealer.create_limit_order(1000.00, 0.01, client_order_index=COI + 30)
        await dealer.flush()
        await eventually(lambda: node.state.order_by_coi(acc, COI + 30))
        await dealer.cancel_order_by_coi(COI + 30)
        await dealer.flush()
        await eventually(lambda: node.state.order_by_coi(acc, COI + 30)["status"] == "canceled")
        dealer.feed_ws_orders([node.state.order_by_coi(acc, COI + 30)])  # the stream's frame
        await dealer.create_limit_order(1001.00, 0.01, client_order_index=COI + 30)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: node.state.order_by_coi(acc, COI + 30)["status"] == "open")
        assert node.state.order_by_coi(acc, COI + 30)["base_price"] == 100100
