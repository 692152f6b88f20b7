"""The process's REST budgets: the one gate every request of an account passes.

Lighter counts requests per IP and per L1 address over a rolling minute (protocol §5.1).
Several clients of one process for one account (dealers, WsInfo's resync after a reconnect,
token-free reads) must draw from one budget, or each keeps to "its" 60/min while the venue
sees their sum. `budget_for(base_url, account_index)` returns that shared `Budget`, made on
first use and kept while a client holds it (`release()` when done; `RestClient.close` does).

Scopes: one budget per (host, account); reads that name no account (a public-trades WsInfo)
share the host's (account None). Several accounts on one IP still share the venue's per-IP
count: give each its slice (`rate_limit_per_minute`), as the demo does.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from .. import protocol as P
from ..core import WeightLimiter

logger = logging.getLogger("lighterfast.transport")

_registry: dict[tuple[str, int | None], Budget] = {}
_lock = threading.Lock()


class Budget:
    """One scope's limiters: `limiter` (reads, and standard sends) and `tx_limiter` (premium
    sends have their own bucket, §5.1; None for standard accounts)."""

    __slots__ = (
        "_holders",
        "account_index",
        "capacity",
        "explicit",
        "host",
        "limiter",
        "standard_account",
        "tx_limiter",
    )

    def __init__(
        self,
        host: str,
        account_index: int | None,
        standard_account: bool,
        capacity: int,
        explicit: bool,
    ) -> None:
        self.host = host
        self.account_index = account_index
        self.standard_account = standard_account
        self.capacity = capacity
        self.explicit = explicit  # the tier was stated (a dealer), not assumed (a WsInfo read)
        self.limiter = WeightLimiter(capacity, P.RATE_WINDOW_S)
        self.tx_limiter = None if standard_account else WeightLimiter(capacity, P.RATE_WINDOW_S)
        self._holders = 0

    def __repr__(self) -> str:
        tier = "standard" if self.standard_account else "premium"
        return (
            f"Budget({self.host!r}, account_index={self.account_index}, {tier}, "
            f"capacity={self.capacity}, holders={self._holders})"
        )

    @property
    def holders(self) -> int:
        """Clients holding this budget now."""
        return self._holders

    def release(self) -> None:
        """One holder is done; the last one takes the budget out of the registry."""
        with _lock:
            if self._holders > 0:
                self._holders -= 1
            if self._holders == 0 and _registry.get((self.host, self.account_index)) is self:
                del _registry[(self.host, self.account_index)]


def host_of(base_url: str) -> str:
    """The registry's host key: host[:port] in lower case, without user info or scheme."""
    parts = urlsplit(base_url)
    return parts.netloc.rpartition("@")[2].lower()


def budget_for(
    base_url: str,
    account_index: int | None = None,
    *,
    standard_account: bool | None = None,
    capacity: int | None = None,
) -> Budget:
    """The shared budget for `account_index` (None: token-free reads) on this host, held once.

    `standard_account`/`capacity` state the tier (a dealer's config); left None, the tier
    already registered for the account is used, else a standard account's 60 requests/min.
    A stated tier that differs from the registered one starts a new budget for later clients.
    """
    host = host_of(base_url)
    with _lock:
        key = (host, account_index)
        budget = _registry.get(key)
        if budget is not None and _fits(budget, standard_account, capacity):
            budget._holders += 1
            budget.explicit = budget.explicit or standard_account is not None
            return budget
        standard = True if standard_account is None else bool(standard_account)
        size = capacity or (
            P.STANDARD_REQUESTS_PER_MINUTE if standard else P.PREMIUM_WEIGHT_PER_MINUTE
        )
        if budget is not None and budget.explicit:
            logger.warning(
                "account %s on %s: a second rate budget (%s, %d/min) beside the open one (%r)",
                account_index,
                host,
                "standard" if standard else "premium",
                size,
                budget,
            )
        fresh = Budget(host, key[1], standard, size, standard_account is not None)
        fresh._holders = 1
        _registry[key] = fresh
        return fresh


def registered(base_url: str, account_index: int | None = None) -> Budget | None:
    """The budget held now for this host and account (None: token-free reads), if any."""
    with _lock:
        return _registry.get((host_of(base_url), account_index))


def _fits(budget: Budget, standard_account: bool | None, capacity: int | None) -> bool:
    if standard_account is None and capacity is None:
        return True
    if standard_account is not None and budget.standard_account != bool(standard_account):
        return False
    return capacity is None or budget.capacity == capacity
