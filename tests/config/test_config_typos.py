"""A typo never sends anyone to mainnet: unknown keys, misspelled sections and overrides are
ConfigErrors with a did-you-mean, raised before any socket opens; there is no default URL;
the first mainnet connection of a process logs one INFO line (issue 11, item 2)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lighterfast import DealerConfig, LighterDealer
from lighterfast import protocol as P
from lighterfast.config import load_lighter_config, resolve_base_url
from lighterfast.core import WeightLimiter
from lighterfast.errors import ConfigError
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.transport import rest
from lighterfast.transport.rest import RestClient, note_connection
from lighterfast.ws import WsInfo

SECRET = "0x" + "ab" * 40
ENV_NAMES = (
    "LIGHTER_BASE_URL",
    "LIGHTER_ACCOUNT_INDEX",
    "LIGHTER_L1_KEY",
    "LIGHTER_API_KEY_INDEX",
    "LIGHTER_API_KEY",
)

# Every socket connect and DNS lookup of the process, while a `no_network()` block records.
_recording: list[tuple[str, Any]] | None = None


def _audit(event: str, args: Any) -> None:
    if _recording is not None and event in ("socket.connect", "socket.getaddrinfo"):
        _recording.append((event, args))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one is idle outside the blocks


@contextmanager
def no_network() -> Iterator[None]:
    """Fail if anything inside connects a socket or resolves a host name."""
    global _recording
    _recording = []
    try:
        yield
    finally:
        seen, _recording = _recording, None
        assert seen == [], f"network activity: {seen}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LIGHTER_* variable, and a cwd without config.json (the factories' default file)."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A real listening socket on loopback; accepts would queue in its backlog."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def accepted(sock: socket.socket) -> int:
    """How many connections reached `sock` (drained from its backlog)."""
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def section(url: Any = "http://127.0.0.1:9", **extra: Any) -> dict[str, Any]:
    """A valid Lighter section (plus `extra` keys)."""
    data: dict[str, Any] = {
        "base_url": url,
        "account_index": 7,
        "api_keys": [{"api_key_index": 4, "api_key_private_key": SECRET}],
    }
    data.update(extra)
    return data


def write(tmp_path: Path, data: Any, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_network_guard_sees_a_connection(listener: socket.socket) -> None:
    with pytest.raises(AssertionError, match="network activity"), no_network():
        socket.create_connection(listener.getsockname()).close()
    assert accepted(listener) == 1


# --- the reported case ------------------------------------------------------------------------


async def test_base_url_typo_is_an_error_before_any_connection(
    tmp_path: Path, listener: socket.socket
) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    data = section()
    data["base_ulr"] = data.pop("base_url").replace("http://127.0.0.1:9", url)
    path = write(tmp_path, {"Lighter": data})
    want = r"unknown key 'base_ulr' in .*config\.json \[Lighter\]; did you mean 'base_url'\?"
    with no_network():
        with pytest.raises(ConfigError, match=want):
            load_lighter_config(path)
        with pytest.raises(ConfigError, match=want):
            await LighterDealer.from_config(path, symbol="ETH")
        with pytest.raises(ConfigError, match=want):
            await WsInfo.run_overlay_from_config(str(path), {"symbol": "ETH"})
        with pytest.raises(ConfigError, match=want):
            # the seed's WsInfo-from-arguments sample reads the default config.json's URL
            await WsInfo.run_public_trades_simple(symbol="ETH")
    assert accepted(listener) == 0


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("Base_URL", "base_url"),
        ("acount_index", "account_index"),
        ("api_key", "api_keys"),
        ("l1_key", "l1_private_key"),
    ],
)
def test_every_unknown_section_key_names_the_closest(tmp_path: Path, bad: str, good: str) -> None:
    path = write(tmp_path, {"Lighter": section(**{bad: 1})})
    with pytest.raises(ConfigError, match=f"unknown key '{bad}'.*did you mean '{good}'"):
        load_lighter_config(path, env={})


def test_a_key_with_no_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path, {"Lighter": section(zzz=1)})
    with pytest.raises(ConfigError, match=r"unknown key 'zzz'.*known keys: account_index"):
        load_lighter_config(path, env={})


def test_a_pasted_secret_as_a_key_name_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, {"Lighter": section(**{SECRET: 1})})
    with pytest.raises(ConfigError) as err:
        load_lighter_config(path, env={})
    assert SECRET not in str(err.value) and "82 chars" in str(err.value)


def test_unknown_keys_in_api_keys_entries(tmp_path: Path) -> None:
    entry = {"api_key_index": 4, "api_key_privat_key": SECRET}
    path = write(tmp_path, {"Lighter": section(api_keys=[entry])})
    with pytest.raises(
        ConfigError,
        match=r"'api_key_privat_key' in .*\[Lighter\] api_keys\[0\]; did you mean "
        "'api_key_private_key'",
    ):
        load_lighter_config(path, env={})
    with pytest.raises(ConfigError, match=r"arguments api_keys\[0\]; did you mean"):
        load_lighter_config(None, {"api_keys": [entry]}, env={})


# --- sections -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lighter", "Lightr", "LIGHTER", "Ligther", " Lighter"])
def test_misspelled_section_is_an_error(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, {name: section(), "Bybit": {"key": "x"}})
    env = {"LIGHTER_BASE_URL": "http://127.0.0.1:9", "LIGHTER_ACCOUNT_INDEX": "1"}
    with pytest.raises(
        ConfigError, match=f"no 'Lighter' section .*'{name}'; did you mean 'Lighter'"
    ):
        load_lighter_config(path, env=env)


def test_other_exchanges_sections_are_left_alone(tmp_path: Path) -> None:
    other = {"Bybit": {"api_key": "x", "base_ulr": "y"}, "Lighter_testnet": section()}
    cfg = load_lighter_config(write(tmp_path, {"Lighter": section(), **other}), env={})
    assert cfg["account_index"] == 7 and cfg["base_url"] == "http://127.0.0.1:9"


def test_the_file_may_be_the_section_itself(tmp_path: Path) -> None:
    cfg = load_lighter_config(write(tmp_path, section()), env={})
    assert cfg["account_index"] == 7 and cfg["api_key_index"] == 4
    flat = {"base_url": "http://127.0.0.1:9", "account_index": 7}
    cfg = load_lighter_config(
        write(tmp_path, {**flat, "api_key_index": 3, "api_key_private_key": SECRET}), env={}
    )
    assert cfg["api_keys"] == [{"api_key_index": 3, "api_key_private_key": SECRET}]
    with pytest.raises(ConfigError, match=r"'base_ulr' in \S+config.json; did you mean"):
        load_lighter_config(write(tmp_path, {"base_ulr": "http://x", "account_index": 7}))


def test_a_key_outside_the_section_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, {"Lighter": section(), "base_url": "http://127.0.0.1:1"})
    with pytest.raises(ConfigError, match="'base_url' is outside the 'Lighter' section"):
        load_lighter_config(path, env={})


def test_no_section_is_fine_when_env_supplies_all_else_it_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"Bybit": {"api_key": "x"}})
    env = {
        "LIGHTER_BASE_URL": "http://127.0.0.1:9",
        "LIGHTER_ACCOUNT_INDEX": "3",
        "LIGHTER_API_KEY_INDEX": "4",
        "LIGHTER_API_KEY": SECRET,
    }
    assert load_lighter_config(path, env=env)["account_index"] == 3
    del env["LIGHTER_ACCOUNT_INDEX"]
    with pytest.raises(ConfigError, match=r"has no 'Lighter' section .*'Bybit'.*account_index"):
        load_lighter_config(path, env=env)


# --- missing file -------------------------------------------------------------------------------


async def test_missing_file_says_the_file_is_missing(tmp_path: Path) -> None:
    with no_network():
        with pytest.raises(ConfigError, match=r"^config config\.json: file not found \(/"):
            await LighterDealer.from_config("config.json", symbol="ETH")
        with pytest.raises(ConfigError, match=r"nope\.json: file not found; and account_index"):
            load_lighter_config(tmp_path / "nope.json")
        with pytest.raises(ConfigError, match="file not found"):
            await WsInfo.run_overlay_from_config("config.json", {"symbol": "ETH"})
    env = {
        "LIGHTER_BASE_URL": "http://127.0.0.1:9",
        "LIGHTER_ACCOUNT_INDEX": "3",
        "LIGHTER_API_KEY_INDEX": "4",
        "LIGHTER_API_KEY": SECRET,
    }
    assert load_lighter_config("config.json", env=env)["account_index"] == 3
    with pytest.raises(ConfigError, match=r"^base_url missing"):  # path=None: no file was meant
        load_lighter_config(None, {"account_index": 1, "api_keys": {4: SECRET}}, env={})


# --- unknown overrides ----------------------------------------------------------------------


async def test_unknown_overrides_are_errors_naming_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, {"Lighter": section()})
    with no_network():
        with pytest.raises(ConfigError, match="'symbl' in the arguments; did you mean 'symbol'"):
            load_lighter_config(path, {"symbl": "ETH"})
        with pytest.raises(ConfigError, match=r"'standard_acount'.*'standard_account'"):
            await LighterDealer.from_config(path, symbol="ETH", standard_acount=False)
        with pytest.raises(ConfigError, match=r"'base_ulr'.*did you mean 'base_url'"):
            DealerConfig.from_config(path, base_ulr="http://127.0.0.1:1")
        with pytest.raises(ConfigError, match="'base_ulr' in DealerConfig fields; did you mean"):
            DealerConfig.from_mapping({"base_ulr": "http://127.0.0.1:1"})
        with pytest.raises(ConfigError, match=r"'order_boook'.*did you mean 'order_book'"):
            await WsInfo.run_overlay_from_config(str(path), {"order_boook": True})
    # WsInfo's own options and DealerConfig's fields are known overrides
    assert load_lighter_config(path, {"use_ws": False})["use_ws"] is False


# --- no default URL -----------------------------------------------------------------------------


async def test_base_url_is_never_defaulted(tmp_path: Path) -> None:
    path = write(tmp_path, {"Lighter": {k: v for k, v in section().items() if k != "base_url"}})
    ways = r"base_url missing: put \"base_url\" in .* under \"Lighter\", set LIGHTER_BASE_URL"
    with no_network():
        with pytest.raises(ConfigError, match=ways + r", or pass base_url="):
            load_lighter_config(path)
        with pytest.raises(ConfigError, match=ways):
            await LighterDealer.from_config(path, symbol="ETH")
        with pytest.raises(ConfigError, match="base_url missing: pass DealerConfig"):
            DealerConfig(account_index=1, api_key_index=4, api_key_private_key=SECRET)
        with pytest.raises(ConfigError, match=ways):
            await WsInfo.run_public_trades_simple(symbol="ETH")
        with pytest.raises(ConfigError, match=ways):
            await WsInfo.run_overlay(7, 4, SECRET, symbol="ETH")
        with pytest.raises(ConfigError, match="base_url missing"):
            await WsInfo(market_id=0, account_streams=False, public_trades=True).start()
        (tmp_path / "config.json").unlink()
        with pytest.raises(ConfigError, match=r"config.json: file not found.*base_url missing"):
            await WsInfo.run_public_trades_simple(symbol="ETH")


def test_resolve_base_url_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, {"Lighter": section("http://127.0.0.1:3")})
    env = {"LIGHTER_BASE_URL": "http://127.0.0.1:2"}
    assert resolve_base_url("http://127.0.0.1:1", path, env=env) == "http://127.0.0.1:1"
    assert resolve_base_url(None, path, env=env) == "http://127.0.0.1:2"
    assert resolve_base_url(None, path, env={}) == "http://127.0.0.1:3"


async def test_seed_public_trades_sample_takes_the_url_from_config_json(
    node: LocalNode, funded_account: DevAccount, tmp_path: Path
) -> None:
    """Seed 4.2/6: WsInfo factories without base_url= use config.json's (as the dealer does)."""
    acct = funded_account
    keys = [{"api_key_index": acct.api_key_index, "api_key_private_key": acct.private_key}]
    write(
        tmp_path,
        {"Lighter": section(node.base_url, account_index=acct.account_index, api_keys=keys)},
    )
    ws = await WsInfo.run_public_trades_simple(symbol="ETH")
    try:
        assert ws.base_url == node.base_url and ws.connection is not None
    finally:
        await ws.aclose()
    ws = await WsInfo.run_overlay(
        account_index=acct.account_index,
        api_key_index=acct.api_key_index,
        api_key_private_key=acct.private_key,
        symbol="ETH",
    )
    try:
        assert ws.base_url == node.base_url and ws.connection is not None
    finally:
        await ws.aclose()


