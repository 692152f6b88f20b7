"""Configuration: `DealerConfig` and the config.json / environment loader shared with WsInfo.

Precedence is call arguments > environment (`LIGHTER_BASE_URL`, `LIGHTER_ACCOUNT_INDEX`,
`LIGHTER_L1_KEY`, `LIGHTER_API_KEY_INDEX`, `LIGHTER_API_KEY`) > the file, whose shape is the
seed's `{"Lighter": {"base_url", "account_index", "l1_private_key", "api_keys": [...]}}`
(JSON with `//` and `/* */` comments and trailing commas accepted).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from . import protocol as P
from .errors import ConfigError
from .markets import decimals_from_scale

ENV_BASE_URL = "LIGHTER_BASE_URL"
ENV_ACCOUNT_INDEX = "LIGHTER_ACCOUNT_INDEX"
ENV_L1_KEY = "LIGHTER_L1_KEY"
ENV_API_KEY_INDEX = "LIGHTER_API_KEY_INDEX"
ENV_API_KEY = "LIGHTER_API_KEY"

ROUNDING_MODES = ("nearest", "up", "down", "exact")
REDACTED = "<redacted>"


# --- JSON with comments ----------------------------------------------------------------------


def strip_jsonc(text: str) -> str:
    """Remove `//` and `/* */` comments and trailing commas outside strings (jsonc → JSON)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end  # keep the newline so line numbers stay right
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ConfigError("config: unterminated /* comment")
            out.append("\n" * text.count("\n", i, end))
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return _TRAILING_COMMA.sub(r"\1", "".join(out))


# A comma followed only by whitespace and a closing bracket (strings are already safe: the
# pattern cannot start inside one because it needs `,` then `]`/`}` with nothing else between).
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")


def _parse_jsonc(text: str, path: str) -> dict[str, Any]:
    """Parse jsonc text into a dict, with errors that name the file."""
    try:
        data = orjson.loads(strip_jsonc(text))
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"config {path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: top level must be an object")
    return data


# --- the loader --------------------------------------------------------------------------------


