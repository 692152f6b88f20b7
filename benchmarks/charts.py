"""Bar charts (PNG) of the headline benchmarks, made from pytest-benchmark's JSON output.

Run the suites once with `--benchmark-json`, then draw the charts and print the figures:

    python3 -m pytest benchmarks/bench_core.py benchmarks/bench_signing.py \
        benchmarks/bench_native_signer.py benchmarks/bench_ws.py benchmarks/bench_dealer.py \
        --benchmark-only --benchmark-json=results.json
    python3 benchmarks/charts.py results.json --out docs/img --print

A chart whose benchmarks are missing from the JSON is skipped (and says so), so a run of
one suite redraws only its own chart. Needs matplotlib (`pip install -e ".[dev]"`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Bench = dict[str, Any]
Value = Callable[[Bench], float]

SIGS_PER_ROUND = 15  # the signing suites sign 15 orders per round


def median_us(per_round: int = 1) -> Value:
    """The median round time in µs, divided by `per_round` operations."""
    return lambda b: float(b["stats"]["median"]) * 1e6 / per_round


def extra(key: str) -> Value:
    """A figure the benchmark stored in `extra_info` (p50/p99 in µs)."""
    return lambda b: float(b["extra_info"][key])


def frames_per_s(b: Bench) -> float:
    """Frames per second at the median round (`extra_info["frames"]` frames per round)."""
    return float(b["extra_info"]["frames"]) / float(b["stats"]["median"])


@dataclass(frozen=True)
class Row:
    """One bar: its label, which benchmark (group prefix and test name) and what to read."""

    label: str
    group: str
    name: str
    value: Value


@dataclass(frozen=True)
class Panel:
    """One set of bars sharing a unit; row `ref` is the reference of the ratios."""

    title: str
    unit: str
    higher_is_better: bool
    rows: tuple[Row, ...]
    ref: int = 0


@dataclass(frozen=True)
class Chart:
    """One PNG file: one or more panels stacked vertically."""

    file: str
    panels: tuple[Panel, ...]


DEALER = "dealer-one-order-fast-hash"
BATCH = "dealer-batch-10-fast-hash"
NATIVE_E2E = "native-order-to-acceptance"
SIGNING = "signing-15-orders"
NATIVE_SIGNING = "signing-15-orders-native"
WS = "ws-frame-path"

CHARTS = (
    Chart(
        "order_to_acceptance.png",
        (
            Panel(
                "One limit order, call to node acceptance (p50, loopback)",
                "µs",
                False,
                (
                    Row("lighterfast + NativeSigner (opt-in)", NATIVE_E2E,
                        "test_dealer_one_order[native]", extra("p50_us")),
                    Row("lighterfast (default signer), WebSocket", DEALER,
                        "test_lighterfast_one_order[fast-ws]", extra("p50_us")),
                    Row("lighterfast, REST", DEALER, "test_lighterfast_one_order[fast-rest]",
                        extra("p50_us")),
                    Row("ccxt 4.5", DEALER, "test_ccxt_one_order[fast]", extra("p50_us")),
                    Row("lighter-sdk 1.1.8", DEALER, "test_sdk_one_order[fast]",
                        extra("p50_us")),
                ),
                ref=1,
            ),
            Panel(
                "Batch of 10 limit orders, per order (p50)",
                "µs",
                False,
                (
                    Row("lighterfast (one flush, one frame)", BATCH,
                        "test_lighterfast_batch_of_10[fast]", extra("per_order_p50_us")),
                    Row("lighter-sdk 1.1.8 (send_tx_batch)", BATCH, "test_sdk_batch_of_10[fast]",
                        extra("per_order_p50_us")),
                ),
            ),
        ),
    ),
    Chart(
        "signing.png",
        (
            Panel(
                "One order signature (median over 15-order rounds)",
                "µs",
                False,
                (
                    Row("NativeSigner (C, opt-in)", NATIVE_SIGNING, "test_native_sync",
                        median_us(SIGS_PER_ROUND)),
                    Row("SdkSigner.asign_many (Go library, worker thread)", SIGNING,
                        "test_sdksigner_sign_many", median_us(SIGS_PER_ROUND)),
                    Row("SdkSigner.sign_create_order (worker thread)", SIGNING,
                        "test_sdksigner_sync", median_us(SIGS_PER_ROUND)),
                    Row("lighter-sdk SignerClient (main thread)", SIGNING,
                        "test_lighter_sdk_main_thread", median_us(SIGS_PER_ROUND)),
                ),
            ),
        ),
    ),
    Chart(
        "ws_frames.png",
        (
            Panel(
                "WebSocket order-book deltas handled per second (median)",
                "frames/s",
                True,
                (
                    Row("lighterfast WsInfo.feed_raw", WS, "test_lighterfast_feed_raw",
                        frames_per_s),
                    Row("lighterfast, generic path (orjson + apply_update)", WS,
                        "test_lighterfast_feed_raw_generic_path", frames_per_s),
                    Row("orjson.loads alone (parse floor)", WS, "test_orjson_loads_only_ceiling",
                        frames_per_s),
                    Row("ccxt 4.5 pro handle_message", WS, "test_ccxt_pro_lighter_handle_message",
                        frames_per_s),
                    Row("lighter-sdk 1.1.8 WsClient.on_message", WS,
                        "test_lighter_sdk_wsclient_on_message", frames_per_s),
                ),
            ),
        ),
    ),
    Chart(
        "core.png",
        (
            Panel(
                "Order book: one delta applied, from a parsed dict (median)",
                "µs",
                False,
                (
                    Row("compiled OrderBook.apply_update", "book.apply_update",
                        "test_book_apply_update[compiled]", median_us(2000)),
                    Row("pure-Python twin", "book.apply_update",
                        "test_book_apply_update[pure]", median_us(2000)),
                ),
            ),
            Panel(
                "Order book: one delta applied, from the JSON bytes (parse included, median)",
                "µs",
                False,
                (
                    Row("compiled apply_update_raw (C scanner)", "book from JSON bytes",
                        "test_book_apply_update_raw[compiled]", median_us(2000)),
                    Row("compiled: orjson.loads + apply_update", "book from JSON bytes",
                        "test_book_orjson_then_apply_update", median_us(2000)),
                    Row("orjson.loads alone (parse floor)", "book from JSON bytes",
                        "test_orjson_loads_only", median_us(2000)),
                    Row("pure-Python apply_update_raw", "book from JSON bytes",
                        "test_book_apply_update_raw[pure]", median_us(2000)),
                ),
            ),
        ),
    ),
)  # fmt: skip


def load(path: Path) -> list[Bench]:
    """The benchmarks of one pytest-benchmark JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("benchmarks", []))


