"""SdkSigner against the real lighter-sdk signer library and the shared signer vectors."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lighterfast.signing as S
import lighterfast.signing.sdk as SDK
from lighterfast import protocol as P
from lighterfast.errors import NodeUnreachable, SignerError
from lighterfast.signing import GroupedOrder, SdkSigner, SignedTx, Signer

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
HASH_RE = re.compile(r"^[0-9a-f]{80}$")
TOKEN_RE = re.compile(r"^(\d+):(\d+):(\d+):([0-9a-f]{160})$")
ACCOUNT = 4321
KEY = 5
E = 1796084850418  # an explicit order expiry (ms) used by the vectors

# Field order of each tx_info, exactly as the signer prints it (protocol §2.3–2.7).
FIELDS = {
    14: [
        "AccountIndex", "ApiKeyIndex", "MarketIndex", "ClientOrderIndex", "BaseAmount", "Price",
        "IsAsk", "Type", "TimeInForce", "ReduceOnly", "TriggerPrice", "OrderExpiry", "ExpiredAt",
        "Nonce", "Sig", "L2TxAttributes",
    ],
    15: ["AccountIndex", "ApiKeyIndex", "MarketIndex", "Index", "ExpiredAt", "Nonce", "Sig",
         "L2TxAttributes"],
    16: ["AccountIndex", "ApiKeyIndex", "TimeInForce", "Time", "ExpiredAt", "Nonce", "Sig",
         "L2TxAttributes"],
    17: ["AccountIndex", "ApiKeyIndex", "MarketIndex", "Index", "BaseAmount", "Price",
         "TriggerPrice", "ExpiredAt", "Nonce", "Sig", "L2TxAttributes"],
    28: ["AccountIndex", "ApiKeyIndex", "GroupingType", "Orders", "ExpiredAt", "Nonce", "Sig",
         "L2TxAttributes"],
}  # fmt: skip
ORDER_FIELDS = [
    "MarketIndex", "ClientOrderIndex", "BaseAmount", "Price", "IsAsk", "Type", "TimeInForce",
    "ReduceOnly", "TriggerPrice", "OrderExpiry",
]  # fmt: skip
GROUP_KEYS = list(GroupedOrder._fields)


def limit(**over: Any) -> dict[str, Any]:
    """Keyword arguments of a valid GTT limit buy, with overrides."""
    kw: dict[str, Any] = dict(
        market_index=0,
        client_order_index=7,
        base_amount=1000,
        price=300000,
        is_ask=False,
        order_type=P.ORDER_TYPE_LIMIT,
        time_in_force=P.TIF_GTT,
        nonce=1,
        api_key_index=KEY,
    )
    kw.update(over)
    return kw


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return S.generate_api_key()


@pytest.fixture
def signer(keypair: tuple[str, str]) -> Iterator[SdkSigner]:
    s = SdkSigner(ACCOUNT, {KEY: keypair[0]})
    yield s
    s.close()


def check_common(signed: SignedTx, tx_type: int, *, nonce: int, account: int, key: int) -> dict:
    """Shape checks every signed order tx must pass; returns the parsed tx_info."""
    assert isinstance(signed, SignedTx)
    assert signed.tx_type == tx_type
    assert HASH_RE.match(signed.tx_hash), signed.tx_hash
    info = json.loads(signed.tx_info)
    assert list(info) == FIELDS[tx_type]
    assert info["AccountIndex"] == account
    assert info["ApiKeyIndex"] == key
    assert info["Nonce"] == nonce
    assert info["L2TxAttributes"] is None
    sig = info["Sig"]
    assert len(sig) == 108 and sig.endswith("=")
    assert len(base64.b64decode(sig, validate=True)) == 80
    now_ms = time.time() * 1000
    # The library always sets ExpiredAt = now + 599 s (protocol §2.2).
    assert abs(info["ExpiredAt"] - (now_ms + P.DEFAULT_TX_EXPIRY_MS)) < 30_000
    assert " " not in signed.tx_info  # Go's compact JSON
    return info


# ------------------------------------------------------------------------------------------------
# Vectors: same inputs → same tx_info fields (Sig and ExpiredAt are fresh per signature)
# ------------------------------------------------------------------------------------------------


def _vector_call(vec: dict) -> tuple[str, dict[str, Any]] | None:
    """Map a vector's raw library args to a SdkSigner request; None if it uses attributes."""
    a = vec["so_args"]
    fn = vec["so_function"]
    if fn == "SignCreateOrder":
        if any(a[10:16]):
            return None
        return "create_order", dict(
            market_index=a[0], client_order_index=a[1], base_amount=a[2],
            price=a[3] % 2**32, is_ask=a[4], order_type=a[5], time_in_force=a[6],
            reduce_only=a[7], trigger_price=a[8], order_expiry=a[9], nonce=a[16],
        )  # fmt: skip
    if fn == "SignCancelOrder":
        if a[2]:
            return None
        return "cancel_order", dict(market_index=a[0], order_index=a[1], nonce=a[3])
    if fn == "SignModifyOrder":
        if any(a[5:11]) or a[12]:
            return None
        return "modify_order", dict(
            market_index=a[0], order_index=a[1], base_amount=a[2], price=a[3],
            trigger_price=a[4], nonce=a[11],
        )  # fmt: skip
    if fn == "SignCancelAllOrders":
        if a[2] != P.ALL_MARKETS or a[3]:
            return None
        return "cancel_all_orders", dict(time_in_force=a[0], time=a[1], nonce=a[4])
    if fn == "SignCreateGroupedOrders":
        if any(a[3:9]):
            return None
        orders = [GroupedOrder(*o) for o in a[1]]
        return "create_grouped_orders", dict(grouping_type=a[0], orders=orders, nonce=a[9])
    return None


