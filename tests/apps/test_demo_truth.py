"""The demo tells the truth: every own quote it shows is live on the node on the right side of
the book, the view never cuts a price (80 columns, log files), the latency tail is labelled as
what it is, PnL is realised + marked, a dry run sends nothing and bad durations are refused."""

from __future__ import annotations

import io
import math
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lighterfast.apps.demo import LATENCY_NOTE, RECENT_TRADES, DemoOptions, run_demo
from lighterfast.apps.demo_stats import BoundedSet, Pnl
from lighterfast.apps.demo_view import (
    LiveView,
    ProgressView,
    exec_cells,
    render_summary,
    tail_label,
)
from lighterfast.errors import ConfigError
from lighterfast.testnode import LocalNode

NODE_OPTIONS: dict[str, Any] = {
    "port": 0,
    "simulate_flow": True,
    "flow_interval_ms": 50,
    "exec_latency_ms": "premium",
    "flow_seed": 11,
}
# A fill or cancel reaches the bot over the order stream a moment after the node made it; a
# quote may be shown that long after its end (the old view kept them until the next requote,
# 3.75 s apart under standard pacing).
STREAM_LAG_US = 300_000


class CheckingView:
    """A view that, at every frame, checks each shown own quote against the node's state."""

    def __init__(self, node: LocalNode) -> None:
        self.node = node
        self.specs = {s.symbol: s for s in node.markets}
        self.frames = 0
        self.shown = 0
        self.problems: list[str] = []
        self.max_tracked = 0
        self.max_seen_trades = 0

    def start(self, bots: Any) -> None:
        """Nothing to set up."""

    def message(self, text: str) -> None:
        """Messages are not checked here."""

    def stop(self) -> None:
        """Nothing to tear down."""

    def update(self, bots: Any) -> None:
        """Check one frame: no await between the snapshot and the node read (same loop)."""
        self.frames += 1
        for bot in bots:
            snap = bot.snapshot()
            self.max_tracked = max(self.max_tracked, len(bot.quotes) + len(bot.cancelling))
            self.max_seen_trades = max(self.max_seen_trades, len(bot._seen_trades))
            for side, price in (("buy", snap["own_bid"]), ("sell", snap["own_ask"])):
                if price is not None:
                    self.shown += 1
                    self._check(snap, side, price)

    def _check(self, snap: dict[str, Any], side: str, price: float) -> None:
        spec = self.specs[snap["symbol"]]
        engine = self.node.engine
        account, market = snap["account_index"], spec.market_index
        price_int = int(Decimal(repr(price)).scaleb(spec.price_decimals))
        is_ask = side == "sell"

        def same(order: Any) -> bool:
            return (
                order.account_index == account
                and order.market_index == market
                and order.is_ask == is_ask
                and order.price == price_int
            )

        book = engine.books[market]
        for order in engine.live.values():
            if same(order) and order.status == "open":
                best = book.best_bid() if is_ask else book.best_ask()
                if best is not None and (price_int <= best if is_ask else price_int >= best):
                    self.problems.append(f"{snap['symbol']} {side} {price} crosses {best}")
                return
        now_us = engine.now_us()
        for order in engine.inactive.get(account, ()):
            if same(order) and now_us - order.transaction_time <= STREAM_LAG_US:
                return  # ended a moment ago: the stream frame is on its way
        self.problems.append(f"{snap['symbol']} {side} {price} is not a live order on the node")


async def test_every_quote_shown_is_live_on_the_node() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        view = CheckingView(node)
        # Standard pacing (the CLI's default): a bot requotes every 3.75 s, fills come between.
        options = DemoOptions(symbols=["ETH", "BTC", "SOL"], duration=8.0)
        result = await run_demo(options, node=node, view=view)
    assert view.frames >= 20
    assert view.shown >= 20, view.shown  # the check saw quotes, not an empty table
    assert sum(r["fills"] for r in result.symbols) > 0  # fills happened while sampling
    assert view.problems == []
    assert view.max_tracked <= 4  # only live quotes and pending cancels are kept
    assert view.max_seen_trades <= RECENT_TRADES


