"""WsInfo against the local node over real loopback sockets, with the real signer library."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from lighterfast import protocol as P
from lighterfast.signing import SdkSigner, SignedTx
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.wire import sendtx_batch_form
from lighterfast.ws import WsInfo

ETH = 0  # price 2 / size 4 decimals


class Trader:
    """Signs with the real signer and sends batches over REST (independent of the WS)."""

    def __init__(self, node: LocalNode, account: DevAccount) -> None:
        self.node = node
        self.account = account
        self.signer = SdkSigner(
            account.account_index,
            {account.api_key_index: account.private_key},
            base_url=node.base_url,
        )
        self.nonce: int | None = None
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()
        self.signer.close()

    async def _next_nonce(self) -> int:
        if self.nonce is None:
            params = {
                "account_index": self.account.account_index,
                "api_key_index": self.account.api_key_index,
            }
            async with self.session.get(
                self.node.base_url + "/api/v1/nextNonce", params=params
            ) as resp:
                self.nonce = int((await resp.json())["nonce"])
        nonce = self.nonce
        self.nonce += 1
        return nonce

    async def send(self, txs: list[SignedTx]) -> dict[str, Any]:
        form = sendtx_batch_form([t.tx_type for t in txs], [t.tx_info for t in txs])
        async with self.session.post(self.node.base_url + "/api/v1/sendTxBatch", data=form) as r:
            body = await r.json()
        assert body["code"] == 200, body
        return body  # type: ignore[no-any-return]

    async def limit(
        self, coi: int, price: int, size: int, *, ask: bool, tif: int = P.TIF_GTT
    ) -> SignedTx:
        return await self.signer.asign_create_order(
            market_index=ETH,
            client_order_index=coi,
            base_amount=size,
            price=price,
            is_ask=ask,
            order_type=P.ORDER_TYPE_LIMIT,
            time_in_force=tif,
            order_expiry=-1 if tif != P.TIF_IOC else 0,
            nonce=await self._next_nonce(),
            api_key_index=self.account.api_key_index,
        )

    async def cancel(self, coi: int) -> SignedTx:
        return await self.signer.asign_cancel_order(
            market_index=ETH,
            order_index=coi,
            nonce=await self._next_nonce(),
            api_key_index=self.account.api_key_index,
        )


@pytest.fixture
async def maker(node: LocalNode) -> AsyncIterator[Trader]:
    trader = Trader(node, await node.create_account(collateral=100_000))
    yield trader
    await trader.close()


@pytest.fixture
async def taker(node: LocalNode) -> AsyncIterator[Trader]:
    trader = Trader(node, await node.create_account(collateral=100_000))
    yield trader
    await trader.close()


async def overlay(node: LocalNode, trader: Trader, **opts: Any) -> WsInfo:
    acct = trader.account
    return await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        market_id=ETH,
        base_url=node.base_url,
        **opts,
    )


async def until(predicate: Any, timeout: float = 3.0) -> None:
    """Wait for a condition driven by frames (bounded; fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def node_live_cois(node: LocalNode, account_index: int) -> dict[int, dict[str, Any]]:
    return {
        o["client_order_index"]: o
        for o in node.state.orders.values()
        if o["owner_account_index"] == account_index and o["client_order_index"]
    }


def ws_live_cois(ws: WsInfo) -> dict[int, dict[str, Any]]:
    return {o["client_order_index"]: o for o in ws.coi_cache.values()}


def book_ints(ws: WsInfo) -> dict[str, list[tuple[int, int]]]:
    book = ws.get_order_book(ETH)
    assert book is not None
    return {"bids": book.bids_int(1000), "asks": book.asks_int(1000)}


def node_book(node: LocalNode) -> dict[str, list[tuple[int, int]]]:
    b = node.state.books[ETH]
    return {
        "bids": sorted(((p, s) for p, s in b["bids"]), reverse=True),
        "asks": sorted((p, s) for p, s in b["asks"]),
    }


# --- happy paths ----------------------------------------------------------------------------
async def test_public_trades_give_ltp_and_recent_trades(
    node: LocalNode, maker: Trader, taker: Trader
) -> None:
    pub = await WsInfo.run_public_trades_simple(symbol="ETH", base_url=node.base_url)
    mine = await overlay(node, taker, public_trades=False)
    try:
        assert pub.get_ltp() is None
        await maker.send([await maker.limit(11, 300_050, 200, ask=True)])
        await taker.send([await taker.limit(21, 300_100, 100, ask=False, tif=P.TIF_IOC)])
        await until(lambda: pub.get_ltp() is not None)
        assert pub.get_ltp() == 3000.50
        recent = pub.get_recent_trades(5, public=True)
        assert len(recent) == 1 and recent[0]["price"] == "3000.50"
        await taker.send([await taker.limit(22, 300_100, 100, ask=False, tif=P.TIF_IOC)])
        await until(lambda: len(pub.get_recent_trades(5, public=True)) == 2)
        # own fills on the account tape, newest first
        await until(lambda: len(mine.get_recent_trades(5)) == 2)
        own = mine.get_recent_trades(5)
        assert own[0]["trade_id"] > own[1]["trade_id"]
        assert {t["bid_client_id"] for t in own} == {21, 22}
        assert pub.get_recent_trades(5) == []  # public-only WsInfo has no own fills
    finally:
        await pub.aclose()
        await mine.aclose()


async def test_orders_enter_cache_and_vanish_when_filled_or_canceled(
    node: LocalNode, maker: Trader, taker: Trader
) -> None:
    ws = await overlay(node, maker)
    try:
        await maker.send(
            [
                await maker.limit(101, 300_500, 100, ask=True),
                await maker.limit(102, 301_000, 100, ask=True),
            ]
        )
        first = await ws.wait_order_by_coi(101, timeout=2.0)
        assert first is not None and first["status"] == "open"
        await until(lambda: ws.get_order_by_coi(102) is not None)
        assert ws_live_cois(ws).keys() == node_live_cois(node, maker.account.account_index).keys()
        # fill 101 with the taker, cancel 102 by COI
        await taker.send([await taker.limit(201, 300_500, 100, ask=False, tif=P.TIF_IOC)])
        await maker.send([await maker.cancel(102)])
        await until(lambda: ws.get_order_by_coi(101) is None and ws.get_order_by_coi(102) is None)
        assert len(ws.coi_cache) == 0 == len(node_live_cois(node, maker.account.account_index))
        finished = await ws.wait_order_by_coi(102, timeout=0.1)
        assert finished is not None and finished["status"].startswith("canceled")
    finally:
        await ws.aclose()


async def test_wait_order_by_coi_resolves_on_arrival_and_times_out(
    node: LocalNode, maker: Trader
) -> None:
    ws = await overlay(node, maker)
    try:
        waiter = asyncio.ensure_future(ws.wait_order_by_coi(301, timeout=3.0))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await maker.send([await maker.limit(301, 299_000, 100, ask=False)])
        got = await waiter
        assert got is not None and got["client_order_index"] == 301
        t0 = time.monotonic()
        assert await ws.wait_order_by_coi(999_999, timeout=0.2) is None
        assert 0.15 < time.monotonic() - t0 < 1.5
    finally:
        await ws.aclose()


async def test_hooks_sync_async_and_raising(node: LocalNode, maker: Trader, taker: Trader) -> None:
    ws = await overlay(node, maker)
    got_orders: list[list[dict[str, Any]]] = []
    got_trades: list[list[dict[str, Any]]] = []
    raised = {"n": 0}

    def on_orders(orders: list[dict[str, Any]]) -> None:
        got_orders.append(orders)

    async def on_trades(trades: list[dict[str, Any]]) -> None:
        await asyncio.sleep(0)
        got_trades.append(trades)

    async def on_public(trades: list[dict[str, Any]]) -> None:
        raised["n"] += 1
        raise RuntimeError("strategy bug")

    ws.on_orders = on_orders
    ws.on_trades = on_trades
    ws.on_public_trades = on_public
    try:
        await maker.send([await maker.limit(401, 300_200, 100, ask=True)])
        await taker.send([await taker.limit(501, 300_200, 100, ask=False, tif=P.TIF_IOC)])
        await until(lambda: got_trades and raised["n"] >= 1)
        # the stream goes on after the raising hook
        await maker.send([await maker.limit(402, 300_300, 100, ask=True)])
        assert await ws.wait_order_by_coi(402, timeout=2.0) is not None
        statuses = [
            o["status"] for batch in got_orders for o in batch if o["client_order_index"] == 401
        ]
        assert statuses[0] == "open" and statuses[-1] == "filled"
        assert got_trades[0][0]["ask_client_id"] == 401
        assert ws.stats.hook_errors >= 1
    finally:
        await ws.aclose()


async def test_order_book_follows_the_node(node: LocalNode, maker: Trader) -> None:
    ws = await overlay(node, maker, order_book=True)
    try:
        book = ws.get_order_book()
        assert book is not None
        await maker.send(
            [
                await maker.limit(601, 299_000, 150, ask=False),
                await maker.limit(602, 301_000, 250, ask=True),
            ]
        )
        await until(lambda: book.best_ask() is not None and book.best_bid() is not None)
        assert book.best_bid() == (2990.0, 0.015) and book.best_ask() == (3010.0, 0.025)
        await maker.send([await maker.cancel(601)])
        await until(lambda: book.best_bid() is None)
        assert book_ints(ws) == node_book(node)
    finally:
        await ws.aclose()


async def test_tx_replies_route_by_id(node: LocalNode, maker: Trader) -> None:
    ws = await overlay(node, maker)
    try:
        ok_tx = await maker.limit(701, 299_000, 100, ask=False)
        reply = await ws.send_tx_batch([ok_tx.tx_type], [ok_tx.tx_info])
        assert reply.ok and isinstance(reply.tx_hash, list) and len(reply.tx_hash) == 1
        # replaying the same nonce is refused: an error frame with our id
        again = await ws.send_tx(ok_tx.tx_type, ok_tx.tx_info)
        assert not again.ok and again.code == P.ERR_INVALID_NONCE
        assert ws.connection is not None and ws.connection.pending_replies == 0
    finally:
        await ws.aclose()


# --- faults ---------------------------------------------------------------------------------
async def test_socket_closed_reconnects_resubscribes_and_resyncs(
    node: LocalNode, maker: Trader
) -> None:
    ws = await overlay(node, maker, order_book=True, connection_options={"backoff_initial": 0.3})
    try:
        await maker.send(
            [
                await maker.limit(801, 299_000, 100, ask=False),
                await maker.limit(802, 298_000, 100, ask=False),
            ]
        )
        await until(lambda: len(ws.coi_cache) == 2)
        conn = ws.connection
        assert conn is not None
        # frames stop reaching us; meanwhile one order is canceled and another placed (REST)
        node.faults.stall(True)
        await maker.send([await maker.cancel(801), await maker.limit(803, 297_000, 100, ask=False)])
        await until(lambda: set(node_live_cois(node, maker.account.account_index)) == {802, 803})
        assert set(ws_live_cois(ws)) == {801, 802}  # we missed both changes
        await node.faults.close_all(1011)  # the stuck frames die with the socket
        await until(lambda: ws.connected and conn.stats.connects == 2, timeout=5.0)
        await until(lambda: set(ws_live_cois(ws)) == {802, 803})
        assert ws_live_cois(ws).keys() == node_live_cois(node, maker.account.account_index).keys()
        assert ws.stats.rest_resyncs == 1 and ws.stats.reconnects == 1
        await until(lambda: not ws.get_order_book().is_stale)  # type: ignore[union-attr]
        await until(lambda: book_ints(ws) == node_book(node))
        # and the resubscribed streams are live
        await maker.send([await maker.limit(804, 296_000, 100, ask=False)])
        assert await ws.wait_order_by_coi(804, timeout=2.0) is not None
    finally:
        await ws.aclose()


async def test_dropped_book_delta_is_detected_and_resynced(node: LocalNode, maker: Trader) -> None:
    ws = await overlay(node, maker, order_book=True, public_trades=False)
    try:
        book = ws.get_order_book()
        assert book is not None
        await until(lambda: not book.is_stale)
        await maker.send([await maker.limit(901, 299_000, 100, ask=False)])
        await until(lambda: book.best_bid() is not None)
        node.faults.drop_next_book_delta(ETH)
        await maker.send([await maker.limit(902, 298_000, 100, ask=False)])  # this delta is lost
        await asyncio.sleep(0.12)  # past one book tick
        await maker.send([await maker.limit(903, 297_000, 100, ask=False)])
        await until(lambda: ws.stats.book_gaps == 1)
        await until(lambda: not book.is_stale and len(book.bids_int(10)) == 3)
        assert ws.stats.book_resyncs == 1
        assert book_ints(ws) == node_book(node)
        assert ws.connection is not None and ws.connection.stats.connects == 1  # no reconnect
    finally:
        await ws.aclose()


async def test_duplicated_book_delta_is_not_a_gap(node: LocalNode, maker: Trader) -> None:
    ws = await overlay(node, maker, order_book=True, public_trades=False)
    try:
        book = ws.get_order_book()
        assert book is not None
        await until(lambda: not book.is_stale)
        node.faults.duplicate_next_book_delta(ETH)
        await maker.send([await maker.limit(951, 299_000, 100, ask=False)])
        await until(lambda: book.best_bid() is not None)
        await until(lambda: ws.stats.book_duplicates == 1)  # the repeat arrived and was skipped
        assert ws.stats.book_gaps == 0 and not book.is_stale
        assert book_ints(ws) == node_book(node)
    finally:
        await ws.aclose()


async def test_server_shutdown_notice_reconnects_proactively(
    node: LocalNode, maker: Trader
) -> None:
    ws = await overlay(node, maker)
    try:
        conn = ws.connection
        assert conn is not None
        shutdown = asyncio.ensure_future(node.faults.send_shutdown(close_in_ms=1500))
        # proactive: a new socket is up before the server's announced close
        await until(lambda: conn.stats.shutdowns == 1 and conn.stats.connects == 2, timeout=1.2)
        assert not shutdown.done()
        await shutdown  # the node then closes every socket it has, the new one included
        await until(lambda: ws.connected)
        await maker.send([await maker.limit(1001, 299_000, 100, ask=False)])
        assert await ws.wait_order_by_coi(1001, timeout=2.0) is not None
    finally:
        await ws.aclose()


async def test_token_refresh_reauthenticates_and_readers_never_see_expired_tokens(
    node: LocalNode, maker: Trader
) -> None:
    ws = await overlay(node, maker, token_lifetime=3.5, token_refresh_margin=1.0)
    provider = ws._token_provider
    seen: list[tuple[float, str]] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            token = await provider.get()
            seen.append((time.time(), token))
            await asyncio.sleep(0.01)

    readers = [asyncio.ensure_future(reader()) for _ in range(8)]
    try:
        start_version = provider.version
        await until(lambda: provider.version >= start_version + 1, timeout=5.0)
        await asyncio.sleep(0.5)  # let the re-subscribe round trip happen
        stop.set()
        await asyncio.gather(*readers)
        assert seen
        for when, token in seen:
            deadline = int(token.split(":", 1)[0])
            assert deadline > when, "a reader got an expired token"
        # the private channels were re-subscribed with fresh tokens, none refused
        assert ws.stats.reauths >= 1 and ws.stats.error_frames == 0
        await maker.send([await maker.limit(1101, 299_000, 100, ask=False)])
        assert await ws.wait_order_by_coi(1101, timeout=2.0) is not None
    finally:
        stop.set()
        for r in readers:
            r.cancel()
        await ws.aclose()


async def test_dead_connection_is_detected_and_replaced(node: LocalNode, maker: Trader) -> None:
    ws = await overlay(
        node, maker, ping_interval=0.1, connection_options={"dead_after": 3.0}, public_trades=False
    )
    try:
        conn = ws.connection
        assert conn is not None
        node.faults.stall(True)  # the old socket stays open but nothing comes through
        await until(lambda: conn.stats.dead_detected >= 1, timeout=3.0)
        await until(lambda: ws.connected and conn.stats.connects >= 2, timeout=3.0)
        await maker.send([await maker.limit(1201, 299_000, 100, ask=False)])
        assert await ws.wait_order_by_coi(1201, timeout=2.0) is not None
    finally:
        await ws.aclose()


async def test_server_pings_are_answered() -> None:
    async with LocalNode(exec_latency_ms=0, ws_ping_interval=0.1, ws_pong_timeout=2.0) as node:
        pub = await WsInfo.run_public_trades_simple(market_id=ETH, base_url=node.base_url)
        try:
            conn = pub.connection
            assert conn is not None
            await until(lambda: conn.stats.pings_answered >= 3, timeout=5.0)
            assert conn.stats.connects == 1 and pub.connected
        finally:
            await pub.aclose()


def _node_side(task: asyncio.Task[Any]) -> bool:
    """Tasks of the node's aiohttp server (its side of the closed socket winds down on its own)."""
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code is not None else ""
    return "aiohttp" in filename or "testnode" in filename


async def test_aclose_is_idempotent_and_leaves_no_tasks(node: LocalNode, maker: Trader) -> None:
    before = asyncio.all_tasks()
    ws = await overlay(node, maker, order_book=True)

    async def hook(orders: list[dict[str, Any]]) -> None:
        await asyncio.sleep(0)

    ws.on_orders = hook
    await maker.send([await maker.limit(1301, 299_000, 100, ask=False)])
    assert await ws.wait_order_by_coi(1301, timeout=2.0) is not None
    await ws.aclose()
    await ws.aclose()
    await asyncio.sleep(0.05)
    leaked = {t for t in asyncio.all_tasks() - before if not t.done() and not _node_side(t)}
    assert not leaked, leaked
    assert not ws.connected
    async with await overlay(node, maker) as ws2:
        assert ws2.connected
    assert not ws2.connected


async def test_run_overlay_from_config_env_beats_file_and_overrides_pass_through(
    node: LocalNode,
    maker: Trader,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    acct = maker.account
    cfg = tmp_path / "config.json"
    cfg.write_text(
        "{\n  // jsonc as in the seed README\n"
        '  "Lighter": {"base_url": "http://127.0.0.1:9", '
        f'"account_index": {acct.account_index}, '
        f'"api_keys": [{{"api_key_index": {acct.api_key_index}, '
        f'"api_key_private_key": "{acct.private_key}"}}]}}\n}}\n'
    )
    monkeypatch.setenv("LIGHTER_BASE_URL", node.base_url)  # env beats the file's dead URL
    for name in ("LIGHTER_ACCOUNT_INDEX", "LIGHTER_API_KEY", "LIGHTER_API_KEY_INDEX"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level("DEBUG"):
        ws = await WsInfo.run_overlay_from_config(
            str(cfg), overrides={"symbol": "ETH", "order_book": True}
        )
        try:
            assert ws.account_index == acct.account_index and ws.market_id == ETH
            assert ws.get_order_book(ETH) is not None
            await maker.send([await maker.limit(1401, 299_000, 100, ask=False)])
            assert await ws.wait_order_by_coi(1401, timeout=2.0) is not None
            token = await ws._token_provider.get()
            text = repr(ws) + repr(ws.connection) + repr(ws.stats)
        finally:
            await ws.aclose()
    # no secret in reprs or logs
    assert acct.private_key not in text and token not in text
    assert acct.private_key not in caplog.text and token.split(":")[-1] not in caplog.text


async def test_one_live_socket_after_reconnects(node: LocalNode, maker: Trader) -> None:
    ws = await overlay(node, maker, connection_options={"backoff_initial": 0.05})
    try:
        for n in range(3):
            await node.faults.close_all(1001)
            await until(lambda n=n: ws.connected and ws.connection.stats.connects == n + 2)  # type: ignore[union-attr]
        await until(lambda: len([s for s in node.hub.sessions if not s.closed]) == 1)
        await maker.send([await maker.limit(1501, 299_000, 100, ask=False)])
        assert await ws.wait_order_by_coi(1501, timeout=2.0) is not None
    finally:
        await ws.aclose()


async def test_a_recorded_session_replays_to_the_same_state(
    node: LocalNode, maker: Trader, taker: Trader
) -> None:
    ws = await overlay(node, maker, order_book=True)
    recorded: list[bytes] = []
    conn = ws.connection
    assert conn is not None
    live_feed = conn.on_frame

    def record(payload: bytes) -> None:
        recorded.append(payload)
        live_feed(payload)

    conn.on_frame = record
    try:
        conn.reconnect("start recording with fresh snapshots")
        await until(lambda: conn.stats.connects == 2 and ws.connected)
        await maker.send(
            [
                await maker.limit(1601, 300_500, 300, ask=True),
                await maker.limit(1602, 299_500, 300, ask=False),
                await maker.limit(1603, 301_000, 100, ask=True),
            ]
        )
        await taker.send([await taker.limit(1701, 300_500, 100, ask=False, tif=P.TIF_IOC)])
        await maker.send([await maker.cancel(1603)])
        await until(lambda: ws.get_order_by_coi(1603) is None and ws.get_ltp() is not None)
        await asyncio.sleep(0.15)  # the last book tick
        conn.on_frame = live_feed  # stop recording: the live state below is what was recorded
        live = (
            ws_live_cois(ws),
            book_ints(ws),
            ws.get_ltp(),
            ws.get_recent_trades(10),
            ws.get_recent_trades(10, public=True),
        )
    finally:
        await ws.aclose()
    replayed = WsInfo.replay(market_id=ETH)
    for payload in recorded:
        replayed.feed_raw(payload)
    assert replayed.stats.malformed == 0 and replayed.stats.book_gaps == 0
    assert ws_live_cois(replayed) == live[0]
    assert book_ints(replayed) == live[1] == node_book(node)
    assert replayed.get_ltp() == live[2] == 3005.0
    assert replayed.get_recent_trades(10) == live[3]
    assert replayed.get_recent_trades(10, public=True) == live[4]


async def test_keepalive_beats_the_idle_rule() -> None:
    async with LocalNode(exec_latency_ms=0, ws_idle_timeout=1.0) as node:
        pub = await WsInfo.run_public_trades_simple(
            market_id=ETH, base_url=node.base_url, ping_interval=0.1
        )
        try:
            conn = pub.connection
            assert conn is not None
            # 22 pings 0.1 s apart: more than twice the node's idle limit has passed
            await until(lambda: conn.stats.pings_sent >= 22, timeout=10.0)
            assert conn.stats.connects == 1 and pub.connected
        finally:
            await pub.aclose()


def test_a_session_under_uvloop() -> None:
    """The same client on uvloop (what `lighterfast.ws.run` picks when installed)."""
    import uvloop

    from lighterfast.ws import run

    async def session() -> tuple[str, float | None, int]:
        async with LocalNode(exec_latency_ms=0) as node:
            trader_a = Trader(node, await node.create_account(collateral=100_000))
            trader_b = Trader(node, await node.create_account(collateral=100_000))
            try:
                ws = await overlay(node, trader_a, order_book=True)
                async with ws:
                    await trader_a.send([await trader_a.limit(1801, 300_000, 200, ask=True)])
                    assert await ws.wait_order_by_coi(1801, timeout=2.0) is not None
                    await trader_b.send(
                        [await trader_b.limit(1901, 300_000, 100, ask=False, tif=P.TIF_IOC)]
                    )
                    await until(lambda: ws.get_ltp() is not None)
                    loop_name = type(asyncio.get_running_loop()).__module__
                    return loop_name, ws.get_ltp(), len(ws.get_recent_trades())
            finally:
                await trader_a.close()
                await trader_b.close()

    loop_module, ltp, fills = run(session())
    assert loop_module.startswith("uvloop") and uvloop is not None
    assert ltp == 3000.0 and fills == 1


async def test_symbol_resolution_asks_the_node_for_unlisted_markets() -> None:
    from lighterfast import markets
    from lighterfast.errors import MarketNotFound
    from lighterfast.testnode import DEFAULT_MARKETS, MarketSpec

    doge = MarketSpec(7, "DOGE", 0, 5, "10", "10.000000", start_price="0.15000")
    markets.clear_cache()
    async with LocalNode(exec_latency_ms=0, markets=(*DEFAULT_MARKETS, doge)) as node:
        before = asyncio.all_tasks()
        with pytest.raises(MarketNotFound, match="PEPE"):
            await WsInfo.run_public_trades_simple(symbol="PEPE", base_url=node.base_url)
        ws = await WsInfo.run_public_trades_simple(
            symbol="DOGE", base_url=node.base_url, order_book=True
        )
        try:
            assert ws.market_id == 7
            book = ws.get_order_book()
            assert book is not None and (book.price_decimals, book.size_decimals) == (5, 0)
            await until(lambda: not book.is_stale)
        finally:
            await ws.aclose()
        await asyncio.sleep(0.05)
        assert {
            t for t in asyncio.all_tasks() - before if not t.done() and not _node_side(t)
        } == set()
    markets.clear_cache()


async def test_refused_private_subscriptions_are_reported(
    node: LocalNode, maker: Trader, taker: Trader, caplog: pytest.LogCaptureFixture
) -> None:
    """A token of another account: the node refuses (20013, no channel in the frame); WsInfo
    notices the missing snapshots, says which channels, and keeps the public stream."""
    from lighterfast.signing import AuthTokenProvider

    wrong = AuthTokenProvider(taker.signer, taker.account.api_key_index)
    ws = WsInfo(
        base_url=node.base_url,
        account_index=maker.account.account_index,
        market_id=ETH,
        public_trades=True,
        token_provider=wrong,
        subscribe_timeout=0.5,
    )
    try:
        with caplog.at_level("WARNING", logger="lighterfast.ws"):
            await ws.start(timeout=5.0)
        # orders, own trades, positions, assets (user_stats is public on the node: accepted)
        assert ws.connected and ws.stats.error_frames == 4
        assert f"account_all_orders/{maker.account.account_index}" in caplog.text
        assert "20013" in caplog.text
        await maker.send([await maker.limit(2001, 300_000, 100, ask=True)])
        await taker.send([await taker.limit(2101, 300_000, 100, ask=False, tif=P.TIF_IOC)])
        await until(lambda: ws.get_ltp() == 3000.0)
    finally:
        await ws.aclose()
        await wrong.aclose()


async def test_overlay_with_a_shared_signer_and_bad_options_leak_nothing(
    node: LocalNode, maker: Trader
) -> None:
    import threading

    acct = maker.account
    threads = threading.active_count()
    with pytest.raises(ValueError, match="coi_cache_size"):
        await WsInfo.run_overlay(
            acct.account_index,
            acct.api_key_index,
            acct.private_key,
            market_id=ETH,
            base_url=node.base_url,
            coi_cache_size=0,
        )
    await asyncio.sleep(0.1)
    assert threading.active_count() <= threads  # the signer made for it was closed
    # a caller's signer is used, not closed
    ws = await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        "",
        market_id=ETH,
        base_url=node.base_url,
        signer=maker.signer,
    )
    try:
        await maker.send([await maker.limit(2201, 299_000, 100, ask=False)])
        assert await ws.wait_order_by_coi(2201, timeout=2.0) is not None
    finally:
        await ws.aclose()
    assert await maker.signer.acreate_auth_token(int(time.time()) + 600, acct.api_key_index)