VECTOR_CASES = [v for v in VECTORS["transactions"] if _vector_call(v) is not None]


def test_vectors_cover_every_order_tx_type() -> None:
    assert {v["tx_type"] for v in VECTOR_CASES} == set(FIELDS)
    assert len(VECTOR_CASES) >= 25


@pytest.mark.parametrize("vec", VECTOR_CASES, ids=[v["name"] for v in VECTOR_CASES])
def test_vector_tx_info_fields(vec: dict) -> None:
    kind, kwargs = _vector_call(vec)  # type: ignore[misc]
    private_key = VECTORS["keys"][vec["key"]]["private_key"]
    with SdkSigner(
        vec["account_index"], {vec["api_key_index"]: private_key}, chain_id=vec["chain_id"]
    ) as s:
        signed = getattr(s, "sign_" + kind)(**kwargs, api_key_index=vec["api_key_index"])
    got = check_common(
        signed,
        vec["tx_type"],
        nonce=kwargs["nonce"],
        account=vec["account_index"],
        key=vec["api_key_index"],
    )
    want = json.loads(vec["tx_info"])
    assert list(got) == list(want)
    fresh = {"Sig", "ExpiredAt"}
    if vec["tx_type"] == P.TX_TYPE_CREATE_ORDER and kwargs["order_expiry"] == -1:
        fresh.add("OrderExpiry")  # -1 → now + 28 days at signing time
        expected = time.time() * 1000 + P.DEFAULT_ORDER_EXPIRY_MS
        assert abs(got["OrderExpiry"] - expected) < 30_000
    for field in want:
        if field not in fresh:
            assert got[field] == want[field], field
    if vec["tx_type"] == P.TX_TYPE_CREATE_GROUPED_ORDERS:
        for order in got["Orders"]:
            assert list(order) == ORDER_FIELDS


@pytest.mark.parametrize("vec", VECTORS["auth_tokens"], ids=lambda v: f"{v['key']}-{v['deadline']}")
def test_vector_auth_token_format(vec: dict) -> None:
    private_key = VECTORS["keys"][vec["key"]]["private_key"]
    with SdkSigner(vec["account_index"], {vec["api_key_index"]: private_key}) as s:
        token = s.create_auth_token(vec["deadline"], vec["api_key_index"])
    m = TOKEN_RE.match(token)
    assert m, token[:40]
    assert token.startswith(vec["message"] + ":")
    assert len(token) == len(vec["token"])
    assert token != vec["token"]  # signatures are randomized (fresh nonce k)


# ------------------------------------------------------------------------------------------------
# Every order tx type with fresh keys, sync and async
# ------------------------------------------------------------------------------------------------

