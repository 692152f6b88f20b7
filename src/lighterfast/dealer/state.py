"""The attributes every section of the dealer reads, declared once so each mixin type-checks.

`LighterDealer.__init__` sets them; the section mixins (order view, intents, send, reads) only
declare what they use by inheriting `DealerState`, which adds nothing per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import LighterError

if TYPE_CHECKING:
    from ..config import DealerConfig
    from ..core import CoiCache, Scale
    from ..log import SafeLogger
    from ..markets import MarketInfo
    from ..transport.rest import RestClient
    from .intents import _Intent
    from .nonces import NonceManager
    from .order_view import FinishedCois


class DealerState:
    """Declarations of the dealer's instance attributes, plus the open check they all use."""

    config: DealerConfig
    market: MarketInfo
    scale: Scale
    log: SafeLogger
    tx_log: SafeLogger
    limiter: Any
    account_index: int
    price_source: Any
    last_batch_results: list[dict[str, Any]]
    stats: dict[str, int]
    _min_base: int | None
    _min_quote_wire: int | None
    _signer: Any
    _owns_signer: bool
    _owns_nonces: bool
    _fleet_link: Any
    _rest: RestClient
    _nonces: NonceManager
    _queue: list[_Intent]
    _orders: CoiCache
    _finished: FinishedCois
    _next_coi: Callable[[], int]
    _ws: Any
    _inflight: set[asyncio.Task[Any]]
    _auth: Any
    _closed: bool
    _closing: bool

    def _check_open(self) -> None:
        """Refuse work on a closed dealer (LighterError)."""
        if self._closed:
            raise LighterError("dealer is closed")
