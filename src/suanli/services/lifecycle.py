"""Ending a placement and moving its job on, in the caller's transaction, with audit records.

``end_placement`` is the one place that decides what a job becomes when its placement ends:

| placement ends as          | job was            | job becomes                    |
|----------------------------|--------------------|--------------------------------|
| succeeded / failed (exit)  | placed / running   | succeeded / failed             |
| killed after cancel        | cancelled          | cancelled (unchanged)          |
| killed after preemption    | preempted          | pending (requeued)             |
| lost (site or agent lost)  | placed / running / preempted | pending (requeued)   |

Only the placement the job currently points at moves the job; a stale one only ends itself.
"""

from __future__ import annotations

from typing import Any

from suanli.services.platform import Caller, Platform
from suanli.services.usage import meter
from suanli.store.jobs import ACTIVE_PLACEMENT_STATES
from suanli.store.uow import UnitOfWork


def end_placement(p: Platform, uow: UnitOfWork, pl: dict[str, Any], outcome: str, now: float, caller: Caller,
                  *, exit_code: int | None = None, reason: str = "") -> bool:
    """``outcome`` is succeeded, failed, killed or lost. Returns False if the placement had already ended."""
    job = uow.jobs.get(pl["job_id"]) or {}
    if outcome == "killed":
        state = {"cancel": "cancelled", "preempt": "preempted"}.get(pl["kill_reason"], "cancelled")
    else:
        state = outcome
    figures = meter(p, uow, pl, now, job.get("job_class") or "train")
    if not uow.jobs.placement_transition(pl["id"], ACTIVE_PLACEMENT_STATES, state, ended_at=now,
                                         exit_code=exit_code, **figures):
        return False
    uow.audit.record(now, caller.actor, caller.role, f"placement.{state}", pl["id"], job=pl["job_id"],
                     site=pl["site"], exit_code=exit_code, reason=reason, pf16h=round(figures["pf16h"], 6))
    if job.get("placement_id") != pl["id"]:
        return True
    old = job["state"]
    new = None
    values: dict[str, Any] = {"updated_at": now}
    if outcome in ("succeeded", "failed") and old in ("placed", "running"):
        new = outcome
        values.update(exit_code=exit_code, finished_at=now, reason=reason or f"exit code {exit_code}")
    elif old == "preempted" or (outcome in ("lost", "killed") and old in ("placed", "running")):
        new = "pending"
        values.update(placement_id=None, site=None,
                      reason=f"requeued: {reason or outcome} at {pl['site']}")
    if new is not None and uow.jobs.transition(job["id"], old, new, **values):
        uow.audit.record(now, caller.actor, caller.role, f"job.{new}", job["id"], old=old, placement=pl["id"],
                         reason=values.get("reason", ""))
    return True
