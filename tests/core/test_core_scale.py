"""Scale: human <-> wire-integer conversion, run against the compiled core and its pure twin."""

from __future__ import annotations

from decimal import Decimal
from types import ModuleType

import pytest

from lighterfast.core import _core, _core_py
from lighterfast.protocol import MAX_BASE_AMOUNT, MAX_PRICE


@pytest.fixture(params=[_core, _core_py], ids=["compiled", "pure"])
def m(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


def test_scales_and_repr(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    assert (s.price_decimals, s.size_decimals) == (2, 4)
    assert (s.price_scale, s.size_scale) == (100, 10_000)
    assert repr(s) == "Scale(price_decimals=2, size_decimals=4)"
    assert s == m.Scale(2, 4) and s != m.Scale(4, 2)
    assert hash(s) == hash(m.Scale(2, 4))


@pytest.mark.parametrize("bad", [-1, 19, 100])
def test_decimals_out_of_range(m: ModuleType, bad: int) -> None:
    with pytest.raises(ValueError, match=r"price_decimals must be in 0\.\.18"):
        m.Scale(bad, 2)
    with pytest.raises(ValueError, match=r"size_decimals must be in 0\.\.18"):
        m.Scale(2, bad)


@pytest.mark.parametrize("bad", [True, 2.0, "2", None])
def test_decimals_wrong_type(m: ModuleType, bad: object) -> None:
    with pytest.raises(TypeError, match="price_decimals must be an int"):
        m.Scale(bad, 2)


def test_exact_decimal_strings(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    assert s.price_to_int("3000.05") == 300005
    assert s.price_to_int(Decimal("3000.05")) == 300005
    assert s.price_to_int(3000.05) == 300005
    assert s.size_to_int("0.0050") == 50
    assert s.size_to_int(0.005) == 50
    assert s.size_to_int(Decimal("5E-3")) == 50
    assert s.price_to_int(" 12.5 ") == 1250
    assert s.price_to_int("+.5") == 50
    assert s.price_to_int("7.") == 700
    assert s.price_to_int("1e3") == 100_000
    assert s.price_to_int(3000) == 300_000


def test_float_uses_shortest_repr(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    # 0.1 + 0.2 == 0.30000000000000004: shortest repr digits, no binary drift into the tick.
    assert s.price_to_int(0.1 + 0.2, "up") == 31  # the trailing ...04 is a real nonzero digit
    assert s.price_to_int(0.1 + 0.2) == 30
    assert s.price_to_int(1.005) == 101  # binary 1.00499999... but repr "1.005" rounds half up
    assert s.size_to_int(0.0003 * 3) == 9  # 0.0009000000000000001 -> down -> 9


@pytest.mark.parametrize(
    ("value", "rounding", "expected"),
    [
        ("1.234", "nearest", 123),
        ("1.235", "nearest", 124),  # half rounds up (away from zero)
        ("1.2349999", "nearest", 123),
        ("1.231", "up", 124),
        ("1.230000", "up", 123),
        ("1.239", "down", 123),
    ],
)
def test_price_rounding_modes(m: ModuleType, value: str, rounding: str, expected: int) -> None:
    assert m.Scale(2, 4).price_to_int(value, rounding) == expected


def test_size_rounds_down_by_default(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    assert s.size_to_int("0.00019") == 1
    assert s.size_to_int("0.00019", "nearest") == 2
    assert s.size_to_int("0.00011", "up") == 2


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        "NaN",
        "-Infinity",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("-Infinity"),
        " inf ",
    ],
)
def test_non_finite_rejected(m: ModuleType, value: object) -> None:
    s = m.Scale(2, 4)
    with pytest.raises(ValueError, match="price must be a finite number"):
        s.price_to_int(value)
    with pytest.raises(ValueError, match="size must be a finite number"):
        s.size_to_int(value)


@pytest.mark.parametrize("value", [-1, -0.01, "-3000", Decimal("-1.5")])
def test_negative_rejected(m: ModuleType, value: object) -> None:
    with pytest.raises(ValueError, match="price must be positive"):
        m.Scale(2, 4).price_to_int(value)


@pytest.mark.parametrize("value", [0, 0.0, -0.0, "0", "0.0000", "-0", Decimal("0E-8")])
def test_zero_rejected(m: ModuleType, value: object) -> None:
    with pytest.raises(ValueError, match="size must be > 0"):
        m.Scale(2, 4).size_to_int(value)


def test_rounds_to_zero_rejected(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    with pytest.raises(ValueError, match=r"size '0.00009' rounds to 0 at 4 decimals"):
        s.size_to_int("0.00009")
    with pytest.raises(ValueError, match=r"price 0\.004 rounds to 0"):
        s.price_to_int(0.004)
    assert s.price_to_int(0.004, "up") == 1
    assert s.price_to_int(0.005) == 1


@pytest.mark.parametrize("value", [True, False, None, [1], 1 + 2j, b"1.0", object()])
def test_wrong_types(m: ModuleType, value: object) -> None:
    s = m.Scale(2, 4)
    with pytest.raises(TypeError, match="price must be a number"):
        s.price_to_int(value)
    with pytest.raises(TypeError, match="size must be a number"):
        s.size_to_int(value)


@pytest.mark.parametrize(
    "text", ["", " ", ".", "abc", "1,5", "1_000", "1e", "e5", "0x10", "--1", "1.2.3", "١٢"]
)
def test_malformed_strings(m: ModuleType, text: str) -> None:
    with pytest.raises(ValueError, match="price is not a decimal number"):
        m.Scale(2, 4).price_to_int(text)


def test_bad_rounding(m: ModuleType) -> None:
    with pytest.raises(ValueError, match="rounding must be one of"):
        m.Scale(2, 4).price_to_int("1", "half-even")


def test_price_wire_width(m: ModuleType) -> None:
    s0 = m.Scale(0, 0)
    assert s0.price_to_int(MAX_PRICE) == MAX_PRICE
    assert s0.price_to_int(str(MAX_PRICE)) == MAX_PRICE
    with pytest.raises(ValueError, match="price 4294967296 overflows the wire maximum 4294967295"):
        s0.price_to_int(MAX_PRICE + 1)
    s2 = m.Scale(2, 4)
    assert s2.price_to_int("42949672.95") == MAX_PRICE
    assert s2.price_to_int("42949672.954") == MAX_PRICE
    with pytest.raises(ValueError, match="overflows"):
        s2.price_to_int("42949672.955")  # rounds up past the uint32 maximum
    with pytest.raises(ValueError, match="overflows"):
        s2.price_to_int("42949672.951", "up")
    with pytest.raises(ValueError, match="overflows"):
        s2.price_to_int(10**40)
    with pytest.raises(ValueError, match="overflows"):
        s2.price_to_int("1e999999999999")


def test_size_wire_width(m: ModuleType) -> None:
    s = m.Scale(0, 0)
    assert s.size_to_int(MAX_BASE_AMOUNT) == MAX_BASE_AMOUNT
    with pytest.raises(ValueError, match=r"size \d+ overflows the wire maximum 281474976710655"):
        s.size_to_int(MAX_BASE_AMOUNT + 1)


def test_extreme_decimals(m: ModuleType) -> None:
    s = m.Scale(8, 18)
    assert s.price_to_int("0.00000001") == 1
    assert s.price_to_int("42.94967295") == MAX_PRICE
    assert s.size_to_int("0.000000000000000001") == 1
    assert s.size_to_int("0.000281474976710655") == MAX_BASE_AMOUNT
    assert s.size_to_int(1e-18) == 1
    with pytest.raises(ValueError, match="overflows"):
        s.size_to_int(1)
    assert s.price_to_int("1e-999999999", "up") == 1
    with pytest.raises(ValueError, match="rounds to 0"):
        s.price_to_int("1e-999999999")
    assert s.price_to_float(MAX_PRICE) == 42.94967295
    assert s.format_size(1) == "0.000000000000000001"


def test_to_float(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    assert s.price_to_float(300005) == 3000.05
    assert s.size_to_float(50) == 0.005
    assert s.size_to_float(2**60 + 1) == (2**60 + 1) / 10_000
    with pytest.raises(TypeError, match="price must be an int"):
        s.price_to_float(1.5)
    with pytest.raises(TypeError, match="size must be an int"):
        s.size_to_float(True)


def test_parse_wire_strings(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    assert s.parse_price("3000.05") == 300005
    assert s.parse_price("3000.5") == 300050
    assert s.parse_price("3000") == 300000
    assert s.parse_price("3000.0500") == 300005  # extra zero decimals are exact
    assert s.parse_size("0.0050") == 50
    assert s.parse_size("0.0") == 0
    assert s.parse_size("0.0000") == 0
    assert s.parse_size("0") == 0
    assert s.parse_size("007.") == 70000
    with pytest.raises(ValueError, match=r"price '3000.055' has more than 2 decimals"):
        s.parse_price("3000.055")
    for bad in ["", "-1", "+1", "1e3", " 1", ".5", "1.2.3", "x", "١"]:
        with pytest.raises(ValueError, match="size is not a wire decimal string"):
            s.parse_size(bad)
    with pytest.raises(ValueError, match="overflows int64"):
        s.parse_size("922337203685477.5808")
    assert s.parse_size("922337203685477.5807") == 2**63 - 1
    with pytest.raises(TypeError, match="price must be a str"):
        s.parse_price(3000.05)


def test_format_wire_strings(m: ModuleType) -> None:
    s = m.Scale(2, 4)
    assert s.format_size(50) == "0.0050"
    assert s.format_size(0) == "0.0000"
    assert s.format_price(300005) == "3000.05"
    assert m.Scale(0, 0).format_price(7) == "7"
    with pytest.raises(ValueError, match=r"price must be in 0\.\."):
        s.format_price(-1)
    with pytest.raises(TypeError, match="size must be an int"):
        s.format_size("50")
    for value in [0, 1, 50, 300005, 2**63 - 1]:
        assert s.parse_size(s.format_size(value)) == value
