"""Properties of any cycle, over random federations, queues and running work (hypothesis)."""

from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.jobs import Job
from suanli.scheduling import (
    RunningJob,
    TenantState,
    build_pool_table,
    explain_job,
    load_profile,
    make_snapshot,
    schedule,
)
from suanli.scheduling.seeded_inputs import synthetic_federation, synthetic_jobs

PROFILES = {name: load_profile(name) for name in ("balanced", "green", "fifo-firstfit", "cheapest", "random", "batch-milp")}
STATIC = {"model", "memory", "region", "latency", "price"}


def world(seed: int, pools: int, pending: int, running: int):
    rng = np.random.default_rng(seed)
    fed = synthetic_federation(pools, rng, regions=3, pools_per_site=2)
    table = build_pool_table(fed)
    jobs = synthetic_jobs(pending, rng, regions=3, tenants=4, now=10_000.0)
    held = np.zeros(table.n, dtype=int)
    run = []
    for i in range(running):
        pool = int(rng.integers(table.n))
        count = int(rng.integers(1, 5))
        if held[pool] + count > table.capacity[pool]:
            continue
        held[pool] += count
        j = Job(id=f"run{i}", tenant=f"t{int(rng.integers(4))}", gpus=count, preemptible=bool(rng.random() < 0.5),
                priority=int(rng.integers(0, 3)), duration_s=float(rng.uniform(600, 100_000)),
                checkpoint_interval_s=1800.0 if rng.random() < 0.5 else None)
        start = float(rng.uniform(0, 10_000))
        run.append(RunningJob(j, pool, count, start, start + float(rng.uniform(100, 50_000)),
                              last_checkpoint=start + float(rng.uniform(0, 10_000 - start))))
    tenants = {f"t{i}": TenantState(usage_pf16h=float(rng.uniform(0, 50)),
                                    quota_pflops=float(rng.uniform(2, 20)) if rng.random() < 0.5 else None,
                                    budget_left=float(rng.uniform(50, 5000)) if rng.random() < 0.5 else None)
               for i in range(4)}
    return make_snapshot(table, 10_000.0, jobs, run, tenants)


worlds = st.builds(world, seed=st.integers(0, 10_000), pools=st.integers(1, 12), pending=st.integers(0, 40),
                   running=st.integers(0, 20))


@settings(max_examples=60, deadline=None)
@given(snap=worlds, profile=st.sampled_from(sorted(PROFILES)))
def test_cycle_invariants(snap, profile):
    prof = PROFILES[profile]
    result = schedule(snap, prof, np.random.default_rng(3))
    jobs = {j.id: j for j in snap.pending}

    running = {r.job.id: r for r in snap.running}
    migrated = {pre.victim_id for pre in result.preemptions if pre.by_job_id == pre.victim_id}

    # never over-commit a pool (preempted and migrated work gives its slots back)
    free = snap.free.copy()
    for pre in result.preemptions:
        free[pre.pool] += pre.count
    used = defaultdict(int)
    for p in result.placements:
        used[p.pool] += p.count
    assert all(used[pool] <= free[pool] for pool in used)

    # never place a job partially or twice; every pending job is placed, pending or rejected
    ids = [p.job_id for p in result.placements]
    assert len(ids) == len(set(ids))
    assert all(p.count == (running[p.job_id].count if p.job_id in migrated else jobs[p.job_id].gpus)
               for p in result.placements)
    assert (set(ids) - migrated) | set(result.pending) | set(result.rejected) == set(jobs)
    assert not (set(ids) & set(result.pending))

    # a job moves only if it checkpoints, to another pool, and ends there the profile's gain sooner
    assert migrated <= set(ids) and (not migrated or prof.migrate)
    for p in result.placements:
        if p.job_id in migrated:
            was = running[p.job_id]
            assert was.job.checkpoint_interval_s and p.pool != was.pool
            assert p.predicted_end <= was.expected_end - prof.migrate_min_gain_s + 1e-6

    # never place a job where a filter that does not depend on the cycle says no
    for p in result.placements:
        job = running[p.job_id].job if p.job_id in migrated else jobs[p.job_id]
        verdict = explain_job(snap, job, prof)[p.pool].verdict
        assert verdict not in STATIC, (p, verdict)

    # backfill never delays the blocked head: it can still start on its pool by its reserved time
    if result.reservation is not None:
        res = result.reservation
        head = jobs[res.job_id]
        preempted = {pre.victim_id for pre in result.preemptions}
        ends = [(r.expected_end, r.count) for r in snap.running if r.pool == res.pool and r.job.id not in preempted]
        ends += [(p.predicted_end, p.count) for p in result.placements if p.pool == res.pool]
        available = int(snap.table.capacity[res.pool]) - sum(c for _, c in ends)
        for end, count in sorted(ends):
            if end > res.start:
                break
            available += count
        assert available >= head.gpus

    # same inputs and seed, same result
    again = schedule(snap, prof, np.random.default_rng(3))
    assert again.placements == result.placements and again.preemptions == result.preemptions