# --- the mainnet INFO line ------------------------------------------------------------------


async def test_first_mainnet_connection_logs_one_info_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rest, "_announced", set())
    caplog.set_level(logging.INFO, logger="lighterfast.connect")
    assert note_connection("http://127.0.0.1:9") is False
    assert note_connection(P.TESTNET_URL) is False
    # a RestClient opens its session (no request is sent: nothing reaches the network)
    with no_network():
        client = RestClient(P.MAINNET_URL, limiter=WeightLimiter(60))
        client._ensure_session()
        await client.close()
    assert note_connection(P.MAINNET_URL) is False  # once per process
    assert note_connection("wss://mainnet.zklighter.elliot.ai/stream") is False  # same host
    lines = [r for r in caplog.records if r.name == "lighterfast.connect"]
    assert [r.levelno for r in lines] == [logging.INFO]
    assert P.MAINNET_URL in lines[0].getMessage() and "MAINNET" in lines[0].getMessage()


def test_mainnet_line_never_shows_userinfo(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rest, "_announced", set())
    caplog.set_level(logging.INFO, logger="lighterfast.connect")
    assert note_connection("https://user:hunter2@mainnet.zklighter.elliot.ai/") is True
    assert "hunter2" not in caplog.text and "mainnet.zklighter.elliot.ai" in caplog.text
