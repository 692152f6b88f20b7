"""Nonce lanes: local counting after one fetch, rollback, invalidate → refetch, rotation."""

from __future__ import annotations

import asyncio

import pytest

from lighterfast.dealer.nonces import NonceManager


class FakeNode:
    """Stands in for nextNonce only (the dealer tests use the real node)."""

    def __init__(self) -> None:
        self.next = {4: 10, 5: 100}
        self.calls: list[int] = []

    async def fetch(self, key: int) -> int:
        self.calls.append(key)
        await asyncio.sleep(0)
        return self.next[key]


async def test_one_fetch_then_local() -> None:
    node = FakeNode()
    manager = NonceManager([4], node.fetch)
    async with manager.hold(4) as lane:
        assert await lane.take(3) == 10
        assert await lane.take(1) == 13
    assert node.calls == [4]
    assert manager.lanes[4].next_nonce == 14


async def test_rollback_and_invalidate() -> None:
    node = FakeNode()
    manager = NonceManager([4], node.fetch)
    async with manager.hold(4) as lane:
        first = await lane.take(5)
        lane.rollback(first, 5)
        assert await lane.take(1) == 10
        lane.invalidate()
        node.next[4] = 42
        assert await lane.take(2) == 42
    assert node.calls == [4, 4] and manager.lanes[4].fetches == 2


async def test_rotation_prefers_free_lanes() -> None:
    node = FakeNode()
    manager = NonceManager([4, 5], node.fetch)
    assert [manager.pick() for _ in range(4)] == [4, 5, 4, 5]
    async with manager.hold(4):
        assert manager.pick() == 5
        assert manager.pick() == 5


async def test_concurrent_holders_get_disjoint_consecutive_ranges() -> None:
    node = FakeNode()
    manager = NonceManager([4, 5], node.fetch)
    taken: dict[int, list[int]] = {4: [], 5: []}

    async def sender(i: int) -> None:
        key = manager.pick()
        async with manager.hold(key) as lane:
            first = await lane.take(3)
            await asyncio.sleep(0)
            taken[key].extend(range(first, first + 3))

    await asyncio.gather(*(sender(i) for i in range(20)))
    for key, values in taken.items():
        assert values == list(range(node.next[key], node.next[key] + len(values)))
    assert sorted(node.calls) == [4, 5]


async def test_bad_input() -> None:
    with pytest.raises(ValueError, match="api_key_indices"):
        NonceManager([], FakeNode().fetch)
    manager = NonceManager([4], FakeNode().fetch)
    async with manager.hold(4) as lane:
        with pytest.raises(ValueError, match="count"):
            await lane.take(0)


async def test_bad_keys_counts_and_unknown_lanes_are_named_errors() -> None:
    async def fetch(key: int) -> int:
        return 7

    for bad in ([], "4", [True], [4, "5"], [-1], [300]):
        with pytest.raises((TypeError, ValueError), match="api_key"):
            NonceManager(bad, fetch)  # type: ignore[arg-type]
    manager = NonceManager([4, 4, 5], fetch)
    assert manager.api_key_indices == [4, 5]
    with pytest.raises(ValueError, match="not one of"):
        async with manager.hold(6):
            pass
    async with manager.hold(4) as lane:
        for bad_count in (0, -1, True, 1.5, "2"):
            with pytest.raises((TypeError, ValueError), match="count"):
                await lane.take(bad_count)  # type: ignore[arg-type]
        assert lane.next_nonce is None  # nothing taken, nothing fetched
        assert await lane.take(2) == 7 and lane.next_nonce == 9


async def test_shared_lanes_are_one_per_node_account_key_and_refcounted() -> None:
    from lighterfast.dealer.nonces import node_key, shared_lanes

    first, second = FakeNode(), FakeNode()
    url = "http://user@Node.Example:8080/"
    assert node_key(url) == node_key("http://node.example:8080") == "http://node.example:8080"
    a = NonceManager([4, 5], first.fetch, base_url=url, account_index=7)
    b = NonceManager([5], second.fetch, base_url="http://node.example:8080", account_index=7)
    other_account = NonceManager([5], second.fetch, base_url=url, account_index=8)
    assert a.shared and a.lanes[5] is b.lanes[5] and a.lanes[5] is not other_account.lanes[5]
    assert a.lanes[5].holders == 2 and len(shared_lanes()) == 3
    async with a.hold(5) as lane:
        assert await lane.take(2) == 100  # asked through the newest reader (b's)
    async with b.hold(5) as lane:
        assert await lane.take(1) == 102  # b counted on from a's nonces, no fetch again
    assert second.calls == [5] and first.calls == []
    b.close()
    b.close()  # idempotent
    assert a.lanes[5].holders == 1 and len(shared_lanes()) == 3
    a.lanes[5].invalidate()
    async with a.hold(5) as lane:  # b is closed: the lane asks through a's reader now
        await lane.take(1)
    assert second.calls == [5] and first.calls == [5]
    a.close()
    other_account.close()
    assert shared_lanes() == {}
    private = NonceManager([4], first.fetch)
    assert not private.shared and private.lanes[4].holders == 0
