"""`LocalNode`: the local Lighter node (REST + WebSocket on one loopback port).

Owns the acceptance pipeline of protocol §6.8 (parse, batch shape, account, key, signature
check, expiry, nonce, ranges), the per-key execution queues with configurable latency, the
book tick, WS keep-alive, dev accounts and read-only state views for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson
from aiohttp import web

from lighterfast import protocol as p

from .accounts import (
    DEFAULT_DEV_API_KEY_INDEX,
    MAX_DEV_KEYS,
    AccountRegistry,
    DevAccount,
    DevKey,
    KeyNonce,
    generate_key_pair,
)
from .channels import StreamHub
from .engine import Engine
from .faults import Faults
from .markets import DEFAULT_MARKETS, MarketSpec, check_market_set
from .ratelimit import RateLimits
from .shapes import order_json
from .txhash import signer_tx_hash
from .txparse import (
    EXPIRED_TX_CODE,
    ParsedTx,
    TxError,
    check_header_ranges,
    check_ranges,
    parse_tx,
    pseudo_tx_hash,
)
from .verify import NativeVerifier

# Execution latency per tier in ms (protocol §5.3); "taker" crosses the book, "maker" rests,
# "cancel" covers cancel / modify / cancel-all.
TIER_LATENCY_MS: dict[str, dict[str, float]] = {
    "standard": {"taker": 300.0, "maker": 0.0, "cancel": 300.0},
    "premium": {"taker": 140.0, "maker": 0.0, "cancel": 0.0},
    "plus": {"taker": 300.0, "maker": 200.0, "cancel": 200.0},
    "zero": {"taker": 0.0, "maker": 0.0, "cancel": 0.0},
}
TxHasher = Callable[[int, ParsedTx], str]
MAX_TX_RECORDS = 10_000  # tx lookups by hash (~1.3 kB each): minutes at demo or chaos pace
log = logging.getLogger("lighterfast.testnode")
# "signer": the real signed message hash (Poseidon2, ~0.4 ms per tx in pure Python), so
# replies carry the hash the signer printed, as on the venue. "fast": a 40-byte BLAKE2b of
# the tx_info text (not the venue's hash) for throughput benchmarks.
TX_HASH_MODES: dict[str, TxHasher] = {
    "signer": signer_tx_hash,
    "fast": lambda _chain, tx: pseudo_tx_hash(tx.info_str),
}
RATELIMIT_MESSAGE = '{"ratelimit": "Ratelimit is off"}'
VOLUME_QUOTA_REMAINING = 1000
AUTH_ERROR_HTTP_STATUS = 401
# §7.5: WS tx error frames. "error" = {"error":{code,message},"id"} (captured form);
# "typed" = {"type":"jsonapi/sendtx","code","message","id"}; "type_error" = {"type":"error",...}.
WS_TX_ERROR_STYLES = ("error", "typed", "type_error")


class SignatureVerifier(Protocol):
    """Pluggable signature check; the default is `verify.NativeVerifier` (compiled Schnorr)."""

    def verify_tx(self, chain_id: int, tx: ParsedTx, public_key: str) -> bool:
        """True when `tx.info["Sig"]` signs the tx for `public_key` on `chain_id`."""
        ...

    def verify_auth(self, message: str, signature_hex: str, public_key: str) -> bool:
        """True when the auth-token signature signs `message` ("deadline:account:key")."""
        ...


@dataclass(slots=True)
class _Queued:
    exec_at: float
    txs: list[ParsedTx]


class _Lane:
    """Execution queue of one (account, api key): txs run in nonce order."""

    __slots__ = ("handle", "last_exec_at", "queue")

    def __init__(self) -> None:
        self.queue: deque[_Queued] = deque()
        self.handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self.last_exec_at = 0.0


@dataclass(slots=True)
class Accepted:
    """Acceptance result: hashes to reply with, and the deferred execution trigger."""

    tx_hashes: list[str]
    predicted_execution_time_ms: int
    schedule: Callable[[], None]
    message: str = RATELIMIT_MESSAGE
    volume_quota_remaining: int | None = VOLUME_QUOTA_REMAINING  # None: the free tx (§5.2)


def _no_schedule() -> None:
    """Schedule hook of a tx held by the nonce window (nothing to do yet)."""


class NodeState:
    """Read-only views of the node for test assertions (copies; never live objects)."""

    def __init__(self, node: LocalNode) -> None:
        self._node = node

    @property
    def books(self) -> dict[int, dict[str, Any]]:
        """market -> {"bids": [(price, size)], "asks": [...], "nonce": int} (integers)."""
        eng = self._node.engine
        return {
            m: {"bids": b.levels(False), "asks": b.levels(True), "nonce": b.nonce}
            for m, b in eng.books.items()
        }

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        """Live orders: order_index -> Order object (as served on the wire)."""
        eng = self._node.engine
        return {i: order_json(o, eng.specs[o.market_index]) for i, o in eng.live.items()}

    @property
    def positions(self) -> dict[tuple[int, int], dict[str, int]]:
        """(account, market) -> {"size": signed int, "entry_quote": int, "realized_pnl": int}."""
        out: dict[tuple[int, int], dict[str, int]] = {}
        for a, acct in self._node.accounts.accounts.items():
            for m, pos in acct.positions.items():
                out[(a, m)] = {
                    "size": pos.size,
                    "entry_quote": pos.entry_quote,
                    "realized_pnl": pos.realized_pnl,
                }
        return out

    @property
    def nonces(self) -> dict[tuple[int, int], int]:
        """(account, api key) -> next nonce the node will accept."""
        return {
            (a, k): lane.accepted
            for a, acct in self._node.accounts.accounts.items()
            for k, lane in acct.nonces.items()
        }

    def executed_nonce(self, account_index: int, api_key_index: int) -> int:
        """Next nonce after the last executed tx of a key."""
        return self._node.accounts.accounts[account_index].nonces[api_key_index].executed

    def order_by_coi(self, account_index: int, coi: int) -> dict[str, Any] | None:
        """Latest order (live or terminal) with this COI, as served on the wire."""
        eng = self._node.engine
        o = eng.by_coi_any.get((account_index, coi))
        return None if o is None else order_json(o, eng.specs[o.market_index])

    def collateral(self, account_index: int) -> int:
        """Collateral in USDC micro-units."""
        return self._node.accounts.accounts[account_index].collateral

    def tx(self, tx_hash: str) -> dict[str, Any] | None:
        """Tx record (EnrichedTx shape) by hash."""
        rec = self._node.tx_records.get(tx_hash)
        return None if rec is None else dict(rec)


def _usdc_micro(value: float | int | str | Decimal) -> int:
    """Human USDC amount -> micro-units (ValueError naming `collateral`)."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"collateral: not a number: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"collateral must be a finite amount >= 0, got {value!r}")
    return int(d.scaleb(6))


