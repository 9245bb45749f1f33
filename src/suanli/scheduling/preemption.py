"""Preemption. Cycle step 5: a job that fits nowhere only for lack of free capacity may preempt
preemptible lower-priority running jobs, in the pool where the fewest PF16-hours since the
victims' last checkpoints are lost. Step 0: running preemptible jobs of a tenant or queue whose
budget is spent are stopped (``limits.budget_stops`` says which)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from suanli.domain.units import SECONDS_PER_HOUR
from suanli.scheduling import limits
from suanli.scheduling.context import JobVectors
from suanli.scheduling.types import BoolArray, Preemption, RunningJob

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle


def try_preempt(cycle: Cycle, v: JobVectors, candidates: BoolArray) -> bool:
    """Free a pool among ``candidates`` by preempting preemptible lower-priority jobs and place
    ``v`` there; False (nothing changed) when no pool can be freed."""
    job = v.job
    best: tuple[float, int, list[RunningJob]] | None = None
    by_pool = cycle.running_by_pool
    for pool in map(int, np.flatnonzero(candidates & cycle.has_victims)):
        victims = sorted(
            (r for r in by_pool[pool]
             if r.job.preemptible and r.job.priority < job.priority and r.job.id not in cycle.preempted),
            key=lambda r: (lost_pf16h(cycle, r), r.job.id))
        free = int(cycle.state.free[pool])
        chosen: list[RunningJob] = []
        lost = 0.0
        for r in victims:
            if free >= job.gpus:
                break
            chosen.append(r)
            free += r.count
            lost += lost_pf16h(cycle, r)
        if free >= job.gpus and chosen and (best is None or lost < best[0]):
            best = (lost, pool, chosen)
    if best is None:
        return False
    lost, pool, chosen = best
    for r in chosen:
        cycle.release(r)
        cycle.preemptions.append(Preemption(victim_id=r.job.id, pool=pool, count=r.count, by_job_id=job.id,
                                            lost_pf16h=lost_pf16h(cycle, r)))
    cycle.place(v, pool, 0.0, {"preempted": float(len(chosen))})
    return True


def lost_pf16h(cycle: Cycle, r: RunningJob) -> float:
    """PF16-hours of running job ``r`` done since its last checkpoint (what preempting it loses)."""
    since = max(r.start, r.last_checkpoint or r.start)
    seconds = max(0.0, cycle.snap.now - since)
    return float(cycle.table.fp16_tflops[r.pool]) * r.count * seconds / SECONDS_PER_HOUR / 1000.0


def stop_over_budget(cycle: Cycle) -> None:
    """Step 0: preempt what ``limits.budget_stops`` names and give back its share of the accounts."""
    stops = limits.budget_stops(cycle.snap)
    if not stops:
        return
    running = {r.job.id: r for r in cycle.snap.running}
    for pre in stops:
        r = running[pre.victim_id]
        cycle.release(r)
        limits.charge(cycle.state.accounts, r.job, -float(cycle.table.fp16_tflops[r.pool]) * r.count / 1000.0)
        cycle.preemptions.append(pre)
