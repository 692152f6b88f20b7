"""The `lighterfast` command: `lighterfast node ...` (local Lighter node); more subcommands plug in.

Each subcommand is one `_add_<name>(subparsers)` function that registers its parser and sets
`func`; `demo` and `bench` are added the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_NODE_PORT = 8780


def _node_config(node: Any, accounts: Sequence[Any]) -> dict[str, Any]:
    """config.json in the seed's format for the first account; all accounts under LocalNode."""

    def section(dev: Any) -> dict[str, Any]:
        return {
            "base_url": node.base_url,
            "account_index": dev.account_index,
            "api_keys": [
                {"api_key_index": dev.api_key_index, "api_key_private_key": dev.private_key}
            ],
        }

    out: dict[str, Any] = {}
    if accounts:
        out["Lighter"] = section(accounts[0])
    out["LocalNode"] = {
        "base_url": node.base_url,
        "ws_url": node.ws_url,
        "chain_id": node.chain_id,
        "accounts": [section(d) for d in accounts],
    }
    return out


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by the owner only (it holds API private keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


async def _run_node(args: argparse.Namespace) -> int:
    from lighterfast.testnode import DEFAULT_MARKETS, LocalNode
    from lighterfast.testnode.markets import parse_markets_arg

    markets = parse_markets_arg(args.markets) if args.markets else DEFAULT_MARKETS
    latency: Any = args.latency
    with contextlib.suppress(ValueError):
        latency = float(args.latency)
    node = LocalNode(
        args.host,
        args.port,
        chain_id=args.chain_id,
        markets=markets,
        exec_latency_ms=latency,
        book_tick_ms=args.book_tick_ms,
        batch_cap=args.batch_cap,
        house_liquidity_levels=args.house_liquidity,
        tx_hash_mode=args.tx_hash,
        simulate_flow=args.simulate_flow,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await node.start()
    try:
        accounts = [
            await node.create_account(collateral=args.collateral) for _ in range(args.accounts)
        ]
        print(f"lighterfast local node (chain id {node.chain_id})", flush=True)
        print(f"  REST       {node.base_url}", flush=True)
        print(f"  WebSocket  {node.ws_url}", flush=True)
        for spec in node.markets:
            print(
                f"  market {spec.market_index}: {spec.symbol} "
                f"(size decimals {spec.size_decimals}, price decimals {spec.price_decimals})",
                flush=True,
            )
        for dev in accounts:
            print(
                f"  account {dev.account_index}  api key {dev.api_key_index}  "
                f"collateral {args.collateral} USDC",
                flush=True,
            )
        if args.write_config:
            _write_private(Path(args.write_config), _node_config(node, accounts))
            print(f"  config     {args.write_config}", flush=True)
        if args.simulate_flow:
            print("  flow       simulated maker/taker activity on every market", flush=True)
        print("ready (Ctrl-C to stop)", flush=True)
        if args.duration is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
        else:
            await stop.wait()
    finally:
        await node.stop()
    print("stopped", flush=True)
    return 0


def _run(coro: Any) -> Any:
    """Run a coroutine on uvloop when it is installed (the project's loop), else asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.run(coro)
    return uvloop.run(coro)


def _add_node(sub: Any) -> None:
    p = sub.add_parser("node", help="run a local Lighter node (REST + WebSocket) in the foreground")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    p.add_argument("--port", type=int, default=DEFAULT_NODE_PORT, help="port (0 = any free)")
    p.add_argument("--accounts", type=int, default=0, help="dev accounts to create at start")
    p.add_argument("--collateral", type=float, default=100_000, help="USDC per dev account")
    p.add_argument("--write-config", metavar="PATH", help="write a config.json for the accounts")
    p.add_argument(
        "--simulate-flow", action="store_true", help="house maker/taker activity on every market"
    )
    p.add_argument(
        "--markets", default="", help="SYMBOL:SIZE_DEC:PRICE_DEC list, e.g. ETH:4:2,BTC:5:1"
    )
    p.add_argument("--chain-id", type=int, default=304)
    p.add_argument(
        "--latency",
        default="standard",
        help="execution latency: tier name (standard, premium, plus, zero) or milliseconds",
    )
    p.add_argument("--book-tick-ms", type=float, default=50.0)
    p.add_argument("--batch-cap", type=int, default=15)
    p.add_argument(
        "--house-liquidity",
        type=int,
        default=0,
        help="resting levels per side from a house account",
    )
    p.add_argument(
        "--tx-hash",
        choices=("signer", "fast"),
        default="signer",
        help="signer: the real signed hash (as the venue); fast: a stand-in for benchmarks",
    )
    p.add_argument("--duration", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=lambda a: _run(_run_node(a)))


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="lighterfast", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_node(sub)
    # Further subcommands (demo, bench) register here with their own _add_<name>(sub).
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lighterfast` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        print(f"lighterfast {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
