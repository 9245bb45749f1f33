"""Money: parsing refuses floats and garbage; rounding is half-even to the cent."""

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.errors import InvalidInput
from suanli.market.money import (
    parse_money,
    parse_price,
    parse_quantity,
    parse_rate,
    quantity_from_float,
    round_money,
    round_units,
    round_units_array,
)


@pytest.mark.parametrize("amount, rounded", [
    ("0.125", "0.12"), ("0.135", "0.14"), ("0.005", "0.00"), ("0.015", "0.02"), ("-0.125", "-0.12"),
    ("10", "10.00"), ("2.675", "2.68"), ("1.004999", "1.00"),
])
def test_round_money_is_half_even_to_the_cent(amount, rounded):
    assert round_money(D(amount)) == D(rounded)
    assert str(round_money(D(amount))) == rounded


@pytest.mark.parametrize("value, expected", [("12.50", D("12.50")), (12, D(12)), (D("0.01"), D("0.01"))])
def test_parse_money_accepts_strings_ints_and_decimals(value, expected):
    assert parse_money(value) == expected


@pytest.mark.parametrize("value, problem", [
    (0.1, "not a float"), ("abc", "not a number"), ("NaN", "finite"), ("-1", "zero or more"),
    ("1.001", "more than 2 decimals"), (True, "not a bool"), (None, "decimal string"), ("Infinity", "finite"),
    ("1e40", "too large"),
])
def test_parse_money_refuses_floats_and_garbage(value, problem):
    with pytest.raises(InvalidInput) as err:
        parse_money(value, "budget")
    assert err.value.field == "budget"
    assert err.value.fix


def test_signed_money_and_quanta():
    assert parse_money("-3.50", signed=True) == D("-3.50")
    assert parse_price("12.3456") == D("12.3456")
    with pytest.raises(InvalidInput):
        parse_price("12.34567")
    assert parse_quantity("0.000001") == D("0.000001")
    with pytest.raises(InvalidInput):
        parse_quantity("0")
    assert parse_quantity("0", positive=False) == 0
    with pytest.raises(InvalidInput):
        parse_rate("1.5")


def test_quantity_from_float_rounds_metered_floats_once():
    assert quantity_from_float(0.312) == D("0.312000")
    assert quantity_from_float(1 / 3) == D("0.333333")
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(InvalidInput):
            quantity_from_float(bad)


@given(st.integers(-10**15, 10**15), st.integers(0, 10))
def test_integer_rounding_is_round_money(value, exp):
    """round_units on fixed-point integers is the same half-even rule as round_money."""
    assert round_units(value, 10**exp) == round_money(D(value).scaleb(-exp - 2)).scaleb(2)


@pytest.mark.parametrize("value, divisor, expected", [(125, 10, 12), (135, 10, 14), (-125, 10, -12), (5, 10, 0),
                                                       (15, 10, 2), (149, 100, 1), (150, 100, 2), (250, 100, 2)])
def test_round_units_table(value, divisor, expected):
    assert round_units(value, divisor) == expected


@given(st.lists(st.integers(-2**61, 2**61), max_size=30), st.integers(0, 10))
def test_array_rounding_is_round_units(values, exp):
    got = round_units_array(np.array(values, dtype=np.int64), 10**exp).tolist()
    assert got == [round_units(v, 10**exp) for v in values]
