"""The invariants of a chaos run, each checked against the node's own state (its tx records,
engine and books): what the client reported must match what the node did.

`check` returns the counts and a list of violations, each one line naming the invariant, the
COI (or key, nonce, market) and what the dealer said against what the node has.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from chaos.harness import Ledger
from lighterfast import LighterDealer
from lighterfast import protocol as P
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo

BOOK_DEPTH = 10_000  # every level


@dataclass
class Report:
    """Counts of a run (for the summary line) and the violations found."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # unknowns the client never resolved

    def fail(self, invariant: str, detail: str) -> None:
        self.violations.append(f"[{invariant}] {detail}")


def _creates_on_node(node: LocalNode, account: int) -> dict[int, list[dict[str, Any]]]:
    """COI -> the node's records of accepted create txs of `account` carrying it."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rec in node.tx_records.values():
        if rec["account_index"] != account or rec["type"] != P.TX_TYPE_CREATE_ORDER:
            continue
        coi = orjson.loads(rec["info"]).get("ClientOrderIndex")
        if coi:
            out[coi].append(rec)
    return out


def _app_error(rec: dict[str, Any]) -> bool:
    """True when the node executed the tx and it failed (nothing created)."""
    return "ae" in orjson.loads(rec.get("event_info") or "{}")


def executed(node: LocalNode) -> bool:
    """True when every accepted tx of the node has executed (no lane still queued)."""
    return all(rec["status"] == 2 for rec in node.tx_records.values())


def check_outcomes(
    node: LocalNode, account: int, ledger: Ledger, dealers: Sequence[LighterDealer], r: Report
) -> None:
    """accepted => exactly once on the node; rejected => never; unknown => resolved."""
    on_node = _creates_on_node(node, account)
    view = {d.market.symbol: d for d in dealers}
    for coi, res in ledger.creates.items():
        status = res["status"]
        was_unknown = status == "unknown" or bool(res.get("was_unknown"))
        said = f"{'resolved ' if was_unknown and status != 'unknown' else ''}{status}"
        recs = on_node.get(coi, [])
        made = [rec for rec in recs if not _app_error(rec)]
        order = node.state.order_by_coi(account, coi)
        r.counts["orders"] += 1
        r.counts[status] += 1
        if was_unknown:
            r.counts["unknown"] += 1
            r.counts["unknown_landed" if made else "unknown_not_landed"] += 1
        if status == "accepted":
            if len(recs) != 1 or len(made) != 1 or order is None:
                r.fail(
                    "accepted exists once",
                    f"COI {coi} ({res['dealer']}) reported {said} (key {res.get('api_key_index')}"
                    f" nonce {res.get('nonce')}, by {res.get('resolved_by', 'reply')}); the node"
                    f" has {len(recs)} create tx(s), {len(made)} executed without error, order"
                    f" {'present' if order else 'absent'}",
                )
        elif status == "rejected":
            if recs or order is not None:
                r.fail(
                    "rejected never exists",
                    f"COI {coi} ({res['dealer']}) reported {said} ({res.get('code')}:"
                    f" {res.get('message')}); the node has {len(recs)} create tx(s), order"
                    f" {order['status'] if order else 'absent'}",
                )
        elif status == "unknown":
            if len(made) > 1:
                r.fail("accepted exists once", f"COI {coi}: unknown create landed {len(made)}x")
            dealer = view[res["dealer"]]
            line = (
                f"COI {coi} ({res['dealer']}) still 'unknown' (view:"
                f" {(dealer.get_order_by_coi(coi) or {}).get('status')}); on the node:"
                f" {order['status'] if order else 'never created'}"
            )
            if hasattr(dealer, "resolve"):
                r.fail("unknown resolved", line)
            else:  # a client without a resolution API: counted apart, not a violation
                r.unresolved.append(line)
        else:
            r.fail("known status", f"COI {coi}: create status {status!r}")
        if was_unknown and status != "unknown":
            r.counts["unknown_resolved"] += 1
    live = {o["client_order_index"] for o in node.state.orders.values()}
    for coi, statuses in ledger.cancels.items():
        if any(s.endswith("accepted") for s in statuses) and coi in live:
            r.fail("accepted cancel", f"COI {coi}: cancel reported accepted, still live on node")


def check_nonces(node: LocalNode, account: int, ledger: Ledger, r: Report) -> None:
    """No (key, nonce) reported accepted twice; each one is the node's, and the node's own
    records never repeat a nonce of a key."""
    records = node.tx_records
    seen: dict[tuple[int, int], str] = {}
    for tx in ledger.accepted_txs:
        key, nonce, tx_hash = tx["api_key_index"], tx["nonce"], tx["tx_hash"]
        r.counts["accepted_txs"] += 1
        if (key, nonce) in seen:
            r.fail(
                "no nonce twice",
                f"key {key} nonce {nonce} reported accepted for {seen[key, nonce]} and for"
                f" {tx['action']} COI {tx.get('client_order_index')}",
            )
        seen[key, nonce] = f"{tx['action']} COI {tx.get('client_order_index')}"
        rec = records.get(tx_hash) if tx_hash else None
        if rec is None:
            r.fail(
                "accepted tx on node",
                f"{tx['action']} COI {tx.get('client_order_index')} ({tx['dealer']}) accepted"
                f" with tx_hash {tx_hash!r}: the node has no such tx",
            )
        elif (rec["api_key_index"], rec["nonce"]) != (key, nonce):
            r.fail(
                "accepted tx on node",
                f"tx {tx_hash[:12]}: dealer says key {key} nonce {nonce}, node says key"
                f" {rec['api_key_index']} nonce {rec['nonce']}",
            )
    per_key: dict[int, Counter[int]] = defaultdict(Counter)
    for rec in records.values():
        if rec["account_index"] == account:
            per_key[rec["api_key_index"]][rec["nonce"]] += 1
    for key, nonces in per_key.items():
        r.counts["node_txs"] += sum(nonces.values())
        twice = sorted(n for n, c in nonces.items() if c > 1)
        if twice:
            r.fail("no nonce twice", f"node: key {key} accepted nonces {twice[:10]} twice")


def view_mismatches(
    node: LocalNode, account: int, ledger: Ledger, dealers: Sequence[LighterDealer], ws: WsInfo
) -> list[str]:
    """Per market: the dealer's view, WsInfo's cache and the node's open orders (COI and
    price) differ where? Empty when all three agree."""
    out: list[str] = []
    node_live: dict[int, dict[int, int]] = defaultdict(dict)  # market -> COI -> price int
    for o in node.state.orders.values():
        if o["owner_account_index"] == account and o["client_order_index"]:
            node_live[o["market_index"]][o["client_order_index"]] = o["base_price"]
    cache: dict[int, dict[int, int]] = defaultdict(dict)
    for o in ws.coi_cache.values():
        cache[o.get("market_index")][o["client_order_index"]] = o.get("base_price")
    mine: dict[str, list[int]] = defaultdict(list)
    for coi, res in ledger.creates.items():
        mine[res["dealer"]].append(coi)
    for dealer in dealers:
        m = dealer.market.market_index
        view: dict[int, Any] = {}
        for coi in mine[dealer.market.symbol]:
            rec = dealer.get_order_by_coi(coi)
            if rec is not None:
                view[coi] = (rec.get("price_int"), rec.get("status"))
        truth = node_live[m]
        for name, got in (("dealer view", view), ("WsInfo cache", cache[m])):
            extra = sorted(set(got) - set(truth))
            missing = sorted(set(truth) - set(got))
            if extra:
                gone = node.state.order_by_coi(account, extra[0])
                res = ledger.creates.get(extra[0], {})
                out.append(
                    f"{dealer.market.symbol}: {name} has {len(extra)} COI(s) the node has not"
                    f" open, e.g. {extra[0]} ({got[extra[0]]}; create reported"
                    f" {res.get('status')}, cancel {ledger.cancels.get(extra[0])}; on the node:"
                    f" {gone['status'] if gone else 'never created'})"
                )
            if missing:
                out.append(
                    f"{dealer.market.symbol}: {name} lacks {len(missing)} open COI(s), e.g."
                    f" {missing[0]} (node price {truth[missing[0]]})"
                )
        for coi, price in truth.items():
            if coi in view and view[coi][0] != price:
                out.append(
                    f"{dealer.market.symbol}: COI {coi} dealer price {view[coi][0]}, node {price}"
                )
            if coi in cache[m] and cache[m][coi] != price:
                out.append(
                    f"{dealer.market.symbol}: COI {coi} WsInfo price {cache[m][coi]}, node {price}"
                )
    return out


def book_mismatches(node: LocalNode, ws: WsInfo, markets: Sequence[int]) -> tuple[list[str], int]:
    """Books that are neither equal to the node's nor marked stale; and how many are stale."""
    out: list[str] = []
    stale = 0
    books = node.state.books
    for m in markets:
        book = ws.get_order_book(m)
        if book is None:
            out.append(f"market {m}: no book")
            continue
        if book.is_stale:
            stale += 1
            continue
        want = books[m]
        bids, asks = book.bids_int(BOOK_DEPTH), book.asks_int(BOOK_DEPTH)
        if bids != want["bids"] or asks != want["asks"]:
            out.append(
                f"market {m}: book not stale (nonce {book.nonce}) but differs from the node's"
                f" (nonce {want['nonce']}): {len(bids)}/{len(asks)} levels vs"
                f" {len(want['bids'])}/{len(want['asks'])}"
            )
    return out, stale
