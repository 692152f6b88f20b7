"""Send outcomes are the truth: accepted / rejected / unknown, unknowns resolved, nothing lost.

Every test runs the dealer against the real local node over loopback; the node's faults break
or delay the reply only *after* it accepted the tx (nonce consumed), as a venue proxy would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _helpers import eventually, make_dealer, node_nonce
from lighterfast.testnode import LocalNode


def _live_cois(node: LocalNode, acct: Any) -> list[int]:
    """COIs of the account's live orders on the node (one entry per order)."""
    return sorted(
        o["client_order_index"]
        for o in node.state.orders.values()
        if o["owner_account_index"] == acct.account_index
    )


@pytest.mark.parametrize("fault", ["html_502", "html_200", "cut"])
async def test_a_broken_reply_after_acceptance_is_unknown_and_keeps_the_nonce(
    node: LocalNode, funded_account: Any, fault: str
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        node.faults.fault_next_tx_reply(fault)
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        (res,) = await dealer.flush()
        assert res["status"] == "unknown" and not res["accepted"], res
        assert res["nonce"] == 0 and res["api_key_index"] == funded_account.api_key_index
        assert res["client_order_index"] == coi
        tx = node.state.tx(res["tx_hash"])  # the signer's hash: the node knows this tx
        assert tx is not None and tx["nonce"] == 0
        await eventually(lambda: node.state.order_by_coi(acc, coi))
        # The next batch of the lane must not hit 21104: the unknown kept its nonce.
        await dealer.create_limit_order(3001.0, 0.01)
        (nxt,) = await dealer.flush()
        assert nxt["status"] == "accepted" and nxt["nonce"] == 1
        assert dealer.stats["nonce_resyncs"] == 0
        assert node_nonce(node, funded_account) == 2
        assert dealer.get_order_by_coi(coi)["status"] == "accepted"  # resolved on the way


async def test_resolve_returns_the_final_result_and_calls_on_resolved(
    node: LocalNode, funded_account: Any
) -> None:
    seen: list[dict[str, Any]] = []
    seen_async: list[dict[str, Any]] = []

    async def hook_async(result: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        seen_async.append(result)

    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        dealer.on_resolved = seen.append
        node.faults.fault_next_tx_reply("html_502")
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        (res,) = await dealer.flush()
        assert res["status"] == "unknown"
        final = await dealer.resolve()
        assert [r["client_order_index"] for r in final] == [coi] or final == []
        await eventually(lambda: seen)
        (done,) = seen
        assert done["status"] == "accepted" and done["accepted"] and done["code"] == 200
        assert done["tx_hash"] == res["tx_hash"] and done["nonce"] == 0
        assert done["resolved"] is True
        assert await dealer.resolve() == []  # nothing pending any more
        dealer.on_resolved = hook_async
        node.faults.fault_next_tx_reply("cut")
        await dealer.create_limit_order(3001.0, 0.01)
        (res2,) = await dealer.flush()
        assert res2["status"] == "unknown"
        await dealer.resolve()
        await eventually(lambda: seen_async)
        assert seen_async[0]["status"] == "accepted" and seen_async[0]["nonce"] == 1


async def test_an_unknown_that_was_not_consumed_resolves_rejected_without_a_phantom(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    resolved: list[dict[str, Any]] = []
    async with await make_dealer(node, funded_account, request_timeout=0.5) as dealer:
        dealer.on_resolved = resolved.append
        await dealer.create_limit_order(2990.0, 0.01)
        assert (await dealer.flush())[0]["status"] == "accepted"  # lane synced, nonce 1 next
        # The node refuses the next tx (nothing consumed) but the refusal never arrives.
        node.faults.force_next_tx_error(21120, "invalid signature")
        node.faults.stall(True)
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        (res,) = await dealer.flush()
        assert res["status"] == "unknown" and res["tx_hash"] and res["nonce"] == 1
        final = await dealer.resolve()
        node.faults.stall(False)
        await eventually(lambda: resolved)
        assert resolved[0]["status"] == "rejected" and not resolved[0]["accepted"]
        assert resolved[0]["client_order_index"] == coi and resolved[0]["resolved"] is True
        assert final in ([], resolved)
        assert dealer.get_order_by_coi(coi) is None  # no phantom record
        assert node.state.order_by_coi(acc, coi) is None
        await dealer.create_limit_order(3001.0, 0.01)
        (nxt,) = await dealer.flush()
        assert nxt["status"] == "accepted" and nxt["nonce"] == 1  # the nonce was never consumed
        live = _live_cois(node, funded_account)
        view = sorted(c for c, r in dealer._orders.items() if r.get("status") != "queued")
        await eventually(lambda: len(_live_cois(node, funded_account)) == 2)
        assert sorted(_live_cois(node, funded_account)) == view or live == view


async def test_a_stream_confirmed_order_is_never_downgraded_to_unknown(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        node.faults.delay_tx_replies(300)
        node.faults.fault_next_tx_reply("html_502")
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        task = asyncio.ensure_future(dealer.flush())
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        assert dealer.feed_ws_orders([order]) == 1  # the stream says open before the reply
        (res,) = await task
        assert res["status"] == "accepted", res  # the stream proved acceptance
        assert dealer.get_order_by_coi(coi)["status"] == "open"
        assert await dealer.resolve() == []


async def test_a_refused_connection_is_rejected_and_the_nonce_returned(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        await dealer.create_limit_order(2990.0, 0.01)
        assert (await dealer.flush())[0]["nonce"] == 0
        restart = asyncio.ensure_future(node.restart(down_s=1.0))
        await eventually(lambda: node._runner is None)  # the port is closed now
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        (res,) = await dealer.flush()
        assert res["status"] == "rejected" and not res["accepted"], res
        assert res["tx_hash"] and res["nonce"] == 1
        assert dealer.get_order_by_coi(coi) is None
        lane = dealer._nonces.lanes[funded_account.api_key_index]
        assert lane.next_nonce == 1  # given back, no resync needed
        await restart
        await dealer.create_limit_order(3001.0, 0.01)
        (nxt,) = await dealer.flush()
        assert nxt["status"] == "accepted" and nxt["nonce"] == 1


async def test_a_rejected_result_carries_the_signer_hash(
    node: LocalNode, funded_account: Any
) -> None:
    # the Go signer: a native one switches to it and re-signs on 21120 (test_signer_fallback)
    async with await make_dealer(node, funded_account, signer="sdk") as dealer:
        node.faults.force_next_tx_error(21120, "invalid signature")
        await dealer.create_limit_order(3000.0, 0.01)
        (res,) = await dealer.flush()
        assert res["status"] == "rejected" and res["code"] == 21120
        assert isinstance(res["tx_hash"], str) and len(res["tx_hash"]) > 10
        assert res["nonce"] == 0 and node.state.tx(res["tx_hash"]) is None


@pytest.mark.parametrize("use_ws", [False, True])
async def test_a_cancelled_flush_requeues_what_was_not_sent(
    node: LocalNode, funded_account: Any, use_ws: bool
) -> None:
    acc = funded_account.account_index
    finals: list[dict[str, Any]] = []
    async with await make_dealer(node, funded_account, use_ws=use_ws, max_ws_batch=10) as dealer:
        dealer.on_resolved = finals.append  # background or resolve(): each final result once
        cois = [
            (await dealer.create_limit_order(2900.0 + i, 0.01))["client_order_index"]
            for i in range(30)
        ]
        node.faults.delay_tx_replies(400)
        task = asyncio.ensure_future(dealer.flush())
        # Cancel once the node accepted the second batch (its reply is still held).
        await eventually(lambda: node_nonce(node, funded_account) == 20, timeout=5.0)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        node.faults.delay_tx_replies(0)
        assert dealer.queued == 10  # the third batch was never signed nor sent
        assert [o["client_order_index"] for o in dealer.queued_orders] == cois[20:]
        await dealer.resolve()
        assert sorted(r["client_order_index"] for r in finals) == sorted(cois[10:20])
        assert all(r["status"] == "accepted" and r["resolved"] for r in finals)
        results = await dealer.flush()
        assert [r["client_order_index"] for r in results] == cois[20:]
        assert all(r["status"] == "accepted" for r in results)
        assert [r["nonce"] for r in results] == list(range(20, 30))
        await eventually(lambda: len(_live_cois(node, funded_account)) == 30)
        assert _live_cois(node, funded_account) == sorted(cois)
        assert all(dealer.get_order_by_coi(c)["status"] == "accepted" for c in cois)
        assert node.state.order_by_coi(acc, cois[0]) is not None


async def test_wait_for_timing_out_a_flush_loses_nothing(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account, max_ws_batch=10) as dealer:
        cois = [
            (await dealer.create_limit_order(2900.0 + i, 0.01))["client_order_index"]
            for i in range(30)
        ]
        node.faults.delay_tx_replies(300)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(dealer.flush(), 0.45)
        node.faults.delay_tx_replies(0)
        requeued = [o["client_order_index"] for o in dealer.queued_orders]
        assert requeued and requeued == cois[30 - len(requeued) :]
        await dealer.resolve()
        await dealer.flush()
        assert dealer.queued == 0
        await eventually(lambda: len(_live_cois(node, funded_account)) == 30)
        assert _live_cois(node, funded_account) == sorted(cois)  # each exactly once
        assert node_nonce(node, funded_account) == 30  # no nonce used twice or skipped
