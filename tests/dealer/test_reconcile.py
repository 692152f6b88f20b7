"""No phantom records: orders no stream vouched for are settled by the node (accountOrders).

The dealer runs without any order stream here, so an accepted create stays "accepted" in its
view until a resync (background check) or `reconcile()` asks the node; the truth is the node's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from _helpers import eventually, make_dealer
from lighterfast import LighterDealer
from lighterfast.dealer.order_view import NODE_CHECK_GRACE, STATUS_NOT_ON_NODE
from lighterfast.testnode import LocalNode

pytestmark = pytest.mark.timeout(60)


async def _accepted(dealer: LighterDealer, price: float) -> int:
    await dealer.create_limit_order(price, 0.01, post_only=True)
    (result,) = await dealer.flush()
    assert result["status"] == "accepted"
    coi: int = result["client_order_index"]
    return coi


def _node_status(node: LocalNode, acct: Any, coi: int) -> str | None:
    order = node.state.order_by_coi(acct.account_index, coi)
    return None if order is None else str(order["status"])


async def test_resync_drops_an_order_born_and_gone_unseen(
    node: LocalNode, funded_account: Any
) -> None:
    """An order created and canceled with no stream listening (a snapshot lacks it) leaves
    the view after the resync, by the node's answer, not stuck "accepted"."""
    acct = funded_account
    async with await make_dealer(node, acct, use_ws=False) as dealer:
        coi = await _accepted(dealer, 2900.0)
        await dealer.cancel_order_by_coi(coi)
        assert (await dealer.flush())[0]["status"] == "accepted"
        await eventually(lambda: _node_status(node, acct, coi) == "canceled")
        assert dealer.get_order_by_coi(coi)["status"] == "accepted"  # no stream told it
        sent = dealer._rest.requests_sent
        assert dealer.resync_ws_orders([]) == 0  # the snapshot may predate it: checked later
        await eventually(lambda: dealer.get_order_by_coi(coi) is None)
        assert dealer._finished.get(coi) == "canceled"
        assert dealer._rest.requests_sent == sent + 1  # one counted accountOrders read


async def test_reconcile_reports_what_changed(node: LocalNode, funded_account: Any) -> None:
    """`reconcile()` settles live and finished orders at once and says COI → new status."""
    acct = funded_account
    async with await make_dealer(node, acct, use_ws=False) as dealer:
        live = await _accepted(dealer, 2900.0)
        gone = await _accepted(dealer, 2901.0)
        await dealer.cancel_order_by_coi(gone)
        await dealer.flush()
        await eventually(lambda: _node_status(node, acct, gone) == "canceled")
        await eventually(lambda: _node_status(node, acct, live) == "open")
        assert await dealer.reconcile() == {live: "open", gone: "canceled"}
        record = dealer.get_order_by_coi(live)
        assert record["status"] == "open" and record["order_index"] is not None
        assert dealer.get_order_by_coi(gone) is None
        assert await dealer.reconcile() == {}  # nothing unvouched is left
        assert await dealer.reconcile([live]) == {}  # asked by COI: unchanged


async def test_an_accepted_create_the_node_never_heard_of_goes_after_the_grace(
    node: LocalNode, funded_account: Any
) -> None:
    """An accepted create absent from the node is kept while it may still execute, then
    dropped as "not on the node" (the background check waits out the grace)."""
    acct = funded_account
    async with await make_dealer(node, acct, use_ws=False) as dealer:
        coi = await _accepted(dealer, 2900.0)
        await dealer.cancel_order_by_coi(coi)
        await dealer.flush()
        await eventually(lambda: _node_status(node, acct, coi) == "canceled")
        # The same COI, as a create the node took but never executed (none we can make):
        node.engine.by_coi_any.pop((acct.account_index, coi))
        record = dealer.get_order_by_coi(coi)
        assert record is not None
        dealer._orders.get(coi)["accepted_at"] = time.monotonic() - NODE_CHECK_GRACE + 0.3
        assert await dealer.reconcile() == {}  # young: it may still execute
        assert dealer.get_order_by_coi(coi)["status"] == "accepted"
        dealer.resync_ws_orders([])
        await eventually(lambda: dealer.get_order_by_coi(coi) is None, timeout=5)
        assert dealer._finished.get(coi) == STATUS_NOT_ON_NODE


async def test_aclose_ends_a_pending_check(node: LocalNode, funded_account: Any) -> None:
    """A check waiting out the grace is cancelled by aclose (no task left behind)."""
    acct = funded_account
    dealer = await make_dealer(node, acct, use_ws=False)
    coi = await _accepted(dealer, 2900.0)
    await dealer.cancel_order_by_coi(coi)
    await dealer.flush()
    await eventually(lambda: _node_status(node, acct, coi) == "canceled")
    node.engine.by_coi_any.pop((acct.account_index, coi))
    dealer.resync_ws_orders([])
    task = dealer._node_check
    assert task is not None
    await asyncio.sleep(0.2)
    assert not task.done()  # waiting out the grace
    await dealer.aclose()
    assert task.done()
    assert dealer._node_check is None
