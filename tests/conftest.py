"""Shared pytest fixtures: a started local node (exec latency 0) and a funded dev account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lighterfast.testnode import DevAccount, LocalNode


@pytest.fixture
async def node() -> AsyncIterator[LocalNode]:
    """A LocalNode on a free loopback port, execution latency 0, default markets."""
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0) as n:
        yield n


@pytest.fixture
async def funded_account(node: LocalNode) -> DevAccount:
    """A dev account with 100 000 USDC collateral and a fresh API key at index 4."""
    return await node.create_account(collateral=100_000)
