"""``bench/jct_floor.py``, a thin caller of ``suanli.sim.references`` (tested by hand in
``test_references.py``): on a real trace prefix every reference sits at or above the no-queue
bound it is compared with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from jct_floor import main  # noqa: E402


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
