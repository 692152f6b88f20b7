"""Run a `LocalNode` on its own event-loop thread, for synchronous code and benchmarks::

    with NodeThread(exec_latency_ms=0) as nt:
        acct = nt.create_account(collateral=1_000)
        requests.get(nt.node.base_url + "/")

Everything that touches the node from the caller's thread goes through `nt.call(coro)`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from lighterfast.runner import new_loop

from .accounts import DEFAULT_DEV_API_KEY_INDEX, DevAccount
from .node import LocalNode

T = TypeVar("T")
START_TIMEOUT_S = 30.0


class NodeThread:
    """A started LocalNode served from a daemon thread; stop with `close()` or `with`."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._node: LocalNode | None = None

    @property
    def node(self) -> LocalNode:
        """The running node (its URLs and `state` are safe to read between calls)."""
        if self._node is None:
            raise RuntimeError("NodeThread is not started")
        return self._node

    def start(self) -> LocalNode:
        """Start the loop thread and the node; returns the node once it listens."""
        if self._thread is not None:
            return self.node
        ready = threading.Event()
        loop = self._loop = new_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="lighterfast-node", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError("node loop thread did not start")
        node = LocalNode(**self._options)
        self.call(node.start())
        self._node = node
        return node

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run a coroutine on the node's loop and wait for its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("NodeThread is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def create_account(
        self,
        collateral: float | int | str | Decimal = 100_000,
        *,
        api_key_index: int = DEFAULT_DEV_API_KEY_INDEX,
    ) -> DevAccount:
        """`LocalNode.create_account` from the caller's thread."""
        return self.call(self.node.create_account(collateral, api_key_index=api_key_index))

    def close(self) -> None:
        """Stop the node, the loop and the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._node is not None:
            self.call(self._node.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = self._node = None

    def __enter__(self) -> NodeThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
