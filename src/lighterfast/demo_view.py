"""What `lighterfast demo` shows: a live `rich` table, or progress lines when headless.

Both read only `QuoteBot.snapshot()` (prices, counts, latencies, budgets), which holds no
key, token or signature, so nothing secret can reach the screen.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

COLUMNS = (
    "symbol",
    "bid / ask",
    "own quotes",
    "fills",
    "position",
    "PnL",
    "orders/s",
    "p50 / p99 ms",
    "budget left",
)


def _num(value: Any, digits: int = 2) -> str:
    """A number for the table ('—' for None)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _fixed(value: float | None, decimals: int, sign: bool = False) -> str:
    """A price or size with the market's decimals ('—' for None)."""
    if value is None:
        return "—"
    return f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"


def row_cells(snap: dict[str, Any]) -> list[str]:
    """The table cells of one symbol's snapshot, in `COLUMNS` order."""
    budget = (
        "—"
        if snap["budget_left"] is None
        else f"{snap['budget_left']:,}/{snap['budget_capacity']:,}"
    )
    pd, sd = snap["price_decimals"], snap["size_decimals"]
    if snap.get("would_send"):
        own = "dry run"
    else:
        own = f"{_fixed(snap['own_bid'], pd)} / {_fixed(snap['own_ask'], pd)}"
    return [
        snap["symbol"],
        f"{_fixed(snap['best_bid'], pd)} / {_fixed(snap['best_ask'], pd)}",
        own,
        str(snap["fills"]),
        _fixed(snap["position"], sd, sign=True),
        _num(snap["pnl"]),
        _num(snap["orders_per_s"], 1),
        f"{_num(snap['latency_p50_ms'], 2)} / {_num(snap['latency_p99_ms'], 2)}",
        budget,
    ]


class LiveView:
    """A `rich.live.Live` table refreshed by `update()`; messages print above it."""

    def __init__(self, title: str, duration: float | None, console: Any = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=False)
        self.title = title
        self.duration = duration
        self._live: Any = None
        self._started = time.monotonic()

    def _table(self, bots: Sequence[Any]) -> Any:
        from rich import box
        from rich.table import Table

        elapsed = time.monotonic() - self._started
        left = "" if self.duration is None else f" / {self.duration:.0f}"
        table = Table(
            title=f"{self.title} — {elapsed:.0f}{left} s (Ctrl-C stops)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for name in COLUMNS:
            table.add_column(name, justify="left" if name == "symbol" else "right")
        errors = []
        for bot in bots:
            snap = bot.snapshot()
            table.add_row(*row_cells(snap))
            if snap["last_error"]:
                errors.append(f"{snap['symbol']}: {snap['last_error']}")
        if errors:
            table.caption = "last error: " + "; ".join(errors)
        return table

    def start(self, bots: Sequence[Any]) -> None:
        """Show the table."""
        from rich.live import Live

        self._started = time.monotonic()
        self._live = Live(self._table(bots), console=self.console, refresh_per_second=4)
        self._live.start()

    def update(self, bots: Sequence[Any]) -> None:
        """Redraw with fresh snapshots."""
        if self._live is not None:
            self._live.update(self._table(bots))

    def message(self, text: str) -> None:
        """Print a line above the table."""
        self.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        """Leave the last table on the screen."""
        if self._live is not None:
            self._live.stop()
            self._live = None


class ProgressView:
    """Headless: one progress line every `every` seconds (stderr), for logs and CI."""

    def __init__(self, every: float = 2.0, stream: TextIO | None = None) -> None:
        self.every = every
        self.stream = stream or sys.stderr
        self._next = 0.0
        self._started = time.monotonic()

    def start(self, bots: Sequence[Any]) -> None:
        """Note the start time."""
        self._started = time.monotonic()
        self._next = self._started + self.every

    def update(self, bots: Sequence[Any]) -> None:
        """Print a progress line when one is due."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        parts = []
        for bot in bots:
            s = bot.snapshot()
            position = _fixed(s["position"], s["size_decimals"], sign=True)
            parts.append(f"{s['symbol']} fills {s['fills']} position {position}")
        self.message(f"[{now - self._started:5.1f}s] " + " | ".join(parts))

    def message(self, text: str) -> None:
        """Print one line."""
        print(text, file=self.stream, flush=True)

    def stop(self) -> None:
        """Nothing to tear down."""


def render_summary(summary: dict[str, Any]) -> str:
    """The final summary as plain text lines (what `lighterfast demo` prints at the end)."""
    lines = [
        f"lighterfast demo — {summary['mode']} on {summary['base_url']},"
        f" {summary['duration_s']:.1f} s",
        "  ".join(f"{c:>14}" for c in COLUMNS),
    ]
    for snap in summary["symbols"]:
        lines.append("  ".join(f"{c:>14}" for c in row_cells(snap)))
        extra = []
        if "position_node" in snap:
            extra.append(
                "node position " + _fixed(snap["position_node"], snap["size_decimals"], True)
            )
        if "open_orders_end" in snap:
            extra.append(f"open orders left {snap['open_orders_end']}")
        extra.append(
            f"txs accepted {snap['txs_accepted']} rejected {snap['txs_rejected']}"
            f" in {snap['batches']} batches"
        )
        if snap.get("last_error"):
            extra.append(f"last error: {snap['last_error']}")
        if snap.get("final_read_error"):
            extra.append(f"final read: {snap['final_read_error']}")
        lines.append(f"{'':>14}  " + "; ".join(extra))
    return "\n".join(lines)
