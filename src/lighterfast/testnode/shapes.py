"""JSON shapes of the venue's objects (Order, Trade, Position, Account, OrderBook rows).

Field sets follow protocol §1.3 and the official SDK's models so that lighter-sdk parses them.
"""

from __future__ import annotations

import time
from typing import Any

from lighterfast import protocol as p

from .accounts import Account, Position
from .book import MarketBook, Order, TradeRecord
from .engine import Engine
from .markets import MarketSpec, format_fixed, format_usdc


def order_json(order: Order, spec: MarketSpec, *, snapshot: bool = False) -> dict[str, Any]:
    """Order object; integrator fields are "" in snapshots and "0" in updates (as live)."""
    integ = "" if snapshot else "0"
    return {
        "order_index": order.order_index,
        "client_order_index": order.coi,
        "order_id": str(order.order_index),
        "client_order_id": str(order.coi),
        "market_index": order.market_index,
        "owner_account_index": order.account_index,
        "initial_base_amount": spec.format_size(order.initial_base),
        "price": spec.format_price(order.price),
        "nonce": order.seq,
        "remaining_base_amount": spec.format_size(order.remaining_base),
        "is_ask": order.is_ask,
        "base_size": order.remaining_base,
        "base_price": order.price,
        "filled_base_amount": spec.format_size(order.filled_base),
        "filled_quote_amount": _fmt_quote(order.filled_quote, spec),
        "side": "",
        "type": p.ORDER_TYPE_NAMES.get(order.order_type, "limit"),
        "time_in_force": p.TIF_NAMES.get(order.tif, "Unknown"),
        "reduce_only": order.reduce_only,
        "trigger_price": spec.format_price(order.trigger_price),
        "order_expiry": order.expiry,
        "status": order.status,
        "trigger_status": order.trigger_status if order.trigger_status != "triggered" else "na",
        "trigger_time": 0,
        "parent_order_index": order.parent_order_index,
        "parent_order_id": str(order.parent_order_index),
        "to_trigger_order_id_0": "0",
        "to_trigger_order_id_1": "0",
        "to_cancel_order_id_0": str(order.to_cancel),
        "block_height": order.block_height,
        "timestamp": order.created_at,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "transaction_time": order.transaction_time,
        "integrator_fee_collector_index": integ,
        "integrator_maker_fee": integ,
        "integrator_taker_fee": integ,
        "order_flags": 0,
        "order_version": order.order_version,
        "market_symbol": spec.symbol,
        "market_kind": market_kind(spec),
    }


def market_kind(spec: MarketSpec) -> str:
    """The `market_kind` of order and trade objects: "perps" or "spot"."""
    return "spot" if spec.is_spot else "perps"


def _fmt_quote(value: int, spec: MarketSpec) -> str:
    """price*size integer as a decimal string with the quote decimals."""
    return format_fixed(value, spec.quote_decimals)


def simple_order_json(order: Order, spec: MarketSpec) -> dict[str, Any]:
    """SimpleOrder row of `orderBookOrders`."""
    return {
        "order_index": order.order_index,
        "order_id": str(order.order_index),
        "owner_account_index": order.account_index,
        "initial_base_amount": spec.format_size(order.initial_base),
        "remaining_base_amount": spec.format_size(order.remaining_base),
        "price": spec.format_price(order.price),
        "order_expiry": order.expiry,
        "transaction_time": 0,
    }


def trade_hash(trade_id: int, timestamp_ms: int) -> str:
    """Trade tx_hash as seen live: <8-byte id><8-byte ms><24 zero bytes> in hex."""
    return f"{trade_id:016x}{timestamp_ms:016x}" + "0" * 48


