"""EASY backfill (cycle step 5): the first job blocked only by capacity becomes the head with a
reservation (the pool and time at which it will fit, from predicted ends); later jobs may use
the reserved pool only if they end before the head starts or fit in slots it will not need."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from suanli.scheduling.context import JobVectors
from suanli.scheduling.types import BoolArray, Reservation

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle


def reserve(cycle: Cycle, v: JobVectors, candidates: BoolArray) -> None:
    """The earliest pool and time at which the head job will fit, from predicted ends."""
    job = v.job
    now = cycle.snap.now
    best: tuple[float, int, int] | None = None
    for pool in map(int, np.flatnonzero(candidates)):
        if int(cycle.table.capacity[pool]) < job.gpus:
            continue
        free = int(cycle.state.free[pool])
        when = now
        for end, count in sorted(cycle.ends[pool]):
            if free >= job.gpus:
                break
            free += count
            when = max(end, now)  # overdue work is expected to end any moment
        if free >= job.gpus and (best is None or when < best[0]):
            best = (when, pool, free - job.gpus)
    if best is not None:
        cycle.reservation = Reservation(job_id=job.id, pool=best[1], start=best[0])
        cycle.reserved_extra = best[2]


def respects_reservation(cycle: Cycle, v: JobVectors, mask: BoolArray, *, spare_ok: bool = True) -> BoolArray:
    """``mask`` without the reserved pool unless the job ends before the head starts or (when
    ``spare_ok``) fits in the slots the head will not need."""
    res = cycle.reservation
    if res is None or not mask[res.pool]:
        return mask
    q = v.at(res.pool)
    ends_before = cycle.snap.now + q["staging_s"] + q["runtime_s"] <= res.start
    if ends_before or (spare_ok and v.job.gpus <= cycle.reserved_extra):
        return mask
    out = mask.copy()
    out[res.pool] = False
    return out
