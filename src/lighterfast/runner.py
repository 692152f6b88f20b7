"""One place that picks the event loop: uvloop where it is installed, else the stdlib loop.

Shared by the client, the CLI and the local node (which may import only this and `protocol`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop: uvloop's when installed (the project's loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a `new_loop()`, like `asyncio.run`."""
    with asyncio.Runner(loop_factory=new_loop) if hasattr(asyncio, "Runner") else _Runner() as r:
        return r.run(main)


class _Runner:
    """`asyncio.Runner` for Python 3.10 (added in 3.11): run on a new loop, then close it."""

    def __enter__(self) -> _Runner:
        self._loop = new_loop()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            self._loop.close()

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(main)
