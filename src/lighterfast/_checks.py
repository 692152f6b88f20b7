"""Argument checks shared by the public classes: a TypeError or ValueError naming the argument.

Nothing is coerced silently: a bool is not an int, a NaN is not a number of seconds, and a
truthy string is not a flag.
"""

from __future__ import annotations

import math
from typing import Any

from . import protocol as P


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """`value` if it is an int (not a bool) in [lo, hi]."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def check_market(name: str, value: Any, *, all_ok: bool = False) -> int:
    """A market id the signer accepts: 0..254 or 256..2^48-1; 255 ("all") only if `all_ok`."""
    value = check_int(name, value, 0, P.MAX_MARKET_INDEX)
    if value == P.ALL_MARKETS and not all_ok:
        raise ValueError(
            f"{name} must be a market id 0..{P.MAX_PERP_MARKET_INDEX} or "
            f"{P.ALL_MARKETS + 1}..{P.MAX_MARKET_INDEX}; {P.ALL_MARKETS} means all markets"
        )
    return value


def check_flag(name: str, value: Any) -> bool:
    """A yes/no option: a bool or the ints 0/1 (a truthy string is refused, not read as yes)."""
    if value is True or value is False:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")


def check_seconds(name: str, value: Any, *, zero_ok: bool = False, inf_ok: bool = False) -> float:
    """A duration in seconds: a real number > 0 (or >= 0), finite unless `inf_ok`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if math.isnan(value) or (math.isinf(value) and not inf_ok):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name} must be {bound} seconds, got {value!r}")
    return float(value)
