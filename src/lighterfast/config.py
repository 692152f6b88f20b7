"""Configuration: `DealerConfig` and the config.json / environment loader shared with WsInfo.

Precedence is call arguments > environment (`LIGHTER_BASE_URL`, `LIGHTER_ACCOUNT_INDEX`,
`LIGHTER_L1_KEY`, `LIGHTER_API_KEY_INDEX`, `LIGHTER_API_KEY`) > the file, whose shape is the
seed's `{"Lighter": {"base_url", "account_index", "l1_private_key", "api_keys": [...]}}`
(JSON with `//` and `/* */` comments and trailing commas accepted). A file without a
"Lighter" key may be the section itself (only Lighter keys at its top level); other sections
(other exchanges) are ignored. Typos are errors, never silently dropped: an unknown key in the
section, in an `api_keys` entry or among the keyword overrides, and a top-level object whose
name is close to "Lighter" ("lighter", "Lightr") when no "Lighter" exists, raise ConfigError
naming the closest known key. There is no default URL: `base_url` comes from the file,
LIGHTER_BASE_URL or an argument, so mainnet is only ever used when the user wrote it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Collection, Iterable, Mapping
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

SECTION = "Lighter"
# Keys the Lighter section may hold (api_key_index + api_key_private_key: the one-key form).
FILE_KEYS = (
    "base_url",
    "account_index",
    "l1_private_key",
    "api_keys",
    "api_key_index",
    "api_key_private_key",
)
KEY_ENTRY_KEYS = ("api_key_index", "api_key_private_key")
_SECTION_CUTOFF = 0.8  # "lighter", "Lightr", "LighterDEX" are typos; "Lighter_testnet" is not
_LONG_NAME = 40  # longer unknown names are shortened in messages (a pasted key is no name)


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


# --- unknown names -----------------------------------------------------------------------------


def _shown(name: object) -> str:
    """A key name fit for an error message (a long one may be a pasted secret: shortened)."""
    text = str(name)
    if len(text) > _LONG_NAME:
        return repr(f"{text[:6]}…({len(text)} chars)")
    return repr(text)


def unknown_key_error(name: object, known: Iterable[str], where: str) -> ConfigError:
    """ConfigError for an unknown key, naming the closest known one (difflib)."""
    known = sorted(set(known))
    close = difflib.get_close_matches(str(name), known, n=1)
    if not close:  # case typos ("Base_URL") are far apart for difflib
        lowered = {k.lower(): k for k in known}
        close = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), lowered, n=1)]
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return ConfigError(f"unknown key {_shown(name)} in {where}; {hint}")


def check_known_keys(data: Mapping[Any, Any], known: Collection[str], where: str) -> None:
    """Raise ConfigError (with a did-you-mean) for the first key of `data` not in `known`."""
    for name in data:
        if name not in known:
            raise unknown_key_error(name, known, where)


def _near_section(name: str) -> bool:
    """True for a top-level name that looks like a misspelled "Lighter" (any case)."""
    lowered = name.strip().lower()
    return bool(difflib.get_close_matches(lowered, [SECTION.lower()], n=1, cutoff=_SECTION_CUTOFF))


def _looks_flat(top: Mapping[str, Any]) -> bool:
    """True when the file's top level holds Lighter keys (or near misses of them) itself."""
    return any(
        name in FILE_KEYS or difflib.get_close_matches(name, FILE_KEYS, n=1, cutoff=0.8)
        for name in top
    )


def _section_of(top: dict[str, Any], where: str) -> tuple[dict[str, Any], str, str | None]:
    """(section, where, absent) for a parsed file: the "Lighter" object, or the file itself.

    `absent` is None when a section was found; otherwise it says why there is none (raised
    only if env/arguments leave a needed value unset, so files for other exchanges are fine).
    """
    if SECTION in top:
        section = top[SECTION]
        if not isinstance(section, dict):
            raise ConfigError(f"config {where}: 'Lighter' must be an object")
        for name in top:
            if name in FILE_KEYS:
                raise ConfigError(
                    f"config {where}: key {name!r} is outside the 'Lighter' section; move it"
                    ' inside "Lighter": {...}'
                )
        inside = f"{where} [Lighter]"
        check_known_keys(section, FILE_KEYS, inside)
        return section, inside, None
    for name, value in top.items():
        if isinstance(value, dict) and _near_section(name):
            raise ConfigError(
                f"config {where}: no 'Lighter' section but an object named {name!r}; did you"
                " mean 'Lighter'? (the section name is case-sensitive)"
            )
    if _looks_flat(top):  # the file is the section itself
        check_known_keys(top, FILE_KEYS, where)
        return top, where, None
    names = ", ".join(repr(k) for k in list(top)[:8]) or "none"
    return {}, where, f"has no 'Lighter' section (top-level keys: {names})"