def find(benches: list[Bench], row: Row) -> Bench | None:
    """The benchmark a row reads, or None when this run does not have it."""
    for b in benches:
        if b["name"] == row.name and (b.get("group") or "").startswith(row.group):
            return b
    return None


def panel_values(benches: list[Bench], panel: Panel) -> list[tuple[str, float]] | None:
    """(label, value) per row, or None when a row's benchmark is missing or has no figure."""
    out = []
    for row in panel.rows:
        b = find(benches, row)
        if b is None:
            return None
        try:
            out.append((row.label, row.value(b)))
        except (KeyError, TypeError, ZeroDivisionError):
            return None
    return out


def fmt(value: float, unit: str) -> str:
    """A bar's label: µs with 3 significant figures (ms above 10 000), rates rounded."""
    if unit == "frames/s":
        return f"{value:,.0f}".replace(",", " ") + " /s"
    if value >= 10_000:
        return f"{value / 1000:.1f} ms"
    return f"{value:.3g} µs" if value < 100 else f"{value:,.0f} µs".replace(",", " ")


def ratio_text(value: float, ref: float, higher_is_better: bool) -> str:
    """How the row compares to the first row: '3.9× slower' (or '' for the first)."""
    if value == ref:
        return ""
    slow = ref / value if higher_is_better else value / ref
    return f"  ({slow:.1f}× slower)" if slow >= 1 else f"  ({1 / slow:.1f}× faster)"


