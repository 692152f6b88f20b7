"""Pieces of the chaos run: settings from the environment, the fault injector (proxy and node
faults, drawn from a seeded generator), the dealer bots and their ledger of reported results.

The invariants are checked in `invariants.py` against the node's own state, which the client
never sees: it is the independent truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.proxy import ChaosProxy
from lighterfast import LighterDealer
from lighterfast.errors import LighterError
from lighterfast.testnode import LocalNode

SEED_ENV = "LIGHTERFAST_CHAOS_SEED"
FAULTS_ENV = "LIGHTERFAST_CHAOS_FAULTS"
DEFAULT_SEED = 12
DEFAULT_FAULTS = 240  # CI: >= 200 faults, well under two minutes on 2 cores

# Faults by kind and weight. Proxy faults hit one live connection (REST or WebSocket).
PROXY_FAULTS = {"cut": 10, "reset": 5, "stall": 8, "half_open": 5, "slow": 6, "corrupt": 8}
NODE_FAULTS = {
    "gap": 6,  # next book delta of a market dropped: a nonce gap
    "duplicate": 5,  # next book delta sent twice
    "node_stall": 5,  # the node stops writing to one socket for a while
    "close": 7,  # the node closes one socket (or all) with a code
    "restart": 2,  # close everything, rebind the port, state kept
    "429": 6,  # next tx (or REST) request(s) refused with 429 / 23000
    "21104": 6,  # next tx request(s) refused with 21104 invalid nonce
    "invert": 3,  # stream frames before the tx reply, for a while
    "lost_reply": 6,  # next REST tx reply lost after acceptance (502 HTML, 200 HTML, cut)
    "late_reply": 3,  # every tx reply held back for a while after acceptance
}
CLOSE_CODES = (1000, 1001, 1006, 1011, 1012, 4000)
# Between two faults (s): a mean of ~0.19 s keeps 240 faults inside a minute.
FAULT_GAP_S = (0.03, 0.35)


@dataclass(frozen=True)
class Settings:
    """The seed and the number of faults of one run (environment, else the CI defaults)."""

    seed: int
    faults: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(_env_int(SEED_ENV, DEFAULT_SEED, 0), _env_int(FAULTS_ENV, DEFAULT_FAULTS, 1))


def _env_int(name: str, default: int, low: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


class Injector:
    """Applies `count` faults drawn from a seeded generator; lasting ones end by themselves."""

    def __init__(self, node: LocalNode, proxy: ChaosProxy, rng: random.Random) -> None:
        self.node = node
        self.proxy = proxy
        self.rng = rng
        self.counts: Counter[str] = Counter()
        self._handles: list[asyncio.TimerHandle] = []
        self._undo: list[Callable[[], None]] = []
        self._kinds = list(PROXY_FAULTS) + list(NODE_FAULTS)
        self._weights = list(PROXY_FAULTS.values()) + list(NODE_FAULTS.values())
        faults = node.faults
        if not hasattr(faults, "fault_next_tx_reply"):  # an older node: no lost replies
            for kind in ("lost_reply", "late_reply"):
                self._weights[self._kinds.index(kind)] = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_kind(self) -> str:
        """`cut 40, stall 31, ...`, most frequent first."""
        return ", ".join(f"{k} {n}" for k, n in self.counts.most_common())

    async def run(self, count: int) -> None:
        """Apply `count` faults, one every FAULT_GAP_S."""
        while self.total < count:
            await asyncio.sleep(self.rng.uniform(*FAULT_GAP_S))
            kind = self.rng.choices(self._kinds, self._weights)[0]
            applied = await self.apply(kind)
            if applied is not None:
                self.counts[applied] += 1

    def _later(self, delay: float, undo: Callable[[], None]) -> None:
        self._handles.append(asyncio.get_running_loop().call_later(delay, undo))
        self._undo.append(undo)

    async def apply(self, kind: str) -> str | None:
        """Apply one fault; returns the kind applied (None: nothing to apply it to)."""
        rng = self.rng
        if kind in PROXY_FAULTS:
            conns = self.proxy.live()
            if not conns:
                return None
            conn = conns[rng.randrange(len(conns))]
            if kind in ("cut", "reset"):
                conn.cut(reset=kind == "reset")
            elif kind == "stall":
                conn.stall(True)
                self._later(rng.uniform(0.2, 2.5), lambda c=conn: c.stall(False))
            elif kind == "half_open":
                conn.make_half_open()
            elif kind == "slow":
                conn.slow(rng.uniform(0.02, 0.4))
                self._later(rng.uniform(0.5, 3.0), lambda c=conn: c.slow(0))
            else:
                conn.corrupt_next()
            return kind
        faults = self.node.faults
        sessions = list(self.node.hub.sessions)
        if kind == "gap":
            faults.drop_next_book_delta(rng.randrange(3))
        elif kind == "duplicate":
            faults.duplicate_next_book_delta(rng.randrange(3))
        elif kind == "node_stall":
            if not sessions:
                return None
            sid = sessions[rng.randrange(len(sessions))].session_id
            faults.stall(True, sid)
            self._later(rng.uniform(0.2, 2.5), lambda s=sid: _unstall(faults, s))
        elif kind == "close":
            code = rng.choice(CLOSE_CODES)
            every = rng.random() < 0.25
            if not sessions:
                return None
            sid = None if every else sessions[rng.randrange(len(sessions))].session_id
            with contextlib.suppress(ValueError):  # the session went meanwhile
                await faults.close_all(code, "chaos", sid)
        elif kind == "restart":
            await self.node.restart(rng.uniform(0.0, 0.6))
        elif kind == "429":
            scope = "tx" if rng.random() < 0.8 else "rest"
            faults.force_rate_limit(rng.randint(1, 2), scope)
        elif kind == "21104":
            faults.force_invalid_nonce(rng.randint(1, 3))
        elif kind == "invert":
            faults.invert_reply_order = True
            self._later(rng.uniform(0.5, 2.0), lambda: setattr(faults, "invert_reply_order", False))
        elif kind == "lost_reply":
            faults.fault_next_tx_reply(rng.choice(("html_502", "html_200", "cut")))
        elif kind == "late_reply":
            faults.delay_tx_replies(rng.uniform(200, 3000))
            self._later(rng.uniform(0.3, 2.0), lambda: faults.delay_tx_replies(0))
        return kind

    def heal(self) -> None:
        """End every lasting fault now and drop pending node faults (half-open sockets stay:
        finding them is the client's job)."""
        for handle in self._handles:
            handle.cancel()
        for undo in self._undo:
            with contextlib.suppress(Exception):
                undo()
        self._handles.clear()
        self._undo.clear()
        self.proxy.heal()
        self.node.faults.clear()


def _unstall(faults: Any, session_id: str) -> None:
    with contextlib.suppress(ValueError):  # that socket is gone already
        faults.stall(False, session_id)


# --- the dealer bots ---------------------------------------------------------------------------
# Resting sizes per market (above each minimum base and the 10 USDC minimum quote).
SIZES = {"ETH": 0.01, "BTC": 0.0005, "SOL": 0.1}
MAX_LIVE_PER_BOT = 30
FLUSH_BOUND_S = 60.0  # a flush that has not returned by then waited blind: a finding


@dataclass
class Ledger:
    """Every result the dealers reported, and what went wrong on the client's side."""

    creates: dict[int, dict[str, Any]] = field(default_factory=dict)  # COI -> create result
    cancels: dict[int, list[str]] = field(default_factory=dict)  # COI -> cancel statuses
    accepted_txs: list[dict[str, Any]] = field(default_factory=list)  # every accepted tx
    problems: list[str] = field(default_factory=list)  # client-side violations (stuck flush)
    errors: Counter[str] = field(default_factory=Counter)  # exceptions out of the public API
    rounds: int = 0
    resolutions: Counter[str] = field(default_factory=Counter)  # "accepted"/"rejected" by whom
    # Resolutions that came before their flush returned (another lane of it still sending).
    early: dict[int, dict[str, Any]] = field(default_factory=dict)

    def resolved(self, dealer: str, result: dict[str, Any]) -> None:
        """A final result of an earlier unknown (`dealer.on_resolved`): it replaces the
        unknown for the checks, which then hold it to the node like any other."""
        status = str(result.get("status"))
        self.resolutions[f"{status} by {result.get('resolved_by')}"] += 1
        if status == "accepted":
            self.accepted_txs.append({**result, "dealer": dealer})
        coi = result.get("client_order_index")
        if result.get("action") == "cancel" and coi is not None:
            self.cancels.setdefault(coi, []).append(f"resolved {status}")
        if result.get("action") != "create" or coi is None:
            return
        final = {**result, "dealer": dealer, "was_unknown": True}
        prior = self.creates.get(coi)
        if prior is None:
            self.early[coi] = final
        elif prior["status"] != "unknown":
            self.problems.append(f"COI {coi}: {prior['status']} create resolved again")
        else:
            self.creates[coi] = final

    def record(self, dealer: str, results: list[dict[str, Any]]) -> None:
        for r in results:
            status = r.get("status")
            if status == "accepted":
                self.accepted_txs.append({**r, "dealer": dealer})
            coi = r.get("client_order_index")
            if r.get("action") == "create" and coi is not None:
                if coi in self.creates:
                    self.problems.append(f"COI {coi} reported twice by create results")
                self.creates[coi] = {**r, "dealer": dealer}
                final = self.early.pop(coi, None)
                if final is not None:
                    if status != "unknown":
                        self.problems.append(f"COI {coi}: {status} create resolved too")
                    else:
                        self.creates[coi] = final
            elif r.get("action") == "cancel" and coi is not None:
                self.cancels.setdefault(coi, []).append(str(status))


class Bot:
    """One dealer's workload: rest post-only orders around the market, cancel, modify, flush."""

    def __init__(
        self, dealer: LighterDealer, mid: float, rng: random.Random, ledger: Ledger
    ) -> None:
        self.dealer = dealer
        self.name = dealer.market.symbol
        self.mid = mid
        self.size = SIZES[self.name]
        self.rng = rng
        self.ledger = ledger
        self.mine: list[int] = []  # COIs this bot created, oldest first

    def _live(self) -> list[int]:
        return [c for c in self.mine if self.dealer.get_order_by_coi(c) is not None]

    def _price(self, is_ask: bool) -> float:
        off = self.rng.uniform(0.004, 0.05)
        return self.mid * (1 + off) if is_ask else self.mid * (1 - off)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.round()
            await asyncio.sleep(self.rng.uniform(0.01, 0.12))

    async def round(self) -> None:
        """Queue a few creates, cancels and modifies, then flush once (bounded wait)."""
        rng, dealer = self.rng, self.dealer
        self.ledger.rounds += 1
        live = self._live()
        for _ in range(rng.randint(2, 8)):
            is_ask = rng.random() < 0.5
            size = self.size * rng.randint(1, 3) * (-1 if is_ask else 1)
            order = await dealer.create_limit_order(self._price(is_ask), size, post_only=True)
            self.mine.append(order["client_order_index"])
        cancels = rng.randint(0, 3) + max(0, len(live) - MAX_LIVE_PER_BOT)
        for coi in rng.sample(live, min(cancels, len(live))):
            await self._call(dealer.cancel_order_by_coi, coi)
            live.remove(coi)
        if live and rng.random() < 0.4:
            coi = rng.choice(live)
            record = dealer.get_order_by_coi(coi)
            if record is not None:
                await self._call(
                    dealer.update_order_by_coi, coi, price=self._price(bool(record["is_ask"]))
                )
        flush = asyncio.ensure_future(dealer.flush())
        done, _ = await asyncio.wait({flush}, timeout=FLUSH_BOUND_S)
        if not done:
            self.ledger.problems.append(f"{self.name}: flush still waiting after {FLUSH_BOUND_S} s")
            flush.cancel()
            with contextlib.suppress(BaseException):
                await flush
            return
        try:
            results = flush.result()
        except Exception as exc:
            self.ledger.errors[f"flush raised {type(exc).__name__}"] += 1
            return
        self.ledger.record(self.name, results)
        if len(self.mine) > 4 * MAX_LIVE_PER_BOT:  # the ledger keeps them all; choose from live
            self.mine = self._live()

    async def _call(self, method: Callable[..., Any], *args: Any, **kw: Any) -> None:
        """A queueing call that may refuse a COI that just finished (a named error)."""
        try:
            await method(*args, **kw)
        except LighterError as exc:
            self.ledger.errors[type(exc).__name__] += 1
