"""Seeded chaos run: three dealers (ETH, BTC, SOL) on one account's two API keys and one
WsInfo (orders and the three books) talk to the local node through the chaos proxy while
proxy faults (cut, reset, stall, half-open, slow, corrupt) and node faults (gap, duplicate,
stall, close codes, restart keeping state, forced 429 / 21104, reply-order inversion, lost
and late tx replies) are injected; then every invariant is checked against the node's state.

`LIGHTERFAST_CHAOS_SEED` (default 12) and `LIGHTERFAST_CHAOS_FAULTS` (default 240) choose
the run; the seed and the counts are printed at the end of the pytest run. A long run:
`LIGHTERFAST_CHAOS_FAULTS=2000 python3 -m pytest -q tests/chaos/test_chaos.py`.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import random
import threading
from collections import defaultdict
from typing import Any

import pytest

from _helpers import config_for, eventually
from chaos import invariants
from chaos.harness import Bot, Injector, Ledger, Settings
from chaos.proxy import ChaosProxy
from lighterfast import LighterDealer
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.ws import WsInfo

SETTINGS = Settings.from_env()
pytestmark = pytest.mark.timeout(180 + int(SETTINGS.faults * 0.5))

MARKETS = {"ETH": 0, "BTC": 1, "SOL": 2}
MIDS = {"ETH": 3000.0, "BTC": 60000.0, "SOL": 150.0}
REQUEST_TIMEOUT_S = 2.0  # the dealers' reply timeout: a blind wait costs this, not 10 s
SETTLE_S = 30.0  # bound of every wait after the faults stop (generous: never a timing claim)


def _resources() -> tuple[set[asyncio.Task[Any]], int, int]:
    gc.collect()
    return asyncio.all_tasks(), len(os.listdir("/proc/self/fd")), threading.active_count()


async def _dealers(node: LocalNode, url: str, acct: DevAccount) -> list[LighterDealer]:
    """One dealer per symbol, all on the account's two keys, sharing one nonce lane per key."""
    keys = {k.api_key_index: k.private_key for k in acct.keys}
    dealers: list[LighterDealer] = []
    for symbol in MARKETS:
        cfg = config_for(
            node,
            acct,
            base_url=url,
            symbol=symbol,
            api_key_index=None,
            api_key_private_key=None,
            api_keys=keys,
            request_timeout=REQUEST_TIMEOUT_S,
            jitter_ms=(0, 5),
        )
        # Dealers of one (node, account, key) share its nonce lane in a process by themselves.
        dealers.append(await LighterDealer.create(cfg))
    return dealers


def _route(ws: WsInfo, dealers: list[LighterDealer]) -> None:
    """WsInfo's order frames and resyncs go to the dealer of each order's market."""
    by_market = {d.market.market_index: d for d in dealers}

    def split(orders: Any) -> dict[int, list[Any]]:
        groups: dict[int, list[Any]] = defaultdict(list)
        for order in orders:
            groups[order.get("market_index")].append(order)
        return groups

    def on_orders(orders: Any) -> None:
        for m, group in split(orders).items():
            if m in by_market:
                by_market[m].feed_ws_orders(group)

    def on_resync(live: Any) -> None:
        groups = split(live)
        for m, dealer in by_market.items():
            dealer.resync_ws_orders(groups.get(m, []))

    ws.on_orders = on_orders
    ws.on_orders_resync = on_resync


async def _run(settings: Settings | None) -> dict[str, Any]:
    """One session on a fresh node; `settings=None` is the warm-up (no fault, one round)."""
    seed = 0 if settings is None else settings.seed
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    async with LocalNode(port=0, keys_per_account=2) as node:
        async with ChaosProxy(node.host, node.port, seed=rng.randrange(2**32)) as proxy:
            acct = await node.create_account(collateral=10_000_000)
            dealers = await _dealers(node, proxy.base_url, acct)
            ws = await WsInfo.run_overlay(
                acct.account_index,
                acct.api_key_index,
                acct.private_key,
                base_url=proxy.base_url,
                books=list(MARKETS.values()),
            )
            ledger = Ledger()
            bots = [
                Bot(d, MIDS[d.market.symbol], random.Random(rng.randrange(2**32)), ledger)
                for d in dealers
            ]
            injector = Injector(node, proxy, random.Random(rng.randrange(2**32)))
            for dealer in dealers:  # the final result of each unknown, where the client has one
                if hasattr(dealer, "on_resolved"):
                    dealer.on_resolved = functools.partial(ledger.resolved, dealer.market.symbol)
            try:
                _route(ws, dealers)
                if settings is None:
                    for bot in bots:
                        await bot.round()
                else:
                    stop = asyncio.Event()
                    tasks = [asyncio.ensure_future(bot.run(stop)) for bot in bots]
                    try:
                        await injector.run(settings.faults)
                    finally:
                        stop.set()
                        await asyncio.gather(*tasks)
                    injector.heal()
                    out = await _settle_and_check(node, acct, ledger, dealers, ws)
                    out.update(injector=injector, ledger=ledger, proxy=proxy.accepted)
            finally:
                injector.heal()
                for dealer in reversed(dealers):  # the sharing ones first
                    await dealer.aclose()
                await ws.aclose()
    return out


