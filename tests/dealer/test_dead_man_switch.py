"""The dead-man switch on the local node: a bot process SIGKILLed with orders resting has them
canceled by the node at its scheduled time (not before); leaving the block or closing the
dealer aborts the schedule; renewals go on across a node restart; bad timeouts send nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from typing import Any

import pytest

from _helpers import eventually, make_dealer, node_nonce
from lighterfast import protocol as p
from lighterfast.errors import TxRejected
from lighterfast.testnode import DevAccount, LocalNode

BOT = """
import asyncio, os, sys
from lighterfast import DealerConfig, LighterDealer

async def main() -> None:
    cfg = DealerConfig(
        base_url=os.environ["LF_URL"], account_index=int(os.environ["LF_ACCOUNT"]),
        api_key_index=int(os.environ["LF_KEY"]), api_key_private_key=os.environ["LF_SECRET"],
        symbol="ETH", standard_account=False,
    )
    dealer = await LighterDealer.create(cfg)
    a = await dealer.create_limit_order(2000, 0.01)
    b = await dealer.create_limit_order(4000, -0.01)
    results = await dealer.flush()
    assert all(r["status"] == "accepted" for r in results), results
    switch = await dealer.dead_man_switch(float(os.environ["LF_TIMEOUT"]))
    print("READY", a["client_order_index"], b["client_order_index"], switch.deadline_ms, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def acct_of(node: LocalNode, acct: DevAccount) -> Any:
    return node.accounts.accounts[acct.account_index]


def node_order(node: LocalNode, acct: DevAccount, coi: int) -> dict[str, Any]:
    found = node.state.order_by_coi(acct.account_index, coi)
    assert found is not None
    return found


async def test_killed_bot_orders_canceled_on_time(
    node: LocalNode, funded_account: DevAccount
) -> None:
    node.engine.cancel_all_min_delay_ms = 500
    env = dict(
        os.environ,
        LF_URL=node.base_url,
        LF_ACCOUNT=str(funded_account.account_index),
        LF_KEY=str(funded_account.api_key_index),
        LF_SECRET=funded_account.private_key,
        LF_TIMEOUT="3",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
        assert line[:1] == ["READY"], line
        cois, first = [int(line[1]), int(line[2])], int(line[3])
        acct = acct_of(node, funded_account)
        await eventually(lambda: acct.cancel_all_time > first, timeout=10)  # one renewal seen
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        killed_ms = int(time.time() * 1000)
        scheduled = acct.cancel_all_time
        assert scheduled > killed_ms  # the switch was live when the bot died
        for coi in cois:
            assert node_order(node, funded_account, coi)["status"] == "open"  # not before
        await eventually(
            lambda: all(
                node_order(node, funded_account, c)["status"] == p.STATUS_CANCELED for c in cois
            ),
            timeout=15,
        )
        for coi in cois:  # canceled by the schedule, at or after its time
            assert node_order(node, funded_account, coi)["transaction_time"] // 1000 >= scheduled
        assert acct.cancel_all_time == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_block_exit_aborts_and_orders_stay(
    node: LocalNode, funded_account: DevAccount
) -> None:
    node.engine.cancel_all_min_delay_ms = 500
    acct = acct_of(node, funded_account)
    async with await make_dealer(node, funded_account) as d:
        order = await d.create_limit_order(2000, 0.01)
        await d.flush()
        async with d.dead_man_switch(1.5) as switch:
            assert switch.active and switch.renewals == 1
            first = switch.deadline_ms
            await eventually(lambda: acct.cancel_all_time == first)
            await eventually(lambda: switch.renewals >= 3, timeout=10)
            assert acct.cancel_all_time >= first
        assert not switch.active
        await eventually(lambda: acct.cancel_all_time == 0)
        await asyncio.sleep(2)  # past the last schedule: nothing fires
        assert node_order(node, funded_account, order["client_order_index"])["status"] == "open"


async def test_aclose_aborts_the_schedule(node: LocalNode, funded_account: DevAccount) -> None:
    acct = acct_of(node, funded_account)
    d = await make_dealer(node, funded_account)
    switch = await d.dead_man_switch(600)
    await eventually(lambda: acct.cancel_all_time == switch.deadline_ms)
    await d.aclose()
    assert not switch.active
    await eventually(lambda: acct.cancel_all_time == 0)


async def test_renewals_continue_across_node_restart(
    node: LocalNode, funded_account: DevAccount
) -> None:
    node.engine.cancel_all_min_delay_ms = 500
    acct = acct_of(node, funded_account)
    async with await make_dealer(node, funded_account) as d:
        order = await d.create_limit_order(2000, 0.01)
        await d.flush()
        async with d.dead_man_switch(3) as switch:
            await node.restart(down_s=0.3)
            before = switch.renewals
            await eventually(lambda: switch.renewals >= before + 2, timeout=15)
            assert acct.cancel_all_time == switch.deadline_ms
            assert node_order(node, funded_account, order["client_order_index"])["status"] == "open"
        await eventually(lambda: acct.cancel_all_time == 0)


async def test_a_new_switch_replaces_the_old(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        old = await d.dead_man_switch(600)
        new = await d.dead_man_switch(900)
        assert not old.active and new.active
        acct = acct_of(node, funded_account)
        await eventually(lambda: acct.cancel_all_time == new.deadline_ms)
        await new.stop()
        await eventually(lambda: acct.cancel_all_time == 0)


@pytest.mark.parametrize(
    ("timeout", "error", "match"),
    [
        (0, ValueError, "positive"),
        (-5, ValueError, "positive"),
        (float("nan"), ValueError, "positive"),
        (float("inf"), ValueError, "positive"),
        ("10", TypeError, "number"),
        (True, TypeError, "number"),
        (16 * 86_400, ValueError, "15 days"),
    ],
)
async def test_bad_timeouts_send_nothing(
    node: LocalNode, funded_account: DevAccount, timeout: Any, error: type, match: str
) -> None:
    async with await make_dealer(node, funded_account) as d:
        with pytest.raises(error, match=match):
            d.dead_man_switch(timeout)
    assert node_nonce(node, funded_account) == 0


async def test_venue_window_checked_before_sending(
    node: LocalNode, funded_account: DevAccount
) -> None:
    async with await make_dealer(node, funded_account) as d:
        local = d.config
        d.config = dataclasses.replace(local, base_url=p.MAINNET_URL)
        with pytest.raises(ValueError, match="300 s"):
            d.dead_man_switch(10)
        d.config = local
        with pytest.raises(TxRejected) as info:  # the local node's default window: 5 minutes
            await d.dead_man_switch(10)
        assert info.value.code == p.ERR_INVALID_CANCEL_ALL_TIME
        assert node_nonce(node, funded_account) == 0  # refused: nothing consumed
        assert d._dead_man_switch is None


async def test_timeout_equal_to_the_window_minimum_is_taken(
    node: LocalNode, funded_account: DevAccount
) -> None:
    node.engine.cancel_all_min_delay_ms = 2000  # like the venue's 300 s, scaled down
    async with await make_dealer(node, funded_account) as d:
        switch = await d.dead_man_switch(2)  # exactly the minimum: arrives inside it otherwise
        assert switch.renewals == 1
        await switch.stop()
