"""The `lighterfast` command: `node` (local Lighter node), `demo` (quoting bots), `bench`.

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
        nonce_window=args.nonce_window,
        next_nonce_mode=args.next_nonce,
        rate_limits=None if args.rate_limits == "off" else args.rate_limits,
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
        print(
            f"  limits     rate limits {args.rate_limits}; faults: POST /dev/v1/faults",
            flush=True,
        )
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
    p.add_argument(
        "--batch-cap", type=int, default=50, help="max txs per batch (50 documented; 15 strict)"
    )
    p.add_argument(
        "--rate-limits",
        choices=("off", "standard", "premium", "plus"),
        default="off",
        help="enforce the tier's REST/WS rate limits per IP and L1 address (default: off)",
    )
    p.add_argument(
        "--nonce-window", type=int, default=0, help="accept nonces this far ahead (0 = strict)"
    )
    p.add_argument(
        "--next-nonce",
        choices=("executed", "accepted"),
        default="executed",
        help="nextNonce reports the last executed (lags) or accepted nonce + 1",
    )
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


def _run_demo_cmd(args: argparse.Namespace) -> int:
    """`lighterfast demo`: run the bots, show the view, print (and optionally save) the summary."""
    from lighterfast.demo import DemoOptions, run_demo
    from lighterfast.demo_view import LiveView, ProgressView, render_summary

    if args.config and not args.base_url:
        from lighterfast.config import load_lighter_config

        args.base_url = load_lighter_config(args.config)["base_url"]
    options = DemoOptions(
        symbols=[s for s in args.symbols.split(",") if s.strip()],
        duration=args.duration if args.duration > 0 else None,
        base_url=args.base_url,
        config=args.config or "config.json",
        live=args.live,
        dry_run=args.dry_run,
        premium=args.premium,
        size_lots=args.size_lots,
        half_spread_bps=args.spread_bps,
        node_latency=args.node_latency,
        node_rate_limits=not args.no_rate_limits,
        native_signer=args.native_signer,
    )
    title = "lighterfast demo" + ("" if args.base_url else " (local node)")
    view: Any = ProgressView() if args.headless else LiveView(title, options.duration)

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await run_demo(options, view=view, stop=stop)

    result = _run(main())
    summary = result.as_dict()
    if not args.headless:
        print(flush=True)
    print(render_summary(summary), flush=True)
    if args.json_summary:
        Path(args.json_summary).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run one quoting bot per symbol (against an in-process local node by default)",
        description="Run a small market-making bot per symbol: WsInfo for the book and own "
        "orders, LighterDealer.batch_cancel_and_create to requote. Without --base-url a local "
        "node with simulated market flow runs in-process. Mainnet URLs are a dry run unless "
        "--live is given.",
    )
    p.add_argument("--symbols", default="ETH,BTC,SOL", help="comma-separated (default ETH,BTC,SOL)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds to run (0 = until Ctrl-C)")
    p.add_argument("--base-url", default=None, help="a node's REST URL (default: local node)")
    p.add_argument("--config", default=None, help="config.json with account and API keys")
    p.add_argument("--live", action="store_true", help="allow sending orders to mainnet")
    p.add_argument(
        "--dry-run", action="store_true", help="send nothing; print what the bots would send"
    )
    p.add_argument(
        "--premium",
        action="store_true",
        help="pace as a premium account (24 000 weight/min) instead of standard (60/min)",
    )
    p.add_argument(
        "--native-signer",
        action="store_true",
        help="sign with the opt-in NativeSigner (C) instead of lighter-sdk's Go library",
    )
    p.add_argument("--size-lots", type=int, default=2, help="quote size in minimum sizes")
    p.add_argument("--spread-bps", type=float, default=1.0, help="half spread in basis points")
    p.add_argument(
        "--node-latency",
        default="premium",
        help="execution latency tier of the in-process node (standard, premium, plus, zero)",
    )
    p.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="the in-process node does not enforce rate limits (default: it does, per tier)",
    )
    p.add_argument(
        "--headless", action="store_true", help="progress lines instead of the live table"
    )
    p.add_argument("--json-summary", metavar="PATH", help="also write the summary as JSON")
    p.set_defaults(func=_run_demo_cmd)


BENCH_SUITES = ("core", "ws", "signing", "dealer", "node")
PEER_MARKERS = ("lighter_sdk", "sdk_", "ccxt", "pure", "orjson")


def _benchmarks_dir() -> Path | None:
    """The repository's `benchmarks/` (source checkouts only; wheels do not ship it)."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / "benchmarks" / "bench_core.py").is_file():
            return base / "benchmarks"
    return None


