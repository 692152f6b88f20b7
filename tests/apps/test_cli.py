"""The `lighterfast` command: every subcommand has --help, bad arguments give a clear error,
and `bench` runs a real (quick) benchmark suite and prints the ratio table."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lighterfast.apps.cli import bench_table, build_parser, main


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lighterfast.apps.cli", *args],
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


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"lighterfast": parser, **action.choices}


def test_version_prints_the_package_version() -> None:
    import lighterfast

    proc = _cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"lighterfast {lighterfast.__version__}"
    assert "--version" in _cli("--help").stdout


@pytest.mark.parametrize("command", ["node", "demo", "bench"])
def test_every_option_has_help_text_and_its_default(command: str) -> None:
    parser = _subparsers()[command]
    text = parser.format_help()
    shown = [
        a
        for a in parser._actions
        if a.option_strings
        and a.help is not argparse.SUPPRESS
        and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))
    ]
    assert shown
    for action in shown:
        assert action.help and action.help.strip(), action.option_strings
        rendered = parser._get_formatter()._get_help_string(action) or ""  # type: ignore[attr-defined]
        assert "default" in rendered, (action.option_strings, rendered)
        assert action.option_strings[-1] in text


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run `main(argv)` in-process; it must exit 2 with exactly one stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["demo", "--duration", "-1"], "--duration"),
        (["demo", "--duration", "0"], "--duration"),
        (["demo", "--duration", "nan"], "--duration"),
        (["demo", "--duration", "soon"], "--duration"),
        (["demo", "--size-lots", "0"], "--size-lots"),
        (["demo", "--spread-bps", "-2"], "--spread-bps"),
        (["demo", "--node-latency", "warp"], "--node-latency"),
        (["node", "--port", "70000"], "--port"),
        (["node", "--accounts", "-1"], "--accounts"),
        (["node", "--keys-per-account", "0"], "--keys-per-account"),
        (["node", "--keys-per-account", "252"], "--keys-per-account"),
        (["node", "--latency", "fast"], "--latency"),
        (["node", "--collateral", "inf"], "--collateral"),
        (["node", "--book-tick-ms", "-5"], "--book-tick-ms"),
        (["node", "--batch-cap", "0"], "--batch-cap"),
    ],
)
def test_bad_option_values_are_one_line_argparse_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    err = _one_line_error(capsys, argv)
    assert needle in err and err.startswith(f"lighterfast {argv[0]}: ")


def test_demo_duration_inf_runs_until_ctrl_c() -> None:
    args = build_parser().parse_args(["demo", "--duration", "inf"])
    assert math.isinf(args.duration)


def test_demo_unreachable_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    err = _one_line_error(capsys, ["demo", "--base-url", url, "--dry-run", "--headless"])
    assert f"cannot reach {url}" in err
    assert time.monotonic() - started < 5  # no reconnect loop first


def test_demo_unknown_symbol_is_one_line() -> None:
    proc = _cli("demo", "--symbols", "XYZ", "--duration", "1", "--headless")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("lighterfast demo:")]
    assert len(errors) == 1 and "XYZ" in errors[0], proc.stderr  # beside the progress lines
    assert proc.stderr.strip().splitlines()[-1] == errors[0]
