"""Property test of the node's engine: random order flow keeps the book and ledgers consistent."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lighterfast import protocol as p
from lighterfast.testnode.accounts import AccountRegistry
from lighterfast.testnode.engine import AppError, Engine
from lighterfast.testnode.markets import DEFAULT_MARKETS

ETH = 0
PRICES = st.integers(-10, 10).map(lambda k: 300_000 + 1_000 * k)  # PnL >> rounding

create = st.tuples(
    st.just("create"),
    st.integers(0, 2),  # account
    st.integers(1, 12),  # coi
    st.booleans(),  # is_ask
    PRICES,
    st.integers(1, 50),  # size
    st.sampled_from([p.TIF_GTT, p.TIF_GTT, p.TIF_IOC, p.TIF_POST_ONLY]),
    st.sampled_from([False, False, False, True]),  # reduce-only
)
op = st.one_of(
    create,
    create,
    create,
    create,
    st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(1, 12)),
    st.tuples(st.just("modify"), st.integers(0, 2), st.integers(1, 12), PRICES, st.integers(1, 50)),
    st.tuples(st.just("cancel_all"), st.integers(0, 2)).filter(lambda _: True),
)


def _check(eng: Engine, accounts: list[Any], start_collateral: int) -> None:
    book = eng.books[ETH]
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is None or ask is None or bid < ask, "book crossed"
    for is_ask in (True, False):
        sums: dict[int, int] = {}
        for o in book.orders(is_ask):
            assert o.status == p.STATUS_OPEN and o.remaining_base > 0 and o.is_ask == is_ask
            assert eng.live[o.order_index] is o
            sums[o.price] = sums.get(o.price, 0) + o.remaining_base
        assert dict(book.levels(is_ask)) == sums
    resting = {o.order_index for side in (True, False) for o in book.orders(side)}
    assert resting == {i for i, o in eng.live.items() if o.status == p.STATUS_OPEN}
    for a in accounts:
        n = sum(1 for o in eng.live.values() if o.account_index == a.index)
        assert eng.open_counts.get((a.index, ETH), 0) == n
        assert a.order_margin == sum(
            o.margin for o in eng.live.values() if o.account_index == a.index
        )
        for (acct_index, coi), o in eng.live_by_coi.items():
            assert o.account_index == acct_index and o.coi == coi and o.is_live
    assert sum(a.positions.get(ETH).size for a in accounts if ETH in a.positions) == 0
    # No fees: collateral plus open positions' entry cost is conserved (realised PnL only moves
    # money between accounts). Each partial close rounds its entry share down: <= 1 unit each.
    signed_entry = sum(
        a.positions[ETH].entry_quote * (1 if a.positions[ETH].size > 0 else -1)
        for a in accounts
        if ETH in a.positions and a.positions[ETH].size
    )
    drift = sum(a.collateral for a in accounts) - signed_entry - len(accounts) * start_collateral
    fills = sum(a.trades_count for a in accounts) // 2
    assert abs(drift) <= fills


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=20, max_size=80))
def test_random_flow_keeps_invariants(ops: list[tuple[Any, ...]]) -> None:
    _run(ops)


def _run(ops: list[tuple[Any, ...]], check_every: int = 1) -> list[Any]:
    reg = AccountRegistry()
    eng = Engine(DEFAULT_MARKETS, reg, margin_check=True)
    start = 10**9
    accounts = [reg.create(start) for _ in range(3)]
    now_us = time.time_ns() // 1000
    expiry = now_us // 1000 + 86_400_000
    for i, item in enumerate(ops, 1):
        now_us += 1
        kind = item[0]
        acct = accounts[item[1]]
        try:
            if kind == "create":
                _, _, coi, is_ask, price, size, tif, ro = item
                eng.create_order(
                    acct,
                    {
                        "MarketIndex": ETH,
                        "ClientOrderIndex": coi,
                        "BaseAmount": size,
                        "Price": price,
                        "IsAsk": int(is_ask),
                        "Type": p.ORDER_TYPE_LIMIT,
                        "TimeInForce": tif,
                        "ReduceOnly": int(ro),
                        "TriggerPrice": 0,
                        "OrderExpiry": 0 if tif == p.TIF_IOC else expiry,
                    },
                    now_us,
                )
            elif kind == "cancel":
                eng.cancel_order(acct, ETH, item[2], now_us)
            elif kind == "modify":
                info = {
                    "MarketIndex": ETH,
                    "Index": item[2],
                    "BaseAmount": item[4],
                    "Price": item[3],
                    "TriggerPrice": 0,
                }
                eng.modify_order(acct, info, now_us)
            else:
                eng.cancel_all(acct, {"TimeInForce": 0, "Time": 0}, now_us)
        except AppError:
            pass
        if i % check_every == 0:
            _check(eng, accounts, start)
    _check(eng, accounts, start)
    return accounts


@pytest.mark.parametrize("seed", range(5))
def test_seeded_long_flow_keeps_invariants(seed: int) -> None:
    """Long uniform random flows (hypothesis favours short, simple ones): many fills and closes."""
    rng = random.Random(seed)
    ops: list[tuple[Any, ...]] = []
    for _ in range(600):
        r = rng.random()
        a, coi = rng.randrange(3), rng.randint(1, 12)
        price = 300_000 + 1_000 * rng.randint(-10, 10)
        if r < 0.7:
            tif = rng.choice([p.TIF_GTT, p.TIF_GTT, p.TIF_IOC, p.TIF_POST_ONLY])
            ops.append(("create", a, coi, rng.random() < 0.5, price, rng.randint(1, 50), tif,
                        rng.random() < 0.15))  # fmt: skip
        elif r < 0.85:
            ops.append(("cancel", a, coi))
        elif r < 0.98:
            ops.append(("modify", a, coi, price, rng.randint(1, 50)))
        else:
            ops.append(("cancel_all", a))
    accounts = _run(ops, check_every=10)
    assert sum(a.trades_count for a in accounts) // 2 > 50  # the flow really traded
    assert any(a.positions[ETH].realized_pnl for a in accounts)
