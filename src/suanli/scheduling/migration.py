"""Migration (cycle step 5, ``migrate: true``): capacity still free after the queue may take over
running work. A job that checkpoints moves to a free pool when that ends it
``migrate_min_gain_s`` (and ``MIGRATE_MIN_SHARE`` of what is left) sooner, counting the work
since its last checkpoint that it must redo. The move is a preemption of the job by itself plus
a placement of what is left; the longest remaining work moves first."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from suanli.domain.units import SECONDS_PER_HOUR
from suanli.metering.compute import intensity_of
from suanli.scheduling import limits
from suanli.scheduling.backfill import respects_reservation
from suanli.scheduling.context import job_vectors
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import BoolArray, IntArray, Preemption, RunningJob

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle

MIGRATE_MIN_SHARE = 0.25  # a move must also save this share of what is left: no moves for a few percent


def migration_sources(table: PoolTable, free: IntArray) -> BoolArray:
    """Pools whose work could move: some pool with room runs some kind of work at least
    1 / (1 - MIGRATE_MIN_SHARE) times faster. Roofline speed is min(FP16, intensity x memory
    bandwidth), so the most times faster a pool q runs any work than pool p is at most the larger
    of their FP16 and bandwidth ratios; over the pools with room that is the larger of the best
    FP16 and the best bandwidth with room, over p's (O(pools), not a pools x pools matrix)."""
    room = free > 0
    if not room.any():
        return np.zeros(table.n, dtype=bool)
    speedup = np.maximum(float(table.fp16_tflops[room].max()) / table.fp16_tflops,
                         float(table.bw_gbps[room].max()) / table.bw_gbps)
    out: BoolArray = speedup >= 1.0 / (1.0 - MIGRATE_MIN_SHARE)
    return out


def migrate(cycle: Cycle) -> None:
    """Move what gains enough, longest remaining work first."""
    now = cycle.snap.now
    t = cycle.table
    min_gain = cycle.profile.migrate_min_gain_s
    source = migration_sources(t, cycle.state.free).tolist()
    movable = [r for r in cycle.snap.running
               if source[r.pool] and r.expected_end - now > min_gain and r.job.checkpoint_interval_s
               and r.count <= cycle.max_free]
    movable.sort(key=lambda r: (now - r.expected_end, r.job.id))   # longest remaining first
    # per (intensity, accelerators): the fastest pool with room, and each pool's speed over its speed
    fastest: dict[tuple[float, int], tuple[int, list[float]]] = {}
    for r in movable:
        if r.count > cycle.max_free or r.job.id in cycle.preempted:
            continue
        remaining = r.expected_end - now
        intensity = intensity_of(r.job)
        hit = fastest.get((intensity, r.count))
        if hit is None:
            eff = t.effective_tflops(intensity)
            best = int(np.argmax(np.where(cycle.state.free >= r.count, eff, -1.0)))
            hit = fastest[(intensity, r.count)] = (best, (eff / eff[best]).tolist())
        best, ratios = hit
        # Quick estimates at the speed of the fastest pool with room; most jobs stop at the
        # first (what is left, as if there were no lost work and no staging), the rest at the
        # second (plus the work since the last checkpoint, after staging there).
        ratio = ratios[r.pool]
        need = max(min_gain, MIGRATE_MIN_SHARE * remaining)
        if remaining * (1.0 - ratio) < need:
            continue
        ran = max(0.0, now - r.start - t.staging_at(r.job, r.pool))
        lost = ran % float(r.job.checkpoint_interval_s or 1.0)
        if remaining - t.staging_at(r.job, best) - (remaining + lost) * ratio < need:
            continue
        if try_migrate(cycle, r, remaining):
            fastest.clear()   # the pool it moved to has less room now


def try_migrate(cycle: Cycle, r: RunningJob, remaining_s: float) -> bool:
    """Move ``r`` to the best pool with room that ends it at least ``migrate_min_gain_s`` (and
    MIGRATE_MIN_SHARE of what is left) sooner, after redoing the work since its last
    checkpoint. True if it moved."""
    job = r.job
    snap, state, table = cycle.snap, cycle.state, cycle.table
    v = job_vectors(job, snap, state)
    here = v.at(r.pool)
    run_start = r.start + here["staging_s"]
    ran = max(0.0, snap.now - run_start)
    if r.last_checkpoint is not None:
        saved = max(0.0, r.last_checkpoint - run_start)
    else:
        interval = float(job.checkpoint_interval_s or 0.0)
        saved = (ran // interval) * interval
    saved = min(saved, ran, here["runtime_s"])
    left = 1.0 - saved / here["runtime_s"] if here["runtime_s"] > 0 else 1.0
    deadline = remaining_s - max(cycle.profile.migrate_min_gain_s, MIGRATE_MIN_SHARE * remaining_s)
    sooner = v.staging_s + left * v.runtime_s <= deadline
    sooner[r.pool] = False
    if left <= 0.0 or not sooner.any():
        return False
    rest = replace(job, duration_s=job.duration_s * left) if job.compute_pf16h is None \
        else replace(job, compute_pf16h=job.compute_pf16h * left)
    old_pflops = float(table.fp16_tflops[r.pool]) * r.count / 1000.0
    limits.charge(state.accounts, job, -old_pflops)
    v = job_vectors(rest, snap, state)
    mask = respects_reservation(cycle, v, cycle.feasible(v)) & sooner
    if not mask.any():
        limits.charge(state.accounts, job, old_pflops)
        return False
    pool, score, breakdown = cycle.combiner.best(v, state, mask) if cycle.scores \
        else (int(mask.argmax()), 100.0, {})
    cycle.release(r)
    lost = float(table.fp16_tflops[r.pool]) * r.count * (ran - saved) / SECONDS_PER_HOUR / 1000.0
    cycle.preemptions.append(Preemption(victim_id=job.id, pool=r.pool, count=r.count, by_job_id=job.id,
                                        lost_pf16h=lost))
    cycle.place(v, pool, score, {**breakdown, "migrated": 1.0})
    return True
