"""Metering periods of a placement (``market.usage.due_periods``): hourly while it runs, the rest at
its end; no overlap, no gap, and the PF16-hours add up exactly to the placement's rounded total."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.market.usage import due_periods

A100 = 312.0          # dense FP16 TFLOPS: one A100 for an hour is 0.312 PF16-h
H = 3600.0


def _q(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


def test_a_running_placement_is_due_its_complete_hours_only() -> None:
    ps = due_periods(100.0, 100.0 + 3 * H + 5, ended=False, period_s=H, done=0, fp16_tflops=A100, count=2)
    assert [(p.n, p.start, p.seconds, p.pf16h) for p in ps] == [
        (0, 100.0, H, Decimal("0.624")), (1, 100.0 + H, H, Decimal("0.624")), (2, 100.0 + 2 * H, H, Decimal("0.624"))]
    assert due_periods(100.0, 100.0 + 3 * H + 5, ended=False, period_s=H, done=3, fp16_tflops=A100, count=2) == []
    assert due_periods(100.0, 100.0 + H - 1, ended=False, period_s=H, done=0, fp16_tflops=A100, count=2) == []


def test_an_ended_placement_gets_its_partial_last_hour_and_no_empty_one() -> None:
    (p,) = due_periods(0.0, 2.5 * H, ended=True, period_s=H, done=2, fp16_tflops=A100, count=1)
    assert (p.n, p.start, p.seconds, p.pf16h) == (2, 2 * H, 0.5 * H, Decimal("0.156"))
    on_bound = due_periods(0.0, 3 * H, ended=True, period_s=H, done=0, fp16_tflops=A100, count=1)
    assert [p.n for p in on_bound] == [0, 1, 2]                         # ended on a bound: no fourth, empty one
    assert due_periods(0.0, 3 * H, ended=True, period_s=H, done=3, fp16_tflops=A100, count=1) == []
    (zero,) = due_periods(5.0, 5.0, ended=True, period_s=H, done=0, fp16_tflops=A100, count=1)
    assert (zero.n, zero.seconds, zero.pf16h) == (0, 0.0, Decimal(0))  # it never ran: one zero record


def test_the_last_bound_is_what_the_placement_metered_when_it_ended() -> None:
    ps = due_periods(0.0, 1.5 * H, ended=True, period_s=H, done=0, fp16_tflops=A100, count=1, total_pf16h=0.5)
    assert [p.pf16h for p in ps] == [Decimal("0.312"), Decimal("0.188")]


@settings(max_examples=200, deadline=None)
@given(start=st.floats(0, 2e9), period=st.floats(1, 7200), run=st.floats(0, 20000),
       cuts=st.lists(st.floats(0, 1), max_size=6), count=st.integers(1, 8),
       tflops=st.sampled_from([148.0, 312.0, 362.05, 989.4]))
def test_billing_runs_at_any_times_cover_the_run_exactly(start: float, period: float, run: float, cuts: list[float],
                                                         count: int, tflops: float) -> None:
    """Billing runs while it runs (at random times), then one after its end: the periods follow each
    other without gap or overlap, cover the whole run, and their PF16-hours sum to the rounded total."""
    end = start + run
    done, got = 0, []
    for t in sorted(start + c * run for c in cuts):
        ps = due_periods(start, t, ended=False, period_s=period, done=done, fp16_tflops=tflops, count=count)
        got += ps
        done += len(ps)
    total = tflops * count * ((end - start) / 3600.0) / 1000.0            # PF16-h metered at the end
    got += due_periods(start, end, ended=True, period_s=period, done=done, fp16_tflops=tflops, count=count,
                       total_pf16h=total)
    elapsed = end - start
    assert len(got) == max(1, math.ceil(elapsed / period))             # hours begun, at least one
    assert [p.n for p in got] == list(range(len(got)))
    assert got[0].start == start
    for a, b in zip(got, got[1:], strict=False):
        assert math.isclose(a.start + a.seconds, b.start, rel_tol=0, abs_tol=1e-6 * max(1.0, abs(b.start)))
    assert math.isclose(sum(p.seconds for p in got), elapsed, rel_tol=1e-9, abs_tol=1e-6)
    assert sum((p.pf16h for p in got), Decimal(0)) == _q(total)
    assert all(p.pf16h >= 0 for p in got)

