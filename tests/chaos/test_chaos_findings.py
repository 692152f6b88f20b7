"""Failures the chaos run (seed 12) found, each cut down to a deterministic case through the
chaos proxy: the truth is always the node's own state (tx records by hash, engine orders)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _helpers import config_for, eventually
from chaos.proxy import ChaosProxy
from lighterfast import LighterDealer
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo

pytestmark = pytest.mark.timeout(60)


async def _one(dealer: LighterDealer, price: float, size: float) -> dict[str, Any]:
    await dealer.create_limit_order(price, size, post_only=True)
    (result,) = await dealer.flush()
    return result


async def test_lost_batch_of_one_dealer_is_not_resolved_by_anothers_nonce() -> None:
    """Two dealers share one nonce lane (one process, one key: they share it by themselves).
    A's batch is lost on the way (`unknown`); B then uses the lane, takes the same nonce from
    nextNonce and is accepted; A's resolution must not count B's consumed nonce as its own tx."""
    async with LocalNode(port=0, exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=1_000_000)
        async with ChaosProxy(node.host, node.port, seed=3) as proxy:
            opts: dict[str, Any] = {"base_url": proxy.base_url, "use_ws": False}
            a = await LighterDealer.create(
                config_for(node, acct, symbol="ETH", request_timeout=1.0, **opts)
            )
            b = await LighterDealer.create(
                config_for(node, acct, symbol="BTC", request_timeout=5.0, **opts)
            )
            finals: list[dict[str, Any]] = []
            a.on_resolved = finals.append
            try:
                assert (await _one(a, 2900.0, 0.01))["status"] == "accepted"
                assert (await _one(b, 58000.0, 0.0005))["status"] == "accepted"
                sent = {c.id: c.bytes_up for c in proxy.live()}
                assert (await _one(a, 2901.0, 0.01))["status"] == "accepted"
                (a_conn,) = [c for c in proxy.live() if c.bytes_up != sent.get(c.id)]
                a_conn.stall(True)  # A's next request waits in the proxy ...
                lost = await _one(a, 2902.0, 0.01)
                assert lost["status"] == "unknown"
                a_conn.cut()  # ... and never reaches the node
                assert node.state.tx(lost["tx_hash"]) is None
                other = await _one(b, 58001.0, 0.0005)  # B uses the lane at once
                assert other["status"] == "accepted"
                await a.resolve()
                await asyncio.sleep(0)
            finally:
                await b.aclose()
                await a.aclose()
    (final,) = [r for r in finals if r["client_order_index"] == lost["client_order_index"]]
    on_node = node.state.order_by_coi(acct.account_index, lost["client_order_index"])
    assert on_node is None  # the node never had it ...
    assert final["status"] == "rejected", (  # ... so it was not accepted
        f"A's lost tx (key {lost['api_key_index']} nonce {lost['nonce']}, not on the node)"
        f" resolved {final['status']} by {final.get('resolved_by')}; B's accepted tx has key"
        f" {other['api_key_index']} nonce {other['nonce']}"
    )


async def test_order_born_and_gone_while_the_stream_was_down_leaves_no_phantom() -> None:
    """Found by the chaos run: an accepted create canceled while WsInfo's socket was silent
    (its frames lost) stayed "accepted" in the dealer's view after the resync."""
    async with LocalNode(port=0, exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=1_000_000)
        async with ChaosProxy(node.host, node.port, seed=4) as proxy:
            dealer = await LighterDealer.create(
                config_for(node, acct, base_url=proxy.base_url, use_ws=False)
            )
            ws = await WsInfo.run_overlay(
                acct.account_index,
                acct.api_key_index,
                acct.private_key,
                base_url=proxy.base_url,
                market_id=0,
            )
            ws.on_orders = dealer.feed_ws_orders
            ws.on_orders_resync = dealer.resync_ws_orders
            try:
                (stream,) = proxy.live("ws")
                stream.stall(True)  # WsInfo hears nothing from here on ...
                created = await _one(dealer, 2900.0, 0.01)
                coi = created["client_order_index"]
                await dealer.cancel_order_by_coi(coi)
                assert (await dealer.flush())[0]["status"] == "accepted"
                await eventually(
                    lambda: (
                        node.state.order_by_coi(acct.account_index, coi)
                        and node.state.order_by_coi(acct.account_index, coi)["status"] == "canceled"
                    )
                )
                reconnects = ws.stats.reconnects
                stream.cut()  # ... and its stalled frames are lost: one reconnect, one resync
                await eventually(lambda: ws.stats.reconnects > reconnects and ws.connected, 15)
                await asyncio.sleep(0.5)  # the resync hook runs
                assert ws.get_order_by_coi(coi) is None
                left = dealer.get_order_by_coi(coi)
                assert left is None, f"phantom after the resync: COI {coi} {left['status']!r}"
            finally:
                await dealer.aclose()
                await ws.aclose()
