"""README.md and README.ja.md: every code block marked `<!-- test: run -->` runs, as the user
would run it, against `lighterfast node --write-config local-node.json` (a real node process on
loopback; the testnet walkthrough's `testnet.json` is a copy of that file); blocks marked
`<!-- test: compile -->` (they need the real exchange) compile and call lighter-sdk as it is
installed; the first screen gives the two commands and `.ci/run` runs the README's test command.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _helpers import read_until_ready, start_cli
from lighterfast.config import load_lighter_config

ROOT = Path(__file__).resolve().parents[2]
READMES = (ROOT / "README.md", ROOT / "README.ja.md")
MARKER = "<!-- test: run -->"
BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```python\n(.*?)\n```", re.DOTALL)
COMPILE_MARKER = "<!-- test: compile -->"
COMPILE_BLOCK = re.compile(re.escape(COMPILE_MARKER) + r"\s*\n```python\n(.*?)\n```", re.DOTALL)
NODE_CONFIG = "local-node.json"  # what the quickstart writes
WALKTHROUGH_CONFIG = "testnet.json"  # what the testnet walkthrough's scripts read
INSTALL_AND_DEMO = "pip install . && lighterfast demo --duration 20"
TEST_COMMAND = "python3 -m pytest -q tests"
BLOCK_TIMEOUT_S = 60


def runnable_blocks(path: Path) -> list[str]:
    """The code of every block marked runnable in `path`."""
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def compile_blocks(path: Path) -> list[str]:
    """The code of every block marked compile-only (it needs the real exchange) in `path`."""
    return COMPILE_BLOCK.findall(path.read_text(encoding="utf-8"))


def _all_blocks() -> list[tuple[str, str]]:
    """(ids, code) for each distinct runnable block of both READMEs (shared blocks run once)."""
    seen: dict[str, list[str]] = {}
    for path in READMES:
        for n, code in enumerate(runnable_blocks(path), 1):
            seen.setdefault(code, []).append(f"{path.stem}-{n}")
    return [("+".join(ids), code) for code, ids in seen.items()]


BLOCKS = _all_blocks()


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory holding the config file of a running `lighterfast node` (the README's)."""
    where = tmp_path_factory.mktemp("readme")
    proc = start_cli(
        "node",
        "--port",
        "0",
        "--accounts",
        "1",
        "--simulate-flow",
        "--write-config",
        NODE_CONFIG,
        cwd=where,
        stderr=subprocess.STDOUT,
    )
    read_until_ready(proc)
    shutil.copy(where / NODE_CONFIG, where / WALKTHROUGH_CONFIG)  # keeps mode 600
    try:
        yield where
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_both_readmes_have_runnable_blocks() -> None:
    counts = [len(runnable_blocks(p)) for p in READMES]
    assert counts[0] >= 5 and counts[0] == counts[1], counts


@pytest.mark.parametrize(("ids", "code"), BLOCKS, ids=[ids for ids, _ in BLOCKS])
def test_readme_block_runs(ids: str, code: str, node_dir: Path) -> None:
    script = node_dir / f"block_{abs(hash(code)) % 10**8}.py"
    script.write_text(code + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTER_")}
    proc = subprocess.run(
        [sys.executable, script.name],
        cwd=node_dir,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        env=env,
    )
    assert proc.returncode == 0, f"{ids}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{ids} printed nothing"
    secret = load_lighter_config(node_dir / NODE_CONFIG)["api_key_private_key"]
    assert secret not in proc.stdout + proc.stderr


@pytest.mark.parametrize("path", READMES, ids=lambda p: p.name)
def test_first_screen_gives_the_two_commands(path: Path) -> None:
    first_screen = "\n".join(path.read_text(encoding="utf-8").splitlines()[:30])
    assert INSTALL_AND_DEMO in first_screen
    assert f'pip install ".[test]" && {TEST_COMMAND}' in first_screen


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]"' in ci
    commands = [
        line.strip() for line in ci.splitlines() if line.strip().startswith("python3 -m pytest")
    ]
    assert commands[0] == TEST_COMMAND  # then only the benchmarks' smoke run
    assert all(c.startswith("python3 -m pytest -q benchmarks") for c in commands[1:])


def _section(text: str, start: str, end: str) -> str:
    """The text between the heading `start` and the next `end` marker."""
    begin = text.index(start)
    return text[begin : text.index(end, begin + len(start))]


