"""`LocalNode(keys_per_account=N)`: every dev account gets N API keys in consecutive slots, each
registered with its own nonce lane (one key per bot, as on the venue)."""

from __future__ import annotations

import asyncio

import pytest

from _helpers import make_dealer, node_nonce
from lighterfast.testnode import LocalNode


async def test_keys_per_account_registers_consecutive_slots() -> None:
    async with LocalNode(port=0, exec_latency_ms=0, keys_per_account=3) as node:
        dev = await node.create_account(collateral=50_000)
        assert [k.api_key_index for k in dev.keys] == [4, 5, 6]
        assert (dev.api_key_index, dev.private_key) == (4, dev.keys[0].private_key)
        assert len({k.private_key for k in dev.keys}) == 3
        acct = node.accounts.accounts[dev.account_index]
        assert sorted(acct.api_keys) == [4, 5, 6]
        for key in dev.keys:
            assert acct.api_keys[key.api_key_index] == key.public_key.removeprefix("0x").lower()
        for text in (repr(dev), repr(dev.keys), str(dev)):
            assert all(k.private_key not in text for k in dev.keys)


async def test_each_key_has_its_own_nonce_lane() -> None:
    """Three dealers, one per key of one account, send at once: all accepted, each lane at 1."""
    async with LocalNode(port=0, exec_latency_ms=0, keys_per_account=3) as node:
        dev = await node.create_account()
        dealers = [
            await make_dealer(
                node, dev, api_key_index=k.api_key_index, api_key_private_key=k.private_key
            )
            for k in dev.keys
        ]
        try:
            for n, dealer in enumerate(dealers):
                await dealer.create_limit_order(1000.0 + n, 0.01)
            results = await asyncio.gather(*(d.flush() for d in dealers))
        finally:
            for dealer in dealers:
                await dealer.aclose()
        assert all(r["accepted"] for batch in results for r in batch), results
        assert [node_nonce(node, dev, k.api_key_index) for k in dev.keys] == [1, 1, 1]


async def test_default_is_one_key_and_create_account_can_ask_for_more(node: LocalNode) -> None:
    one = await node.create_account()
    assert [k.api_key_index for k in one.keys] == [4] and one.more_keys == ()
    two = await node.create_account(api_key_index=253, keys=2)
    assert [k.api_key_index for k in two.keys] == [253, 254]


async def test_bad_key_counts_are_value_errors(node: LocalNode) -> None:
    before = len(node.accounts.accounts)
    with pytest.raises(ValueError, match="keys_per_account"):
        LocalNode(keys_per_account=0)
    with pytest.raises(ValueError, match="keys_per_account"):
        LocalNode(keys_per_account=252)
    with pytest.raises(ValueError, match=r"slots 0\.\.254"):
        await node.create_account(api_key_index=253, keys=3)
    with pytest.raises(ValueError, match="keys"):
        await node.create_account(keys=0)
    assert len(node.accounts.accounts) == before  # a refused request made no account
