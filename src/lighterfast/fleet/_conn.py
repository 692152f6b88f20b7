"""The fleet's connection: one redis-py asyncio client, every call bounded by `wait_s`.

A call that fails or does not answer in time raises FleetError naming what was asked; the
caller then assumes nothing was granted. redis-py is imported here only, on first connect,
so `import lighterfast.fleet` works without the `fleet` extra.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Sequence
from typing import Any

from ..errors import FleetError, describe
from . import _scripts

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def redact(url: str) -> str:
    """The URL without its password (`redis://user:***@host`), for messages and logs."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", url)


def check_name(what: str, value: Any) -> str:
    """An account, host tag or namespace as a key part: an int >= 0 or a short plain string."""
    if type(value) is int and value >= 0:
        return str(value)
    if isinstance(value, str) and _NAME.match(value):
        return value
    raise (ValueError if isinstance(value, (int, str)) else TypeError)(
        f"{what} must be an int >= 0 or 1..128 characters of [A-Za-z0-9_.-], got {value!r}"
    )


if sys.version_info >= (3, 11):

    async def _bounded(awaitable: Awaitable[Any], bound: float) -> Any:
        async with asyncio.timeout(bound):  # no extra task per call (wait_for makes one)
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def _bounded(awaitable: Awaitable[Any], bound: float) -> Any:
        return await asyncio.wait_for(awaitable, bound)


def _redis() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise FleetError(
            "the fleet needs redis-py: pip install 'lighterfast[fleet]' (redis, hiredis)"
        ) from exc
    return redis_asyncio


class Connection:
    """A redis-py client plus the registered scripts; `call`/`script` bound every request."""

    def __init__(self, url: str, wait_s: float) -> None:
        redis_asyncio = _redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        self.url = url
        self.shown = redact(url)
        self.wait_s = wait_s
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        try:
            self.client = redis_asyncio.Redis.from_url(
                url,
                socket_timeout=wait_s,
                socket_connect_timeout=wait_s,
                retry=Retry(NoBackoff(), 1),
                decode_responses=True,
                health_check_interval=0,
            )
        except (ValueError, *self._errors) as exc:
            raise FleetError(f"fleet URL {self.shown} is not usable: {describe(exc)}") from exc
        self._scripts = {
            name: self.client.register_script(getattr(_scripts, name))
            for name in (
                "RESERVE",
                "REFUND",
                "EXTEND",
                "BOOT",
                "RESEED",
                "PEEK",
                "LANES_ACQUIRE",
                "SLOT_ACQUIRE",
                "RENEW",
                "RECORD_NONCE",
                "RELEASE",
                "NOW",
            )
        }

    async def call(self, what: str, awaitable: Awaitable[Any], wait_s: float | None = None) -> Any:
        """The reply of one request, or FleetError after `wait_s` (default: the fleet's)."""
        bound = self.wait_s if wait_s is None else max(wait_s, 0.001)
        try:
            return await _bounded(awaitable, bound)
        except asyncio.TimeoutError:
            raise FleetError(
                f"fleet server {self.shown} did not answer {what} within {bound:g} s"
                " (nothing was granted)"
            ) from None
        except self._errors as exc:
            raise FleetError(
                f"fleet server {self.shown} failed {what}: {describe(exc)} (nothing was granted)"
            ) from exc

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script (first calls then need no NOSCRIPT round trip)."""
        client = self.client

        async def load() -> None:
            for script in self._scripts.values():
                await client.script_load(script.script)

        await self.call("SCRIPT LOAD", load())

    async def script(
        self,
        name: str,
        keys: Sequence[str],
        args: Sequence[Any],
        what: str,
        wait_s: float | None = None,
    ) -> Any:
        """Run one registered script (EVALSHA, loaded again after a server restart)."""
        return await self.call(what, self._scripts[name](keys=keys, args=args), wait_s)

    async def close(self) -> None:
        """Close the client's connections (bounded; errors are not raised)."""
        try:
            closing = asyncio.ensure_future(self.client.aclose())
            _done, pending = await asyncio.wait({closing}, timeout=self.wait_s)
            for task in pending:  # not awaited: a close that ignores cancellation must not hang
                task.cancel()
        except Exception:  # closing a dead connection must not raise
            pass
