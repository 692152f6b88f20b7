"""Config loading: jsonc, precedence arguments > env > file, several keys, redacted repr."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lighterfast import DealerConfig
from lighterfast.config import load_lighter_config, strip_jsonc
from lighterfast.errors import ConfigError

SECRET_A = "0x" + "ab" * 40
SECRET_B = "0x" + "cd" * 40
SECRET_ENV = "0x" + "ef" * 40
LOCAL = "http://127.0.0.1:9"

SEED_JSONC = """
// the seed's example, with comments and a trailing comma
{
  "Lighter": {
    "base_url": "https://mainnet.zklighter.elliot.ai", // mainnet
    "account_index": 123456,
    "l1_private_key": "YOUR_L1_KEY",
    /* several API keys are allowed */
    "api_keys": [
      {"api_key_index": 2, "api_key_private_key": "SECRET_A"},
      {"api_key_index": 5, "api_key_private_key": "SECRET_B"},
    ]
  }
}
""".replace("SECRET_A", SECRET_A).replace("SECRET_B", SECRET_B)


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(SEED_JSONC)
    return path


def test_strip_jsonc_keeps_strings_intact() -> None:
    text = '{"url": "http://x//y", "c": "/* not a comment */", // end\n "n": [1,2,],}'
    assert json.loads(strip_jsonc(text)) == {
        "url": "http://x//y",
        "c": "/* not a comment */",
        "n": [1, 2],
    }


def test_file_only(seed_file: Path) -> None:
    cfg = load_lighter_config(seed_file, env={})
    assert cfg["base_url"] == "https://mainnet.zklighter.elliot.ai"
    assert cfg["account_index"] == 123456
    assert cfg["api_key_index"] == 2
    assert cfg["api_key_private_key"] == SECRET_A
    assert [k["api_key_index"] for k in cfg["api_keys"]] == [2, 5]


def test_env_beats_file_and_arguments_beat_env(seed_file: Path) -> None:
    env = {
        "LIGHTER_BASE_URL": "http://127.0.0.1:9999",
        "LIGHTER_ACCOUNT_INDEX": "77",
        "LIGHTER_API_KEY_INDEX": "9",
        "LIGHTER_API_KEY": SECRET_ENV,
        "LIGHTER_L1_KEY": "L1ENV",
    }
    cfg = load_lighter_config(seed_file, env=env)
    assert cfg["base_url"] == "http://127.0.0.1:9999"
    assert cfg["account_index"] == 77
    assert cfg["l1_private_key"] == "L1ENV"
    assert cfg["api_keys"] == [{"api_key_index": 9, "api_key_private_key": SECRET_ENV}]

    cfg = load_lighter_config(
        seed_file,
        {"account_index": 5, "base_url": "http://127.0.0.1:1/", "symbol": "BTC"},
        env=env,
    )
    assert cfg["account_index"] == 5
    assert cfg["base_url"] == "http://127.0.0.1:1"
    assert cfg["symbol"] == "BTC"  # other overrides pass through


def test_index_alone_selects_the_primary_key(seed_file: Path) -> None:
    cfg = load_lighter_config(seed_file, env={"LIGHTER_API_KEY_INDEX": "5"})
    assert cfg["api_key_index"] == 5 and cfg["api_key_private_key"] == SECRET_B
    assert [k["api_key_index"] for k in cfg["api_keys"]] == [5, 2]
    cfg = load_lighter_config(seed_file, {"api_key_index": 2}, env={"LIGHTER_API_KEY_INDEX": "5"})
    assert cfg["api_key_index"] == 2
    with pytest.raises(ConfigError, match="api_key_index 7"):
        load_lighter_config(seed_file, {"api_key_index": 7}, env={})


def test_argument_key_replaces_same_index(seed_file: Path) -> None:
    cfg = load_lighter_config(
        seed_file, {"api_key_index": 5, "api_key_private_key": SECRET_ENV}, env={}
    )
    assert cfg["api_keys"][0] == {"api_key_index": 5, "api_key_private_key": SECRET_ENV}
    assert [k["api_key_index"] for k in cfg["api_keys"]] == [5, 2]


def test_missing_file_is_fine_with_env(tmp_path: Path) -> None:
    env = {
        "LIGHTER_ACCOUNT_INDEX": "3",
        "LIGHTER_API_KEY_INDEX": "4",
        "LIGHTER_API_KEY": SECRET_A,
        "LIGHTER_BASE_URL": "http://127.0.0.1:9",
    }
    cfg = load_lighter_config(tmp_path / "absent.json", env=env)
    assert cfg["account_index"] == 3 and cfg["api_key_index"] == 4


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "invalid JSON"),
        ("[]", "top level"),
        ('{"Lighter": {"api_keys": []}}', "account_index missing"),
        ('{"Lighter": {"account_index": 1}}', "no API key"),
        ('{"Lighter": {"account_index": "x", "api_keys": []}}', "account_index"),
        (
            '{"Lighter": {"account_index": 1, "api_keys": [{"api_key_index": 300,'
            ' "api_key_private_key": "k"}]}}',
            "outside",
        ),
        (
            '{"Lighter": {"account_index": 1, "api_keys": [{"api_key_index": 4}]}}',
            "missing or empty",
        ),
    ],
)
def test_bad_files_raise_config_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_lighter_config(path, env={})


def test_dealer_config_repr_redacts_every_secret(
    seed_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = DealerConfig.from_config(seed_file, env={}, symbol="ETH")
    text = repr(cfg) + str(cfg)
    for secret in (SECRET_A, SECRET_B, "YOUR_L1_KEY"):
        assert secret not in text
    assert "<redacted>" in text
    assert cfg.api_keys == {2: SECRET_A, 5: SECRET_B}
    assert cfg.symbol == "ETH" and cfg.account_index == 123456
    logging.getLogger("t").warning("cfg %s", cfg)
    assert SECRET_A not in caplog.text


def test_dealer_config_validation() -> None:
    cfg = DealerConfig(
        base_url=LOCAL,
        account_index=1,
        api_key_index=4,
        api_key_private_key=SECRET_A,
        base_scale=100,
    )
    assert cfg.size_scale == 100 and cfg.api_keys == {4: SECRET_A}
    with pytest.raises(ConfigError, match="disagree"):
        DealerConfig(size_scale=10, base_scale=100)
    with pytest.raises(ConfigError, match="rounding"):
        DealerConfig(rounding="sideways")
    with pytest.raises(ConfigError, match="max_ws_batch"):
        DealerConfig(max_ws_batch=51)
    with pytest.raises(ConfigError, match="jitter_ms"):
        DealerConfig(jitter_ms=(10, 5))
    with pytest.raises(ConfigError, match="account_index is required"):
        DealerConfig(base_url=LOCAL).require_credentials()
    with pytest.raises(ConfigError, match="unknown key 'colour' in DealerConfig fields"):
        DealerConfig.from_mapping({"account_index": 1, "colour": "red"})
    with pytest.raises(TypeError):
        DealerConfig(1)  # type: ignore[misc]  # keyword-only


_NAN, _INF = float("nan"), float("inf")
_COMMON = [_NAN, _INF, "abc", 1.5, ("a",), object()]
_BAD_VALUES: dict[str, list[object]] = {
    "base_url": [None, "", "ftp://x", "127.0.0.1", 5, True],
    "ws_url": ["http://x", "", 5, True],
    "account_index": [*_COMMON, True, -1],
    "api_key_index": [*_COMMON, True, -1, 256],
    "symbol": ["", 5, True, ["ETH"]],
    "market_index": [*_COMMON, True, -1, 255, 2**48],
    "price_scale": [*_COMMON, True, 0, -100, 50],
    "size_scale": [*_COMMON, True, 0, -100, 50],
    "base_scale": [*_COMMON, True, 0, -100, 50],
    "standard_account": [None, 0, 1, "yes", _NAN],
    "prefer_high_level": [None, 0, "no"],
    "use_ws": [None, 1, "false"],
    "jitter_ms": [None, 5, (1,), (1, 2, 3), (5, 1), (-1, 2), (0, _NAN), (True, 2), "ab"],
    "max_ws_batch": [*_COMMON, True, None, 0, 51],
    "chain_id": [*_COMMON, True, -1],
    "rounding": [None, "sideways", 1],
    "market_slippage": [*_COMMON, True, None, -0.1, 1.0],
    "coi_cache_size": [*_COMMON, True, None, 0, -5],
    "coi_start": [*_COMMON, True, 0, 2**48],
    "rate_limit_per_minute": [*_COMMON, True, 0],
    "request_timeout": [_NAN, _INF, "abc", True, None, 0, -1],
    "pong_timeout": [_NAN, _INF, "abc", True, None, 0, -1],
    "fleet": ["", "http://x", 5, True, ["redis://x"]],
    "fleet_host": ["", "  ", 5, True],
    "max_retries": [*_COMMON, True, None, -1],
    "api_keys": [5, "abc", [1, 2], {"x": "k"}, {300: "k"}, {1: ""}],
}


@pytest.mark.parametrize("name", sorted(_BAD_VALUES))
def test_every_field_refuses_garbage_with_a_config_error_naming_it(name: str) -> None:
    for value in _BAD_VALUES[name]:
        with pytest.raises(ConfigError, match=name if name != "base_scale" else "scale"):
            DealerConfig(**{name: value})


def test_plain_values_from_json_are_normalised() -> None:
    cfg = DealerConfig(
        base_url=LOCAL,
        jitter_ms=[5, 9],  # type: ignore[arg-type]
        max_ws_batch="10",  # type: ignore[arg-type]
        market_index="3",  # type: ignore[arg-type]
        chain_id=304,
    )
    assert cfg.jitter_ms == (5, 9) and cfg.max_ws_batch == 10 and cfg.market_index == 3
    assert DealerConfig(base_url="http://127.0.0.1:1/").base_url == "http://127.0.0.1:1"
