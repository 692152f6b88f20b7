"""`lighterfast demo` against a real LocalNode over loopback: the summary equals the node's state
(positions, fills per COI, nonces consumed, no orders left), shared-key bots never collide on
nonces, dry runs send nothing, and the CLI run exits 0 with fills on at least two symbols."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _helpers import start_cli
from lighterfast import protocol as P
from lighterfast.apps.demo import DemoOptions, is_mainnet, percentile, run_demo
from lighterfast.apps.demo_view import LiveView, ProgressView, render_summary
from lighterfast.errors import ConfigError
from lighterfast.testnode import LocalNode

# A lively market so that a few seconds give fills: the house flow steps every 50 ms.
NODE_OPTIONS: dict[str, Any] = {
    "port": 0,
    "simulate_flow": True,
    "flow_interval_ms": 50,
    "exec_latency_ms": "premium",
    "flow_seed": 7,
}
HEX_SECRET = re.compile(r"[0-9a-fA-F]{64,}")


def _filled(node: LocalNode, account: int, market: int) -> tuple[Decimal, ...]:
    """(bought, sold) by the node's own records of the account's orders (human units)."""
    bought = sold = Decimal(0)
    for owner, coi in list(node.engine.by_coi_any):
        order = node.state.order_by_coi(owner, coi)
        if owner != account or order is None or order["market_index"] != market:
            continue
        filled = Decimal(order["filled_base_amount"])
        if order["is_ask"]:
            sold += filled
        else:
            bought += filled
    return bought, sold


def _assert_matches_node(node: LocalNode, result: Any) -> None:
    """Every row of the summary agrees with the node's own state."""
    specs = {s.symbol: s for s in node.markets}
    positions = node.state.positions
    nonces = node.state.nonces
    live_accounts = {o["owner_account_index"] for o in node.state.orders.values()}
    for row in result.symbols:
        spec = specs[row["symbol"]]
        account = row["account_index"]
        node_pos = positions.get((account, spec.market_index), {"size": 0, "realized_pnl": 0})
        size = node_pos["size"]
        # The bot's average-cost realised PnL is the node's own (to a micro-USDC per fill).
        realised = Decimal(node_pos["realized_pnl"]).scaleb(-6)
        assert abs(Decimal(str(row["pnl_realised"])) - realised) <= Decimal("1e-6") * (
            row["fills"] + 1
        ), (row, realised)
        if row["pnl"] is not None:
            assert row["pnl"] == pytest.approx(row["pnl_realised"] + row["pnl_unrealised"])
        node_position = Decimal(size).scaleb(-spec.size_decimals)
        assert Decimal(str(row["position"])) == node_position, row
        assert Decimal(str(row["position_node"])) == node_position
        bought, sold = _filled(node, account, spec.market_index)
        assert Decimal(str(row["bought"])) == bought
        assert Decimal(str(row["sold"])) == sold
        assert row["open_orders_end"] == 0
        assert account not in live_accounts  # every quote was cancelled at the end
        assert row["txs_rejected"] == 0
        # The bot's orders plus its dead-man switch's schedules and abort (one nonce each).
        assert nonces[(account, row["api_key_index"])] == row["txs_accepted"] + row["dead_man_txs"]


async def test_demo_summary_matches_node_state() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        out = io.StringIO()
        options = DemoOptions(symbols=["ETH", "BTC", "SOL"], duration=4.0, premium=True)
        result = await run_demo(options, node=node, view=ProgressView(every=1.0, stream=out))
        assert result.mode == "local"
        assert [r["symbol"] for r in result.symbols] == ["ETH", "BTC", "SOL"]
        _assert_matches_node(node, result)
        with_fills = [r for r in result.symbols if r["fills"] > 0]
        assert len(with_fills) >= 2, result.symbols
        for row in result.symbols:
            assert row["batches"] > 0 and row["latency_p50_ms"] is not None
            assert row["latency_p50_ms"] <= row["latency_max_ms"]
            assert row["latency_samples"] == row["batches"]  # every batch was accepted
            assert 0 <= row["budget_left"] <= row["budget_capacity"]
        screen = out.getvalue() + render_summary(result.as_dict()) + json.dumps(result.as_dict())
        assert "fills" in screen
        for dev in node.dev_accounts:
            assert dev.private_key not in screen
        assert not HEX_SECRET.search(screen)


async def test_demo_standard_pacing_stays_in_budget() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        result = await run_demo(
            DemoOptions(symbols=["ETH", "SOL"], duration=2.0, premium=False), node=node
        )
        _assert_matches_node(node, result)
        for row in result.symbols:
            # Standard: 60 requests/min shared; each bot gets 80 % / 2 of it.
            assert row["budget_capacity"] == int(P.STANDARD_REQUESTS_PER_MINUTE * 0.8) // 2
            assert row["budget_left"] >= 0


