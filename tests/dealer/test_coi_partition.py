"""The time-based COI band is partitioned per API key: processes of one account never collide."""

from __future__ import annotations

import asyncio
import json
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest

from lighterfast.dealer import COI_EPOCH_S, COI_PER_SECOND, COI_SLOT_BITS, CoiAllocator, coi_parts
from lighterfast.dealer.coi import allocator_for_slot, slot_for_keys
from lighterfast.errors import LighterError
from lighterfast.testnode import LocalNode

# One bot process: a real dealer on one API key, COIs drawn at full speed for ~2 s after "go".
_BOT = """
import array, asyncio, json, sys, time
from lighterfast import DealerConfig, LighterDealer

async def main():
    opts = json.loads(sys.stdin.readline())
    out = opts.pop("out")
    dealer = await LighterDealer.create(DealerConfig(**opts))
    print("ready", flush=True)
    sys.stdin.readline()
    draw, cois = dealer._next_coi, array.array("Q")
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        for _ in range(500):
            cois.append(draw())
    summary = await dealer.create_limit_order(1000.0, 0.01)  # the create path, same source
    cois.append(summary["client_order_index"])
    dealer._queue.clear()  # nothing is sent: the node is not the subject here
    await dealer.aclose()
    with open(out, "wb") as f:
        cois.tofile(f)
    print("done", flush=True)

asyncio.run(main())
"""


async def _start_bot(node: LocalNode, acct: Any, key: Any, out: Path) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _BOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    opts = {
        "base_url": node.base_url,
        "account_index": acct.account_index,
        "api_key_index": key.api_key_index,
        "api_key_private_key": key.private_key,  # on stdin, never on the command line
        "symbol": "ETH",
        "standard_account": False,
        "use_ws": False,
        "out": str(out),
    }
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(opts).encode() + b"\n")
    await proc.stdin.drain()
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.strip() != b"ready":
        _, err = await proc.communicate()
        raise AssertionError(f"bot did not start: {line!r} {err.decode()[-2000:]}")
    return proc


async def test_two_processes_two_keys_one_account_never_share_a_coi(tmp_path: Path) -> None:
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=100_000, keys=2)
        keys = acct.keys
        outs = [tmp_path / "bot0.bin", tmp_path / "bot1.bin"]
        procs = []
        try:
            for key, out in zip(keys, outs, strict=True):
                procs.append(await _start_bot(node, acct, key, out))
            for proc in procs:  # both draw COIs over the same two seconds
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()
            for proc in procs:
                stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
                assert proc.returncode == 0, stderr.decode()[-2000:]
                assert b"done" in stdout
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    runs = []
    for out in outs:
        cois = array("Q")
        cois.frombytes(out.read_bytes())
        runs.append(cois)
    for key, cois in zip(keys, runs, strict=True):
        assert len(cois) > 10_000  # full speed: far above 1024 COIs/s, so ahead of the clock
        assert list(cois) == sorted(set(cois))  # unique and increasing within a process
        assert {coi_parts(c)[1] for c in cois} == {key.api_key_index}  # its key's slot
    first, second = set(runs[0]), set(runs[1])
    assert not first & second, f"{len(first & second)} COIs issued by both processes"


def test_restart_in_the_same_second_does_not_repeat() -> None:
    second = COI_EPOCH_S + 86_400 * 800
    first_run = CoiAllocator(lambda: second + 0.050, slot=7)
    issued = [first_run.next() for _ in range(500)]  # 500 COIs: 0.49 s ahead of the clock
    assert first_run.lead_s() == pytest.approx(499 / COI_PER_SECOND)
    restarted = CoiAllocator(lambda: second + 0.600, slot=7)  # back 550 ms later
    again = [restarted.next() for _ in range(500)]
    assert not set(issued) & set(again)
    assert again[0] > issued[-1]
    assert {coi & 0xFF for coi in issued + again} == {7}


def test_slots_at_the_same_instant_are_disjoint_and_decode() -> None:
    now = COI_EPOCH_S + 86_400 * 500 + 0.25
    by_slot = {slot: [CoiAllocator(lambda: now, slot=slot)() for _ in range(1)] for slot in (0, 4)}
    a = CoiAllocator(lambda: now, slot=4)
    b = CoiAllocator(lambda: now, slot=5)
    cois_a = [a.next() for _ in range(3000)]
    cois_b = [b.next() for _ in range(3000)]
    assert not set(cois_a) & set(cois_b)
    ticks = int((now - COI_EPOCH_S) * COI_PER_SECOND)
    assert coi_parts(cois_a[0]) == (ticks, 4) and coi_parts(cois_b[-1]) == (ticks + 2999, 5)
    assert by_slot[0][0] >> COI_SLOT_BITS == by_slot[4][0] >> COI_SLOT_BITS == ticks


def test_the_band_lasts_2_to_the_30_seconds() -> None:
    """2^40 ticks of 1/1024 s: the last tick's COI of slot 255 is 2^48-1; one more is refused."""
    last = CoiAllocator(lambda: COI_EPOCH_S + (2**40 - 1) / COI_PER_SECOND, slot=255)
    assert last.next() == 2**48 - 1
    with pytest.raises(LighterError, match="clock far ahead"):
        last.next()
    years = 2**40 / COI_PER_SECOND / (365.25 * 86_400)
    assert 34 < years < 34.1


def test_dealer_slot_is_its_lowest_key_and_in_process_allocators_are_shared() -> None:
    assert slot_for_keys({9: "k", 4: "k", 200: "k"}) == 4
    assert allocator_for_slot(4) is allocator_for_slot(4)
    assert allocator_for_slot(4).slot == 4
    own = CoiAllocator(slot=4)  # a second wall-clock allocator of slot 4 shares the mark
    mixed = [allocator_for_slot(4).next(), own.next(), allocator_for_slot(4).next()]
    assert mixed == sorted(set(mixed))
    for bad in (-1, 256, True, "3"):
        with pytest.raises((TypeError, ValueError)):
            CoiAllocator(slot=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        slot_for_keys([])