def bench_table(report: dict[str, Any]) -> str:
    """Per benchmark group: each row's median and its ratio to the group's fastest row."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for bench in report.get("benchmarks", []):
        group = bench.get("group") or bench["fullname"].split("::")[0]
        groups.setdefault(group, []).append((bench["name"], float(bench["stats"]["median"])))
    lines = []
    for group, rows in groups.items():
        rows.sort(key=lambda row: row[1])
        fastest = rows[0][1] or 1e-12
        lines.append(f"\n{group}")
        for name, median in rows:
            ratio = median / fastest
            peer = "  (peer/reference)" if any(m in name for m in PEER_MARKERS) else ""
            lines.append(f"  {name:<52} {_duration(median):>12}  {ratio:8.2f}x{peer}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """Seconds as ns/µs/ms/s with three significant digits."""
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _run_bench(args: argparse.Namespace) -> int:
    """`lighterfast bench`: run pytest-benchmark over the suites, then print the ratio table."""
    import subprocess
    import tempfile

    where = _benchmarks_dir()
    if where is None:
        raise ValueError("benchmarks/ not found: run from a source checkout (git clone)")
    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    unknown = sorted(set(suites) - set(BENCH_SUITES))
    if unknown or not suites:
        raise ValueError(f"--suite: choose from {','.join(BENCH_SUITES)}, got {args.suite!r}")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(args.json) if args.json else Path(tmp) / "bench.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            *(str(where / f"bench_{s}.py") for s in suites),
            "--benchmark-only",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={report_path}",
            f"--rootdir={where.parent}",
        ]
        if args.quick:
            cmd += [
                "--benchmark-max-time=0.02",
                "--benchmark-min-rounds=3",
                "--benchmark-warmup=off",
            ]
        print("running: " + " ".join(cmd[2:]), flush=True)  # pytest prints its own progress
        code = subprocess.call(cmd, cwd=where.parent)
        if not report_path.is_file():
            return code or 1
        report = json.loads(report_path.read_text())
    print(bench_table(report), flush=True)
    print("\nmedians; ratio = this row / fastest row of its group (lower is faster)", flush=True)
    return code


def _add_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run the benchmark suite (source checkout) and print the ratio table",
        description="Run benchmarks/ with pytest-benchmark and print, per group, each row's "
        "median and its ratio to the fastest (lighterfast vs lighter-sdk and ccxt where "
        "measured). BENCHMARKS.md explains every figure.",
    )
    p.add_argument(
        "--suite",
        default="core,ws,signing,dealer",
        help=f"comma-separated, from {','.join(BENCH_SUITES)} (default core,ws,signing,dealer)",
    )
    p.add_argument("--quick", action="store_true", help="few rounds (a smoke run, noisy figures)")
    p.add_argument("--json", metavar="PATH", help="keep pytest-benchmark's JSON report here")
    p.set_defaults(func=_run_bench)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="lighterfast",
        description="lighterfast: a fast Python client for the Lighter DEX. Run a local node,"
        " the demo bots, or the benchmarks; `lighterfast COMMAND --help` for each.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_node(sub)
    _add_demo(sub)
    _add_bench(sub)
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
