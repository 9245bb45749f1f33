"""Forecasts and the start they recommend, against a direct re-statement of each definition in
plain Python loops (no numpy, no code under test) and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suanli.domain.errors import UnknownName
from suanli.scheduling.forecast import best_start, forecast, window_means, worth_waiting


def ref_same_hour(past: list[float], horizon: int, days: int) -> list[float]:
    """For future hour now+k: the mean of the values at now+k-24j for the smallest j with
    now+k-24j <= now, and the next days-1 days before it, as far as the past reaches."""
    now = len(past) - 1
    out = []
    for k in range(1, horizon + 1):
        j = 1
        while now + k - 24 * j > now:
            j += 1
        vals = [past[now + k - 24 * (j + d)] for d in range(days) if now + k - 24 * (j + d) >= 0]
        out.append(sum(vals) / len(vals))
    return out


@pytest.mark.parametrize("n,horizon", [(24, 1), (24, 24), (25, 30), (100, 48), (24 * 9 + 5, 72)])
def test_seasonal_forecasts_match_their_definition(n: int, horizon: int) -> None:
    rng = np.random.default_rng(n)
    past = list(rng.uniform(100, 500, n))
    assert list(forecast("seasonal-naive", np.array(past), horizon)) == pytest.approx(ref_same_hour(past, horizon, 1))
    assert list(forecast("seasonal-mean", np.array(past), horizon)) == pytest.approx(ref_same_hour(past, horizon, 7))


def test_a_forecast_never_reads_past_its_input() -> None:
    """Changing anything after "now" cannot change the forecast: it is never given."""
    series = np.arange(24 * 10, dtype=float)
    f = forecast("seasonal-mean", series[:24 * 8], 24)
    assert f[0] == np.mean([series[24 * 8 - 24 + 0 - 24 * d] for d in range(7)])


def test_a_daily_cycle_is_forecast_exactly_by_both() -> None:
    day = [300 + 100 * math.sin(2 * math.pi * h / 24) for h in range(24)]
    past = np.array(day * 8)
    for name in ("seasonal-naive", "seasonal-mean"):
        assert list(forecast(name, past, 36)) == pytest.approx((day * 3)[:36])


def test_an_unknown_forecast_lists_the_known_ones() -> None:
    with pytest.raises(UnknownName, match="seasonal-naive"):
        forecast("crystal-ball", np.ones(48), 5)


def test_window_means_and_the_best_start_by_hand() -> None:
    values = np.array([10.0, 2.0, 4.0, 8.0, 1.0])
    # a 1.5 h run starting at each whole hour: (10+1)/1.5, (2+2)/1.5, (4+4)/1.5, (8+0.5)/1.5
    assert list(window_means(values, 1.5)) == pytest.approx([11 / 1.5, 4 / 1.5, 8 / 1.5, 8.5 / 1.5])
    assert best_start(values, 1.5, latest_offset_h=10) == (1, pytest.approx(4 / 1.5), pytest.approx(11 / 1.5))
    # the slack allows no wait: start now
    assert best_start(values, 1.5, latest_offset_h=0)[0] == 0
    # a run of 1 h may start at 4 (value 1), if the slack reaches it
    assert best_start(values, 1.0, latest_offset_h=4)[:2] == (4, 1.0)
    assert best_start(values, 1.0, latest_offset_h=3)[:2] == (1, 2.0)


def test_waiting_needs_a_real_gain() -> None:
    assert worth_waiting(90.0, 100.0, 0.05) and worth_waiting(95.0, 100.0, 0.05)
    assert not worth_waiting(96.0, 100.0, 0.05) and not worth_waiting(50.0, 0.0, 0.05)