def trade_json(t: TradeRecord, spec: MarketSpec) -> dict[str, Any]:
    """Trade object; zero fees and false sign-changes are omitted (as live)."""
    out: dict[str, Any] = {
        "trade_id": t.trade_id,
        "trade_id_str": str(t.trade_id),
        "tx_hash": trade_hash(t.trade_id, t.timestamp_ms),
        "type": "trade",
        "market_id": t.market_index,
        "size": spec.format_size(t.size),
        "price": spec.format_price(t.price),
        "usd_amount": format_usdc(t.size * t.price * spec.quote_to_usdc),
        "ask_id": t.ask_id,
        "ask_id_str": str(t.ask_id),
        "bid_id": t.bid_id,
        "bid_id_str": str(t.bid_id),
        "ask_client_id": t.ask_coi,
        "ask_client_id_str": str(t.ask_coi),
        "bid_client_id": t.bid_coi,
        "bid_client_id_str": str(t.bid_coi),
        "ask_account_id": t.ask_account,
        "bid_account_id": t.bid_account,
        "is_maker_ask": t.is_maker_ask,
        "block_height": t.block_height,
        "timestamp": t.timestamp_ms,
        "transaction_time": t.transaction_time,
        "taker_position_size_before": spec.format_size(abs(t.taker_pos_before.size)),
        "taker_entry_quote_before": _fmt_quote(t.taker_pos_before.entry_quote, spec),
        "taker_initial_margin_fraction_before": t.taker_imf,
        "maker_position_size_before": spec.format_size(abs(t.maker_pos_before.size)),
        "maker_entry_quote_before": _fmt_quote(t.maker_pos_before.entry_quote, spec),
        "maker_initial_margin_fraction_before": t.maker_imf,
        "bid_account_pnl": "0.000000",
        "ask_account_pnl": "0.000000",
        "integrator_maker_fee": 0,
        "integrator_maker_fee_collector_index": 0,
        "integrator_taker_fee": 0,
        "integrator_taker_fee_collector_index": 0,
        "taker_allocated_margin_usdc_before": 0,
        "taker_allocated_margin_usdc_after": 0,
        "maker_allocated_margin_usdc_before": 0,
        "maker_allocated_margin_usdc_after": 0,
        "bid_order_version": 0,
        "ask_order_version": 0,
        "market_symbol": spec.symbol,
        "market_kind": market_kind(spec),
    }
    if t.taker_sign_changed:
        out["taker_position_sign_changed"] = True
    if t.maker_sign_changed:
        out["maker_position_sign_changed"] = True
    return out


def position_json(engine: Engine, acct: Account, market_index: int) -> dict[str, Any]:
    """Position object of one market (flat positions use "0" in the market's precision)."""
    spec = engine.specs[market_index]
    pos = acct.positions.get(market_index) or Position()
    book = engine.books[market_index]
    mark = book.last_trade_price
    size = abs(pos.size)
    avg = pos.entry_quote // size if size else 0
    value = size * mark * spec.quote_to_usdc
    upnl = 0
    if size and mark:
        upnl = (size * mark - pos.entry_quote) * (1 if pos.size > 0 else -1) * spec.quote_to_usdc
    imf = engine.imf(acct, market_index)
    open_count = engine.open_counts.get((acct.index, market_index), 0)
    pending_count = sum(1 for o in book.pending_triggers if o.account_index == acct.index)
    return {
        "market_id": market_index,
        "symbol": spec.symbol,
        "initial_margin_fraction": format_fixed(imf, 2),
        "open_order_count": open_count,
        "pending_order_count": pending_count,
        "position_tied_order_count": 0,
        "sign": -1 if pos.size < 0 else 1,
        "position": spec.format_size(size),
        "avg_entry_price": spec.format_price(avg),
        "position_value": format_usdc(value),
        "unrealized_pnl": format_usdc(upnl),
        "realized_pnl": format_usdc(pos.realized_pnl),
        "liquidation_price": "0",
        "total_funding_paid_out": "0",
        "margin_mode": pos.margin_mode,
        "allocated_margin": "0.000000",
        "margin_set_flag": 0,
        "total_discount": "0",
    }


def asset_json(acct: Account) -> dict[str, Any]:
    """USDC asset row (perp collateral)."""
    bal = format_usdc(acct.collateral)
    return {
        "symbol": "USDC",
        "asset_id": 3,
        "balance": bal,
        "locked_balance": "0.000000",
        "margin_balance": bal,
        "margin_mode": "enabled",
        "multiplier": "1",
    }


