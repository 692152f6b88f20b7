"""Signing layer: the `Signer` interface, validation, `SdkSigner`, `NativeSigner`, auth tokens.

`types` (SignedTx, request shapes, Signer), `validate` (every tx kind, naming the field), `base`
(SignerBase: the surface both signers share), `sdk` (the Go library on its worker thread),
`_native` (the C signer, the dealer's default, loaded only when `NativeSigner` is first used),
`selfcheck` (its check against the Go library, once per process), `auth`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The errors signing raises were importable from here before the split; they still are.
from ..errors import ConfigError, NodeUnreachable, SignerError  # noqa: F401
from .auth import AuthTokenProvider, AuthTokenUnavailable
from .base import SignerBase
from .chain import chain_id_for_url
from .sdk import SdkSigner, agenerate_api_key, generate_api_key, go_call_count, go_call_thread_ids
from .types import (
    SIGN_KINDS,
    CancelAllOrdersArgs,
    CancelOrderArgs,
    CreateGroupedOrdersArgs,
    CreateOrderArgs,
    GroupedOrder,
    ModifyOrderArgs,
    SignedTx,
    Signer,
    UpdateLeverageArgs,
    UpdateMarginArgs,
)
from .validate import (
    validate_cancel_all_orders,
    validate_cancel_order,
    validate_create_grouped_orders,
    validate_create_order,
    validate_modify_order,
    validate_update_leverage,
    validate_update_margin,
)

if TYPE_CHECKING:
    from ._native import NativeSigner

__all__ = [
    "SIGN_KINDS",
    "AuthTokenProvider",
    "AuthTokenUnavailable",
    "CancelAllOrdersArgs",
    "CancelOrderArgs",
    "CreateGroupedOrdersArgs",
    "CreateOrderArgs",
    "GroupedOrder",
    "ModifyOrderArgs",
    "NativeSigner",
    "SdkSigner",
    "SignedTx",
    "Signer",
    "SignerBase",
    "UpdateLeverageArgs",
    "UpdateMarginArgs",
    "agenerate_api_key",
    "chain_id_for_url",
    "generate_api_key",
    "go_call_count",
    "go_call_thread_ids",
    "validate_cancel_all_orders",
    "validate_cancel_order",
    "validate_create_grouped_orders",
    "validate_create_order",
    "validate_modify_order",
    "validate_update_leverage",
    "validate_update_margin",
]


def __getattr__(name: str) -> Any:
    """Load the compiled native signer on first use, so choosing the Go signer never loads it."""
    if name != "NativeSigner":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from ._native import NativeSigner
    except ImportError as exc:  # pragma: no cover - the extension is not built
        cls: Any = _missing_native(str(exc))
    else:
        cls = NativeSigner
    globals()["NativeSigner"] = cls
    return cls


def __dir__() -> list[str]:
    """The module's names, NativeSigner included before its first use."""
    return sorted({*globals(), "NativeSigner"})


def _missing_native(reason: str) -> type:
    """A stand-in whose constructor raises SignerError when the extension is not built."""

    class NativeSigner:
        """Placeholder when the compiled native signer is missing: constructing it raises."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise SignerError(f"the native signer extension is not built: {reason}")

    return NativeSigner
