"""The `lighterfast` command: `node` (local Lighter node), `demo` (quoting bots), `bench`,
`fleet status` (the fleet server of many bots).

Each subcommand is one `_add_<name>(subparsers)` function that registers its parser and sets
`func`; `demo` and `bench` are added the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__
from ..errors import ConfigError, LighterError

DEFAULT_NODE_PORT = 8780
LATENCY_TIERS = ("standard", "premium", "plus", "zero")  # testnode.node.TIER_LATENCY_MS
MAX_KEYS_PER_ACCOUNT = 251  # API key slots 4..254


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default unless its help text already states it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.default is False and action.nargs == 0:
            return f"{text} (default: off)"
        return super()._get_help_string(action)


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    """argparse type: an integer in lo..hi."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected {lo}..{hi}, got {value}")
        return value

    return parse


def _number(*, positive: bool, allow_inf: bool = False) -> Callable[[str], float]:
    """argparse type: a float > 0 (`positive`) or >= 0; NaN always refused, inf if allowed."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if math.isnan(value) or (math.isinf(value) and not allow_inf):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"expected a number {'>' if positive else '>='} 0")
        return value

    return parse


def _latency(text: str) -> str | float:
    """argparse type: a latency tier name or milliseconds >= 0."""
    if text in LATENCY_TIERS:
        return text
    try:
        return _number(positive=False)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected {', '.join(LATENCY_TIERS)} or milliseconds >= 0, got {text!r}"
        ) from None


def _node_config(node: Any, accounts: Sequence[Any]) -> dict[str, Any]:
    """config.json in the seed's format for the first account; all accounts under LocalNode.

    Every key of an account is listed in its `api_keys`, the primary first."""

    def section(dev: Any) -> dict[str, Any]:
        keys = getattr(dev, "keys", None) or (dev,)
        return {
            "base_url": node.base_url,
            "account_index": dev.account_index,
            "api_keys": [
                {"api_key_index": k.api_key_index, "api_key_private_key": k.private_key}
                for k in keys
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


def _refuse_overwrite(path: Path) -> None:
    """ConfigError when `path` exists: it may be the user's own config with real keys."""
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"--write-config: {path} already exists (it may hold your own keys); "
            "choose another file or pass --force to overwrite it"
        )


