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
send passes the WeightLimiter. `flush()` returns one acceptance dict per transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import NonceError, RateLimited, SignerError, TxRejected, WsClosed, describe
from ..log import tx_preview
from ..wire import encode_sendtx_batch, error_from_code, parse_tx_reply, ws_url_for
from .intents import _SIGN_METHOD, _SIGNER_CHECKS, ACTION_CREATE, ACTION_MODIFY, _Intent
from .order_view import _OrderViewMixin


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


_D = TypeVar("_D", bound="_SendMixin")


class _SendMixin(_OrderViewMixin):
    """Queue intents, then sign and send them per key lane; one result dict per intent."""

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
        for intent in intents:
            _SIGNER_CHECKS[intent.action](**intent.kwargs)
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
                if intent.action == ACTION_CREATE and intent.coi is not None:
                    self._orders.pop(intent.coi)
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

    async def flush(self) -> list[dict[str, Any]]:
        """Sign and send everything queued now (by any task); one acceptance dict per tx, in order.

        Each dict is the order summary plus `accepted`, `status` ("accepted", "rejected", or
        "unknown" when the reply was lost), `code`, `message`, `tx_hash`, `nonce`,
        `api_key_index`. Acceptance is not execution: the outcome comes on the order streams.
        """
        self._check_open()  # also after aclose(): a closed dealer sends nothing, silently or not
        if not self._queue:
            return []
        intents, self._queue = self._queue, []
        return await self._send_intents(intents, same_key=False)

    async def _send_intents(
        self, intents: list[_Intent], *, same_key: bool
    ) -> list[dict[str, Any]]:
        """Partition intents into per-key chunks, send the keys in parallel, keep input order."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            plan = self._plan(intents, same_key)
            if len(plan) == 1:  # the common case: no task per lane needed
                ((key, chunks),) = plan.items()
                per_key = [await self._send_lane(key, chunks)]
            else:
                per_key = await asyncio.gather(
                    *(self._send_lane(key, chunks) for key, chunks in plan.items())
                )
        finally:
            if task is not None:
                self._inflight.discard(task)
        by_id: dict[int, dict[str, Any]] = {}
        for results in per_key:
            for intent_id, result in results:
                by_id[intent_id] = result
        return [by_id[id(intent)] for intent in intents]

    def _plan(self, intents: list[_Intent], same_key: bool) -> dict[int, list[list[_Intent]]]:
        """Assign keys (COI affinity first, rotation for the rest) and cut max_ws_batch chunks."""
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
                if intent.coi is not None:
                    chosen[intent.coi] = key_for
                lists.setdefault(key_for, []).append(intent)
        for key, items in lists.items():
            for intent in items:
                if intent.action == ACTION_CREATE and intent.coi is not None:
                    record = self._orders.get(intent.coi)
                    if record is not None:
                        record["api_key_index"] = key
        return {
            key: [items[i : i + cap] for i in range(0, len(items), cap)]
            for key, items in lists.items()
        }

    async def _send_lane(
        self, key: int, chunks: list[list[_Intent]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Send one key's chunks in order while holding its nonce lane."""
        out: list[tuple[int, dict[str, Any]]] = []
        async with self._nonces.hold(key) as lane:
            for chunk in chunks:
                out.extend(await self._send_chunk(lane, chunk))
        return out

    async def _send_chunk(
        self, lane: Any, chunk: list[_Intent]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Take nonces, sign, send one batch; on 21104 resync and re-sign the same intents.

        The node's nextNonce may lag its accepted txs (protocol §2.10), so a resync can read a
        stale value: later resyncs wait a little first (NONCE_RESYNC_DELAYS_S), a bounded number
        of times. A 21104 consumes nothing, so re-signing with a fresh nonce reuses no nonce.
        """
        key = lane.api_key_index
        n = len(chunk)
        error: BaseException | None = None
        unknown = False  # sent, but the reply never came: the node may have accepted it
        for attempt in range(1 + len(NONCE_RESYNC_DELAYS_S)):
            if attempt:
                await asyncio.sleep(NONCE_RESYNC_DELAYS_S[attempt - 1])
            try:
                first = await lane.take(n)
            except Exception as exc:  # nextNonce failed: nothing signed, nothing sent
                error = exc
                break
            requests = []
            for offset, intent in enumerate(chunk):
                kwargs = dict(intent.kwargs)
                kwargs["nonce"] = first + offset
                kwargs["api_key_index"] = key
                requests.append((_SIGN_METHOD[intent.action], kwargs))
            try:
                signed = await self._signer.asign_many(requests)
            except BaseException as exc:  # nothing left the process: give the nonces back
                lane.rollback(first, n)
                if not isinstance(exc, Exception):
                    raise
                error = exc
                break
            if self.tx_log.is_enabled(10):
                for tx in signed:
                    self.tx_log.debug("send key=%d %s", key, tx_preview(tx.tx_type, tx.tx_info))
            try:
                hashes = await self._transmit(signed)
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
            except (TxRejected, RateLimited, SignerError) as exc:
                lane.rollback(first, n)  # a rejected request consumed nothing
                error = exc
                break
            except BaseException as exc:  # outcome unknown: ask the node before the next use
                lane.invalidate()
                if not isinstance(exc, Exception):  # cancelled mid-send: propagate
                    raise
                error = exc
                unknown = True
                break
            self.stats["sent_batches"] += 1
            self.stats["accepted_txs"] += n
            if len(hashes) != n:  # the node's hash is the acceptance truth; else the signer's
                hashes = [tx.tx_hash for tx in signed]
            return [
                (id(intent), self._accepted(intent, tx.tx_type, tx_hash, first + i, key))
                for i, (intent, tx, tx_hash) in enumerate(zip(chunk, signed, hashes, strict=True))
            ]
        assert error is not None
        self.stats["rejected_txs"] += n
        self.log.warning("batch of %d on key %d not accepted: %s", n, key, describe(error))
        return [(id(intent), self._rejected(intent, error, key, unknown)) for intent in chunk]

    def _accepted(
        self, intent: _Intent, tx_type: int, tx_hash: str, nonce: int, key: int
    ) -> dict[str, Any]:
        result = dict(intent.summary)
        result.update(
            status="accepted",
            accepted=True,
            code=200,
            tx_type=tx_type,
            tx_hash=tx_hash,
            nonce=nonce,
            api_key_index=key,
        )
        if intent.coi is not None:
            record = self._orders.get(intent.coi)
            if record is not None:
                if intent.action == ACTION_CREATE:
                    record["status"] = (
                        "accepted" if record["status"] == "queued" else record["status"]
                    )
                    record["api_key_index"] = key
                elif intent.action == ACTION_MODIFY:
                    record["price_int"] = intent.kwargs["price"]
                    record["base_amount_int"] = intent.kwargs["base_amount"]
                    record["trigger_price_int"] = intent.kwargs["trigger_price"]
        return result

    def _rejected(
        self, intent: _Intent, error: BaseException, key: int, unknown: bool = False
    ) -> dict[str, Any]:
        """Result of a tx that was not accepted (`unknown`: sent, reply lost; see the stream)."""
        result = dict(intent.summary)
        code = getattr(error, "code", None)
        result.update(
            status="unknown" if unknown else "rejected",
            accepted=False,
            code=code,
            message=describe(error),
            tx_hash=None,
            api_key_index=key,
        )
        if intent.action == ACTION_CREATE and intent.coi is not None:
            record = self._orders.get(intent.coi)
            # A create the node refused does not exist; an unknown outcome stays in the view
            # (status "unknown") until the order stream says otherwise.
            if record is not None and unknown:
                record["status"] = "unknown"
            elif record is not None and record.get("status") == "queued":
                self._orders.pop(intent.coi)
                self._finished.put(intent.coi, "rejected")
        return result

    async def _transmit(self, signed: Sequence[Any]) -> list[str]:
        """Send one signed batch (WS if connected, else REST); the node's tx hashes."""
        types = [tx.tx_type for tx in signed]
        infos = [tx.tx_info for tx in signed]
        ws = self._ws
        if ws is not None and self._ws_usable():
            body = await self._send_ws_batch(types, infos)
        else:
            body = await self._rest.send_tx_batch(types, infos)
        hashes = body.get("tx_hash")
        if isinstance(hashes, str):
            hashes = [hashes]
        if not isinstance(hashes, list):
            hashes = []
        return hashes

    # --- WebSocket transport for tx batches ----------------------------------------------------

    def _ws_usable(self) -> bool:
        ws = self._ws
        return ws is not None and bool(ws.connected)

    async def _connect_ws(self) -> None:
        """Open the dealer's own WebSocket for tx frames (REST is used while it is down)."""
        from ..transport.websocket import WsConnection

        url = self.config.ws_url or ws_url_for(self.config.base_url)
        ws = WsConnection(url, name="dealer-ws")
        try:
            await ws.start(wait=True, timeout=self.config.request_timeout)
        except Exception as exc:
            await ws.close()
            self.log.warning("WebSocket connect to %s failed (%s); sending over REST", url, exc)
            return
        self._ws = ws

    async def _send_ws_batch(self, types: list[int], infos: list[str]) -> dict[str, Any]:
        """One jsonapi/sendtxbatch frame, reply matched by `id`; retries rate-limit rejections."""
        attempt = 0
        while True:
            await self._rest.acquire("sendTxBatch")
            request_id = self._ws.new_request_id()
            frame = encode_sendtx_batch(types, infos, request_id=request_id)
            try:
                msg = await self._ws.request(frame, request_id, self.config.request_timeout)
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
