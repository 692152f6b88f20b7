"""`Fleet.status` reads what the server holds (lanes, slots, budget windows) and the renderers
show it: a rich table for `lighterfast fleet status`, plain JSON for `--json`."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from lighterfast.errors import FleetError
from lighterfast.fleet import Fleet
from lighterfast.fleet.status import FleetStatus, fetch_status, render_status, status_json


async def populate(a: Fleet, b: Fleet) -> None:
    (lane,) = await a.lease_lanes(1, [3])
    await lane.record_nonce(12)
    (other,) = await b.lease_lanes(1, [4])
    await other.release()  # free again; its epoch and nonce stay
    await a.lease_slot(1)
    await b.lease_slot(1)
    await b.lease_slot(2)
    await a.budget(1, chunk=0).acquire(1)
    await a.budget(1, chunk=0).acquire(1)
    await b.budget(2, standard_account=False, chunk=0).acquire(300)
    await b.budget(2, standard_account=False, chunk=0).acquire(6, tx=True)


async def test_status_shows_leases_slots_and_budget_use(
    redis_url: str, fleet_namespace: str
) -> None:
    a = await Fleet.connect(redis_url, host="h1", namespace=fleet_namespace)
    b = await Fleet.connect(redis_url, host="h2", namespace=fleet_namespace)
    try:
        await populate(a, b)
        status = await a.status()
        assert isinstance(status, FleetStatus) and status.account is None
        lanes = {(lane.account, lane.key): lane for lane in status.lanes}
        assert lanes["1", 3].holder == a.owner and lanes["1", 3].live
        assert lanes["1", 3].epoch == 1 and lanes["1", 3].last_nonce == 12
        assert lanes["1", 3].age_s is not None and lanes["1", 3].age_s >= 0
        assert not lanes["1", 4].live and lanes["1", 4].holder == ""
        slots = {(s.account, s.slot): s.holder for s in status.slots}
        assert slots == {("1", 0): a.owner, ("1", 1): b.owner, ("2", 0): b.owner}
        windows = {(w.scope, w.name, w.unit): (w.used, w.capacity) for w in status.windows}
        assert windows == {
            ("account", "1", "requests"): (2, 60),
            ("host", "h1", "requests"): (2, 60),
            ("account", "2", "weight"): (300, 24000),
            ("host", "h2", "weight"): (300, 24000),
            ("account", "2", "tx weight"): (6, 24000),
        }
        only = await a.status(account=2)
        assert {lane.account for lane in only.lanes} == set()
        assert {s.account for s in only.slots} == {"2"}
        assert {(w.scope, w.name) for w in only.windows} == {
            ("account", "2"),
            ("host", "h1"),
            ("host", "h2"),
        }

        fetched = await fetch_status(redis_url, 1, namespace=fleet_namespace)
        assert [(lane.key, lane.holder) for lane in fetched.lanes] == [(3, a.owner), (4, "")]
        assert fetched.windows == [w for w in status.windows if w.name == "1" or w.scope == "host"]

        data = status_json(status)
        assert json.loads(json.dumps(data)) == data
        assert data["namespace"] == fleet_namespace and len(data["lanes"]) == 2

        console = Console(record=True, width=200)
        console.print(render_status(status))
        text = console.export_text()
        assert a.owner in text and b.owner in text and "tx weight" in text
        assert "24000" in text and "free" in text
    finally:
        await a.close()
        await b.close()


async def test_fetch_status_of_an_unreachable_server_is_a_fleet_error() -> None:
    with pytest.raises(FleetError, match="cannot reach"):
        await fetch_status("redis://127.0.0.1:1", wait_s=0.5)


async def test_status_of_an_empty_namespace(fleet: Fleet) -> None:
    status = await fleet.status()
    assert (status.lanes, status.slots, status.windows) == ([], [], [])
    console = Console(record=True, width=120)
    console.print(render_status(status))
    assert "no lanes" in console.export_text()