ALL_KINDS: list[tuple[str, int, dict[str, Any]]] = [
    ("create_order", 14, limit()),
    ("create_order", 14, limit(order_type=1, time_in_force=0, order_expiry=0,
                               client_order_index=0)),
    ("create_order", 14, limit(order_type=2, time_in_force=0, reduce_only=True, trigger_price=99,
                               order_expiry=E)),
    ("create_order", 14, limit(order_type=6, order_expiry=-1, is_ask=True)),
    ("cancel_order", 15, dict(market_index=1, order_index=P.MIN_ORDER_INDEX, nonce=1,
                              api_key_index=KEY)),
    ("cancel_order", 15, dict(market_index=1, order_index=7, nonce=1, api_key_index=KEY)),
    ("modify_order", 17, dict(market_index=0, order_index=7, base_amount=5, price=300001, nonce=1,
                              api_key_index=KEY)),
    ("cancel_all_orders", 16, dict(time_in_force=0, time=0, nonce=1, api_key_index=KEY)),
    ("cancel_all_orders", 16, dict(time_in_force=1, time=E, nonce=1, api_key_index=KEY)),
    ("create_grouped_orders", 28, dict(grouping_type=1, nonce=1, api_key_index=KEY, orders=[
        GroupedOrder(1, 21, 100, 5000, False, 1, 0, order_expiry=0),
        {"market_index": 1, "client_order_index": 22, "base_amount": 0, "price": 4000,
         "is_ask": True, "order_type": 2, "time_in_force": 0, "reduce_only": True,
         "trigger_price": 4000, "order_expiry": E},
    ])),
]  # fmt: skip


@pytest.mark.parametrize("kind,tx_type,kwargs", ALL_KINDS)
def test_sign_every_kind_sync(signer: SdkSigner, kind: str, tx_type: int, kwargs: dict) -> None:
    signed = getattr(signer, "sign_" + kind)(**kwargs)
    check_common(signed, tx_type, nonce=1, account=ACCOUNT, key=KEY)


@pytest.mark.parametrize("kind,tx_type,kwargs", ALL_KINDS)
async def test_sign_every_kind_async(
    signer: SdkSigner, kind: str, tx_type: int, kwargs: dict
) -> None:
    signed = await getattr(signer, "asign_" + kind)(**kwargs)
    check_common(signed, tx_type, nonce=1, account=ACCOUNT, key=KEY)


def test_sdk_signer_is_a_signer(signer: SdkSigner) -> None:
    assert isinstance(signer, Signer)
    assert signer.account_index == ACCOUNT
    assert signer.chain_id == P.CHAIN_ID_MAINNET
    assert signer.api_key_indexes == frozenset({KEY})


def test_signatures_are_fresh_per_call(signer: SdkSigner) -> None:
    a = signer.sign_create_order(**limit())
    b = signer.sign_create_order(**limit())
    assert json.loads(a.tx_info)["Sig"] != json.loads(b.tx_info)["Sig"]


async def test_sign_many_keeps_order(signer: SdkSigner) -> None:
    requests = [("create_order", limit(client_order_index=i + 1, nonce=10 + i)) for i in range(15)]
    requests.append(("cancel_order", dict(market_index=0, order_index=3, nonce=25,
                                          api_key_index=KEY)))  # fmt: skip
    for result in (signer.sign_many(requests), await signer.asign_many(requests)):
        assert len(result) == 16
        infos = [json.loads(r.tx_info) for r in result]
        assert [i["Nonce"] for i in infos] == list(range(10, 26))
        assert [i.get("ClientOrderIndex") for i in infos[:15]] == list(range(1, 16))
        assert result[-1].tx_type == P.TX_TYPE_CANCEL_ORDER
    assert signer.sign_many([]) == []


def test_auth_token(signer: SdkSigner) -> None:
    deadline = int(time.time()) + 600
    token = signer.create_auth_token(deadline, KEY)
    m = TOKEN_RE.match(token)
    assert m and m.group(1, 2, 3) == (str(deadline), str(ACCOUNT), str(KEY))


async def test_concurrent_callers_from_tasks_and_threads(signer: SdkSigner) -> None:
    """Async tasks and plain threads sign at once; every call gets its own correct result."""
    thread_results: list[SignedTx] = []

    def in_thread(n: int) -> None:
        for i in range(5):
            thread_results.append(signer.sign_create_order(**limit(nonce=1000 + 10 * n + i)))

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    results = await asyncio.gather(
        *(signer.asign_create_order(**limit(nonce=i)) for i in range(30))
    )
    for t in threads:
        t.join(timeout=30)
    assert [json.loads(r.tx_info)["Nonce"] for r in results] == list(range(30))
    assert sorted(json.loads(r.tx_info)["Nonce"] for r in thread_results) == sorted(
        1000 + 10 * n + i for n in range(3) for i in range(5)
    )


