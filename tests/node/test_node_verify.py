"""The node verifies: every tx signature and auth token against the registered API key.

Signatures come from lighter-sdk's own library (the Go signer); refusals are `21120 invalid
signature` (txs) and `20013` (tokens), with nothing consumed; the switch turns it off.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import lighter
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lighter.signer_client import CreateOrderTxReq, create_api_key

from _helpers import check_auth_token, next_frame, node_nonce, open_ws, resign, send_json
from lighterfast import protocol as p
from lighterfast.testnode import DevAccount, LocalNode, NativeVerifier, txhash
from lighterfast.testnode import _verify as native
from lighterfast.testnode.txparse import SUPPORTED_TX_TYPES, parse_tx

ACCOUNT = 7_654_321  # not a node account: no other test's SDK client shares its Go slot
KEY = 9
CHAIN = 304  # the SDK's chain for a loopback URL
U48 = 2**48 - 1
VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
# Cancel/modify target: a client order index (1 .. 2^48-1) or an order index (>= 2^48).
TARGET = st.one_of(st.integers(1, U48), st.integers(2**48, 2**56))


# ================================================================================================
# The verifier against lighter-sdk's signer, every order tx type (no node)
# ================================================================================================


@pytest.fixture(scope="module")
def sdk() -> Iterator[tuple[lighter.SignerClient, str]]:
    """lighter-sdk's SignerClient for a fresh key (its constructor wants a running loop)."""
    private_key, public_key, err = create_api_key()
    assert err is None
    loop = asyncio.new_event_loop()

    async def make() -> lighter.SignerClient:
        return lighter.SignerClient(
            url="http://127.0.0.1:9", account_index=ACCOUNT, api_private_keys={KEY: private_key}
        )

    client = loop.run_until_complete(make())
    yield client, public_key
    loop.run_until_complete(client.close())
    loop.close()