def _read_section(
    path: str | os.PathLike[str] | None,
) -> tuple[dict[str, Any], str, str | None]:
    """(section, where, absent) of a config file; a missing file is `absent`, not an error."""
    if path is None:
        return {}, "config.json", None
    where = str(path)
    p = Path(path)
    if p.is_file():
        return _section_of(_parse_jsonc(p.read_text(encoding="utf-8"), where), where)
    if p.exists():
        raise ConfigError(f"config {where}: not a regular file")
    found = "file not found" if p.is_absolute() else f"file not found ({p.absolute()})"
    return {}, where, found


def _base_url_missing(where: str) -> str:
    """The message for an unset base_url: the three ways to set it (no default exists)."""
    return (
        f'base_url missing: put "base_url" in {where} under "Lighter", set {ENV_BASE_URL},'
        f" or pass base_url= (testnet {P.TESTNET_URL}, mainnet {P.MAINNET_URL});"
        " there is no default URL"
    )


def resolve_base_url(
    base_url: str | None = None,
    path: str | os.PathLike[str] | None = "config.json",
    *,
    env: Mapping[str, str] | None = None,
) -> str:
    """The URL to use: the argument, else LIGHTER_BASE_URL, else the file's base_url.

    Used where only a URL is needed (WsInfo's factories); ConfigError when none is written.
    """
    if base_url is not None:
        return base_url
    env = os.environ if env is None else env
    if env.get(ENV_BASE_URL):
        return env[ENV_BASE_URL]
    section, where, absent = _read_section(path)
    if section.get("base_url") is not None:
        return str(section["base_url"])
    message = _base_url_missing(where)
    if absent is not None:
        message = f"config {where}: {absent}; {message}"
    raise ConfigError(message)


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
        check_known_keys(entry, KEY_ENTRY_KEYS, f"{source} api_keys[{pos}]")
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
    accept: Collection[str] | None = None,
) -> dict[str, Any]:
    """Merge file < environment < overrides into one flat dict of Lighter settings.

    Returns `base_url`, `account_index`, `l1_private_key`, `api_keys` (list of
    `{api_key_index, api_key_private_key}`, primary first), `api_key_index`,
    `api_key_private_key` (the primary key), plus the other overrides passed through.
    `accept`: override names allowed besides the file's keys (default: DealerConfig's
    fields); any other is a ConfigError. A missing file is fine when env/overrides supply
    the account, a key and the URL; otherwise the error says the file is missing.
    """
    env = os.environ if env is None else env
    overrides = dict(overrides or {})
    allowed = set(FILE_KEYS) | set(_dealer_fields() if accept is None else accept)
    check_known_keys(overrides, allowed, "the arguments")
    file_data, where, absent = _read_section(path)

    def missing(message: str) -> ConfigError:
        """A missing value; when the file or its section is absent, that is the real cause."""
        if absent is None:
            return ConfigError(message)
        return ConfigError(f"config {where}: {absent}; and {message}")

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
    # alone (file next to api_keys, env or argument) selects the primary key among them.
    keys: list[dict[str, Any]] = []
    primary: Any = None
    if file_data.get("api_keys") is not None:
        keys = _normalise_keys(file_data["api_keys"], where)
        primary = file_data.get("api_key_index")
    elif file_data.get("api_key_private_key"):
        keys = _normalise_keys([{k: file_data.get(k) for k in KEY_ENTRY_KEYS}], where)
    if env.get(ENV_API_KEY):
        if not env.get(ENV_API_KEY_INDEX):
            raise ConfigError(f"{ENV_API_KEY} is set but {ENV_API_KEY_INDEX} is not")
        keys = _normalise_keys(
            [{"api_key_index": env[ENV_API_KEY_INDEX], "api_key_private_key": env[ENV_API_KEY]}],
            "environment",
        )
        primary = None
    elif env.get(ENV_API_KEY_INDEX):
        primary = env[ENV_API_KEY_INDEX]
    if overrides.get("api_keys") is not None:
        keys = _normalise_keys(overrides["api_keys"], "arguments")
        primary = None
    if overrides.get("api_key_private_key") is not None:
        if overrides.get("api_key_index") is None:
            raise ConfigError("api_key_private_key given without api_key_index")
        mine = _normalise_keys(
            [{k: overrides[k] for k in KEY_ENTRY_KEYS}],
            "arguments",
        )[0]
        keys = [mine] + [k for k in keys if k["api_key_index"] != mine["api_key_index"]]
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
        raise missing(
            f"account_index missing: put it in {where} under 'Lighter', set {ENV_ACCOUNT_INDEX},"
            " or pass account_index="
        )
    merged["account_index"] = _as_int(
        merged["account_index"], "account_index", 0, P.MAX_ACCOUNT_INDEX
    )
    if not keys:
        raise missing(
            f"no API key configured: add api_keys to {where}, set {ENV_API_KEY_INDEX} and"
            f" {ENV_API_KEY}, or pass api_key_index= and api_key_private_key="
        )
    if merged["base_url"] is None:
        raise missing(_base_url_missing(where))
    merged["api_keys"] = keys
    merged["api_key_index"] = keys[0]["api_key_index"]
    merged["api_key_private_key"] = keys[0]["api_key_private_key"]
    merged["base_url"] = str(merged["base_url"]).rstrip("/")
    for name, value in overrides.items():
        if name not in merged:
            merged[name] = value
    return merged


