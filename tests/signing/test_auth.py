"""AuthTokenProvider with the real signer library, an injectable clock and injected failures."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lighterfast import protocol as P
from lighterfast.errors import SignerError
from lighterfast.signing import AuthTokenUnavailable, SdkSigner, generate_api_key
from lighterfast.signing.auth import MAX_LIFETIME_S, MIN_REMAINING_S, AuthTokenProvider

ACCOUNT = 777
KEY = 4
TOKEN_RE = re.compile(r"^(\d+):(\d+):(\d+):([0-9a-f]{160})$")


class Clock:
    """A settable wall clock (Unix seconds)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


class FlakySigner:
    """The real SdkSigner, counting token requests and failing the next `fail` of them."""

    def __init__(self, real: SdkSigner) -> None:
        self.real = real
        self.calls = 0
        self.fail = 0
        self.gate: asyncio.Event | None = None  # when set: token calls wait for the gate

    @property
    def account_index(self) -> int:
        return self.real.account_index

    async def acreate_auth_token(self, deadline: int, api_key_index: int) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail > 0:
            self.fail -= 1
            raise SignerError("injected failure")
        return await self.real.acreate_auth_token(deadline, api_key_index)


@pytest.fixture(scope="module")
def real_signer() -> Iterator[SdkSigner]:
    s = SdkSigner(ACCOUNT, {KEY: generate_api_key()[0]})
    yield s
    s.close()


@pytest.fixture
def signer(real_signer: SdkSigner) -> FlakySigner:
    return FlakySigner(real_signer)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def provider(signer: FlakySigner, clock: Clock) -> AsyncIterator[AuthTokenProvider]:
    p = AuthTokenProvider(
        signer,  # type: ignore[arg-type]
        KEY,
        lifetime=600,
        refresh_margin=60,
        clock=clock,
        retry_initial=0.01,
        retry_max=0.05,
        wait_timeout=5.0,
    )
    yield p
    await p.aclose()


def deadline_of(token: str) -> int:
    m = TOKEN_RE.match(token)
    assert m, "token has the wrong format"
    assert m.group(2, 3) == (str(ACCOUNT), str(KEY))
    return int(m.group(1))


async def settle(provider: AuthTokenProvider) -> None:
    """Wait for a running refresh (if any) to finish."""
    task = provider._refresher
    if task is not None:
        await asyncio.wait_for(asyncio.shield(task), 5)


async def test_first_get_makes_a_token(provider: AuthTokenProvider, signer: FlakySigner,
                                       clock: Clock) -> None:  # fmt: skip
    assert provider.version == 0
    token = await provider.get()
    assert deadline_of(token) == int(clock.now + 600)
    assert provider.version == 1 and signer.calls == 1
    assert provider.deadline == int(clock.now + 600)
    # fresh: no new signature
    clock.now += 500
    assert await provider.get() == token
    assert signer.calls == 1 and provider.version == 1


async def test_refresh_inside_margin_serves_old_token_meanwhile(
    provider: AuthTokenProvider, signer: FlakySigner, clock: Clock
) -> None:
    first = await provider.get()
    clock.now += 545  # 55 s left: inside the 60 s margin, still usable
    signer.gate = asyncio.Event()  # hold the refresh so we can observe the old token being served
    assert await provider.get() == first
    await asyncio.sleep(0.01)  # the refresher runs and waits at the gate
    assert await provider.get() == first
    assert signer.calls == 2  # one refresh started, not one per reader
    signer.gate.set()
    await settle(provider)
    second = await provider.get()
    assert second != first
    assert deadline_of(second) == int(clock.now + 600)
    assert provider.version == 2


async def test_expired_token_is_never_served(
    provider: AuthTokenProvider, signer: FlakySigner, clock: Clock
) -> None:
    first = await provider.get()
    clock.now += 600 - MIN_REMAINING_S  # too close to the deadline to be served
    token = await provider.get()
    assert token != first
    assert deadline_of(token) > clock.now + MIN_REMAINING_S
    assert provider.version == 2


