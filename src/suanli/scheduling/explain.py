"""Explain: for one job and a snapshot, what every filter says about every pool, with numbers.

``explain_job`` returns one row per pool: the site, the pool, ``fits`` or the filter that said
no and why, plus the job's predicted run time, cost and carbon there. A permanent "no" (the
permanent part of a filter, see ``filters.PermanentFilter``: region, chip, memory, latency, a pool
too small) is shown before any that may pass later (a site down, free capacity, price, quota,
budget); within each kind, the profile's filter order decides.

``explain_in_cycle`` is the one explain path that the CLI (over files) and the API (over the
store's snapshot) share: run the cycle, then explain the job against the state the cycle left,
so the other jobs the cycle placed first hold their accelerators.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import numpy as np

from suanli.domain.errors import UnknownName
from suanli.domain.jobs import Job
from suanli.scheduling.context import CycleState, job_vectors
from suanli.scheduling.cycle import schedule
from suanli.scheduling.filters import FILTERS, PermanentFilter
from suanli.scheduling.limits import after_placements
from suanli.scheduling.profile import Profile
from suanli.scheduling.types import CycleResult, Placement, Snapshot


@dataclass(frozen=True, slots=True)
class ExplainRow:
    site: str
    pool: str
    accelerator: str
    verdict: str          # "fits" or the name of the first filter that said no
    reason: str
    runtime_s: float
    cost: float
    carbon_kg: float

    def as_dict(self) -> dict[str, object]:
        return {"site": self.site, "pool": self.pool, "accelerator": self.accelerator, "verdict": self.verdict,
                "reason": self.reason, "runtime_s": round(self.runtime_s, 3), "cost": round(self.cost, 4),
                "carbon_kg": round(self.carbon_kg, 4)}


def explain_job(snapshot: Snapshot, job: Job, profile: Profile) -> list[ExplainRow]:
    t = snapshot.table
    state = CycleState.from_snapshot(snapshot)
    v = job_vectors(job, snapshot, state)
    filters = [FILTERS.get(name) for name in profile.filters]
    # A permanent "no" (wrong region, chip or memory, pool too small) comes before any other, so a
    # pool is never shown as merely full, or down, when it could never take the job.
    permanent = [(f, cast(PermanentFilter, f).allows(t, job)) for f in filters if f.permanent]
    masks = [(f, f.mask(v, state)) for f in filters]
    rows = []
    for pool in range(t.n):
        verdict, reason = "fits", ""
        for f, mask in permanent:
            if not bool(mask[pool]):
                verdict, reason = f.name, f.why(v, state, pool)
                break
        if verdict == "fits" and snapshot.available is not None and not snapshot.available[pool]:
            verdict, reason = "site down", "the site is down or its agent lost its lease"
        if verdict == "fits":
            for f, mask in masks:
                if not bool(mask[pool]):
                    verdict, reason = f.name, f.why(v, state, pool)
                    break
        rows.append(ExplainRow(
            site=t.site_names[t.site_of[pool]], pool=t.pool_names[pool], accelerator=t.accelerators[pool].id,
            verdict=verdict, reason=reason, runtime_s=float(v.runtime_s[pool]), cost=float(v.cost[pool]),
            carbon_kg=float(v.carbon_kg[pool]),
        ))
    return rows


def fits_anywhere(rows: list[ExplainRow]) -> bool:
    return bool(np.any([r.verdict == "fits" for r in rows]))


@dataclass(frozen=True)
class JobExplanation:
    job: Job
    status: str                   # placed | pending | rejected
    summary: str
    placement: Placement | None
    rows: tuple[ExplainRow, ...]

    def as_dict(self) -> dict[str, object]:
        p = self.placement
        return {
            "job": self.job.id, "status": self.status, "summary": self.summary,
            "placement": None if p is None else {
                "site": p.site, "pool": p.pool_name, "count": p.count, "runtime_s": round(p.runtime_s, 3),
                "staging_s": round(p.staging_s, 3), "cost": round(p.cost, 4), "carbon_kg": round(p.carbon_kg, 4),
                "score": round(p.score, 3), "breakdown": {k: round(v, 3) for k, v in p.breakdown.items()}},
            "pools": [r.as_dict() for r in self.rows],
        }


def after(snapshot: Snapshot, result: CycleResult) -> Snapshot:
    """The snapshot with the cycle's placements and preemptions applied to free capacity, and the
    placements charged to their tenants' and queues' quotas and budgets."""
    free = snapshot.free.copy()
    for p in result.placements:
        free[p.pool] -= p.count
    for pre in result.preemptions:
        free[pre.pool] += pre.count
    return replace(snapshot, free=free, tenants=after_placements(snapshot, result.placements))


def explain_in_cycle(snapshot: Snapshot, job_id: str, profile: Profile, rng: np.random.Generator | None = None,
                     result: CycleResult | None = None) -> JobExplanation:
    jobs = {j.id: j for j in snapshot.pending}
    if job_id not in jobs:
        raise UnknownName("job", job_id, list(jobs))
    job = jobs[job_id]
    result = result or schedule(snapshot, profile, rng)
    rows = tuple(explain_job(after(snapshot, result), job, profile))
    placed = next((p for p in result.placements if p.job_id == job_id), None)
    if placed is not None:
        return JobExplanation(job, "placed", f"placed on {placed.site}/{placed.pool_name} (score {placed.score:.1f})",
                              placed, rows)
    if job_id in result.rejected:
        return JobExplanation(job, "rejected", result.rejected[job_id], None, rows)
    reason = result.pending.get(job_id)
    return JobExplanation(job, "pending", reason.summary if reason else "pending", None, rows)
