"""`SignerBase`: the signer surface written once (constructor checks, properties, repr, validation,
the `sign_*` / `asign_*` methods); a signer supplies only how a validated job is signed.

A subclass implements the hooks: `_open` takes the validated keys; `_job` (one tx), `_many_job`
(a batch) and `_token_job` (an auth token) build an opaque job from validated integers; `_run`
signs a job and returns the result, `_arun` returns an awaitable of it; and `close`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .. import protocol as P
from ..errors import SignerError
from .chain import chain_id_for_url, discover_chain_id
from .types import (
    SIGN_KINDS,
    CancelAllOrdersArgs,
    CancelOrderArgs,
    CreateGroupedOrdersArgs,
    CreateOrderArgs,
    ModifyOrderArgs,
    SignedTx,
    UpdateLeverageArgs,
    UpdateMarginArgs,
)
from .validate import (
    check_api_key_index,
    check_deadline,
    check_nonce,
    check_private_key,
    int_field,
    validate_cancel_all_orders,
    validate_cancel_order,
    validate_create_grouped_orders,
    validate_create_order,
    validate_modify_order,
    validate_update_leverage,
    validate_update_margin,
)

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

__all__ = ["SignerBase"]


class SignerBase:
    """What every signer shares; keys are never part of its repr, errors or logs."""

    _account_index: int
    _chain_id: int
    _api_key_indexes: frozenset[int]
    _closed: bool

    # -- construction -------------------------------------------------------------------------

    def __init__(
        self,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
    ) -> None:
        keys = self._check_args(account_index, api_keys, chain_id, base_url)
        self._open(keys, base_url)

    def _check_args(
        self,
        account_index: int,
        api_keys: Mapping[int, str],
        chain_id: int | None,
        base_url: str | None,
    ) -> list[tuple[int, bytes]]:
        """Validate the constructor arguments, keep account, chain and key indexes; return the
        keys as (index, ASCII hex) pairs. The signer stays closed until `_open` opens it."""
        self._closed = True
        account_index = int_field("account_index", account_index, 1, P.MAX_ACCOUNT_INDEX)
        if not isinstance(api_keys, Mapping) or not api_keys:
            raise ValueError("api_keys must be a non-empty mapping {api_key_index: private_key}")
        keys = [
            (check_api_key_index(index), check_private_key(index, key))
            for index, key in api_keys.items()
        ]
        if base_url is not None and not isinstance(base_url, str):
            raise TypeError("base_url must be a string")
        if chain_id is None:
            chain_id = chain_id_for_url(base_url)
        if chain_id is None:
            chain_id = P.CHAIN_ID_MAINNET  # the SDK's default for any other host
        self._chain_id = int_field("chain_id", chain_id, 1, 2**31 - 1)
        self._account_index = account_index
        self._api_key_indexes = frozenset(index for index, _ in keys)
        return keys

    @classmethod
    async def _create_chain_id(cls, chain_id: int | None, base_url: str | None) -> int | None:
        """The chain id `create` signs with: given, else a known host's, else the node's."""
        if chain_id is None:
            chain_id = chain_id_for_url(base_url)
        if chain_id is None and base_url:
            chain_id = await cls.discover_chain_id(base_url)
        return chain_id

    @classmethod
    async def create(
        cls,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
    ) -> Self:
        """Like the constructor, but an unknown host is asked for its chain id (`GET /`)."""
        chain_id = await cls._create_chain_id(chain_id, base_url)
        return cls(account_index, api_keys, chain_id=chain_id, base_url=base_url)

    @staticmethod
    async def discover_chain_id(base_url: str, *, timeout: float = 5.0) -> int:
        """Ask a node for its chain id: `GET /` answers `network_id` (protocol §1.2)."""
        return await discover_chain_id(base_url, timeout=timeout)

    # -- properties ---------------------------------------------------------------------------

    @property
    def account_index(self) -> int:
        """The account every transaction and token is signed for."""
        return self._account_index

    @property
    def chain_id(self) -> int:
        """The L2 chain id signed into every transaction."""
        return self._chain_id

    @property
    def api_key_indexes(self) -> frozenset[int]:
        """The API key indexes this signer holds keys for."""
        return self._api_key_indexes

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(account_index={self._account_index}, "
            f"api_key_indexes={sorted(self._api_key_indexes)}, chain_id={self._chain_id}"
            f"{', closed' if self._closed else ''})"
        )

    # -- hooks a signer implements --------------------------------------------------------------

    def _open(self, keys: list[tuple[int, bytes]], base_url: str | None) -> None:
        """Take the validated (index, ASCII hex) keys and open the signer (`_closed = False`)."""
        raise NotImplementedError

    def _job(self, tx_type: int, api_key_index: int, nonce: int, row: Any) -> Any:
        """One validated tx (wire type, key index, nonce, the validator's row) as a job."""
        raise NotImplementedError

    def _many_job(self, jobs: list[Any]) -> Any:
        """A batch of `_job` results as one job (signed in request order)."""
        raise NotImplementedError

    def _token_job(self, api_key_index: int, deadline: int) -> Any:
        """An auth token for a validated key index and deadline as a job."""
        raise NotImplementedError

    def _run(self, job: Any) -> Any:
        """Sign a job (raising SignerError when closed) and return its result."""
        raise NotImplementedError

    def _arun(self, job: Any) -> Awaitable[Any]:
        """An awaitable of what `_run(job)` returns; the event loop is never blocked long."""
        raise NotImplementedError

    def close(self) -> None:
        """Forget the keys / release the library; later signing raises SignerError."""
        raise NotImplementedError

    # -- preparation: validate in the caller's thread, before anything is signed -------------

    def _key_index(self, api_key_index: Any) -> int:
        index = check_api_key_index(api_key_index)
        if index not in self._api_key_indexes:
            raise ValueError(f"api_key_index {index} has no private key in this signer")
        return index

    def _check_open(self) -> None:
        if self._closed:
            raise SignerError("signer is closed")

    def _prep(self, tx_type: int, row: Any, nonce: int, api_key_index: int) -> Any:
        return self._job(tx_type, self._key_index(api_key_index), check_nonce(nonce), row)

    def _prep_create_order(
        self,
        *,
        market_index: int,
        client_order_index: int,
        base_amount: int,
        price: int,
        is_ask: bool | int,
        order_type: int,
        time_in_force: int,
        reduce_only: bool | int = False,
        trigger_price: int = 0,
        order_expiry: int = -1,
        nonce: int,
        api_key_index: int,
    ) -> Any:
        row = validate_create_order(
            market_index=market_index,
            client_order_index=client_order_index,
            base_amount=base_amount,
            price=price,
            is_ask=is_ask,
            order_type=order_type,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            trigger_price=trigger_price,
            order_expiry=order_expiry,
        )
        return self._prep(P.TX_TYPE_CREATE_ORDER, row, nonce, api_key_index)

    def _prep_cancel_order(self, *, nonce: int, api_key_index: int, **fields: Any) -> Any:
        row = validate_cancel_order(**fields)
        return self._prep(P.TX_TYPE_CANCEL_ORDER, row, nonce, api_key_index)

    def _prep_modify_order(self, *, nonce: int, api_key_index: int, **fields: Any) -> Any:
        row = validate_modify_order(**fields)
        return self._prep(P.TX_TYPE_MODIFY_ORDER, row, nonce, api_key_index)

    def _prep_cancel_all_orders(self, *, nonce: int, api_key_index: int, **fields: Any) -> Any:
        row = validate_cancel_all_orders(**fields)
        return self._prep(P.TX_TYPE_CANCEL_ALL_ORDERS, row, nonce, api_key_index)

    def _prep_create_grouped_orders(self, *, nonce: int, api_key_index: int, **fields: Any) -> Any:
        row = validate_create_grouped_orders(**fields)
        return self._prep(P.TX_TYPE_CREATE_GROUPED_ORDERS, row, nonce, api_key_index)

    def _prep_update_leverage(self, *, nonce: int, api_key_index: int, **fields: Any) -> Any:
        row = validate_update_leverage(**fields)
        return self._prep(P.TX_TYPE_UPDATE_LEVERAGE, row, nonce, api_key_index)

    def _prep_update_margin(self, *, nonce: int, api_key_index: int, **fields: Any) -> Any:
        row = validate_update_margin(**fields)
        return self._prep(P.TX_TYPE_UPDATE_MARGIN, row, nonce, api_key_index)

    _preparers: ClassVar[dict[str, Callable[..., Any]]] = {
        "create_order": _prep_create_order,
        "cancel_order": _prep_cancel_order,
        "modify_order": _prep_modify_order,
        "cancel_all_orders": _prep_cancel_all_orders,
        "create_grouped_orders": _prep_create_grouped_orders,
        "update_leverage": _prep_update_leverage,
        "update_margin": _prep_update_margin,
    }

    def _prep_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> Any:
        if isinstance(requests, (str, bytes)) or not isinstance(requests, Sequence):
            raise TypeError("requests must be a sequence of (kind, kwargs) pairs")
        jobs: list[Any] = []
        for i, request in enumerate(requests):
            try:
                kind, kwargs = request
            except (TypeError, ValueError):
                raise TypeError(f"requests[{i}] must be a (kind, kwargs) pair") from None
            prep = self._preparers.get(kind) if isinstance(kind, str) else None
            if prep is None:
                raise ValueError(f"requests[{i}] kind must be one of {SIGN_KINDS}, got {kind!r}")
            if not isinstance(kwargs, Mapping):
                raise TypeError(f"requests[{i}] kwargs must be a mapping")
            try:
                jobs.append(prep(self, **kwargs))
            except TypeError as exc:
                raise TypeError(f"requests[{i}] ({kind}): {exc}") from None
            except ValueError as exc:
                raise ValueError(f"requests[{i}] ({kind}): {exc}") from None
        return self._many_job(jobs)

    def _rows_job(
        self, api_key_index: int, first_nonce: int, rows: Sequence[tuple[int, Any]]
    ) -> Any:
        """A batch job of (wire tx type, row) pairs the `validate_*` checks already returned,
        with nonces first_nonce, first_nonce + 1, … (the rows are not checked again)."""
        key = self._key_index(api_key_index)
        job = self._job
        nonce = check_nonce(first_nonce)
        return self._many_job(
            [job(kind, key, check_nonce(nonce + i), row) for i, (kind, row) in enumerate(rows)]
        )

    @property
    def signs_inline(self) -> bool:
        """True when `_run` signs in microseconds on the caller's thread (the native engine), so
        the event loop may call it directly instead of awaiting `_arun`."""
        return getattr(self, "engine", None) == "native"

    def _prep_auth_token(self, deadline: int, api_key_index: int) -> Any:
        value = check_deadline(deadline)
        return self._token_job(self._key_index(api_key_index), value)

    # -- synchronous API ------------------------------------------------------------------------

    def sign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx:
        """Sign an L2CreateOrder (14). Keywords: see `Signer.sign_create_order`."""
        result: SignedTx = self._run(self._prep_create_order(**kwargs))
        return result

    def sign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx:
        """Sign an L2CancelOrder (15); `order_index` may be a COI or an order index."""
        result: SignedTx = self._run(self._prep_cancel_order(**kwargs))
        return result

    def sign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx:
        """Sign an L2ModifyOrder (17); `order_index` may be a COI or an order index."""
        result: SignedTx = self._run(self._prep_modify_order(**kwargs))
        return result

    def sign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx:
        """Sign an L2CancelAllOrders (16) for every market."""
        result: SignedTx = self._run(self._prep_cancel_all_orders(**kwargs))
        return result

    def sign_create_grouped_orders(self, **kwargs: Unpack[CreateGroupedOrdersArgs]) -> SignedTx:
        """Sign an L2CreateGroupedOrders (28): OTO (1), OCO (2) or OTOCO (3)."""
        result: SignedTx = self._run(self._prep_create_grouped_orders(**kwargs))
        return result

    def sign_update_leverage(self, **kwargs: Unpack[UpdateLeverageArgs]) -> SignedTx:
        """Sign an L2UpdateLeverage (20): a market's initial margin fraction and margin mode."""
        result: SignedTx = self._run(self._prep_update_leverage(**kwargs))
        return result

    def sign_update_margin(self, **kwargs: Unpack[UpdateMarginArgs]) -> SignedTx:
        """Sign an L2UpdateMargin (29): move micro-USDC onto / off an isolated position."""
        result: SignedTx = self._run(self._prep_update_margin(**kwargs))
        return result

    def sign_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SignedTx]:
        """Sign a batch, results in request order. Every request is validated before any is
        signed; if the library refuses one, SignerError names its index."""
        result: list[SignedTx] = self._run(self._prep_many(requests))
        return result

    def create_auth_token(self, deadline: int, api_key_index: int) -> str:
        """Make an auth token `{deadline}:{account}:{key}:{sig hex}`; `deadline` in Unix seconds."""
        result: str = self._run(self._prep_auth_token(deadline, api_key_index))
        return result

    # -- async API ------------------------------------------------------------------------------

    async def asign_create_order(self, **kwargs: Unpack[CreateOrderArgs]) -> SignedTx:
        """Async twin of `sign_create_order`."""
        result: SignedTx = await self._arun(self._prep_create_order(**kwargs))
        return result

    async def asign_cancel_order(self, **kwargs: Unpack[CancelOrderArgs]) -> SignedTx:
        """Async twin of `sign_cancel_order`."""
        result: SignedTx = await self._arun(self._prep_cancel_order(**kwargs))
        return result

    async def asign_modify_order(self, **kwargs: Unpack[ModifyOrderArgs]) -> SignedTx:
        """Async twin of `sign_modify_order`."""
        result: SignedTx = await self._arun(self._prep_modify_order(**kwargs))
        return result

    async def asign_cancel_all_orders(self, **kwargs: Unpack[CancelAllOrdersArgs]) -> SignedTx:
        """Async twin of `sign_cancel_all_orders`."""
        result: SignedTx = await self._arun(self._prep_cancel_all_orders(**kwargs))
        return result

    async def asign_create_grouped_orders(
        self, **kwargs: Unpack[CreateGroupedOrdersArgs]
    ) -> SignedTx:
        """Async twin of `sign_create_grouped_orders`."""
        result: SignedTx = await self._arun(self._prep_create_grouped_orders(**kwargs))
        return result

    async def asign_update_leverage(self, **kwargs: Unpack[UpdateLeverageArgs]) -> SignedTx:
        """Async twin of `sign_update_leverage`."""
        result: SignedTx = await self._arun(self._prep_update_leverage(**kwargs))
        return result

    async def asign_update_margin(self, **kwargs: Unpack[UpdateMarginArgs]) -> SignedTx:
        """Async twin of `sign_update_margin`."""
        result: SignedTx = await self._arun(self._prep_update_margin(**kwargs))
        return result

    async def asign_many(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SignedTx]:
        """Async twin of `sign_many` (one hop for the whole batch)."""
        result: list[SignedTx] = await self._arun(self._prep_many(requests))
        return result

    async def acreate_auth_token(self, deadline: int, api_key_index: int) -> str:
        """Async twin of `create_auth_token`."""
        result: str = await self._arun(self._prep_auth_token(deadline, api_key_index))
        return result

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