def test_bounded_set_keeps_the_newest() -> None:
    seen = BoundedSet(3)
    for item in (1, 2, 3, 2, 4, 5):
        seen.add(item)
    assert len(seen) == 3
    assert 1 not in seen and 2 not in seen
    assert all(i in seen for i in (3, 4, 5))


class _Bot:
    """Stand-in for `QuoteBot` in pure rendering tests: returns a fixed snapshot."""

    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def snapshot(self) -> dict[str, Any]:
        return self.snap


def _snap(symbol: str, pd: int, sd: int, bid: float, ask: float, **kw: Any) -> dict[str, Any]:
    snap = {
        "symbol": symbol,
        "price_decimals": pd,
        "size_decimals": sd,
        "best_bid": bid,
        "best_ask": ask,
        "own_bid": bid - 10**-pd,
        "own_ask": ask + 10**-pd,
        "fills": 12,
        "position": -0.05,
        "pnl": 0.00045,
        "orders_per_s": 1.2,
        "latency_samples": 7,
        "latency_p50_ms": 9.87,
        "latency_p99_ms": None,
        "latency_max_ms": 17.29,
        "budget_left": 12,
        "budget_capacity": 16,
        "last_error": None,
        "would_send": "",
    }
    snap.update(kw)
    return snap


SNAPS = [
    _snap("ETH", 2, 4, 2999.12, 2999.93),
    _snap("BTC", 1, 5, 59985.0, 59999.8),
    _snap("SOL", 3, 3, 149.941, 149.969),
]


def test_80_column_terminal_keeps_full_prices() -> None:
    from rich.console import Console

    console = Console(width=80, record=True, force_terminal=True, file=io.StringIO())
    view = LiveView("lighterfast demo (local node)", 20, console=console)
    console.print(view._table([_Bot(s) for s in SNAPS]))
    text = console.export_text()
    assert "…" not in text
    for price in ("2999.12 / 2999.93", "2999.11 / 2999.94", "59985.0 / 59999.8", "149.941"):
        assert price in text, text
    assert "+0.000450" in text  # PnL with enough digits to move
    assert "p50 / max ms" in text and "p99" not in text.split("Latency")[0]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_wide_terminal_gets_one_table() -> None:
    from rich.console import Console

    console = Console(width=160, record=True, force_terminal=True, file=io.StringIO())
    console.print(LiveView("demo", None, console=console)._table([_Bot(s) for s in SNAPS]))
    header = [line for line in console.export_text().splitlines() if "bid / ask" in line]
    assert len(header) == 1 and "budget left" in header[0]


def test_latency_tail_is_max_until_100_samples() -> None:
    few = _snap("ETH", 2, 4, 1.0, 2.0)
    many = _snap("ETH", 2, 4, 1.0, 2.0, latency_samples=150, latency_p99_ms=12.5)
    assert tail_label([few]) == "max" and exec_cells(few, "max")[1] == "9.87 / 17.29"
    assert tail_label([many]) == "p99" and exec_cells(many, "p99")[1] == "9.87 / 12.50"
    assert tail_label([few, many]) == "max"  # one header for all rows: the weaker label


async def test_non_tty_output_is_readable_and_summary_fits() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=80)  # a log file: not a terminal
    assert not console.is_terminal
    async with LocalNode(**NODE_OPTIONS) as node:
        view = LiveView("lighterfast demo (local node)", 3.0, console=console, log_every=1.0)
        options = DemoOptions(symbols=["ETH", "BTC", "SOL"], duration=3.0, premium=True)
        result = await run_demo(options, node=node, view=view)
    text = out.getvalue()
    assert "\x1b" not in text  # no cursor movement or colour codes in a log
    assert "…" not in text
    assert text.count("own bid / ask") >= 2  # printed every second, not redrawn in place
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "embedded node" in text  # the latency note
    for line in text.splitlines():
        if line.startswith("ETH ") and line.count(" / ") == 2:  # the market table's row
            assert re.match(r"ETH +(\d+\.\d{2}|—) / (\d+\.\d{2}|—) ", line), line
    summary = result.as_dict()
    assert LATENCY_NOTE in summary["notes"]
    rendered = render_summary(summary)
    assert "…" not in rendered and "p50 / max ms" in rendered
    assert max(len(line) for line in rendered.splitlines()[1:]) <= 80  # all but the URL line
    assert "PnL realised " in rendered and "+ marked " in rendered
    for row in result.symbols:
        assert row["latency_samples"] < 100 and row["latency_p99_ms"] is None
        assert row["latency_max_ms"] >= row["latency_p50_ms"]