def _is_real(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _as_int(value: Any, name: str, lo: int, hi: int) -> int:
    """Coerce a config value (int or decimal string) to an int in [lo, hi]."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected an integer, got a bool")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}: expected an integer, got {type(value).__name__}") from None
    if isinstance(value, float) and value != number:
        raise ConfigError(f"{name}: expected an integer, got a fraction")
    if not lo <= number <= hi:
        raise ConfigError(f"{name}: {number} is outside {lo}..{hi}")
    return number


def _normalise_keys(raw: Any, source: str) -> list[dict[str, Any]]:
    """Validate an `api_keys` list (or `{index: key}` mapping) into [{api_key_index, ...}]."""
    if isinstance(raw, Mapping):
        raw = [{"api_key_index": k, "api_key_private_key": v} for k, v in raw.items()]
    if not isinstance(raw, (list, tuple)):
        raise ConfigError(f"api_keys ({source}): expected a list of objects")
    keys: list[dict[str, Any]] = []
    seen: set[int] = set()
    for pos, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"api_keys[{pos}] ({source}): expected an object")
        index = _as_int(
            entry.get("api_key_index"),
            f"api_keys[{pos}].api_key_index",
            P.MIN_API_KEY_INDEX,
            P.MAX_API_KEY_INDEX,
        )
        secret = entry.get("api_key_private_key")
        if not isinstance(secret, str) or not secret.strip():
            raise ConfigError(f"api_keys[{pos}].api_key_private_key ({source}): missing or empty")
        if index in seen:
            raise ConfigError(f"api_keys ({source}): api_key_index {index} appears twice")
        seen.add(index)
        keys.append({"api_key_index": index, "api_key_private_key": secret.strip()})
    return keys


def load_lighter_config(
    path: str | os.PathLike[str] | None = "config.json",
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge file < environment < overrides into one flat dict of Lighter settings.

    Returns `base_url`, `account_index`, `l1_private_key`, `api_keys` (list of
    `{api_key_index, api_key_private_key}`, primary first), `api_key_index`,
    `api_key_private_key` (the primary key), plus every other override passed through.
    A missing file is fine when env/overrides supply the account and a key.
    """
    env = os.environ if env is None else env
    overrides = dict(overrides or {})
    file_data: dict[str, Any] = {}
    where = str(path) if path is not None else "<none>"
    if path is not None:
        p = Path(path)
        if p.is_file():
            top = _parse_jsonc(p.read_text(encoding="utf-8"), where)
            section = top.get("Lighter", top)
            if not isinstance(section, dict):
                raise ConfigError(f"config {where}: 'Lighter' must be an object")
            file_data = dict(section)
        elif p.exists():
            raise ConfigError(f"config {where}: not a regular file")

    merged: dict[str, Any] = {}
    # base_url / account_index / l1_private_key: plain precedence.
    for name, env_name in (
        ("base_url", ENV_BASE_URL),
        ("account_index", ENV_ACCOUNT_INDEX),
        ("l1_private_key", ENV_L1_KEY),
    ):
        value = file_data.get(name)
        if env.get(env_name):
            value = env[env_name]
        if overrides.get(name) is not None:
            value = overrides[name]
        merged[name] = value

    # API keys: the highest source that names a private key defines the key list; an index
    # alone (env or argument) selects the primary key among the keys of the lower sources.
    keys: list[dict[str, Any]] = []
    if file_data.get("api_keys") is not None:
        keys = _normalise_keys(file_data["api_keys"], where)
    elif file_data.get("api_key_private_key"):
        keys = _normalise_keys([file_data], where)
    primary: Any = None
    if env.get(ENV_API_KEY):
        if not env.get(ENV_API_KEY_INDEX):
            raise ConfigError(f"{ENV_API_KEY} is set but {ENV_API_KEY_INDEX} is not")
        keys = _normalise_keys(
            [{"api_key_index": env[ENV_API_KEY_INDEX], "api_key_private_key": env[ENV_API_KEY]}],
            "environment",
        )
    elif env.get(ENV_API_KEY_INDEX):
        primary = env[ENV_API_KEY_INDEX]
    if overrides.get("api_keys") is not None:
        keys = _normalise_keys(overrides["api_keys"], "arguments")
        primary = None
    if overrides.get("api_key_private_key") is not None:
        if overrides.get("api_key_index") is None:
            raise ConfigError("api_key_private_key given without api_key_index")
        keys = [k for k in keys if k["api_key_index"] != int(overrides["api_key_index"])]
        keys.insert(
            0,
            _normalise_keys(
                [
                    {
                        "api_key_index": overrides["api_key_index"],
                        "api_key_private_key": overrides["api_key_private_key"],
                    }
                ],
                "arguments",
            )[0],
        )
        primary = None
    elif overrides.get("api_key_index") is not None:
        primary = overrides["api_key_index"]
    if primary is not None:
        wanted = _as_int(primary, "api_key_index", P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)
        match = [k for k in keys if k["api_key_index"] == wanted]
        if not match:
            raise ConfigError(
                f"api_key_index {wanted} was selected but no private key for it is configured"
            )
        keys = match + [k for k in keys if k["api_key_index"] != wanted]

    if merged["account_index"] is None:
        raise ConfigError(
            f"account_index missing: put it in {where} under 'Lighter', set {ENV_ACCOUNT_INDEX},"
            " or pass account_index="
        )
    merged["account_index"] = _as_int(
        merged["account_index"], "account_index", 0, P.MAX_ACCOUNT_INDEX
    )
    if not keys:
        raise ConfigError(
            f"no API key configured: add api_keys to {where}, set {ENV_API_KEY_INDEX} and"
            f" {ENV_API_KEY}, or pass api_key_index= and api_key_private_key="
        )
    merged["api_keys"] = keys
    merged["api_key_index"] = keys[0]["api_key_index"]
    merged["api_key_private_key"] = keys[0]["api_key_private_key"]
    if merged["base_url"] is None:
        merged["base_url"] = P.MAINNET_URL
    merged["base_url"] = str(merged["base_url"]).rstrip("/")
    for name, value in overrides.items():
        if name not in merged:
            merged[name] = value
    return merged


# --- DealerConfig ------------------------------------------------------------------------------

SIGNER_KINDS = ("sdk", "native")

_SECRET_FIELDS = frozenset({"api_key_private_key", "l1_private_key", "api_keys"})


@dataclass(kw_only=True)
class DealerConfig:
    """Everything a `LighterDealer` needs; secrets are redacted in `repr()`.

    Fields beyond the seed's (each optional):
    `api_keys` more `{api_key_index: private_key}` nonce lanes, used in rotation (the primary
    key is always one of them); `chain_id` (default: from the URL, else the node's `GET /`);
    `ws_url` (default base_url + /stream); `use_ws` (send tx batches over the dealer's own
    WebSocket, REST while it is down); `rounding` for prices: nearest/up/down, or exact (refuse
    values with more decimals than the market); `market_slippage` (fraction added to the best
    price for market orders without avg_execution_price); `price_source` (a WsInfo or any
    object with get_order_book(market)/get_ltp(); else one REST orderBookOrders read);
    `coi_cache_size` (live-order view capacity); `coi_start` (issue COIs start, start+1, …
    instead of the time-based allocator; the caller keeps them unique across runs);
    `coi_allocator` (any zero-argument callable returning a fresh COI; wins over coi_start);
    `rate_limit_per_minute` (override the tier's
    budget); `request_timeout` (s); `max_retries` (after HTTP 429 / code 23000).
    `signer`: "sdk" (default: lighter-sdk's Go library on a worker thread) or "native"
    (lighterfast's compiled signer, byte-exact with the SDK's and ~14x faster; opt-in).
    `prefer_high_level` is accepted for seed compatibility and has no effect (one send path).
    """

    base_url: str = P.MAINNET_URL
    account_index: int | None = None
    api_key_index: int | None = None
    api_key_private_key: str | None = field(default=None, repr=False)
    l1_private_key: str | None = field(default=None, repr=False)
    symbol: str | None = None
    market_index: int | None = None
    price_scale: int | None = None
    size_scale: int | None = None
    base_scale: int | None = None  # alias of size_scale (the seed accepts both)
    standard_account: bool = True
    jitter_ms: tuple[int, int] = (50, 150)
    max_ws_batch: int = P.MAX_BATCH_STRICT
    prefer_high_level: bool = False
    logger: Any = None
    # --- lighterfast additions (documented in the README) ---
    api_keys: dict[int, str] | None = field(default=None, repr=False)
    chain_id: int | None = None
    ws_url: str | None = None
    use_ws: bool = True
    rounding: str = "nearest"
    market_slippage: float = 0.01
    price_source: Any = None
    coi_cache_size: int = 65536
    coi_start: int | None = None
    coi_allocator: Any = None
    rate_limit_per_minute: int | None = None
    request_timeout: float = 10.0
    max_retries: int = 3
    signer: str = "sdk"

    def __post_init__(self) -> None:
        self._check_plain_fields()
        if self.base_scale is not None:
            if self.size_scale is not None and self.size_scale != self.base_scale:
                raise ConfigError("size_scale and base_scale disagree; pass only one")
            self.size_scale = self.base_scale
        if self.account_index is not None:
            self.account_index = _as_int(
                self.account_index, "account_index", 0, P.MAX_ACCOUNT_INDEX
            )
        keys: dict[int, str] = {}
        if self.api_key_index is not None:
            self.api_key_index = _as_int(
                self.api_key_index, "api_key_index", P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX
            )
            if self.api_key_private_key:
                keys[self.api_key_index] = self.api_key_private_key
        for index, secret in (self.api_keys or {}).items():
            idx = _as_int(index, "api_keys index", P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)
            if not isinstance(secret, str) or not secret:
                raise ConfigError(f"api_keys[{idx}]: private key missing or empty")
            keys.setdefault(idx, secret)
        if self.api_key_index is None and keys:
            self.api_key_index = next(iter(keys))
            self.api_key_private_key = keys[self.api_key_index]
        self.api_keys = keys or None
        self.base_url = self.base_url.rstrip("/")
        if self.coi_start is not None:
            self.coi_start = _as_int(self.coi_start, "coi_start", P.MIN_COI, P.MAX_COI)
        if self.coi_allocator is not None and not callable(self.coi_allocator):
            raise ConfigError("coi_allocator: expected a callable returning a fresh COI")

    def _check_plain_fields(self) -> None:
        """Type and range of every field that needs no other field; ConfigError names it."""
        if not isinstance(self.base_url, str) or not self.base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"base_url: expected an http(s):// URL, got {self.base_url!r}")
        if self.ws_url is not None and (
            not isinstance(self.ws_url, str) or not self.ws_url.startswith(("ws://", "wss://"))
        ):
            raise ConfigError(f"ws_url: expected a ws(s):// URL, got {self.ws_url!r}")
        if self.symbol is not None and (not isinstance(self.symbol, str) or not self.symbol):
            raise ConfigError(f"symbol: expected a non-empty str, got {self.symbol!r}")
        if self.market_index is not None:
            self.market_index = _as_int(
                self.market_index, "market_index", 0, P.MAX_SPOT_MARKET_INDEX
            )
        for name in ("price_scale", "size_scale", "base_scale"):
            if getattr(self, name) is not None:
                decimals_from_scale(getattr(self, name), name)
        for name in ("standard_account", "prefer_high_level", "use_ws"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        if self.signer not in SIGNER_KINDS:
            raise ConfigError(f"signer: expected one of {SIGNER_KINDS}, got {self.signer!r}")
        if self.rounding not in ROUNDING_MODES:
            raise ConfigError(f"rounding: expected one of {ROUNDING_MODES}, got {self.rounding!r}")
        jitter = self.jitter_ms
        if (
            not isinstance(jitter, (tuple, list))
            or len(jitter) != 2
            or not all(_is_real(x) for x in jitter)
            or not 0 <= jitter[0] <= jitter[1]
        ):
            raise ConfigError(
                f"jitter_ms: expected (low, high) with 0 <= low <= high, got {jitter!r}"
            )
        self.jitter_ms = (jitter[0], jitter[1])
        self.max_ws_batch = _as_int(self.max_ws_batch, "max_ws_batch", 1, P.MAX_BATCH_DOCUMENTED)
        if self.chain_id is not None:
            self.chain_id = _as_int(self.chain_id, "chain_id", 0, 2**32 - 1)
        if not _is_real(self.market_slippage) or not 0 <= self.market_slippage < 1:
            raise ConfigError(
                f"market_slippage: expected a fraction in [0, 1), got {self.market_slippage!r}"
            )
        self.coi_cache_size = _as_int(self.coi_cache_size, "coi_cache_size", 1, 2**31 - 1)
        if self.rate_limit_per_minute is not None:
            self.rate_limit_per_minute = _as_int(
                self.rate_limit_per_minute, "rate_limit_per_minute", 1, 10**9
            )
        if not _is_real(self.request_timeout) or not 0 < self.request_timeout < math.inf:
            raise ConfigError(
                f"request_timeout: expected seconds > 0, got {self.request_timeout!r}"
            )
        self.max_retries = _as_int(self.max_retries, "max_retries", 0, 100)
        if self.api_keys is not None and not isinstance(self.api_keys, Mapping):
            raise ConfigError("api_keys: expected a mapping {api_key_index: private_key}")

    def require_credentials(self) -> None:
        """Raise ConfigError unless the account and at least one API key are set."""
        if self.account_index is None:
            raise ConfigError("DealerConfig.account_index is required")
        if not self.api_keys:
            raise ConfigError(
                "DealerConfig needs api_key_index and api_key_private_key (or api_keys)"
            )

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS:
                if value is None:
                    shown = "None"
                elif f.name == "api_keys":
                    shown = "{" + ", ".join(f"{k}: {REDACTED!r}" for k in value) + "}"
                else:
                    shown = repr(REDACTED)
            else:
                shown = repr(value)
            parts.append(f"{f.name}={shown}")
        return f"DealerConfig({', '.join(parts)})"

    __str__ = __repr__

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DealerConfig:
        """Build from a `load_lighter_config` result; unknown keys raise ConfigError."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name == "api_keys" and isinstance(value, list):
                value = {k["api_key_index"]: k["api_key_private_key"] for k in value}
            if name not in known:
                raise ConfigError(f"unknown DealerConfig field {name!r}")
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = "config.json",
        *,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> DealerConfig:
        """Load config.json + env + overrides (arguments win) into a DealerConfig."""
        return cls.from_mapping(load_lighter_config(path, overrides, env=env))