class LocalNode:
    """A Lighter-compatible node on loopback for tests, benchmarks and demos.

    Rate limits (protocol §4.9/§5.1) are OFF unless `rate_limits` is a tier name
    ("standard", "premium", "plus") or a `RateLimits`; `node.rate_limits = None` turns them
    off at run time, `set_account_tier()` changes one L1 address.
    Faults: `node.faults` and `POST /dev/v1/faults`; `await node.restart()` rebinds the same
    port keeping all state. `keys_per_account`: API keys `create_account` gives each account
    (consecutive slots from 4, one nonce lane each; `DevAccount.keys`).

    Switches for the unconfirmed behaviours of protocol §7 (default = the doc's advice):

    * §7.1 `batch_cap`: 50 (documented 21514 cap); 15 = strict.
    * §7.2 `nonce_window`: 0 = strict (21104 unless next); N = txs up to N ahead are
      accepted and held until the gap fills.
    * §7.3 `next_nonce_mode`: "executed" (lags by the latency) or "accepted".
    * §7.4 `ws_tx_reply_extras`: False = WS tx replies without `message` /
      `volume_quota_remaining`; `ws_string_tx_info`: True = a string `tx_info` is accepted in
      a single WS sendtx (False: object only, 21501).
    * §7.5 `ws_tx_error_style`: "error" = `{"error":{..},"id"}`; "typed" =
      `{"type":"jsonapi/sendtx","code",..}`; "type_error" = `{"type":"error",..}`.
    * §7.6 `expired_tx_code`: 21501 for an `ExpiredAt` in the past (auth expiry: 20013, HTTP
      401, fixed); `cut_expired_subscriptions`: False = private subscriptions outlive their token.
    * §7.7 `private_channels`: channels needing `auth` (default `protocol.PRIVATE_CHANNELS`;
      `account_all` and `user_stats` public).
    * §7.8 `account_orders_channel`: "market_account" = `account_orders:{m}:{a}`; "market".
    * §7.9 `full_position_updates`: False = changed positions only; True = all.
    * §7.13 `ws_ping_interval` (60 s), `ws_pong_timeout`, `ws_idle_timeout` (120 s; only
      client data frames count, not RFC-6455 pings).
    * §7.14 `exec_latency_ms`: tier table `TIER_LATENCY_MS` or ms; modify keeps priority
      only on a pure size cut (fixed).
    * §7.15 `RateLimits(http_status=429|405, body="json"|"html")`.
    * `verify_signatures` (True): every tx signature (21120, nothing consumed) and auth token
      (20013) is checked against the registered API key; False only for node-throughput
      benchmarks. `signature_verifier` replaces the built-in check.
    * Fixed to the captured forms (no switch): order timestamps in seconds (§7.10), COI
      bound 2^48-1 (§7.12); §7.11: skip-nonce "4" honoured (no nonce consumed), self-trade
      "6" and cancel-all market "5" honoured, order version "8" accepted and not
      enforced; the `price_protection` form field is ignored.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chain_id: int = p.CHAIN_ID_MAINNET,
        markets: Sequence[MarketSpec] = DEFAULT_MARKETS,
        exec_latency_ms: float | Mapping[str, float] | str = "standard",
        book_tick_ms: float = 50.0,
        batch_cap: int = p.MAX_BATCH_DOCUMENTED,
        next_nonce_mode: str = "executed",
        nonce_window: int = 0,
        margin_check: bool = True,
        initial_nonce: int = 0,
        verify_signatures: bool = True,
        signature_verifier: SignatureVerifier | None = None,
        tx_hash_mode: str = "signer",
        tx_hasher: TxHasher | None = None,
        ws_ping_interval: float | None = 60.0,
        ws_pong_timeout: float = 30.0,
        ws_idle_timeout: float | None = p.WS_IDLE_TIMEOUT_S,
        house_liquidity_levels: int = 0,
        simulate_flow: bool = False,
        keys_per_account: int = 1,
        flow_interval_ms: float = 250.0,
        flow_seed: int | None = None,
        rate_limits: str | RateLimits | None = None,
        ws_tx_reply_extras: bool = False,
        ws_tx_error_style: str = "error",
        expired_tx_code: int = EXPIRED_TX_CODE,
        private_channels: frozenset[str] = p.PRIVATE_CHANNELS,
        ws_string_tx_info: bool = True,
        account_orders_channel: str = "market_account",
        full_position_updates: bool = False,
        cut_expired_subscriptions: bool = False,
    ) -> None:
        if next_nonce_mode not in ("executed", "accepted"):
            raise ValueError("next_nonce_mode must be 'executed' or 'accepted'")
        if batch_cap < 1:
            raise ValueError("batch_cap must be >= 1")
        if book_tick_ms < 0:
            raise ValueError("book_tick_ms must be >= 0")
        if nonce_window < 0:
            raise ValueError("nonce_window must be >= 0")
        if type(keys_per_account) is not int or not 1 <= keys_per_account <= MAX_DEV_KEYS:
            raise ValueError(f"keys_per_account must be 1..{MAX_DEV_KEYS}: {keys_per_account!r}")
        if account_orders_channel not in ("market_account", "market"):
            raise ValueError("account_orders_channel must be 'market_account' or 'market'")
        if ws_tx_error_style not in WS_TX_ERROR_STYLES:
            raise ValueError(f"ws_tx_error_style must be one of {WS_TX_ERROR_STYLES}")
        self.host = host
        self.port = port
        self.chain_id = chain_id
        self.markets = check_market_set(markets)
        self.latency = self._latency_table(exec_latency_ms)
        self.book_tick_ms = book_tick_ms
        self.batch_cap = batch_cap
        self.next_nonce_mode = next_nonce_mode
        self.nonce_window = nonce_window
        self.ws_tx_reply_extras = ws_tx_reply_extras
        self.ws_tx_error_style = ws_tx_error_style
        self.expired_tx_code = expired_tx_code
        self.rate_limits: RateLimits | None = (
            RateLimits(rate_limits) if isinstance(rate_limits, str) else rate_limits
        )
        if not verify_signatures and signature_verifier is not None:
            raise ValueError("signature_verifier given with verify_signatures=False")
        self.signature_verifier: SignatureVerifier | None = None
        if verify_signatures:
            self.signature_verifier = signature_verifier or NativeVerifier()
        if tx_hash_mode not in TX_HASH_MODES:
            raise ValueError(f"tx_hash_mode must be one of {sorted(TX_HASH_MODES)}")
        self.tx_hasher: TxHasher = tx_hasher or TX_HASH_MODES[tx_hash_mode]
        self.ws_ping_interval = ws_ping_interval
        self.ws_pong_timeout = ws_pong_timeout
        self.ws_idle_timeout = ws_idle_timeout
        self.house_liquidity_levels = house_liquidity_levels
        self.simulate_flow = simulate_flow
        self.keys_per_account = keys_per_account
        self.flow_interval_ms = flow_interval_ms
        self.flow_seed = flow_seed
        self.flow: Any = None  # the MarketFlow once `simulate_flow` runs (its house accounts)
        self.accounts = AccountRegistry(initial_nonce)
        self.engine = Engine(self.markets, self.accounts, margin_check=margin_check)
        self.hub = StreamHub(self.engine, self.check_auth)
        self.hub.private_channels = frozenset(private_channels)
        self.hub.account_orders_channel = account_orders_channel
        self.hub.full_position_updates = full_position_updates
        self.hub.cut_expired_subscriptions = cut_expired_subscriptions
        self.ws_string_tx_info = ws_string_tx_info
        self.hub.limits = lambda: self.rate_limits
        self.faults = Faults(self.hub)
        self.state = NodeState(self)
        self.tx_records: dict[str, dict[str, Any]] = {}
        # Tx records kept for lookups by hash (oldest trimmed first); a long-running demo
        # lowers it so that its memory stays flat (chaos checks need every tx of a run).
        self.max_tx_records = MAX_TX_RECORDS
        self.contract_address = "0x3B4D794a66304F130a4Db8F2551B0070dfCf5ca7"
        self._lanes: dict[tuple[int, int], _Lane] = {}
        # nonce_window > 0: txs ahead of the expected nonce wait here until the gap is filled.
        self._held: dict[tuple[int, int], dict[int, tuple[list[ParsedTx], float]]] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dev_accounts: list[DevAccount] = []
        self._bg: set[asyncio.Future[Any]] = set()
        # Extra test hook (the built-in limits are `rate_limits`): called before every REST
        # handler with (endpoint, remote address, request); a returned TxError is sent instead.
        self.request_hook: Callable[[str, str, Any], TxError | None] | None = None
        # Same for every WebSocket client frame: (session, decoded frame) -> error frame or None.
        self.ws_hook: Callable[[Any, dict[str, Any]], TxError | None] | None = None

    @staticmethod
    def _latency_table(value: float | Mapping[str, float] | str) -> dict[str, float]:
        if isinstance(value, str):
            if value not in TIER_LATENCY_MS:
                raise ValueError(f"exec_latency_ms: unknown tier {value!r}")
            return dict(TIER_LATENCY_MS[value])
        if isinstance(value, Mapping):
            table = dict(TIER_LATENCY_MS["zero"])
            for k, v in value.items():
                if k not in table or v < 0:
                    raise ValueError(f"exec_latency_ms: bad entry {k!r}={v!r}")
                table[k] = float(v)
            return table
        if value < 0:
            raise ValueError("exec_latency_ms must be >= 0")
        return {"taker": float(value), "maker": float(value), "cancel": float(value)}

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """REST base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """WebSocket URL (base + /stream)."""
        return f"ws://{self.host}:{self.port}{p.WS_PATH}"

    async def start(self) -> None:
        """Bind the port and start the timers."""
        self._loop = asyncio.get_running_loop()
        await self._serve()
        self._tasks.append(asyncio.create_task(self._tick_loop()))
        self._tasks.append(asyncio.create_task(self._ws_watchdog()))
        if self.house_liquidity_levels:
            self._seed_house_liquidity(self.house_liquidity_levels)
        if self.simulate_flow:
            self._tasks.append(asyncio.create_task(self._flow_loop()))

    async def _serve(self) -> None:
        """Bind the listener (the same port again after a restart)."""
        from .server import build_app

        app = build_app(self)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]

    async def restart(self, down_s: float = 0.0, close_code: int = 1012) -> None:
        """Close every socket and the listener, then listen again on the same port.

        Accounts, keys, nonces, orders, positions, queued executions and timers are kept (a
        process restart with persistent state); `down_s` keeps the port closed that long.
        """
        if self._runner is None:
            raise RuntimeError("node is not running")
        await self.faults.close_all(close_code, "restart")
        await self._runner.cleanup()
        self._runner = None
        if down_s > 0:
            await asyncio.sleep(down_s)
        await self._serve()

    async def stop(self) -> None:
        """Close every socket, stop timers, release the port."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        for lane in self._lanes.values():
            if lane.handle is not None:
                lane.handle.cancel()
        await self.faults.close_all(1001, "node stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- accounts -------------------------------------------------------------------------
    async def create_account(
        self,
        collateral: float | int | str | Decimal = 100_000,
        *,
        api_key_index: int = DEFAULT_DEV_API_KEY_INDEX,
        keys: int | None = None,
    ) -> DevAccount:
        """New funded account with `keys` (default `keys_per_account`) fresh API key pairs in
        consecutive slots from `api_key_index`, each its own nonce lane."""
        micro = _usdc_micro(collateral)
        count = self.keys_per_account if keys is None else keys
        last = api_key_index + count - 1
        if not p.MIN_API_KEY_INDEX <= api_key_index <= p.MAX_API_KEY_INDEX:
            raise ValueError(f"api_key_index must be 0..254, got {api_key_index}")
        if type(count) is not int or count < 1 or last > p.MAX_API_KEY_INDEX:
            raise ValueError(
                f"keys: {count!r} keys from slot {api_key_index} do not fit in slots 0..254"
            )
        pairs = [await generate_key_pair() for _ in range(count)]
        acct = self.accounts.create(micro)
        for slot, (_, public_key) in enumerate(pairs, api_key_index):
            self.accounts.register_key(acct, slot, public_key)
        (private_key, public_key), *rest = pairs
        more = tuple(DevKey(slot, *pair) for slot, pair in enumerate(rest, api_key_index + 1))
        dev = DevAccount(acct.index, api_key_index, private_key, public_key, more)
        self.dev_accounts.append(dev)
        return dev

    async def add_api_key(
        self, account_index: int, api_key_index: int, public_key: str | None = None
    ) -> tuple[str | None, str]:
        """Register another key slot; returns (private key or None if given, public key)."""
        acct = self.accounts.get(account_index)
        if acct is None:
            raise ValueError(f"account_index {account_index} not found")
        private_key: str | None = None
        if public_key is None:
            private_key, public_key = await generate_key_pair()
        self.accounts.register_key(acct, api_key_index, public_key)
        return private_key, public_key

    def set_collateral(self, account_index: int, collateral: float | int | str | Decimal) -> None:
        """Set an account's collateral (human USDC)."""
        acct = self.accounts.get(account_index)
        if acct is None:
            raise ValueError(f"account_index {account_index} not found")
        acct.collateral = _usdc_micro(collateral)

    def _seed_house_liquidity(self, levels: int) -> None:
        """Rest `levels` bids and asks per market from a house account around start_price."""
        house = self.accounts.create(10**15)
        now_us = self.engine.now_us()
        expiry = int(time.time() * 1000) + p.DEFAULT_ORDER_EXPIRY_MS
        for spec in self.markets:
            mid = int(Decimal(spec.start_price).scaleb(spec.price_decimals))
            if mid <= 0:
                continue
            tick = max(1, mid // 10_000)
            size = max(spec.min_base_int * 10, 1)
            for i in range(1, levels + 1):
                for is_ask, px in ((1, mid + i * tick), (0, mid - i * tick)):
                    if px <= 0:
                        continue
                    self.engine.create_order(
                        house,
                        {
                            "MarketIndex": spec.market_index,
                            "ClientOrderIndex": 0,
                            "BaseAmount": size,
                            "Price": px,
                            "IsAsk": is_ask,
                            "Type": p.ORDER_TYPE_LIMIT,
                            "TimeInForce": p.TIF_GTT,
                            "ReduceOnly": 0,
                            "TriggerPrice": 0,
                            "OrderExpiry": expiry,
                        },
                        now_us,
                    )
        self.engine.take_changes()

    # --- auth -----------------------------------------------------------------------------
    def check_auth(self, token: str, account_index: int | None) -> TxError | None:
        """Validate an auth token for `account_index`; None when fine, else a 20013 error."""
        parts = token.split(":")
        if len(parts) != 4 or not all(x.lstrip("-").isdigit() for x in parts[:3]):
            return TxError(p.ERR_INVALID_AUTH, "invalid auth: malformed token", 401)
        deadline, account, key = int(parts[0]), int(parts[1]), int(parts[2])
        now = time.time()
        if not now < deadline <= now + p.AUTH_TOKEN_MAX_LIFETIME_S:
            return TxError(p.ERR_INVALID_AUTH, None, AUTH_ERROR_HTTP_STATUS)
        if account_index is not None and account != account_index:
            return TxError(p.ERR_INVALID_AUTH, "invalid auth: account index mismatch", 401)
        acct = self.accounts.get(account)
        if acct is None or key not in acct.api_keys:
            return TxError(p.ERR_INVALID_AUTH, "invalid auth: api key not found", 401)
        verifier = self.signature_verifier
        if verifier is not None:
            message = ":".join(parts[:3])
            if not verifier.verify_auth(message, parts[3], acct.api_keys[key]):
                return TxError(p.ERR_INVALID_AUTH, "invalid auth: invalid signature", 401)
        return None

    # --- acceptance -----------------------------------------------------------------------
    def _market_ok(self, m: int) -> bool:
        return m in self.engine.specs

    def accept(
        self, raw: list[tuple[object, object]], *, batch: bool, remote: str | None = None
    ) -> Accepted:
        """Run the §6.8 checks; on success consume nonces and return the reply data.

        Raises TxError with nothing consumed. Execution starts when the caller invokes
        `Accepted.schedule()` (after its reply is written, so the reply comes first).
        `remote` is the client IP for the rate limits (None = not charged per IP).
        """
        if self.faults.forced_tx_errors:
            code, msg, status = self.faults.forced_tx_errors.pop(0)
            raise TxError(code, msg, status)
        if batch and len(raw) > self.batch_cap:
            raise TxError(
                p.ERR_BATCH_TOO_LARGE, f"maximum {self.batch_cap} transactions allowed per batch"
            )
        if not raw:
            raise TxError(p.ERR_INVALID_TX_INFO)
        txs = [parse_tx(t, i) for t, i in raw]
        first = txs[0]
        for tx in txs:
            check_header_ranges(tx)
        if batch and len(txs) > 1:
            for tx in txs[1:]:
                if (
                    tx.account_index != first.account_index
                    or tx.api_key_index != first.api_key_index
                ):
                    raise TxError(p.ERR_BATCH_MIXED_KEYS)
            for a, b in itertools.pairwise(txs):
                if b.nonce != a.nonce + 1:
                    raise TxError(p.ERR_BATCH_NONCE_NOT_INCREASING)
        acct = self.accounts.get(first.account_index)
        if acct is None:
            raise TxError(p.ERR_ACCOUNT_NOT_FOUND)
        public_key = acct.api_keys.get(first.api_key_index)
        if public_key is None:
            raise TxError(p.ERR_API_KEY_NOT_FOUND)
        verifier = self.signature_verifier
        if verifier is not None:
            for tx in txs:
                if not verifier.verify_tx(self.chain_id, tx, public_key):
                    raise TxError(p.ERR_INVALID_SIGNATURE)
        now_ms = int(time.time() * 1000)
        for tx in txs:
            if tx.expired_at <= now_ms:
                raise TxError(self.expired_tx_code)
        key = (acct.index, first.api_key_index)
        lane_nonce = acct.nonces[first.api_key_index]
        skip = first.attributes.get(p.ATTR_SKIP_NONCE) == 1
        hold = False
        if not skip:
            if first.nonce != lane_nonce.accepted:
                hold = self._may_hold(key, lane_nonce.accepted, txs)
                if not hold:
                    raise TxError(p.ERR_INVALID_NONCE)
            elif key in self._held and self._overlaps_held(key, txs):
                raise TxError(p.ERR_INVALID_NONCE)  # would reuse a waiting tx's nonce
        limits = self.rate_limits
        if limits is not None:
            err = limits.check_request(
                "sendTxBatch" if batch else "sendTx", remote, acct.l1_address
            )
            if err is not None:
                raise err
        market_ok = self._market_ok
        for tx in txs:
            check_ranges(tx, now_ms, market_ok, self.engine.cancel_all_min_delay_ms)
        quota = None
        if limits is not None:
            quota = limits.charge_quota(
                acct.l1_address, [tx.tx_type for tx in txs], acct.volume_quote
            )
        # Accepted: consume and record.
        released: list[tuple[list[ParsedTx], float]] = []
        if not skip and not hold:
            lane_nonce.accepted = txs[-1].nonce + 1
            held = self._held.get(key)
            while held and lane_nonce.accepted in held:
                item = held.pop(lane_nonce.accepted)
                released.append(item)
                lane_nonce.accepted = item[0][-1].nonce + 1
        hasher = self.tx_hasher
        chain = self.chain_id
        hashes: list[str] = []
        records = self.tx_records
        for tx in txs:
            h = hasher(chain, tx)
            tx.tx_hash = h
            hashes.append(h)
            records[h] = {
                "code": 200,
                "hash": h,
                "type": tx.tx_type,
                "info": tx.info_str,
                "event_info": "{}",
                "status": 1,
                "transaction_index": 0,
                "l1_address": acct.l1_address,
                "account_index": acct.index,
                "nonce": tx.nonce,
                "expire_at": tx.expired_at,
                "block_height": 0,
                "queued_at": now_ms,
                "executed_at": 0,
                "sequence_index": 0,
                "parent_hash": "",
                "api_key_index": tx.api_key_index,
                "transaction_time": now_ms * 1000,
                "committed_at": 0,
                "verified_at": 0,
            }
        cap = self.max_tx_records
        if len(records) > cap + cap // 10:  # trim in chunks, oldest first
            for old in list(itertools.islice(records, len(records) - cap)):
                del records[old]
        delay = max(self._latency_of(tx) for tx in txs)
        if hold:
            self._held.setdefault(key, {})[first.nonce] = (txs, delay)
            # Scheduled by the tx that fills the gap.
            accepted = Accepted(hashes, now_ms + int(delay), _no_schedule)
        else:

            def schedule() -> None:
                self._enqueue(key, txs, delay)
                for later, later_delay in released:
                    self._enqueue(key, later, later_delay)

            accepted = Accepted(hashes, now_ms + int(delay), schedule)
        if quota is not None:
            accepted.message = f'{{"ratelimit": "{quota[0]}"}}'
            accepted.volume_quota_remaining = quota[1]
        return accepted

    def _may_hold(self, key: tuple[int, int], expected: int, txs: list[ParsedTx]) -> bool:
        """True when `nonce_window` lets txs ahead of `expected` wait for the gap (§7.2)."""
        w = self.nonce_window
        first = txs[0].nonce
        if not w or not expected < first <= expected + w:
            return False
        return not self._overlaps_held(key, txs)  # overlapping a waiting tx: a replay

    def _overlaps_held(self, key: tuple[int, int], txs: list[ParsedTx]) -> bool:
        first, last = txs[0].nonce, txs[-1].nonce
        return any(
            start <= last and first <= held[-1].nonce
            for start, (held, _) in self._held.get(key, {}).items()
        )

    def set_account_tier(self, account_index: int, tier: str) -> None:
        """Rate-limit tier ("standard", "premium", "plus") of an account's L1 address."""
        acct = self.accounts.get(account_index)
        if acct is None:
            raise ValueError(f"account_index {account_index} not found")
        if self.rate_limits is None:
            raise ValueError("rate limits are off on this node")
        self.rate_limits.set_tier(acct.l1_address, tier)

    def _latency_of(self, tx: ParsedTx) -> float:
        t = tx.tx_type
        lat = self.latency
        if t == p.TX_TYPE_CREATE_ORDER:
            info = tx.info
            book = self.engine.books.get(info["MarketIndex"])
            if book is None:
                return lat["maker"]
            if info["IsAsk"]:
                best = book.best_bid()
                crosses = best is not None and best >= info["Price"]
            else:
                best = book.best_ask()
                crosses = best is not None and best <= info["Price"]
            return lat["taker"] if crosses or info["Type"] == p.ORDER_TYPE_MARKET else lat["maker"]
        if t == p.TX_TYPE_CREATE_GROUPED_ORDERS:
            return lat["taker"]
        return lat["cancel"]

    def _enqueue(self, key: tuple[int, int], txs: list[ParsedTx], delay_ms: float) -> None:
        loop = self._loop or asyncio.get_running_loop()
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        now = loop.time()
        exec_at = max(now + delay_ms / 1000.0, lane.last_exec_at)
        lane.last_exec_at = exec_at
        lane.queue.append(_Queued(exec_at, txs))
        if lane.handle is None:
            if exec_at <= now:
                lane.handle = loop.call_soon(self._run_lane, key)
            else:
                lane.handle = loop.call_at(exec_at, self._run_lane, key)

    def _run_lane(self, key: tuple[int, int]) -> None:
        loop = self._loop or asyncio.get_running_loop()
        lane = self._lanes[key]
        lane.handle = None
        now = loop.time()
        q = lane.queue
        while q and q[0].exec_at <= now:
            item = q.popleft()
            try:
                self.execute(item.txs)
            except Exception:  # keep the lane alive; the failure is a node bug, logged
                log.exception("testnode: execution failed")
        if q:
            lane.handle = loop.call_at(q[0].exec_at, self._run_lane, key)

    def execute(self, txs: list[ParsedTx]) -> None:
        """Execute accepted txs in order, then publish what changed."""
        eng = self.engine
        now_us = eng.now_us()
        records = self.tx_records
        acct = self.accounts.get(txs[0].account_index)
        lane: KeyNonce | None = acct.nonces.get(txs[0].api_key_index) if acct else None
        for tx in txs:
            ae = eng.execute(tx.tx_type, tx.info, now_us)
            rec = records.get(tx.tx_hash)
            if rec is not None:
                rec["status"] = 2
                rec["block_height"] = eng.block_height
                rec["executed_at"] = now_us // 1000
                rec["transaction_time"] = now_us
                rec["sequence_index"] = eng.block_height
                if ae:
                    rec["event_info"] = orjson.dumps(
                        {
                            "ae": orjson.dumps(
                                {"code": ae, "message": p.ERROR_MESSAGES.get(ae, "error")}
                            ).decode()
                        }
                    ).decode()
                eng.changes.txs.append(rec)
            if lane is not None and tx.attributes.get(p.ATTR_SKIP_NONCE) != 1:
                lane.executed = max(lane.executed, tx.nonce + 1)
        self.publish_engine_changes(now_us)

    def publish_engine_changes(self, now_us: int) -> None:
        """Fire triggers hit by new trades, then send the frames for everything that changed."""
        eng = self.engine
        changes = eng.take_changes()
        if changes.trades:
            for m in {t.market_index for t in changes.trades}:
                eng.run_triggers(m, now_us)
            more = eng.take_changes()
            changes.orders.update(
                {a: {**changes.orders.get(a, {}), **o} for a, o in more.orders.items()}
            )
            changes.trades.extend(more.trades)
            changes.positions |= more.positions
            changes.accounts |= more.accounts
            changes.markets |= more.markets
        self.hub.publish_changes(changes)
        if self.book_tick_ms == 0:
            self.hub.flush_all_books()

    def next_nonce(self, account_index: int, api_key_index: int) -> int:
        """`nextNonce` value per `next_nonce_mode`; TxError for unknown account/key."""
        acct = self.accounts.get(account_index)
        if acct is None:
            raise TxError(p.ERR_ACCOUNT_NOT_FOUND)
        lane = acct.nonces.get(api_key_index)
        if lane is None:
            raise TxError(p.ERR_API_KEY_NOT_FOUND)
        return lane.executed if self.next_nonce_mode == "executed" else lane.accepted

    # --- timers ---------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        """Book deltas every tick; expiries and scheduled cancel-alls; height."""
        interval = (self.book_tick_ms or 50.0) / 1000.0
        n = 0
        while True:
            await asyncio.sleep(interval)
            n += 1
            eng = self.engine
            eng.sweep(int(time.time() * 1000))
            ch = eng.take_changes()
            if not ch.empty():
                self.hub.publish_changes(ch)
            self.hub.flush_all_books()
            if n % 2 == 0:
                self.hub.publish_height()

    async def _flow_loop(self) -> None:
        """Simulated market activity (house maker and taker) every `flow_interval_ms`."""
        from .flow import MarketFlow

        flow = self.flow = MarketFlow(self, self.flow_seed)
        while True:
            await asyncio.sleep(self.flow_interval_ms / 1000)
            flow.step()

    async def _ws_watchdog(self) -> None:
        """Server pings, `no pong` closes (1008) and idle closes (1000)."""
        ping = orjson.dumps({"type": "ping"})
        while True:
            await asyncio.sleep(0.25)
            self.hub.expire_subscriptions(time.time())
            now = time.monotonic()
            for s in list(self.hub.sessions):
                if s.closed:
                    continue
                idle = self.ws_idle_timeout
                if idle is not None and now - s.last_client_frame > idle:
                    self._background(s.close(1000, b"idle"))
                    continue
                since = s.ping_outstanding_since
                if since is not None and now - since > self.ws_pong_timeout:
                    self._background(s.close(1008, b"no pong"))
                    continue
                interval = self.ws_ping_interval
                if interval is not None and since is None and now - s.last_server_ping >= interval:
                    s.last_server_ping = now
                    s.ping_outstanding_since = now
                    s.send(ping)

    def _background(self, coro: Any) -> None:
        """Run a coroutine as a task the node keeps a reference to."""
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)
