"""The idealized references of ``suanli.sim.references``: fluid schedules computed by hand on 1-2
pools and 2-4 jobs, the compiled fluid schedule against a slow exact one written here (rational
arithmetic, no suanli imports) on many small random inputs, and the figure on the whole MSR ITP
trace that the numpy implementation it replaced gave."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import numpy as np
import pytest

from suanli.sim.references import fluid_chip_mix, fluid_srpt_mean_jct


def _mix(submit, gpus, times, capacity, order, gpu_weight=1.0):
    s = fluid_chip_mix(np.array(submit, dtype=float), np.array(gpus, dtype=float), np.array(times, dtype=float),
                       np.array(capacity, dtype=float), np.array(order), gpu_weight)
    return s.done_s, s.used_gpu_s


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


def test_fluid_chip_mix_a_wide_job_spreads_over_two_pools():
    # 2 accelerators, a 1-chip pool at 100 s and a 1-chip pool at 200 s: half the chips at each
    # speed, 1/2 x 1/100 + 1/2 x 1/200 = 0.0075 of the job per second.
    done, used = _mix([0.0], [2], [[100.0, 200.0]], [1, 1], [0, 1])
    assert done[0] == pytest.approx(1.0 / 0.0075)
    assert used.tolist() == pytest.approx([1.0 / 0.0075, 1.0 / 0.0075])


def test_fluid_chip_mix_least_remaining_work_goes_first_and_takes_the_fast_pool():
    # A wide job (2 accelerators, 100 s) arrives first; a 1-accelerator 50 s job at 10 s has less
    # work left (50 < 2 x 90), so it takes the fast pool's only chip: the wide job keeps one
    # chip of the slow pool (1/4 speed: half its chips, half the speed) until 60 s.
    done, _ = _mix([0.0, 10.0], [2, 1], [[100.0, 200.0], [50.0, 100.0]], [1, 1], [0, 1])
    # 0-10: wide on both pools: 1/2 x 1/100 + 1/2 x 1/200 = 0.0075/s -> 0.925 left at 10 s.
    # 10-60: the small job alone on the fast pool; wide on slow at 0.0025/s -> 0.8 left at 60 s.
    # then 0.0075/s again: 0.8 / 0.0075 = 106.67 s more.
    assert done.tolist() == pytest.approx([60.0 + 0.8 / 0.0075, 60.0])


def test_fluid_chip_mix_three_jobs_on_one_pool_of_two_shortest_first():
    # C (50 s) and A (100 s) start; C ends at 50 and B takes its chip: A at 100, B at 150.
    done, used = _mix([0.0, 0.0, 0.0], [1, 1, 1], [[100.0], [100.0], [50.0]], [2], [0])
    assert done.tolist() == pytest.approx([100.0, 150.0, 50.0])
    assert used.tolist() == pytest.approx([250.0])


def test_fluid_chip_mix_four_jobs_on_two_pools_pool_order_and_eligibility():
    # Pools: 0 (2 chips, fast), 1 (1 chip, twice as slow); D may run only on pool 1.
    # At 0: A (1 chip, 40 s) and B (1 chip, 60 s) take pool 0; C (1 chip, 80 s) and D (1 chip,
    # 100 s on pool 1) want pool 1: C is shorter (80 < 100) and takes it at half speed.
    # 40: A ends; C moves to pool 0 with 1 - 40/160 = 3/4 left -> 60 s more, ends at 100;
    #     D takes pool 1 from 40. 60: B ends. D alone on pool 1 ends at 140.
    times = [[40.0, 80.0], [60.0, 120.0], [80.0, 160.0], [np.inf, 100.0]]
    done, used = _mix([0.0] * 4, [1, 1, 1, 1], times, [2, 1], [0, 1])
    assert done.tolist() == pytest.approx([40.0, 60.0, 100.0, 140.0])
    assert used.tolist() == pytest.approx([40.0 + 60.0 + 60.0, 40.0 + 100.0])


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


def slow_fluid(submit, gpus, times, capacity, order, weight):
    """The fluid chip-mix schedule in exact rationals, one event at a time: at each arrival or
    completion, the active jobs in order of (work left x fastest time x gpus ** weight), ties kept
    in the order they were active; each pool in ``order`` gives its chips to its eligible jobs in
    that order; then everything runs until the next arrival or completion."""
    n = len(submit)
    left = [Fraction(1)] * n
    speed = [[Fraction(1) / Fraction(t) if t is not None else Fraction(0) for t in row] for row in times]
    fastest = [min(Fraction(t) for t in row if t is not None) for row in times]
    pending = sorted(range(n), key=lambda i: (submit[i], i))
    active: list[int] = []
    done = [None] * n
    used = [Fraction(0)] * len(capacity)
    now = Fraction(submit[pending[0]])
    while pending or active:
        while pending and submit[pending[0]] <= now:
            active.append(pending.pop(0))
        if not active:
            now = Fraction(submit[pending[0]])
            continue
        active.sort(key=lambda i: left[i] * fastest[i] * gpus[i] ** weight)   # stable
        want = {i: Fraction(gpus[i]) for i in active}
        rate = dict.fromkeys(active, Fraction(0))
        held = [Fraction(0)] * len(capacity)
        for p in order:
            free = Fraction(capacity[p])
            for i in active:
                if speed[i][p] and free:
                    take = min(free, want[i])
                    want[i] -= take
                    free -= take
                    rate[i] += take / gpus[i] * speed[i][p]
                    held[p] += take
        dt = min(left[i] / rate[i] for i in active if rate[i])
        if pending:
            dt = min(dt, Fraction(submit[pending[0]]) - now)
        now += dt
        for p in range(len(capacity)):
            used[p] += held[p] * dt
        for i in active:
            left[i] -= rate[i] * dt
            if left[i] == 0:
                done[i] = now
        active = [i for i in active if done[i] is None]
    return [float(d) for d in done], [float(u) for u in used]


def random_case(rng: random.Random):
    n_pools = rng.randint(1, 3)
    n = rng.randint(1, 6)
    capacity = [rng.randint(1, 4) for _ in range(n_pools)]
    submit = [rng.choice([0, 0, rng.randint(0, 500)]) for _ in range(n)]
    gpus = [rng.randint(1, 4) for _ in range(n)]
    times = []
    for _ in range(n):
        base = rng.randint(10, 1000)
        row = [base * rng.randint(1, 4) if rng.random() < 0.8 else None for _ in range(n_pools)]
        if all(t is None for t in row):
            row[rng.randrange(n_pools)] = base
        times.append(row)
    order = list(range(n_pools))
    rng.shuffle(order)
    return submit, gpus, times, capacity, order, rng.choice([0, 1, 2, 3])


@pytest.mark.parametrize("seed", range(200))
def test_fluid_chip_mix_matches_a_slow_exact_schedule(seed):
    submit, gpus, times, capacity, order, weight = random_case(random.Random(seed))
    want_done, want_used = slow_fluid(submit, gpus, times, capacity, order, weight)
    as_float = [[np.inf if t is None else float(t) for t in row] for row in times]
    done, used = _mix(submit, gpus, as_float, capacity, order, float(weight))
    assert done.tolist() == pytest.approx(want_done, rel=1e-9)
    assert used.tolist() == pytest.approx(want_used, rel=1e-9, abs=1e-6)


@pytest.mark.slow
def test_the_whole_msr_itp_trace_keeps_the_reference_the_numpy_implementation_gave():
    # 3,782.7 s mean JCT (1.547x the 2,445.1 s no-queue bound) was the figure of the numpy event
    # loop this module replaced (issue 14, docs/simulate.md); it must not move.
    from suanli.config.federation_file import load_federation
    from suanli.scheduling import build_pool_table
    from suanli.sim.references import references
    from suanli.traces import TraceOptions, read_trace

    fed = load_federation("east-data-west-compute")
    trace = read_trace("msr-itp", TraceOptions(regions=tuple(fed.region_names()),
                                               home_regions={t.name: t.home_region for t in fed.tenants
                                                             if t.home_region}))
    refs = references(build_pool_table(fed), trace.jobs)
    assert refs["jobs"] == 52049
    assert refs["fluid"]["jct_mean_s"] == pytest.approx(3782.7, abs=0.05)
    assert refs["bounds"]["jct_mean_s"] == pytest.approx(2445.1, abs=0.05)
    # the cheapest-first schedule hands out pools by each job's class price (the market's one price);
    # with the sites' asks it was 6,615.4 s, so it is no longer the numpy loop's figure
    assert refs["fluid_cheapest"]["jct_mean_s"] > refs["fluid"]["jct_mean_s"]


def test_simulate_references_writes_the_reference_and_each_profiles_ratio(tmp_path, capsys):
    from suanli.cli.main import main

    out = tmp_path / "rep"
    assert main(["simulate", "--trace", "synthetic", "--limit", "150", "--compare", "fifo-firstfit",
                 "--references", "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    refs = doc["references"]
    assert refs["jobs"] == 150 and refs["gpu_weight"] == 2.0
    assert set(refs) == {"jobs", "gpu_weight", "fluid", "fluid_cheapest", "bounds"}
    # no job runs faster than alone on its fastest pool, so neither fluid schedule beats the bound
    assert refs["fluid"]["jct_mean_s"] >= refs["bounds"]["jct_mean_s"] > 0
    assert refs["fluid_cheapest"]["jct_mean_s"] >= refs["bounds"]["jct_mean_s"]
    assert refs["fluid"]["cost"] > 0 and refs["fluid_cheapest"]["cost"] > 0
    assert set(doc["profiles"]) == {"balanced", "fifo-firstfit"}
    for m in doc["profiles"].values():
        ratios = m["ratio_to_references"]
        assert ratios["fluid_jct_mean"] == pytest.approx(m["jct_mean_s"] / refs["fluid"]["jct_mean_s"], abs=1e-4)
        assert ratios["fluid_cost"] == pytest.approx(m["cost"] / refs["fluid"]["cost"], abs=1e-4)
        assert ratios["fluid_cheapest_cost"] == pytest.approx(m["cost"] / refs["fluid_cheapest"]["cost"], abs=1e-4)
    printed = capsys.readouterr().out
    assert "JCT/fluid" in printed and f"{refs['fluid']['jct_mean_s']:,.1f}" in printed
    page = (out / "report.html").read_text()
    assert "<h2>References</h2>" in page and "JCT/fluid" in page
    assert f"<td>{refs['fluid']['jct_mean_s']:,.1f}</td>" in page
    assert f"<td>{refs['fluid_cheapest']['cost']:,.0f}</td>" in page


def test_a_job_alone_reaches_its_bound_and_without_the_flag_nothing_changes(tmp_path):
    from simbuild import TINY

    from suanli.cli.main import main

    fed = tmp_path / "tiny.yaml"
    fed.write_text(TINY)
    trace = tmp_path / "jobs.csv"
    trace.write_text("cluster,job_id,submit_time_s,duration_s,num_gpus\nc1,j1,100,7200,2\n")
    args = ["simulate", "--trace", "msr-itp", "--trace-path", str(trace), "--federation", str(fed),
            "--compare", "", "--no-plots", "--quiet"]
    assert main([*args, "--references", "--out", str(tmp_path / "with")]) == 0
    assert main([*args, "--out", str(tmp_path / "without")]) == 0
    with_refs = json.loads((tmp_path / "with" / "metrics.json").read_text())
    without = json.loads((tmp_path / "without" / "metrics.json").read_text())
    refs = with_refs["references"]
    assert refs["jobs"] == 1
    assert refs["fluid"]["jct_mean_s"] <= refs["fluid_cheapest"]["jct_mean_s"]   # alone on its fastest pool
    assert refs["fluid"]["jct_mean_s"] == pytest.approx(refs["bounds"]["jct_mean_s"], abs=0.1)
    assert refs["fluid"]["jct_mean_s"] == pytest.approx(with_refs["profiles"]["balanced"]["bounds"]["jct_mean_s"],
                                                        abs=0.1)
    assert "references" not in without and "ratio_to_references" not in without["profiles"]["balanced"]
    del with_refs["references"], with_refs["profiles"]["balanced"]["ratio_to_references"]
    assert with_refs == without


def test_the_fluid_schedule_splits_what_each_pool_delivered_by_group_without_changing_it():
    # a (group 0) runs 100 s alone on pool 0; b (group 1) 50 s on pool 1; c (group 0), eligible
    # only on pool 1 and behind b (same work left, b came first), runs there from 50 to 100 s
    args = ([0.0, 0.0, 0.0], [1, 1, 1], [[100.0, np.inf], [np.inf, 50.0], [np.inf, 50.0]], [1.0, 1.0], [0, 1])
    grouped = fluid_chip_mix(*(np.array(a, dtype=float) for a in args[:4]), np.array(args[4]), 1.0,
                             np.array([0, 1, 0]))
    plain = fluid_chip_mix(*(np.array(a, dtype=float) for a in args[:4]), np.array(args[4]), 1.0)
    assert grouped.done_s.tolist() == plain.done_s.tolist() == pytest.approx([100.0, 50.0, 100.0])
    assert grouped.by_group_gpu_s.ravel().tolist() == pytest.approx([100.0, 50.0, 0.0, 50.0])
    assert grouped.used_gpu_s.tolist() == plain.used_gpu_s.tolist() == pytest.approx([100.0, 100.0])


def test_the_fluid_cost_is_each_jobs_one_price_on_the_pool_it_ran_on():
    """One infer job alone on the tiny federation: it runs on the H800 pool (faster than the A100
    for the same work), and its cost is its PF16-hours there at the infer on-demand list price of
    the H800's grade (``market.pricing``), not the site's ask (20)."""
    from simbuild import tiny_federation

    from suanli.config.market_file import load_price_book
    from suanli.domain.jobs import Job, JobClass
    from suanli.market.pricing import PriceHistory, pool_price
    from suanli.scheduling import build_pool_table
    from suanli.sim.references import references

    table = build_pool_table(tiny_federation())
    job = Job(id="j", tenant="t", job_class=JobClass.INFER, gpus=2, duration_s=3600.0,
              reference_accelerator="a100-sxm4-80gb")
    refs = references(table, [job])
    h800 = table.catalog.get("H800")
    run_s = refs["fluid"]["jct_mean_s"]
    pf16h = h800.fp16_tflops * 2 * run_s / 3600 / 1000
    price = float(pool_price(PriceHistory.of(load_price_book()), h800, "infer", at=0.0))
    assert price != 20.0
    assert refs["fluid"]["cost"] == pytest.approx(pf16h * price, rel=1e-9)
