"""The dead-man switch: a scheduled cancel-all kept `timeout_s` ahead by a background task.

`await dealer.dead_man_switch(t)` (or `async with dealer.dead_man_switch(t):`) schedules a
cancel-all of the account at now + t (+ SLACK_S) on the node and renews it every t/3. If the
process dies or its event loop stalls, the renewals stop and the node cancels every open
order of the account (all markets) t to t + SLACK_S after the last renewal it took. Leaving
the `async with` block, `await switch.stop()` and `dealer.aclose()` abort the schedule
(cancel-all with the ABORT time-in-force): a bot that ends normally leaves no pending
cancel-all behind.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Generator
from typing import Any

from .. import protocol as P
from ..errors import LighterError, TxRejected, describe
from ..wire import chain_id_for_url
from .intents import ACTION_CANCEL_ALL, _Intent
from .send import _SendMixin

# The venue's window for a scheduled cancel-all: now + 5 min … now + 15 days (protocol §2.5).
VENUE_MIN_TIMEOUT_S = P.MIN_ORDER_EXPIRY_PERIOD_MS / 1000
MAX_TIMEOUT_S = 15 * 86_400.0
# Each schedule is set this far past now + timeout: a send takes time and the node's clock is
# read after ours, so a schedule of exactly the venue's minimum would arrive just inside it.
SLACK_S = 1.0
# After a failed renewal (node down, socket cut), try again this soon, never later than the
# regular period.
RETRY_S = 0.5


class DeadManSwitch:
    """One armed switch of one dealer: `await` it (arm, then keep renewing) or `async with`."""

    def __init__(self, dealer: _DeadManMixin, timeout_s: float) -> None:
        self._dealer = dealer
        self.timeout_s = timeout_s
        self.renew_every_s = timeout_s / 3
        self.deadline_ms = 0  # the node's cancel-all time as of the last accepted renewal
        self.renewals = 0  # accepted schedules, the first one included
        self.failures = 0  # renewals the node did not take (retried)
        self.aborts = 0  # accepted aborts (0 or 1): with `renewals`, the txs this switch sent
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._mine: set[int] = set()  # ids of this switch's cancel-all intents (never requeued)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "armed" if self._task else "new"
        return f"DeadManSwitch(timeout_s={self.timeout_s}, {state}, renewals={self.renewals})"

    @property
    def active(self) -> bool:
        """True while the schedule is kept alive (armed and not stopped)."""
        return self._task is not None and not self._stopped

    async def start(self) -> DeadManSwitch:
        """Schedule the cancel-all now (raises if the node refuses it) and start renewing."""
        if self._stopped:
            raise LighterError("this dead-man switch was stopped; make a new one")
        if self._task is not None:
            return self
        dealer = self._dealer
        current = dealer._dead_man_switch
        if current is not None and current is not self and current.active:
            await current.stop(abort=False)  # this one's schedule replaces it on the node
        await self._schedule(raise_errors=True)
        self._task = asyncio.get_running_loop().create_task(self._renew_loop())
        dealer._dead_man_switch = self
        return self

    def __await__(self) -> Generator[Any, None, DeadManSwitch]:
        return self.start().__await__()

    async def __aenter__(self) -> DeadManSwitch:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop(abort=True)

    async def stop(self, *, abort: bool = True) -> None:
        """Stop renewing; `abort` (default) also cancels the node's pending schedule."""
        if self._stopped:
            return
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        dealer = self._dealer
        if self._mine:  # a renewal cut before it left went back on the queue: never send it
            dealer._queue[:] = [i for i in dealer._queue if id(i) not in self._mine]
        if dealer._dead_man_switch is self:
            dealer._dead_man_switch = None
        if abort and self.renewals and not dealer._closed:
            result = await dealer._send_cancel_all(P.CANCEL_ALL_ABORT, 0)
            if result.get("status") != "accepted":
                dealer.log.warning(
                    "dead-man switch: abort not accepted (%s); the node cancels all at %d ms",
                    result.get("message"),
                    self.deadline_ms,
                )
            else:
                self.deadline_ms = 0
                self.aborts += 1

    async def _schedule(self, *, raise_errors: bool) -> bool:
        """Send one scheduled cancel-all at now + timeout; True when the node took it."""
        dealer = self._dealer
        when = int((time.time() + self.timeout_s + SLACK_S) * 1000)
        try:
            result = await dealer._send_cancel_all(P.CANCEL_ALL_SCHEDULE, when, self._mine)
        except Exception as exc:
            if raise_errors:
                raise
            self.failures += 1
            dealer.log.warning("dead-man switch: renewal failed (%s); retrying", describe(exc))
            return False
        if result.get("status") == "accepted":
            self.deadline_ms = when
            self.renewals += 1
            return True
        if raise_errors:
            code = result.get("code")
            message = str(result.get("message") or result.get("status"))
            if isinstance(code, int) and f"code {code}: " in message:
                message = message.split(f"code {code}: ", 1)[1]
            raise TxRejected(
                code if isinstance(code, int) else 0, f"dead-man switch not armed: {message}"
            )
        self.failures += 1
        dealer.log.warning(
            "dead-man switch: renewal %s (%s); retrying",
            result.get("status"),
            result.get("message"),
        )
        return False

    async def _renew_loop(self) -> None:
        """Renew every timeout/3; after a failure, retry within RETRY_S (never past a period)."""
        wait = self.renew_every_s
        while True:
            await asyncio.sleep(wait)
            if self._dealer._closed:
                return
            ok = await self._schedule(raise_errors=False)
            wait = self.renew_every_s if ok else min(RETRY_S, self.renew_every_s)


