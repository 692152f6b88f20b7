"""Hooks of `WsInfo`: sync hooks run inline on the frame path, async ones in order on one task."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import WsInfoStats

logger = logging.getLogger("lighterfast.ws")

Hook = Callable[[Any], Any]
"""A hook: a plain function or a coroutine function taking the frame's payload."""


class HookRunner:
    """Mixin of `WsState`: runs hooks so that a raising or slow hook never stops the stream."""

    stats: WsInfoStats
    _hook_queue: asyncio.Queue[Awaitable[Any]] | None
    _hook_task: asyncio.Task[None] | None

    def _call_hook(self, hook: Hook, payload: Any) -> None:
        """Run a hook; a raising hook is logged and counted, the stream goes on."""
        try:
            result = hook(payload)
        except Exception:
            self.stats.hook_errors += 1
            logger.exception("ws: hook %s raised", getattr(hook, "__name__", hook))
            return
        if result is not None and inspect.isawaitable(result):
            self._queue_hook(result)

    def _queue_hook(self, awaitable: Awaitable[Any]) -> None:
        """Async hooks run in arrival order on one task."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.stats.hook_errors += 1
            logger.error("ws: async hook called without a running event loop; skipped")
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            return
        if self._hook_queue is None:
            self._hook_queue = asyncio.Queue()
        if self._hook_task is None or self._hook_task.done():
            self._hook_task = loop.create_task(self._hook_runner(), name="lighterfast-ws-hooks")
        self._hook_queue.put_nowait(awaitable)

    async def _hook_runner(self) -> None:
        queue = self._hook_queue
        assert queue is not None
        while True:
            awaitable = await queue.get()
            try:
                await awaitable
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.hook_errors += 1
                logger.exception("ws: async hook raised")
            finally:
                queue.task_done()

    async def drain_hooks(self) -> None:
        """Wait until every queued async hook has run (tests, orderly shutdown)."""
        if self._hook_queue is not None:
            await self._hook_queue.join()
