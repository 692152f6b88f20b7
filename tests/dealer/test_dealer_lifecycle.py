"""LighterDealer against the local node over loopback: nonces, faults and rate limits, lifecycle,
config, logging, COI allocation and order options, with the node's state after each step."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from _helpers import config_for, eventually, make_dealer, node_nonce
from lighterfast import LighterDealer
from lighterfast.apps.cli import _node_config
from lighterfast.core import WeightLimiter
from lighterfast.dealer import (
    COI_EPOCH_S,
    COI_PER_SECOND,
    COI_SLOT_BITS,
    NONCE_RESYNC_DELAYS_S,
    CoiAllocator,
)
from lighterfast.errors import ConfigError, LighterError, OrderNotFoundByCoi
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo

pytestmark = pytest.mark.timeout(60)


# --- nonces, faults and rate limits -------------------------------------------------------------


async def test_invalid_nonce_resyncs_and_resends(node: LocalNode, funded_account: Any) -> None:
    acc = funded_account.account_index
    async with (
        await make_dealer(node, funded_account) as first,
        # "localhost": the node under another name, so a lane of its own (as in another process)
        await make_dealer(
            node,
            funded_account,
            use_ws=False,
            base_url=node.base_url.replace("127.0.0.1", "localhost"),
        ) as second,
    ):
        await first.create_limit_order(3000.0, 0.01)
        await first.flush()
        await second.create_limit_order(3001.0, 0.01)
        await second.flush()  # second's lane starts at nextNonce = 1
        await first.create_limit_order(3002.0, 0.01)
        results = await first.flush()  # first still believes 1: 21104, resync to 2, resend
        assert results[0]["accepted"] and results[0]["nonce"] == 2
        assert first.stats["nonce_resyncs"] == 1
        assert node_nonce(node, funded_account) == 3
        # injected invalid nonce (nothing moved on the node): same nonce re-signed, accepted
        node.faults.force_next_tx_error(21104)
        coi = (await second.create_limit_order(2999.0, 0.01))["client_order_index"]
        results = await second.flush()
        assert results[0]["accepted"] and results[0]["nonce"] == 3
        assert second.stats["nonce_resyncs"] == 1
        await eventually(lambda: node.state.order_by_coi(acc, coi))
        # invalid nonce twice in a row (a lagging nextNonce): resynced again after a short
        # wait, then accepted with the same nonce (a 21104 consumed nothing)
        node.faults.force_next_tx_error(21104)
        node.faults.force_next_tx_error(21104)
        await second.create_limit_order(2998.5, 0.01)
        results = await second.flush()
        assert results[0]["accepted"] and results[0]["nonce"] == 4
        assert second.stats["nonce_resyncs"] == 3
        assert node_nonce(node, funded_account) == 5
        # invalid nonce on every attempt: reported after the bounded retries, nothing consumed
        for _ in range(1 + len(NONCE_RESYNC_DELAYS_S)):
            node.faults.force_next_tx_error(21104)
        await second.create_limit_order(2998.0, 0.01)
        results = await second.flush()
        assert not results[0]["accepted"] and results[0]["code"] == 21104
        assert not node.faults.forced_tx_errors  # every attempt reached the node
        assert node_nonce(node, funded_account) == 5


@pytest.mark.parametrize("use_ws", [True, False], ids=["ws", "rest"])
async def test_rejections_roll_back_and_429_is_retried(
    node: LocalNode, funded_account: Any, use_ws: bool
) -> None:
    # the Go signer: a native one switches to it and re-signs on 21120 (test_signer_fallback)
    async with await make_dealer(node, funded_account, use_ws=use_ws, signer="sdk") as dealer:
        node.faults.force_next_tx_error(21120)  # invalid signature: nothing consumed
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        results = await dealer.flush()
        assert not results[0]["accepted"] and results[0]["code"] == 21120
        assert "invalid signature" in results[0]["message"]
        with pytest.raises(OrderNotFoundByCoi, match="rejected"):
            await dealer.cancel_order_by_coi(coi)  # a refused create never existed
        node.faults.force_rate_limit()  # one 429: backed off, same signed batch resent
        await dealer.create_limit_order(3000.0, 0.01)
        results = await dealer.flush()
        assert results[0]["accepted"] and results[0]["nonce"] == 0  # the rolled-back nonce
        assert node_nonce(node, funded_account) == 1
        if not use_ws:
            assert dealer._rest.rate_limited_replies == 1


async def test_limiter_waits_instead_of_429(node: LocalNode, funded_account: Any) -> None:
    dealer = await make_dealer(node, funded_account, use_ws=False)
    async with dealer:
        limiter = WeightLimiter(12, window=0.4)  # two weight-6 requests per 0.4 s
        dealer.limiter = limiter
        dealer._rest.limiter = limiter
        dealer._rest.tx_limiter = limiter
        for i in range(3):
            await dealer.create_limit_order(2000 + i, 0.01)
            assert (await dealer.flush())[0]["accepted"]
        assert dealer._rest.limiter_waits >= 1
        assert dealer._rest.rate_limited_replies == 0
    assert node_nonce(node, funded_account) == 3


async def test_requests_are_counted_by_the_limiter(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account, standard_account=True) as dealer:
        assert dealer.limiter.capacity == 60
        start = dealer.limiter.available()
        await dealer.create_limit_order(3000.0, 0.01)
        await dealer.flush()  # nextNonce + sendTxBatch
        await dealer.fetch_my_balance()
        assert dealer.limiter.available() == start - 3
    async with await make_dealer(node, funded_account, standard_account=False) as dealer:
        assert dealer.limiter.capacity == 24000
        start = dealer.limiter.available()
        await dealer.fetch_open_orders()  # weight 300; the auth token is local (free)
        assert dealer.limiter.available() == start - 300
        tx_start = dealer._rest.tx_limiter.available()
        await dealer.create_limit_order(3000.0, 0.01)
        await dealer.flush()  # nextNonce (reads, 6) + sendTxBatch (own tx budget, 6)
        assert dealer.limiter.available() == start - 306
        assert dealer._rest.tx_limiter.available() == tx_start - 6


# --- lifecycle, config, logging ------------------------------------------------------------------


async def test_aclose_flushes_and_is_idempotent(node: LocalNode, funded_account: Any) -> None:
    dealer = await make_dealer(node, funded_account)
    coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
    await dealer.aclose()
    await dealer.aclose()
    await eventually(lambda: node.state.order_by_coi(funded_account.account_index, coi))
    with pytest.raises(LighterError, match="closed"):
        await dealer.create_limit_order(3000.0, 0.01)


async def test_aclose_leaves_no_tasks_threads_or_sockets(
    node: LocalNode, funded_account: Any
) -> None:
    import threading

    def own_tasks() -> set[asyncio.Task[Any]]:
        return {
            t
            for t in asyncio.all_tasks() - before
            if not t.done()
            and "testnode" not in repr(t.get_coro())
            and "aiohttp" not in repr(t.get_coro())
        }

    def own_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("lighterfast")]

    before = asyncio.all_tasks()
    threads = own_threads()
    dealer = await make_dealer(node, funded_account)  # WebSocket + REST + signer worker
    assert dealer._ws is not None and dealer._ws.connected
    await dealer.create_limit_order(3000.0, 0.01)
    await dealer.fetch_open_orders()  # makes the auth token provider too
    assert len(own_threads()) > len(threads)
    await dealer.aclose()
    for _ in range(100):
        if not own_tasks() and own_threads() == threads:
            break
        await asyncio.sleep(0.01)
    assert not own_tasks(), own_tasks()
    assert own_threads() == threads  # the signer worker is gone
    assert dealer._ws is None and dealer._rest._session is None


async def test_from_config_file(node: LocalNode, funded_account: Any, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    config = orjson.dumps(_node_config(node, [funded_account])).decode()
    path.write_text("// written by `lighterfast node --write-config`\n" + config)
    async with await LighterDealer.from_config(
        path, symbol="BTC", standard_account=False
    ) as dealer:
        assert dealer.market.market_index == 1
        await dealer.create_limit_order(60000.5, 0.001)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: len(node.state.orders) == 1)
        order = next(iter(node.state.orders.values()))
        assert order["market_index"] == 1 and order["base_price"] == 600005


async def test_logging_previews_without_secrets(
    node: LocalNode, funded_account: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="LighterDealer")
    async with await make_dealer(node, funded_account) as dealer:
        await dealer.create_limit_order(3000.0, 0.01)
        results = await dealer.flush()
        await dealer.fetch_open_orders()
        token = await dealer._auth.get()
        text = repr(dealer) + repr(dealer.config) + repr(dealer._signer)
    previews = [r for r in caplog.records if r.name == "LighterDealer.tx"]
    assert previews and '"Sig":"<redacted>"' in previews[0].getMessage()
    everything = caplog.text + text + str(results)
    assert funded_account.private_key not in everything
    assert funded_account.private_key.removeprefix("0x") not in everything
    assert token not in everything and token.rsplit(":", 1)[1] not in everything


async def test_interop_logger_object(node: LocalNode, funded_account: Any) -> None:
    class Notify:  # like wrappy's Log/Notify: plain methods taking one string
        def __init__(self) -> None:
            self.lines: list[str] = []

        def debug(self, msg: str) -> None:
            self.lines.append("D " + msg)

        def info(self, msg: str) -> None:
            self.lines.append("I " + msg)

        def warning(self, msg: str) -> None:
            self.lines.append("W " + msg)

        def error(self, msg: str) -> None:
            self.lines.append("E " + msg)

        def exception(self, msg: str) -> None:
            self.lines.append("X " + msg)

    notify = Notify()
    async with await make_dealer(node, funded_account, logger=notify) as dealer:
        await dealer.create_limit_order(3000.0, 0.01)
        await dealer.flush()
    assert any(line.startswith("I dealer ready") for line in notify.lines)
    assert any("tx_type=14" in line for line in notify.lines)
    assert all(funded_account.private_key not in line for line in notify.lines)
    with pytest.raises(TypeError, match="logger"):
        await make_dealer(node, funded_account, logger=object())


def test_coi_allocator_unique_monotonic_and_restart_safe() -> None:
    clock = [COI_EPOCH_S + 86_400 * 700]
    alloc = CoiAllocator(lambda: clock[0])
    cois = [alloc.next() for _ in range(5000)]  # more than one second's 1024 COIs
    assert cois == sorted(set(cois))
    # borrowed from the next second, still monotonic
    assert cois[-1] - cois[0] == 4999 << COI_SLOT_BITS
    clock[0] += 5  # a restart 5 s later (past the 4.9 s lead) starts above everything issued
    restarted = CoiAllocator(lambda: clock[0])
    first = restarted.next()
    assert first > cois[-1] and first >> COI_SLOT_BITS == (clock[0] - COI_EPOCH_S) * COI_PER_SECOND


def test_coi_allocator_restart_within_the_same_second() -> None:
    second = COI_EPOCH_S + 86_400 * 3650
    first_run = CoiAllocator(lambda: second + 0.100)
    issued = [first_run.next() for _ in range(100)]  # 100 COIs: 98 ms ahead of the clock
    restarted = CoiAllocator(lambda: second + 0.400)  # back 300 ms later, same second
    assert restarted.next() > issued[-1]


def test_coi_allocator_two_processes_one_after_another() -> None:
    """Two real processes on the wall clock, the second started after the first exited."""
    import subprocess
    import sys

    script = (
        "from lighterfast.dealer import CoiAllocator\n"
        "a = CoiAllocator()\n"
        "print(*[a.next() for _ in range(20)])\n"
    )
    runs = [
        [
            int(x)
            for x in subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout.split()
        ]
        for _ in range(2)
    ]
    assert runs[0] == sorted(set(runs[0])) and runs[1] == sorted(set(runs[1]))
    assert runs[1][0] > runs[0][-1]
    assert 2**43 < runs[0][0] < 2**48  # the partitioned band (dealer/coi.py)


def test_coi_allocators_made_one_after_another_never_collide() -> None:
    a = CoiAllocator()
    issued = [a.next() for _ in range(3)]
    b = CoiAllocator()  # same process, same second: the shared high-water mark keeps order
    issued += [b.next() for _ in range(3)]
    issued += [a.next()]
    assert issued == sorted(set(issued))
    # the partitioned band (dealer/coi.py): above the old < 2^39 band, below 2^48 until 2059
    assert 2**43 < issued[0] < issued[-1] < 2**48


def test_coi_allocator_counter_mode_and_bad_start() -> None:
    alloc = CoiAllocator(start=1000)
    assert [alloc.next() for _ in range(3)] == [1000, 1001, 1002]
    top = CoiAllocator(start=2**48 - 1)
    assert top.next() == 2**48 - 1
    with pytest.raises(LighterError, match="coi_start too high"):
        top.next()
    for bad in (0, 2**48, True, "7", 1.5):
        with pytest.raises((TypeError, ValueError)):
            CoiAllocator(start=bad)  # type: ignore[arg-type]


async def test_coi_start_and_coi_allocator_config(node: LocalNode, funded_account: Any) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, coi_start=77_000) as dealer:
        cois = [
            (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"] for _ in range(2)
        ]
        assert cois == [77_000, 77_001]
        results = await dealer.flush()
        assert all(r["accepted"] for r in results)
        await eventually(lambda: node.state.order_by_coi(acc, 77_001))
    fixed = iter([91_001, 0])
    async with await make_dealer(node, funded_account, coi_allocator=lambda: next(fixed)) as d:
        assert (await d.create_limit_order(3000.0, 0.01))["client_order_index"] == 91_001
        with pytest.raises(ValueError, match="client_order_index"):
            await d.create_limit_order(3000.0, 0.01)  # allocator gave 0: refused, not queued
        assert d.queued == 1
    with pytest.raises(ConfigError, match="coi_start"):
        config_for(node, funded_account, coi_start=0)
    with pytest.raises(ConfigError, match="coi_allocator"):
        config_for(node, funded_account, coi_allocator=12)


# --- order options and price sources -----------------------------------------------------------


async def test_limit_order_options_reach_the_node(node: LocalNode, funded_account: Any) -> None:
    import time

    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        resting = (await dealer.create_limit_order(3000.0, -0.01))["client_order_index"]
        await dealer.flush()
        await eventually(lambda: node.state.order_by_coi(acc, resting))
        # post-only that would cross the resting ask: canceled-post-only on the node
        po = await dealer.create_limit_order(3001.0, 0.01, post_only=True)
        assert po["time_in_force"] == "post-only"
        # IOC far from the book: nothing rests
        ioc = await dealer.create_limit_order(1000.0, 0.01, time_in_force="ioc")
        assert ioc["time_in_force"] == "immediate-or-cancel"
        # reduce-only buy without a position: refused at execution
        ro = await dealer.create_limit_order(1001.0, 0.01, reduce_only=True)
        expiry = int(time.time() * 1000) + 3_600_000
        gtt = await dealer.create_limit_order(1002.0, 0.01, expiry=expiry)
        results = await dealer.flush()
        assert all(r["accepted"] for r in results)
        coi = {k: v["client_order_index"] for k, v in (("po", po), ("ioc", ioc), ("ro", ro))}
        await eventually(lambda: node.state.order_by_coi(acc, gtt["client_order_index"]))
        await eventually(
            lambda: (
                node.state.order_by_coi(acc, coi["po"])
                and node.state.order_by_coi(acc, coi["po"])["status"] == "canceled-post-only"
            )
        )
        assert node.state.order_by_coi(acc, gtt["client_order_index"])["order_expiry"] == expiry
        live = {o["client_order_index"] for o in node.state.orders.values()}
        assert live == {resting, gtt["client_order_index"]}
        ro_order = node.state.order_by_coi(acc, coi["ro"])
        assert ro_order is None or ro_order["status"].startswith("canceled")

        with pytest.raises(ValueError, match="expiry"):
            await dealer.create_limit_order(1000.0, 0.01, expiry=int(time.time() * 1000))
        with pytest.raises(ValueError, match="time_in_force"):
            await dealer.create_limit_order(1000.0, 0.01, time_in_force="fok")
        with pytest.raises(ValueError, match="post_only"):
            await dealer.create_limit_order(1000.0, 0.01, post_only=True, time_in_force="ioc")
        with pytest.raises(ValueError, match="expiry"):
            await dealer.create_limit_order(1000.0, 0.01, time_in_force="ioc", expiry=expiry)
        assert dealer.queued == 0


async def test_market_order_price_from_a_wsinfo_book(node: LocalNode) -> None:

    maker = await node.create_account(collateral=1_000_000)
    taker = await node.create_account(collateral=1_000_000)
    ws = await WsInfo.run_overlay(
        taker.account_index,
        taker.api_key_index,
        taker.private_key,
        market_id=0,
        base_url=node.base_url,
        order_book=True,
    )
    try:
        async with (
            await make_dealer(node, maker) as mdealer,
            await make_dealer(node, taker, price_source=ws, market_slippage=0.02) as tdealer,
        ):
            await mdealer.create_limit_order(3100.0, -0.02)
            await mdealer.flush()
            await eventually(
                lambda: (ws.get_order_book(0) or None) and ws.get_order_book(0).best_ask()
            )
            requests_before = tdealer._rest.requests_sent
            res = await tdealer.create_market_order(0.01)
            assert res["price"] == pytest.approx(3100.0 * 1.02, abs=0.01)
            assert tdealer._rest.requests_sent == requests_before  # no REST read needed
            await tdealer.flush()
            await eventually(
                lambda: node.state.positions.get((taker.account_index, 0), {}).get("size") == 100
            )
    finally:
        await ws.aclose()


async def test_take_nonce_goes_through_the_limiter(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account, standard_account=True) as dealer:
        before = dealer.limiter.available()
        key, nonce = await dealer._take_nonce()
        assert (key, nonce) == (funded_account.api_key_index, 0)
        assert dealer.limiter.available() == before - 1  # one nextNonce, counted
        assert await dealer._take_nonce() == (key, 1)  # then local
        assert dealer.limiter.available() == before - 1


async def test_lost_reply_is_unknown_and_the_lane_resyncs(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, request_timeout=0.5) as dealer:
        node.faults.stall(True)  # the node accepts the tx but its reply never arrives
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        results = await dealer.flush()
        assert results[0]["status"] == "unknown" and not results[0]["accepted"]
        assert not dealer._nonces.lanes[funded_account.api_key_index].synced
        node.faults.stall(False)
        await eventually(lambda: node.state.order_by_coi(acc, coi))  # it did get accepted
        assert dealer.get_order_by_coi(coi)["status"] == "unknown"
        await dealer.cancel_order_by_coi(coi)  # still addressable by COI
        results = await dealer.flush()
        assert results[0]["accepted"] and results[0]["nonce"] == 1  # asked the node: no reuse
        await eventually(lambda: node.state.order_by_coi(acc, coi)["status"] == "canceled")


async def test_rest_transport_failure_is_a_lighter_error() -> None:
    from lighterfast.transport.rest import RestClient

    rest = RestClient("http://127.0.0.1:9", limiter=WeightLimiter(60), timeout=2.0)
    try:
        with pytest.raises(LighterError, match="GET nextNonce"):
            await rest.next_nonce(1, 4)
        assert rest.limiter.available() == 59  # the attempt was counted
    finally:
        await rest.close()
        await rest.close()
    with pytest.raises(LighterError, match="closed"):
        await rest.get("orderBooks")


async def test_socket_drop_falls_back_to_rest_then_reconnects(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        await dealer.create_limit_order(3000.0, 0.01)
        assert (await dealer.flush())[0]["accepted"]
        sent_before = dealer._rest.requests_sent
        await node.faults.close_all(1011)
        await eventually(lambda: not dealer._ws.connected, timeout=2.0)
        coi = (await dealer.create_limit_order(3001.0, 0.01))["client_order_index"]
        results = await dealer.flush()  # socket down: REST sendTxBatch
        assert results[0]["accepted"] and results[0]["nonce"] == 1
        assert dealer._rest.requests_sent == sent_before + 1
        await eventually(lambda: node.state.order_by_coi(acc, coi))
        await eventually(lambda: dealer._ws.connected, timeout=5.0)
        await dealer.create_limit_order(3002.0, 0.01)
        assert (await dealer.flush())[0]["accepted"]  # back on the socket
        assert dealer._rest.requests_sent == sent_before + 1


async def test_aclose_waits_for_a_flush_in_flight(node: LocalNode, funded_account: Any) -> None:
    dealer = await make_dealer(node, funded_account)
    for i in range(20):
        await dealer.create_limit_order(2000 + i, 0.01)
    flushing = asyncio.create_task(dealer.flush())
    await asyncio.sleep(0)
    await dealer.aclose()
    results = await flushing
    assert len(results) == 20 and all(r["accepted"] for r in results)
    assert node_nonce(node, funded_account) == 20


async def test_nested_batches_flush_once(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        async with dealer.batch():
            await dealer.create_limit_order(2000.0, 0.01)
            async with dealer.batch():
                await dealer.create_limit_order(2001.0, 0.01)
            assert dealer.stats["sent_batches"] == 0
        assert dealer.stats["sent_batches"] == 1
        assert len(dealer.last_batch_results) == 2


async def test_flush_cancelled_mid_send_resyncs(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        await dealer.create_limit_order(3000.0, 0.01)
        assert (await dealer.flush())[0]["nonce"] == 0
        node.faults.stall(True)
        await dealer.create_limit_order(3001.0, 0.01)
        task = asyncio.create_task(dealer.flush())
        await eventually(lambda: node_nonce(node, funded_account) == 2)  # node accepted it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        node.faults.stall(False)
        assert not dealer._nonces.lanes[funded_account.api_key_index].synced
        await dealer.create_limit_order(3002.0, 0.01)
        results = await dealer.flush()
        assert results[0]["accepted"] and results[0]["nonce"] == 2  # no nonce reused


async def test_from_config_environment_only(
    node: LocalNode, funded_account: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIGHTER_BASE_URL", node.base_url)
    monkeypatch.setenv("LIGHTER_ACCOUNT_INDEX", str(funded_account.account_index))
    monkeypatch.setenv("LIGHTER_API_KEY_INDEX", str(funded_account.api_key_index))
    monkeypatch.setenv("LIGHTER_API_KEY", funded_account.private_key)
    async with await LighterDealer.from_config(
        tmp_path / "absent.json", symbol="SOL", standard_account=False, use_ws=False
    ) as dealer:
        assert dealer.market.market_index == 2 and dealer._ws is None
        await dealer.create_limit_order("150.125", 1)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: len(node.state.orders) == 1)
        order = next(iter(node.state.orders.values()))
        assert (order["market_index"], order["base_price"], order["base_size"]) == (2, 150125, 1000)
