"""Rate limits of the local node (protocol §4.9, §5.1), observed by plain aiohttp clients.

The window is rolled with a hand-driven clock (`RateLimits(clock=...)`) so "exhausted exactly
at the budget, recovers as the minute rolls" is checked at exact instants without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode, MarketSpec, RateLimits

TOO_MANY = {"code": 23000, "message": "Too Many Requests!"}


class Clock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def _session(source_ip: str = "127.0.0.1") -> aiohttp.ClientSession:
    """A plain HTTP/WS client whose sockets come from `source_ip` (any 127/8 address)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source_ip, 0), limit=0))


async def _get(http: aiohttp.ClientSession, node: LocalNode, path: str) -> tuple[int, Any]:
    async with http.get(node.base_url + "/api/v1/" + path) as r:
        return r.status, await r.json(content_type=None)


async def _send_tx(
    http: aiohttp.ClientSession, node: LocalNode, tx: dict[str, Any]
) -> tuple[int, Any]:
    data = {"tx_type": str(tx["tx_type"]), "tx_info": orjson.dumps(tx["tx_info"]).decode()}
    async with http.post(node.base_url + "/api/v1/sendTx", data=data) as r:
        return r.status, await r.json()


def _create(c: lighter.SignerClient, nonce: int, price: int = 290_000) -> dict[str, Any]:
    tt, info, _, err = c.sign_create_order(
        0, nonce + 1, 100, price, 0, 0, 1, nonce=nonce, api_key_index=4
    )
    assert err is None
    return {"tx_type": tt, "tx_info": orjson.loads(info)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def limited(clock: Clock) -> AsyncIterator[LocalNode]:
    """A node with standard-tier limits on, driven by `clock`."""
    async with LocalNode(exec_latency_ms=0, rate_limits=RateLimits("standard", clock=clock)) as n:
        yield n


@pytest.fixture
async def acct(limited: LocalNode) -> DevAccount:
    return await limited.create_account(collateral=100_000)


@pytest.fixture
async def signer(limited: LocalNode, acct: DevAccount) -> AsyncIterator[lighter.SignerClient]:
    c = lighter.SignerClient(
        url=limited.base_url,
        account_index=acct.account_index,
        api_private_keys={acct.api_key_index: acct.private_key},
    )
    yield c
    await c.close()


async def test_limits_are_off_by_default(node: LocalNode) -> None:
    assert node.rate_limits is None
    async with aiohttp.ClientSession() as http:
        for _ in range(70):
            assert (await _get(http, node, "orderBooks"))[0] == 200


async def test_standard_ip_budget_rolls(limited: LocalNode, clock: Clock) -> None:
    """60 requests per rolling minute per IP: 30 at t0 and 30 at t0+30 s."""
    async with _session() as http:
        for _ in range(30):
            assert (await _get(http, limited, "orderBooks"))[0] == 200
        clock.t += 30
        for _ in range(30):
            assert (await _get(http, limited, "orderBookDetails"))[0] == 200
        assert await _get(http, limited, "orderBooks") == (429, TOO_MANY)
        clock.t += 29.999  # t0 + 59.999: the first 30 still count
        assert await _get(http, limited, "currentHeight") == (429, TOO_MANY)
        clock.t += 0.001  # t0 + 60: they leave the window, 30 slots free
        for _ in range(30):
            assert (await _get(http, limited, "orderBooks"))[0] == 200
        assert (await _get(http, limited, "orderBooks"))[0] == 429
        clock.t += 30  # t0 + 90: the second 30 leave
        assert (await _get(http, limited, "orderBooks"))[0] == 200
        assert limited.rate_limits is not None and limited.rate_limits.refusals == {23000: 3}
        # Dev routes are not rate limited.
        async with http.post(limited.base_url + "/dev/v1/faults", json={"fault": "clear"}) as r:
            assert r.status == 200


async def test_standard_heavy_endpoint_costs_more(limited: LocalNode, clock: Clock) -> None:
    """recentTrades weighs 600: 24 000/600 = 40 < 60 per minute, i.e. 2 units of 60 (§5.1)."""
    assert p.standard_cost("recentTrades") == 2
    async with _session() as http:
        for _ in range(30):
            assert (await _get(http, limited, "recentTrades?market_id=0&limit=1"))[0] == 200
        assert await _get(http, limited, "recentTrades?market_id=0&limit=1") == (429, TOO_MANY)


async def test_per_l1_budget_spans_ips(limited: LocalNode, acct: DevAccount, clock: Clock) -> None:
    """An account's reads exhaust its L1 budget from any IP; other IPs and accounts are fine."""
    a = acct.account_index
    async with _session("127.0.0.2") as one, _session("127.0.0.3") as two:
        for _ in range(60):
            assert (await _get(one, limited, f"account?by=index&value={a}"))[0] == 200
        # Same account from another IP: its L1 bucket is empty.
        assert await _get(two, limited, f"nextNonce?account_index={a}&api_key_index=4") == (
            429,
            TOO_MANY,
        )
        # That IP itself still has room (no account named).
        assert (await _get(two, limited, "orderBooks"))[0] == 200
        clock.t += 60
        assert (await _get(two, limited, f"account?by=index&value={a}"))[0] == 200


async def test_standard_tx_shares_the_60_bucket_and_consumes_nothing(
    limited: LocalNode, acct: DevAccount, signer: lighter.SignerClient, clock: Clock
) -> None:
    a = acct.account_index
    lane = (a, 4)
    async with _session() as http:
        for _ in range(58):
            assert (await _get(http, limited, f"account?by=index&value={a}"))[0] == 200
        status, body = await _send_tx(http, limited, _create(signer, 0))
        assert status == 200 and body["code"] == 200
        # WS tx frames count against the same account budget (not the WS message limit).
        async with http.ws_connect(limited.ws_url) as ws:
            assert orjson.loads((await ws.receive()).data)["type"] == "connected"
            await ws.send_str(
                orjson.dumps(
                    {"type": "jsonapi/sendtx", "data": {"id": "w1", **_create(signer, 1)}}
                ).decode()
            )
            reply = orjson.loads((await ws.receive()).data)
            assert reply["id"] == "w1" and reply["code"] == 200
            await ws.send_str(
                orjson.dumps(
                    {"type": "jsonapi/sendtx", "data": {"id": "w2", **_create(signer, 2)}}
                ).decode()
            )
            refused = orjson.loads((await ws.receive()).data)
            assert refused == {"error": TOO_MANY, "id": "w2"}
            await ws.send_str('{"type":"ping"}')  # the message budget is untouched
            assert orjson.loads((await ws.receive()).data) == {"type": "pong"}
        assert await _send_tx(http, limited, _create(signer, 2)) == (429, TOO_MANY)
        assert limited.state.nonces[lane] == 2  # the refused txs consumed nothing
        clock.t += 60
        status, body = await _send_tx(http, limited, _create(signer, 2))
        assert status == 200 and limited.state.nonces[lane] == 3


async def test_premium_weights_and_separate_tx_bucket(clock: Clock) -> None:
    """Premium: 24 000 weight per minute with the endpoint weights; sendTx in its own bucket."""
    limits = RateLimits("premium", clock=clock, tx_budget=lambda _tier: 3)
    async with LocalNode(exec_latency_ms=0, rate_limits=limits) as node:
        acct = await node.create_account(collateral=100_000)
        a = acct.account_index
        c = lighter.SignerClient(
            url=node.base_url,
            account_index=a,
            api_private_keys={acct.api_key_index: acct.private_key},
        )
        try:
            async with _session() as http:
                # 79 x 300 (account) + 50 x 6 (nextNonce) = 24 000 exactly.
                for _ in range(79):
                    assert (await _get(http, node, f"account?by=index&value={a}"))[0] == 200
                for _ in range(50):
                    path = f"nextNonce?account_index={a}&api_key_index=4"
                    assert (await _get(http, node, path))[0] == 200
                assert await _get(http, node, f"nextNonce?account_index={a}&api_key_index=4") == (
                    429,
                    TOO_MANY,
                )
                assert await _get(http, node, "orderBooks") == (429, TOO_MANY)  # IP spent too
                # Txs: own per-L1 bucket (here 3 per minute), not touched by the reads.
                for n in range(3):
                    assert (await _send_tx(http, node, _create(c, n)))[0] == 200
                assert await _send_tx(http, node, _create(c, 3)) == (429, TOO_MANY)
                clock.t += 60
                assert (await _get(http, node, "orderBooks"))[0] == 200
                assert (await _send_tx(http, node, _create(c, 3)))[0] == 200
        finally:
            await c.close()


async def test_account_tier_override_and_account_limits(clock: Clock) -> None:
    async with LocalNode(exec_latency_ms=0, rate_limits=RateLimits(clock=clock)) as node:
        acct = await node.create_account(collateral=10)
        a = acct.account_index
        node.set_account_tier(a, "premium")
        c = lighter.SignerClient(
            url=node.base_url,
            account_index=a,
            api_private_keys={acct.api_key_index: acct.private_key},
        )
        try:
            token, _ = c.create_auth_token_with_expiry()
        finally:
            await c.close()
        async with _session() as http:
            status, body = await _get(http, node, f"accountLimits?account_index={a}&auth={token}")
        assert status == 200 and body["user_tier"] == "premium"
        with pytest.raises(ValueError, match="tier"):
            node.set_account_tier(a, "gold")


async def test_html_body_and_405_switches(clock: Clock) -> None:
    limits = RateLimits(clock=clock, http_status=405, body="html")
    async with LocalNode(exec_latency_ms=0, rate_limits=limits) as node, _session() as http:
        for _ in range(60):
            assert (await _get(http, node, "orderBooks"))[0] == 200
        async with http.get(node.base_url + "/api/v1/orderBooks") as r:
            assert r.status == 405 and r.content_type == "text/html"
            assert b"Too Many Requests" in await r.read()
    with pytest.raises(ValueError, match="http_status"):
        RateLimits(http_status=500)
    with pytest.raises(ValueError, match="tier"):
        RateLimits("gold")


async def test_ws_message_budget_excludes_tx_frames(limited: LocalNode, clock: Clock) -> None:
    """200 client messages per rolling minute per IP, then 30009; the frame is not handled."""
    async with _session() as http, http.ws_connect(limited.ws_url) as ws:
        await ws.receive()  # connected
        for _ in range(200):
            await ws.send_str('{"type":"ping"}')
        for _ in range(200):
            assert orjson.loads((await ws.receive()).data) == {"type": "pong"}
        await ws.send_str('{"type":"subscribe","channel":"trade/0"}')
        assert orjson.loads((await ws.receive()).data) == {
            "error": {"code": 30009, "message": "Too Many Websocket Messages!"}
        }
        # A tx frame is not a "message": it reaches the tx path (here: a parse error).
        await ws.send_str('{"type":"jsonapi/sendtx","data":{"id":"x","tx_type":14}}')
        assert orjson.loads((await ws.receive()).data)["error"]["code"] == 21501
        clock.t += 59.999  # the 200 pings still count
        await ws.send_str('{"type":"ping"}')
        assert orjson.loads((await ws.receive()).data)["error"]["code"] == 30009
        clock.t += 0.001
        await ws.send_str('{"type":"subscribe","channel":"trade/0"}')
        assert orjson.loads((await ws.receive()).data)["type"] == "subscribed/trade"


async def test_ws_inflight_limit(clock: Clock) -> None:
    """50 subscribe requests whose replies are not written yet: the 51st gets 30010."""
    markets = tuple(MarketSpec(i, f"M{i}", 2, 2, "0.01", "10") for i in range(17))
    limited = LocalNode(exec_latency_ms=0, markets=markets, rate_limits=RateLimits(clock=clock))
    channels = [f"{fam}/{m}" for m in range(17) for fam in ("order_book", "trade", "ticker")]
    await limited.start()
    async with _session() as http, http.ws_connect(limited.ws_url) as ws:
        await ws.receive()  # connected
        await asyncio.sleep(0.05)
        limited.faults.stall(True)  # replies stay queued: requests remain inflight
        for ch in channels[:51]:
            await ws.send_str(orjson.dumps({"type": "subscribe", "channel": ch}).decode())
        await ws.send_str('{"type":"ping"}')
        for _ in range(100):
            await asyncio.sleep(0.01)
            if any(s.inflight() == 50 for s in limited.hub.sessions) and any(
                s.queued >= 53 for s in limited.hub.sessions
            ):
                break
        limited.faults.stall(False)
        frames = [orjson.loads((await ws.receive()).data) for _ in range(52)]
    acks = [f for f in frames if str(f.get("type", "")).startswith("subscribed/")]
    errors = [f for f in frames if "error" in f]
    assert len(acks) == 50
    assert errors == [{"error": {"code": 30010, "message": "Too Many Inflight Messages!"}}]
    assert frames[-1] == {"type": "pong"}  # pings are not inflight requests
    await limited.stop()


async def test_ws_subscription_and_connection_caps(clock: Clock) -> None:
    limits = RateLimits(
        clock=clock, ws_max_subscriptions=2, ws_max_connections=3, ws_new_connections_per_minute=4
    )
    async with LocalNode(exec_latency_ms=0, rate_limits=limits) as node, _session() as http:
        ws1 = await http.ws_connect(node.ws_url)
        await ws1.receive()
        for ch in ("trade/0", "trade/1", "trade/2"):
            await ws1.send_str(orjson.dumps({"type": "subscribe", "channel": ch}).decode())
        got = [orjson.loads((await ws1.receive()).data) for _ in range(3)]
        assert [f.get("type") for f in got[:2]] == ["subscribed/trade"] * 2
        assert got[2] == {"error": {"code": 23001, "message": "Too Many Subscriptions!"}}
        ws2 = await http.ws_connect(node.ws_url)
        ws3 = await http.ws_connect(node.ws_url)
        for w in (ws2, ws3):
            assert orjson.loads((await w.receive()).data)["type"] == "connected"
        ws4 = await http.ws_connect(node.ws_url)  # 4th open socket from this IP
        assert orjson.loads((await ws4.receive()).data) == {
            "error": {"code": 23003, "message": "Too Many Connections!"}
        }
        assert (await ws4.receive()).type == aiohttp.WSMsgType.CLOSE and ws4.close_code == 1008
        await ws3.close()
        await asyncio.sleep(0.05)
        ws5 = await http.ws_connect(node.ws_url)  # 4th new socket this minute (refusals free)
        assert orjson.loads((await ws5.receive()).data)["type"] == "connected"
        await ws5.close()
        await asyncio.sleep(0.05)
        ws6 = await http.ws_connect(node.ws_url)  # 5th this minute: over 4 per minute
        assert orjson.loads((await ws6.receive()).data)["error"]["code"] == 23003
        await ws6.close()
        clock.t += 60
        ws7 = await http.ws_connect(node.ws_url)
        assert orjson.loads((await ws7.receive()).data)["type"] == "connected"
        for w in (ws1, ws2, ws7):
            await w.close()


async def test_documented_ws_connection_cap(clock: Clock) -> None:
    """The documented 200 sockets per IP (new-connection rate lifted for the test)."""
    limits = RateLimits(clock=clock, ws_new_connections_per_minute=None)
    async with LocalNode(exec_latency_ms=0, rate_limits=limits) as node, _session() as http:
        socks = [await http.ws_connect(node.ws_url) for _ in range(p.WS_MAX_CONNECTIONS)]
        extra = await http.ws_connect(node.ws_url)
        assert orjson.loads((await extra.receive()).data)["error"]["code"] == 23003
        assert orjson.loads((await socks[-1].receive()).data)["type"] == "connected"
        await asyncio.gather(*(s.close() for s in socks), extra.close())


async def test_dev_route_switches_limits(node: LocalNode) -> None:
    async with _session() as http:
        url = node.base_url + "/dev/v1/rate_limits"
        async with http.post(url, json={"tier": "standard"}) as r:
            assert await r.json() == {"code": 200, "enabled": True, "tier": "standard"}
        for _ in range(60):
            assert (await _get(http, node, "orderBooks"))[0] == 200
        assert (await _get(http, node, "orderBooks"))[0] == 429
        async with http.post(url, json={"reset": True, "volume_quota": True}) as r:
            assert r.status == 200
        assert node.rate_limits is not None and node.rate_limits.volume_quota
        assert (await _get(http, node, "orderBooks"))[0] == 200
        async with http.post(url, json={"tier": None}) as r:
            assert (await r.json())["enabled"] is False
        async with http.post(url, json={"tier": "gold"}) as r:
            assert r.status == 400 and (await r.json())["code"] == 20001
        async with http.post(url, json={"volume_quota": True}) as r:
            assert r.status == 400 and "off" in (await r.json())["message"]
        for _ in range(70):
            assert (await _get(http, node, "orderBooks"))[0] == 200


async def test_premium_volume_quota(clock: Clock) -> None:
    """§5.2: premium orders spend quota (cancels do not), one free tx per 15 s, trading earns
    +1 per $3, and an exhausted quota refuses with nothing consumed."""
    assert RateLimits("premium").volume_quota is False  # opt-in
    limits = RateLimits("premium", clock=clock, volume_quota=True)
    async with LocalNode(exec_latency_ms=0, rate_limits=limits) as node, _session() as http:
        acct = await node.create_account(collateral=1_000_000)
        a = acct.account_index
        lane = (a, 4)
        c = lighter.SignerClient(
            url=node.base_url,
            account_index=a,
            api_private_keys={acct.api_key_index: acct.private_key},
        )
        try:
            status, body = await _send_tx(http, node, _create(c, 0))
            assert status == 200 and body["message"] == '{"ratelimit": "didn\'t use volume quota"}'
            assert "volume_quota_remaining" not in body
            status, body = await _send_tx(http, node, _create(c, 1, 289_000))
            assert body["volume_quota_remaining"] == 999
            assert body["message"] == '{"ratelimit": "999 volume quota remaining."}'
            tt, info, _, err = c.sign_cancel_order(0, 1, nonce=2, api_key_index=4)
            assert err is None
            status, body = await _send_tx(
                http, node, {"tx_type": tt, "tx_info": orjson.loads(info)}
            )
            assert body["volume_quota_remaining"] == 999  # a cancel spends nothing
            clock.t += 15  # the next single order is free again
            status, body = await _send_tx(http, node, _create(c, 3, 288_000))
            assert "volume_quota_remaining" not in body
            # Spend the rest, then one more is refused and consumes no nonce.
            assert limits.quota_remaining(node.accounts.get(a).l1_address, 0) == 999
            limits.quota_used[node.accounts.get(a).l1_address.lower()] = 1_000
            assert await _send_tx(http, node, _create(c, 4, 287_000)) == (
                429,
                {"code": 23000, "message": "Not enough volume quota remaining"},
            )
            assert node.state.nonces[lane] == 4
            # Trading $3 000 earns 1 000 units.
            node.accounts.get(a).volume_quote += 3_000 * 10**6
            status, body = await _send_tx(http, node, _create(c, 4, 287_000))
            assert (status, body["volume_quota_remaining"]) == (200, 999)
        finally:
            await c.close()