def stats_json(engine: Engine, acct: Account) -> dict[str, Any]:
    """user_stats `stats` object (strings)."""
    avail = engine.available_balance(acct)
    pv = acct.collateral
    used = acct.collateral - avail
    six = {
        "available_balance": format_usdc(avail),
        "buying_power": format_usdc(max(avail, 0) * 20),
        "collateral": format_usdc(acct.collateral),
        "leverage": "0.00",
        "margin_usage": format_fixed(used * 10_000 // pv if pv else 0, 2),
        "portfolio_value": format_usdc(pv),
    }
    return {"account_trading_mode": 0, **six, "cross_stats": dict(six), "total_stats": dict(six)}


def detailed_account_json(engine: Engine, acct: Account) -> dict[str, Any]:
    """DetailedAccount row of `/api/v1/account`."""
    live = [o for o in engine.live.values() if o.account_index == acct.index]
    coll = format_usdc(acct.collateral)
    return {
        "code": 0,
        "account_type": 0,
        "account_trading_mode": 0,
        "index": acct.index,
        "account_index": acct.index,
        "l1_address": acct.l1_address,
        "cancel_all_time": acct.cancel_all_time,
        "total_order_count": len(live),
        "total_isolated_order_count": 0,
        "pending_order_count": sum(1 for o in live if o.status == p.STATUS_PENDING),
        "available_balance": format_usdc(engine.available_balance(acct)),
        "status": 1,
        "collateral": coll,
        "name": "",
        "description": "",
        "can_invite": False,
        "referral_points_percentage": "0",
        "positions": [position_json(engine, acct, m) for m in sorted(acct.positions)],
        "assets": [asset_json(acct)],
        "total_asset_value": coll,
        "cross_asset_value": coll,
        "pool_info": {
            "status": 0,
            "operator_fee": "0",
            "min_operator_share_rate": "0",
            "total_shares": 0,
            "operator_shares": 0,
            "annual_percentage_yield": 0,
            "daily_returns": [],
            "share_prices": [],
            "sharpe_ratio": 0,
            "strategies": [],
        },
        "shares": [],
        "pending_unlocks": [],
        "approved_integrators": [],
        "created_at": acct.created_at,
        "transaction_time": 0,
        "can_rfq": False,
        "can_rfq_market_ids": [],
        "cross_initial_margin_requirement": format_usdc(engine.position_margin(acct)),
        "cross_maintenance_margin_requirement": "0.000000",
        "metadata": {"color": ""},
        "agent_enabled": False,
    }


def order_book_row(spec: MarketSpec) -> dict[str, Any]:
    """OrderBook row of `orderBooks`."""
    return {
        "symbol": spec.symbol,
        "market_id": spec.market_index,
        "market_type": spec.market_type,
        "base_asset_id": spec.base_asset_id,
        "quote_asset_id": spec.quote_asset_id,
        "status": "active",
        "taker_fee": "0.0000",
        "maker_fee": "0.0000",
        "liquidation_fee": "1.0000",
        "min_base_amount": spec.min_base_amount,
        "min_quote_amount": spec.min_quote_amount,
        "order_quote_limit": "281474976.710655",
        "supported_size_decimals": spec.size_decimals,
        "supported_price_decimals": spec.price_decimals,
        "supported_quote_decimals": spec.quote_decimals,
        "is_maker_fee_enabled": False,
        "is_taker_fee_enabled": False,
        "created_at": "1700000000000",
        "multiplier": "1",
        "start_timestamp": 0,
        "end_timestamp": 0,
        "settlement_type": 0,
        "settlement_price": 0,
        "settlement_cap": 0,
        "outcome": 0,
        "default_price": 0,
        "operator_account_index": 0,
        "is_frozen": False,
        "open_interest": "0",
    }


def _last_price(book: MarketBook) -> float:
    spec = book.spec
    px = book.last_trade_price
    if px:
        return float(px / 10**spec.price_decimals)
    return float(spec.start_price)


def _mark_price(book: MarketBook) -> float:
    """The published mark price: the pinned one (`POST /dev/v1/mark_price`), else the last
    trade (the market's start price before the first)."""
    px = book.mark_price()
    if px:
        return float(px / 10**book.spec.price_decimals)
    return float(book.spec.start_price)


def _daily_fields(book: MarketBook) -> dict[str, Any]:
    """The decimals and daily figures every detail row carries (perp and spot)."""
    spec = book.spec
    return {
        "size_decimals": spec.size_decimals,
        "price_decimals": spec.price_decimals,
        "last_trade_price": _last_price(book),
        "daily_trades_count": book.daily_trades,
        "daily_base_token_volume": book.daily_base_volume / 10**spec.size_decimals,
        "daily_quote_token_volume": book.daily_quote_volume / 10**spec.quote_decimals,
        "daily_price_low": book.daily_low / 10**spec.price_decimals,
        "daily_price_high": book.daily_high / 10**spec.price_decimals,
        "daily_price_change": 0.0,
        "daily_chart": {},
    }


def spot_order_book_detail(book: MarketBook) -> dict[str, Any]:
    """SpotOrderBookDetail row of `orderBookDetails` (no margin or funding fields)."""
    row = order_book_row(book.spec)
    row.update(_daily_fields(book))
    return row


def order_book_detail(book: MarketBook) -> dict[str, Any]:
    """PerpsOrderBookDetail row of `orderBookDetails` (a spot book: its spot row)."""
    spec = book.spec
    if spec.is_spot:
        return spot_order_book_detail(book)
    row = order_book_row(spec)
    last = _last_price(book)
    row.update(
        {
            "size_decimals": spec.size_decimals,
            "price_decimals": spec.price_decimals,
            "quote_multiplier": 1,
            "default_initial_margin_fraction": spec.default_initial_margin_fraction,
            "min_initial_margin_fraction": spec.default_initial_margin_fraction // 5 or 1,
            "maintenance_margin_fraction": spec.maintenance_margin_fraction,
            "closeout_margin_fraction": spec.closeout_margin_fraction,
            "last_trade_price": last,
            "daily_trades_count": book.daily_trades,
            "daily_base_token_volume": book.daily_base_volume / 10**spec.size_decimals,
            "daily_quote_token_volume": book.daily_quote_volume / 10**spec.quote_decimals,
            "daily_price_low": book.daily_low / 10**spec.price_decimals,
            "daily_price_high": book.daily_high / 10**spec.price_decimals,
            "daily_price_change": 0.0,
            "open_interest": book.open_interest / 10**spec.size_decimals,
            "daily_chart": {},
            "market_config": {
                "market_margin_mode": 0,
                "insurance_fund_account_index": 281474976710655,
                "liquidation_mode": 0,
                "force_reduce_only": False,
                "trading_hours": "",
                "funding_fee_discounts_enabled": False,
                "hidden": False,
                "rfq_enabled": False,
            },
            "strategy_index": 0,
            "funding_clamp_small": "0.0500",
            "funding_clamp_big": "4.0000",
            "base_interest_rate": "0.0100",
            "mark_price": f"{_mark_price(book):.{spec.price_decimals}f}",
            "index_price": f"{last:.{spec.price_decimals}f}",
            "market_flags": 0,
            "funding_premium_multiplier": 0,
        }
    )
    return row


def market_stats_json(book: MarketBook) -> dict[str, Any]:
    """market_stats object of one market."""
    spec = book.spec
    last = _last_price(book)
    bid, ask = book.best_bid(), book.best_ask()
    mid = (bid + ask) / 2 / 10**spec.price_decimals if bid and ask else last
    pd = spec.price_decimals
    return {
        "symbol": spec.symbol,
        "market_id": spec.market_index,
        "index_price": f"{last:.{pd}f}",
        "mark_price": f"{_mark_price(book):.{pd}f}",
        "mid_price": f"{mid:.{pd}f}",
        "open_interest": spec.format_size(book.open_interest),
        "open_interest_limit": "0",
        "funding_clamp_small": "0.0500",
        "funding_clamp_big": "4.0000",
        "last_trade_price": f"{last:.{pd}f}",
        "current_funding_rate": "0.0000",
        "funding_rate": "0.0000",
        "funding_timestamp": (int(time.time()) // 3600 + 1) * 3_600_000,
        "base_interest_rate": "0.0100",
        "daily_base_token_volume": book.daily_base_volume / 10**spec.size_decimals,
        "daily_quote_token_volume": book.daily_quote_volume / 10**spec.quote_decimals,
        "daily_price_low": book.daily_low / 10**pd,
        "daily_price_high": book.daily_high / 10**pd,
        "daily_price_change": 0.0,
    }


def levels_json(levels: list[tuple[int, int]], spec: MarketSpec) -> list[dict[str, str]]:
    """Book levels as [{"price","size"}] strings."""
    fp, fs = spec.format_price, spec.format_size
    return [{"price": fp(px), "size": fs(sz)} for px, sz in levels]


def asset_detail_json(asset_id: int, symbol: str, decimals: int) -> dict[str, Any]:
    """Asset row of `assetDetails`."""
    return {
        "asset_id": asset_id,
        "symbol": symbol,
        "l1_decimals": decimals,
        "decimals": decimals,
        "min_transfer_amount": "1.000000" if symbol == "USDC" else "0",
        "min_withdrawal_amount": "1.000000" if symbol == "USDC" else "0",
        "margin_mode": "enabled" if symbol == "USDC" else "disabled",
        "index_price": "1.000000" if symbol == "USDC" else "0",
        "l1_address": "0x0000000000000000000000000000000000000000",
        "global_supply_cap": "0",
        "liquidation_fee": "0",
        "liquidation_threshold": "0",
        "loan_to_value": "0",
        "price_decimals": 6,
        "total_supplied": "0",
        "user_supply_cap": "0",
        "liquidation_factor": "0",
        "multiplier": "1",
    }


def exchange_stats_row(book: MarketBook) -> dict[str, Any]:
    """OrderBookStats row of `exchangeStats` (numbers)."""
    spec = book.spec
    return {
        "symbol": spec.symbol,
        "last_trade_price": _last_price(book),
        "daily_trades_count": book.daily_trades,
        "daily_base_token_volume": book.daily_base_volume / 10**spec.size_decimals,
        "daily_quote_token_volume": book.daily_quote_volume / 10**spec.quote_decimals,
        "daily_price_change": 0.0,
    }
