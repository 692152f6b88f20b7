"""Make the README's screenshot of `lighterfast demo`'s live table (SVG, and PNG if possible).

Runs the demo exactly as `lighterfast demo` does (in-process local node, simulated flow, the
standard tier's rate limits), records the live table as drawn a few seconds before the end,
and writes it with rich's `Console.save_svg`. The PNG is made with `rsvg-convert` (Debian:
`apt-get install librsvg2-bin`) or, failing that, `cairosvg` from pip — doc tools only.

    python3 tools/demo_screenshot.py --out docs/img/demo.png
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from lighterfast.apps.demo import DemoOptions, run_demo
from lighterfast.apps.demo_view import LiveView


class SnapshotView:
    """A demo view that draws nothing live and records the table once, at `capture_at` s."""

    def __init__(self, title: str, duration: float, capture_at: float, width: int) -> None:
        self.console = Console(
            record=True, width=width, file=io.StringIO(), color_system="truecolor"
        )
        self.table_view = LiveView(title, duration, console=self.console)
        self.capture_at = capture_at
        self.messages: list[str] = []
        self.captured = False
        self._started = time.monotonic()

    def start(self, bots: Sequence[Any]) -> None:
        """Start the clock the table's title shows."""
        self._started = time.monotonic()
        self.table_view._started = self._started

    def update(self, bots: Sequence[Any]) -> None:
        """Record the table once the capture time has come."""
        if not self.captured and time.monotonic() - self._started >= self.capture_at:
            for text in self.messages:
                self.console.print(text, markup=False, highlight=False)
            self.console.print(self.table_view._table(bots))
            self.captured = True

    def message(self, text: str) -> None:
        """Keep the lines the demo prints above its table."""
        self.messages.append(text)

    def stop(self) -> None:
        """Nothing to tear down."""


def keep_spaces(svg: Path) -> None:
    """Mark the SVG `xml:space="preserve"`: rsvg-convert otherwise drops the leading spaces
    of right-aligned cells, and every number column comes out left-aligned."""
    text = svg.read_text(encoding="utf-8")
    if "xml:space" not in text:
        svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")


def to_png(svg: Path, png: Path) -> bool:
    """Convert with rsvg-convert, else cairosvg; False when neither is installed."""
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "--zoom", "1.25", "-o", str(png), str(svg)], check=True)
        return True
    try:
        import cairosvg
    except ImportError:
        return False
    cairosvg.svg2png(url=str(svg), write_to=str(png), scale=1.25)
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the demo once and write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/demo.png"))
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--capture-at", type=float, default=15.0, help="seconds into the run")
    parser.add_argument("--width", type=int, default=118, help="terminal columns")
    args = parser.parse_args(argv)
    view = SnapshotView("lighterfast demo (local node)", args.duration, args.capture_at, args.width)
    asyncio.run(run_demo(DemoOptions(duration=args.duration), view=view))
    if not view.captured:
        print("the demo ended before the capture time", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    svg = args.out.with_suffix(".svg")
    view.console.save_svg(str(svg), title="lighterfast demo")
    keep_spaces(svg)
    if to_png(svg, args.out):
        svg.unlink()
        print(f"wrote {args.out}")
    else:
        print(f"wrote {svg} (install librsvg2-bin or cairosvg for a PNG)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
