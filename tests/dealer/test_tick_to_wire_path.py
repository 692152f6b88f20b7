"""The tick-to-wire shortcuts keep behaviour: the flush signs the row checked at enqueue, the
lane hold is a plain context manager, the send takes its budget without a coroutine when it
is there; against the local node and the real limiter."""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import make_dealer, node_nonce
from lighterfast.core import WeightLimiter
from lighterfast.dealer.nonces import NonceManager
from lighterfast.signing import validate_create_order
from lighterfast.testnode import LocalNode
from lighterfast.transport.rest import RestClient

pytestmark = pytest.mark.timeout(60)


async def test_flush_signs_the_row_checked_at_enqueue(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        before = node_nonce(node, funded_account)
        res = await dealer.create_limit_order(2999.5, 0.006)
        (intent,) = dealer._queue
        assert intent.row == validate_create_order(**intent.kwargs)
        (out,) = await dealer.flush()
        assert out["status"] == "accepted"
        assert out["client_order_index"] == res["client_order_index"]
        assert out["nonce"] == before and isinstance(out["tx_hash"], str) and out["tx_hash"]
        assert node_nonce(node, funded_account) == before + 1


async def test_sdk_signer_signs_the_same_rows_through_its_worker(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account, signer="sdk") as dealer:
        assert not dealer.signer.signs_inline
        await dealer.create_limit_order(2999.5, 0.006)
        await dealer.create_limit_order(2999.0, -0.006)
        results = await dealer.flush()
        assert [r["status"] for r in results] == ["accepted", "accepted"]
        assert results[1]["nonce"] == results[0]["nonce"] + 1


async def test_batch_cancel_and_create_rows_signed(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        assert dealer.signer.signs_inline
        first = await dealer.create_limit_order(2999.5, 0.006)
        await dealer.flush()
        results = await dealer.batch_cancel_and_create(
            [first["client_order_index"]], [(2998.0, 0.006)]
        )
        assert [r["status"] for r in results] == ["accepted", "accepted"]


async def test_hold_releases_the_lane_and_records_on_error() -> None:
    async def fetch(key: int) -> int:
        return 40

    manager = NonceManager([3], fetch)
    lane = manager.lanes[3]
    heard: list[tuple[int, int]] = []
    lane.recorder = lambda key, nonce: heard.append((key, nonce))
    with pytest.raises(RuntimeError):
        async with manager.hold(3) as held:
            assert held is lane and lane.lock.locked()
            assert await lane.take(2) == 40
            raise RuntimeError("boom")
    assert not lane.lock.locked() and heard == [(3, 41)]
    with pytest.raises(ValueError, match="not one of"):
        manager.hold(4)


async def test_try_acquire_now_takes_only_what_fits() -> None:
    limiter = WeightLimiter(12, 60.0)
    rest = RestClient("http://127.0.0.1:9", limiter=limiter, standard_account=False)
    try:
        cost = rest.cost("sendTxBatch")
        taken = 0
        while rest.try_acquire_now("sendTxBatch"):
            taken += 1
        assert taken == 12 // cost
        assert limiter.available() == 12 - taken * cost  # a refusal takes nothing
    finally:
        await rest.close()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"is_ask": True, "reduce_only": True, "base_amount": 0},
        {"time_in_force": 2},
        {"market_index": 254, "client_order_index": 0, "price": 1},
        {"client_order_index": 2**48 - 1, "base_amount": 2**48 - 1, "price": 2**32 - 1},
    ],
)
def test_create_check_shortcut_returns_what_the_field_checks_return(fields: dict[str, Any]) -> None:
    """Plain bools take the one-expression path; the ints 0/1 take the field-by-field one."""
    base: dict[str, Any] = {
        "market_index": 0, "client_order_index": 77, "base_amount": 10, "price": 3000,
        "is_ask": False, "order_type": 0, "time_in_force": 1, "reduce_only": False,
    }  # fmt: skip
    base.update(fields)
    slow = {**base, "is_ask": int(base["is_ask"]), "reduce_only": int(base["reduce_only"])}
    assert validate_create_order(**base) == validate_create_order(**slow)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"base_amount": 0}, "base_amount"),
        ({"market_index": 255}, "market_index"),
        ({"price": 0}, "price"),
        ({"client_order_index": 2**48}, "client_order_index"),
        ({"time_in_force": 0}, "order_expiry"),
    ],
)
def test_create_check_shortcut_refuses_like_the_field_checks(
    fields: dict[str, Any], match: str
) -> None:
    base: dict[str, Any] = {
        "market_index": 0, "client_order_index": 77, "base_amount": 10, "price": 3000,
        "is_ask": False, "order_type": 0, "time_in_force": 1, "reduce_only": False,
    }  # fmt: skip
    with pytest.raises(ValueError, match=match):
        validate_create_order(**{**base, **fields})


async def test_take_synced_only_when_take_needs_no_io() -> None:
    async def fetch(key: int) -> int:
        return 7

    lane = NonceManager([1], fetch).lanes[1]
    assert lane.take_synced(1) is None and lane.next_nonce is None  # unsynced: take() syncs
    assert await lane.take(1) == 7
    assert lane.take_synced(2) == 8 and lane.take_synced(1) == 10 and lane.next_nonce == 11
    assert lane.take_synced(0) is None and lane.take_synced(True) is None
    lane.guard = object()  # a fleet lease: take() checks it, the shortcut never runs
    assert lane.take_synced(1) is None and lane.next_nonce == 11
