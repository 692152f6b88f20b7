"""The dealer on a fleet (issue 14 item 2), against the local node and a real valkey server:
its sends draw from the fleet budget, it uses only the lanes it leased (a taken key is left to
its holder, none free is a FleetError naming the holders), a taken-over lane starts past the
last recorded nonce, its COIs carry its leased slot, and a fleet outage fails sends cleanly
(rejected, nothing consumed) until the server is back."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from _helpers import config_for, eventually, node_nonce
from lighterfast import LighterDealer
from lighterfast.dealer.coi import coi_parts
from lighterfast.errors import FleetError
from lighterfast.fleet import Fleet
from lighterfast.testnode import LocalNode

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch, fleet_namespace: str) -> str:
    """The dealer's fleet knobs for this test's namespace (the URL is passed as `fleet=`)."""
    monkeypatch.setenv("LIGHTERFAST_FLEET_NAMESPACE", fleet_namespace)
    monkeypatch.delenv("LIGHTERFAST_FLEET_URL", raising=False)
    return fleet_namespace


async def _two_keys(node: LocalNode, acct: Any) -> dict[int, str]:
    key5, _ = await node.add_api_key(acct.account_index, 5)
    return {acct.api_key_index: acct.private_key, 5: key5}


async def test_dealer_on_a_fleet_leases_a_free_lane_and_a_slot(
    node: LocalNode, funded_account: Any, redis_url: str, fleet_env: str
) -> None:
    keys = await _two_keys(node, funded_account)
    acc = funded_account.account_index
    other = await Fleet.connect(redis_url, host="other-host", namespace=fleet_env)
    try:
        (held,) = await other.lease_lanes(acc, [funded_account.api_key_index])
        cfg = config_for(
            node,
            funded_account,
            api_key_index=None,
            api_key_private_key=None,
            api_keys=keys,
            fleet=redis_url,
            use_ws=False,
        )
        async with await LighterDealer.create(cfg) as dealer:
            assert dealer._nonces.api_key_indices == [5]  # key 4 is the other process's
            link = dealer._fleet_link
            assert link is not None and link.slot is not None
            results = []
            for i in range(3):
                await dealer.create_limit_order(3000.0 + i, 0.01)
                results.extend(await dealer.flush())
            assert [r["status"] for r in results] == ["accepted"] * 3
            assert {r["api_key_index"] for r in results} == {5}
            assert {coi_parts(r["client_order_index"])[1] for r in results} == {link.slot.slot}
            assert link.budget is not None and link.budget.stats()["reserved"] > 0
            lease = link.lease_of(5)
            assert lease is not None
            await eventually(lambda: lease.last_nonce == 2, timeout=5.0)  # recorded (fenced)
            # A second dealer of the process shares the process's lease, none new.
            async with await LighterDealer.create(dataclasses.replace(cfg, symbol="BTC")) as second:
                assert second._nonces.lanes[5] is dealer._nonces.lanes[5]
                assert second._fleet_link.lease_of(5) is lease
        # Closed: the lease went back; every key held elsewhere now → FleetError naming them.
        (theirs,) = await other.lease_lanes(acc, [5])
        with pytest.raises(FleetError, match=r"key 4 held by .*other-host.*key 5 held by"):
            await LighterDealer.create(cfg)
        assert node_nonce(node, funded_account, 5) == 3
        # The other process recorded a nonce far ahead on key 5 and let it go: a dealer taking
        # the lane over starts past it, not at the node's (lower) nextNonce.
        await theirs.record_nonce(9)
        await theirs.release()
        await held.release()
        node_next = node_nonce(node, funded_account, 5)
        async with await LighterDealer.create(cfg) as dealer:
            assert set(dealer._nonces.api_key_indices) <= {4, 5}
            lane5 = dealer._nonces.lanes.get(5)
            if lane5 is not None:
                async with dealer._nonces.hold(5) as lane:
                    assert await lane.take(1) == 10 > node_next
                    lane.rollback(10, 1)
    finally:
        await other.close()


@pytest.mark.timeout(90)
async def test_fleet_outage_fails_sends_cleanly_and_they_resume(
    node: LocalNode, funded_account: Any, restartable_redis: Any, fleet_env: str
) -> None:
    cfg = config_for(
        node, funded_account, fleet=restartable_redis.url, use_ws=False, standard_account=True
    )
    async with await LighterDealer.create(cfg) as dealer:
        await dealer.create_limit_order(3000.0, 0.01)
        (first,) = await dealer.flush()
        assert first["status"] == "accepted"
        restartable_redis.stop()
        await asyncio.sleep(1.1)  # any chunk reserved before holds for 1 s (hold_s) at most
        statuses = []
        for i in range(3):
            await dealer.create_limit_order(3001.0 + i, 0.01)
            statuses.extend(await dealer.flush())
        refused = [r for r in statuses if r["status"] != "accepted"]
        assert refused, [(r["status"], r["message"]) for r in statuses]
        assert all(r["status"] == "rejected" for r in refused)
        assert all("fleet" in r["message"] for r in refused), refused
        accepted_before = sum(r["status"] == "accepted" for r in statuses) + 1
        assert node_nonce(node, funded_account) == accepted_before  # nothing consumed by them
        restartable_redis.start()

        async def resumed() -> bool:
            await dealer.create_limit_order(2990.0, 0.01)
            (again,) = await dealer.flush()
            return again["status"] == "accepted"

        ok = False
        for _ in range(20):
            if await resumed():
                ok = True
                break
        assert ok
        assert node_nonce(node, funded_account) >= accepted_before + 1
        assert dealer.stats["nonce_resyncs"] == 0


async def test_a_fleet_dealer_puts_the_processs_account_free_reads_on_the_host_window(
    node: LocalNode, funded_account: Any, redis_url: str, fleet_env: str
) -> None:
    """A WsInfo resync or a public book read names no account: with a fleet dealer open they
    draw from the fleet's host window (the venue's per-IP count), not a local 60/min."""
    from fleet.test_fleet_budget import used
    from lighterfast.dealer.fleet_link import FleetLimiter
    from lighterfast.transport.budget import registered
    from lighterfast.transport.rest import RestClient

    cfg = config_for(
        node, funded_account, fleet=redis_url, fleet_host="host-d", use_ws=False,
        standard_account=True,
    )  # fmt: skip
    async with await LighterDealer.create(cfg) as dealer:
        fleet = dealer._fleet_link.fleet
        reads = registered(node.base_url, None)
        assert reads is not None and isinstance(reads.limiter, FleetLimiter)
        before = await used(fleet, "host", "host-d", "req")
        rest = RestClient(node.base_url)  # the account-free budget, as a WsInfo's resync
        try:
            for _ in range(3):
                await rest.get("orderBooks")
        finally:
            await rest.close()
        assert await used(fleet, "host", "host-d", "req") == before + 3
