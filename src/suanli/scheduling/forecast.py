"""Forecasts of an hourly series (grid carbon intensity, electricity price) and the start hour they
recommend for deferrable work. Pure: values in, values out; the simulator and the live loop pass
the series' values up to "now" (never later ones, except to the ``oracle``, a reference only).

Forecasters (``FORECASTS``), each ``f(past, horizon) -> next horizon hours``, where ``past[-1]`` is
the current hour's value:

- ``seasonal-naive``: hour ``now + k`` takes the value of the same hour one day before (the last
  day repeated), the textbook baseline for series with a daily cycle. The default: on the packaged
  series (eight zones, 2021-2024, 24 h ahead) its mean absolute error is 12.1% of the mean for
  carbon and 31.0% for price, against 12.9% and 36.5% for ``seasonal-mean`` and 18.5% and 40.9%
  for holding the current value (``python bench/forecast_error.py``; docs/green.md);
- ``seasonal-mean``: the mean of the same hour over the last 7 days (smoother, but it carries
  last week's price spikes into every day);
- ``oracle``: the true future values. It is not a forecaster: it is how far a perfect forecast
  would go, and ``suanli simulate`` reports the gap to it.

``best_start`` picks, among the start offsets a job's slack allows, the one whose run window has
the lowest mean forecast value; ``worth_waiting`` says whether that beats starting now by enough.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from suanli.domain.registry import Registry
from suanli.scheduling.types import FloatArray

DAY = 24
WEEK_DAYS = 7

Forecaster = Callable[[FloatArray, int], FloatArray]
FORECASTS: Registry[Forecaster] = Registry("forecast")


def _same_hour_days_before(past: FloatArray, horizon: int, days: int) -> FloatArray:
    """For each future hour k = 1..horizon, the values of the same hour 1..days days before now+k
    that are already known (at or before ``past[-1]``)."""
    n = len(past)
    k = np.arange(1, horizon + 1)
    back = DAY * np.ceil(k / DAY).astype(np.int64)          # first whole day back that is known
    cols = [n - 1 + k - back - DAY * d for d in range(days)]
    idx = np.stack(cols, axis=1)
    return np.where(idx >= 0, past[np.clip(idx, 0, n - 1)], np.nan)


def seasonal_naive(past: FloatArray, horizon: int) -> FloatArray:
    """The same hour one day before (the last known day, repeated)."""
    if len(past) < DAY:
        return np.full(horizon, float(past[-1]))
    return np.asarray(_same_hour_days_before(past, horizon, 1)[:, 0], dtype=np.float64)


def seasonal_mean(past: FloatArray, horizon: int) -> FloatArray:
    """The mean of the same hour over the last 7 known days (fewer while less history exists)."""
    if len(past) < DAY:
        return np.full(horizon, float(past[-1]))
    return np.asarray(np.nanmean(_same_hour_days_before(past, horizon, WEEK_DAYS), axis=1), dtype=np.float64)


FORECASTS.add("seasonal-naive", seasonal_naive)
FORECASTS.add("seasonal-mean", seasonal_mean)
DEFAULT_FORECAST = "seasonal-naive"


def forecast(name: str, past: FloatArray, horizon: int) -> FloatArray:
    """The named forecast of the next ``horizon`` hours from ``past`` (``past[-1]`` is now)."""
    if horizon <= 0:
        return np.zeros(0)
    return FORECASTS.get(name)(np.asarray(past, dtype=np.float64), horizon)


def window_means(values: FloatArray, run_hours: float) -> FloatArray:
    """Mean of the hourly ``values`` over a run of ``run_hours`` starting at each whole hour
    offset 0..len(values)-ceil(run_hours) (piecewise constant within an hour)."""
    run_hours = max(run_hours, 1e-9)
    whole = int(np.floor(run_hours))
    frac = run_hours - whole
    need = whole + (1 if frac > 0 else 0)
    starts = len(values) - need + 1
    if starts <= 0:
        return np.zeros(0)
    cum = np.concatenate([[0.0], np.cumsum(values)])
    s = np.arange(starts)
    total = cum[s + whole] - cum[s]
    if frac > 0:
        total = total + frac * values[s + whole]
    return np.asarray(total / run_hours)


def best_start(now_and_ahead: FloatArray, run_hours: float, latest_offset_h: int) -> tuple[int, float, float]:
    """(offset in whole hours, its mean value, the mean value of starting now) for the start at
    offsets 0..``latest_offset_h`` with the lowest mean over the run. ``now_and_ahead[0]`` is the
    current hour's value and ``[1:]`` the forecast; a tie keeps the earliest start."""
    means = window_means(now_and_ahead, run_hours)
    if len(means) == 0:
        return 0, float(now_and_ahead[0]), float(now_and_ahead[0])
    usable = means[: max(0, latest_offset_h) + 1]
    best = int(np.argmin(usable))
    return best, float(usable[best]), float(means[0])


def worth_waiting(best_mean: float, now_mean: float, min_gain: float) -> bool:
    """Wait only for a relative improvement of at least ``min_gain`` (e.g. 0.05 = 5%)."""
    return now_mean > 0 and (now_mean - best_mean) / now_mean >= min_gain
