"""LighterDealer against the local node over loopback: every contract method, its errors, and
the node's state (orders, nonces, positions) after each step."""

from __future__ import annotations

import math
import warnings
from decimal import Decimal
from typing import Any

import pytest

from _helpers import eventually, make_dealer, node_nonce
from lighterfast.errors import LighterError, MarketNotFound, OrderNotFoundByCoi
from lighterfast.testnode import LocalNode
from lighterfast.ws import WsInfo

pytestmark = pytest.mark.timeout(60)


# --- the seed quickstart -------------------------------------------------------------------------


@pytest.mark.parametrize("use_ws", [True, False], ids=["ws", "rest"])
async def test_quickstart_flow(node: LocalNode, funded_account: Any, use_ws: bool) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, use_ws=use_ws) as dealer:
        assert (dealer._ws is not None) == use_ws
        res = await dealer.create_limit_order(price=3000.05, size=+0.005)
        coi = res["client_order_index"]
        assert 0 < coi < 2**48 and res["side"] == "buy" and res["price"] == 3000.05
        assert node_nonce(node, funded_account) == 0  # queued only
        results = await dealer.flush()
        assert [r["accepted"] for r in results] == [True]
        assert results[0]["client_order_index"] == coi and len(results[0]["tx_hash"]) > 0
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        assert order["status"] == "open" and order["base_price"] == 300005
        assert order["base_size"] == 50 and order["is_ask"] is False

        await dealer.update_order_by_coi(coi, price=2999.99, quantity=0.006)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: node.state.order_by_coi(acc, coi)["base_price"] == 299999)
        assert node.state.order_by_coi(acc, coi)["base_size"] == 60

        await dealer.cancel_order_by_coi(coi)
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: node.state.order_by_coi(acc, coi)["status"] == "canceled")
        assert node_nonce(node, funded_account) == 3
        assert not [o for o in node.state.orders.values() if o["owner_account_index"] == acc]


# --- orders, sides, market orders, positions -------------------------------------------------