async def _settle_and_check(
    node: LocalNode,
    acct: DevAccount,
    ledger: Ledger,
    dealers: list[LighterDealer],
    ws: WsInfo,
) -> dict[str, Any]:
    """After the faults: let the node execute, force one resync, then check everything."""
    report = invariants.Report()
    for dealer in dealers:  # the client's resolution of unknown outcomes, where it has one
        resolve = getattr(dealer, "resolve", None)
        if resolve is not None:
            await resolve()
    try:
        await eventually(lambda: invariants.executed(node), timeout=SETTLE_S)
    except AssertionError:
        report.fail("node settles", "accepted txs still not executed")
    reconnects = ws.stats.reconnects
    await node.faults.close_all(1012, "final resync")
    try:
        await eventually(
            lambda: ws.stats.reconnects > reconnects and ws.connected, timeout=SETTLE_S
        )
    except AssertionError:
        report.fail(
            "one resync", f"WsInfo did not reconnect within {SETTLE_S} s of the node's close"
        )
    markets = list(MARKETS.values())

    def converged() -> bool:
        views = invariants.view_mismatches(node, acct.account_index, ledger, dealers, ws)
        books, _ = invariants.book_mismatches(node, ws, markets)
        return not views and not books

    try:
        await eventually(converged, timeout=SETTLE_S, step=0.1)
    except AssertionError:
        pass  # reported below, with details
    for line in invariants.view_mismatches(node, acct.account_index, ledger, dealers, ws):
        report.fail("dealer view = WsInfo cache = node", line)
    books, stale = invariants.book_mismatches(node, ws, markets)
    for line in books:
        report.fail("book = node's or stale", line)
    report.counts["stale_books"] = stale
    invariants.check_outcomes(node, acct.account_index, ledger, dealers, report)
    invariants.check_nonces(node, acct.account_index, ledger, report)
    for line in ledger.problems:
        report.fail("no blind wait", line)
    for what, n in ledger.errors.items():
        if what.startswith("flush raised"):
            report.fail("flush returns results", f"{what} ({n}x)")
    return {"report": report}


def _summary(settings: Settings, out: dict[str, Any], leaks: list[str]) -> str:
    report: invariants.Report = out["report"]
    injector: Injector = out["injector"]
    ledger: Ledger = out["ledger"]
    c = report.counts
    unknown = c["unknown"]
    bad = len(report.violations) + len(leaks)
    verdict = "invariants ok" if not bad else f"{bad} invariant violation(s)"
    if report.unresolved:
        verdict += f"; {len(report.unresolved)} unknown(s) never resolved"
    return (
        f"chaos seed={settings.seed} faults={injector.total} ({injector.by_kind()})"
        f" orders={c['orders']} accepted={c['accepted']} rejected={c['rejected']}"
        f" unknown→resolved={c['unknown_resolved']}/{unknown}"
        f" (landed {c['unknown_landed']}, not {c['unknown_not_landed']})"
        f" txs={c['accepted_txs']} node_txs={c['node_txs']} rounds={ledger.rounds}"
        f" connections={out['proxy']} stale_books={c['stale_books']}"
        f" resolutions=({', '.join(f'{k} {n}' for k, n in ledger.resolutions.items())})"
        f" {verdict}"
    )


async def test_chaos_invariants_hold(chaos_summary: list[str]) -> None:
    settings = SETTINGS
    await _run(None)  # warm-up: libraries, thread pools and caches that live for the process
    tasks_before, fds_before, threads_before = _resources()
    out = await _run(settings)
    leaks: list[str] = []

    def settled() -> bool:
        tasks, fds, threads = _resources()
        return tasks <= tasks_before and fds <= fds_before and threads <= threads_before

    try:
        await eventually(settled, timeout=SETTLE_S, step=0.2)
    except AssertionError:
        tasks, fds, threads = _resources()
        extra = sorted(t.get_name() for t in tasks - tasks_before)
        leaks.append(
            f"[no leak] tasks +{len(extra)} {extra[:5]}, fds {fds_before}->{fds},"
            f" threads {threads_before}->{threads}"
            f" {sorted(t.name for t in threading.enumerate())}"
        )
    line = _summary(settings, out, leaks)
    chaos_summary.append(line)
    report: invariants.Report = out["report"]
    problems = report.violations + leaks
    detail = "\n".join([line, *problems[:40], *report.unresolved[:20]])
    assert not problems, detail