def _write_private(path: Path, data: dict[str, Any], *, force: bool = False) -> None:
    """Write JSON readable by the owner only (it holds API private keys); an existing file is
    replaced only with `force`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        _refuse_overwrite(path)
        raise
    os.fchmod(fd, 0o600)  # a replaced file keeps its old mode otherwise
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


async def _run_node(args: argparse.Namespace) -> int:
    from lighterfast.testnode import DEFAULT_MARKETS, LocalNode
    from lighterfast.testnode.markets import parse_markets_arg

    config_path = Path(args.write_config) if args.write_config else None
    if config_path is not None and not args.force:
        _refuse_overwrite(config_path)  # before the node starts: nothing to undo
    markets = parse_markets_arg(args.markets) if args.markets else DEFAULT_MARKETS
    node = LocalNode(
        args.host,
        args.port,
        chain_id=args.chain_id,
        markets=markets,
        exec_latency_ms=args.latency,
        book_tick_ms=args.book_tick_ms,
        batch_cap=args.batch_cap,
        nonce_window=args.nonce_window,
        next_nonce_mode=args.next_nonce,
        rate_limits=None if args.rate_limits == "off" else args.rate_limits,
        house_liquidity_levels=args.house_liquidity,
        tx_hash_mode=args.tx_hash,
        simulate_flow=args.simulate_flow,
        keys_per_account=args.keys_per_account,
        verify_signatures=not args.no_verify,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
    except OSError as exc:
        await node.stop()
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "choose another --port (0 = any free port)"
        ) from None
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
            slots = [k.api_key_index for k in dev.keys]
            keys = f"api key {slots[0]}" if len(slots) == 1 else f"api keys {slots[0]}-{slots[-1]}"
            print(
                f"  account {dev.account_index}  {keys}  collateral {args.collateral} USDC",
                flush=True,
            )
        if config_path is not None:
            _write_private(config_path, _node_config(node, accounts), force=args.force)
            print(f"  config     {config_path}", flush=True)
        if args.simulate_flow:
            print("  flow       simulated maker/taker activity on every market", flush=True)
        print(
            f"  limits     rate limits {args.rate_limits}; faults: POST /dev/v1/faults",
            flush=True,
        )
        checks = "NOT checked (--no-verify)" if args.no_verify else "checked against the API keys"
        print(f"  signatures {checks}", flush=True)
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
    p = sub.add_parser(
        "node",
        help="run a local Lighter node (REST + WebSocket) in the foreground",
        description="Run a local Lighter node on loopback until Ctrl-C. --write-config writes "
        "the dev accounts' keys to a new file (never over an existing one unless --force).",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address")
    p.add_argument(
        "--port", type=_int_in(0, 65535), default=DEFAULT_NODE_PORT, help="port (0 = any free)"
    )
    p.add_argument(
        "--accounts", type=_int_in(0, 1000), default=0, help="dev accounts to create at start"
    )
    p.add_argument(
        "--keys-per-account",
        type=_int_in(1, MAX_KEYS_PER_ACCOUNT),
        default=1,
        help="API keys per dev account (slots 4, 5, ...; one nonce lane each, e.g. one per bot)",
    )
    p.add_argument(
        "--collateral", type=_number(positive=False), default=100_000, help="USDC per dev account"
    )
    p.add_argument(
        "--write-config",
        metavar="PATH",
        help="write a config file (e.g. local-node.json) for the accounts (default: none)",
    )
    p.add_argument(
        "--force", action="store_true", help="let --write-config replace an existing file"
    )
    p.add_argument(
        "--simulate-flow", action="store_true", help="house maker/taker activity on every market"
    )
    p.add_argument(
        "--markets",
        default="",
        help="SYMBOL:SIZE_DEC:PRICE_DEC[:ID] list, e.g. ETH:4:2,BTC:5:1,SKY/USDC:1:5:2048 (a"
        " BASE/QUOTE symbol is a spot market; default: ETH, BTC, SOL as on mainnet)",
    )
    p.add_argument(
        "--chain-id", type=_int_in(0, 2**31 - 1), default=304, help="chain id signatures use"
    )
    p.add_argument(
        "--latency",
        type=_latency,
        default="standard",
        help=f"execution latency: tier name ({', '.join(LATENCY_TIERS)}) or milliseconds",
    )
    p.add_argument(
        "--book-tick-ms",
        type=_number(positive=False),
        default=50.0,
        help="order book update interval in ms",
    )
    p.add_argument(
        "--batch-cap",
        type=_int_in(1, 10_000),
        default=50,
        help="max txs per batch (50 documented; 15 strict)",
    )
    p.add_argument(
        "--rate-limits",
        choices=("off", "standard", "premium", "plus"),
        default="off",
        help="enforce the tier's REST/WS rate limits per IP and L1 address",
    )
    p.add_argument(
        "--nonce-window",
        type=_int_in(0, 10**6),
        default=0,
        help="accept nonces this far ahead (0 = strict)",
    )
    p.add_argument(
        "--next-nonce",
        choices=("executed", "accepted"),
        default="executed",
        help="nextNonce reports the last executed (lags) or accepted nonce + 1",
    )
    p.add_argument(
        "--house-liquidity",
        type=_int_in(0, 1000),
        default=0,
        help="resting levels per side from a house account",
    )
    p.add_argument(
        "--tx-hash",
        choices=("signer", "fast"),
        default="signer",
        help="signer: the real signed hash (as the venue); fast: a stand-in for benchmarks",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="accept any signature and auth token (node-throughput benchmarks only)",
    )
    p.add_argument("--duration", type=_number(positive=True), default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=lambda a: _run(_run_node(a)))


def _check_reachable(url: str, timeout: float = 3.0) -> None:
    """ConfigError unless a TCP connection to `url`'s host and port opens within `timeout` (a
    wrong or stopped node is one clear line, not a reconnect loop)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--base-url: expected http(s)://HOST[:PORT], got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(f"cannot reach {url} ({reason}); is the node running?") from None