async def test_demo_with_native_signer_matches_node_state() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        options = DemoOptions(
            symbols=["ETH", "SOL"], duration=2.0, premium=True, native_signer=True
        )
        result = await run_demo(options, node=node)
        _assert_matches_node(node, result)
        assert all(row["txs_accepted"] > 0 for row in result.symbols)


async def test_demo_config_bots_share_keys_without_nonce_collisions(tmp_path: Path) -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        dev = await node.create_account(collateral=300_000)
        second, _ = await node.add_api_key(dev.account_index, 5)
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "Lighter": {
                        "base_url": node.base_url,
                        "account_index": dev.account_index,
                        "api_keys": [
                            {"api_key_index": 4, "api_key_private_key": dev.private_key},
                            {"api_key_index": 5, "api_key_private_key": second},
                        ],
                    }
                }
            )
        )
        options = DemoOptions(
            symbols=["ETH", "BTC", "SOL"],
            duration=3.0,
            premium=True,
            base_url=node.base_url,
            config=str(config),
        )
        result = await run_demo(options)
        assert result.mode == "remote"
        keys = [r["api_key_index"] for r in result.symbols]
        assert keys == [4, 5, 4]  # three bots, two keys: ETH and SOL share key 4's lane
        per_key: dict[int, int] = {}
        for row in result.symbols:
            assert row["txs_rejected"] == 0, row  # a nonce collision would be rejected
            assert row["open_orders_end"] == 0
            per_key[row["api_key_index"]] = per_key.get(row["api_key_index"], 0)
            per_key[row["api_key_index"]] += row["txs_accepted"] + row["dead_man_txs"]
        for key, sent in per_key.items():
            assert node.state.nonces[(dev.account_index, key)] == sent


async def test_demo_dry_run_sends_nothing() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        out = io.StringIO()
        options = DemoOptions(symbols=["ETH"], duration=1.5, base_url=node.base_url, dry_run=True)
        result = await run_demo(options, view=ProgressView(every=10, stream=out))
        assert result.mode == "dry-run"
        assert "ETH: cancel [] create buy" in out.getvalue()
        assert result.symbols[0]["batches"] == 0 and result.symbols[0]["fills"] == 0
        assert node.state.nonces == {}  # nothing was ever sent


async def test_demo_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="symbols"):
        await run_demo(DemoOptions(symbols=[" "], duration=1))
    with pytest.raises(ConfigError, match="twice"):
        await run_demo(DemoOptions(symbols=["ETH", "eth"], duration=1))
    with pytest.raises(ConfigError, match="duration"):
        await run_demo(DemoOptions(duration=0))


def test_helpers() -> None:
    assert is_mainnet("https://mainnet.zklighter.elliot.ai/")
    assert not is_mainnet("http://127.0.0.1:8780")
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0


def test_cli_demo_exits_zero_with_fills_on_two_symbols(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lighterfast.apps.cli",
            "demo",
            "--duration",
            "10",
            "--headless",
            "--json-summary",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["mode"] == "local"
    assert [r["symbol"] for r in summary["symbols"]] == ["ETH", "BTC", "SOL"]
    assert sum(1 for r in summary["symbols"] if r["fills"] > 0) >= 2, (summary, proc.stderr)
    for row in summary["symbols"]:
        assert row["open_orders_end"] == 0, summary
        assert row["position"] == row["position_node"], summary
    assert "fills" in proc.stdout and "[" in proc.stderr  # summary table + progress lines
    assert not HEX_SECRET.search(proc.stdout + proc.stderr)


async def test_demo_live_view_renders_the_table() -> None:
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=200, force_terminal=True, color_system=None)
    async with LocalNode(**NODE_OPTIONS) as node:
        view = LiveView("lighterfast demo", 1.5, console=console)
        result = await run_demo(
            DemoOptions(symbols=["ETH", "BTC"], duration=1.5), node=node, view=view
        )
        screen = buf.getvalue()
        for column in ("bid / ask", "own bid / ask", "fills", "position", "PnL", "orders/s"):
            assert column in screen
        assert "p50 / max ms" in screen and "budget left" in screen  # < 100 samples: max
        assert "ETH" in screen and "BTC" in screen
        for dev in node.dev_accounts:
            assert dev.private_key not in screen
        assert not HEX_SECRET.search(screen)
        _assert_matches_node(node, result)


def test_cli_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    proc = start_cli(
        "demo",
        "--symbols",
        "ETH",
        "--duration",
        "inf",
        "--headless",
        "--json-summary",
        str(summary_path),
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # the first progress line: the bot is running
        if line.startswith("["):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    summary = json.loads(summary_path.read_text())
    assert summary["symbols"][0]["open_orders_end"] == 0
    assert "lighterfast demo" in out and "Traceback" not in err