def _attrs(draw: st.DrawFn) -> dict[str, int]:
    """Optional L2TxAttributes the SDK signs (integrator, self-trade mode, skip-nonce)."""
    if not draw(st.booleans()):
        return {}
    out: dict[str, int] = {}
    if draw(st.booleans()):
        out["integrator_account_index"] = draw(st.integers(1, 2**40))
        out["integrator_taker_fee"] = draw(st.integers(0, 1000))
        out["integrator_maker_fee"] = draw(st.integers(0, 1000))
    if draw(st.booleans()):
        out["self_trade_behavior_mode"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        out["skip_nonce"] = 1
    return out


def _leg(draw: st.DrawFn, base: int | None = None, ask: int | None = None) -> list[int]:
    return [
        draw(st.integers(0, 200)),  # market
        draw(st.integers(0, U48)),  # client order index
        draw(st.integers(1, 2**40)) if base is None else base,
        draw(st.integers(1, 2**32 - 1)),  # price
        draw(st.integers(0, 1)) if ask is None else ask,
    ]


@st.composite
def sdk_tx(draw: st.DrawFn, client: lighter.SignerClient, kind: str) -> tuple[int, str, str]:
    """(tx_type, tx_info, tx_hash) of a random `kind` tx signed by lighter-sdk's library."""
    nonce = draw(st.integers(0, 2**40))
    common: dict[str, Any] = {"nonce": nonce, "api_key_index": KEY}
    if kind == "create":
        market, coi, base, price, ask = _leg(draw)
        order_type, tif = draw(st.sampled_from([(0, 1), (0, 2), (0, 0), (1, 0)]))
        res = client.sign_create_order(
            market, coi, base, price, ask, order_type, tif, reduce_only=draw(st.booleans()),
            order_expiry=-1 if tif else 0, **_attrs(draw), **common,
        )  # fmt: skip
    elif kind == "cancel":
        res = client.sign_cancel_order(draw(st.integers(0, 200)), draw(TARGET), **common)
    elif kind == "modify":
        attrs = _attrs(draw)
        if draw(st.booleans()):
            attrs["order_version"] = 1
        res = client.sign_modify_order(
            draw(st.integers(0, 200)), draw(TARGET), draw(st.integers(1, 2**40)),
            draw(st.integers(1, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)), **attrs, **common,
        )  # fmt: skip
    elif kind == "cancel_all":
        tif = draw(st.integers(0, 2))
        when = 0 if tif != 1 else int(time.time() * 1000) + draw(st.integers(300_000, 10**9))
        market = draw(st.sampled_from([255, 0, 3])) if tif == 0 else 255  # one market: now
        res = client.sign_cancel_all_orders(tif, when, cancel_all_market_index=market, **common)
    else:
        expiry = int(time.time() * 1000) + draw(st.integers(3_600_000, 20 * 86_400_000))
        m, coi, base, price, ask = _leg(draw)
        parent = CreateOrderTxReq(m, coi, base, price, ask, 0, 1, 0, 0, expiry)
        stop_px, take_px = draw(st.integers(1, 2**31)), draw(st.integers(1, 2**31))
        sl = CreateOrderTxReq(m, coi + 1 & U48, 0, stop_px, 1 - ask, 2, 0, 1, stop_px, expiry)
        tp = CreateOrderTxReq(m, coi + 2 & U48, 0, take_px, 1 - ask, 4, 0, 1, take_px, expiry)
        grouping = draw(st.sampled_from([1, 3]))
        orders = [parent, sl] if grouping == 1 else [parent, sl, tp]
        res = client.sign_create_grouped_orders(grouping, orders, **_attrs(draw), **common)
    tx_type, tx_info, tx_hash, err = res
    assume(err is None)  # a combination the signer itself refuses: not a signature case
    return int(tx_type), tx_info, tx_hash


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("kind", ["create", "cancel", "modify", "cancel_all", "grouped"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_sdk_signatures_verify_and_any_flipped_bit_fails(
    sdk: tuple[lighter.SignerClient, str], kind: str, data: st.DataObject
) -> None:
    client, public_key = sdk
    tx_type, tx_info, tx_hash = data.draw(sdk_tx(client, kind))
    tx = parse_tx(tx_type, tx_info)
    verifier = NativeVerifier()
    assert verifier.verify_tx(CHAIN, tx, public_key)
    # The node's compiled message hash is the reference hash is what the SDK printed.
    compiled = txhash.message_hash(CHAIN, tx_type, tx.info, native.hash_no_pad)
    assert compiled == txhash.message_hash(CHAIN, tx_type, tx.info) == tx_hash
    key = bytes.fromhex(public_key[2:])
    message = bytes.fromhex(tx_hash)
    signature = base64.b64decode(tx.info["Sig"])
    assert native.schnorr_verify(key, message, signature)
    bit = data.draw(st.integers(0, 319))
    assert not native.schnorr_verify(key, message, _flip(signature, bit))
    assert not native.schnorr_verify(key, message, _flip(signature, bit + 320))
    assert not native.schnorr_verify(key, _flip(message, bit), signature)
    assert not native.schnorr_verify(_flip(key, bit), message, signature)
    assert not verifier.verify_tx(CHAIN + 1, tx, public_key)  # another chain's message


def test_malformed_inputs_are_invalid_not_errors(sdk: tuple[lighter.SignerClient, str]) -> None:
    client, public_key = sdk
    tt, info, _, err = client.sign_cancel_order(0, 5, nonce=1, api_key_index=KEY)
    assert err is None
    v = NativeVerifier()
    tx = parse_tx(tt, info)
    assert v.verify_tx(CHAIN, tx, public_key)
    sig = tx.info["Sig"]
    for bad in ("", "!!!!", sig[:-4], sig + "AAAA", sig.replace("=", "")):
        tx.info["Sig"] = bad
        assert not v.verify_tx(CHAIN, tx, public_key), bad
    tx.info["Sig"] = sig
    for key in ("", "0x", "zz", public_key[:-2], public_key + "00"):
        assert not v.verify_tx(CHAIN, tx, key), key
    assert not native.schnorr_verify(b"", b"", b"")
    token, _ = client.create_auth_token_with_expiry(api_key_index=KEY)
    message, sig_hex = token.rsplit(":", 1)
    assert v.verify_auth(message, sig_hex, public_key)
    for bad in ("", sig_hex[:-2], sig_hex + "00", " " + sig_hex[1:], "g" + sig_hex[1:]):
        assert not v.verify_auth(message, bad, public_key), bad
    assert not v.verify_auth(message + "0", sig_hex, public_key)
    assert not v.verify_auth("é" + message, sig_hex, public_key)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=40), st.integers(1, 12))
def test_compiled_sponge_equals_the_pure_reference(words: list[int], m: int) -> None:
    assert native.hash_no_pad(words, m) == txhash.hash_no_pad(words, m)


def test_library_vectors_verify_and_malleability_matches_go() -> None:
    """The .so's own transactions and tokens verify; s+n / e+n are accepted as Go's Validate
    accepts them, flipped bits and wrong keys are not (both the table path and lf_verify)."""
    v = NativeVerifier()
    checked = 0
    for vec in VECTORS["transactions"]:
        if vec["tx_type"] not in SUPPORTED_TX_TYPES:
            continue  # ChangePubKey: the node does not take it
        tx = parse_tx(vec["tx_type"], vec["tx_info"])
        assert v.verify_tx(vec["chain_id"], tx, vec["public_key"]), vec["name"]
        assert not v.verify_tx(vec["chain_id"] ^ 1, tx, vec["public_key"]), vec["name"]
        checked += 1
    assert checked >= 30
    for vec in VECTORS["auth_tokens"]:
        message, sig_hex = vec["token"].rsplit(":", 1)
        assert v.verify_auth(message, sig_hex, vec["public_key"])
    for case in VECTORS["signature_negative_and_malleability"]:
        args = (
            bytes.fromhex(case["public_key_hex"].removeprefix("0x")),
            bytes.fromhex(case["message_fp5_hex"]),
            bytes.fromhex(case["signature_hex"]),
        )
        want = case["go_validate_accepts"]
        assert native.schnorr_verify(*args) is want, case["name"]
        assert native.schnorr_verify_reference(*args) is want, case["name"]


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=40, max_size=40),
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=20),
    st.sampled_from(["none", "sig", "message", "key"]),
    st.integers(0, 639),
)
def test_table_verify_agrees_with_the_core_verify(
    secret: bytes, words: list[int], flip: str, bit: int
) -> None:
    """The node's per-key table path gives lf_verify's answer on valid and broken inputs."""
    from lighterfast.signing import _native as signer

    key, message = signer.public_key(secret), signer.tx_message(words)
    sig = signer.schnorr_sign(secret, message)
    if flip == "sig":
        sig = _flip(sig, bit)
    elif flip == "message":
        message = _flip(message, bit % 320)
    elif flip == "key":
        key = _flip(key, bit % 320)
    got = native.schnorr_verify(key, message, sig)
    assert got == native.schnorr_verify_reference(key, message, sig) == (flip == "none")


