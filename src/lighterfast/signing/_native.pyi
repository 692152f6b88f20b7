"""Type stubs for the compiled native signer (lighterfast.signing._native)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from typing_extensions import Self

from .base import SignerBase
from .types import SignedTx

N: int
DEFAULT_NONCE_POOL: int

def permute(state: Sequence[int]) -> list[int]: ...
def hash_no_pad(words: Sequence[int], m: int) -> list[int]: ...
def tx_message(words: Sequence[int], attributes: Mapping[Any, int] | None = None) -> bytes: ...
def mul_generator(k: int) -> bytes: ...
def public_key(private_key: bytes) -> bytes: ...
def decodes(w: bytes) -> bool: ...
def schnorr_sign(private_key: bytes, message: bytes, k: int | None = None) -> bytes: ...
def schnorr_verify(public_key: bytes, message: bytes, signature: bytes) -> bool: ...

class _NoncePool:
    """Precomputed (k, encode(k*G)) pairs, refilled by a background thread."""

    capacity: int
    count: int
    low_water: int
    closed: bool
    def close(self) -> None: ...
    def wait_full(self, timeout: float = 5.0) -> bool: ...
    def stats(self) -> dict[str, int]: ...

class NativeSigner(SignerBase):
    """In-process signer with SdkSigner's interface and byte-identical tx_info."""

    _clock_ms: Callable[[], int]
    _keys: dict[int, Any]
    _pool: _NoncePool | None
    _fallback: SignerBase | None

    def __init__(
        self,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
        nonce_pool: int = ...,
    ) -> None: ...
    @classmethod
    async def create(
        cls,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
        nonce_pool: int = ...,
    ) -> Self: ...
    @property
    def engine(self) -> str: ...
    @property
    def nonce_pool(self) -> dict[str, int] | None: ...
    def fall_back_to_go_library(self, reason: str, *, quiet: bool = False) -> bool: ...
    async def afall_back_to_go_library(self, reason: str) -> bool: ...
    def public_key(self, api_key_index: int) -> str: ...
    def _sign_with_k(
        self,
        kind: str,
        k: int,
        *,
        expired_at: int,
        attributes: Mapping[Any, int] | None = None,
        **kwargs: Any,
    ) -> SignedTx: ...
    def _auth_token(self, deadline: int, api_key_index: int, k: int | None) -> str: ...
    def close(self) -> None: ...