def _run_demo_processes(args: argparse.Namespace) -> int:
    """`lighterfast demo --processes N`: one bot process per symbol on one account (a fleet)."""
    from lighterfast.apps.demo_procs import run_processes

    symbols = [s for s in args.symbols.split(",") if s.strip()]
    if args.processes != len(symbols):
        symbols = (symbols * args.processes)[: args.processes]
        if len(set(symbols)) != len(symbols):
            raise ConfigError(
                f"--processes {args.processes}: give as many --symbols (one bot process each)"
            )
    duration = 20.0 if math.isinf(args.duration) else args.duration
    summary = _run(run_processes(symbols, duration, fleet_url=args.fleet))
    print(json.dumps(summary, indent=2), flush=True)
    if args.json_summary:
        Path(args.json_summary).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def _run_demo_cmd(args: argparse.Namespace) -> int:
    """`lighterfast demo`: run the bots, show the view, print (and optionally save) the summary."""
    if args.processes:
        return _run_demo_processes(args)
    from lighterfast.apps.demo import DemoOptions, run_demo
    from lighterfast.apps.demo_view import LiveView, ProgressView, render_summary

    if args.config and not args.base_url:
        from lighterfast.config import load_lighter_config

        args.base_url = load_lighter_config(args.config)["base_url"]
    if args.base_url:
        _check_reachable(args.base_url)
    options = DemoOptions(
        symbols=[s for s in args.symbols.split(",") if s.strip()],
        duration=None if math.isinf(args.duration) else args.duration,
        base_url=args.base_url,
        config=args.config or "config.json",
        live=args.live,
        dry_run=args.dry_run,
        premium=args.premium,
        size_lots=args.size_lots,
        half_spread_bps=args.spread_bps,
        node_latency=args.node_latency,
        node_rate_limits=not args.no_rate_limits,
        signer="native" if args.native_signer else args.signer,
        dead_man=not args.no_dead_man,
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
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--symbols", default="ETH,BTC,SOL", help="comma-separated symbols")
    p.add_argument(
        "--duration",
        type=_number(positive=True, allow_inf=True),
        default=20.0,
        help="seconds to run (> 0; inf = until Ctrl-C)",
    )
    p.add_argument(
        "--base-url", default=None, help="a node's REST URL (default: an in-process local node)"
    )
    p.add_argument(
        "--config",
        default=None,
        help="config file with account and API keys for --base-url (default: config.json)",
    )
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
        "--signer",
        choices=("native", "sdk"),
        default="native",
        help="native: lighterfast's C signer (self-checked against the Go library);"
        " sdk: lighter-sdk's Go library",
    )
    p.add_argument("--native-signer", action="store_true", help=argparse.SUPPRESS)  # legacy
    p.add_argument(
        "--no-dead-man",
        action="store_true",
        help="do not arm the dead-man switch (a scheduled cancel-all each bot renews: 60 s on"
        " the local node, 300 s on a venue)",
    )
    p.add_argument(
        "--size-lots",
        type=_int_in(1, 10_000),
        default=2,
        help="quote size in multiples of the market's minimum size",
    )
    p.add_argument(
        "--spread-bps",
        type=_number(positive=True),
        default=1.0,
        help="half spread in basis points",
    )
    p.add_argument(
        "--node-latency",
        choices=LATENCY_TIERS,
        default="premium",
        help="execution latency tier of the in-process node",
    )
    p.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="turn off the in-process node's rate limits (by default it enforces its tier's)",
    )
    p.add_argument(
        "--headless", action="store_true", help="progress lines instead of the live table"
    )
    p.add_argument(
        "--json-summary", metavar="PATH", help="also write the summary as JSON (default: none)"
    )
    p.add_argument(
        "--processes",
        type=_int_in(1, 64),
        default=0,
        help="one bot process per symbol, all on one account sharing a fleet (embedded"
        " valkey-server unless --fleet)",
    )
    p.add_argument("--fleet", metavar="URL", default=None, help="the fleet server for --processes")
    p.set_defaults(func=_run_demo_cmd)