async def test_concurrent_readers_share_one_refresh(
    provider: AuthTokenProvider, signer: FlakySigner
) -> None:
    signer.gate = asyncio.Event()
    readers = [asyncio.ensure_future(provider.get()) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert not any(r.done() for r in readers)  # nobody reads a half-made token
    signer.gate.set()
    tokens = await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert len(set(tokens)) == 1
    assert signer.calls == 1 and provider.version == 1


async def test_failed_refresh_retries_and_keeps_old_token(
    provider: AuthTokenProvider, signer: FlakySigner, clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    first = await provider.get()
    clock.now += 550  # inside the margin
    signer.fail = 3
    assert await provider.get() == first  # still valid: served while the refresher retries
    await settle(provider)
    assert provider.failures == 3
    assert signer.calls == 5  # first token + 3 failures + 1 success (backoff, one refresher)
    second = await provider.get()
    assert second != first and provider.version == 2
    assert "injected failure" in caplog.text
    for secret in (first, second, first.rsplit(":", 1)[1], second.rsplit(":", 1)[1]):
        assert secret not in caplog.text


async def test_no_usable_token_and_failure_raises(
    provider: AuthTokenProvider, signer: FlakySigner, clock: Clock
) -> None:
    signer.fail = 1
    with pytest.raises(AuthTokenUnavailable, match="injected failure"):
        await provider.get()
    assert isinstance(AuthTokenUnavailable("x"), SignerError)
    # the next call tries again and succeeds
    token = await provider.get()
    assert deadline_of(token) == int(clock.now + 600)
    # expired token + failing signer → named error, the expired token is not returned
    clock.now += 601
    signer.fail = 1
    with pytest.raises(AuthTokenUnavailable) as info:
        await provider.get()
    assert token not in str(info.value) and token not in repr(info.value)


async def test_aclose_wakes_waiting_readers(
    provider: AuthTokenProvider, signer: FlakySigner
) -> None:
    signer.gate = asyncio.Event()  # the refresh never finishes on its own
    readers = [asyncio.ensure_future(provider.get()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(r.done() for r in readers)
    await asyncio.wait_for(provider.aclose(), 2)
    for reader in readers:
        with pytest.raises(AuthTokenUnavailable, match="closed"):
            await asyncio.wait_for(reader, 2)
    signer.gate.set()


async def test_wait_timeout(signer: FlakySigner, clock: Clock) -> None:
    p = AuthTokenProvider(signer, KEY, clock=clock, wait_timeout=0.05)  # type: ignore[arg-type]
    signer.gate = asyncio.Event()  # the signer never answers
    try:
        with pytest.raises(AuthTokenUnavailable, match="within"):
            await p.get()
    finally:
        signer.gate.set()
        await p.aclose()


async def test_background_refresh_before_expiry(signer: FlakySigner) -> None:
    """With the real clock: a 5 s token with a 2.9 s margin is replaced within ~2 s, unasked."""
    p = AuthTokenProvider(signer, KEY, lifetime=5, refresh_margin=2.9)  # type: ignore[arg-type]
    async with p:
        first = await p.get()
        version = p.version
        for _ in range(100):
            await asyncio.sleep(0.05)
            if p.version > version:
                break
        assert p.version > version
        assert p.background_running
        second = await p.get()
        assert second != first
        assert deadline_of(second) >= deadline_of(first)
    assert not p.background_running
    with pytest.raises(AuthTokenUnavailable, match="closed"):
        await p.get()
    await p.aclose()  # idempotent


def test_lifetime_is_clamped_to_the_server_maximum(signer: FlakySigner, clock: Clock) -> None:
    p = AuthTokenProvider(signer, KEY, lifetime=10 * 3600, clock=clock)  # type: ignore[arg-type]

    async def run() -> str:
        try:
            return await p.get()
        finally:
            await p.aclose()

    token = asyncio.run(run())
    lifetime = deadline_of(token) - clock.now
    assert lifetime <= P.AUTH_TOKEN_MAX_LIFETIME_S
    assert lifetime == math.floor(MAX_LIFETIME_S)


@pytest.mark.parametrize(
    "kwargs,exc,field",
    [
        (dict(lifetime=0), ValueError, "lifetime"),
        (dict(lifetime=-5), ValueError, "lifetime"),
        (dict(lifetime=math.nan), ValueError, "lifetime"),
        (dict(lifetime=math.inf), ValueError, "lifetime"),
        (dict(lifetime="600"), TypeError, "lifetime"),
        (dict(refresh_margin=-1), ValueError, "refresh_margin"),
        (dict(refresh_margin=600), ValueError, "refresh_margin"),
        (dict(refresh_margin=math.nan), ValueError, "refresh_margin"),
        (dict(lifetime=10, refresh_margin=9), ValueError, "refresh_margin"),
        (dict(api_key_index=255), ValueError, "api_key_index"),
        (dict(api_key_index="4"), TypeError, "api_key_index"),
        (dict(retry_initial=0), ValueError, "retry_initial"),
        (dict(wait_timeout=-1), ValueError, "wait_timeout"),
    ],
)
def test_nonsense_settings_raise(
    signer: FlakySigner, kwargs: dict[str, Any], exc: type, field: str
) -> None:
    api_key_index = kwargs.pop("api_key_index", KEY)
    with pytest.raises(exc, match=field):
        AuthTokenProvider(signer, api_key_index, **kwargs)  # type: ignore[arg-type]


async def test_repr_has_no_token(provider: AuthTokenProvider) -> None:
    token = await provider.get()
    text = repr(provider)
    assert f"account_index={ACCOUNT}" in text and "version=1" in text
    assert token not in text and token.rsplit(":", 1)[1][:16] not in text


async def test_works_directly_on_sdk_signer(real_signer: SdkSigner) -> None:
    async with AuthTokenProvider(real_signer, KEY) as p:
        token = await p.get()
        assert abs(deadline_of(token) - (time.time() + P.AUTH_TOKEN_DEFAULT_LIFETIME_S)) < 5
