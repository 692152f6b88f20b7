"""The COI → order view: what the dealer knows of each order it issued or saw on a stream.

Creates enter it as "queued" when they are queued; send results, WS order frames
(`feed_ws_orders`), reconnect snapshots (`resync_ws_orders`) and REST reads update it, so a
COI can be canceled or modified at once, on the key that sent its create.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import protocol as P
from ..errors import CoiInUse, OrderNotFoundByCoi
from .coi import check_coi
from .state import DealerState

if TYPE_CHECKING:
    from .intents import _Intent

# Statuses of a COI the dealer issued that a stream snapshot may not show yet.
_NOT_YET_LIVE = frozenset({"queued", "accepted", "unknown"})
# Final status of an order that vanished from the live set while the stream was down.
STATUS_GONE = "finished while disconnected"
# Final status of an accepted create the node never heard of, long past its execution.
STATUS_NOT_ON_NODE = "not on the node"
# Seconds past acceptance an order unknown to the node is still waited for (execution lags).
NODE_CHECK_GRACE = 5.0
# Statuses a check on the node (accountOrders) may settle: sent, never seen on a stream.
_UNVOUCHED = frozenset({"accepted", "unknown"})


# Final statuses a finished COI is stored as (a code each); others get codes as they come.
_KNOWN_FINAL = (
    "rejected",
    STATUS_GONE,
    P.STATUS_FILLED,
    "expired",
    *sorted(s for s in P.STATUS_CODES if s.startswith("canceled")),
    STATUS_NOT_ON_NODE,
)
_FIB = 0x9E3779B97F4A7C15  # Fibonacci hashing: COIs of one slot share their low 8 bits
_U64 = (1 << 64) - 1


class FinishedCois:
    """Bounded COI → final status, about 30 bytes a COI (a dict of strings took ~200).

    One array of `coi << 8 | status code` (open addressing, linear probing), the ring of COIs
    in finish order (the oldest is evicted when full) and each entry's ring position.
    """

    __slots__ = (
        "_bits",
        "_capacity",
        "_codes",
        "_count",
        "_head",
        "_names",
        "_pos",
        "_ring",
        "_table",
    )

    def __init__(self, capacity: int = 65536) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self._capacity = capacity
        self._names: list[str] = list(_KNOWN_FINAL)
        self._codes = {name: code for code, name in enumerate(self._names)}
        self._ring: array[int] = array("Q")
        self._head = 0  # oldest ring position once the ring is full
        self._count = 0
        self._alloc(4)

    def _alloc(self, bits: int) -> None:
        self._bits = bits
        self._table: array[int] = array("Q", bytes(8 << bits))
        self._pos: array[int] = array("I", bytes(4 << bits))

    @property
    def capacity(self) -> int:
        """Most COIs kept (the oldest finished is forgotten first)."""
        return self._capacity

    def __len__(self) -> int:
        return self._count

    def __contains__(self, coi: object) -> bool:
        return isinstance(coi, int) and self._find(coi) >= 0

    def _home(self, coi: int) -> int:
        return ((coi * _FIB) & _U64) >> (64 - self._bits)

    def _find(self, coi: int) -> int:
        """Table index of `coi`, or -1."""
        table, mask = self._table, (1 << self._bits) - 1
        i = self._home(coi)
        while True:
            entry = table[i]
            if entry == 0:
                return -1
            if entry >> 8 == coi:
                return i
            i = (i + 1) & mask

    def get(self, coi: int, default: str | None = None) -> str | None:
        """The final status of `coi`, or `default`."""
        i = self._find(coi) if isinstance(coi, int) else -1
        return default if i < 0 else self._names[self._table[i] & 0xFF]

    def put(self, coi: int, status: str) -> None:
        """Remember `coi` as finished with `status` (a known COI keeps its age)."""
        coi = check_coi(coi)
        code = self._codes.get(status)
        if code is None:
            code = len(self._names) if len(self._names) < 256 else 0
            if code:
                self._names.append(status)
                self._codes[status] = code
        i = self._find(coi)
        if i >= 0:
            self._table[i] = coi << 8 | code
            return
        ring = self._ring
        if len(ring) < self._capacity:
            position = len(ring)
            ring.append(coi)
        else:
            position = self._head
            old = self._find(ring[position])
            if old >= 0 and self._pos[old] == position:
                self._delete(old)
            ring[position] = coi
            self._head = (position + 1) % self._capacity
        if (self._count + 1) * 5 > 3 << self._bits:  # keep the load under 60 %
            self._grow()
        self._insert(coi << 8 | code, position)
        self._count += 1

    def _insert(self, entry: int, position: int) -> None:
        table, mask = self._table, (1 << self._bits) - 1
        i = self._home(entry >> 8)
        while table[i]:
            i = (i + 1) & mask
        table[i] = entry
        self._pos[i] = position

    def _grow(self) -> None:
        old_table, old_pos = self._table, self._pos
        self._alloc(self._bits + 1)
        for entry, position in zip(old_table, old_pos, strict=True):
            if entry:
                self._insert(entry, position)

    def _delete(self, i: int) -> None:
        """Empty slot i, shifting back the entries of its probe run (no tombstones)."""
        table, pos, mask = self._table, self._pos, (1 << self._bits) - 1
        j = i
        while True:
            j = (j + 1) & mask
            entry = table[j]
            if entry == 0:
                break
            home = self._home(entry >> 8)
            # entry at j may move to i unless its home lies cyclically in (i, j]
            if (home <= i or home > j) if i <= j else (home <= i and home > j):
                table[i], pos[i] = entry, pos[j]
                i = j
        table[i] = 0
        self._count -= 1

    def pop(self, coi: int, default: str | None = None) -> str | None:
        """Forget `coi` (reused by a new create); its final status, or `default`."""
        i = self._find(coi) if isinstance(coi, int) else -1
        if i < 0:
            return default
        status = self._names[self._table[i] & 0xFF]
        self._delete(i)
        return status


def _human(text: Any) -> float | None:
    """A wire decimal string as a float ('' and None → None)."""
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _order_view(order: Mapping[str, Any]) -> dict[str, Any]:
    """An Order object (REST or WS) as a plain dict of human numbers."""
    is_ask = bool(order.get("is_ask"))
    remaining = _human(order.get("remaining_base_amount"))
    return {
        "client_order_index": order.get("client_order_index"),
        "order_index": order.get("order_index"),
        "market_index": order.get("market_index"),
        "side": "sell" if is_ask else "buy",
        "is_ask": is_ask,
        "price": _human(order.get("price")),
        "size": remaining,
        "initial_size": _human(order.get("initial_base_amount")),
        "filled_size": _human(order.get("filled_base_amount")),
        "trigger_price": _human(order.get("trigger_price")),
        "status": order.get("status"),
        "type": order.get("type"),
        "time_in_force": order.get("time_in_force"),
        "reduce_only": bool(order.get("reduce_only")),
        "order_expiry": order.get("order_expiry"),
    }


class _OrderViewMixin(DealerState):
    """The live-order view of a dealer (COI → record) and how streams and reads update it."""

    def _known_order(self, coi: Any) -> dict[str, Any]:
        """The live-view record of a COI, or OrderNotFoundByCoi (nothing signed)."""
        coi = check_coi(coi)
        record = self._orders.get(coi)
        if record is not None:
            return record
        final = self._finished.get(coi)
        if final is not None:
            raise OrderNotFoundByCoi(coi, f"already finished: {final}")
        raise OrderNotFoundByCoi(
            coi,
            "never issued by this dealer nor seen on the order streams"
            f" (or among more than the last {self._finished.capacity} finished)",
        )

    def _check_coi_free(self, coi: int) -> None:
        """Refuse a create whose COI names an order live, queued or in flight here (CoiInUse).

        Without this a second create overwrote the view's record of the live order; the node
        refuses the create (21728) but a later modify read the wrong price from the record.
        """
        record = self._orders.get(coi)
        if record is not None:
            raise CoiInUse(coi, str(record.get("status")))

    def _check_new_cois(self, intents: Iterable[_Intent]) -> None:
        """Refuse creates of one batch that share a COI, or reuse a live one (CoiInUse)."""
        seen: set[int] = set()
        for intent in intents:
            if intent.action != "create" or intent.coi is None:
                continue
            if intent.coi in seen:
                raise CoiInUse(intent.coi, "used twice in this batch")
            self._check_coi_free(intent.coi)
            seen.add(intent.coi)

    def _remember_create(self, intent: _Intent) -> None:
        """Put a create in the live view as "queued" (so it can be canceled/modified at once)."""
        assert intent.coi is not None
        self._check_coi_free(intent.coi)
        self._finished.pop(intent.coi)  # a finished COI reused: live again
        self._orders.put(
            intent.coi,
            {
                "client_order_index": intent.coi,
                "market_index": intent.market_index,
                "is_ask": bool(intent.kwargs["is_ask"]),
                "price_int": intent.kwargs["price"],
                "base_amount_int": intent.kwargs["base_amount"],
                "trigger_price_int": intent.kwargs["trigger_price"],
                "status": "queued",
                "order_index": None,
                "api_key_index": None,
            },
        )

    # deprecated order-index API ---------------------------------------------------------------
    def feed_ws_orders(self, orders: Any) -> int:
        """Update the COI view from WS order frames (list, or map market → list); returns count.

        Live orders are stored with their order index and current price/size; filled,
        canceled* and expired orders are dropped and remembered as finished.
        """
        if isinstance(orders, Mapping):
            flat: list[Any] = []
            for value in orders.values():
                flat.extend(value if isinstance(value, list) else [value])
            orders = flat
        if not isinstance(orders, (list, tuple)):
            raise TypeError(f"orders must be a list of order dicts, got {type(orders).__name__}")
        # Pass 1 checks and converts everything; pass 2 changes the view (all or nothing).
        planned = [self._order_update(position, order) for position, order in enumerate(orders)]
        changed = 0
        for coi, status, fields in planned:
            if coi is None:  # an order placed without a COI: not in a COI view
                continue
            changed += 1
            if fields is None:
                self._orders.pop(coi)
                self._finished.put(coi, status)
                continue
            record = self._orders.get(coi)
            record = (
                {"client_order_index": coi, "api_key_index": None} if record is None else record
            )
            record.update(fields)
            self._orders.put(coi, record)
        return changed

    def _order_update(
        self, position: int, order: Any
    ) -> tuple[int | None, str, dict[str, Any] | None]:
        """(coi, status, fields to set) for one WS order; fields None = finished; raises if bad."""
        if not isinstance(order, Mapping):
            raise TypeError(f"orders[{position}] must be a dict, got {type(order).__name__}")
        coi = order.get("client_order_index")
        if coi in (None, 0):
            return None, "", None
        if isinstance(coi, bool) or not isinstance(coi, int) or not 0 < coi <= P.MAX_COI:
            raise ValueError(f"orders[{position}]: bad client_order_index {coi!r}")
        status = str(order.get("status", ""))
        if P.is_terminal_status(status):
            return coi, status, None
        known = self._orders.get(coi) or {}
        market = order.get("market_index", known.get("market_index"))
        fields: dict[str, Any] = {"status": status, "market_index": market}
        if order.get("order_index") is not None:
            fields["order_index"] = order["order_index"]
        if "is_ask" in order:
            fields["is_ask"] = bool(order["is_ask"])
        ours = market == self.market.market_index  # decimals known only for this market
        try:
            base_price = order.get("base_price")
            if isinstance(base_price, int) and base_price > 0:
                fields["price_int"] = base_price
            elif order.get("price") and ours:
                fields["price_int"] = self.scale.parse_price(str(order["price"]))
            base_size = order.get("base_size")
            if isinstance(base_size, int) and base_size > 0:
                fields["base_amount_int"] = base_size
            elif order.get("remaining_base_amount") and ours:
                fields["base_amount_int"] = self.scale.parse_size(
                    str(order["remaining_base_amount"])
                )
            trigger = order.get("trigger_price")
            if trigger and ours:
                fields["trigger_price_int"] = self.scale.parse_price(str(trigger))
        except ValueError as exc:
            raise ValueError(f"orders[{position}] (COI {coi}): {exc}") from None
        return coi, status, fields

    def resync_ws_orders(self, live_orders: Any) -> int:
        """Make the view match a full list of the account's live orders; returns COIs dropped.

        For `ws.on_orders_resync` (called after a reconnect's snapshot): an order the view saw
        live that is absent finished while the socket was down. Sent creates no stream showed
        yet (the snapshot may predate them) are asked of the node in the background
        (`reconcile`), so one born and gone while the socket was down leaves no phantom.
        """
        if isinstance(live_orders, (str, bytes, Mapping)) or not isinstance(live_orders, Iterable):
            raise TypeError(
                f"live_orders must be a list of order dicts, got {type(live_orders).__name__}"
            )
        live = list(live_orders)
        self.feed_ws_orders(live)  # validates every entry first
        present = {order.get("client_order_index") for order in live}
        dropped = 0
        for coi, record in self._orders.items():
            if coi in present:
                continue
            if record.get("order_index") is None and record.get("status") in _NOT_YET_LIVE:
                continue
            self._orders.pop(coi)
            self._finished.put(coi, STATUS_GONE)
            dropped += 1
        if dropped:
            self.log.info("order resync: %d order(s) finished while the stream was down", dropped)
        if self._unvouched():
            self._schedule_node_check()
        return dropped

    def _schedule_node_check(self) -> None:
        """Start the background check of unvouched COIs on the node (the reads section's)."""

    def _unvouched(self, cois: Iterable[int] | None = None) -> dict[int, tuple[Any, Any]]:
        """COI → (status, order_index) now, of the records a node check may settle.

        Default: sent creates no stream showed (no order index); `cois`: those of the view
        (any status but queued: nothing was sent yet).
        """
        if cois is None:
            return {
                coi: (record.get("status"), None)
                for coi, record in self._orders.items()
                if record.get("order_index") is None and record.get("status") in _UNVOUCHED
            }
        asked: dict[int, tuple[Any, Any]] = {}
        for coi in cois:
            record = self._orders.get(check_coi(coi))
            if record is not None and record.get("status") != "queued":
                asked[coi] = (record.get("status"), record.get("order_index"))
        return asked

    def _apply_node_orders(
        self, asked: Mapping[int, tuple[Any, Any]], orders: Iterable[Any]
    ) -> tuple[dict[int, str], float | None]:
        """Settle the asked COIs by the node's accountOrders answer: (COI → new status, wait).

        A record a stream changed since the question is left alone (the stream is newer). An
        accepted create the node never heard of is dropped once NODE_CHECK_GRACE past its
        acceptance; `wait` is the seconds until the next such one is due (None: none left).
        """
        by_coi = {
            order.get("client_order_index"): order
            for order in orders
            if isinstance(order, Mapping) and order.get("client_order_index") in asked
        }
        changed: dict[int, str] = {}
        wait: float | None = None
        now = time.monotonic()
        for coi, (status, order_index) in asked.items():
            record = self._orders.get(coi)
            if (
                record is None
                or record.get("status") != status
                or record.get("order_index") != order_index
            ):
                continue  # finished, or moved by a stream, since we asked
            order = by_coi.get(coi)
            if order is not None:
                self.feed_ws_orders([order])
                final = self._finished.get(coi) if coi not in self._orders else None
                if final is not None or order.get("status") != status:
                    changed[coi] = final if final is not None else str(order.get("status"))
                continue
            if status != "accepted":
                continue  # an unknown outcome is the resolver's to settle
            since = record.get("accepted_at")
            if not isinstance(since, float):
                since = record.setdefault("missing_since", now)
            due = since + NODE_CHECK_GRACE - now
            if due <= 0:
                self._orders.pop(coi)
                self._finished.put(coi, STATUS_NOT_ON_NODE)
                changed[coi] = STATUS_NOT_ON_NODE
            else:
                wait = due if wait is None else min(wait, due)
        if changed:
            self.log.info("order reconcile: %d order(s) settled by the node", len(changed))
        return changed, wait

    def get_order_by_coi(self, coi: int) -> dict[str, Any] | None:
        """The dealer's current view of one COI (None when unknown or finished)."""
        record = self._orders.get(check_coi(coi))
        return dict(record) if record is not None else None
