"""lighterfast: a fast, dependable Python client for the Lighter perpetual DEX (zkLighter).

`LighterDealer` / `DealerConfig` send COI-first orders; `lighterfast.ws.WsInfo` keeps order,
trade and book state from the WebSocket streams; `lighterfast.testnode` is a local node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    CoiInUse,
    ConfigError,
    FleetError,
    LighterError,
    MarketNotFound,
    NodeUnreachable,
    NonceError,
    OrderNotFoundByCoi,
    RateLimited,
    SignerError,
    TxRejected,
    WsClosed,
)

__version__ = "0.1.0"

__all__ = [
    "CoiInUse",
    "ConfigError",
    "DealerConfig",
    "FleetError",
    "LighterDealer",
    "LighterError",
    "MarketNotFound",
    "NodeUnreachable",
    "NonceError",
    "OrderNotFoundByCoi",
    "RateLimited",
    "SignerError",
    "TxRejected",
    "WsClosed",
    "__version__",
]

if TYPE_CHECKING:
    from .dealer import DealerConfig, LighterDealer


def __getattr__(name: str) -> Any:
    """Import the dealer lazily so that `import lighterfast` stays cheap."""
    if name in ("LighterDealer", "DealerConfig"):
        from . import dealer

        return getattr(dealer, name)
    raise AttributeError(f"module 'lighterfast' has no attribute {name!r}")
