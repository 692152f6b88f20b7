"""What `lighterfast demo` shows: a live `rich` table, or progress lines when headless.

Both read only `QuoteBot.snapshot()` (prices, counts, latencies, budgets), which holds no
key, token or signature, so nothing secret can reach the screen. Cells are never cut: a
console too narrow for one table gets two (market, then execution), and a log file (not a
terminal) gets the table printed every few seconds instead of a live redraw.
"""

from __future__ import annotations

import math
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import Any, TextIO

MARKET_COLUMNS = ("symbol", "bid / ask", "own bid / ask", "fills", "position", "PnL")
LEGEND = (
    "PnL: realised + marked to mid, before fees. Latency: send → acceptance of one requote"
    " batch; max until 100 samples, then p99 of the last 500."
)
LOG_EVERY_S = 5.0  # a non-terminal console gets the table this often
SUMMARY_WIDTH = 80  # the summary's free-text lines wrap here (a terminal or a log)
# REST endpoints that read an account's position or balance (the bots read WsInfo instead).
POSITION_BALANCE_ENDPOINTS = frozenset({"account", "accountsByL1Address", "pnl", "positionFunding"})


def _num(value: Any, digits: int = 2, sign: bool = False) -> str:
    """A number for the table ('—' for None)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return f"{value}"


def _fixed(value: float | None, decimals: int, sign: bool = False) -> str:
    """A price or size with the market's decimals ('—' for None)."""
    if value is None:
        return "—"
    return f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"


def pnl_digits(snap: dict[str, Any]) -> int:
    """Decimals that show a PnL move of one price tick on one size step."""
    return int(min(8, snap["price_decimals"] + snap["size_decimals"]))


def tail_label(snaps: Sequence[dict[str, Any]]) -> str:
    """ "p99" when every row has a real p99 (>= 100 samples), else "max" (what is shown)."""
    if snaps and all(s.get("latency_p99_ms") is not None for s in snaps):
        return "p99"
    return "max"


def exec_columns(tail: str) -> tuple[str, ...]:
    """Headers of the execution cells (the tail is labelled as what it is)."""
    return ("orders/s", f"p50 / {tail} ms", "budget left")


def columns(tail: str) -> tuple[str, ...]:
    """Headers of the one-table layout."""
    return MARKET_COLUMNS + exec_columns(tail)


def market_cells(snap: dict[str, Any]) -> list[str]:
    """Symbol, book, own quotes, fills, position and PnL of one snapshot."""
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
        _num(snap["pnl"], pnl_digits(snap), sign=True),
    ]


def exec_cells(snap: dict[str, Any], tail: str) -> list[str]:
    """Orders/s, latency p50 and tail, and rate budget of one snapshot."""
    budget = (
        "—" if snap["budget_left"] is None else f"{snap['budget_left']}/{snap['budget_capacity']}"
    )
    tail_ms = snap["latency_p99_ms"] if tail == "p99" else snap.get("latency_max_ms")
    return [
        _num(snap["orders_per_s"], 1),
        f"{_num(snap['latency_p50_ms'], 2)} / {_num(tail_ms, 2)}",
        budget,
    ]


def row_cells(snap: dict[str, Any], tail: str = "max") -> list[str]:
    """The cells of one symbol in the one-table layout (`columns(tail)` order)."""
    return market_cells(snap) + exec_cells(snap, tail)


