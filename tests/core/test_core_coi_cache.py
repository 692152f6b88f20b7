"""CoiCache: bounded COI -> order map with oldest-first eviction, compiled and pure twin."""

from __future__ import annotations

from types import ModuleType

import pytest

from lighterfast.core import _core, _core_py


@pytest.fixture(params=[_core, _core_py], ids=["compiled", "pure"])
def m(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


def order(coi: int, status: str = "open", **extra: object) -> dict[str, object]:
    return {"client_order_index": coi, "status": status, **extra}


def test_basic_mapping(m: ModuleType) -> None:
    cache = m.CoiCache(4)
    assert cache.capacity == 4 and len(cache) == 0
    cache.put(7, {"a": 1})
    assert 7 in cache and 8 not in cache and "7" not in cache
    assert cache.get(7) == {"a": 1}
    assert cache.get(8) is None and cache.get(8, "x") == "x"
    assert cache.pop(7) == {"a": 1}
    assert cache.pop(7, "gone") == "gone"
    assert len(cache) == 0
    assert repr(cache) == "CoiCache(len=0, capacity=4)"


def test_default_capacity(m: ModuleType) -> None:
    assert m.CoiCache().capacity == 65536


def test_evicts_oldest_when_full(m: ModuleType) -> None:
    cache = m.CoiCache(3)
    for coi in (1, 2, 3, 4, 5):
        cache.put(coi, coi * 10)
    assert cache.keys() == [3, 4, 5]
    assert cache.values() == [30, 40, 50]
    assert cache.items() == [(3, 30), (4, 40), (5, 50)]


def test_capacity_one(m: ModuleType) -> None:
    cache = m.CoiCache(1)
    cache.put(1, "a")
    cache.put(2, "b")
    assert cache.items() == [(2, "b")]
    cache.put(2, "c")
    assert cache.items() == [(2, "c")]
    assert cache.pop(2) == "c"
    cache.put(3, "d")
    assert cache.items() == [(3, "d")]


def test_reput_updates_and_refreshes_age(m: ModuleType) -> None:
    cache = m.CoiCache(3)
    cache.put(1, "a")
    cache.put(2, "b")
    cache.put(3, "c")
    cache.put(1, "a2")  # 1 becomes the newest
    cache.put(4, "d")  # evicts 2, the oldest now
    assert cache.items() == [(3, "c"), (1, "a2"), (4, "d")]


def test_stale_slots_of_popped_keys_do_not_evict_live_ones(m: ModuleType) -> None:
    cache = m.CoiCache(2)
    cache.put(1, "a")
    cache.put(2, "b")
    cache.pop(2)
    cache.put(3, "c")  # not full: 1 must survive
    assert cache.items() == [(1, "a"), (3, "c")]
    cache.pop(1)
    cache.put(1, "a2")  # re-put of a popped key: its old slot must not evict it
    cache.put(4, "d")  # full: evicts 3 (oldest live), not the re-put 1
    assert cache.items() == [(1, "a2"), (4, "d")]


def test_many_pops_then_eviction_order(m: ModuleType) -> None:
    cache = m.CoiCache(100)
    for coi in range(1, 101):
        cache.put(coi, coi)
    for coi in range(2, 101, 2):
        cache.pop(coi)
    for coi in range(200, 250):  # refills to 100 without evicting: dead slots are not live
        cache.put(coi, coi)
    assert cache.keys() == list(range(1, 101, 2)) + list(range(200, 250))
    for coi in range(300, 310):  # full now: evicts the 10 oldest live (1, 3, ..., 19)
        cache.put(coi, coi)
    assert cache.keys() == list(range(21, 101, 2)) + list(range(200, 250)) + list(range(300, 310))
    assert len(cache) == 100


def test_clear(m: ModuleType) -> None:
    cache = m.CoiCache(2)
    cache.put(1, 1)
    cache.clear()
    assert len(cache) == 0 and cache.values() == []
    cache.put(2, 2)
    cache.put(3, 3)
    cache.put(4, 4)
    assert cache.keys() == [3, 4]


def test_key_types(m: ModuleType) -> None:
    cache = m.CoiCache(2)
    for bad in (True, "1", 1.0, None):
        with pytest.raises(TypeError, match="coi must be an int"):
            cache.put(bad, {})
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("capacity", "error"),
    [(0, ValueError), (-1, ValueError), (True, TypeError), (2.0, TypeError), (2**31, ValueError)],
)
def test_bad_capacity(m: ModuleType, capacity: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="capacity"):
        m.CoiCache(capacity)


def test_apply_orders_live_and_terminal(m: ModuleType) -> None:
    cache = m.CoiCache(8)
    changed = cache.apply_orders(
        [order(1), order(2, "pending"), order(3, "in-progress"), order(0, "open")]
    )
    assert changed == 3 and cache.keys() == [1, 2, 3]
    changed = cache.apply_orders(
        [
            order(1, "filled"),
            order(2, "canceled-post-only"),
            order(3, "expired"),
            order(9, "canceled"),  # unknown terminal COI: nothing to remove
        ]
    )
    assert changed == 3 and len(cache) == 0


def test_apply_orders_keeps_latest(m: ModuleType) -> None:
    cache = m.CoiCache(8)
    cache.apply_orders([order(5, remaining="1.0")])
    cache.apply_orders([order(5, remaining="0.5")])
    assert cache.get(5) == order(5, remaining="0.5")


def test_apply_orders_validates_before_changing(m: ModuleType) -> None:
    cache = m.CoiCache(8)
    cache.put(1, order(1))
    with pytest.raises(ValueError, match=r"orders\[1\] has no client_order_index"):
        cache.apply_orders([order(1, "filled"), {"status": "open"}])
    with pytest.raises(TypeError, match=r"orders\[0\].client_order_index must be an int"):
        cache.apply_orders([{"client_order_index": "2", "status": "open"}])
    with pytest.raises(ValueError, match=r"orders\[0\] has no status"):
        cache.apply_orders([{"client_order_index": 2}])
    with pytest.raises(TypeError, match=r"orders\[0\].status must be a str"):
        cache.apply_orders([{"client_order_index": 2, "status": 3}])
    with pytest.raises(TypeError, match=r"orders\[0\] must be a dict"):
        cache.apply_orders([[1, "open"]])
    with pytest.raises(TypeError, match="orders must be a list"):
        cache.apply_orders({"1": []})
    assert cache.items() == [(1, order(1))]
