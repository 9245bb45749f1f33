"""The idealized references of ``bench/jct_floor.py``: hand-computed SRPT cases, and on a real
trace prefix both references sit at or above the no-queue bound they are compared with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from jct_floor import fluid_srpt_mean_jct, main  # noqa: E402


@pytest.mark.parametrize(("submit", "alone", "rate", "capacity", "expected"), [
    ([0.0], [100.0], [1.0], 1.0, 100.0),                       # alone: its bound
    ([0.0, 0.0], [100.0, 100.0], [1.0, 1.0], 1.0, 150.0),      # one after the other: 100, 200
    ([0.0, 10.0], [100.0, 10.0], [1.0, 1.0], 1.0, 60.0),       # the short one preempts: 20-10, 110
    ([0.0, 0.0], [100.0, 100.0], [1.0, 1.0], 2.0, 100.0),      # room for both at their cap
    ([0.0, 0.0], [50.0, 100.0], [1.0, 1.0], 1.5, 87.5),        # B at half speed until 50, then 75 s more
])
def test_fluid_srpt_hand_computed(submit, alone, rate, capacity, expected):
    got = fluid_srpt_mean_jct(np.array(submit), np.array(alone), np.array(rate), capacity)
    assert got == pytest.approx(expected, abs=1e-6)


def test_references_on_a_trace_prefix_are_at_least_the_no_queue_bound(capsys):
    assert main(["--limit", "3000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["jobs"] == 3000
    assert out["ratio"] >= 1.0 and out["chip_mix_ratio"] >= 1.0 - 1e-9
    assert out["fluid_srpt_jct_mean_s"] >= out["bound_jct_mean_s"]
    assert out["fluid_mix_ratio"] >= 1.0 and out["fluid_mix_cheapest_ratio"] >= out["fluid_mix_ratio"]
    assert out["fluid_mix_cheapest_cost_ratio"] >= 1.0 - 1e-9
    assert out["fluid_mix_cheapest_cost_ratio"] <= out["fluid_mix_cost_ratio"]


def test_the_completion_matrix_has_each_jobs_bound_at_its_fastest_eligible_pool():
    from suanli.config.federation_file import load_federation
    from suanli.domain.jobs import Job
    from suanli.scheduling import build_pool_table
    from suanli.sim.bounds import completion_matrix, job_bounds

    table = build_pool_table(load_federation("east-data-west-compute"))
    jobs = [Job(id="one", tenant="t", gpus=1, duration_s=3600.0),
            Job(id="wide", tenant="t", gpus=64, duration_s=3600.0),
            Job(id="huge", tenant="t", gpus=4096, duration_s=3600.0)]
    b = job_bounds(table, jobs)
    times = completion_matrix(table, jobs)
    assert np.array_equal(np.min(times[:2], axis=1), b.completion_s[:2])
    one, wide = (int(p) for p in np.argmin(times[:2], axis=1))
    assert table.fp16_tflops[one] == table.fp16_tflops.max()          # an H800 pool
    assert table.capacity[wide] >= 64 and table.fp16_tflops[wide] == table.fp16_tflops[table.capacity >= 64].max()
    assert np.isinf(times[2]).all() and np.isnan(b.completion_s[2])   # no pool holds 4096


def _mix(submit, gpus, times, capacity, order, gpu_weight=1.0):
    from jct_floor import fluid_chip_mix

    return fluid_chip_mix(np.array(submit, dtype=float), np.array(gpus, dtype=float), np.array(times, dtype=float),
                          np.array(capacity, dtype=float), np.array(order), gpu_weight)


def test_fluid_chip_mix_alone_a_job_takes_its_fastest_pool():
    done, used = _mix([5.0], [1], [[300.0, 100.0]], [1, 1], [1, 0])
    assert done[0] == pytest.approx(105.0)
    assert used.tolist() == pytest.approx([0.0, 100.0])


def test_fluid_chip_mix_moves_the_second_job_to_the_fast_pool_when_it_frees():
    # Both at 0; the first takes the fast pool (100 s), the second runs 100 s on the slow one
    # (1/3 done), then finishes its 2/3 on the fast pool in 66.7 s.
    done, used = _mix([0.0, 0.0], [1, 1], [[100.0, 300.0], [100.0, 300.0]], [1, 1], [0, 1])
    assert done.tolist() == pytest.approx([100.0, 100.0 + 200.0 / 3.0])
    assert used.tolist() == pytest.approx([100.0 + 200.0 / 3.0, 100.0])


def test_fluid_chip_mix_least_remaining_work_goes_first_and_takes_the_fast_pool():
    # A wide job (2 accelerators, 100 s) arrives first; a 1-accelerator 50 s job at 10 s has less
    # work left (50 < 2 x 90), so it takes the fast pool's only chip: the wide job keeps one
    # chip of the slow pool (1/4 speed: half its chips, half the speed) until 60 s.
    done, _ = _mix([0.0, 10.0], [2, 1], [[100.0, 200.0], [50.0, 100.0]], [1, 1], [0, 1])
    # 0-10: wide on both pools: 1/2 x 1/100 + 1/2 x 1/200 = 0.0075/s -> 0.925 left at 10 s.
    # 10-60: the small job alone on the fast pool; wide on slow at 0.0025/s -> 0.8 left at 60 s.
    # then 0.0075/s again: 0.8 / 0.0075 = 106.67 s more.
    assert done.tolist() == pytest.approx([60.0 + 0.8 / 0.0075, 60.0])


def test_fluid_chip_mix_respects_eligibility_and_refuses_a_job_no_pool_holds():
    done, used = _mix([0.0], [1], [[np.inf, 400.0]], [1, 1], [0, 1])
    assert done[0] == pytest.approx(400.0) and used[0] == 0.0
    with pytest.raises(ValueError, match="eligible on no pool"):
        _mix([0.0], [1], [[np.inf, np.inf]], [1, 1], [0, 1])


@pytest.mark.parametrize(("gpu_weight", "expected"), [
    # A: 2 accelerators for 60 s (120 accelerator-s); B: 1 for 100 s. By accelerator-seconds B goes
    # first and A runs on the one chip left at half speed (5/6 done at 100 s, then 10 s more).
    (1.0, [110.0, 100.0]),
    # By seconds alone A (60 s) goes first on both chips, then B.
    (0.0, [60.0, 160.0]),
])
def test_fluid_chip_mix_gpu_weight_sets_the_order(gpu_weight, expected):
    done, _ = _mix([0.0, 0.0], [2, 1], [[60.0], [100.0]], [2], [0], gpu_weight)
    assert done.tolist() == pytest.approx(expected)
