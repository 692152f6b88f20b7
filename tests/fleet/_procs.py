"""Bot processes for the fleet tests: `python _procs.py '<json>'` runs one OS process with a
dealer per symbol on one account and a fleet, each bot sending one resting order per flush
until its deadline, and prints one JSON line per result as it comes (so a parent that kills
the process knows what it saw accepted), then {"done": …}.

`spawn(args)` starts one; `read_lines(proc)` parses what it printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ORDERS = {"ETH": ("2000.00", "0.0050"), "BTC": ("40000.0", "0.00030"), "SOL": ("100.000", "0.120")}


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _dealers(args: dict[str, Any]) -> list[Any]:
    from lighterfast import LighterDealer
    from lighterfast.errors import FleetError

    keys = {int(k): v for k, v in args["keys"].items()}
    deadline = time.monotonic() + float(args.get("lease_wait_s", 0))
    while True:  # a replacement waits for the dead holder's leases to expire
        try:
            first = await LighterDealer.from_config(
                None,
                symbol=args["symbols"][0],
                base_url=args["base_url"],
                account_index=args["account"],
                api_keys=keys,
                fleet=args["fleet"],
                use_ws=False,
                standard_account=True,
                rate_limit_per_minute=args["capacity"],
                jitter_ms=(0, 1),
            )
            break
        except FleetError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)
    # The lease as taken (a later re-lease, after a server restart, starts a new count).
    args["_epochs"] = {str(lease.key): lease.epoch for lease in first._fleet_link.lanes}
    dealers = [first]
    for symbol in args["symbols"][1:]:
        dealers.append(
            await LighterDealer.from_config(
                None,
                symbol=symbol,
                base_url=args["base_url"],
                account_index=args["account"],
                api_keys=keys,
                fleet=args["fleet"],
                use_ws=False,
                standard_account=True,
                rate_limit_per_minute=args["capacity"],
                jitter_ms=(0, 1),
            )
        )
    return dealers


async def _bot(dealer: Any, until: float) -> None:
    price, size = ORDERS[dealer.market.symbol]
    while time.time() < until:
        await dealer.create_limit_order(price, size)
        for r in await dealer.flush():
            emit(
                {
                    "s": r["status"],
                    "coi": r["client_order_index"],
                    "k": r["api_key_index"],
                    "n": r["nonce"],
                    "code": r["code"],
                    "m": str(r["message"])[:120],
                    "t": time.time(),
                }
            )


def _trace_grants() -> list[tuple[float, int]]:
    """$LIGHTERFAST_FLEET_TRACE: every weight the fleet budget grants, with its wall time."""
    from lighterfast.dealer import fleet_link

    grants: list[tuple[float, int]] = []
    cls = fleet_link.FleetLimiter
    fast, slow = cls.try_acquire, cls.acquire_async

    def try_acquire(self: Any, weight: int = 1) -> bool:
        ok = fast(self, weight)
        if ok:
            grants.append((time.time(), weight))
        return ok

    async def acquire_async(self: Any, weight: int) -> None:
        await slow(self, weight)
        grants.append((time.time(), weight))

    cls.try_acquire = try_acquire  # type: ignore[method-assign]
    cls.acquire_async = acquire_async  # type: ignore[method-assign]
    return grants


async def main(args: dict[str, Any]) -> None:
    grants = _trace_grants() if os.environ.get("LIGHTERFAST_FLEET_TRACE") else None
    dealers = await _dealers(args)
    link = dealers[0]._fleet_link
    emit(
        {
            "ready": True,
            "pid": os.getpid(),
            "keys": dealers[0]._nonces.api_key_indices,
            "slot": link.slot.slot,
            "epochs": args["_epochs"],
            "t": time.time(),
        }
    )
    until = float(args["until"])
    try:
        await asyncio.gather(*(_bot(d, until) for d in dealers))
    finally:
        stats = [dict(d.stats) for d in dealers]
        limited = sum(d._rest.rate_limited_replies for d in dealers)
        for d in dealers:
            await d.aclose()
        budget = link.budget
        done: dict[str, Any] = {
            "done": True,
            "stats": stats,
            "rate_limited": limited,
            "margin": budget.margin if budget is not None else None,
        }
        if grants is not None:
            done["grants"] = grants
        emit(done)


def spawn(args: dict[str, Any], env: dict[str, str]) -> subprocess.Popen[str]:
    """One bot process (stdout: JSON lines)."""
    full = {**os.environ, **env}
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
    )


def parse(stdout: str) -> list[dict[str, Any]]:
    """The JSON lines a bot process printed (a line cut by a kill is dropped)."""
    out = []
    for line in stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
