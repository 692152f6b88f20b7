"""One picows WebSocket client connection that stays up.

Keep-alive (`{"type":"ping"}` every `ping_interval`, well inside the 2-minute idle rule),
answers to server pings (app-level and RFC 6455), dead-connection detection (a ping, sent on
schedule or after `2 × pong_timeout` of silence, that gets no frame back within
`pong_timeout`; a request whose reply does not come in time), reconnect with capped
exponential backoff plus jitter, a proactive reconnect on the server's `shutdown` notice, and
reply futures keyed by request id.

Concurrency contract: everything runs on the event loop thread. At most one socket is live
per `WsConnection`; the run task is the only one that opens or replaces it. `on_frame` is
called synchronously from picows' callback with each complete text frame (bytes);
`on_connected` is awaited after every (re)connect, before `wait_connected()` returns, and is
where the owner resubscribes and resyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import random
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from .. import protocol as P
from .._checks import check_seconds
from .._counters import Counters
from ..errors import WsClosed
from ..wire import PING, PONG, TYPE_PING, TYPE_SHUTDOWN
from .rest import note_connection

logger = logging.getLogger("lighterfast.transport")

T = TypeVar("T")


_TEXT = WSMsgType.TEXT
_CONT = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
_BINARY = WSMsgType.BINARY
# Control frames from the server (ping, shutdown) are tiny; only frames this short are peeked.
_CONTROL_MAX_LEN = 96


class WsStats(Counters):
    """Counters of one connection's life (plain attributes, cheap to bump)."""

    __slots__ = (
        "binary_frames",
        "connect_failures",
        "connects",
        "dead_detected",
        "frames",
        "last_close_code",
        "pings_answered",
        "pings_sent",
        "reply_timeouts",
        "shutdowns",
    )
    binary_frames: int
    connect_failures: int
    connects: int
    dead_detected: int
    frames: int
    reply_timeouts: int
    pings_answered: int
    pings_sent: int
    shutdowns: int

    def __init__(self) -> None:
        super().__init__()
        self.last_close_code: int | None = None

    @property
    def reconnects(self) -> int:
        """Connections after the first one."""
        return max(0, self.connects - 1)

    def as_dict(self) -> dict[str, Any]:
        """Snapshot of the counters."""
        out = super().as_dict()
        out["reconnects"] = self.reconnects
        return out