@pytest.mark.parametrize("path", READMES, ids=lambda p: p.name)
def test_api_table_names_exist(path: Path) -> None:
    from lighterfast import DealerConfig, LighterDealer, errors
    from lighterfast.core import OrderBook
    from lighterfast.dealer import RateBudget
    from lighterfast.ws import WsInfo

    text = path.read_text(encoding="utf-8")
    heading = "## API summary" if path.name == "README.md" else "## API 早見表"
    table = _section(text, heading, "\n## ")
    names = set(re.findall(r"`(?:await )?(?:WsInfo\.|LighterDealer\.)?([a-z_]+)\(", table))
    assert len(names) > 20
    ws = WsInfo(base_url=None, account_streams=False)
    for name in names:
        owners = (WsInfo, LighterDealer, OrderBook, RateBudget)
        assert any(hasattr(obj, name) for obj in owners), name
    dealer_attrs = {n for c in LighterDealer.__mro__ for n in getattr(c, "__annotations__", {})}
    for hook in re.findall(r"`(on_[a-z_]+)`", table):
        assert hasattr(ws, hook) or hook in dealer_attrs, hook
    for error in re.findall(
        r"`([A-Z][A-Za-z]+(?:Error|Found|FoundByCoi|Limited|Rejected|Closed))`", table
    ):
        assert hasattr(errors, error) or hasattr(builtins, error), error
    assert hasattr(DealerConfig, "from_config")


@pytest.mark.parametrize("path", READMES, ids=lambda p: p.name)
def test_every_dealer_config_field_is_documented(path: Path) -> None:
    from dataclasses import fields

    from lighterfast import DealerConfig

    text = path.read_text(encoding="utf-8")
    start = text.index("### `DealerConfig`")
    table = text[start : text.index("\n### ", start + 5)]
    documented = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([a-z_0-9]+)`", line.split("|")[1]))
    assert documented == {f.name for f in fields(DealerConfig)}


def _sdk_callables() -> dict[str, object]:
    """The lighter-sdk calls the key registration script may make, by the name it calls."""
    import lighter

    return {
        "ApiClient": lighter.ApiClient,
        "Configuration": lighter.Configuration,
        "AccountApi": lighter.AccountApi,
        "accounts_by_l1_address": lighter.AccountApi.accounts_by_l1_address,
        "create_api_key": lighter.create_api_key,
        "SignerClient": lighter.SignerClient,
        "change_api_key": lighter.SignerClient.change_api_key,
        "check_client": lighter.SignerClient.check_client,
    }


def _is_method(fn: object) -> bool:
    """True for a function defined in a class body (called on an instance: self is bound)."""
    return inspect.isfunction(fn) and "." in fn.__qualname__


@pytest.mark.parametrize("path", READMES, ids=lambda p: p.name)
def test_key_registration_block_matches_the_installed_sdk(path: Path) -> None:
    blocks = compile_blocks(path)
    assert len(blocks) == 1, "one key registration script per README"
    code = blocks[0]
    tree = ast.parse(code)
    compile(tree, f"{path.name}:key-registration", "exec")
    sdk = _sdk_callables()
    called = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in sdk:
            continue
        called.add(name)
        target = sdk[name]
        args: list[object] = [None] * len(node.args)
        if _is_method(target):
            args.insert(0, None)  # self
        inspect.signature(target).bind_partial(
            *args, **{k.arg: None for k in node.keywords if k.arg}
        )
    assert called == set(sdk), f"not called: {set(sdk) - called}"
    from lighter.models import Account, SubAccounts

    assert "sub_accounts" in SubAccounts.model_fields and "index" in Account.model_fields
    assert "0o600" in code and "O_EXCL" in code  # the key file: owner-only, never overwritten


def _cells(text: str, row_start: str) -> list[str]:
    """The cells of the first table row of `text` whose first cell starts with `row_start`."""
    for line in text.splitlines():
        if line.startswith("| ") and line[2:].startswith(row_start):
            return [c.strip() for c in line.strip().strip("|").split("|")]
    raise AssertionError(f"no table row starting with {row_start!r}")


def test_one_lighter_sdk_signing_figure_everywhere() -> None:
    bench = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    figure = _cells(bench, "`lighter_sdk_main_thread`")[1]  # the Signing section's row
    assert re.fullmatch(r"[0-9 ]+ µs", figure), figure
    rows = {
        "README.md": "one signature (stock Go signer)",
        "README.ja.md": "署名 1 件（標準の Go 署名器）",
        "BENCHMARKS.md": "one signature, stock Go signer",
    }
    for name, row in rows.items():
        text = (ROOT / name).read_text(encoding="utf-8")
        assert figure in _cells(text, row)[2], (name, figure)
        mentioned = set(
            re.findall(r"([0-9] ?[0-9]{3}) µs[^|]*(?:main thread|メインスレッド)", text)
        )
        assert mentioned <= {figure.removesuffix(" µs")}, (name, mentioned)


@pytest.mark.parametrize("name", ["README.md", "README.ja.md", "BENCHMARKS.md"])
def test_images_exist(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images, f"{name} shows no chart or screenshot"
    for image in images:
        assert (ROOT / image).is_file(), image


def test_benchmarks_page_names_nothing_users_cannot_see() -> None:
    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    for pattern in (r"\bissue\b", "§", r"signer-spec", r"shared/", r"\bsession\b", r"\btarget\b"):
        assert not re.search(pattern, text, re.IGNORECASE), pattern
