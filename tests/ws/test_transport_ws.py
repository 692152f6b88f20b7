"""WsConnection over real loopback sockets: a small picows server and the local node."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

from lighterfast.errors import WsClosed
from lighterfast.testnode import LocalNode
from lighterfast.transport.websocket import WsConnection
from lighterfast.wire import PING, PONG, encode_sendtx_batch


class _ServerListener(WSListener):  # type: ignore[misc]
    """Scriptable server side: records client frames, lets the test push frames."""

    def __init__(self, server: ScriptServer) -> None:
        super().__init__()
        self.server = server
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.server.clients.append(self)
        self.server.connected.set()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.server.received.append(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.PONG:
            self.server.rfc_pongs += 1
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


class ScriptServer:
    def __init__(self) -> None:
        self.clients: list[_ServerListener] = []
        self.received: list[bytes] = []
        self.rfc_pongs = 0
        self.connected = asyncio.Event()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    async def start(self) -> None:
        self.server = await ws_create_server(
            lambda _request: _ServerListener(self), "127.0.0.1", self.port
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for client in self.clients:
            if client.transport is not None:
                client.transport.disconnect(graceful=False)
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def last(self) -> WSTransport:
        transport = self.clients[-1].transport
        assert transport is not None
        return transport


@pytest.fixture
async def server() -> AsyncIterator[ScriptServer]:
    srv = ScriptServer()
    await srv.start()
    yield srv
    await srv.stop()


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ping_interval": 0}, "ping_interval"),
        ({"ping_interval": 120.0}, "ping_interval"),
        ({"dead_after": 0.5}, "dead_after"),
        ({"backoff_initial": 0}, "backoff_initial"),
        ({"backoff_initial": 10, "backoff_max": 1}, "backoff_initial"),
        ({"backoff_factor": 0.5}, "backoff_factor"),
        ({"jitter": 1.0}, "jitter"),
    ],
)
def test_bad_options_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        WsConnection("ws://127.0.0.1:1/stream", **kwargs)


def test_url_must_be_websocket() -> None:
    with pytest.raises(ValueError, match="url"):
        WsConnection("http://127.0.0.1:1/stream")


def test_backoff_is_exponential_capped_and_jittered() -> None:
    conn = WsConnection(
        "ws://127.0.0.1:1/stream",
        backoff_initial=0.1,
        backoff_max=2.0,
        backoff_factor=2,
        jitter=0.2,
    )
    for attempt, base in [(0, 0.1), (1, 0.2), (3, 0.8), (5, 2.0), (30, 2.0)]:
        delays = [conn._backoff(attempt) for _ in range(200)]
        assert all(base * 0.8 - 1e-9 <= d <= base * 1.2 + 1e-9 for d in delays)
        assert len({round(d, 9) for d in delays}) > 1  # jittered, not a constant


# --- connect / reconnect ---------------------------------------------------------------------
async def test_start_times_out_cleanly_when_nothing_listens() -> None:
    conn = WsConnection(f"ws://127.0.0.1:{free_port()}/stream", backoff_initial=0.05)
    with pytest.raises(WsClosed, match="could not connect"):
        await conn.start(timeout=0.3)
    assert conn.stats.connect_failures >= 2
    with pytest.raises(WsClosed):
        conn.send_raw(b"{}")
    await conn.close()
    await conn.close()  # idempotent
    assert conn._run_task is not None and conn._run_task.done()


async def test_connects_once_the_server_appears() -> None:
    port = free_port()
    conn = WsConnection(f"ws://127.0.0.1:{port}/stream", backoff_initial=0.05, backoff_max=0.2)
    await conn.start(wait=False)
    await until(lambda: conn.stats.connect_failures >= 1)
    assert not conn.connected
    srv = ScriptServer()
    srv.port = port
    await srv.start()
    try:
        assert await conn.wait_connected(3.0)
        assert conn.stats.connects == 1
    finally:
        await conn.close()
        await srv.stop()


async def test_on_connected_runs_after_every_connect_and_one_socket_at_a_time(
    server: ScriptServer,
) -> None:
    calls: list[int] = []

    async def on_connected() -> None:
        calls.append(len(server.clients))
        conn.send_raw(b'{"type":"subscribe","channel":"trade/0"}')

    conn = WsConnection(server.url, on_connected=on_connected, backoff_initial=0.05)
    await conn.start()
    try:
        for round_ in range(3):
            server.last().send_close(WSCloseCode.INTERNAL_ERROR)
            server.last().disconnect()
            await until(lambda r=round_: conn.connected and conn.stats.connects == r + 2)
        assert calls == [1, 2, 3, 4]
        sub = b'{"type":"subscribe","channel":"trade/0"}'
        await until(lambda: server.received.count(sub) >= 4)  # the last one may be in flight
        assert server.received.count(sub) == 4
        live = [c for c in server.clients if c.transport and not c.transport.is_disconnected]
        assert len(live) == 1
        assert conn.stats.last_close_code == 1011
    finally:
        await conn.close()


async def test_failing_on_connected_drops_and_retries(server: ScriptServer) -> None:
    attempts = {"n": 0}

    async def on_connected() -> None:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("resubscribe failed")

    conn = WsConnection(server.url, on_connected=on_connected, backoff_initial=0.05)
    await conn.start(timeout=3.0)
    try:
        assert attempts["n"] == 2 and conn.stats.connects == 2
    finally:
        await conn.close()


# --- frames ----------------------------------------------------------------------------------
async def test_text_frames_pings_and_fragments(server: ScriptServer) -> None:
    frames: list[bytes] = []
    conn = WsConnection(server.url, on_frame=frames.append)
    await conn.start()
    try:
        srv = server.last()
        srv.send(WSMsgType.TEXT, b'{"type":"update/trade","trades":[]}')
        srv.send(WSMsgType.TEXT, PING)  # app-level ping: answered, not passed on
        srv.send_ping(b"rfc")  # RFC 6455 ping: answered with a pong frame
        srv.send(WSMsgType.TEXT, b'{"type":"upd', fin=False)
        srv.send(WSMsgType.CONTINUATION, b'ate/height","height":1}', fin=True)
        srv.send(WSMsgType.BINARY, b"\x00\x01")
        await until(lambda: len(frames) == 2 and server.rfc_pongs == 1 and PONG in server.received)
        assert frames == [
            b'{"type":"update/trade","trades":[]}',
            b'{"type":"update/height","height":1}',
        ]
        assert conn.stats.pings_answered == 1 and conn.stats.binary_frames == 1
    finally:
        await conn.close()


async def test_keepalive_pings_and_dead_detection(server: ScriptServer) -> None:
    conn = WsConnection(server.url, ping_interval=0.05, dead_after=3.0, backoff_initial=0.05)
    await conn.start()
    try:
        await until(lambda: server.received.count(PING) >= 3)
        assert conn.stats.pings_sent >= 3
        # the server never answers: after ~3 intervals without a frame the socket is replaced
        await until(lambda: conn.stats.dead_detected >= 1 and conn.stats.connects >= 2)
    finally:
        await conn.close()


async def test_shutdown_notice_reconnects_at_once(server: ScriptServer) -> None:
    conn = WsConnection(server.url, backoff_initial=3.0)  # a backoff would be visible
    await conn.start()
    try:
        server.last().send(WSMsgType.TEXT, b'{"type":"shutdown","close_in_ms":5000}')
        await until(lambda: conn.stats.connects == 2 and conn.connected, timeout=1.5)
        assert conn.stats.shutdowns == 1
        live = [c for c in server.clients if c.transport and not c.transport.is_disconnected]
        assert len(live) == 1
    finally:
        await conn.close()


async def test_connection_and_wsinfo_log_under_their_own_names(
    server: ScriptServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The transport logs as `lighterfast.transport`; `lighterfast.ws` is WsInfo's alone."""
    conn = WsConnection(server.url, name="probe")
    with caplog.at_level(logging.INFO, logger="lighterfast"):
        await conn.start()
        try:
            conn.reconnect("test")
            await until(lambda: conn.stats.connects == 2 and conn.connected)
        finally:
            await conn.close()
        from lighterfast.ws import WsInfo

        info = WsInfo.replay(market_id=0, price_decimals=2, size_decimals=4)
        info.feed_raw(b'{"type":"error","error":{"code":30005,"message":"bad"}}')
    transport = {r.name for r in caplog.records if r.getMessage().startswith("probe:")}
    assert transport == {"lighterfast.transport"}
    frames = {r.name for r in caplog.records if "error frame code=30005" in r.getMessage()}
    assert frames == {"lighterfast.ws"}


