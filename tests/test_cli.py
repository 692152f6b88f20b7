"""The `lighterfast` command: every subcommand has --help, bad arguments give a clear error,
and `bench` runs a real (quick) benchmark suite and prints the ratio table."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lighterfast.cli import bench_table, build_parser, main


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lighterfast.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_console_script_is_installed() -> None:
    beside = Path(sys.executable).parent / "lighterfast"  # same bin/ as this interpreter
    exe = str(beside) if beside.is_file() else shutil.which("lighterfast")
    assert exe is not None, "pip install . installs the `lighterfast` console script"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    for name in ("node", "demo", "bench"):
        assert name in proc.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("node", "--simulate-flow"),
        ("demo", "--duration"),
        ("bench", "--suite"),
    ],
)
def test_every_subcommand_has_help(command: str, expected: str) -> None:
    proc = _cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout


def test_demo_options_parse() -> None:
    args = build_parser().parse_args(
        ["demo", "--symbols", "ETH,SOL", "--duration", "5", "--premium", "--headless"]
    )
    assert args.symbols == "ETH,SOL" and args.duration == 5.0
    assert args.premium and args.headless and not args.live and not args.dry_run


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_demo_bad_symbols_is_a_clear_error() -> None:
    proc = _cli("demo", "--symbols", "ETH,ETH", "--duration", "1", "--headless")
    assert proc.returncode == 2
    assert "symbol appears twice" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_unknown_suite_is_a_clear_error() -> None:
    proc = _cli("bench", "--suite", "nope")
    assert proc.returncode == 2
    assert "--suite" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_table_ratios() -> None:
    report = {
        "benchmarks": [
            {
                "group": "g",
                "name": "test_lighterfast",
                "fullname": "b.py::x",
                "stats": {"median": 0.002},
            },
            {
                "group": "g",
                "name": "test_lighter_sdk",
                "fullname": "b.py::y",
                "stats": {"median": 0.010},
            },
        ]
    }
    table = bench_table(report)
    lines = [line for line in table.splitlines() if line.strip()]
    assert lines[0] == "g"
    assert "test_lighterfast" in lines[1] and "2 ms" in lines[1] and "1.00x" in lines[1]
    assert "test_lighter_sdk" in lines[2] and "5.00x" in lines[2] and "peer" in lines[2]


def test_bench_quick_ws_suite_prints_ratio_table(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    proc = _cli("bench", "--suite", "ws", "--quick", "--json", str(report), timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "ws-frame-path" in proc.stdout
    assert "test_lighterfast_feed_raw" in proc.stdout and "x" in proc.stdout
    data = json.loads(report.read_text())
    names = {b["name"] for b in data["benchmarks"]}
    assert {"test_lighterfast_feed_raw", "test_lighter_sdk_wsclient_on_message"} <= names
