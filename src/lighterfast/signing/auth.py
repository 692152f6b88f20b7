"""Auth tokens made locally by the signer, refreshed before they expire.

A token is `{deadline}:{account}:{api_key}:{signature hex}` with `deadline` in Unix seconds
(protocol §3). Making one costs no request and no rate weight, only a signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .. import protocol as P
from .._checks import check_int, check_seconds
from ..errors import SignerError

if TYPE_CHECKING:
    from .types import Signer

__all__ = ["AuthTokenProvider", "AuthTokenUnavailable"]

log = logging.getLogger("lighterfast.auth")

# A token is served only while at least this many seconds remain before its deadline, so a
# request carrying it still reaches the node in time.
MIN_REMAINING_S: Final = 2.0
# The server refuses deadlines beyond now + 8 h (20013); keep this much below it for clock skew.
CLOCK_SKEW_ALLOWANCE_S: Final = 30.0
MAX_LIFETIME_S: Final = P.AUTH_TOKEN_MAX_LIFETIME_S - CLOCK_SKEW_ALLOWANCE_S


class AuthTokenUnavailable(SignerError):
    """No valid auth token could be produced (the signer failed and the old token has expired)."""


class AuthTokenProvider:
    """Keeps one valid auth token for (account, API key) and refreshes it before expiry.

    Concurrency contract: at most one refresh runs at a time (a single task). Readers take the
    current token without waiting while it is fresh; once it is inside the refresh margin they
    still get it (a refresh is started) until less than `MIN_REMAINING_S` remains; only without
    a usable token do they wait on the condition, woken with a new `version` or a failure.
    A failed refresh retries with exponential backoff while the old token is still usable.
    """

    def __init__(
        self,
        signer: Signer,
        api_key_index: int,
        *,
        lifetime: float = float(P.AUTH_TOKEN_DEFAULT_LIFETIME_S),
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
        retry_initial: float = 0.25,
        retry_max: float = 30.0,
        wait_timeout: float = 10.0,
    ) -> None:
        lifetime = check_seconds("lifetime", lifetime)
        if lifetime > MAX_LIFETIME_S:
            log.warning(
                "auth token lifetime %.0f s is over the server maximum; using %.0f s",
                lifetime,
                MAX_LIFETIME_S,
            )
            lifetime = MAX_LIFETIME_S
        check_seconds("refresh_margin", refresh_margin, zero_ok=True)
        if refresh_margin + MIN_REMAINING_S >= lifetime:
            raise ValueError(
                f"refresh_margin ({refresh_margin}) must leave more than {MIN_REMAINING_S} s "
                f"of the lifetime ({lifetime})"
            )
        check_int("api_key_index", api_key_index, P.MIN_API_KEY_INDEX, P.MAX_API_KEY_INDEX)
        self._signer = signer
        self._api_key_index = api_key_index
        self._lifetime = lifetime
        self._margin = float(refresh_margin)
        self._clock = clock
        self._retry_initial = check_seconds("retry_initial", retry_initial)
        self._retry_max = max(check_seconds("retry_max", retry_max), self._retry_initial)
        self._wait_timeout = check_seconds("wait_timeout", wait_timeout)
        self._token: str | None = None
        self._deadline = 0.0  # Unix seconds of the current token
        self._version = 0
        self._failures = 0
        self._last_error: BaseException | None = None
        self._cond: asyncio.Condition | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._background: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._closed = False

    # -- read side ------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Incremented by every successful refresh (0 until the first token exists)."""
        return self._version

    @property
    def deadline(self) -> float:
        """Deadline (Unix seconds) of the current token; 0 when there is none."""
        return self._deadline

    @property
    def api_key_index(self) -> int:
        """The API key the tokens are signed with."""
        return self._api_key_index

    @property
    def failures(self) -> int:
        """Number of failed refresh attempts so far."""
        return self._failures

    @property
    def background_running(self) -> bool:
        """True while the background refresher started by `start()` is running."""
        return self._background is not None and not self._background.done()

    def __repr__(self) -> str:
        return (
            f"AuthTokenProvider(account_index={self._signer.account_index}, "
            f"api_key_index={self._api_key_index}, version={self._version}, "
            f"deadline={int(self._deadline)})"
        )

    def _usable(self, now: float) -> bool:
        return self._token is not None and now + MIN_REMAINING_S < self._deadline

    def _fresh(self, now: float) -> bool:
        return self._token is not None and now < self._deadline - self._margin

    async def get(self) -> str:
        """A token valid for at least `MIN_REMAINING_S` more seconds; waits only if none is.

        Raises `AuthTokenUnavailable` when a refresh fails while no usable token exists, or
        when no token arrives within `wait_timeout`.
        """
        if self._closed:
            raise AuthTokenUnavailable("auth token provider is closed")
        now = self._clock()
        token = self._token
        if token is not None and now < self._deadline - self._margin:
            return token
        failures = self._failures  # a failure after this point is one this reader waited for
        self._ensure_refresh()
        if self._usable(now):
            assert self._token is not None
            return self._token
        cond = self._condition()
        async with cond:
            loop = asyncio.get_running_loop()
            give_up = loop.time() + self._wait_timeout
            while True:
                if self._usable(self._clock()):
                    assert self._token is not None
                    return self._token
                if self._failures != failures:
                    raise AuthTokenUnavailable(
                        f"could not make an auth token for api key {self._api_key_index}: "
                        f"{self._last_error}"
                    )
                if self._closed:
                    raise AuthTokenUnavailable("auth token provider is closed")
                self._ensure_refresh()
                remaining = give_up - loop.time()
                if remaining <= 0:
                    raise AuthTokenUnavailable(
                        f"no auth token for api key {self._api_key_index} "
                        f"within {self._wait_timeout} s"
                    )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(cond.wait(), remaining)

    # -- refresh side ---------------------------------------------------------------------------

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    def _ensure_refresh(self) -> None:
        """Start the single refresher task unless it is already running."""
        if self._closed:
            return
        task = self._refresher
        if task is None or task.done():
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_loop(), name="lighterfast-auth-refresh"
            )

    async def _refresh_loop(self) -> None:
        """Make a new token; retry with backoff while the old token is still usable."""
        delay = self._retry_initial
        while not self._closed:
            deadline = int(self._clock() + self._lifetime)
            try:
                token = await self._signer.acreate_auth_token(deadline, self._api_key_index)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                self._last_error = exc
                log.warning(
                    "auth token refresh failed for api key %d (attempt %d): %s",
                    self._api_key_index,
                    self._failures,
                    exc,
                )
                await self._notify()
                if not self._usable(self._clock()):
                    return  # readers raise; the next get() starts a new attempt
                await asyncio.sleep(delay)
                delay = min(delay * 2.0, self._retry_max)
                continue
            cond = self._condition()
            async with cond:
                self._token = token
                self._deadline = float(deadline)
                self._version += 1
                self._last_error = None
                cond.notify_all()
            if self._wakeup is not None:
                self._wakeup.set()
            log.debug(
                "auth token for api key %d refreshed (version %d, deadline %d)",
                self._api_key_index,
                self._version,
                deadline,
            )
            return

    async def _notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    def start(self) -> None:
        """Start a background task that refreshes `refresh_margin` seconds before expiry."""
        if self._closed:
            raise AuthTokenUnavailable("auth token provider is closed")
        if self._background is None or self._background.done():
            self._wakeup = asyncio.Event()
            self._background = asyncio.get_running_loop().create_task(
                self._background_loop(), name="lighterfast-auth-background"
            )

    async def _background_loop(self) -> None:
        assert self._wakeup is not None
        delay = self._retry_initial
        while not self._closed:
            now = self._clock()
            if not self._fresh(now):
                self._ensure_refresh()
                refresher = self._refresher
                if refresher is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(refresher)
                if not self._fresh(self._clock()):  # failed and gave up: back off, try again
                    await asyncio.sleep(delay)
                    delay = min(delay * 2.0, self._retry_max)
                continue
            delay = self._retry_initial
            self._wakeup.clear()
            sleep_for = max(0.0, self._deadline - self._margin - now)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), sleep_for)

    async def aclose(self) -> None:
        """Stop the refresher and the background task; later `get()` calls raise. Idempotent."""
        self._closed = True
        tasks = [t for t in (self._background, self._refresher) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._token = None
        if self._cond is not None:
            await self._notify()

    async def __aenter__(self) -> AuthTokenProvider:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
