"""REST transport: one aiohttp session per client; every request passes the WeightLimiter.

The limiter is charged before a request leaves (waiting with jitter rather than provoking
HTTP 429); a 429/405 or code 23000 that still happens backs off and retries the same request
(for tx sends a rejected batch consumed nothing, so resending it is safe).
The first connection of the process to the mainnet host logs one INFO line naming it
(`note_connection`, also called by the WebSocket transport).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from .. import protocol as P
from .._checks import check_flag, check_int, check_seconds
from ..errors import LighterError, NotSent, OutcomeUnknown, RateLimited, TxRejected
from ..log import SafeLogger
from ..wire import error_from_code, sendtx_batch_form
from .budget import Budget, budget_for

API_PREFIX = "/api/v1/"
# Backoff after a 429 that got through anyway: the API-server block lasts
# weight / (budget / 60) s (§5.1); we wait at least this, doubling per retry, capped.
MIN_429_BACKOFF_S = 0.05
MAX_429_BACKOFF_S = 60.0  # firewall blocks are a static 60 s (§5.1)

TX_ENDPOINTS = frozenset({"sendTx", "sendTxBatch"})
# Raised before any byte of a request left (no connection made; aiohttp >= 3.10 names the
# connect timeout): a send that fails with one of these consumed nothing.
_NOT_SENT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError,) + (
    (aiohttp.ConnectionTimeoutError,) if hasattr(aiohttp, "ConnectionTimeoutError") else ()
)

AuthSource = str | Callable[[], Awaitable[str]] | None

MAINNET_HOST = urlsplit(P.MAINNET_URL).hostname
_connect_log = logging.getLogger("lighterfast.connect")
_announced: set[str] = set()  # mainnet hosts already announced by this process
_announced_lock = threading.Lock()


def is_mainnet_url(url: str) -> bool:
    """True when `url` (http(s) or ws(s)) points at the Lighter mainnet host."""
    try:
        return urlsplit(url).hostname == MAINNET_HOST
    except ValueError:
        return False


def note_connection(url: str) -> bool:
    """Log once per process (per mainnet host) that connections go to mainnet; True if now.

    Called where every REST session and WebSocket is opened, so real-funds use is never silent.
    """
    if not is_mainnet_url(url):
        return False
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # never log userinfo
    with _announced_lock:
        if host in _announced:
            return False
        _announced.add(host)
    _connect_log.info(
        "connecting to Lighter MAINNET (real funds): %s://%s%s", parts.scheme, host, parts.path
    )
    return True


SHARED_BUDGET: Any = object()  # RestClient's default limiter: the process's shared budget


class RestClient:
    """Rate-limited REST client for a Lighter node (keep-alive session, orjson bodies).

    `limiter` is shared with anything else that spends the same budget (the dealer's WS tx
    frames); standard accounts pay `protocol.standard_cost` per request, premium accounts
    the endpoint weight. `tx_limiter`, when given, is charged instead for sendTx/sendTxBatch:
    premium tiers have a separate per-L1-address budget for transactions (§5.1), so reads
    and sends do not starve each other; standard accounts share one bucket (leave it None).
    `limiter` may be a `budget.Budget` (the process's shared budget of an account: its
    limiters and tier are used, and `close()` releases it); left out, the host's token-free
    budget from `budget.budget_for`. Pass a bare limiter only for a budget of its own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        limiter: Any = SHARED_BUDGET,
        tx_limiter: Any = None,
        standard_account: bool = True,
        jitter_ms: tuple[int, int] = (50, 150),
        timeout: float = 10.0,
        max_retries: int = 3,
        logger: SafeLogger | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected an http(s):// URL, got {base_url!r}")
        shared = budget_for(base_url) if limiter is SHARED_BUDGET else limiter
        self._budget = shared if isinstance(shared, Budget) else None
        if self._budget is not None:
            limiter = self._budget.limiter
            tx_limiter = tx_limiter or self._budget.tx_limiter
            standard_account = self._budget.standard_account
        for name, lim in (("limiter", limiter), ("tx_limiter", tx_limiter)):
            if lim is None and name == "tx_limiter":
                continue
            if not callable(getattr(lim, "try_acquire", None)):
                raise TypeError(f"{name}: expected a WeightLimiter, got {type(lim).__name__}")
        if not isinstance(jitter_ms, (tuple, list)) or len(jitter_ms) != 2:
            raise TypeError(f"jitter_ms: expected (low, high) milliseconds, got {jitter_ms!r}")
        lo = check_seconds("jitter_ms low", jitter_ms[0], zero_ok=True)
        if check_seconds("jitter_ms high", jitter_ms[1], zero_ok=True) < lo:
            raise ValueError(f"jitter_ms: expected low <= high, got {jitter_ms!r}")
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.tx_limiter = tx_limiter
        self.standard_account = check_flag("standard_account", standard_account)
        self.jitter_ms = jitter_ms
        self.timeout = check_seconds("timeout", timeout)
        self.max_retries = check_int("max_retries", max_retries, 0, 100)
        self.log = logger or SafeLogger()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.requests_sent = 0  # HTTP requests that left (observability, tests)
        self.rate_limited_replies = 0  # 429-class replies received
        self.limiter_waits = 0  # times a request had to wait for budget

    def __repr__(self) -> str:
        return f"RestClient(base_url={self.base_url!r}, standard_account={self.standard_account})"

    # --- budget ---------------------------------------------------------------------------
    def cost(self, endpoint: str) -> int:
        """Limiter units one request to `endpoint` costs for this account tier."""
        if self.standard_account:
            return P.standard_cost(endpoint)
        return P.endpoint_weight(endpoint)

    def _limiter_for(self, endpoint: str) -> Any:
        if self.tx_limiter is not None and endpoint in TX_ENDPOINTS:
            return self.tx_limiter
        return self.limiter

    def try_acquire_now(self, endpoint: str) -> bool:
        """Take one request to `endpoint` from the limiter if it fits now (no wait, no
        coroutine); False: nothing taken, `await acquire_missed(endpoint)` waits for it."""
        return bool(self._limiter_for(endpoint).try_acquire(self.cost(endpoint)))

    async def acquire(self, endpoint: str) -> None:
        """Wait (with jitter) until the limiter grants one request to `endpoint`."""
        if not self.try_acquire_now(endpoint):
            await self.acquire_missed(endpoint)

    async def acquire_missed(self, endpoint: str) -> None:
        """Wait until the limiter grants one request to `endpoint`, after `try_acquire_now`
        found no room (a fleet budget reserves and waits by itself; else jittered sleeps)."""
        weight = self.cost(endpoint)
        limiter = self._limiter_for(endpoint)
        while True:
            slow = getattr(limiter, "acquire_async", None)
            if slow is not None:  # a fleet budget: it reserves and waits by itself
                self.limiter_waits += 1
                await slow(weight)
                return
            wait = limiter.wait_time(weight)
            lo, hi = self.jitter_ms
            wait += random.uniform(lo, hi) / 1000.0
            self.limiter_waits += 1
            self.log.info("rate budget exhausted for %s; waiting %.3f s", endpoint, wait)
            await asyncio.sleep(wait)
            if limiter.try_acquire(weight):
                return

    # --- session ----------------------------------------------------------------------------
    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise LighterError("RestClient is closed")
        if self._session is None or self._session.closed:
            note_connection(self.base_url)
            connector = aiohttp.TCPConnector(
                limit=32, ttl_dns_cache=300, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                json_serialize=lambda o: orjson.dumps(o).decode(),
            )
        return self._session

    async def close(self) -> None:
        """Close the session (and release the shared budget); idempotent."""
        self._closed = True
        budget, self._budget = self._budget, None
        if budget is not None:
            budget.release()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- requests ---------------------------------------------------------------------------
    @staticmethod
    async def _auth_header(auth: AuthSource) -> dict[str, str] | None:
        if auth is None:
            return None
        token = auth if isinstance(auth, str) else await auth()
        return {"Authorization": token}

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        auth: AuthSource = None,
    ) -> dict[str, Any]:
        """One counted request (`endpoint` under /api/v1/, or a path from the root such as "/"):
        the JSON body, or TxRejected / NonceError / RateLimited."""
        url = self.base_url + (endpoint if endpoint.startswith("/") else API_PREFIX + endpoint)
        query = None
        if params:
            query = {k: _param(v) for k, v in params.items() if v is not None}
        attempt = 0
        while True:
            await self.acquire(endpoint)
            granted = time.monotonic()
            limiter = self._limiter_for(endpoint)
            ref_of = getattr(limiter, "grant_ref", None)
            ref = ref_of() if ref_of is not None else ""  # read before any other grant
            headers = await self._auth_header(auth)
            session = self._ensure_session()
            self.requests_sent += 1
            try:
                async with session.request(
                    method, url, params=query, data=dict(form) if form else None, headers=headers
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
                    retry_after = resp.headers.get("Retry-After")
                # The node counted the request before it answered: a fleet budget keeps its
                # reservations at least this much longer than the window (issue 14).
                if ref_of is not None:
                    limiter.note_latency(time.monotonic() - granted, ref)
            except _NOT_SENT_ERRORS as exc:
                # No connection was made, so no byte of the request left: nothing consumed.
                raise NotSent(f"{method} {endpoint}: {type(exc).__name__}: {exc}") from exc
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                # Cut or timed out after the request may have left: the outcome is unknown.
                raise OutcomeUnknown(f"{method} {endpoint}: {type(exc).__name__}: {exc}") from exc
            body = _decode(raw)
            code = body.get("code") if body is not None else None
            if status in (429, 405) or code == P.ERR_TOO_MANY_REQUESTS:
                self.rate_limited_replies += 1
                attempt += 1
                delay = self._backoff(endpoint, attempt, retry_after)
                if attempt > self.max_retries:
                    raise RateLimited(
                        f"{endpoint}: HTTP {status} rate limited after {attempt} tries",
                        retry_after=delay,
                    )
                self.log.warning(
                    "%s: HTTP %s rate limited; backing off %.3f s (retry %d/%d)",
                    endpoint,
                    status,
                    delay,
                    attempt,
                    self.max_retries,
                )
                await asyncio.sleep(delay)
                continue
            if endpoint in TX_ENDPOINTS and (
                body is None or status >= 500 or (status < 300 and code is None)
            ):
                # A 5xx, an unreadable body (a proxy's HTML page) or a 200 without a code says
                # nothing about acceptance: the tx may be live (never roll its nonce back).
                what = "non-JSON" if body is None else "server error" if code else "codeless"
                raise OutcomeUnknown(f"{endpoint}: HTTP {status} {what} reply")
            if body is None:
                raise TxRejected(0, f"{endpoint}: non-JSON reply", http_status=status)
            if status >= 400 or (isinstance(code, int) and code != 200):
                err_code = code if isinstance(code, int) else 0
                raise error_from_code(err_code, str(body.get("message", "")), http_status=status)
            return body

    def _backoff(self, endpoint: str, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait after the `attempt`-th rate-limited reply."""
        budget = (
            P.STANDARD_REQUESTS_PER_MINUTE
            if self.standard_account
            else (P.PREMIUM_WEIGHT_PER_MINUTE)
        )
        base = max(MIN_429_BACKOFF_S, self.cost(endpoint) / (budget / P.RATE_WINDOW_S))
        if retry_after:
            try:
                base = max(base, float(retry_after))
            except ValueError:
                pass
        lo, hi = self.jitter_ms
        delay = base * (2 ** (attempt - 1)) + random.uniform(lo, hi) / 1000.0
        return min(delay, MAX_429_BACKOFF_S)

    async def get(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, auth: AuthSource = None
    ) -> dict[str, Any]:
        """Counted GET /api/v1/<endpoint>."""
        return await self.request("GET", endpoint, params=params, auth=auth)

    async def post_form(
        self, endpoint: str, form: Mapping[str, Any], *, auth: AuthSource = None
    ) -> dict[str, Any]:
        """Counted POST /api/v1/<endpoint> with an urlencoded form body."""
        return await self.request("POST", endpoint, form=form, auth=auth)

    # --- typed helpers --------------------------------------------------------------------
    async def network_id(self) -> int:
        """The node's chain id (`GET /`, counted: the venue counts it against the IP too)."""
        body = await self.get("/")
        network_id = body.get("network_id")
        if type(network_id) is not int or network_id <= 0:
            raise TxRejected(0, "GET /: reply without a positive integer network_id")
        return network_id

    async def next_nonce(self, account_index: int, api_key_index: int) -> int:
        """The node's next nonce for one API key (weight 6)."""
        body = await self.get(
            "nextNonce", {"account_index": account_index, "api_key_index": api_key_index}
        )
        nonce = body.get("nonce")
        if isinstance(nonce, bool) or not isinstance(nonce, int):
            raise TxRejected(0, "nextNonce: reply without an integer nonce")
        return nonce

    async def send_tx_batch(
        self, tx_types: Sequence[int], tx_infos: Sequence[str]
    ) -> dict[str, Any]:
        """POST sendTxBatch (form fields are JSON strings, §1.2); the body has a tx_hash list."""
        return await self.post_form("sendTxBatch", sendtx_batch_form(tx_types, tx_infos))

    async def send_tx(self, tx_type: int, tx_info: str) -> dict[str, Any]:
        """POST sendTx with one signed transaction."""
        return await self.post_form("sendTx", {"tx_type": str(tx_type), "tx_info": tx_info})


def _param(value: Any) -> str:
    """Query-string spelling of a parameter (bools lower-case as the API expects)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(raw: bytes) -> dict[str, Any] | None:
    """Parse a JSON object body; None for empty or non-JSON (e.g. a firewall HTML page)."""
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def monotonic() -> float:
    """The limiter's clock (exposed so tests and callers agree on it)."""
    return time.monotonic()
