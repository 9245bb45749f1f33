"""Waiting for a better pool (cycle step 5, ``wait_for_better: true``): a job that fits somewhere
now may rather wait for a full pool that finishes it sooner.

Bounded regret: a job waits for a pool only while the time it has already waited plus the pool's
predicted wait (``waits.py``) plus its run there stays below its completion time on the best pool
free now. So waiting never costs a job more than it can save, a job that waited in vain stops
waiting, and no job starves behind a pool that never frees. Among the pools that pass, the
profile's weighted score (completion with the wait, price, carbon...) decides. The check is one
vector minimum, so jobs for which no full pool could be sooner (most short jobs) cost what they
cost without waiting."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from suanli.scheduling.backfill import reserve
from suanli.scheduling.context import JobVectors
from suanli.scheduling.types import BoolArray, PendingReason

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle


def consider_waiting(cycle: Cycle, v: JobVectors, now_ok: BoolArray) -> bool:
    """Some pool fits now; should the job rather wait for a full pool that finishes it sooner?
    Returns True when the job was handled here: left waiting (and claiming) a better pool, or
    placed on the best pool free now; False to let the cycle place it as usual."""
    job = v.job
    now = cycle.snap.now
    completion = v.completion_s
    best_now_s = float(np.min(np.where(now_ok, completion, np.inf)))
    waited = max(0.0, now - job.submit_time)
    sooner = completion + waited < best_now_s
    sooner &= ~now_ok
    if not sooner.any():
        return False
    sooner &= cycle.all_but_capacity(v) & (cycle.table.capacity >= job.gpus)
    if cycle.reservation is not None:
        sooner[cycle.reservation.pool] = False
    pools = np.flatnonzero(sooner)
    if len(pools) == 0 or cycle.waits is None:
        return False
    wait = cycle.waits.waits(pools, job.gpus - cycle.state.free[pools])
    keep = (wait <= cycle.profile.max_wait_s) & (waited + wait + completion[pools] < best_now_s)
    if job.deadline is not None:
        keep &= now + wait + completion[pools] <= job.deadline
    pools, wait = pools[keep], wait[keep]
    if len(pools) == 0:
        return False
    v.wait = np.zeros(cycle.table.n)
    v.wait[pools] = wait
    candidates = now_ok.copy()
    candidates[pools] = True
    pool, score, breakdown = cycle.combiner.best(v, cycle.state, candidates)
    if now_ok[pool]:
        cycle.place(v, pool, score, breakdown, backfilled=cycle.reservation is not None)
        return True
    start = now + float(v.wait[pool])
    q = v.at(pool)
    cycle.waits.claim(pool, job.gpus, start, start + q["staging_s"] + q["runtime_s"])
    if cycle.reservation is None and cycle.profile.backfill:
        only = np.zeros(cycle.table.n, dtype=bool)
        only[pool] = True
        reserve(cycle, v, only)
    cycle.pending[job.id] = PendingReason(
        job.id, f"waiting for {cycle.table.label(pool)}: expected to start in {start - now:.0f} s "
                f"and finish sooner than on any pool free now ({best_now_s:.0f} s)",
        {"waiting": 1})
    return True