# --- replies ---------------------------------------------------------------------------------
async def test_request_reply_by_id_on_a_bare_connection(server: ScriptServer) -> None:
    conn = WsConnection(server.url)
    await conn.start()
    try:
        srv = server.last()

        async def answer() -> None:
            await until(lambda: any(b'"id":"r-1"' in m for m in server.received))
            srv.send(WSMsgType.TEXT, b'{"type":"update/height","height":2}')  # interleaved
            srv.send(WSMsgType.TEXT, b'{"code":200,"id":"r-1","tx_hash":["ab"],"type":"x"}')

        task = asyncio.ensure_future(answer())
        payload = encode_sendtx_batch([14], ['{"A":1}'], request_id="r-1")
        reply = await conn.request(payload, "r-1", timeout=2.0)
        await task
        assert reply["tx_hash"] == ["ab"] and conn.pending_replies == 0
        with pytest.raises(asyncio.TimeoutError):
            await conn.request(b'{"type":"x","data":{"id":"r-2"}}', "r-2", timeout=0.05)
        assert conn.pending_replies == 0
        for bad in (float("nan"), -1, None, True):  # NaN would otherwise wait forever
            with pytest.raises((TypeError, ValueError), match="timeout"):
                await conn.request(b"{}", "r-x", timeout=bad)
        assert conn.pending_replies == 0  # refused before anything was registered or sent
        # a drop fails every waiter with WsClosed
        fut = conn.expect_reply("r-3")
        with pytest.raises(ValueError, match="request_id"):
            conn.expect_reply("r-3")
        srv.disconnect(graceful=False)
        with pytest.raises(WsClosed):
            await asyncio.wait_for(fut, 2.0)
    finally:
        await conn.close()


