"""The send engine: queue, batch, plan (keys and chunks), sign at flush, transmit, results.

Design decision (nonces): **signing happens at flush**. Orders are validated and converted to
wire integers when they are queued (so bad input raises at once and nothing is queued), but
nonces are assigned and signatures made only when a chunk of the queue is about to leave,
while its key's nonce lane is held (see `lighterfast.dealer.nonces`). A signed transaction
therefore exists only for the duration of one send; if the node rejects it, its nonces are
either given back (nothing consumed) or re-fetched, and the *same intents* are re-signed — a
nonce is never carried over to a different transaction, and no signed tx waits in a queue
where a resync could invalidate it.

Sending: one `jsonapi/sendtxbatch` frame per `max_ws_batch` transactions over the dealer's own
WebSocket (replies matched by a unique `id`), or REST `sendTxBatch` when no socket is up. Every
send passes the WeightLimiter. `flush()` returns one result dict per transaction.

Outcomes: "accepted" (code 200: nonce consumed), "rejected" (refused, or provably never sent:
nonces given back) or "unknown" (sent, and the reply says nothing: 5xx, HTML, cut, timeout,
cancelled in flight). An unknown never rolls a nonce back; it is resolved before its lane's
next use, in the background, or by `await dealer.resolve()` (the venue's tx record by the
signer's hash, the order streams), and the final result goes to `dealer.on_resolved`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import protocol as P
from ..errors import (
    NonceError,
    NotSent,
    RateLimited,
    SignerError,
    TxRejected,
    WsClosed,
    describe,
)
from ..log import tx_preview
from ..wire import encode_sendtx_batch, error_from_code, parse_tx_reply, ws_url_for
from .intents import _SIGN_METHOD, _SIGNER_CHECKS, ACTION_CREATE, ACTION_MODIFY, _Intent
from .order_view import _NOT_YET_LIVE, _OrderViewMixin


@dataclass(frozen=True)
class RateBudget:
    """What the rate limiter lets the dealer send right now (weight units, protocol §5)."""

    left: int  # units left now in the bucket that order sends draw from
    capacity: int  # that bucket's size per window
    batch_cost: int  # units one sendTxBatch costs
    read_cost: int  # units one account read costs
    shared_with_reads: bool  # True: sends and reads share one bucket (standard account)

    def can_send_batch(self, reserve_reads: int = 0) -> bool:
        """True when one batch fits now, keeping `reserve_reads` account reads in reserve."""
        reserve = reserve_reads * self.read_cost if self.shared_with_reads else 0
        return self.left >= self.batch_cost + reserve


# Waits before each resync of a key after an invalid-nonce reply. The first resync is at once;
# the later ones cover a nextNonce that lags accepted txs (the venue says it does not update
# right away; the SDK's polling manager waits >= 350 ms between uses of a key; §2.10).
NONCE_RESYNC_DELAYS_S: tuple[float, ...] = (0.0, 0.05, 0.15, 0.35)

_batch_buffer: contextvars.ContextVar[list[_Intent] | None] = contextvars.ContextVar(
    "lighterfast_dealer_batch", default=None
)

_RATE_RETRY_BASE_S = 0.25

# An unknown is resolved no sooner than this after it arose (a request still on its way lands
# first), and in the background after these waits while the node cannot answer.
UNKNOWN_SETTLE_S = 0.2
UNKNOWN_RETRY_DELAYS_S: tuple[float, ...] = (UNKNOWN_SETTLE_S, 0.5, 1.0, 2.0, 4.0, 8.0)
# The node consumed an unknown's nonce but has no record of its hash: look again after this.
UNKNOWN_LAG_RECHECK_S = 0.5


def _sign_requests(chunk: list[_Intent], key: int, first: int) -> list[tuple[str, Any]]:
    """`sign_many` requests of a chunk with nonces first, first + 1, … (any signer)."""
    return [
        (_SIGN_METHOD[intent.action], {**intent.kwargs, "nonce": first + i, "api_key_index": key})
        for i, intent in enumerate(chunk)
    ]


@dataclass(eq=False)
class _Unknown:
    """One sent batch of one key whose reply said nothing: what resolution needs."""

    key: int
    first: int  # nonce of its first tx (the batch's nonces are consecutive)
    since: float  # loop time it became unknown
    hashes: list[str] = field(default_factory=list)  # the signer's hash of every tx, in order
    items: list[tuple[_Intent, dict[str, Any]]] = field(default_factory=list)  # still unknown
    confirmed_upto: int = 0  # nonces below were confirmed by the order streams
    final: list[dict[str, Any]] | None = None  # the resolved results, once known


_D = TypeVar("_D", bound="_SendMixin")


class _SendMixin(_OrderViewMixin):
    """Queue intents, then sign and send them per key lane; one result dict per intent."""

    # Called with each final result of an unknown (plain or coroutine function; see resolve()).
    on_resolved: Callable[[dict[str, Any]], Any] | None
    _unknowns: dict[int, list[_Unknown]]  # key → unknown batches, oldest first
    _resolvers: dict[int, asyncio.Task[None]]
    _hook_tasks: set[asyncio.Future[Any]]

    def rate_budget(self) -> RateBudget:
        """The limiter bucket order sends draw from, as it stands now (premium: its own)."""
        rest = self._rest
        limiter = rest.tx_limiter if rest.tx_limiter is not None else rest.limiter
        return RateBudget(
            left=int(limiter.available()),
            capacity=int(limiter.capacity),
            batch_cost=rest.cost("sendTxBatch"),
            read_cost=rest.cost("account"),
            shared_with_reads=rest.tx_limiter is None,
        )

    def _enqueue(self, intents: Sequence[_Intent]) -> None:
        """Append validated intents to the current batch buffer or the dealer queue.

        The signer's own rules run here too, so that nothing it would refuse at flush time
        (after earlier chunks may have left) is ever queued.
        """
        self._check_open()
        for intent in intents:  # the row is kept: the flush signs it without checking again
            intent.row = _SIGNER_CHECKS[intent.action](**intent.kwargs)
        buffer = _batch_buffer.get()
        target = buffer if buffer is not None else self._queue
        for intent in intents:
            if intent.action == ACTION_CREATE:
                self._remember_create(intent)
            target.append(intent)

    @asynccontextmanager
    async def batch(self: _D) -> AsyncIterator[_D]:
        """Queue inside the block, flush once on exit; an exception discards the block's orders."""
        self._check_open()
        outer = _batch_buffer.get()
        buffer: list[_Intent] = []
        token = _batch_buffer.set(buffer)
        try:
            yield self
        except BaseException:
            for intent in buffer:
                for coi in intent.new_cois():  # a create's COI, each leg of a grouped one
                    self._orders.pop(coi)
            raise
        finally:
            _batch_buffer.reset(token)
        if outer is not None:  # nested: the outer block flushes
            outer.extend(buffer)
            return
        self._queue.extend(buffer)
        self.last_batch_results = await self.flush()

    @property
    def queued(self) -> int:
        """Number of transactions waiting for the next flush."""
        return len(self._queue)

    @property
    def queued_orders(self) -> list[dict[str, Any]]:
        """Summaries (with the COI) of what the next flush sends, in order; after a cancelled
        flush the intents it had not sent are here again, at the front."""
        return [dict(intent.summary) for intent in self._queue]

    async def flush(self) -> list[dict[str, Any]]:
        """Sign and send everything queued now (by any task); one result dict per tx, in order.

        Each dict is the order summary plus `status` ("accepted"; "rejected": nothing consumed;
        "unknown": sent, but the reply says nothing, resolved later), `accepted`, `code`,
        `message`, `tx_hash` (the signer's, also when rejected or unknown), `nonce`,
        `api_key_index`. Acceptance is not execution: the outcome comes on the order streams.
        Cancelled (e.g. by `asyncio.wait_for`), intents not yet sent go back to the front of
        the queue (`queued_orders`) and a batch in flight becomes unknown (see `resolve()`).
        """
        self._check_open()  # also after aclose(): a closed dealer sends nothing, silently or not
        if not self._queue:
            return []
        intents, self._queue = self._queue, []
        return await self._send_intents(intents, same_key=False)

    async def _send_intents(
        self, intents: list[_Intent], *, same_key: bool
    ) -> list[dict[str, Any]]:
        """Partition intents into per-key chunks, send the keys in parallel, keep input order.

        Whatever stops the send midway (cancellation, a bug), intents without a result were
        neither signed nor sent: they go back to the front of the queue, in order.
        """
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        done: dict[int, dict[str, Any]] = {}  # id(intent) → result, as each batch settles
        try:
            plan = self._plan(intents, same_key)
            if len(plan) == 1:  # the common case: no task per lane needed
                ((key, chunks),) = plan.items()
                async with self._nonces.hold(key) as lane:  # = _send_lane (a coroutine less)
                    if self._unknowns.get(key):
                        await self._resolve_lane(lane)
                    for chunk in chunks:
                        await self._send_chunk(lane, chunk, done)
            else:  # every lane settles before this returns or raises (nothing left running)
                outcomes = await asyncio.gather(
                    *(self._send_lane(key, chunks, done) for key, chunks in plan.items()),
                    return_exceptions=True,
                )
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
        except BaseException:
            unsent = [intent for intent in intents if id(intent) not in done]
            if unsent:
                self._queue[:0] = unsent
                self.log.warning(
                    "send interrupted: %d transaction(s) not sent, back on the queue", len(unsent)
                )
            raise
        finally:
            if task is not None:
                self._inflight.discard(task)
        return [done[id(intent)] for intent in intents]

    def _plan(self, intents: list[_Intent], same_key: bool) -> dict[int, list[list[_Intent]]]:
        """Assign keys (COI affinity first, rotation for the rest) and cut max_ws_batch chunks."""
        if len(intents) == 1 and not same_key:  # one create: the next key, no per-flush maps
            intent = intents[0]
            if intent.action == ACTION_CREATE and intent.api_key_index is None:
                only = self._nonces.pick()
                record = self._orders.get(intent.coi) if intent.coi is not None else None
                if record is not None:
                    record["api_key_index"] = only
                return {only: [[intent]]}
        cap = self.config.max_ws_batch
        lists: dict[int, list[_Intent]] = {}
        if same_key:  # one batch: the key of an order it touches, else the next in rotation
            key = None
            for intent in intents:
                record = self._orders.get(intent.coi) if intent.coi is not None else None
                if record is not None and record.get("api_key_index") in self._nonces.lanes:
                    key = record["api_key_index"]
                    break
            if key is None:
                key = self._nonces.pick()
            lists[key] = list(intents)
        else:
            chosen: dict[int, int] = {}  # COI → key chosen earlier in this flush
            block_key: int | None = None
            block_fill = 0
            for intent in intents:
                key_for = intent.api_key_index
                if key_for is None and intent.coi is not None:
                    key_for = chosen.get(intent.coi)
                    if key_for is None and intent.action != ACTION_CREATE:
                        record = self._orders.get(intent.coi)
                        key_for = record.get("api_key_index") if record else None
                if key_for is None or key_for not in self._nonces.lanes:
                    if block_key is None or block_fill >= cap:
                        block_key, block_fill = self._nonces.pick(), 0
                    key_for = block_key
                    block_fill += 1
                for coi in (intent.coi, *intent.new_cois()):  # every leg of a grouped create
                    if coi is not None:
                        chosen[coi] = key_for
                lists.setdefault(key_for, []).append(intent)
        for key, items in lists.items():
            for intent in items:
                for coi in intent.new_cois():
                    record = self._orders.get(coi)
                    if record is not None:
                        record["api_key_index"] = key
        return {
            key: [items[i : i + cap] for i in range(0, len(items), cap)]
            for key, items in lists.items()
        }

    async def _send_lane(
        self, key: int, chunks: list[list[_Intent]], done: dict[int, dict[str, Any]]
    ) -> None:
        """Send one key's chunks in order while holding its nonce lane (unknowns resolved first)."""
        async with self._nonces.hold(key) as lane:
            if self._unknowns.get(key):
                await self._resolve_lane(lane)
            for chunk in chunks:
                await self._send_chunk(lane, chunk, done)

    async def _send_chunk(
        self, lane: Any, chunk: list[_Intent], done: dict[int, dict[str, Any]]
    ) -> None:
        """Take nonces, sign, send one batch, put its results in `done`; on 21104 resync and
        re-sign the same intents.

        The node's nextNonce may lag its accepted txs (protocol §2.10), so a resync can read a
        stale value: later resyncs wait a little first (NONCE_RESYNC_DELAYS_S), a bounded number
        of times. A 21104 consumes nothing, so re-signing with a fresh nonce reuses no nonce.
        Cancelled before the batch left: nonces given back, no result (the caller requeues);
        cancelled after: the batch is unknown (results in `done`, resolution scheduled).
        """
        key = lane.api_key_index
        n = len(chunk)
        error: BaseException | None = None
        signed: Sequence[Any] = ()
        first: int | None = None
        for attempt in range(1 + len(NONCE_RESYNC_DELAYS_S)):
            if attempt:
                await asyncio.sleep(NONCE_RESYNC_DELAYS_S[attempt - 1])
            signed, first = (), None
            try:
                first = lane.take_synced(n)
                if first is None:  # first use, a resync or a fleet lease: the full take
                    first = await lane.take(n)
            except Exception as exc:  # nextNonce failed: nothing signed, nothing sent
                error = exc
                break
            job: Any = None
            try:
                signed, job = await self._sign_chunk(chunk, key, first)
            except BaseException as exc:  # nothing left the process: give the nonces back
                lane.rollback(first, n)
                if not isinstance(exc, Exception):
                    raise
                error, first = exc, None
                break
            if self.tx_log.is_enabled(10):
                for tx in signed:
                    self.tx_log.debug("send key=%d %s", key, tx_preview(tx.tx_type, tx.tx_info))
            sent = [False]  # set once a byte of the batch may have left
            try:
                try:
                    hashes, message = await self._transmit(signed, sent)
                except TxRejected as exc:  # 21120 to a native signature: the Go library, once
                    resigned = await self._resigned_by_go_library(exc, chunk, key, first, job)
                    if resigned is None:
                        raise
                    signed = resigned
                    hashes, message = await self._transmit(signed, sent)
            except NonceError as exc:
                lane.invalidate()
                self.stats["nonce_resyncs"] += 1
                error = exc
                self.log.warning(
                    "key %d: %s on a batch of %d; resyncing nonce%s",
                    key,
                    exc,
                    n,
                    " and re-signing" if attempt < len(NONCE_RESYNC_DELAYS_S) else "",
                )
                continue
            except (TxRejected, RateLimited, SignerError, NotSent) as exc:
                lane.rollback(first, n)  # a refused (or never sent) request consumed nothing
                error = exc
                break
            except BaseException as exc:  # the reply says nothing: the node may have it
                if not isinstance(exc, Exception) and not sent[0]:
                    lane.rollback(first, n)  # cancelled before anything left: requeued
                    raise
                lane.invalidate()  # never roll an unknown back: ask the node before reuse
                self._settle_unknown(lane, chunk, signed, first, exc, done)
                if not isinstance(exc, Exception):
                    raise
                return
            self.stats["sent_batches"] += 1
            self.stats["accepted_txs"] += n
            if len(hashes) != n:  # the node's hash is the acceptance truth; else the signer's
                hashes = [tx.tx_hash for tx in signed]
            for i, (intent, tx, tx_hash) in enumerate(zip(chunk, signed, hashes, strict=True)):
                done[id(intent)] = self._accepted(
                    intent, tx.tx_type, tx_hash, first + i, key, message
                )
            return
        assert error is not None
        self.stats["rejected_txs"] += n
        self.log.warning("batch of %d on key %d not accepted: %s", n, key, describe(error))
        for i, intent in enumerate(chunk):
            tx = signed[i] if signed else None
            done[id(intent)] = self._rejected(
                intent,
                error,
                key,
                nonce=None if first is None else first + i,
                tx_hash=None if tx is None else tx.tx_hash,
                tx_type=None if tx is None else tx.tx_type,
            )

    async def _sign_chunk(
        self, chunk: list[_Intent], key: int, first: int
    ) -> tuple[Sequence[Any], Any]:
        """Sign one chunk with nonces first, first + 1, …: (signed txs, the signer's job).

        A SignerBase signs the rows checked at enqueue (no second check); a native one signs
        on the loop with no await. Any other signer gets `asign_many` (job None).
        """
        signer = self._signer
        rows_job = getattr(signer, "_rows_job", None)
        if rows_job is None:
            signed = await signer.asign_many(_sign_requests(chunk, key, first))
            return signed, None
        job = rows_job(key, first, [intent.signer_row() for intent in chunk])
        if signer.signs_inline:
            return signer._run(job), job
        return await signer._arun(job), job

    async def _resigned_by_go_library(
        self, exc: TxRejected, chunk: list[_Intent], key: int, first: int, job: Any
    ) -> Sequence[Any] | None:
        """On 21120 to a natively signed batch: switch the signer to lighter-sdk's Go library
        and re-sign the same txs (same nonces: a 21120 consumes nothing); else None."""
        switch = getattr(self._signer, "afall_back_to_go_library", None)
        if exc.code != P.ERR_INVALID_SIGNATURE or switch is None:
            return None
        if not await switch(f"the node answered {exc.code} to a native signature"):
            return None  # already on the Go library: the venue refuses its signatures too
        self.log.warning("21120 invalid signature: re-signed with the Go library and resent")
        signed: Sequence[Any]
        if job is not None:  # the same job, now through the Go library
            signed = await self._signer._arun(job)
        else:
            signed = await self._signer.asign_many(_sign_requests(chunk, key, first))
        return signed

    def _accepted(
        self, intent: _Intent, tx_type: int, tx_hash: str, nonce: int, key: int, message: str = ""
    ) -> dict[str, Any]:
        """Result of an accepted tx; the live view learns its key (and a modify's new values)."""
        result = {
            **intent.summary,
            "status": "accepted",
            "accepted": True,
            "code": 200,
            "message": message,
            "tx_type": tx_type,
            "tx_hash": tx_hash,
            "nonce": nonce,
            "api_key_index": key,
        }
        self._view_accepted(intent, key)
        return result

    def _view_accepted(self, intent: _Intent, key: int) -> None:
        """The live view after the node took `intent` (never downgrades a streamed status)."""
        if intent.coi is None:
            return
        record = self._orders.get(intent.coi)
        if record is None:
            return
        if intent.action == ACTION_CREATE:
            if record["status"] in ("queued", "unknown"):
                record["status"] = "accepted"
            record["api_key_index"] = key
            record.setdefault("accepted_at", time.monotonic())  # reconcile ages it by this
        elif intent.action == ACTION_MODIFY:
            record["price_int"] = intent.kwargs["price"]
            record["base_amount_int"] = intent.kwargs["base_amount"]
            record["trigger_price_int"] = intent.kwargs["trigger_price"]

    def _rejected(
        self,
        intent: _Intent,
        error: BaseException | str,
        key: int,
        *,
        nonce: int | None,
        tx_hash: str | None,
        tx_type: int | None,
        status: str = "rejected",
    ) -> dict[str, Any]:
        """Result of a tx the node did not take ("rejected", nothing consumed) or may have taken
        ("unknown"); a rejected create leaves the live view (no phantom record)."""
        result = dict(intent.summary)
        result.update(
            status=status,
            accepted=False,
            code=getattr(error, "code", None),
            message=error if isinstance(error, str) else describe(error),
            tx_type=tx_type,
            tx_hash=tx_hash,
            nonce=nonce,
            api_key_index=key,
        )
        if intent.action == ACTION_CREATE and intent.coi is not None:
            record = self._orders.get(intent.coi)
            if record is None:
                pass
            elif status == "unknown":  # stays addressable until resolved; streams may confirm
                if record.get("status") in ("queued", "accepted"):
                    record["status"] = "unknown"
            elif record.get("status") in ("queued", "unknown"):
                self._orders.pop(intent.coi)
                self._finished.put(intent.coi, "rejected")
        return result

    # --- unknown outcomes ---------------------------------------------------------------------

    def _stream_confirmed(self, intent: _Intent) -> bool:
        """True when the order streams already showed this create (so the node took it)."""
        if intent.action != ACTION_CREATE or intent.coi is None:
            return False
        record = self._orders.get(intent.coi)
        if record is not None:
            return record.get("status") not in _NOT_YET_LIVE
        final = self._finished.get(intent.coi)
        return final is not None and final != "rejected"

    def _settle_unknown(
        self,
        lane: Any,
        chunk: list[_Intent],
        signed: Sequence[Any],
        first: int,
        error: BaseException,
        done: dict[int, dict[str, Any]],
    ) -> None:
        """Results of a batch whose reply says nothing; register it for resolution."""
        key = lane.api_key_index
        loop = asyncio.get_running_loop()
        entry = _Unknown(key, first, loop.time())
        message = "no reply: " + (describe(error) if isinstance(error, Exception) else "cancelled")
        for i, (intent, tx) in enumerate(zip(chunk, signed, strict=True)):
            if self._stream_confirmed(intent):  # never downgraded: the stream saw it live
                result = self._accepted(intent, tx.tx_type, tx.tx_hash, first + i, key)
                result.update(resolved=True, resolved_by="order stream")
                entry.confirmed_upto = first + i + 1
            else:
                result = self._rejected(
                    intent,
                    message,
                    key,
                    nonce=first + i,
                    tx_hash=tx.tx_hash,
                    tx_type=tx.tx_type,
                    status="unknown",
                )
                entry.items.append((intent, result))
            entry.hashes.append(tx.tx_hash)
            done[id(intent)] = result
        self.stats["rejected_txs"] += len(entry.items)
        self.log.warning(
            "batch of %d on key %d: %s; outcome unknown, resolving", len(chunk), key, message
        )
        if entry.items:
            self._unknowns.setdefault(key, []).append(entry)
            self._schedule_resolver(key)

    @property
    def unresolved(self) -> list[dict[str, Any]]:
        """The results still `unknown` (a copy each), oldest first; `resolve()` settles them."""
        return [dict(r) for es in self._unknowns.values() for e in es for _, r in e.items]

    async def resolve(self) -> list[dict[str, Any]]:
        """Resolve every pending unknown now (the node's tx record by hash, per key while
        holding its lane); returns their final results, oldest first.

        Each final result is the unknown one with `status` "accepted" or "rejected" (nothing
        consumed: a create is dropped from the live view), `resolved=True` and `resolved_by`;
        `on_resolved` is called with each too. One the node cannot answer for now stays
        "unknown" in the list (and pending); unknowns already resolved in the background are
        not repeated.
        """
        self._check_open()
        snapshot = [entry for entries in self._unknowns.values() for entry in entries]
        for key in dict.fromkeys(entry.key for entry in snapshot):
            async with self._nonces.hold(key) as lane:
                if self._unknowns.get(key):
                    await self._resolve_lane(lane)
        out: list[dict[str, Any]] = []
        for entry in snapshot:
            out.extend(entry.final if entry.final is not None else [r for _, r in entry.items])
        return out

    def _schedule_resolver(self, key: int) -> None:
        """Resolve `key`'s unknowns in the background soon (one resolver task per key)."""
        running = self._resolvers.get(key)
        if running is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self._resolve_later(key))
        self._resolvers[key] = task

    async def _resolve_later(self, key: int) -> None:
        """Background resolution of one key, retried with backoff while the node cannot answer."""
        for delay in UNKNOWN_RETRY_DELAYS_S:
            await asyncio.sleep(delay)
            if not self._unknowns.get(key) or self._closed:
                return
            async with self._nonces.hold(key) as lane:
                if self._unknowns.get(key):
                    await self._resolve_lane(lane)
            if not self._unknowns.get(key):
                return
        self.log.warning("key %d: unknown outcomes still unresolved; resolve() retries", key)

    async def _resolve_lane(self, lane: Any) -> None:
        """Settle the lane's unknowns (hold the lane): the node's tx record by the signer's hash
        (and the order streams) say which were taken; nextNonce resyncs the lane; final
        results delivered."""
        key = lane.api_key_index
        entries = self._unknowns.get(key)
        if not entries:
            return
        wait = entries[-1].since + UNKNOWN_SETTLE_S - asyncio.get_running_loop().time()
        if wait > 0:  # let a request still on its way land first
            await asyncio.sleep(wait)
        finals: list[dict[str, Any]] = []
        try:
            node_next = await lane.sync()
            while entries:
                entry = entries[0]
                upto = await self._consumed_upto(entry, node_next)
                lane.note_consumed(upto)
                entry.final = [self._resolved(intent, r, upto) for intent, r in entry.items]
                finals.extend(entry.final)
                entries.pop(0)
        except Exception as exc:
            lane.invalidate()
            self.log.warning("key %d: cannot resolve unknown outcomes now: %s", key, describe(exc))
        finally:
            if not entries:
                self._unknowns.pop(key, None)
            for result in finals:
                self._deliver(result)

    async def _consumed_upto(self, entry: _Unknown, node_next: int) -> int:
        """This batch's txs with a nonce below the returned value are on the node (§2.10).

        The node's record of the signer's hash is the truth: nextNonce cannot tell our tx from
        another that took the same nonce (a lane shared with another dealer or process). When
        the node consumed the nonce but does not know our hash, it is asked once more after a
        pause (a venue's tx record may lag its nonce).
        """
        first, last = entry.first, entry.first + len(entry.hashes) - 1
        upto = entry.confirmed_upto
        for intent, result in entry.items:
            if self._stream_confirmed(intent):  # confirmed while it waited
                upto = max(upto, result["nonce"] + 1)
        if upto > last:
            return upto
        start = max(first, upto)
        for attempt in range(2):
            if await self._tx_known(entry.hashes[-1]):  # consecutive nonces: all consumed
                return last + 1
            if start < last and await self._tx_known(entry.hashes[start - first]):
                nonce = start + 1
                while nonce < last and await self._tx_known(entry.hashes[nonce - first]):
                    nonce += 1
                return nonce
            if attempt or node_next <= start:
                break
            await asyncio.sleep(UNKNOWN_LAG_RECHECK_S)
        return upto

    async def _tx_known(self, tx_hash: str) -> bool:
        """True when the node has a tx with this hash (GET tx?by=hash, counted by the limiter)."""
        try:
            body = await self._rest.get("tx", {"by": "hash", "value": tx_hash})
        except TxRejected as exc:
            if exc.code == P.ERR_TX_NOT_FOUND:
                return False
            raise
        return bool(body.get("hash") == tx_hash or body.get("code") == 200)

    def _resolved(self, intent: _Intent, unknown: dict[str, Any], upto: int) -> dict[str, Any]:
        """The final result of one unknown tx: consumed (nonce < upto) or confirmed → accepted."""
        result = dict(unknown)
        nonce = unknown["nonce"]
        key = unknown["api_key_index"]
        if self._stream_confirmed(intent):
            how = "order stream"
        elif nonce < upto:
            how = "node"
        else:
            how = ""
        if how:
            self._view_accepted(intent, key)
            self.stats["accepted_txs"] += 1
            result.update(status="accepted", accepted=True, code=200, message="resolved: accepted")
        else:
            self._rejected(intent, "", key, nonce=nonce, tx_hash=None, tx_type=None)
            result.update(
                status="rejected",
                accepted=False,
                code=None,
                message="resolved: not on the node, nothing consumed",
            )
            how = "node"
        result.update(resolved=True, resolved_by=how)
        return result

    def _deliver(self, result: dict[str, Any]) -> None:
        """Call `on_resolved` with a final result; a coroutine runs as a task; errors logged."""
        hook = self.on_resolved
        if hook is None:
            return
        try:
            out = hook(dict(result))
            if inspect.isawaitable(out):
                task = asyncio.ensure_future(out)
                self._hook_tasks.add(task)
                task.add_done_callback(self._hook_done)
        except Exception:
            self.log.exception("on_resolved hook raised")

    def _hook_done(self, task: asyncio.Future[Any]) -> None:
        self._hook_tasks.discard(task)  # type: ignore[arg-type]
        if not task.cancelled() and task.exception() is not None:
            self.log.error("on_resolved hook raised: %s", describe(task.exception()))  # type: ignore[arg-type]

    async def _close_resolution(self) -> None:
        """On close: resolve what is pending (bounded), stop the resolvers, finish the hooks."""
        if any(self._unknowns.values()):
            try:
                await asyncio.wait_for(self.resolve(), self.config.request_timeout)
            except Exception as exc:
                self.log.warning("closing with unresolved outcomes: %s", describe(exc))
        for task in self._resolvers.values():
            task.cancel()
        tasks = [*self._resolvers.values(), *self._hook_tasks]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._resolvers.clear()

    async def _transmit(self, signed: Sequence[Any], sent: list[bool]) -> tuple[list[str], str]:
        """Send one signed batch (WS if connected, else REST): the node's tx hashes and message.

        `sent[0]` becomes True once a byte of the batch may have left (before that, a
        cancellation provably sent nothing).
        """
        types = [tx.tx_type for tx in signed]
        infos = [tx.tx_info for tx in signed]
        body: dict[str, Any] | None = None
        if self._ws_usable():
            try:
                body = await self._send_ws_batch(types, infos, sent)
            except NotSent:  # the socket went down before the frame left: use REST
                body = None
        if body is None:
            rest = self._rest
            before = rest.requests_sent
            try:
                body = await rest.send_tx_batch(types, infos)
            finally:  # counted when the HTTP request starts (any request: errs on "sent")
                if rest.requests_sent != before:
                    sent[0] = True
        hashes = body.get("tx_hash")
        if isinstance(hashes, str):
            hashes = [hashes]
        if not isinstance(hashes, list):
            hashes = []
        message = body.get("message")
        return hashes, message if isinstance(message, str) else ""

    # --- WebSocket transport for tx batches ----------------------------------------------------

    def _ws_usable(self) -> bool:
        ws = self._ws
        return ws is not None and bool(ws.connected)

    async def _connect_ws(self) -> None:
        """Open the dealer's own WebSocket for tx frames (REST is used while it is down)."""
        from ..transport.websocket import WsConnection

        url = self.config.ws_url or ws_url_for(self.config.base_url)
        ws = WsConnection(url, name="dealer-ws", pong_timeout=self.config.pong_timeout)
        try:
            await ws.start(wait=True, timeout=self.config.request_timeout)
        except Exception as exc:
            await ws.close()
            self.log.warning("WebSocket connect to %s failed (%s); sending over REST", url, exc)
            return
        self._ws = ws

    async def _send_ws_batch(
        self, types: list[int], infos: list[str], sent: list[bool]
    ) -> dict[str, Any]:
        """One jsonapi/sendtxbatch frame, reply matched by `id`; retries rate-limit rejections.

        NotSent when the socket is down before the frame leaves; `sent[0]` is set after.
        """
        attempt = 0
        rest = self._rest
        while True:
            if not rest.try_acquire_now("sendTxBatch"):  # budget there: no coroutine needed
                await rest.acquire_missed("sendTxBatch")
            ws = self._ws
            if ws is None or not ws.connected:
                raise NotSent("dealer WebSocket is not connected")
            request_id = ws.new_request_id()
            frame = encode_sendtx_batch(types, infos, request_id=request_id)
            sent[0] = True
            try:
                msg = await ws.request(frame, request_id, self.config.request_timeout)
            except asyncio.TimeoutError:
                raise WsClosed(
                    f"no reply to tx batch {request_id} within {self.config.request_timeout} s"
                ) from None
            reply = parse_tx_reply(msg)
            if reply.ok:
                return reply.raw
            err = error_from_code(reply.code, reply.message)
            if isinstance(err, RateLimited) and attempt < self.config.max_retries:
                attempt += 1
                delay = _RATE_RETRY_BASE_S * 2 ** (attempt - 1)
                self.log.warning(
                    "tx batch rate limited over WS (%s); retry %d in %.2f s", err, attempt, delay
                )
                await asyncio.sleep(delay)
                continue
            raise err

    # --- nonces -------------------------------------------------------------------------------

    async def _fetch_nonce(self, api_key_index: int) -> int:
        """nextNonce for one key, through the limiter (how a lane learns the node's value)."""
        nonce = await self._rest.next_nonce(self.account_index, api_key_index)
        self.log.debug("key %d: nextNonce = %d", api_key_index, nonce)
        return nonce

    async def _take_nonce(self, api_key_index: int | None = None) -> tuple[int, int]:
        """Take one nonce from a lane: (api_key_index, nonce). First use per key is counted."""
        return await self._nonces.take_one(api_key_index)