class LiveView:
    """A `rich.live.Live` table refreshed by `update()`; messages print above it."""

    def __init__(
        self,
        title: str,
        duration: float | None,
        console: Any = None,
        log_every: float = LOG_EVERY_S,
    ) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=False)
        self.title = title
        self.duration = duration
        self.log_every = log_every
        self._live: Any = None
        self._started = time.monotonic()
        self._next_log = 0.0
        self._last: Any = None
        self.tally: Any = None  # the demo's RequestTally (its line goes under the table)

    def _table(self, bots: Sequence[Any]) -> Any:
        """One table when it fits the console, else a market table over an execution table."""
        from rich import box
        from rich.console import Group
        from rich.measure import Measurement
        from rich.table import Table
        from rich.text import Text

        snaps = [bot.snapshot() for bot in bots]
        tail = tail_label(snaps)
        elapsed = time.monotonic() - self._started
        left = "" if self.duration is None else f" / {self.duration:.0f}"
        title = f"{self.title} — {elapsed:.0f}{left} s (Ctrl-C stops)"
        errors = [f"{s['symbol']}: {s['last_error']}" for s in snaps if s["last_error"]]
        caption = LEGEND + ("\nlast error: " + "; ".join(errors) if errors else "")
        reads = _live_reads(self.tally)
        if reads:
            caption += "\n" + reads

        def table(headers: Sequence[str], rows: list[list[str]], **kw: Any) -> Any:
            t = Table(
                box=box.SIMPLE_HEAD,
                show_edge=False,
                pad_edge=False,
                title_justify="left",
                caption_justify="left",
                **kw,
            )
            for name in headers:
                t.add_column(
                    name,
                    justify="left" if name == "symbol" else "right",
                    overflow="fold",  # far too narrow: wrap digits, never cut them
                )
            for row in rows:
                t.add_row(*row)
            return t

        wide = table(
            columns(tail), [row_cells(s, tail) for s in snaps], title=title, caption=caption
        )
        natural = self.console.options.update_width(10_000)  # measure unclamped
        width = Measurement.get(self.console, natural, wide).maximum
        if width <= self.console.width:
            return wide
        market = table(MARKET_COLUMNS, [market_cells(s) for s in snaps], title=title)
        execution = table(
            ("symbol", *exec_columns(tail)), [[s["symbol"], *exec_cells(s, tail)] for s in snaps]
        )
        return Group(market, Text(""), execution, Text(caption))

    def start(self, bots: Sequence[Any]) -> None:
        """Show the table (live on a terminal; printed every `log_every` s otherwise)."""
        from rich.live import Live

        self._started = time.monotonic()
        self._last = self._table(bots)
        if not self.console.is_terminal:
            self._next_log = self._started + self.log_every
            return
        self._live = Live(self._last, console=self.console, refresh_per_second=4)
        self._live.start()

    def update(self, bots: Sequence[Any]) -> None:
        """Redraw with fresh snapshots."""
        if self._live is not None:
            self._last = self._table(bots)
            self._live.update(self._last)
        elif time.monotonic() >= self._next_log:
            self._next_log = time.monotonic() + self.log_every
            self._last = self._table(bots)
            self.console.print(self._last)

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
        self.tally: Any = None  # the demo's RequestTally (counted on each line)

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
            pnl = _num(s["pnl"], pnl_digits(s), sign=True)
            parts.append(f"{s['symbol']} fills {s['fills']} position {position} PnL {pnl}")
        reads = _live_reads(self.tally)
        if reads:
            parts.append(reads)
        self.message(f"[{now - self._started:5.1f}s] " + " | ".join(parts))

    def message(self, text: str) -> None:
        """Print one line."""
        print(text, file=self.stream, flush=True)

    def stop(self) -> None:
        """Nothing to tear down."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def rest_reads(tally: Any) -> dict[str, Any]:
    """The bots' REST requests by endpoint (start-up vs after), position/balance reads apart."""
    out = tally.as_dict()
    out["position_balance_after_startup"] = sum(
        n for name, n in tally.after_start.items() if name in POSITION_BALANCE_ENDPOINTS
    )
    return out


def rest_line(reads: dict[str, Any] | None) -> str:
    """One line on the bots' REST requests after start-up (position/balance reads first)."""
    if not reads:
        return ""
    after = reads.get("after_startup") or {}
    by = ", ".join(f"{name} {n}" for name, n in after.items()) or "none"
    pb = reads.get("position_balance_after_startup", 0)
    return (
        f"REST after start-up: position/balance reads {pb};"
        f" all requests {reads.get('after_startup_total', 0)} ({by})"
    )


def _live_reads(tally: Any) -> str:
    """`rest_line` of a live `RequestTally` (empty without one)."""
    if tally is None:
        return ""
    return rest_line(rest_reads(tally))


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Text lines of a table sized to its content (nothing is ever cut)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [f"{cells[0]:<{widths[0]}}"]
        out += [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def render_summary(summary: dict[str, Any]) -> str:
    """The final summary as plain text lines (what `lighterfast demo` prints at the end)."""
    snaps = summary["symbols"]
    tail = tail_label(snaps)
    lines = [
        f"lighterfast demo — {summary['mode']} on {summary['base_url']},"
        f" {summary['duration_s']:.1f} s",
        "",
        *plain_table(MARKET_COLUMNS, [market_cells(s) for s in snaps]),
        "",
        *plain_table(
            ("symbol", *exec_columns(tail), "samples"),
            [[s["symbol"], *exec_cells(s, tail), str(s.get("latency_samples", 0))] for s in snaps],
        ),
        "",
    ]
    for snap in snaps:
        extra = []
        if "position_node" in snap:
            extra.append(
                "node position " + _fixed(snap["position_node"], snap["size_decimals"], True)
            )
        if "open_orders_end" in snap:
            extra.append(f"open orders left {snap['open_orders_end']}")
        digits = pnl_digits(snap)
        extra.append(
            f"PnL realised {_num(snap.get('pnl_realised'), digits, True)}"
            f" + marked {_num(snap.get('pnl_unrealised'), digits, True)}"
        )
        extra.append(
            f"txs accepted {snap['txs_accepted']} rejected {snap['txs_rejected']}"
            f" in {snap['batches']} batches"
        )
        if snap.get("account_reads"):
            extra.append(f"position/balance read {snap['account_reads']} times")
        if snap.get("last_error"):
            extra.append(f"last error: {snap['last_error']}")
        if snap.get("final_read_error"):
            extra.append(f"final read: {snap['final_read_error']}")
        lines.extend(_wrap(f"{snap['symbol']}: " + "; ".join(extra)))
    reads = rest_line(summary.get("rest_requests"))
    if reads:
        lines.extend(_wrap(reads))
    for text in (LEGEND, *summary.get("notes", ())):
        lines.extend(_wrap(text))
    return "\n".join(lines)


def _wrap(text: str) -> list[str]:
    """A free-text line wrapped to 80 columns (continuations indented), words never cut."""
    return textwrap.wrap(
        text, SUMMARY_WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )
