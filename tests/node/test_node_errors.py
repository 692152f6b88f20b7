"""Error paths of the local node: documented codes, messages, HTTP statuses, nothing consumed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import lighter
import orjson
import pytest

from _helpers import resign
from lighterfast import protocol as p
from lighterfast.testnode import EXPIRED_TX_CODE, DevAccount, LocalNode, TxError


class Tx:
    """Signs txs for one dev account with the SDK's signer (explicit nonces)."""

    def __init__(self, node: LocalNode, acct: DevAccount, account_index: int | None = None) -> None:
        self.acct = acct
        self.client = lighter.SignerClient(
            url=node.base_url,
            account_index=acct.account_index if account_index is None else account_index,
            api_private_keys={acct.api_key_index: acct.private_key},
        )
        self.key = acct.api_key_index
        self.chain_id = node.chain_id

    def edit(self, info: str, **fields: Any) -> str:
        """A signed tx_info with `fields` changed and signed again (the node verifies)."""
        obj = orjson.loads(info)
        obj.update(fields)
        return resign(obj, self.acct.private_key, self.chain_id, p.TX_TYPE_CREATE_ORDER)

    def create(self, nonce: int, coi: int = 1, **kw: Any) -> tuple[int, str]:
        args: dict[str, Any] = {
            "market_index": 0,
            "client_order_index": coi,
            "base_amount": 100,
            "price": 300_000,
            "is_ask": False,
            "order_type": 0,
            "time_in_force": 1,
        }
        args.update(kw)
        tx_type, info, _h, err = self.client.sign_create_order(
            **args, nonce=nonce, api_key_index=self.key
        )
        assert err is None, err
        return tx_type, info

    def cancel(self, nonce: int, index: int, market: int = 0) -> tuple[int, str]:
        tx_type, info, _h, err = self.client.sign_cancel_order(
            market, index, nonce=nonce, api_key_index=self.key
        )
        assert err is None, err
        return tx_type, info

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def tx(node: LocalNode, funded_account: DevAccount) -> AsyncIterator[Tx]:
    t = Tx(node, funded_account)
    yield t
    await t.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def send(
    http: aiohttp.ClientSession, node: LocalNode, tx_type: Any, info: Any, multipart: bool = False
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData(default_to_multipart=multipart)
    form.add_field("tx_type", str(tx_type))
    form.add_field("tx_info", info)
    async with http.post(node.base_url + "/api/v1/sendTx", data=form) as r:
        return r.status, await r.json()


async def send_batch(
    http: aiohttp.ClientSession, node: LocalNode, txs: list[tuple[int, str]]
) -> tuple[int, dict[str, Any]]:
    data = {
        "tx_types": orjson.dumps([t for t, _ in txs]).decode(),
        "tx_infos": orjson.dumps([i for _, i in txs]).decode(),
    }
    async with http.post(node.base_url + "/api/v1/sendTxBatch", data=data) as r:
        return r.status, await r.json()


def _edit(info: str, **fields: Any) -> str:
    obj = orjson.loads(info)
    obj.update(fields)
    return orjson.dumps(obj).decode()


async def _settle() -> None:
    await asyncio.sleep(0.05)


async def test_bad_nonce_is_400_21104_and_consumes_nothing(
    node: LocalNode, funded_account: DevAccount, tx: Tx, http: aiohttp.ClientSession
) -> None:
    lane = (funded_account.account_index, funded_account.api_key_index)
    status, body = await send(http, node, *tx.create(nonce=3))
    assert (status, body) == (400, {"code": 21104, "message": "invalid nonce"})
    assert node.state.nonces[lane] == 0
    assert node.state.orders == {}
    status, body = await send(http, node, *tx.create(nonce=0))
    assert status == 200 and body["code"] == 200
    # Replay of nonce 0 is refused the same way.
    status, body = await send(http, node, *tx.create(nonce=0, coi=2))
    assert (status, body["code"]) == (400, 21104)
    assert node.state.nonces[lane] == 1


async def test_multipart_form_is_accepted(
    node: LocalNode, tx: Tx, http: aiohttp.ClientSession
) -> None:
    status, body = await send(http, node, *tx.create(nonce=0), multipart=True)
    assert status == 200 and body["code"] == 200 and len(body["tx_hash"]) == 80
    assert body["predicted_execution_time_ms"] >= int(time.time() * 1000) - 1000
    assert orjson.loads(body["message"]) == {"ratelimit": "Ratelimit is off"}


async def test_expired_tx_rejected_before_nonce_check(
    node: LocalNode, funded_account: DevAccount, tx: Tx, http: aiohttp.ClientSession
) -> None:
    tx_type, info = tx.create(nonce=9)  # wrong nonce too: expiry must win
    info = tx.edit(info, ExpiredAt=int(time.time() * 1000) - 1)
    status, body = await send(http, node, tx_type, info)
    assert (status, body["code"]) == (400, EXPIRED_TX_CODE)
    assert body["message"] == p.ERROR_MESSAGES[EXPIRED_TX_CODE]
    assert node.state.nonces[(funded_account.account_index, 4)] == 0


async def test_unknown_account_and_unknown_key(
    node: LocalNode, funded_account: DevAccount, http: aiohttp.ClientSession
) -> None:
    ghost = Tx(node, funded_account, account_index=funded_account.account_index + 10_000)
    try:
        status, body = await send(http, node, *ghost.create(nonce=0))
    finally:
        await ghost.close()
    assert (status, body) == (400, {"code": 21100, "message": "account not found"})
    other = await node.create_account(collateral=1, api_key_index=9)
    wrong_key = Tx(node, other, account_index=funded_account.account_index)
    try:
        status, body = await send(http, node, *wrong_key.create(nonce=0))
    finally:
        await wrong_key.close()
    assert (status, body) == (400, {"code": 21109, "message": "api key not found"})
    assert node.state.nonces[(funded_account.account_index, 4)] == 0


@pytest.mark.parametrize(
    ("tx_type", "mutate", "code"),
    [
        (14, lambda i: "not json", 21501),
        (14, lambda i: i[: len(i) // 2], 21501),
        (14, lambda i: _edit(i, Price="300000"), 21501),
        (
            14,
            lambda i: orjson.dumps({k: v for k, v in orjson.loads(i).items() if k != "Nonce"}),
            21501,
        ),
        (14, lambda i: _edit(i, L2TxAttributes={"99": 1}), 21501),
        (99, lambda i: i, 21505),
        ("x", lambda i: i, 21501),
    ],
)
async def test_malformed_tx_info(
    node: LocalNode, tx: Tx, http: aiohttp.ClientSession, tx_type: Any, mutate: Any, code: int
) -> None:
    _, info = tx.create(nonce=0)
    raw = mutate(info)
    status, body = await send(http, node, tx_type, raw if isinstance(raw, str) else raw.decode())
    assert (status, body["code"]) == (400, code)
    assert body["message"] == p.ERROR_MESSAGES[code]
    assert node.state.nonces[(tx.acct.account_index, 4)] == 0


async def test_field_range_errors_consume_nothing(
    node: LocalNode, tx: Tx, http: aiohttp.ClientSession
) -> None:
    tx_type, info = tx.create(nonce=0)
    soon = tx.edit(info, OrderExpiry=int(time.time() * 1000) + 1000)
    assert (await send(http, node, tx_type, soon))[1]["code"] == p.ERR_INVALID_EXPIRY
    bad_market = tx.edit(info, MarketIndex=77)
    assert (await send(http, node, tx_type, bad_market))[1]["code"] == p.ERR_INVALID_MARKET_INDEX
    zero_price = tx.edit(info, Price=0)
    assert (await send(http, node, tx_type, zero_price))[1]["code"] == p.ERR_INVALID_PRICE
    assert node.state.nonces[(tx.acct.account_index, 4)] == 0
    assert (await send(http, node, tx_type, info))[1]["code"] == 200


async def test_batch_cap_and_shape_errors(
    node: LocalNode, tx: Tx, http: aiohttp.ClientSession
) -> None:
    node.batch_cap = 15  # strict mode (§7.1 switch); the default is the documented 50
    lane = (tx.acct.account_index, 4)
    txs = [tx.create(nonce=n, coi=n + 1, price=290_000 + n) for n in range(16)]
    status, body = await send_batch(http, node, txs)
    assert (status, body) == (
        400,
        {"code": 21514, "message": "maximum 15 transactions allowed per batch"},
    )
    assert node.state.nonces[lane] == 0
    data = {"tx_types": "[14, 14]", "tx_infos": orjson.dumps([txs[0][1]]).decode()}
    async with http.post(node.base_url + "/api/v1/sendTxBatch", data=data) as r:
        assert (r.status, (await r.json())["code"]) == (400, 21513)
    status, body = await send_batch(http, node, [txs[0], txs[2]])
    assert (status, body["code"]) == (400, 21105)
    other = await node.create_account(collateral=10)
    t2 = Tx(node, other)
    try:
        status, body = await send_batch(http, node, [txs[0], t2.create(nonce=1)])
    finally:
        await t2.close()
    assert (status, body["code"]) == (400, 21121)
    assert node.state.nonces[lane] == 0
    status, body = await send_batch(http, node, txs[:15])
    assert status == 200 and len(body["tx_hash"]) == 15
    assert node.state.nonces[lane] == 15
    await _settle()
    assert len(node.state.orders) == 15


async def test_batch_cap_default_is_the_documented_50() -> None:
    async with LocalNode(exec_latency_ms=0) as node:
        acct = await node.create_account(collateral=100_000)
        t = Tx(node, acct)
        try:
            txs = [t.create(nonce=n, coi=n + 1, price=280_000 + n) for n in range(51)]
            async with aiohttp.ClientSession() as http:
                refused = await send_batch(http, node, txs)
                status, body = await send_batch(http, node, txs[:50])
        finally:
            await t.close()
        assert refused == (
            400,
            {"code": 21514, "message": "maximum 50 transactions allowed per batch"},
        )
        assert status == 200 and len(body["tx_hash"]) == 50


async def test_rest_auth_errors(
    node: LocalNode, funded_account: DevAccount, tx: Tx, http: aiohttp.ClientSession
) -> None:
    a = funded_account.account_index
    url = f"{node.base_url}/api/v1/accountActiveOrders?account_index={a}"
    async with http.get(url) as r:
        assert r.status == 400
        assert await r.json() == {
            "code": 20001,
            "message": "invalid param : auth query param and Authorization header are empty",
        }
    far, err = tx.client.create_auth_token_with_expiry(9 * 3600)
    assert err is None
    async with http.get(url, headers={"Authorization": far}) as r:
        assert (r.status, await r.json()) == (
            401,
            {"code": 20013, "message": "invalid auth: invalid deadline"},
        )
    past, _ = tx.client.create_auth_token_with_expiry(60, timestamp=int(time.time()) - 3600)
    async with http.get(url, headers={"Authorization": past}) as r:
        assert (r.status, (await r.json())["code"]) == (401, 20013)
    good, _ = tx.client.create_auth_token_with_expiry()
    async with http.get(f"{url}&auth={good}") as r:  # query form
        assert r.status == 200
    other = await node.create_account(collateral=1)
    async with http.get(
        f"{node.base_url}/api/v1/accountActiveOrders?account_index={other.account_index}",
        headers={"Authorization": good},
    ) as r:
        assert (r.status, (await r.json())["code"]) == (401, 20013)


async def test_rest_param_errors(node: LocalNode, http: aiohttp.ClientSession) -> None:
    async with http.get(node.base_url + "/api/v1/orderBookOrders?market_id=99&limit=5") as r:
        assert (r.status, await r.json()) == (
            400,
            {"code": 21602, "message": "invalid market index"},
        )
    async with http.get(node.base_url + "/api/v1/orderBookOrders?market_id=0&limit=500") as r:
        assert (r.status, (await r.json())["code"]) == (400, 20001)
    async with http.get(node.base_url + "/api/v1/nextNonce?account_index=5&api_key_index=4") as r:
        assert (r.status, (await r.json())["code"]) == (400, 21100)
    async with http.get(node.base_url + "/api/v1/tx?by=hash&value=ab") as r:
        assert (r.status, (await r.json())["code"]) == (400, 21500)
    async with http.get(node.base_url + "/api/v1/nope") as r:
        assert (r.status, (await r.json())["code"]) == (404, 29404)


async def test_ws_subscription_errors(
    node: LocalNode, funded_account: DevAccount, tx: Tx, ws_probe: Any
) -> None:
    a = funded_account.account_index
    probe = await ws_probe()
    await probe.send({"type": "subscribe", "channel": f"account_all_orders/{a}"})
    err = await probe.expect(lambda f: "error" in f)
    assert err == {
        "error": {
            "code": 20001,
            "message": f"invalid param : auth field is required: account_all_orders:{a}",
        }
    }
    probe.frames.clear()
    await probe.send({"type": "subscribe", "channel": "order_book/0"})
    await probe.send({"type": "subscribe", "channel": "order_book/0"})
    dup = await probe.expect(lambda f: "error" in f)
    assert dup == {"error": {"code": 30003, "message": "Already Subscribed to : order_book:0"}}
    await probe.send({"type": "subscribe", "channel": "order_book/99"})
    await probe.send({"type": "ping"})
    await probe.expect(lambda f: f.get("type") == "pong")
    snaps = [f for f in probe.frames if f.get("type") == "subscribed/order_book"]
    assert len(snaps) == 1  # no second snapshot on a duplicate subscribe
    errors = [f["error"] for f in probe.frames if "error" in f]
    assert errors[1] == {"code": 30005, "message": "Invalid Channel:  (marketId)"}
    bad_token, _ = tx.client.create_auth_token_with_expiry(9 * 3600)
    await probe.send({"type": "subscribe", "channel": f"account_all_orders/{a}", "auth": bad_token})
    await probe.send({"type": "bogus"})
    await probe.send({"type": "unsubscribe", "channel": "trade/0"})
    await probe.send({"type": "unsubscribe", "channel": "order_book/0"})
    await probe.expect(lambda f: f.get("type") == "unsubscribed")
    errors = [f["error"]["code"] for f in probe.frames if "error" in f]
    assert errors == [30003, 30005, 20013, 30001, 30002]


async def test_ws_sendtx_replies_echo_id_and_errors(node: LocalNode, tx: Tx, ws_probe: Any) -> None:
    probe = await ws_probe()
    tx_type, info = tx.create(nonce=0)
    await probe.send(
        {
            "type": "jsonapi/sendtx",
            "data": {"id": "a1", "tx_type": tx_type, "tx_info": orjson.loads(info)},
        }
    )
    ok = await probe.expect(lambda f: f.get("id") == "a1")
    assert ok["code"] == 200 and ok["type"] == "jsonapi/sendtx" and len(ok["tx_hash"]) == 80
    await probe.send(
        {"type": "jsonapi/sendtx", "data": {"id": "a2", "tx_type": tx_type, "tx_info": info}}
    )
    bad = await probe.expect(lambda f: f.get("id") == "a2")
    assert bad == {"error": {"code": 21104, "message": "invalid nonce"}, "id": "a2"}
    batch = [tx.create(nonce=n, coi=n + 10, price=290_000 + n) for n in (1, 2)]
    await probe.send(
        {
            "type": "jsonapi/sendtxbatch",
            "data": {
                "id": "b1",
                "tx_types": orjson.dumps([t for t, _ in batch]).decode(),
                "tx_infos": orjson.dumps([i for _, i in batch]).decode(),
            },
        }
    )
    ok = await probe.expect(lambda f: f.get("id") == "b1")
    assert ok["type"] == "jsonapi/sendtxbatch" and len(ok["tx_hash"]) == 2
    await probe.send(
        {"type": "jsonapi/sendtx", "data": {"id": "a3", "tx_type": 14, "tx_info": "{"}}
    )
    bad = await probe.expect(lambda f: f.get("id") == "a3")
    assert bad["error"]["code"] == 21501
    assert node.state.nonces[(tx.acct.account_index, 4)] == 3


async def test_business_failures_are_accepted_then_reported(
    node: LocalNode, funded_account: DevAccount, tx: Tx, http: aiohttp.ClientSession
) -> None:
    a = funded_account.account_index
    assert (await send(http, node, *tx.create(nonce=0, coi=5)))[1]["code"] == 200
    status, body = await send(http, node, *tx.create(nonce=1, coi=5, price=299_000))
    assert status == 200  # duplicate live COI: accepted, fails at execution
    dup_hash = body["tx_hash"]
    status, body = await send(http, node, *tx.cancel(nonce=2, index=424242))
    assert status == 200
    cancel_hash = body["tx_hash"]
    await _settle()
    for h, code in ((dup_hash, 21728), (cancel_hash, 21715)):
        async with http.get(f"{node.base_url}/api/v1/tx?by=hash&value={h}") as r:
            rec = await r.json()
        assert rec["status"] == 2
        ae = orjson.loads(orjson.loads(rec["event_info"])["ae"])
        assert ae == {"code": code, "message": p.ERROR_MESSAGES[code]}
    assert node.state.nonces[(a, 4)] == 3
    assert len(node.state.orders) == 1
    # reduce-only without a position, and a margin failure: canceled-* statuses.
    await send(http, node, *tx.create(nonce=3, coi=6, is_ask=True, reduce_only=True))
    node.set_collateral(a, 1)
    await send(http, node, *tx.create(nonce=4, coi=7, price=300_000))
    await _settle()
    assert node.state.order_by_coi(a, 6)["status"] == "canceled-reduce-only"
    assert node.state.order_by_coi(a, 7)["status"] == "canceled-margin-not-allowed"


async def test_request_hook_can_refuse_with_429(
    node: LocalNode, tx: Tx, http: aiohttp.ClientSession
) -> None:
    seen: list[str] = []

    def hook(endpoint: str, remote: str, _request: Any) -> TxError | None:
        seen.append(endpoint)
        if endpoint == "sendTx":
            return TxError(p.ERR_TOO_MANY_REQUESTS, http_status=429)
        return None

    node.request_hook = hook
    status, body = await send(http, node, *tx.create(nonce=0))
    assert (status, body) == (429, {"code": 23000, "message": "Too Many Requests!"})
    async with http.get(node.base_url + "/api/v1/orderBooks?filter=spot") as r:
        assert (await r.json())["order_books"] == []
    assert seen == ["sendTx", "orderBooks"]
    assert node.state.nonces[(tx.acct.account_index, 4)] == 0


async def test_ws_malformed_frames(ws_probe: Any) -> None:
    probe = await ws_probe()
    await probe.ws.send_str("{not json")
    await probe.ws.send_str("[1, 2]")
    await probe.send({"type": "subscribe"})
    await probe.send({"type": "jsonapi/sendtx", "data": "nope"})
    await probe.send({"type": "ping"})
    await probe.expect(lambda f: f.get("type") == "pong")
    codes = [f["error"]["code"] for f in probe.frames if "error" in f]
    assert codes == [30000, 30000, 30005, 21501]
    assert not probe.ws.closed  # errors never close the socket