def _dealer_fields() -> frozenset[str]:
    """DealerConfig's field names (the overrides `load_lighter_config` accepts by default)."""
    return frozenset(f.name for f in fields(DealerConfig))


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
    `signer`: "native" (default: lighterfast's compiled signer with precomputed nonces,
    byte-exact with lighter-sdk's library, self-checked against it once per process, and
    switched to it on a venue's 21120) or "sdk" (lighter-sdk's Go library on a worker thread).
    `prefer_high_level` is accepted for seed compatibility and has no effect (one send path).
    `lazy_connect`: False (default) reads the node's markets at creation and raises
    NodeUnreachable at once when it cannot be reached; True starts anyway (static market table,
    with a WARNING) and connects at first use (`chain_id` is then needed for unknown hosts).
    `fleet`: a Redis-compatible server shared by the processes of one account (rate budget,
    API-key leases, COI slots; see "Running many bots"); `fleet_host` tags this host there.
    `base_url` is required (no default: mainnet is used only when written); `from_config`
    reads it from config.json or LIGHTER_BASE_URL.
    """

    base_url: str = ""  # required: "" (unset) raises ConfigError after the other checks
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
    pong_timeout: float = 3.0  # the dealer's socket is declared dead this long after a probe
    max_retries: int = 3
    signer: str = "native"
    lazy_connect: bool = False
    fleet: str | None = None  # redis://… of a fleet server (else LIGHTERFAST_FLEET_URL, else none)
    fleet_host: str | None = None  # this host's tag in the fleet's per-IP budget (default hostname)

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
        if self.coi_start is not None:
            self.coi_start = _as_int(self.coi_start, "coi_start", P.MIN_COI, P.MAX_COI)
        if self.coi_allocator is not None and not callable(self.coi_allocator):
            raise ConfigError("coi_allocator: expected a callable returning a fresh COI")
        if self.base_url is None or self.base_url == "":
            raise ConfigError(
                "base_url missing: pass DealerConfig(base_url=...), or use"
                " DealerConfig.from_config() / LighterDealer.from_config(), which read it from"
                f" config.json or {ENV_BASE_URL} (testnet {P.TESTNET_URL}, mainnet"
                f" {P.MAINNET_URL}); there is no default URL"
            )
        self.base_url = self.base_url.rstrip("/")

    def _check_plain_fields(self) -> None:
        """Type and range of every field that needs no other field; ConfigError names it."""
        if self.base_url not in (None, "") and (
            not isinstance(self.base_url, str)
            or not self.base_url.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"base_url: expected an http(s):// URL, got {self.base_url!r}")
        if self.ws_url is not None and (
            not isinstance(self.ws_url, str) or not self.ws_url.startswith(("ws://", "wss://"))
        ):
            raise ConfigError(f"ws_url: expected a ws(s):// URL, got {self.ws_url!r}")
        if self.symbol is not None and (not isinstance(self.symbol, str) or not self.symbol):
            raise ConfigError(f"symbol: expected a non-empty str, got {self.symbol!r}")
        if self.market_index is not None:
            self.market_index = _as_int(self.market_index, "market_index", 0, P.MAX_MARKET_INDEX)
            if self.market_index == P.ALL_MARKETS:
                raise ConfigError(f"market_index: {P.ALL_MARKETS} means all markets, not one")
        for name in ("price_scale", "size_scale", "base_scale"):
            if getattr(self, name) is not None:
                decimals_from_scale(getattr(self, name), name)
        for name in ("standard_account", "prefer_high_level", "use_ws", "lazy_connect"):
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
        for name in ("request_timeout", "pong_timeout"):
            value = getattr(self, name)
            if not _is_real(value) or not 0 < value < math.inf:
                raise ConfigError(f"{name}: expected seconds > 0, got {value!r}")
        self.max_retries = _as_int(self.max_retries, "max_retries", 0, 100)
        if self.fleet is not None and (
            not isinstance(self.fleet, str)
            or not self.fleet.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise ConfigError(
                f"fleet: expected a redis://, rediss:// or unix:// URL, got {self.fleet!r}"
            )
        if self.fleet_host is not None and (
            not isinstance(self.fleet_host, str) or not self.fleet_host.strip()
        ):
            raise ConfigError(f"fleet_host: expected a non-empty str, got {self.fleet_host!r}")
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
        check_known_keys(data, known, "DealerConfig fields")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name == "api_keys" and isinstance(value, list):
                value = {k["api_key_index"]: k["api_key_private_key"] for k in value}
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
