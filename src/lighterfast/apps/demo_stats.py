"""The demo bots' own bookkeeping: bounded id sets, average-cost PnL and per-bot counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

LATENCY_WINDOW = 500  # the last acceptances kept for the latency figures


class BoundedSet:
    """A set that keeps only its `maxlen` newest members (the demo's memory stays flat)."""

    def __init__(self, maxlen: int) -> None:
        self._order: deque[int] = deque()
        self._members: set[int] = set()
        self.maxlen = maxlen

    def add(self, item: int) -> None:
        """Add `item`, forgetting the oldest member when full."""
        if item in self._members:
            return
        self._order.append(item)
        self._members.add(item)
        if len(self._order) > self.maxlen:
            self._members.discard(self._order.popleft())

    def __contains__(self, item: object) -> bool:
        return item in self._members

    def __len__(self) -> int:
        return len(self._members)


@dataclass
class Pnl:
    """Average-cost PnL of a sequence of fills: realised on what was closed, marked on the rest."""

    position: Decimal = Decimal(0)  # signed base units
    entry: Decimal = Decimal(0)  # average entry price of the open position
    realised: Decimal = Decimal(0)

    def fill(self, is_buy: bool, size: Decimal, price: Decimal) -> None:
        """Apply one fill of `size` (> 0) at `price`."""
        signed = size if is_buy else -size
        held = self.position
        if held == 0 or (held > 0) == is_buy:  # opening or adding: a new average entry
            self.entry = (self.entry * abs(held) + price * size) / abs(held + signed)
        else:  # closing (and maybe flipping): realise the closed part at the entry
            closed = min(size, abs(held))
            self.realised += closed * (price - self.entry) * (1 if held > 0 else -1)
            if size > closed:
                self.entry = price  # the flipped remainder opens at this fill's price
            elif closed == abs(held):
                self.entry = Decimal(0)
        self.position = held + signed

    def unrealised(self, mark: Decimal) -> Decimal:
        """What the open position is worth against its entry at `mark`."""
        return self.position * (mark - self.entry)

    def total(self, mark: Decimal) -> Decimal:
        """Realised + marked-to-market."""
        return self.realised + self.unrealised(mark)


@dataclass
class BotStats:
    """Counters of one bot, all from its own sends and its own fills on the stream."""

    batches: int = 0
    txs_accepted: int = 0
    txs_rejected: int = 0
    quotes: int = 0
    fills: int = 0
    bought: float = 0.0
    sold: float = 0.0
    pnl: Pnl = field(default_factory=Pnl)
    latencies_us: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    last_error: str | None = None
    account_reads: int = 0  # fetch_my_position + fetch_my_balance calls (WsInfo-served)
    stream_position: float | None = None  # the last fetch_my_position size
    available_balance: float | None = None  # the last fetch_my_balance figure