BENCH_SUITES = ("core", "ws", "signing", "dealer", "node")
PEER_MARKERS = ("lighter_sdk", "sdk_", "ccxt", "pure", "orjson")


def _benchmarks_dir() -> Path | None:
    """The repository's `benchmarks/` (source checkouts only; wheels do not ship it)."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
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
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "--suite",
        default="core,ws,signing,dealer",
        help=f"comma-separated, from {','.join(BENCH_SUITES)}",
    )
    p.add_argument("--quick", action="store_true", help="few rounds (a smoke run, noisy figures)")
    p.add_argument(
        "--json",
        metavar="PATH",
        help="keep pytest-benchmark's JSON report here (default: a temporary file)",
    )
    p.set_defaults(func=_run_bench)


def _run_fleet_status(args: argparse.Namespace) -> int:
    """Print the fleet's leases, COI slots and budget windows (a table, or JSON)."""
    from ..fleet.status import fetch_status, render_status, status_json  # needs redis

    status = asyncio.run(
        fetch_status(args.fleet or None, args.account, namespace=args.namespace, wait_s=args.wait)
    )
    if args.json:
        print(json.dumps(status_json(status), indent=2, sort_keys=True), flush=True)
    else:
        from rich.console import Console

        Console(width=120).print(render_status(status))
    return 0


def _add_fleet(sub: Any) -> None:
    p = sub.add_parser(
        "fleet",
        help="inspect the fleet server shared by many bots of one account",
        description="The fleet (Redis-compatible server) of processes sharing an account: API-key"
        " lane leases, COI slots and the rate budget (README: Running many bots).",
        formatter_class=_HelpFormatter,
    )
    fleet_sub = p.add_subparsers(dest="fleet_command", metavar="FLEET_COMMAND", required=True)
    st = fleet_sub.add_parser(
        "status",
        help="leases (key, holder, age), budget used per account and per host, COI slots",
        formatter_class=_HelpFormatter,
    )
    st.add_argument(
        "--fleet",
        metavar="URL",
        default=os.environ.get("LIGHTERFAST_FLEET_URL", ""),
        help="redis://, rediss:// or unix:// URL (default $LIGHTERFAST_FLEET_URL)",
    )
    st.add_argument("--account", type=int, default=None, help="one account only")
    st.add_argument(
        "--namespace",
        default=os.environ.get("LIGHTERFAST_FLEET_NAMESPACE", "lighterfast"),
        help="the fleet's key namespace",
    )
    st.add_argument("--wait", type=float, default=2.0, help="seconds to wait for the server")
    st.add_argument("--json", action="store_true", help="print JSON instead of tables")
    st.set_defaults(func=_run_fleet_status)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = _Parser(
        prog="lighterfast",
        description="lighterfast: a fast Python client for the Lighter DEX. Run a local node,"
        " the demo bots, or the benchmarks; `lighterfast COMMAND --help` for each.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"lighterfast {__version__}",
        help="print the version",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_node(sub)
    _add_demo(sub)
    _add_bench(sub)
    _add_fleet(sub)
    return parser


def _user_error(exc: BaseException) -> BaseException | None:
    """The user-facing cause of a failure (bad input, busy port, unreachable URL), or None for
    a bug (which keeps its traceback). Exception groups count when all their parts do."""
    children = getattr(exc, "exceptions", None)  # an ExceptionGroup (Python 3.11+)
    if isinstance(children, tuple):
        parts = [_user_error(e) for e in children]
        return parts[0] if parts and all(parts) else None
    if isinstance(exc, (LighterError, ValueError, OSError)):
        return exc
    return None


def _one_line(exc: BaseException) -> str:
    """An exception as one line of text (its type name when it has no message)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lighterfast` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        cause = _user_error(exc)
        if cause is None:
            raise
        print(f"lighterfast {args.command}: {_one_line(cause)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
