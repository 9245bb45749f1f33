"""Preemption (cycle step 5): a job that fits nowhere only for lack of free capacity may preempt
preemptible lower-priority running jobs, in the pool where the fewest PF16-hours since the
victims' last checkpoints are lost."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from suanli.domain.units import SECONDS_PER_HOUR
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
