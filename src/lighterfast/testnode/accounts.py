"""Accounts, API keys and nonces of the local node, plus the dev-account key generator.

Nonces are strict per (account, api key): `accepted` is what the next tx must carry,
`executed` lags it by the execution latency (what `nextNonce` reports by default).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field

from lighterfast import protocol as p

DEFAULT_DEV_API_KEY_INDEX = 4  # keys 0-3 are reserved on the real venue (§0.2)
MAX_DEV_KEYS = p.MAX_API_KEY_INDEX - DEFAULT_DEV_API_KEY_INDEX + 1  # slots 4..254
FIRST_ACCOUNT_INDEX = 281  # arbitrary master-account range start; looks like a real index


@dataclass(frozen=True, slots=True)
class DevKey:
    """One API key of a dev account: its slot and fresh key pair."""

    api_key_index: int
    private_key: str
    public_key: str

    def __repr__(self) -> str:  # never print the private key
        return (
            f"DevKey(api_key_index={self.api_key_index}, "
            f"public_key={self.public_key[:10]}..., private_key=<redacted>)"
        )


@dataclass(frozen=True, slots=True)
class DevAccount:
    """A development account made by the node: index, its primary key slot and key pair, and
    any further keys (`LocalNode(keys_per_account=N)`, one nonce lane each)."""

    account_index: int
    api_key_index: int
    private_key: str
    public_key: str
    more_keys: tuple[DevKey, ...] = ()

    @property
    def keys(self) -> tuple[DevKey, ...]:
        """Every API key of the account, the primary (`api_key_index`) first."""
        return (DevKey(self.api_key_index, self.private_key, self.public_key), *self.more_keys)

    def __repr__(self) -> str:  # never print the private key
        more = f", more_keys={[k.api_key_index for k in self.more_keys]}" if self.more_keys else ""
        return (
            f"DevAccount(account_index={self.account_index}, api_key_index={self.api_key_index}, "
            f"public_key={self.public_key[:10]}..., private_key=<redacted>{more})"
        )


@dataclass(slots=True)
class Position:
    """Signed position in base units and its entry cost in price*size units."""

    size: int = 0
    entry_quote: int = 0
    realized_pnl: int = 0  # USDC micro-units
    initial_margin_fraction: int = 0  # 0 = market default
    margin_mode: int = 0


@dataclass(slots=True)
class KeyNonce:
    """Nonce lane of one API key: next accepted and next executed values."""

    accepted: int
    executed: int


@dataclass(slots=True)
class Account:
    """One account on the node: collateral (USDC micro-units), keys, nonces, positions."""

    index: int
    l1_address: str
    collateral: int
    created_at: int
    api_keys: dict[int, str] = field(default_factory=dict)  # key index -> public key hex
    nonces: dict[int, KeyNonce] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    cancel_all_time: int = 0
    order_margin: int = 0  # margin locked by resting orders (USDC micro-units)
    total_order_count: int = 0
    trades_count: int = 0
    volume_quote: int = 0  # USDC micro-units traded

    def position(self, market_index: int) -> Position:
        """The account's position in a market (created flat on first use)."""
        pos = self.positions.get(market_index)
        if pos is None:
            pos = self.positions[market_index] = Position()
        return pos


class AccountRegistry:
    """All accounts of one node, indexed by account index."""

    def __init__(self, initial_nonce: int = 0) -> None:
        self.accounts: dict[int, Account] = {}
        self._next_index = FIRST_ACCOUNT_INDEX
        self.initial_nonce = initial_nonce

    def get(self, account_index: int) -> Account | None:
        """The account or None."""
        return self.accounts.get(account_index)

    def create(self, collateral: int, account_index: int | None = None) -> Account:
        """Register a new account with `collateral` USDC micro-units."""
        if collateral < 0:
            raise ValueError(f"collateral must be >= 0, got {collateral}")
        if account_index is None:
            while self._next_index in self.accounts:
                self._next_index += 1
            account_index = self._next_index
            self._next_index += 1
        elif account_index in self.accounts or not 0 <= account_index <= p.MAX_ACCOUNT_INDEX:
            raise ValueError(f"account_index {account_index} is taken or out of range")
        l1 = "0x" + hashlib.sha256(f"lighterfast-dev-{account_index}".encode()).hexdigest()[:40]
        acct = Account(account_index, l1, collateral, int(time.time()))
        self.accounts[account_index] = acct
        return acct

    def register_key(self, account: Account, api_key_index: int, public_key: str) -> None:
        """Attach a public key (hex, with or without 0x) to a key slot; resets its nonce lane."""
        if not p.MIN_API_KEY_INDEX <= api_key_index <= p.MAX_API_KEY_INDEX:
            raise ValueError(f"api_key_index must be 0..254, got {api_key_index}")
        key = public_key[2:] if public_key.startswith(("0x", "0X")) else public_key
        account.api_keys[api_key_index] = key.lower()
        account.nonces[api_key_index] = KeyNonce(self.initial_nonce, self.initial_nonce)


def _generate_key_pair() -> tuple[str, str]:
    """New (private, public) API key pair from lighter-sdk's Go key generator (blocking)."""
    from lighter.signer_client import create_api_key

    private_key, public_key, err = create_api_key()  # type: ignore[no-untyped-call]
    if err or not private_key or not public_key:
        raise RuntimeError(f"lighter-sdk key generation failed: {err}")
    return private_key, public_key


async def generate_key_pair() -> tuple[str, str]:
    """Key pair made on a worker thread (the Go library must not run on the loop thread)."""
    return await asyncio.to_thread(_generate_key_pair)
