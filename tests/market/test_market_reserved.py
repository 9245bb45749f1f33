"""Reserved contracts: drawing, overflow, resale on spot, the unused commitment."""

from decimal import Decimal as D

import pytest
from market_builders import RESERVATION

from suanli.domain.errors import InvalidInput
from suanli.market.reserved import ReservationState, ReservedContract, draw, resale_ask, return_unsold


def test_draws_inside_the_window_overflow_outside_or_beyond():
    s = ReservationState(RESERVATION)
    d = draw(s, D("60"), 10.0)
    assert (d.covered, d.overflow, d.state.used) == (D("60"), D("0"), D("60"))
    d = draw(d.state, D("50"), 20.0)
    assert (d.covered, d.overflow, d.state.available) == (D("40"), D("10"), D("0"))
    d = draw(s, D("5"), 3600.0)            # the window is [start, end)
    assert (d.covered, d.overflow) == (D("0"), D("5"))


def test_resale_sets_quantity_aside_and_unsold_comes_back():
    s = draw(ReservationState(RESERVATION), D("30"), 10.0).state
    ask_, s = resale_ask(s, D("50"), D("8"), 100.0, "resell-1")
    assert ask_.seller == "tenant:lab" and ask_.contract == "r1" and ask_.qty == D("50")
    assert s.available == D("20")
    assert draw(s, D("30"), 200.0).covered == D("20")
    s = return_unsold(s, D("15"))
    assert (s.offered, s.available) == (D("35"), D("35"))
    with pytest.raises(InvalidInput, match="unused reserved"):
        resale_ask(s, D("36"), D("8"), 100.0, "x")
    with pytest.raises(InvalidInput, match="not open"):
        resale_ask(s, D("1"), D("8"), 5000.0, "x")
    with pytest.raises(InvalidInput):
        return_unsold(s, D("36"))


def test_bad_contracts():
    with pytest.raises(InvalidInput, match="end after"):
        ReservedContract("r", "t", "p", "mid", "r", D("1"), 10.0, 10.0, D("1"))
    with pytest.raises(InvalidInput):
        ReservedContract("r", "t", "p", "mid", "r", D("-1"), 0.0, 10.0, D("1"))