# ================================================================================================
# A real LocalNode over loopback: refusals, nothing consumed
# ================================================================================================


def _bad_sig(info: str, bit: int = 5) -> str:
    obj = orjson.loads(info)
    obj["Sig"] = base64.b64encode(_flip(base64.b64decode(obj["Sig"]), bit)).decode()
    return orjson.dumps(obj).decode()


async def _post(
    http: aiohttp.ClientSession, node: LocalNode, tx_type: int, info: str
) -> tuple[int, dict[str, Any]]:
    form = {"tx_type": str(tx_type), "tx_info": info}
    async with http.post(node.base_url + "/api/v1/sendTx", data=form) as r:
        return r.status, await r.json()


def _order(client: lighter.SignerClient, nonce: int, key: int = 4, **kw: Any) -> tuple[int, str]:
    args: dict[str, Any] = {"price": 290_000, "coi": nonce + 1}
    args.update(kw)
    tt, info, _, err = client.sign_create_order(
        0, args["coi"], 100, args["price"], 0, 0, 1, nonce=nonce, api_key_index=key
    )
    assert err is None, err
    return int(tt), info


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def client(node: LocalNode, funded_account: DevAccount) -> Any:
    c = lighter.SignerClient(
        url=node.base_url,
        account_index=funded_account.account_index,
        api_private_keys={funded_account.api_key_index: funded_account.private_key},
    )
    yield c
    await c.close()


REFUSED = (400, {"code": p.ERR_INVALID_SIGNATURE, "message": "invalid signature"})


async def test_the_default_node_verifies(node: LocalNode) -> None:
    assert isinstance(node.signature_verifier, NativeVerifier)  # the shared fixture too
    assert isinstance(LocalNode().signature_verifier, NativeVerifier)
    assert LocalNode(verify_signatures=False).signature_verifier is None
    with pytest.raises(ValueError, match="verify_signatures"):
        LocalNode(verify_signatures=False, signature_verifier=NativeVerifier())


async def test_bad_signature_is_21120_over_rest_and_consumes_no_nonce(
    node: LocalNode, funded_account: DevAccount, client: Any, http: aiohttp.ClientSession
) -> None:
    tt, info = _order(client, 0)
    for bit in (0, 300, 639):
        assert await _post(http, node, tt, _bad_sig(info, bit)) == REFUSED
    tampered = info.replace('"Price":290000', '"Price":290001')
    assert tampered != info
    assert await _post(http, node, tt, tampered) == REFUSED
    assert node_nonce(node, funded_account) == 0 and node.state.orders == {}
    status, body = await _post(http, node, tt, info)
    assert (status, body["code"]) == (200, 200)
    assert node_nonce(node, funded_account) == 1


