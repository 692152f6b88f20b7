"""Orders beyond limit and market: stops, take-profits, brackets (OTOCO), OTO/OCO groups,
leverage and margin updates, and the dead-man switch (scheduled cancel-all)."""

from __future__ import annotations


class _TradingMixin:
    """The trading surface past plain limit/market orders (see the README's section)."""
