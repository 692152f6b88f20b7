"""`lighterfast fleet status --fleet URL` as a subprocess against the real server: the lanes,
slot and budget a live dealer holds, as a table and as JSON; an unreachable server is one
clear line and exit code 2."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from _helpers import config_for, start_cli
from lighterfast import LighterDealer
from lighterfast.testnode import LocalNode

pytestmark = pytest.mark.timeout(60)


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = start_cli(*args)
    out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    return proc.returncode, out, err


async def test_fleet_status_shows_a_live_dealers_leases_and_budget(
    node: LocalNode,
    funded_account: Any,
    redis_url: str,
    fleet_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIGHTERFAST_FLEET_NAMESPACE", fleet_namespace)
    acc = funded_account.account_index
    cfg = config_for(node, funded_account, fleet=redis_url, use_ws=False, standard_account=True)
    async with await LighterDealer.create(cfg) as dealer:
        await dealer.create_limit_order(3000.0, 0.01)
        (result,) = await dealer.flush()
        assert result["accepted"]
        link = dealer._fleet_link
        holder = link.fleet.owner
        slot = link.slot.slot
        args = ("fleet", "status", "--fleet", redis_url, "--namespace", fleet_namespace)
        code, out, err = await _cli(*args, "--json")
        assert code == 0, err
        data = json.loads(out)
        (lane,) = [x for x in data["lanes"] if int(x["key"]) == funded_account.api_key_index]
        assert lane["holder"] == holder and str(lane["account"]) == str(acc)
        assert [s["slot"] for s in data["slots"] if s["holder"] == holder] == [slot]
        used = {w["scope"]: w["used"] for w in data["windows"]}
        assert used and all(v >= 1 for v in used.values()), data["windows"]
        code, out, err = await _cli(*args)
        assert code == 0, err
        assert "API-key lanes" in out and holder[:20] in out and "COI slots" in out
        assert "Budget" in out
    code, out, err = await _cli("fleet", "status", "--fleet", "redis://127.0.0.1:9", "--wait", "1")
    assert code == 2 and "cannot reach the fleet server" in err and err.count("\n") == 1