class _Listener(WSListener):  # type: ignore[misc]
    """picows callbacks → the owning WsConnection (frames are borrowed; copy what is kept)."""

    def __init__(self, conn: WsConnection) -> None:
        super().__init__()
        self._conn = conn
        self._fragments: list[bytes] | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type is _TEXT:
            if frame.fin:
                self._conn._on_text(frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
        elif msg_type is _CONT:
            if self._fragments is None:
                return
            self._fragments.append(frame.get_payload_as_bytes())
            if frame.fin:
                payload = b"".join(self._fragments)
                self._fragments = None
                self._conn._on_text(payload)
        elif msg_type is _CLOSE:
            code = frame.get_close_code()
            self._conn.stats.last_close_code = int(code.value) if hasattr(code, "value") else None
            with contextlib.suppress(Exception):
                transport.send_close(code if code is not WSCloseCode.NO_INFO else WSCloseCode.OK)
            transport.disconnect()
        elif msg_type is _BINARY:
            self._conn.stats.binary_frames += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._conn._on_socket_closed(transport)


class WsConnection:
    """A self-healing picows client connection (see the module docstring for the contract)."""

    def __init__(
        self,
        url: str,
        *,
        on_frame: Callable[[bytes], None] | None = None,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_disconnected: Callable[[], None] | None = None,
        ping_interval: float = P.WS_DEFAULT_PING_INTERVAL_S,
        dead_after: float = 3.0,
        pong_timeout: float = 3.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        backoff_factor: float = 2.0,
        jitter: float = 0.25,
        stable_after: float = 5.0,
        handshake_timeout: float = 5.0,
        name: str = "ws",
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url: expected ws:// or wss:// URL, got {url!r}")
        if check_seconds("ping_interval", ping_interval) >= P.WS_IDLE_TIMEOUT_S:
            raise ValueError(
                f"ping_interval: must be > 0 and < {P.WS_IDLE_TIMEOUT_S} s, got {ping_interval!r}"
            )
        if check_seconds("dead_after", dead_after) < 1:
            raise ValueError(f"dead_after: must be >= 1 ping interval, got {dead_after!r}")
        if check_seconds("backoff_initial", backoff_initial) > check_seconds(
            "backoff_max", backoff_max
        ):
            raise ValueError("backoff_initial: must be > 0 and <= backoff_max")
        if check_seconds("backoff_factor", backoff_factor) < 1:
            raise ValueError("backoff_factor: must be >= 1")
        if not 0 <= check_seconds("jitter", jitter, zero_ok=True) < 1:
            raise ValueError("jitter: must be in [0, 1)")
        check_seconds("pong_timeout", pong_timeout)
        check_seconds("stable_after", stable_after, zero_ok=True)
        check_seconds("handshake_timeout", handshake_timeout)
        self.url = url
        self.name = name
        self.on_frame: Callable[[bytes], None] = on_frame or self._route_replies_only
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.ping_interval = float(ping_interval)
        self.dead_after = float(dead_after)
        self.pong_timeout = float(pong_timeout)
        # Silence that makes the keepalive probe at once instead of waiting for the schedule.
        self.probe_after = min(self.ping_interval, 2.0 * self.pong_timeout)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(backoff_max)
        self.backoff_factor = float(backoff_factor)
        self.jitter = float(jitter)
        self.stable_after = float(stable_after)
        self.handshake_timeout = float(handshake_timeout)
        self.stats = WsStats()
        self._transport: WSTransport | None = None
        self._connected = asyncio.Event()
        self._socket_lost = asyncio.Event()
        self._closing_event = asyncio.Event()
        self._closing = False
        self._closed = False
        self._run_task: asyncio.Task[None] | None = None
        self._reconnect_now = False
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._request_ids = itertools.count(1)
        self._id_prefix = f"lf{os.getpid()}-{id(self) & 0xFFFFFF:x}-"
        self._shutdown_handle: asyncio.TimerHandle | None = None
        self._rng = random.Random()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self.connected else "connecting")
        return f"WsConnection({self.url!r}, {state}, connects={self.stats.connects})"

    # --- life cycle ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while a socket is open and `on_connected` has finished."""
        return self._connected.is_set()

    @property
    def closed(self) -> bool:
        """True once `close()` has been called."""
        return self._closing

    async def start(self, *, wait: bool = True, timeout: float | None = 10.0) -> None:
        """Start the run task; with `wait`, return once connected (WsClosed on timeout)."""
        if self._closing:
            raise WsClosed("connection is closed")
        if self._run_task is None:
            note_connection(self.url)
            self._run_task = asyncio.get_running_loop().create_task(
                self._run(), name=f"lighterfast-{self.name}-run"
            )
        if wait and not await self.wait_connected(timeout):
            raise WsClosed(f"could not connect to {self.url} within {timeout} s")

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected (and resubscribed); False on timeout or close."""
        if self._connected.is_set():
            return True
        if self._closing:
            return False
        connected = asyncio.ensure_future(self._connected.wait())
        closing = asyncio.ensure_future(self._closing_event.wait())
        try:
            await asyncio.wait({connected, closing}, timeout=timeout, return_when=FIRST_COMPLETED)
        finally:
            connected.cancel()
            closing.cancel()
        return self._connected.is_set() and not self._closing

    async def wait_socket_lost(self) -> None:
        """Return when the current socket closes (for owners waiting inside `on_connected`)."""
        await self._socket_lost.wait()

    def reconnect(self, reason: str = "requested") -> None:
        """Drop the current socket now and reconnect without backoff."""
        transport = self._transport
        if transport is None:
            return
        logger.info("%s: reconnecting (%s)", self.name, reason)
        self._reconnect_now = True
        transport.disconnect(graceful=True)

    def mark_suspect(self, reason: str) -> None:
        """The socket may be silent (e.g. a reply did not come): not `connected` from now on,
        so senders use REST, and reconnect at once (a hard cut: a silent peer may never close)."""
        transport = self._transport
        if transport is None:
            return
        logger.warning("%s: connection suspect (%s); reconnecting now", self.name, reason)
        self._connected.clear()
        self._reconnect_now = True
        transport.disconnect(graceful=False)

    async def close(self) -> None:
        """Close the socket, stop the run task, fail pending replies; idempotent."""
        if self._closed:
            return
        self._closing = True
        self._closing_event.set()
        if self._shutdown_handle is not None:
            self._shutdown_handle.cancel()
            self._shutdown_handle = None
        transport = self._transport
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.send_close(WSCloseCode.OK)
            transport.disconnect(graceful=True)
        task = self._run_task
        if task is not None and not task.done():
            if transport is not None and self._connected.is_set():
                # Give the close handshake a moment, then cut.
                done, _ = await asyncio.wait({task}, timeout=1.0)
                if not done:
                    task.cancel()
            else:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._fail_pending("connection closed")
        self._closed = True

    # --- sending ------------------------------------------------------------------------------
    def send_raw(self, data: bytes | str) -> None:
        """Send one text frame now; WsClosed when no socket is open."""
        transport = self._transport
        if transport is None or transport.is_disconnected or transport.is_close_frame_sent:
            raise WsClosed("WebSocket is not connected")
        transport.send(_TEXT, data if isinstance(data, bytes) else data.encode())

    async def send_json(self, obj: Any) -> None:
        """Serialize with orjson and send as one text frame."""
        self.send_raw(orjson.dumps(obj))

    def new_request_id(self) -> str:
        """A request id unique on this connection (and across processes: pid, object id, n)."""
        return self._id_prefix + str(next(self._request_ids))

    def expect_reply(self, request_id: str) -> asyncio.Future[dict[str, Any]]:
        """Register a future resolved by the reply frame carrying `id == request_id`."""
        if not isinstance(request_id, str) or not request_id:
            raise ValueError("request_id: must be a non-empty str")
        if request_id in self._pending:
            raise ValueError(f"request_id: {request_id!r} is already pending")
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        return fut

    def resolve_reply(self, request_id: object, msg: dict[str, Any]) -> bool:
        """Deliver a parsed reply frame to its waiter; False when nobody waits for that id."""
        if not self._pending:
            return False
        fut = self._pending.pop(str(request_id), None)
        if fut is None:
            return False
        if not fut.done():
            fut.set_result(msg)
        return True

    @property
    def pending_replies(self) -> int:
        """Number of requests still waiting for their reply."""
        return len(self._pending)

    async def request(
        self, payload: bytes, request_id: str, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Send a frame whose data carries `id=request_id` and await the reply frame (raw dict).

        Raises WsClosed if the socket drops first, asyncio.TimeoutError after `timeout`; a
        timeout also marks the connection suspect (REST for the next sends, reconnect now).
        """
        if type(timeout) is not float or not 0.0 < timeout < math.inf:  # NaN too: checked
            timeout = check_seconds("timeout", timeout)
        fut = self.expect_reply(request_id)
        transport = self._transport
        try:
            self.send_raw(payload)
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.stats.reply_timeouts += 1
            if transport is self._transport:
                self.mark_suspect(f"no reply to {request_id} within {timeout:g} s")
            raise
        finally:
            self._pending.pop(request_id, None)

    # --- internals ----------------------------------------------------------------------------
    def _on_text(self, payload: bytes) -> None:
        """Every complete text frame: answer control frames, pass the rest to `on_frame`."""
        self.stats.frames += 1
        if len(payload) <= _CONTROL_MAX_LEN and (b'"ping"' in payload or b'"shutdown"' in payload):
            if self._control(payload):
                return
        self.on_frame(payload)

    def _control(self, payload: bytes) -> bool:
        """Handle `ping` / `shutdown`; True when the frame was a control frame."""
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(msg, dict):
            return False
        kind = msg.get("type")
        if kind == TYPE_PING:
            transport = self._transport
            if transport is not None and not transport.is_disconnected:
                transport.send(_TEXT, PONG)
                self.stats.pings_answered += 1
            return True
        if kind == TYPE_SHUTDOWN:
            self.stats.shutdowns += 1
            close_in = msg.get("close_in_ms")
            close_in_s = close_in / 1000.0 if isinstance(close_in, (int, float)) else 0.0
            logger.info("%s: server shutdown notice (close in %.3f s)", self.name, close_in_s)
            # Reconnect proactively now rather than lose frames when the server cuts us.
            if self._shutdown_handle is None:
                loop = asyncio.get_running_loop()
                self._shutdown_handle = loop.call_later(0.0, self._shutdown_reconnect)
            return True
        return False

    def _shutdown_reconnect(self) -> None:
        self._shutdown_handle = None
        if not self._closing:
            self.reconnect("server shutdown notice")

    def _route_replies_only(self, payload: bytes) -> None:
        """Default `on_frame` for a bare connection: resolve reply futures by `id`."""
        if not self._pending:
            return
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if isinstance(msg, dict) and "id" in msg:  # the id is all routing needs of the reply
            self.resolve_reply(msg["id"], msg)

    def _on_socket_closed(self, transport: WSTransport) -> None:
        if transport is self._transport:
            self._connected.clear()
            self._socket_lost.set()

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(WsClosed(why))

    def _backoff(self, attempt: int) -> float:
        """Delay before connect attempt `attempt` (0-based): capped exponential, ± jitter."""
        base = min(self.backoff_max, self.backoff_initial * self.backoff_factor**attempt)
        return base * (1.0 + self.jitter * (2.0 * self._rng.random() - 1.0))

    def _declare_dead(self, transport: WSTransport, silent_for: float) -> None:
        self.stats.dead_detected += 1
        logger.warning(
            "%s: no frame for %.1f s (pong deadline %.1f s), treating the connection as dead",
            self.name,
            silent_for,
            self.pong_timeout,
        )
        if transport is self._transport:
            self._connected.clear()
        transport.disconnect(graceful=False)

    async def _keepalive(self, transport: WSTransport) -> None:
        """Ping on schedule, or at once after `probe_after` of silence; no frame back within
        `pong_timeout` of a ping (or none for `dead_after` pings) drops the socket."""
        loop = asyncio.get_running_loop()
        stats = self.stats
        last_frames = stats.frames
        last_seen = last_ping = loop.time()
        unanswered_since: float | None = None  # first ping sent since the last frame
        limit = self.dead_after * self.ping_interval
        tick = min(self.ping_interval, self.pong_timeout, self.probe_after) / 2.0
        while not transport.is_disconnected:
            await asyncio.sleep(tick)
            now = loop.time()
            if stats.frames != last_frames:
                last_frames = stats.frames
                last_seen = now
                unanswered_since = None
            elif (
                unanswered_since is not None and now - unanswered_since >= self.pong_timeout
            ) or now - last_seen >= limit - 1e-6:
                self._declare_dead(transport, now - last_seen)
                return
            if transport.is_disconnected or transport.is_close_frame_sent:
                return
            silent = unanswered_since is None and now - last_seen >= self.probe_after - 1e-6
            if silent or now - last_ping >= self.ping_interval - 1e-6:
                transport.send(_TEXT, PING)
                stats.pings_sent += 1
                last_ping = now
                if unanswered_since is None:
                    unanswered_since = now

    async def _run(self) -> None:
        """Connect, serve, and reconnect until `close()`."""
        loop = asyncio.get_running_loop()
        attempt = 0
        delay = 0.0
        while not self._closing:
            if delay > 0:
                await asyncio.sleep(delay)
                if self._closing:
                    break
            try:
                transport, _listener = await ws_connect(
                    lambda: _Listener(self),
                    self.url,
                    websocket_handshake_timeout=self.handshake_timeout,
                    logger_name=f"lighterfast.{self.name}",
                    enable_auto_pong=True,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.connect_failures += 1
                delay = self._backoff(attempt)
                attempt += 1
                logger.warning(
                    "%s: connect to %s failed (%s: %s); retry in %.2f s",
                    self.name,
                    self.url,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                continue
            if self._closing:
                transport.disconnect(graceful=True)
                break
            self._transport = transport
            self._socket_lost.clear()
            self.stats.connects += 1
            started = loop.time()
            keepalive = loop.create_task(
                self._keepalive(transport), name=f"lighterfast-{self.name}-keepalive"
            )
            try:
                if self.on_connected is not None:
                    await self.on_connected()
                if not transport.is_disconnected:
                    self._connected.set()
                    if self.stats.connects > 1:
                        logger.info("%s: reconnected (%d)", self.name, self.stats.reconnects)
                await transport.wait_disconnected()
            except asyncio.CancelledError:
                transport.disconnect(graceful=False)
                raise
            except Exception as exc:
                if isinstance(exc, WsClosed):  # died while resubscribing: an ordinary drop
                    logger.warning("%s: lost while resubscribing (%s)", self.name, exc)
                else:
                    logger.exception("%s: on_connected failed; dropping the socket", self.name)
                transport.disconnect(graceful=False)
                with contextlib.suppress(Exception):
                    await transport.wait_disconnected()
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keepalive
                self._connected.clear()
                self._transport = None
                self._fail_pending("connection lost before the reply arrived")
                if self.on_disconnected is not None:
                    try:
                        self.on_disconnected()
                    except Exception:
                        logger.exception("%s: on_disconnected hook failed", self.name)
            if self._closing:
                break
            if self._reconnect_now:
                self._reconnect_now = False
                attempt, delay = 0, 0.0
                continue
            if loop.time() - started >= self.stable_after:
                attempt = 0
            delay = self._backoff(attempt)
            attempt += 1
            logger.warning(
                "%s: connection lost (close code %s); reconnect in %.2f s",
                self.name,
                self.stats.last_close_code,
                delay,
            )
