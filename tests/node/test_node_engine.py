"""The node's matching engine in integers: priority, TIFs, reduce-only, modify, expiry, ids."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lighterfast import protocol as p
from lighterfast.testnode.accounts import AccountRegistry
from lighterfast.testnode.book import SEQ_TOP
from lighterfast.testnode.engine import AppError, Engine
from lighterfast.testnode.markets import DEFAULT_MARKETS

ETH = 0
DAY_MS = 86_400_000


def _order(**kw: Any) -> dict[str, Any]:
    o = {
        "MarketIndex": ETH,
        "ClientOrderIndex": 0,
        "BaseAmount": 100,
        "Price": 300_000,
        "IsAsk": 0,
        "Type": p.ORDER_TYPE_LIMIT,
        "TimeInForce": p.TIF_GTT,
        "ReduceOnly": 0,
        "TriggerPrice": 0,
        "OrderExpiry": int(time.time() * 1000) + DAY_MS,
    }
    o.update(kw)
    if o["TimeInForce"] == p.TIF_IOC:
        o["OrderExpiry"] = 0
    return o


class World:
    """An engine with three funded accounts."""

    def __init__(self, margin_check: bool = True) -> None:
        self.reg = AccountRegistry()
        self.eng = Engine(DEFAULT_MARKETS, self.reg, margin_check=margin_check)
        self.a, self.b, self.c = (self.reg.create(10**12) for _ in range(3))
        self.t = 1_000_000

    def now(self) -> int:
        self.t += 1
        return self.t

    def create(self, acct: Any, **kw: Any) -> Any:
        return self.eng.create_order(acct, _order(**kw), self.now())

    def book(self) -> Any:
        return self.eng.books[ETH]


@pytest.fixture
def w() -> World:
    return World()


def test_order_index_layout_asks_up_bids_down(w: World) -> None:
    ask1 = w.create(w.a, IsAsk=1, Price=310_000)
    ask2 = w.create(w.a, IsAsk=1, Price=311_000)
    bid1 = w.create(w.a, Price=290_000)
    bid2 = w.create(w.a, Price=289_000)
    assert ask1.order_index == (1 << 48) | 1 and ask2.order_index == (1 << 48) | 2
    assert bid1.order_index == (1 << 48) | (SEQ_TOP - 1)
    assert bid2.seq == SEQ_TOP - 2
    btc = w.eng.create_order(w.a, _order(MarketIndex=1, Price=600_000), w.now())
    assert btc.order_index >> 48 == 2
    assert all(o.order_index >= p.MIN_ORDER_INDEX for o in (ask1, bid1, btc))


def test_price_time_priority_and_partial_fills(w: World) -> None:
    first = w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=50)
    second = w.create(w.b, IsAsk=1, Price=300_000, BaseAmount=50)
    better = w.create(w.b, IsAsk=1, Price=299_900, BaseAmount=30)
    w.eng.take_changes()
    taker = w.create(w.c, Price=300_000, BaseAmount=100)
    ch = w.eng.take_changes()
    assert [(t.maker.order_index, t.size, t.price) for t in ch.trades] == [
        (better.order_index, 30, 299_900),
        (first.order_index, 50, 300_000),
        (second.order_index, 20, 300_000),
    ]
    assert taker.status == p.STATUS_FILLED and first.status == p.STATUS_FILLED
    assert second.status == p.STATUS_OPEN and second.remaining_base == 30
    assert w.book().levels(True) == [(300_000, 30)]
    assert w.a.positions[ETH].size == -50 and w.c.positions[ETH].size == 100


def test_ioc_remainder_is_canceled_and_never_rests(w: World) -> None:
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=40)
    ioc = w.create(w.b, Price=300_000, BaseAmount=100, TimeInForce=p.TIF_IOC)
    assert ioc.status == p.STATUS_CANCELED and ioc.filled_base == 40
    assert w.book().levels(False) == [] and w.book().levels(True) == []


def test_market_order_respects_worst_price(w: World) -> None:
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=10)
    w.create(w.a, IsAsk=1, Price=305_000, BaseAmount=10)
    mkt = w.create(
        w.b, Type=p.ORDER_TYPE_MARKET, TimeInForce=p.TIF_IOC, Price=301_000, BaseAmount=20
    )
    assert mkt.filled_base == 10 and mkt.status == p.STATUS_CANCELED
    none = w.create(
        w.c, Type=p.ORDER_TYPE_MARKET, TimeInForce=p.TIF_IOC, Price=301_000, BaseAmount=5
    )
    assert none.status == p.STATUS_CANCELED_TOO_MUCH_SLIPPAGE
    empty = w.create(
        w.c, Type=p.ORDER_TYPE_MARKET, TimeInForce=p.TIF_IOC, IsAsk=0, MarketIndex=2, Price=1
    )
    assert empty.status == p.STATUS_CANCELED_NOT_ENOUGH_LIQUIDITY


def test_post_only_cross_is_canceled(w: World) -> None:
    w.create(w.a, IsAsk=1, Price=300_000)
    po = w.create(w.b, Price=300_000, TimeInForce=p.TIF_POST_ONLY)
    assert po.status == p.STATUS_CANCELED_POST_ONLY and po.filled_base == 0
    ok = w.create(w.b, Price=299_999, TimeInForce=p.TIF_POST_ONLY)
    assert ok.status == p.STATUS_OPEN


def test_reduce_only_caps_to_position_and_refuses_increase(w: World) -> None:
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=30)
    w.create(w.b, Price=300_000, BaseAmount=30, TimeInForce=p.TIF_IOC)  # b long 30
    with pytest.raises(AppError) as exc:
        w.create(w.b, Price=300_000, BaseAmount=10, ReduceOnly=1)  # buy more: increases
    assert exc.value.code == p.ERR_REDUCE_ONLY_INCREASES
    w.create(w.c, Price=299_000, BaseAmount=100)
    ro = w.create(w.b, IsAsk=1, Price=299_000, BaseAmount=100, ReduceOnly=1)
    assert ro.filled_base == 30 and ro.status == p.STATUS_FILLED
    assert w.b.positions[ETH].size == 0


def test_pnl_realised_into_collateral(w: World) -> None:
    before = w.b.collateral
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=10_000)  # 1 ETH at 3000
    w.create(w.b, Price=300_000, BaseAmount=10_000, TimeInForce=p.TIF_IOC)
    w.create(w.c, Price=310_000, BaseAmount=10_000)
    w.create(w.b, IsAsk=1, Price=310_000, BaseAmount=10_000, TimeInForce=p.TIF_IOC)
    assert w.b.collateral - before == 100 * 10**6  # +100 USDC
    assert w.b.positions[ETH].realized_pnl == 100 * 10**6


def test_margin_check_and_switch() -> None:
    w = World()
    w.a.collateral = 10 * 10**6  # 10 USDC: 5 % of 3000 * 0.01 = 1.5 USDC fits, 1 ETH does not
    w.create(w.a, BaseAmount=100)
    with pytest.raises(AppError) as exc:
        w.create(w.a, BaseAmount=10_000)
    assert exc.value.code == p.ERR_NOT_ENOUGH_MARGIN
    off = World(margin_check=False)
    off.a.collateral = 0
    assert off.create(off.a, BaseAmount=10_000).status == p.STATUS_OPEN


def test_duplicate_live_coi_and_reuse_after_terminal(w: World) -> None:
    o = w.create(w.a, ClientOrderIndex=77)
    with pytest.raises(AppError) as exc:
        w.create(w.a, ClientOrderIndex=77, Price=299_000)
    assert exc.value.code == p.ERR_COI_EXISTS
    w.create(w.b, ClientOrderIndex=77, Price=280_000)  # another account may use it
    w.eng.cancel_order(w.a, ETH, 77, w.now())
    assert o.status == p.STATUS_CANCELED
    again = w.create(w.a, ClientOrderIndex=77)
    assert again.status == p.STATUS_OPEN and again.order_index != o.order_index


def test_cancel_by_order_index_and_unknown(w: World) -> None:
    o = w.create(w.a, ClientOrderIndex=5)
    with pytest.raises(AppError) as exc:
        w.eng.cancel_order(w.b, ETH, o.order_index, w.now())  # not the owner
    assert exc.value.code == p.ERR_ORDER_NOT_OWNED
    w.eng.cancel_order(w.a, ETH, o.order_index, w.now())
    assert o.status == p.STATUS_CANCELED
    with pytest.raises(AppError) as exc:
        w.eng.cancel_order(w.a, ETH, o.order_index, w.now())
    assert exc.value.code == p.ERR_NOT_ACTIVE_ORDER


def test_modify_keeps_priority_only_on_size_cut(w: World) -> None:
    first = w.create(w.a, IsAsk=1, ClientOrderIndex=1, BaseAmount=50)
    w.create(w.b, IsAsk=1, ClientOrderIndex=2, BaseAmount=50)
    mod = {"MarketIndex": ETH, "Index": 1, "BaseAmount": 20, "Price": 300_000, "TriggerPrice": 0}
    w.eng.modify_order(w.a, mod, w.now())
    assert w.book().orders(True)[0] is first and first.remaining_base == 20
    mod["BaseAmount"] = 60  # size up: back of the queue
    w.eng.modify_order(w.a, mod, w.now())
    assert w.book().orders(True)[-1] is first
    assert w.book().levels(True) == [(300_000, 110)]
    mod.update(Price=290_000, BaseAmount=10)  # price through the bid side? no bids: rests
    w.eng.modify_order(w.a, mod, w.now())
    assert w.book().levels(True) == [(290_000, 10), (300_000, 50)]
    assert first.order_version == 3


def test_modify_into_cross_trades(w: World) -> None:
    w.create(w.b, Price=295_000, BaseAmount=10)
    ask = w.create(w.a, IsAsk=1, ClientOrderIndex=9, BaseAmount=10)
    mod = {"MarketIndex": ETH, "Index": 9, "BaseAmount": 10, "Price": 295_000, "TriggerPrice": 0}
    w.eng.modify_order(w.a, mod, w.now())
    assert ask.status == p.STATUS_FILLED


def test_self_trade_expires_the_maker(w: World) -> None:
    maker = w.create(w.a, IsAsk=1, BaseAmount=10)
    other = w.create(w.b, IsAsk=1, Price=300_100, BaseAmount=10)
    taker = w.create(w.a, Price=300_100, BaseAmount=10)
    assert maker.status == p.STATUS_CANCELED_SELF_TRADE
    assert taker.status == p.STATUS_FILLED and other.status == p.STATUS_FILLED


def test_expiry_and_scheduled_cancel_all(w: World) -> None:
    now_ms = int(time.time() * 1000)
    o = w.create(w.a, OrderExpiry=now_ms + 1000)
    keep = w.create(w.b, Price=290_000)
    w.eng.sweep(now_ms)
    assert o.status == p.STATUS_OPEN
    w.eng.sweep(now_ms + 1000)
    assert o.status == p.STATUS_CANCELED_EXPIRED and keep.status == p.STATUS_OPEN
    w.eng.cancel_all(w.b, {"TimeInForce": p.CANCEL_ALL_SCHEDULE, "Time": now_ms + 5000}, w.now())
    w.eng.sweep(now_ms + 4000)
    assert keep.status == p.STATUS_OPEN
    w.eng.sweep(now_ms + 5000)
    assert keep.status == p.STATUS_CANCELED


def test_cancel_all_one_market(w: World) -> None:
    eth = w.create(w.a)
    btc = w.eng.create_order(w.a, _order(MarketIndex=1, Price=600_000), w.now())
    info = {"TimeInForce": 0, "Time": 0, "L2TxAttributes": {p.ATTR_CANCEL_ALL_MARKET: 1}}
    w.eng.cancel_all(w.a, info, w.now())
    assert btc.status == p.STATUS_CANCELED and eth.status == p.STATUS_OPEN


def test_stop_loss_triggers_on_last_trade(w: World) -> None:
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=10)
    w.create(w.b, Price=300_000, BaseAmount=10, TimeInForce=p.TIF_IOC)  # b long 10
    sl = w.create(
        w.b,
        IsAsk=1,
        Type=p.ORDER_TYPE_STOP_LOSS,
        TimeInForce=p.TIF_IOC,
        TriggerPrice=295_000,
        Price=280_000,
        BaseAmount=10,
        ReduceOnly=1,
        OrderExpiry=int(time.time() * 1000) + DAY_MS,
    )
    assert sl.status == p.STATUS_PENDING
    w.create(w.c, Price=294_000, BaseAmount=20)  # resting bid the stop will hit
    w.create(w.a, IsAsk=1, Price=294_000, BaseAmount=5, TimeInForce=p.TIF_IOC)  # trade at 2940
    w.eng.run_triggers(ETH, w.now())
    assert sl.status == p.STATUS_FILLED and w.b.positions[ETH].size == 0


def test_book_nonce_chain_and_pending_levels(w: World) -> None:
    book = w.book()
    assert book.nonce == 0
    w.create(w.a, Price=290_000)
    w.create(w.a, Price=290_000)
    touched = book.take_pending()
    assert touched == [(False, 290_000, 200)]
    n1 = book.nonce
    assert n1 >= 2
    o = w.create(w.a, Price=291_000)
    w.eng.cancel_order(w.a, ETH, o.order_index, w.now())
    assert book.take_pending() == [(False, 291_000, 0)]  # deleted level is sent as zero
    assert book.nonce > n1


def test_coi_memo_is_bounded_and_keeps_live_orders(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lighterfast.testnode.engine as engine_mod

    monkeypatch.setattr(engine_mod, "MAX_COI_MEMO", 10)
    live = w.create(w.a, ClientOrderIndex=1, Price=200_000)
    for coi in range(2, 30):
        w.create(w.a, ClientOrderIndex=coi, Price=200_000, TimeInForce=p.TIF_IOC)
    memo = w.eng.by_coi_any
    assert len(memo) <= 10
    assert memo[(w.a.index, 1)] is live and (w.a.index, 29) in memo


def test_open_order_counts_follow_the_book(w: World) -> None:
    def brute(acct: Any) -> int:
        return sum(
            1 for o in w.eng.live.values() if o.account_index == acct.index and o.status == "open"
        )

    w.create(w.a, IsAsk=1, ClientOrderIndex=1, BaseAmount=10)
    w.create(w.a, IsAsk=1, ClientOrderIndex=2, Price=300_100, BaseAmount=10)
    w.create(w.b, ClientOrderIndex=3, Price=290_000)
    assert w.eng.open_counts[(w.a.index, ETH)] == brute(w.a) == 2
    w.create(w.c, Price=300_000, BaseAmount=5, TimeInForce=p.TIF_IOC)  # partial: still open
    assert w.eng.open_counts[(w.a.index, ETH)] == 2
    w.create(w.c, Price=300_100, BaseAmount=15, TimeInForce=p.TIF_IOC)  # fills both
    mod = {"MarketIndex": ETH, "Index": 3, "BaseAmount": 50, "Price": 291_000, "TriggerPrice": 0}
    w.eng.modify_order(w.b, mod, w.now())
    assert w.eng.open_counts[(w.a.index, ETH)] == brute(w.a) == 0
    assert w.eng.open_counts[(w.b.index, ETH)] == brute(w.b) == 1
    w.eng.cancel_all(w.b, {"TimeInForce": 0, "Time": 0}, w.now())
    assert w.eng.open_counts[(w.b.index, ETH)] == 0


def _grouped(grouping: int, *orders: dict[str, Any]) -> dict[str, Any]:
    return {"GroupingType": grouping, "Orders": list(orders)}


def _trigger_leg(order_type: int, trigger: int, is_ask: int = 1, **kw: Any) -> dict[str, Any]:
    leg = _order(
        Type=order_type,
        TimeInForce=p.TIF_IOC,
        TriggerPrice=trigger,
        Price=trigger,
        IsAsk=is_ask,
        ReduceOnly=1,
        BaseAmount=0,
    )
    leg["OrderExpiry"] = int(time.time() * 1000) + DAY_MS
    leg.update(kw)
    return leg


def test_oto_child_waits_for_parent_fill_then_protects_position(w: World) -> None:
    w.eng.create_grouped(
        w.b,
        _grouped(
            1,
            _order(ClientOrderIndex=10, Price=300_000, BaseAmount=20),
            _trigger_leg(p.ORDER_TYPE_STOP_LOSS, 290_000, ClientOrderIndex=11, Price=250_000),
        ),
        w.now(),
    )
    parent = w.eng.find_order(w.b.index, 10)
    child = w.eng.find_order(w.b.index, 11)
    assert parent is not None and child is not None
    assert parent.status == p.STATUS_OPEN and child.status == p.STATUS_PENDING
    assert child.trigger_status == "parent-order" and child.parent_order_index == parent.order_index
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=20, TimeInForce=p.TIF_IOC)  # fills parent
    assert parent.status == p.STATUS_FILLED and child.trigger_status == "mark-price"
    w.create(w.c, Price=289_000, BaseAmount=50)
    w.create(w.a, IsAsk=1, Price=289_000, BaseAmount=5, TimeInForce=p.TIF_IOC)  # trade at 2890
    w.eng.run_triggers(ETH, w.now())
    assert child.status == p.STATUS_FILLED and child.filled_base == 20
    assert w.b.positions[ETH].size == 0


def test_oto_child_is_canceled_with_its_parent(w: World) -> None:
    w.eng.create_grouped(
        w.b,
        _grouped(
            1,
            _order(ClientOrderIndex=20, Price=300_000, BaseAmount=20),
            _trigger_leg(p.ORDER_TYPE_TAKE_PROFIT, 320_000, ClientOrderIndex=21),
        ),
        w.now(),
    )
    w.eng.cancel_order(w.b, ETH, 20, w.now())
    child = w.eng.by_coi_any[(w.b.index, 21)]
    assert child.status == p.STATUS_CANCELED_CHILD and w.eng.find_order(w.b.index, 21) is None


def test_oco_one_leg_triggers_the_other_is_canceled(w: World) -> None:
    w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=20)
    w.create(w.b, Price=300_000, BaseAmount=20, TimeInForce=p.TIF_IOC)  # b long 20
    w.eng.create_grouped(
        w.b,
        _grouped(
            2,
            _trigger_leg(p.ORDER_TYPE_TAKE_PROFIT, 310_000, ClientOrderIndex=31, BaseAmount=20),
            _trigger_leg(p.ORDER_TYPE_STOP_LOSS, 290_000, ClientOrderIndex=32, BaseAmount=20),
        ),
        w.now(),
    )
    tp = w.eng.find_order(w.b.index, 31)
    sl = w.eng.find_order(w.b.index, 32)
    assert tp is not None and sl is not None and tp.status == sl.status == p.STATUS_PENDING
    w.create(w.c, Price=311_000, BaseAmount=40)
    w.create(w.a, IsAsk=1, Price=311_000, BaseAmount=5, TimeInForce=p.TIF_IOC)  # trade at 3110
    w.eng.run_triggers(ETH, w.now())
    assert tp.status == p.STATUS_FILLED and sl.status == p.STATUS_CANCELED_OCO
    assert w.b.positions[ETH].size == 0


@pytest.mark.parametrize(
    ("mode", "maker_status", "taker_status"),
    [
        (0, p.STATUS_CANCELED_SELF_TRADE, p.STATUS_FILLED),
        (1, p.STATUS_OPEN, p.STATUS_CANCELED_SELF_TRADE),
        (2, p.STATUS_CANCELED_SELF_TRADE, p.STATUS_CANCELED_SELF_TRADE),
    ],
)
def test_self_trade_modes(w: World, mode: int, maker_status: str, taker_status: str) -> None:
    own = w.create(w.a, IsAsk=1, Price=300_000, BaseAmount=10)
    other = w.create(w.b, IsAsk=1, Price=300_100, BaseAmount=10)
    attrs = {p.ATTR_SELF_TRADE_BEHAVIOUR: mode} if mode else None
    taker = w.create(w.a, Price=300_100, BaseAmount=10, L2TxAttributes=attrs)
    assert (own.status, taker.status) == (maker_status, taker_status)
    assert other.status == (p.STATUS_FILLED if mode == 0 else p.STATUS_OPEN)
