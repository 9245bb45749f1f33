"""Run one cycle and explain a job against the state the cycle left: what ``suanli explain`` and
the API's explain route both need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanli.domain.errors import UnknownName
from suanli.domain.jobs import Job
from suanli.scheduling.cycle import schedule
from suanli.scheduling.explain import ExplainRow, explain_job
from suanli.scheduling.profile import Profile
from suanli.scheduling.types import CycleResult, Placement, Snapshot


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
    """The snapshot with the cycle's placements and preemptions applied to free capacity."""
    free = snapshot.free.copy()
    for p in result.placements:
        free[p.pool] -= p.count
    for pre in result.preemptions:
        free[pre.pool] += pre.count
    return Snapshot(table=snapshot.table, now=snapshot.now, free=free, pending=snapshot.pending,
                    running=snapshot.running, tenants=snapshot.tenants, available=snapshot.available,
                    carbon_g_per_kwh=snapshot.carbon_g_per_kwh, price_per_pf16h=snapshot.price_per_pf16h)


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
