"""WeightLimiter: exact rolling-window weighted budget, compiled and pure twin."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from lighterfast.core import _core, _core_py


@pytest.fixture(params=[_core, _core_py], ids=["compiled", "pure"])
def m(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


def test_budget_and_refusal(m: ModuleType) -> None:
    lim = m.WeightLimiter(60)
    assert lim.capacity == 60 and lim.window == 60.0
    assert lim.available(0.0) == 60
    assert lim.try_acquire(50, 0.0)
    assert not lim.try_acquire(11, 1.0)  # refused: nothing taken
    assert lim.available(1.0) == 10
    assert lim.try_acquire(10, 1.0)
    assert lim.available(1.0) == 0


def test_exact_window_boundary(m: ModuleType) -> None:
    lim = m.WeightLimiter(10)
    t = 1000.25
    assert lim.try_acquire(10, t)
    assert lim.available(t + 59.999) == 0
    assert not lim.try_acquire(1, t + 59.999)
    assert lim.wait_time(1, t + 59.999) == pytest.approx(0.001)
    assert lim.available(t + 60) == 10  # a unit acquired at t is back at t + 60 exactly
    assert lim.try_acquire(10, t + 60)
    assert lim.available(t + 119.5) == 0
    assert lim.available(t + 120) == 10


def test_rolling_not_fixed_window(m: ModuleType) -> None:
    lim = m.WeightLimiter(6)
    for second in range(6):
        assert lim.try_acquire(1, float(second))
    assert not lim.try_acquire(1, 59.0)
    for second in range(6):
        assert lim.available(60.0 + second) == second + 1
        assert lim.wait_time(6, 60.0 + second) == pytest.approx(5.0 - second)


def test_wait_time(m: ModuleType) -> None:
    lim = m.WeightLimiter(10)
    assert lim.wait_time(10, 0.0) == 0.0
    lim.try_acquire(4, 0.0)
    lim.try_acquire(4, 10.0)
    assert lim.wait_time(2, 20.0) == 0.0
    assert lim.wait_time(3, 20.0) == 40.0  # the first 4 frees at 60
    assert lim.wait_time(7, 20.0) == 50.0  # needs the second 4 too (frees at 70)
    assert not lim.try_acquire(7, 69.0)
    assert lim.try_acquire(7, 70.0)


def test_custom_window(m: ModuleType) -> None:
    lim = m.WeightLimiter(2, window=0.5)
    assert lim.try_acquire(2, 10.0)
    assert lim.wait_time(1, 10.0) == 0.5
    assert lim.try_acquire(2, 10.5)


def test_non_monotonic_now_does_not_corrupt(m: ModuleType) -> None:
    lim = m.WeightLimiter(10)
    assert lim.try_acquire(10, 100.0)
    # The clock jumps back: treated as 100.0, so the budget is still spent, not refunded.
    assert lim.available(50.0) == 0
    assert not lim.try_acquire(1, 0.0)
    assert lim.wait_time(1, 10.0) == 60.0
    assert lim.available(160.0) == 10
    assert lim.try_acquire(5, 120.0)  # counted at 160.0 (latest seen)
    assert lim.available(219.0) == 5
    assert lim.available(220.0) == 10


def test_default_clock_is_monotonic(m: ModuleType) -> None:
    lim = m.WeightLimiter(3)
    assert lim.try_acquire(3)
    assert lim.available() == 0
    assert 59.0 < lim.wait_time(1) <= 60.0
    # Passing an explicit earlier time after the real clock is clamped, never refunds.
    assert lim.available(time.monotonic() - 100) == 0


@pytest.mark.parametrize("weight", [0, -1, 11])
def test_bad_weight(m: ModuleType, weight: int) -> None:
    lim = m.WeightLimiter(10)
    for call in (lim.try_acquire, lim.wait_time):
        with pytest.raises(ValueError, match=r"weight must be in 1\.\.10"):
            call(weight, 0.0)
    assert lim.available(0.0) == 10


@pytest.mark.parametrize("weight", [True, 1.0, "1", None])
def test_weight_type(m: ModuleType, weight: object) -> None:
    with pytest.raises(TypeError, match="weight must be an int"):
        m.WeightLimiter(10).try_acquire(weight, 0.0)


@pytest.mark.parametrize("now", [float("nan"), float("inf")])
def test_bad_now(m: ModuleType, now: float) -> None:
    lim = m.WeightLimiter(10)
    with pytest.raises(ValueError, match="now must be finite"):
        lim.try_acquire(1, now)
    with pytest.raises(TypeError, match="now must be a number"):
        lim.available("1")
    assert lim.available(0.0) == 10


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0,), ValueError),
        ((True,), TypeError),
        ((10, 0.0), ValueError),
        ((10, float("inf")), ValueError),
        ((10, "60"), TypeError),
        ((2**62 + 1,), ValueError),
    ],
)
def test_bad_construction(m: ModuleType, args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        m.WeightLimiter(*args)


def test_many_events_grow(m: ModuleType) -> None:
    lim = m.WeightLimiter(5000)
    for i in range(5000):
        assert lim.try_acquire(1, i * 0.01)
    assert not lim.try_acquire(1, 50.0)
    assert lim.wait_time(1, 50.0) == pytest.approx(10.0)
    assert lim.available(60.0 + 24.995) == 2500
