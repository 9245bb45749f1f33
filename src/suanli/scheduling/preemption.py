"""Preemption. Cycle step 5: a job that fits nowhere only for lack of free capacity may preempt
preemptible lower-priority running jobs (or, with the profile's ``preempt_longer_than: R``,
same-priority checkpointing work with R times the job's run time left), in the pool where the
fewest PF16-hours since the victims' last checkpoints are lost. Step 0: running preemptible jobs of a tenant or queue whose
budget is spent are stopped (``limits.budget_stops`` says which)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from suanli.domain.jobs import Job
from suanli.domain.units import SECONDS_PER_HOUR
from suanli.metering.compute import intensity_of
from suanli.scheduling import limits
from suanli.scheduling.context import JobVectors
from suanli.scheduling.types import BoolArray, Preemption, RunningJob

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle


def try_preempt(cycle: Cycle, v: JobVectors, candidates: BoolArray) -> bool:
    """Free a pool among ``candidates`` by preempting preemptible lower-priority jobs and place
    ``v`` there; False (nothing changed) when no pool can be freed."""
    job = v.job
    if not cycle.could_preempt(job):
        return False   # no lower-priority victim, and no work long enough to give way to this job
    best: tuple[float, int, list[RunningJob]] | None = None
    by_pool = cycle.running_by_pool
    for pool in map(int, np.flatnonzero(candidates & cycle.has_victims)):
        victims = sorted((r for r in by_pool[pool] if may_preempt(cycle, v, r, pool)),
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


def may_preempt(cycle: Cycle, v: JobVectors, r: RunningJob, pool: int) -> bool:
    """``r`` is a victim for ``v``'s job: preemptible and of lower priority or, with the profile's
    ``preempt_longer_than``, of the same priority, checkpointing, with that many times the job's
    time on ``pool`` still to run, after redoing what it would lose."""
    job = v.job
    if not r.job.preemptible or r.job.id in cycle.preempted or r.job.priority > job.priority:
        return False
    if r.job.priority < job.priority:
        return True
    ratio = cycle.profile.preempt_longer_than
    if ratio <= 0 or not r.job.checkpoint_interval_s:
        return False
    now = cycle.snap.now
    since = max(r.start, r.last_checkpoint or r.start)
    left = r.expected_end - now + max(0.0, now - since)
    return left > ratio * float(v.completion_s[pool])


def fastest_s(cycle: Cycle, job: Job) -> float:
    """A lower bound of ``job``'s run time: on the fastest pool, without staging."""
    intensity = intensity_of(job)
    key = ("compute", "", intensity) if job.compute_pf16h is not None \
        else ("duration", job.reference_accelerator, intensity)
    fastest = cycle.fastest.get(key)
    if fastest is None:
        fastest = cycle.fastest[key] = float(cycle.state.rates(*key).base.min())
    scale = job.compute_pf16h / job.gpus if job.compute_pf16h is not None else job.duration_s
    return scale * fastest


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