async def test_sell_order_and_update_keeps_unset_fields(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        coi = (await dealer.create_limit_order("3500.10", "-0.0123"))["client_order_index"]
        await dealer.flush()
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        assert (
            order["is_ask"] is True and order["base_size"] == 123 and order["base_price"] == 350010
        )
        await dealer.update_order_by_coi(coi, price=3499.5)  # quantity None: keep 0.0123
        await dealer.flush()
        await eventually(lambda: node.state.order_by_coi(acc, coi)["base_price"] == 349950)
        assert node.state.order_by_coi(acc, coi)["base_size"] == 123
        await dealer.update_order_by_coi(coi, quantity=-0.02)  # price None: keep 3499.50
        await dealer.flush()
        await eventually(lambda: node.state.order_by_coi(acc, coi)["base_size"] == 200)
        assert node.state.order_by_coi(acc, coi)["base_price"] == 349950
        with pytest.raises(ValueError, match="quantity"):
            await dealer.update_order_by_coi(coi, quantity=0)


async def test_market_orders_and_positions(node: LocalNode) -> None:
    maker = await node.create_account(collateral=1_000_000)
    taker = await node.create_account(collateral=1_000_000)
    async with (
        await make_dealer(node, maker) as mdealer,
        await make_dealer(node, taker) as tdealer,
    ):
        await mdealer.create_limit_order(3000.0, -0.05)  # ask
        await mdealer.create_limit_order(2990.0, +0.05)  # bid
        await mdealer.flush()
        await eventually(lambda: len(node.state.books[0]["asks"]) == 1)

        # explicit worst price
        res = await tdealer.create_market_order(+0.02, avg_execution_price=3010)
        assert res["type"] == "market" and res["time_in_force"] == "immediate-or-cancel"
        assert (await tdealer.flush())[0]["accepted"]
        await eventually(
            lambda: node.state.positions.get((taker.account_index, 0), {}).get("size") == 200
        )
        # worst price from the REST book + slippage (no price source configured)
        res = await tdealer.create_market_order(-0.01)
        assert res["price"] == pytest.approx(2990.0 * 0.99, abs=0.01)
        await tdealer.flush()
        await eventually(
            lambda: node.state.positions.get((taker.account_index, 0), {}).get("size") == 100
        )
        position = await tdealer.fetch_my_position()
        assert position["size"] == pytest.approx(0.01) and position["side"] == "long"
        maker_pos = await mdealer.fetch_my_position("ETH")
        assert maker_pos["size"] == pytest.approx(-0.01)
        flat = await tdealer.fetch_my_position("BTC")
        assert flat["size"] == 0.0 and flat["side"] == "flat"


async def test_market_order_without_any_price_fails_before_sending(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        with pytest.raises(LighterError, match="avg_execution_price"):
            await dealer.create_market_order(+0.01)
        assert dealer.queued == 0
    assert node_nonce(node, funded_account) == 0


# --- batches -----------------------------------------------------------------------------------


async def test_batch_context_sends_once_and_discards_on_error(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        async with dealer.batch():
            a = await dealer._enqueue_limit(3001.0, +0.005)
            b = await dealer.create_limit_order(3998.0, -0.005)
            assert dealer.queued == 0  # held by the batch until exit
        assert dealer.stats["sent_batches"] == 1
        assert [r["client_order_index"] for r in dealer.last_batch_results] == [
            a["client_order_index"],
            b["client_order_index"],
        ]
        assert node_nonce(node, funded_account) == 2
        for coi in (a["client_order_index"], b["client_order_index"]):
            await eventually(lambda c=coi: node.state.order_by_coi(acc, c))

        with pytest.raises(RuntimeError):
            async with dealer.batch():
                c = await dealer.create_limit_order(3002.0, +0.005)
                raise RuntimeError("strategy failed")
        assert dealer.queued == 0
        assert await dealer.flush() == []
        assert node_nonce(node, funded_account) == 2
        with pytest.raises(OrderNotFoundByCoi):
            await dealer.cancel_order_by_coi(c["client_order_index"])


async def test_batch_cancel_and_create_is_one_send(node: LocalNode, funded_account: Any) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        coi1 = (await dealer.create_limit_order(3000.00, +0.005))["client_order_index"]
        coi2 = (await dealer.create_limit_order(3700.00, -0.005))["client_order_index"]
        await dealer.flush()
        await eventually(lambda: node.state.order_by_coi(acc, coi2))
        sent = dealer.stats["sent_batches"]
        result = await dealer.batch_cancel_and_create(
            cancel_client_order_indices=[coi1, coi2],
            new_limit_orders=[(3123.45, +0.005), (3650.00, -0.005)],
        )
        assert dealer.stats["sent_batches"] == sent + 1
        assert [r["action"] for r in result] == ["cancel", "cancel", "create", "create"]
        assert all(r["accepted"] for r in result)
        assert len({r["nonce"] for r in result}) == 4
        new = [r["client_order_index"] for r in result[2:]]
        await eventually(lambda: node.state.order_by_coi(acc, coi1)["status"] == "canceled")
        await eventually(lambda: node.state.order_by_coi(acc, new[1]))
        assert node.state.order_by_coi(acc, coi2)["status"] == "canceled"
        assert node.state.order_by_coi(acc, new[0])["base_price"] == 312345

        # one bad order: nothing is sent at all
        nonce = node_nonce(node, funded_account)
        with pytest.raises(ValueError, match="size"):
            await dealer.batch_cancel_and_create(
                cancel_client_order_indices=[new[0]], new_limit_orders=[(3000, 0)]
            )
        with pytest.raises(OrderNotFoundByCoi):
            await dealer.batch_cancel_and_create(
                cancel_client_order_indices=[12345], new_limit_orders=[(3000, 0.01)]
            )
        assert node_nonce(node, funded_account) == nonce
        assert node.state.order_by_coi(acc, new[0])["status"] == "open"


async def test_flush_splits_at_max_ws_batch(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account, max_ws_batch=4) as dealer:
        for i in range(10):
            await dealer.create_limit_order(2000 + i, +0.005)
        results = await dealer.flush()
        assert len(results) == 10 and all(r["accepted"] for r in results)
        assert [r["nonce"] for r in results] == list(range(10))
        assert dealer.stats["sent_batches"] == 3
        await eventually(lambda: len(node.state.orders) == 10)


# --- bad input: named error, nothing sent -----------------------------------------------------


@pytest.mark.parametrize(
    ("price", "size", "error", "match"),
    [
        (3000.0, math.nan, ValueError, "size"),
        (math.nan, 0.01, ValueError, "price"),
        (math.inf, 0.01, ValueError, "price"),
        (3000.0, 0, ValueError, "size"),
        (3000.0, "0", ValueError, "size"),
        (-3000.0, 0.01, ValueError, "price"),
        (0, 0.01, ValueError, "price"),
        (3000.0, 0.00001, ValueError, "size"),  # too many decimals: rounds to 0
        (50_000_000.0, 0.01, ValueError, "price"),  # 5e9 > uint32 at 2 decimals
        (3000.0, 10**11, ValueError, "size"),  # > 2^48-1 at 4 decimals
        (3000.0, 0.001, ValueError, "minimum"),  # below ETH min base 0.0050
        ("abc", 0.01, ValueError, "price"),
        (3000.0, True, TypeError, "size"),
        (None, 0.01, TypeError, "price"),
    ],
)
async def test_bad_input_raises_and_sends_nothing(
    node: LocalNode, funded_account: Any, price: Any, size: Any, error: type, match: str
) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        with pytest.raises(error, match=match):
            await dealer.create_limit_order(price, size)
        assert dealer.queued == 0
        assert await dealer.flush() == []
    assert node_nonce(node, funded_account) == 0
    assert not node.state.orders


@pytest.mark.parametrize("garbage", ["no", "", 2, 0.5, None, [1], float("nan")])
async def test_flags_and_market_indexes_refuse_garbage(
    node: LocalNode, funded_account: Any, garbage: Any
) -> None:
    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        with pytest.raises(TypeError, match="post_only"):
            await dealer.create_limit_order(3000.0, 0.01, post_only=garbage)
        with pytest.raises(TypeError, match="reduce_only"):
            await dealer.create_limit_order(3000.0, 0.01, reduce_only=garbage)
        with pytest.raises(TypeError, match="reduce_only"):
            await dealer.create_market_order(0.01, 3000.0, reduce_only=garbage)
        if garbage is not None and garbage != 2:  # None: this market; 2: a valid index
            with pytest.raises((TypeError, ValueError), match="market_index"):
                await dealer.fetch_open_orders(garbage)
        for bad_market in (True, float("inf"), -1, 255, 2**48, "0"):
            with pytest.raises((TypeError, ValueError), match="market_index"):
                await dealer.fetch_open_orders(bad_market)
            with (
                pytest.raises((TypeError, ValueError), match="market_index"),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", DeprecationWarning)
                await dealer.cancel_order(2**48 + 5, bad_market)
        for name in ("cancel_client_order_indices", "new_limit_orders"):
            with pytest.raises(TypeError, match=name):
                await dealer.batch_cancel_and_create(**{name: garbage if garbage != [1] else "x"})
        assert dealer.queued == 0
        ok = await dealer.create_limit_order(3000.0, 0.01, post_only=1, reduce_only=0)
        assert ok["time_in_force"] == "post-only" and ok["reduce_only"] is False
    assert node_nonce(node, funded_account) == 1  # only the valid order was sent


async def test_exact_rounding_refuses_extra_decimals(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account, rounding="exact") as dealer:
        with pytest.raises(ValueError, match="more decimals"):
            await dealer.create_limit_order(3000.055, 0.01)
        res = await dealer.create_limit_order(Decimal("3000.05"), 0.01)
        assert res["price"] == 3000.05
    async with await make_dealer(node, funded_account, rounding="down") as dealer:
        assert (await dealer.create_limit_order(3000.059, 0.01))["price"] == 3000.05
    async with await make_dealer(node, funded_account) as dealer:  # nearest
        assert (await dealer.create_limit_order(3000.055, 0.01))["price"] == 3000.06
        await dealer.flush()


async def test_unknown_symbol_and_unknown_coi(node: LocalNode, funded_account: Any) -> None:
    with pytest.raises(MarketNotFound, match="price_scale"):
        await make_dealer(node, funded_account, symbol="NOPE")
    async with await make_dealer(node, funded_account) as dealer:
        with pytest.raises(OrderNotFoundByCoi, match="order_not_found_by_coi"):
            await dealer.cancel_order_by_coi(424242)
        with pytest.raises(OrderNotFoundByCoi):
            await dealer.update_order_by_coi(424242, price=3000)
        with pytest.raises(ValueError, match="client_order_index"):
            await dealer.cancel_order_by_coi(2**48)
        assert dealer.queued == 0
    assert node_nonce(node, funded_account) == 0


async def test_market_resolved_from_the_node_and_explicit_scales(
    node: LocalNode, funded_account: Any
) -> None:
    from lighterfast import markets

    markets.clear_cache()
    async with await make_dealer(
        node, funded_account, symbol=None, market_index=1, price_scale=10, size_scale=100000
    ) as dealer:
        assert (dealer.market.market_index, dealer.market.size_decimals) == (1, 5)
    markets.STATIC_MARKETS.pop("SOL")
    try:
        async with await make_dealer(node, funded_account, symbol="SOL") as dealer:
            assert (dealer.market.market_index, dealer.market.price_decimals) == (2, 3)
            assert markets.cached_markets(node.base_url) is not None
    finally:
        markets.STATIC_MARKETS["SOL"] = markets.MarketInfo("SOL", 2, 3, 3)
        markets.clear_cache()


# --- live-order view ---------------------------------------------------------------------------


async def test_feed_ws_orders_tracks_finished_and_foreign_orders(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        await dealer.flush()
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        assert dealer.feed_ws_orders({"0": [order]}) == 1
        assert dealer.get_order_by_coi(coi)["order_index"] == order["order_index"]
        finished = dict(order, status="filled")
        dealer.feed_ws_orders([finished])
        with pytest.raises(OrderNotFoundByCoi, match="finished: filled"):
            await dealer.update_order_by_coi(coi, price=3001)

    # a new dealer (a restart) learns open orders from fetch_open_orders and may cancel them
    async with await make_dealer(node, funded_account) as dealer2:
        coi2 = (await dealer2.create_limit_order(2900.0, 0.02))["client_order_index"]
        await dealer2.flush()
        await eventually(lambda: node.state.order_by_coi(acc, coi2))
    async with await make_dealer(node, funded_account) as dealer3:
        with pytest.raises(OrderNotFoundByCoi):
            await dealer3.cancel_order_by_coi(coi2)
        opened = await dealer3.fetch_open_orders()
        by_coi = {o["client_order_index"]: o for o in opened}
        assert by_coi[coi2]["price"] == 2900.0 and by_coi[coi2]["size"] == 0.02
        assert by_coi[coi2]["side"] == "buy" and by_coi[coi2]["status"] == "open"
        await dealer3.update_order_by_coi(coi2, price=2901.0)  # quantity from the view
        await dealer3.cancel_order_by_coi(coi2)
        results = await dealer3.flush()
        assert [r["accepted"] for r in results] == [True, True]
        await eventually(lambda: node.state.order_by_coi(acc, coi2)["status"] == "canceled")
        assert node.state.order_by_coi(acc, coi2)["base_price"] == 290100


async def test_orders_resync_drops_an_order_canceled_while_the_socket_was_down(
    node: LocalNode, funded_account: Any
) -> None:
    acc = funded_account.account_index
    ws = await WsInfo.run_overlay(
        acc,
        funded_account.api_key_index,
        funded_account.private_key,
        market_id=0,
        base_url=node.base_url,
        public_trades=False,
        connection_options={"backoff_initial": 0.05},
    )
    dealer = await make_dealer(node, funded_account, use_ws=False)  # REST: unaffected by stall
    ws.on_orders = dealer.feed_ws_orders
    ws.on_orders_resync = dealer.resync_ws_orders
    try:
        gone = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        kept = (await dealer.create_limit_order(2990.0, 0.01))["client_order_index"]
        await dealer.flush()
        await eventually(
            lambda: all((dealer.get_order_by_coi(c) or {}).get("order_index") for c in (gone, kept))
        )
        node.faults.stall(True)  # the order frames of the cancel never reach this socket
        await dealer.cancel_order_by_coi(gone)
        assert [r["accepted"] for r in await dealer.flush()] == [True]
        await eventually(lambda: node.state.order_by_coi(acc, gone)["status"] == "canceled")
        assert dealer.get_order_by_coi(gone)["status"] == "open"  # the stream missed it
        queued = (await dealer.create_limit_order(2980.0, 0.01))["client_order_index"]
        await node.faults.close_all(1011)  # the stalled frames die with the socket
        await eventually(lambda: ws.stats.reconnects >= 1 and ws.connected)
        await eventually(lambda: dealer.get_order_by_coi(gone) is None)
        with pytest.raises(OrderNotFoundByCoi, match="finished while disconnected"):
            await dealer.cancel_order_by_coi(gone)
        assert dealer.get_order_by_coi(kept)["status"] == "open"
        assert dealer.get_order_by_coi(queued)["status"] == "queued"  # not sent: kept
        assert ws.stats.hook_errors == 0
    finally:
        await dealer.aclose()
        await ws.aclose()
    assert node.state.order_by_coi(acc, queued)["status"] == "open"  # flushed on close


async def test_resync_ws_orders_refuses_garbage_and_keeps_the_view(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account, use_ws=False) as dealer:
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        for bad in (
            None,
            "orders",
            {"client_order_index": 5},
            [1, 2],
            [{"client_order_index": "x"}],
        ):
            with pytest.raises((TypeError, ValueError)):
                dealer.resync_ws_orders(bad)
            with pytest.raises((TypeError, ValueError)):
                dealer.feed_ws_orders(bad)
        assert dealer.get_order_by_coi(coi)["status"] == "queued"
        live = {"client_order_index": coi, "market_index": 0, "status": "open", "price": "3001.00"}
        bad_price = dict(live, client_order_index=coi + 1, price="30x1")
        with pytest.raises(ValueError, match=r"orders\[1\]"):
            dealer.feed_ws_orders([live, bad_price])  # all or nothing: the first is not applied
        assert dealer.get_order_by_coi(coi)["status"] == "queued"
        assert dealer.get_order_by_coi(coi)["price_int"] == 300000
        assert dealer.resync_ws_orders([]) == 0  # a queued create is not yet live anywhere
        assert dealer.get_order_by_coi(coi) is not None


async def test_reads(node: LocalNode) -> None:
    acct = await node.create_account(collateral=12345)
    async with await make_dealer(node, acct) as dealer:
        balance = await dealer.fetch_my_balance()
        assert balance["collateral"] == pytest.approx(12345.0)
        assert balance["account_index"] == acct.account_index
        assert await dealer.fetch_open_orders() == []
        await dealer.create_limit_order(3000.0, 0.01)
        await dealer.create_limit_order(3100.0, -0.01)
        await dealer.flush()
        await eventually(lambda: len(node.state.orders) == 2)
        opened = await dealer.fetch_open_orders(market_index=0)
        assert sorted(o["price"] for o in opened) == [3000.0, 3100.0]
        assert {o["side"] for o in opened} == {"buy", "sell"}
        assert await dealer.fetch_open_orders(market_index=1) == []


async def test_deprecated_order_index_methods(node: LocalNode, funded_account: Any) -> None:
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account) as dealer:
        coi = (await dealer.create_limit_order(3000.0, 0.01))["client_order_index"]
        await dealer.flush()
        order = await eventually(lambda: node.state.order_by_coi(acc, coi))
        with pytest.warns(DeprecationWarning, match="update_order_by_coi"):
            await dealer.update_order(order["order_index"], 3005.0, 0.02)
        with pytest.warns(DeprecationWarning, match="cancel_order_by_coi") as caught:
            await dealer.cancel_order(order["order_index"])
        assert caught[0].filename == __file__  # points at the caller's line
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(ValueError, match="order_index"):
                await dealer.cancel_order(coi)  # a COI is not an order index
        assert [r["accepted"] for r in await dealer.flush()] == [True, True]
        await eventually(lambda: node.state.order_by_coi(acc, coi)["status"] == "canceled")
        assert node.state.order_by_coi(acc, coi)["base_price"] == 300500


async def test_cancel_all_orders(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        for i in range(3):
            await dealer.create_limit_order(2000 + i, 0.01)
        await dealer.flush()
        await eventually(lambda: len(node.state.orders) == 3)
        await dealer.cancel_all_orders()
        assert (await dealer.flush())[0]["accepted"]
        await eventually(lambda: len(node.state.orders) == 0)
