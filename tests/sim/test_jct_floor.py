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
