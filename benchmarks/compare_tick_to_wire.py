"""Tick to wire, this tree against an older commit's Python, alternately in one run.

A loaded shared machine drifts by more than a code change is worth between two runs, so the
two trees are measured turn about, each turn a fresh process against one local node (in its
own process, as `bench_tick_to_wire.py` does), and compared by the median of their p50s. The
older tree is `git archive REV src` with this tree's compiled modules copied in (so only the
Python differs). A round is `create_limit_order` + `flush()`; the clock stops when the
dealer's WebSocket transport's `send` has returned.

    python benchmarks/compare_tick_to_wire.py REV [--rounds 1000] [--turns 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 30


def _export(rev: str, into: Path) -> Path:
    """`src` of commit `rev` under `into`, with the working tree's compiled modules."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for built in (ROOT / "src").rglob("*.so"):
        shutil.copy2(built, into / built.relative_to(ROOT))
    return into / "src"


async def _rounds(info: dict[str, Any], slot: int, rounds: int) -> list[float]:
    """Tick-to-wire samples (µs) of one dealer on account `slot`."""
    from lighterfast import DealerConfig, LighterDealer

    acc, key, private = info["accounts"][slot]
    cfg = DealerConfig(
        base_url=info["base_url"], account_index=acc, api_key_index=key,
        api_key_private_key=private, symbol="ETH", standard_account=False, signer="native",
    )  # fmt: skip
    dealer = await LighterDealer.create(cfg)
    ws = dealer._ws
    wire = [0]

    class Timed:  # pass-through around the picows transport: when `send` returned
        def __init__(self, real: Any) -> None:
            self._real = real

        def send(self, *args: Any) -> None:
            self._real.send(*args)
            wire[0] = time.perf_counter_ns()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

    rng = random.Random(slot)
    samples: list[float] = []
    try:
        for i in range(WARMUP + rounds):
            if not isinstance(ws._transport, Timed):
                ws._transport = Timed(ws._transport)
            t0 = time.perf_counter_ns()
            await dealer.create_limit_order(round(rng.uniform(1000, 1999), 2), 0.01)
            results = await dealer.flush()
            assert results[0]["accepted"], results
            if i >= WARMUP:
                samples.append((wire[0] - t0) / 1000)
    finally:
        await dealer.aclose()
    return samples


def _worker(slot: int, rounds: int) -> None:
    info = json.loads(sys.stdin.readline())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from setup_common import new_loop

    loop = new_loop()
    try:
        samples = loop.run_until_complete(_rounds(info, slot, rounds))
    finally:
        loop.close()
    print(json.dumps({"p50": statistics.median(samples)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", nargs="?", help="the older commit")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker, args.rounds)
        return
    if not args.rev:
        parser.error("REV is required")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from setup_common import node_in_process

    with tempfile.TemporaryDirectory() as tmp:
        trees = {args.rev: _export(args.rev, Path(tmp)), "working tree": ROOT / "src"}
        p50s: dict[str, list[float]] = {name: [] for name in trees}
        with node_in_process("fast", accounts=len(trees)) as info:
            line = json.dumps(info) + "\n"
            for turn in range(args.turns):
                for slot, (name, src) in enumerate(trees.items()):
                    out = subprocess.run(
                        [sys.executable, __file__, "--worker", str(slot), "--rounds",
                         str(args.rounds)],
                        input=line, capture_output=True, text=True, check=True, cwd=tmp,
                        env=dict(os.environ, PYTHONPATH=str(src)),
                    )  # fmt: skip
                    p50s[name].append(json.loads(out.stdout.splitlines()[-1])["p50"])
                    print(f"turn {turn + 1} {name}: p50 {p50s[name][-1]:.1f} us", flush=True)
    old, new = (statistics.median(v) for v in p50s.values())
    print(f"median p50: {args.rev} {old:.1f} us, working tree {new:.1f} us, ratio {new / old:.3f}")


if __name__ == "__main__":
    main()
