"""Explain: for one job and a snapshot, what every filter says about every pool, with numbers.

``explain_job`` returns one row per pool: the site, the pool, ``fits`` or the first filter that
said no and why, plus the job's predicted run time, cost and carbon there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanli.domain.jobs import Job
from suanli.scheduling.context import CycleState, job_vectors
from suanli.scheduling.filters import FILTERS
from suanli.scheduling.profile import Profile
from suanli.scheduling.types import Snapshot


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
    masks = [(FILTERS.get(name), FILTERS.get(name).mask(v, state)) for name in profile.filters]
    rows = []
    for pool in range(t.n):
        verdict, reason = "fits", ""
        if snapshot.available is not None and not snapshot.available[pool]:
            verdict, reason = "site down", "the site is down or its agent lost its lease"
        else:
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
