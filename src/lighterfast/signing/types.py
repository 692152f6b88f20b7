"""Signing types: `SignedTx`, `GroupedOrder`, the request keyword shapes, the `Signer` protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "SIGN_KINDS",
    "CancelAllOrdersArgs",
    "CancelOrderArgs",
    "CreateGroupedOrdersArgs",
    "CreateOrderArgs",
    "GroupedOrder",
    "ModifyOrderArgs",
    "SignedTx",
    "Signer",
    "UpdateLeverageArgs",
    "UpdateMarginArgs",
]

# Request kinds `sign_many` understands; each names a `sign_<kind>` method.
SIGN_KINDS: Final = (
    "create_order",
    "cancel_order",
    "modify_order",
    "cancel_all_orders",
    "create_grouped_orders",
    "update_leverage",
    "update_margin",
)


class SignedTx(NamedTuple):
    """One signed tx: wire tx type, the signer's tx_info JSON string, the 80-hex tx hash."""

    tx_type: int
    tx_info: str
    tx_hash: str

    def __repr__(self) -> str:
        """Show type and hash; the signature inside tx_info is never printed."""
        return f"SignedTx(tx_type={self.tx_type}, tx_hash={self.tx_hash!r}, tx_info=<redacted>)"

    def __str__(self) -> str:
        return self.__repr__()


class GroupedOrder(NamedTuple):
    """One order of a grouped-orders tx (protocol §2.7), integers as on the wire."""

    market_index: int
    client_order_index: int
    base_amount: int
    price: int
    is_ask: bool | int
    order_type: int
    time_in_force: int
    reduce_only: bool | int = False
    trigger_price: int = 0
    order_expiry: int = -1


# Request shapes: keyword arguments of each sign method; also the mappings `sign_many` takes.


class _CreateOrderRequired(TypedDict):
    market_index: int
    client_order_index: int
    base_amount: int
    price: int
    is_ask: bool | int
    order_type: int
    time_in_force: int
    nonce: int
    api_key_index: int


class CreateOrderArgs(_CreateOrderRequired, total=False):
    """Keywords of `sign_create_order`; reduce_only, trigger_price, order_expiry optional."""

    reduce_only: bool | int
    trigger_price: int
    order_expiry: int


class CancelOrderArgs(TypedDict):
    """Keywords of `sign_cancel_order` (`order_index` is a COI or an order index)."""

    market_index: int
    order_index: int
    nonce: int
    api_key_index: int


class _ModifyOrderRequired(TypedDict):
    market_index: int
    order_index: int
    base_amount: int
    price: int
    nonce: int
    api_key_index: int


class ModifyOrderArgs(_ModifyOrderRequired, total=False):
    """Keywords of `sign_modify_order`; trigger_price optional (0)."""

    trigger_price: int


class CancelAllOrdersArgs(TypedDict):
    """Keywords of `sign_cancel_all_orders`."""

    time_in_force: int
    time: int
    nonce: int
    api_key_index: int


class CreateGroupedOrdersArgs(TypedDict):
    """Keywords of `sign_create_grouped_orders`."""

    grouping_type: int
    orders: Sequence[GroupedOrder | Mapping[str, Any]]
    nonce: int
    api_key_index: int


class UpdateLeverageArgs(TypedDict):
    """Keywords of `sign_update_leverage` (fraction 10000 / leverage; mode 0 cross, 1 isolated)."""

    market_index: int
    initial_margin_fraction: int
    margin_mode: int
    nonce: int
    api_key_index: int


class UpdateMarginArgs(TypedDict):
    """Keywords of `sign_update_margin` (micro-USDC; direction 1 adds, 0 removes)."""

    market_index: int
    usdc_amount: int
    direction: int
    nonce: int
    api_key_index: int


@runtime_checkable
class Signer(Protocol):
    """What the dealer and the WS layer need from a signer: integers in, `SignedTx` out."""

    @property
    def account_index(self) -> int:
        """The account every transaction and token is signed for."""
        ...

    @property
    def chain_id(self) -> int:
        """The L2 chain id signed into every transaction."""
        ...

    def sign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx: ...

    def sign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx: ...

    def sign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx: ...

    def sign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx: ...

    def sign_create_grouped_orders(self, **kwargs: Unpack[CreateGroupedOrdersArgs]) -> SignedTx: ...

    def sign_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SignedTx]: ...

    def create_auth_token(self, deadline: int, api_key_index: int) -> str: ...

    async def asign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx: ...

    async def asign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx: ...

    async def asign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx: ...

    async def asign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx: ...

    async def asign_create_grouped_orders(
        self, **kwargs: Unpack[CreateGroupedOrdersArgs]
    ) -> SignedTx: ...

    async def asign_many(
        self, requests: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[SignedTx]: ...

    async def acreate_auth_token(self, deadline: int, api_key_index: int) -> str: ...

    def close(self) -> None: ...
