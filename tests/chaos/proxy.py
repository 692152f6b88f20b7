"""A loopback TCP proxy with per-connection faults, for the chaos suite.

`ChaosProxy(target_host, target_port)` listens on 127.0.0.1 (a free port) and pipes every
client connection to the target. Each live connection (`proxy.conns`, a `ProxyConn`) can be
cut (FIN or RST), stalled (no bytes either way, TCP stays up), made half-open (the target side
is gone, the client's side stays up and silent forever), slowed (a delay per chunk) or
corrupted (the next chunk towards the client carries bytes that no valid UTF-8, JSON or
WebSocket header holds, so the damage is detectable, as TCP's checksum and TLS make it on the
wire). Only the direction towards the client is corrupted: a client cannot be asked to detect
a tampered request that still parses.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import socket
import struct
from collections import Counter

CHUNK = 65536
# Bytes that never occur in valid UTF-8: a text frame, a JSON body or an HTTP header line
# carrying them is refused by any correct parser.
GARBAGE = b"\xff\xfe\xff"


class ProxyConn:
    """One proxied connection: the two pumps and its fault switches."""

    def __init__(
        self,
        conn_id: int,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        rng: random.Random,
    ) -> None:
        self.id = conn_id
        self.kind = "?"  # "ws" once a request upgrades it to /stream, else "http"
        self._client_reader, self._client_writer = client
        self._up_writer: asyncio.StreamWriter | None = None
        self._rng = rng
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.delay_s = 0.0
        self.corrupt_pending = 0
        self.half_open = False
        self.closed = asyncio.Event()
        self._dead = False
        self.bytes_up = 0
        self.bytes_down = 0

    def __repr__(self) -> str:
        state = "half-open" if self.half_open else ("stalled" if self.stalled else "flowing")
        return f"ProxyConn(#{self.id} {self.kind} {state})"

    @property
    def stalled(self) -> bool:
        """True while no byte is forwarded in either direction."""
        return not self._flowing.is_set()

    # --- faults ---------------------------------------------------------------------------
    def cut(self, reset: bool = False) -> None:
        """Close both sides now: FIN, or RST when `reset` (SO_LINGER 0)."""
        self._dead = True
        self._flowing.set()  # wake the pumps so that they see it
        for writer in (self._client_writer, self._up_writer):
            if writer is None:
                continue
            if reset:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
            writer.transport.abort()

    def stall(self, on: bool = True) -> None:
        """Stop (or resume) forwarding both ways; the bytes wait, the sockets stay up."""
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    def make_half_open(self) -> None:
        """Drop the target side; the client's socket stays up, its bytes vanish, none come."""
        self.half_open = True
        if self._up_writer is not None:
            self._up_writer.transport.abort()

    def slow(self, delay_s: float) -> None:
        """Delay every chunk by `delay_s` seconds (0 = full speed again)."""
        self.delay_s = max(0.0, delay_s)

    def corrupt_next(self, chunks: int = 1) -> None:
        """Damage the next `chunks` chunks sent towards the client."""
        self.corrupt_pending += chunks

    # --- pumping --------------------------------------------------------------------------
    def _damage(self, data: bytes) -> bytes:
        pos = self._rng.randrange(len(data))
        return data[:pos] + GARBAGE + data[pos + len(GARBAGE) :]

    async def _gate(self) -> bool:
        """Wait while stalled or slowed; False once the connection is dead."""
        await self._flowing.wait()
        if self.delay_s and not self._dead:
            await asyncio.sleep(self.delay_s)
            await self._flowing.wait()
        return not self._dead

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, down: bool
    ) -> None:
        """Forward one direction until EOF; then close the far side after its bytes."""
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                data = await reader.read(CHUNK)
                if not data or not await self._gate():
                    break
                if not down and self.kind != "ws":  # a kept-alive HTTP one may upgrade
                    self.kind = "ws" if b"upgrade: websocket" in data.lower() else "http"
                if self.half_open:
                    if down:
                        return
                    continue  # the client's bytes go nowhere
                if down and self.corrupt_pending:
                    self.corrupt_pending -= 1
                    data = self._damage(data)
                if down:
                    self.bytes_down += len(data)
                else:
                    self.bytes_up += len(data)
                writer.write(data)
                await writer.drain()
            if not self.half_open:
                writer.close()  # after the buffered bytes: the other side sees a clean FIN

    async def run(self, host: str, port: int) -> None:
        """Connect to the target and pipe both ways until either side ends."""
        try:
            up_reader, self._up_writer = await asyncio.open_connection(host, port)
        except OSError:
            self._client_writer.transport.abort()  # the target is down: so is this connection
            self.closed.set()
            return
        up = asyncio.ensure_future(self._pump(self._client_reader, self._up_writer, down=False))
        down = asyncio.ensure_future(self._pump(up_reader, self._client_writer, down=True))
        try:
            await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
            if self.half_open:  # the client side lives until the client gives up on it
                await up
            else:
                await asyncio.wait((up, down), timeout=1.0)
        finally:
            self.cut()
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            self.closed.set()


class ChaosProxy:
    """Listens on 127.0.0.1:`port` (0 = free) and pipes to `target_host:target_port`."""

    def __init__(self, target_host: str, target_port: int, *, seed: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = "127.0.0.1"
        self.port = 0
        self.conns: list[ProxyConn] = []
        self.accepted = 0
        self.faults: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT of the proxy (REST and, as ws://, the stream)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind the listening socket."""
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ProxyConn(next(self._ids), (reader, writer), self._rng)
        self.accepted += 1
        self.conns.append(conn)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await conn.run(self.target_host, self.target_port)
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(ValueError):
                self.conns.remove(conn)

    def live(self, kind: str | None = None) -> list[ProxyConn]:
        """Open connections (of one kind: "ws" or "http"), oldest first."""
        return [c for c in self.conns if not c.closed.is_set() and kind in (None, c.kind)]

    def heal(self) -> None:
        """Undo every lasting fault: resume stalls, full speed, no corruption pending; a
        half-open connection is cut (its target side is gone for good)."""
        for conn in list(self.conns):
            conn.stall(False)
            conn.slow(0)
            conn.corrupt_pending = 0
            if conn.half_open:
                conn.cut()

    async def close(self) -> None:
        """Stop listening, cut every connection and wait for their tasks."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for conn in list(self.conns):
            conn.cut()
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()

    async def __aenter__(self) -> ChaosProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