async def test_cancelled_await_leaves_worker_usable(signer: SdkSigner) -> None:
    task = asyncio.ensure_future(signer.asign_create_order(**limit()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    signed = await asyncio.wait_for(signer.asign_create_order(**limit(nonce=2)), 10)
    assert json.loads(signed.tx_info)["Nonce"] == 2


# ------------------------------------------------------------------------------------------------
# The Go library is never entered from the main thread
# ------------------------------------------------------------------------------------------------


async def test_no_go_call_on_main_thread(keypair: tuple[str, str]) -> None:
    main = threading.main_thread().ident
    assert threading.get_ident() == main  # pytest runs tests (and this loop) on the main thread
    before = S.go_call_count()
    with SdkSigner(ACCOUNT, {KEY: keypair[0]}) as s:
        s.sign_create_order(**limit())
        await s.asign_create_order(**limit())
        s.sign_many([("cancel_order", dict(market_index=0, order_index=7, nonce=1,
                                           api_key_index=KEY))])  # fmt: skip
        await s.acreate_auth_token(int(time.time()) + 60, KEY)
        worker = SDK._worker
        assert worker is not None
        worker_id = worker.ident
    assert S.go_call_count() - before >= 5  # clients + each signing call went through the guard
    threads = S.go_call_thread_ids()
    assert main not in threads
    assert worker_id in threads


def test_guard_refuses_main_thread() -> None:
    """Entering the library on the main thread is refused before any Go call happens."""
    before = S.go_call_count()
    with pytest.raises(SignerError, match="main thread"):
        SDK._w_create_order(ACCOUNT, KEY, 1, (0, 7, 1000, 300000, 0, 0, 1, 0, 0, -1))
    assert S.go_call_count() == before


def test_worker_stops_when_last_signer_closes(keypair: tuple[str, str]) -> None:
    base = SDK._worker_users  # signers other tests may still hold in this process
    a = SdkSigner(ACCOUNT, {KEY: keypair[0]})
    b = SdkSigner(ACCOUNT + 1, {KEY: keypair[0]})
    worker = SDK._worker
    assert worker is not None and worker._thread.is_alive()
    assert SDK._worker_users == base + 2
    a.close()
    assert worker._thread.is_alive() and SDK._worker_users == base + 1
    b.sign_create_order(**limit())
    b.close()
    b.close()  # idempotent
    assert SDK._worker_users == base
    if base == 0:
        assert not worker._thread.is_alive()
    with pytest.raises(SignerError, match="closed"):
        b.sign_create_order(**limit())


def test_dropped_signer_releases_the_worker(keypair: tuple[str, str]) -> None:
    import gc

    base = SDK._worker_users
    s = SdkSigner(ACCOUNT, {KEY: keypair[0]})
    worker = SDK._worker
    assert worker is not None
    s.sign_create_order(**limit())
    del s
    gc.collect()
    assert SDK._worker_users == base
    if base == 0:
        worker._thread.join(timeout=10)
        assert not worker._thread.is_alive()
        assert SDK._worker is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_a_clear_error(signer: SdkSigner, keypair: tuple[str, str]) -> None:
    """Neither the worker thread nor Go's threads survive fork: the child must not hang."""
    signer.sign_create_order(**limit())  # library loaded and worker running in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            try:
                signer.sign_create_order(**limit())
                code |= 1
            except SignerError as exc:
                code |= 0 if "fork" in str(exc) else 4
            try:
                SdkSigner(ACCOUNT, {KEY: keypair[0]})
                code |= 2
            except SignerError as exc:
                code |= 0 if "fork" in str(exc) else 8
        except BaseException:
            code = 16
        os._exit(code)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("forked child hung")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
    assert signer.sign_create_order(**limit()).tx_type == P.TX_TYPE_CREATE_ORDER  # parent fine


# ------------------------------------------------------------------------------------------------
# Validation: bad input → ValueError/TypeError naming the field, nothing signed
# ------------------------------------------------------------------------------------------------

BAD_CREATE: list[tuple[dict[str, Any], str]] = [
    (limit(market_index=-1), "market_index"),
    (limit(market_index=255), "market_index"),
    (limit(market_index=P.MAX_MARKET_INDEX + 1), "market_index"),
    (limit(client_order_index=-1), "client_order_index"),
    (limit(client_order_index=P.MAX_COI + 1), "client_order_index"),
    (limit(base_amount=0), "base_amount"),
    (limit(base_amount=P.MAX_BASE_AMOUNT + 1), "base_amount"),
    (limit(price=0), "price"),
    (limit(price=2**32), "price"),
    (limit(is_ask=2), "is_ask"),
    (limit(order_type=7), "order_type"),
    (limit(time_in_force=3), "time_in_force"),
    (limit(trigger_price=-1), "trigger_price"),
    (limit(trigger_price=5), "trigger_price"),  # limit orders carry no trigger
    (limit(order_expiry=-2), "order_expiry"),
    (limit(order_expiry=0), "order_expiry"),  # GTT needs an expiry
    (limit(time_in_force=0, order_expiry=E), "order_expiry"),  # IOC needs 0
    (limit(order_type=1, time_in_force=1, order_expiry=0), "time_in_force"),
    (limit(order_type=1, time_in_force=0, order_expiry=-1), "order_expiry"),
    (limit(order_type=1, time_in_force=0, order_expiry=0, trigger_price=9), "trigger_price"),
    (limit(order_type=2, time_in_force=1, trigger_price=9, order_expiry=E), "time_in_force"),
    (limit(order_type=2, time_in_force=0, trigger_price=0, order_expiry=E), "trigger_price"),
    (limit(order_type=3, time_in_force=1, trigger_price=9, order_expiry=0), "order_expiry"),
    (limit(order_type=6, time_in_force=0, order_expiry=E), "time_in_force"),
    (limit(order_type=6, trigger_price=4), "trigger_price"),
    (limit(nonce=-1), "nonce"),
    (limit(nonce=2**63), "nonce"),
    (limit(api_key_index=255), "api_key_index"),
    (limit(api_key_index=KEY + 1), "api_key_index"),  # valid index, but no key for it
]  # fmt: skip


@pytest.mark.parametrize("kwargs,field", BAD_CREATE)
async def test_bad_create_order_names_field(
    signer: SdkSigner, kwargs: dict[str, Any], field: str
) -> None:
    before = S.go_call_count()
    with pytest.raises(ValueError, match=field):
        signer.sign_create_order(**kwargs)
    with pytest.raises(ValueError, match=field):
        await signer.asign_create_order(**kwargs)
    assert S.go_call_count() == before


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (limit(price=1.5), "price"),
        (limit(price="300000"), "price"),
        (limit(base_amount=None), "base_amount"),
        (limit(market_index=True), "market_index"),
        (limit(nonce=1.0), "nonce"),
    ],
)
def test_wrong_types_raise_type_error(
    signer: SdkSigner, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(TypeError, match=field):
        signer.sign_create_order(**kwargs)


def test_missing_keyword_is_a_type_error(signer: SdkSigner) -> None:
    kwargs = limit()
    del kwargs["nonce"]
    with pytest.raises(TypeError, match="nonce"):
        signer.sign_create_order(**kwargs)
    with pytest.raises(TypeError):
        signer.sign_create_order(0, 7, 1000, 300000, False, 0, 1, nonce=1, api_key_index=KEY)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "kind,kwargs,field",
    [
        ("cancel_order", dict(market_index=0, order_index=0), "order_index"),
        ("cancel_order", dict(market_index=0, order_index=P.MAX_ORDER_INDEX + 1), "order_index"),
        ("cancel_order", dict(market_index=255, order_index=7), "market_index"),
        ("cancel_order", dict(market_index=2**48, order_index=7), "market_index"),
        ("modify_order", dict(market_index=255, order_index=7, base_amount=1, price=1),
         "market_index"),
        ("modify_order", dict(market_index=0, order_index=7, base_amount=-1, price=1),
         "base_amount"),
        ("modify_order", dict(market_index=0, order_index=7, base_amount=1, price=0), "price"),
        ("modify_order", dict(market_index=0, order_index=7, base_amount=1, price=1,
                              trigger_price=2**32), "trigger_price"),
        ("cancel_all_orders", dict(time_in_force=3, time=0), "time_in_force"),
        ("cancel_all_orders", dict(time_in_force=0, time=5), "time"),
        ("cancel_all_orders", dict(time_in_force=2, time=5), "time"),
        ("cancel_all_orders", dict(time_in_force=1, time=0), "time"),
        ("cancel_all_orders", dict(time_in_force=1, time=2**48), "time"),
    ],
)  # fmt: skip
def test_bad_other_kinds_name_field(
    signer: SdkSigner, kind: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        getattr(signer, "sign_" + kind)(**kwargs, nonce=1, api_key_index=KEY)


PARENT = GroupedOrder(1, 21, 100, 5000, False, 1, 0, order_expiry=0)
SL_CHILD = GroupedOrder(1, 22, 0, 4000, True, 2, 0, True, 4000, E)
TP_CHILD = GroupedOrder(1, 23, 0, 6000, True, 4, 0, True, 6000, E)


@pytest.mark.parametrize(
    "grouping_type,orders,field",
    [
        (0, [PARENT, SL_CHILD], "grouping_type"),
        (1, [PARENT], "orders"),
        (1, [PARENT, SL_CHILD, TP_CHILD], "orders"),
        (1, [PARENT, SL_CHILD._replace(base_amount=5)], r"orders\[1\]\.base_amount"),
        (1, [PARENT, SL_CHILD._replace(is_ask=False)], r"orders\[1\]\.is_ask"),
        (1, [PARENT, SL_CHILD._replace(market_index=2)], r"orders\[1\]\.market_index"),
        (1, [PARENT, SL_CHILD._replace(client_order_index=21)], "client_order_index"),
        (1, [PARENT, SL_CHILD._replace(price=0)], r"orders\[1\]\.price"),
        (1, [SL_CHILD, SL_CHILD._replace(client_order_index=5)], r"orders\[0\]\.order_type"),
        (1, [PARENT._replace(order_type=0, time_in_force=1, order_expiry=E),
             SL_CHILD._replace(order_expiry=E + 1)], r"orders\[1\]\.order_expiry"),
        (2, [SL_CHILD, SL_CHILD._replace(client_order_index=5)], "stop-loss and one take-profit"),
        (2, [SL_CHILD, TP_CHILD._replace(base_amount=5)], r"orders\[1\]\.base_amount"),
        (2, [SL_CHILD, TP_CHILD._replace(is_ask=False)], r"orders\[1\]\.is_ask"),
        (3, [PARENT, SL_CHILD, TP_CHILD._replace(order_expiry=E + 1)], "order_expiry"),
        (3, [PARENT, SL_CHILD, SL_CHILD._replace(client_order_index=5)], "take-profit"),
        (1, [PARENT, {"market_index": 1}], r"orders\[1\]"),
        (1, [PARENT, {**SL_CHILD._asdict(), "colour": 1}], "colour"),
        (1, "ab", "orders"),
    ],
)  # fmt: skip
def test_bad_grouped_orders(signer: SdkSigner, grouping_type: int, orders: Any, field: str) -> None:
    before = S.go_call_count()
    with pytest.raises((ValueError, TypeError), match=field):
        signer.sign_create_grouped_orders(
            grouping_type=grouping_type, orders=orders, nonce=1, api_key_index=KEY
        )
    assert S.go_call_count() == before


def test_grouped_shapes_the_library_accepts(signer: SdkSigner) -> None:
    for grouping_type, orders in [
        (1, [PARENT, SL_CHILD]),
        (2, [SL_CHILD, TP_CHILD]),
        (2, [TP_CHILD._replace(base_amount=10), SL_CHILD._replace(base_amount=10)]),
        (3, [PARENT, SL_CHILD, TP_CHILD]),
        (3, [PARENT._replace(order_type=0, time_in_force=1, order_expiry=-1),
             SL_CHILD._replace(order_expiry=-1), TP_CHILD._replace(order_expiry=-1)]),
    ]:  # fmt: skip
        signed = signer.sign_create_grouped_orders(
            grouping_type=grouping_type, orders=orders, nonce=1, api_key_index=KEY
        )
        info = check_common(signed, 28, nonce=1, account=ACCOUNT, key=KEY)
        assert info["GroupingType"] == grouping_type
        assert [o["ClientOrderIndex"] for o in info["Orders"]] == [o[1] for o in orders]


def test_sign_many_validates_everything_first(signer: SdkSigner) -> None:
    before = S.go_call_count()
    good = ("create_order", limit())
    with pytest.raises(ValueError, match=r"requests\[2\] \(create_order\): price"):
        signer.sign_many([good, good, ("create_order", limit(price=0)), good])
    with pytest.raises(ValueError, match=r"requests\[1\] kind"):
        signer.sign_many([good, ("launch_rocket", {})])
    with pytest.raises(TypeError, match=r"requests\[0\]"):
        signer.sign_many([("create_order",)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"requests\[0\] \(cancel_order\)"):
        signer.sign_many([("cancel_order", {"market_index": 0})])
    assert S.go_call_count() == before


def test_library_errors_become_signer_error(keypair: tuple[str, str]) -> None:
    """What the library itself refuses surfaces as SignerError with the library's text."""
    with SdkSigner(ACCOUNT, {KEY: keypair[0]}) as s:
        worker = s._worker
        with pytest.raises(SignerError, match="OrderPrice should not be less than 1"):
            worker.call(SDK._w_create_order, ACCOUNT, KEY, 1, (0, 7, 1000, 0, 0, 0, 1, 0, 0, -1))
        bad = (SDK._w_create_order, (ACCOUNT, KEY, 1, (0, 7, 1000, 5, 0, 1, 0, 0, 0, E)))
        good = (SDK._w_create_order, (ACCOUNT, KEY, 1, (0, 7, 1000, 5, 0, 0, 1, 0, 0, E)))
        with pytest.raises(SignerError, match=r"request 1: .*OrderExpiry is invalid"):
            worker.call(SDK._w_many, [good, bad])
        # the worker survives the error
        assert s.sign_create_order(**limit()).tx_type == P.TX_TYPE_CREATE_ORDER


@pytest.mark.parametrize(
    "account,keys,exc,field",
    [
        (0, {KEY: "0x" + "11" * 40}, ValueError, "account_index"),
        (2**48 - 1, {KEY: "11" * 40}, ValueError, "account_index"),
        (1, {}, ValueError, "api_keys"),
        (1, {255: "11" * 40}, ValueError, "api_key_index"),
        (1, {KEY: "11" * 39}, ValueError, "api_keys"),
        (1, {KEY: "zz" * 40}, ValueError, "api_keys"),
        (1, {KEY: 1234}, TypeError, "api_keys"),
        ("1", {KEY: "11" * 40}, TypeError, "account_index"),
    ],
)
def test_constructor_validation(account: Any, keys: Any, exc: type, field: str) -> None:
    with pytest.raises(exc, match=field) as info:
        SdkSigner(account, keys)
    for key in keys.values():
        if isinstance(key, str):
            assert key not in str(info.value)
            assert key.removeprefix("0x")[:16] not in str(info.value)


async def test_async_create_validates_and_releases(keypair: tuple[str, str]) -> None:
    base = SDK._worker_users
    with pytest.raises(ValueError, match="api_keys"):
        await SdkSigner.create(ACCOUNT, {KEY: "zz" * 40}, chain_id=304)
    assert SDK._worker_users == base
    s = await SdkSigner.create(ACCOUNT, {KEY: keypair[0]}, base_url=P.TESTNET_URL)
    try:
        assert s.chain_id == P.CHAIN_ID_TESTNET and SDK._worker_users == base + 1
        assert (await s.asign_create_order(**limit())).tx_type == P.TX_TYPE_CREATE_ORDER
    finally:
        s.close()
    assert SDK._worker_users == base


def test_auth_token_validation(signer: SdkSigner) -> None:
    with pytest.raises(ValueError, match="deadline"):
        signer.create_auth_token(0, KEY)
    with pytest.raises(ValueError, match="deadline"):
        signer.create_auth_token(-5, KEY)
    with pytest.raises(TypeError, match="deadline"):
        signer.create_auth_token("1700000000", KEY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_key_index"):
        signer.create_auth_token(1700000000, KEY + 1)
    assert TOKEN_RE.match(signer.create_auth_token(1700000000.0, KEY))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Chain id and the URL given to the library
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,chain",
    [
        (P.MAINNET_URL, 304),
        (P.TESTNET_URL, 300),
        ("https://api.rh.lighter.xyz", 466324),
        ("https://api.rh-testnet.lighter.xyz", 300),
        ("http://127.0.0.1:8080", None),
        (None, None),
    ],
)
def test_chain_id_for_url(url: str | None, chain: int | None) -> None:
    assert S.chain_id_for_url(url) == chain


def test_chain_id_resolution(keypair: tuple[str, str]) -> None:
    with SdkSigner(ACCOUNT, {KEY: keypair[0]}, base_url=P.TESTNET_URL) as s:
        assert s.chain_id == 300
    with SdkSigner(ACCOUNT, {KEY: keypair[0]}, base_url=P.TESTNET_URL, chain_id=304) as s:
        assert s.chain_id == 304
    with SdkSigner(ACCOUNT, {KEY: keypair[0]}, base_url="http://127.0.0.1:1") as s:
        assert s.chain_id == 304  # the SDK's default for an unknown host


def test_signing_makes_no_network_request(keypair: tuple[str, str]) -> None:
    """The library gets base_url but must not connect to it while signing (nonces explicit)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    try:
        with SdkSigner(ACCOUNT, {KEY: keypair[0]}, base_url=url, chain_id=304) as s:
            for kind, _, kwargs in ALL_KINDS:
                getattr(s, "sign_" + kind)(**kwargs)
            s.create_auth_token(int(time.time()) + 60, KEY)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


async def test_discover_chain_id_unreachable_is_node_unreachable() -> None:
    """A node that is not there is NodeUnreachable (naming the URL), not a config problem."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free port, closed again below → connection refused
    with pytest.raises(NodeUnreachable, match=f"127.0.0.1:{port}"):
        await SdkSigner.discover_chain_id(f"http://127.0.0.1:{port}", timeout=2.0)


async def test_discover_chain_id_from_local_node(keypair: tuple[str, str]) -> None:
    testnode = pytest.importorskip("lighterfast.testnode")
    if not hasattr(testnode, "LocalNode"):
        pytest.skip("lighterfast.testnode.LocalNode is not in the repo yet")
    async with testnode.LocalNode(exec_latency_ms=0) as node:
        assert await SdkSigner.discover_chain_id(node.base_url) == node.chain_id
        s = await SdkSigner.create(ACCOUNT, {KEY: keypair[0]}, base_url=node.base_url)
        try:
            assert s.chain_id == node.chain_id
        finally:
            s.close()


# ------------------------------------------------------------------------------------------------
# Secrets never leak into reprs, logs or exception texts
# ------------------------------------------------------------------------------------------------


def test_no_secrets_in_reprs_logs_or_errors(
    keypair: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    private_key = keypair[0]
    secrets: list[str] = [private_key, private_key.removeprefix("0x")]
    texts: list[str] = []
    with SdkSigner(ACCOUNT, {KEY: private_key}) as s:
        texts.append(repr(s))
        signed = s.sign_create_order(**limit())
        many = s.sign_many([("cancel_order", dict(market_index=0, order_index=7, nonce=2,
                                                  api_key_index=KEY))])  # fmt: skip
        token = s.create_auth_token(int(time.time()) + 60, KEY)
        secrets += [json.loads(signed.tx_info)["Sig"], json.loads(many[0].tx_info)["Sig"], token,
                    token.rsplit(":", 1)[1]]  # fmt: skip
        texts += [repr(signed), str(signed), repr(many), f"{signed}"]
        for call in (
            lambda: s.sign_create_order(**limit(price=0)),
            lambda: s.create_auth_token(0, KEY),
            lambda: s._worker.call(SDK._w_create_order, ACCOUNT, KEY, 1,
                                   (0, 7, 1000, 0, 0, 0, 1, 0, 0, -1)),
        ):  # fmt: skip
            with pytest.raises((ValueError, SignerError)) as info:
                call()
            texts.append(str(info.value))
            texts.append(repr(info.value))
    for bad_key in (private_key[:-2], private_key[:-2] + "zz"):
        with pytest.raises(ValueError) as info:
            SdkSigner(ACCOUNT, {KEY: bad_key})
        texts.append(str(info.value))
        secrets.append(bad_key.removeprefix("0x")[:20])
    texts.append(caplog.text)
    assert "signer ready" in caplog.text  # the debug line was really captured
    for text in texts:
        for secret in secrets:
            assert secret not in text