async def test_tx_batch_reply_from_the_node(node: LocalNode) -> None:
    conn = WsConnection(node.ws_url)
    await conn.start()
    try:
        # a malformed tx_info is refused by the node with an error frame carrying our id
        payload = encode_sendtx_batch([14], ['{"AccountIndex":1}'], request_id="n-1")
        reply = await conn.request(payload, "n-1", timeout=2.0)
        assert "error" in reply and reply["id"] == "n-1"
        assert isinstance(orjson.loads(orjson.dumps(reply))["error"]["code"], int)
    finally:
        await conn.close()


async def test_close_leaves_no_tasks(server: ScriptServer) -> None:
    before = asyncio.all_tasks()
    conn = WsConnection(server.url, ping_interval=0.05)
    await conn.start()
    await asyncio.sleep(0.1)
    await conn.close()
    await asyncio.sleep(0)
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()
    with pytest.raises(WsClosed):
        await conn.start()


async def test_socket_lost_while_waiting_for_snapshots_reconnects_at_once(
    server: ScriptServer,
) -> None:
    from lighterfast.ws import WsInfo

    ws = WsInfo(
        base_url=f"http://127.0.0.1:{server.port}",
        market_id=0,
        public_trades=True,
        subscribe_timeout=30.0,
        connection_options={"backoff_initial": 0.05},
    )
    loop = asyncio.get_running_loop()
    started = asyncio.ensure_future(ws.start(timeout=10.0))
    try:
        await until(lambda: len(server.clients) == 1 and len(server.received) == 1)
        t0 = loop.time()
        server.last().disconnect(graceful=False)  # dropped before any snapshot came
        await until(lambda: len(server.clients) == 2 and len(server.received) == 2)
        server.last().send(
            WSMsgType.TEXT, b'{"type":"subscribed/trade","channel":"trade:0","trades":[]}'
        )
        await asyncio.wait_for(started, 5.0)
        assert loop.time() - t0 < 3.0 and ws.connected
    finally:
        t1 = loop.time()
        await ws.aclose()
        assert loop.time() - t1 < 2.0


async def test_close_while_waiting_for_snapshots_is_prompt(server: ScriptServer) -> None:
    from lighterfast.ws import WsInfo

    ws = WsInfo(
        base_url=f"http://127.0.0.1:{server.port}",
        market_id=0,
        public_trades=True,
        subscribe_timeout=30.0,
    )
    started = asyncio.ensure_future(ws.start(timeout=20.0))
    await until(lambda: len(server.received) == 1)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await ws.aclose()
    assert loop.time() - t0 < 2.0
    with pytest.raises(WsClosed):
        await started


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, None, "abc", -1, 0])
def test_constructors_refuse_garbage_with_named_errors(bad: Any) -> None:
    from lighterfast.core import WeightLimiter
    from lighterfast.transport.rest import RestClient

    limiter = WeightLimiter(100)
    for name in ("ping_interval", "backoff_initial", "backoff_max", "handshake_timeout"):
        with pytest.raises((TypeError, ValueError), match=name):
            WsConnection("ws://127.0.0.1:1/stream", **{name: bad})
    with pytest.raises((TypeError, ValueError), match="url"):
        WsConnection(bad)
    rest_args: dict[str, Any] = {"limiter": limiter}
    cases: list[tuple[str, Any]] = [("timeout", bad), ("jitter_ms", bad), ("limiter", bad)]
    if bad != 0:  # 0 ms of jitter and standard_account=0 are fine
        cases += [("jitter_ms", (bad, 5)), ("standard_account", "yes" if bad is True else bad)]
    for name, value in cases:
        with pytest.raises((TypeError, ValueError), match=name.split()[0]):
            RestClient("http://127.0.0.1:1", **{**rest_args, name: value})
    if bad != 0:
        with pytest.raises((TypeError, ValueError), match="max_retries"):
            RestClient("http://127.0.0.1:1", limiter=limiter, max_retries=bad)
    with pytest.raises((TypeError, ValueError), match="base_url"):
        RestClient(bad, limiter=limiter)
