"""The core data structures: the compiled `_core`, or its pure twin when asked for explicitly.

`LIGHTERFAST_PURE_PYTHON=1` selects `_core_py` (debugging, platforms without the extension).
Otherwise the compiled module is required: a missing build raises ImportError, never a silent
fallback to the slow twin.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

_PURE = os.environ.get("LIGHTERFAST_PURE_PYTHON", "").strip().lower() in ("1", "true", "yes", "on")

if TYPE_CHECKING:  # type checkers see the compiled API (`_core.pyi`); the twin matches it
    from ._core import (
        MAX_BOOK_NONCE_STEP,
        CoiCache,
        OrderBook,
        Scale,
        WeightLimiter,
        order_book_market,
    )
elif _PURE:
    from ._core_py import (
        MAX_BOOK_NONCE_STEP,
        CoiCache,
        OrderBook,
        Scale,
        WeightLimiter,
        order_book_market,
    )
else:
    try:
        from ._core import (
            MAX_BOOK_NONCE_STEP,
            CoiCache,
            OrderBook,
            Scale,
            WeightLimiter,
            order_book_market,
        )
    except ImportError as exc:
        raise ImportError(
            "lighterfast's compiled core (lighterfast.core._core) is missing or outdated: rebuild "
            "it with `python setup.py build_ext --inplace` (or reinstall), or set "
            "LIGHTERFAST_PURE_PYTHON=1 to use the pure-Python twin explicitly"
        ) from exc

IMPLEMENTATION: str = "pure" if _PURE else "compiled"
"""Which core is in use: "compiled" or "pure"."""

__all__ = [
    "IMPLEMENTATION",
    "MAX_BOOK_NONCE_STEP",
    "CoiCache",
    "OrderBook",
    "Scale",
    "WeightLimiter",
    "order_book_market",
]
