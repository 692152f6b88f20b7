"""Rate limits of the local node (protocol §4.9, §5.1): rolling-window budgets per IP and per L1.

An independent implementation (not the client's `WeightLimiter`) so that the node checks the
client's own accounting. REST: standard = 60 requests per rolling minute (with the §5.1
"24 000 / weight < 60" exception as a higher cost), premium 24 000 / plus 120 000 weight;
premium/plus `sendTx`/`sendTxBatch` go to a separate per-L1 bucket with no IP limit. WebSocket:
client messages (not tx frames) per minute, unanswered subscribe requests, subscriptions per
connection, connections and new connections per IP. Refusals are `TxError`s (HTTP 429 + 23000).
Opt-in (`volume_quota=True`): premium accounts spend the §5.2 volume quota. Not modelled:
per-tx-type limits (40/min default, withdrawals 2/min, ...), order-count caps, REST refusals
also limiting WS (and back), the firewall's static 60 s block (the window is the cooldown).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from lighterfast import protocol as p

from .txparse import TxError

TIERS = ("standard", "premium", "plus")
# Per-L1 and per-IP budget of one rolling window (standard counts requests, the others weight).
TIER_BUDGET: dict[str, int] = {
    "standard": p.STANDARD_REQUESTS_PER_MINUTE,
    "premium": p.PREMIUM_WEIGHT_PER_MINUTE,
    "plus": p.PLUS_WEIGHT_PER_MINUTE,
}
# Premium / Plus sendTx + sendTxBatch requests per window (own per-L1 bucket; §5.1, 0 LIT staked).
TIER_TX_BUDGET: dict[str, int] = {"premium": 4_000, "plus": 8_000}
TX_ENDPOINTS = frozenset({"sendTx", "sendTxBatch"})
WS_NEW_CONNECTIONS_PER_MINUTE = 80
RATE_LIMIT_HTML = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
# §5.2 volume quota (premium): which txs consume it, start, earn rate, cap, free-tx interval.
QUOTA_TX_TYPES = frozenset(
    {
        p.TX_TYPE_CREATE_ORDER,
        p.TX_TYPE_CANCEL_ALL_ORDERS,
        p.TX_TYPE_MODIFY_ORDER,
        p.TX_TYPE_CREATE_GROUPED_ORDERS,
    }
)
QUOTA_START = 1_000
QUOTA_USDC_MICRO_PER_UNIT = 3_000_000  # +1 per $3 traded
QUOTA_CAP = 5_000_000
QUOTA_FREE_INTERVAL_S = 15.0
QUOTA_EXHAUSTED_MESSAGE = "Not enough volume quota remaining"  # code unconfirmed (§5.2 [U])


class RollingWindow:
    """Costs taken in the last `window_s` seconds; a take that would exceed `budget` is refused.

    An entry taken at time t counts while now < t + window_s. Refused takes cost nothing.
    """

    __slots__ = ("budget", "events", "used", "window_s")

    def __init__(self, budget: int, window_s: float) -> None:
        self.budget = budget
        self.window_s = window_s
        self.events: deque[tuple[float, int]] = deque()
        self.used = 0

    def _expire(self, now: float) -> None:
        events = self.events
        horizon = now - self.window_s
        while events and events[0][0] <= horizon:
            self.used -= events.popleft()[1]

    def room(self, cost: int, now: float) -> bool:
        """True when `cost` fits in the window at `now` (nothing taken)."""
        self._expire(now)
        return self.used + cost <= self.budget

    def take(self, cost: int, now: float) -> None:
        """Record `cost` at `now` (call after `room`)."""
        self.events.append((now, cost))
        self.used += cost


class RateLimits:
    """Switchable rate limits of one node; `enabled=False` (or `node.rate_limits = None`) = off.

    `tier` is the default tier of every L1 address and the tier of every IP bucket;
    `set_tier(l1, tier)` changes one address. `clock` (monotonic seconds) is replaceable so
    tests can roll the window without waiting a minute.
    """

    def __init__(
        self,
        tier: str = "standard",
        *,
        window_s: float = p.RATE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        http_status: int = 429,
        body: str = "json",
        ws_messages_per_minute: int | None = p.WS_MAX_MESSAGES_PER_MINUTE,
        ws_max_inflight: int | None = p.WS_MAX_INFLIGHT,
        ws_max_subscriptions: int | None = p.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
        ws_max_connections: int | None = p.WS_MAX_CONNECTIONS,
        ws_new_connections_per_minute: int | None = WS_NEW_CONNECTIONS_PER_MINUTE,
        tx_budget: Callable[[str], int] | None = None,
        volume_quota: bool = False,
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"rate limit tier must be one of {TIERS}, got {tier!r}")
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        if http_status not in (429, 405):
            raise ValueError("http_status must be 429 or 405")
        if body not in ("json", "html"):
            raise ValueError("body must be 'json' or 'html'")
        self.enabled = True
        self.tier = tier
        self.window_s = window_s
        self.clock = clock
        self.http_status = http_status
        self.body = body
        self.ws_messages_per_minute = ws_messages_per_minute
        self.ws_max_inflight = ws_max_inflight
        self.ws_max_subscriptions = ws_max_subscriptions
        self.ws_max_connections = ws_max_connections
        self.ws_new_connections_per_minute = ws_new_connections_per_minute
        self._tx_budget = tx_budget or (lambda t: TIER_TX_BUDGET[t])
        self.tiers: dict[str, str] = {}  # l1 address (lower case) -> tier
        self.refusals: dict[int, int] = {}  # error code -> refusals so far (for assertions)
        self.volume_quota = volume_quota  # opt-in: premium accounts spend the §5.2 quota
        self.quota_used: dict[str, int] = {}  # l1 (lower case) -> volume quota spent
        self._quota_free_at: dict[str, float] = {}
        self._ip: dict[tuple[str, str], RollingWindow] = {}
        self._l1: dict[tuple[str, str], RollingWindow] = {}  # (l1, tier) -> window
        self._l1_tx: dict[tuple[str, str], RollingWindow] = {}
        self._ws_msgs: dict[str, RollingWindow] = {}
        self._ws_conns: dict[str, RollingWindow] = {}

    # --- configuration --------------------------------------------------------------------
    def set_tier(self, l1_address: str, tier: str) -> None:
        """Tier of one L1 address (its budget restarts empty in the new tier)."""
        if tier not in TIERS:
            raise ValueError(f"rate limit tier must be one of {TIERS}, got {tier!r}")
        self.tiers[l1_address.lower()] = tier

    def set_default_tier(self, tier: str) -> None:
        """Default tier (every IP bucket and every L1 address without its own tier)."""
        if tier not in TIERS:
            raise ValueError(f"rate limit tier must be one of {TIERS}, got {tier!r}")
        self.tier = tier

    def tier_of(self, l1_address: str | None) -> str:
        """Tier of an L1 address (the default tier when unknown or None)."""
        if l1_address is None:
            return self.tier
        return self.tiers.get(l1_address.lower(), self.tier)

    def reset(self) -> None:
        """Forget every window (budgets full again)."""
        for d in (self._ip, self._l1, self._l1_tx, self._ws_msgs, self._ws_conns):
            d.clear()
        self.quota_used.clear()
        self._quota_free_at.clear()

    def error(self, code: int = p.ERR_TOO_MANY_REQUESTS) -> TxError:
        """The refusal: HTTP `http_status` with `{"code": code, "message": ...}` (counted)."""
        self.refusals[code] = self.refusals.get(code, 0) + 1
        return TxError(code, None, self.http_status)

    # --- REST -----------------------------------------------------------------------------
    @staticmethod
    def cost(tier: str, endpoint: str) -> int:
        """Units one request to `endpoint` takes from a `tier` general bucket."""
        if tier == "standard":
            return p.standard_cost(endpoint)
        return p.endpoint_weight(endpoint)

    def _window(
        self, table: dict[tuple[str, str], RollingWindow], key: str, tier: str, budget: int
    ) -> RollingWindow:
        w = table.get((key, tier))
        if w is None:
            w = table[(key, tier)] = RollingWindow(budget, self.window_s)
        return w

    def check_request(
        self, endpoint: str, ip: str | None, l1_address: str | None
    ) -> TxError | None:
        """Charge one REST request (or WS tx frame when `endpoint` is a tx endpoint).

        Charged to the IP bucket (default tier) and, when the request names an account, to
        its L1 bucket; both must have room or nothing is taken and a 23000 error is returned.
        """
        if not self.enabled:
            return None
        now = self.clock()
        tier = self.tier_of(l1_address)
        windows: list[tuple[RollingWindow, int]] = []
        is_tx = endpoint in TX_ENDPOINTS
        if is_tx and tier != "standard":
            # Premium / plus: own per-L1 tx bucket, no IP limit (§5.1).
            if l1_address is not None:
                budget = self._tx_budget(tier)
                windows.append((self._window(self._l1_tx, l1_address.lower(), tier, budget), 1))
        else:
            if ip is not None:
                w = self._window(self._ip, ip, self.tier, TIER_BUDGET[self.tier])
                windows.append((w, self.cost(self.tier, endpoint)))
            if l1_address is not None:
                w = self._window(self._l1, l1_address.lower(), tier, TIER_BUDGET[tier])
                windows.append((w, self.cost(tier, endpoint)))
        for w, c in windows:
            if not w.room(c, now):
                return self.error()
        for w, c in windows:
            w.take(c, now)
        return None

    # --- volume quota (§5.2) ---------------------------------------------------------------
    def quota_remaining(self, l1_address: str, volume_micro: int) -> int:
        """Quota left for an L1 address that has traded `volume_micro` USDC micro-units."""
        earned = min(QUOTA_CAP, QUOTA_START + volume_micro // QUOTA_USDC_MICRO_PER_UNIT)
        return earned - self.quota_used.get(l1_address.lower(), 0)

    def charge_quota(
        self, l1_address: str, tx_types: list[int], volume_micro: int
    ) -> tuple[str, int | None] | None:
        """Spend premium volume quota for an accepted request.

        Returns None when the quota does not apply (off, not premium), else the reply's
        (message, volume_quota_remaining or None for the free tx). Raises a 23000 TxError
        with `QUOTA_EXHAUSTED_MESSAGE` when too little is left (nothing spent).
        """
        if not self.enabled or not self.volume_quota or self.tier_of(l1_address) != "premium":
            return None
        key = l1_address.lower()
        n = sum(1 for t in tx_types if t in QUOTA_TX_TYPES)
        left = self.quota_remaining(key, volume_micro)
        if n == 0:
            return f"{left} volume quota remaining.", left
        now = self.clock()
        if n == 1 and len(tx_types) == 1:
            last = self._quota_free_at.get(key)
            if last is None or now - last >= QUOTA_FREE_INTERVAL_S:
                self._quota_free_at[key] = now
                return "didn't use volume quota", None
        if left < n:
            self.refusals[p.ERR_TOO_MANY_REQUESTS] = (
                self.refusals.get(p.ERR_TOO_MANY_REQUESTS, 0) + 1
            )
            raise TxError(p.ERR_TOO_MANY_REQUESTS, QUOTA_EXHAUSTED_MESSAGE, self.http_status)
        self.quota_used[key] = self.quota_used.get(key, 0) + n
        return f"{left - n} volume quota remaining.", left - n

    # --- WebSocket ------------------------------------------------------------------------
    def check_ws_message(self, ip: str) -> TxError | None:
        """Charge one client frame (not a tx frame) to the IP's message budget (30009)."""
        limit = self.ws_messages_per_minute
        if not self.enabled or limit is None:
            return None
        w = self._ws_msgs.get(ip)
        if w is None:
            w = self._ws_msgs[ip] = RollingWindow(limit, self.window_s)
        now = self.clock()
        if not w.room(1, now):
            return self.error(p.ERR_TOO_MANY_WS_MESSAGES)
        w.take(1, now)
        return None

    def check_inflight(self, inflight: int) -> TxError | None:
        """30010 when `inflight` unanswered subscribe/unsubscribe requests are already queued."""
        limit = self.ws_max_inflight
        if not self.enabled or limit is None or inflight < limit:
            return None
        return self.error(p.ERR_TOO_MANY_INFLIGHT)

    def check_subscriptions(self, count: int) -> TxError | None:
        """23001 when a connection already holds the maximum number of subscriptions."""
        limit = self.ws_max_subscriptions
        if not self.enabled or limit is None or count < limit:
            return None
        return self.error(p.ERR_TOO_MANY_SUBSCRIPTIONS)

    def check_connection(self, ip: str, open_count: int) -> TxError | None:
        """23003 when the IP holds too many sockets or opened too many this window."""
        if not self.enabled:
            return None
        limit = self.ws_max_connections
        if limit is not None and open_count >= limit:
            return self.error(p.ERR_TOO_MANY_CONNECTIONS)
        per_min = self.ws_new_connections_per_minute
        if per_min is not None:
            w = self._ws_conns.get(ip)
            if w is None:
                w = self._ws_conns[ip] = RollingWindow(per_min, self.window_s)
            now = self.clock()
            if not w.room(1, now):
                return self.error(p.ERR_TOO_MANY_CONNECTIONS)
            w.take(1, now)
        return None