class _DeadManMixin(_SendMixin):
    """`dead_man_switch()` and the close hook that aborts it."""

    def dead_man_switch(self, timeout_s: float) -> DeadManSwitch:
        """A dead-man switch of `timeout_s` seconds: `await` it or use it with `async with`.

        The venue takes schedules 5 min … 15 days ahead (`timeout_s` below 300 s is refused
        here for its hosts; a local node refuses it with 21714 unless its window is lowered).
        One switch per dealer: a new one replaces the one before. `dealer.aclose()` aborts it.
        The node keeps one schedule per account: arm one switch per account (dealers of one
        account overwrite each other's schedule, and stopping either aborts it).
        """
        self._check_open()
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
            raise TypeError(
                f"timeout_s must be a number of seconds, got {type(timeout_s).__name__}"
            )
        if not math.isfinite(timeout_s) or timeout_s <= 0:
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        if timeout_s > MAX_TIMEOUT_S:
            raise ValueError("timeout_s must be at most 15 days (the venue's schedule window)")
        if timeout_s < VENUE_MIN_TIMEOUT_S and chain_id_for_url(self.config.base_url) is not None:
            raise ValueError(
                f"timeout_s must be >= {VENUE_MIN_TIMEOUT_S:.0f} s on {self.config.base_url}"
                " (the venue schedules a cancel-all 5 min to 15 days ahead)"
            )
        return DeadManSwitch(self, float(timeout_s))

    @property
    def _dead_man_switch(self) -> DeadManSwitch | None:
        """The armed switch (state kept lazily in the instance dict: no __init__ change)."""
        value: DeadManSwitch | None = self.__dict__.get("_dead_man")
        return value

    @_dead_man_switch.setter
    def _dead_man_switch(self, value: DeadManSwitch | None) -> None:
        self.__dict__["_dead_man"] = value

    async def _send_cancel_all(
        self, time_in_force: int, when: int, track: set[int] | None = None
    ) -> dict[str, Any]:
        """Send one cancel-all (schedule / abort) now, past the queue; its result dict
        (`track` gets the intent's id while it may sit requeued after a cut send)."""
        kwargs = {"time_in_force": time_in_force, "time": when}
        intent = _Intent(
            ACTION_CANCEL_ALL,
            kwargs,
            None,
            None,
            None,
            {
                "client_order_index": None,
                "action": ACTION_CANCEL_ALL,
                "time_in_force": {1: "scheduled", 2: "abort"}.get(time_in_force, "now"),
                "time": when,
                "status": "queued",
            },
        )
        from .intents import _SIGNER_CHECKS

        _SIGNER_CHECKS[ACTION_CANCEL_ALL](**kwargs)
        if track is not None:
            track.add(id(intent))
        try:
            (result,) = await self._send_intents([intent], same_key=False)
        except BaseException:
            if track is not None and intent in self._queue:  # requeued unsent: take it back
                self._queue.remove(intent)
            raise
        finally:  # a stale id could match a later intent's (ids are reused): never keep one
            if track is not None:
                track.discard(id(intent))
        return result

    async def _close_resolution(self) -> None:
        """On close: abort an armed dead-man switch first (then the send engine's close)."""
        switch = self._dead_man_switch
        if switch is not None:
            try:
                await switch.stop(abort=True)
            except Exception as exc:
                self.log.warning("dead-man switch: abort on close failed: %s", describe(exc))
        await super()._close_resolution()