OURS, PEER = "#2b6cb0", "#a0aec0"


def is_ours(label: str) -> bool:
    """lighterfast's own rows are drawn in colour, peers and floors in grey."""
    return label.startswith(("lighterfast", "NativeSigner", "SdkSigner", "compiled"))


def draw(
    chart: Chart, panels: list[tuple[Panel, list[tuple[str, float]]]], out: Path, note: str
) -> Path:
    """Write one chart (horizontal bars, values and ratios written on the bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    heights = [0.9 + 0.48 * len(values) for _, values in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(9.0, sum(heights) + 0.35), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for ax, (panel, values) in zip(axes[:, 0], panels, strict=True):
        labels = [label for label, _ in values][::-1]
        nums = [v for _, v in values][::-1]
        colors = [OURS if is_ours(label) else PEER for label in labels]
        bars = ax.barh(labels, nums, color=colors, height=0.62)
        ref = values[panel.ref][1]
        top = max(nums)
        for bar, v in zip(bars, nums, strict=True):
            text = fmt(v, panel.unit) + ratio_text(v, ref, panel.higher_is_better)
            ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, text,
                    va="center", fontsize=9)  # fmt: skip
        better = "higher is better" if panel.higher_is_better else "lower is better"
        ax.set_title(panel.title, fontsize=10.5, loc="left")
        ax.set_xlim(0, top * 1.45)
        ax.set_xlabel(f"{panel.unit} ({better})", fontsize=9)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}".replace(",", " ")))
        ax.tick_params(axis="y", labelsize=9)
        ax.tick_params(axis="x", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.text(0.01, 0.005, note, fontsize=7.5, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = out / chart.file
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def host_note(paths: list[Path]) -> str:
    """One line naming the machine and dates of the runs (from the JSON files' own headers)."""
    hosts, dates = set(), []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = data.get("machine_info", {})
        cpu = info.get("cpu", {}).get("brand_raw") or info.get("processor") or "?"
        cores = info.get("cpu", {}).get("count", "?")
        hosts.add(f"{cpu}, {cores} cores, CPython {info.get('python_version', '?')}")
        dates.append((data.get("datetime") or "")[:16].replace("T", " "))
    when = min(dates) if min(dates)[:10] == max(dates)[:10] else f"{min(dates)}..{max(dates)}"
    return f"pytest-benchmark; {'; '.join(sorted(hosts))}; {when} UTC."


def print_figures(benches: list[Bench]) -> None:
    """Every benchmark's group, name, median and stored percentiles (to write tables from)."""
    for b in sorted(benches, key=lambda b: (b.get("group") or "", b["stats"]["median"])):
        extra_info = {k: v for k, v in b.get("extra_info", {}).items() if k.endswith("_us")}
        print(
            f"{b.get('group')!s:55} {b['name']:50} median {b['stats']['median'] * 1e6:12.2f} µs"
            f"  min {b['stats']['min'] * 1e6:12.2f} µs  {extra_info or ''}"
        )


def main(argv: list[str] | None = None) -> int:
    """Draw every chart the JSON has the benchmarks for; return 1 if none could be drawn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results", type=Path, nargs="+", help="pytest-benchmark JSON files (--benchmark-json)"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="output directory")
    parser.add_argument("--print", action="store_true", help="also print every figure")
    args = parser.parse_args(argv)
    benches = [b for path in reversed(args.results) for b in load(path)]  # later files win
    if args.print:
        print_figures(benches)
    args.out.mkdir(parents=True, exist_ok=True)
    note = host_note(args.results)
    drawn = 0
    for chart in CHARTS:
        panels = []
        for panel in chart.panels:
            values = panel_values(benches, panel)
            if values is not None:
                panels.append((panel, values))
        if not panels:
            print(f"skipped {chart.file}: its benchmarks are not in the JSON given")
            continue
        print(f"wrote {draw(chart, panels, args.out, note)}")
        drawn += 1
    return 0 if drawn else 1


if __name__ == "__main__":
    sys.exit(main())