async def test_dry_run_on_the_embedded_node_sends_nothing() -> None:
    async with LocalNode(**NODE_OPTIONS) as node:
        accounts = len(node.dev_accounts)
        out = io.StringIO()
        options = DemoOptions(symbols=["ETH", "SOL"], duration=2.0, dry_run=True)
        result = await run_demo(options, node=node, view=ProgressView(every=10, stream=out))
        assert result.mode == "dry-run"
        assert node.state.nonces == {}  # no transaction reached the node
        assert len(node.dev_accounts) == accounts  # no account was made for the bots
        assert "send nothing" in out.getvalue() and "ETH: cancel [] create buy" in out.getvalue()
        assert all(r["batches"] == 0 and r["txs_accepted"] == 0 for r in result.symbols)
        # What it would send, with the market's decimals (ETH: size 4, price 2).
        assert re.search(r"ETH: cancel \[\] create buy \d\.\d{4} @ \d+\.\d{2},", out.getvalue())


@pytest.mark.parametrize("bad", [0, -1, -0.5, math.nan, "20", True])
async def test_duration_must_be_positive(bad: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        DemoOptions(duration=bad)
    options = DemoOptions(duration=1.0)
    options.duration = bad  # changed after construction: run_demo checks again
    with pytest.raises(ConfigError, match="duration"):
        await run_demo(options)


def test_duration_none_and_inf_run_until_stopped() -> None:
    assert DemoOptions(duration=None).duration is None
    assert DemoOptions(duration=math.inf).duration == math.inf


def test_pnl_realised_plus_marked_on_a_fill_sequence() -> None:
    d = Decimal
    book = Pnl()
    book.fill(True, d("1"), d("100"))
    book.fill(True, d("1"), d("110"))  # long 2 @ 105
    assert (book.position, book.entry, book.realised) == (d(2), d(105), d(0))
    book.fill(False, d("1.5"), d("120"))  # close 1.5: +22.5
    assert (book.position, book.entry, book.realised) == (d("0.5"), d(105), d("22.5"))
    assert book.unrealised(d(100)) == d("-2.5") and book.total(d(100)) == d(20)
    book.fill(False, d("1"), d("90"))  # close 0.5 at -15 each, flip to short 0.5 @ 90
    assert (book.position, book.entry, book.realised) == (d("-0.5"), d(90), d(15))
    assert book.total(d(80)) == d(20)  # short 0.5 from 90 marked at 80: +5
    book.fill(True, d("0.5"), d("95"))  # flat: -2.5 realised
    assert (book.position, book.entry, book.realised) == (d(0), d(0), d("12.5"))
    assert book.total(d(1234)) == d("12.5")


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.integers(1, 1000).map(lambda n: Decimal(n).scaleb(-3)),
            st.integers(1, 10**6).map(lambda n: Decimal(n).scaleb(-2)),
        ),
        max_size=30,
    ),
    st.integers(1, 10**6).map(lambda n: Decimal(n).scaleb(-2)),
)
def test_pnl_total_is_cash_plus_position_at_mark(fills: Any, mark: Decimal) -> None:
    book, cash = Pnl(), Decimal(0)
    for is_buy, size, price in fills:
        book.fill(is_buy, size, price)
        cash += -size * price if is_buy else size * price
    assert abs(book.total(mark) - (cash + book.position * mark)) < Decimal("1e-12")