async def test_bad_signature_in_a_batch_and_over_ws_consumes_nothing(
    node: LocalNode, funded_account: DevAccount, client: Any, http: aiohttp.ClientSession
) -> None:
    txs = [_order(client, n) for n in range(3)]
    bad = [txs[0], (txs[1][0], _bad_sig(txs[1][1])), txs[2]]
    data = {
        "tx_types": orjson.dumps([t for t, _ in bad]).decode(),
        "tx_infos": orjson.dumps([i for _, i in bad]).decode(),
    }
    async with http.post(node.base_url + "/api/v1/sendTxBatch", data=data) as r:
        assert (r.status, await r.json()) == REFUSED
    assert node_nonce(node, funded_account) == 0
    ws = await open_ws(http, node)
    tt, info = txs[0]
    frame = {"type": "jsonapi/sendtx", "data": {"id": "b", "tx_type": tt, "tx_info": ""}}
    frame["data"]["tx_info"] = orjson.loads(_bad_sig(info))
    await send_json(ws, frame)
    reply = await next_frame(ws)
    assert reply["error"]["code"] == p.ERR_INVALID_SIGNATURE, reply
    assert node_nonce(node, funded_account) == 0
    frame["data"]["tx_info"] = orjson.loads(info)
    await send_json(ws, frame)
    assert (await next_frame(ws))["code"] == 200
    assert node_nonce(node, funded_account) == 1
    await ws.close()


async def test_wrong_registered_key_and_wrong_chain_are_refused(
    node: LocalNode, funded_account: DevAccount, http: aiohttp.ClientSession
) -> None:
    a = funded_account.account_index
    private_key = funded_account.private_key
    flipped = "0x" + _flip(bytes.fromhex(funded_account.public_key[2:]), 77).hex()
    await node.add_api_key(a, 5, flipped)  # slot 5: a key one bit off the signer's
    await node.add_api_key(a, 6, funded_account.public_key)  # slot 6: the signer's key
    c = lighter.SignerClient(url=node.base_url, account_index=a, api_private_keys={5: private_key})
    try:
        tt, info = _order(c, 0, key=5)
        assert await _post(http, node, tt, info) == REFUSED
    finally:
        await c.close()
    c = lighter.SignerClient(url=node.base_url, account_index=a, api_private_keys={6: private_key})
    try:
        tt, info = _order(c, 0, key=6)
    finally:
        await c.close()
    assert await _post(http, node, tt, resign(info, private_key, 300, tt)) == REFUSED  # testnet
    assert node_nonce(node, funded_account, 5) == node_nonce(node, funded_account, 6) == 0
    assert (await _post(http, node, tt, resign(info, private_key, node.chain_id, tt)))[0] == 200
    assert node_nonce(node, funded_account, 6) == 1


async def test_fast_hash_mode_still_verifies_and_the_switch_turns_it_off(
    http: aiohttp.ClientSession,
) -> None:
    for verify, want in ((True, 400), (False, 200)):
        async with LocalNode(
            exec_latency_ms=0, tx_hash_mode="fast", verify_signatures=verify
        ) as node:
            acct = await node.create_account(collateral=10_000)
            c = lighter.SignerClient(
                url=node.base_url,
                account_index=acct.account_index,
                api_private_keys={4: acct.private_key},
            )
            try:
                tt, info = _order(c, 0)
            finally:
                await c.close()
            status, body = await _post(http, node, tt, _bad_sig(info))
            assert status == want, body
            assert node_nonce(node, acct) == (0 if verify else 1)


async def test_auth_tokens_are_verified_over_rest_and_ws(
    node: LocalNode, funded_account: DevAccount, client: Any, http: aiohttp.ClientSession
) -> None:
    a = funded_account.account_index
    token, err = client.create_auth_token_with_expiry(api_key_index=4)
    assert err is None
    await check_auth_token(http, node, a, token)  # accepted; its tail changed: 401
    private_key, _, err = create_api_key()
    assert err is None
    other = lighter.SignerClient(
        url=node.base_url, account_index=a, api_private_keys={4: private_key}
    )
    try:
        forged, err = other.create_auth_token_with_expiry(api_key_index=4)  # unregistered key
    finally:
        await other.close()
    assert err is None
    head, sig = token.rsplit(":", 1)
    flipped = head + ":" + _flip(bytes.fromhex(sig), 200).hex()
    deadline, rest = head.split(":", 1)
    moved = f"{int(deadline) - 1}:{rest}:{sig}"
    url = node.base_url + "/api/v1/accountActiveOrders"
    for bad in (forged, flipped, moved):
        params = {"account_index": a, "market_id": 0}
        async with http.get(url, params=params, headers={"Authorization": bad}) as r:
            assert (r.status, await r.json()) == (
                401,
                {"code": p.ERR_INVALID_AUTH, "message": "invalid auth: invalid signature"},
            )
    ws = await open_ws(http, node)
    channel = f"account_all_orders/{a}"
    await send_json(ws, {"type": "subscribe", "channel": channel, "auth": forged})
    assert (await next_frame(ws))["error"]["code"] == p.ERR_INVALID_AUTH
    await send_json(ws, {"type": "subscribe", "channel": channel, "auth": token})
    assert (await next_frame(ws))["type"] == "subscribed/account_all_orders"
    await ws.close()
