"""Quotas and budgets where they are declared: a job counts against its tenant and against its
queue, and each of the two may declare

- a **quota**: PFLOPS(FP16) held at once;
- a **money budget** and/or a **PF16-hour budget**, counted over a day, a month or all time (the
  snapshot says what is left of each this period).

An ``Account`` is one level's limits plus what the cycle has used of them so far: the cycle charges
each placement to both accounts of its job (``charge``), the ``quota`` and ``budget`` filters ask
every declared limit of both (``over_quota``, ``over_budget``), and a refusal names the level (tenant
or queue), the limit and the numbers.

``budget_stops``: a running preemptible job whose tenant or queue has no money or PF16-hours left
is preempted by the cycle (step 0), with the reason; it waits in the queue, held by the ``budget``
filter, until the budget is raised or its period starts again. Work that is not preemptible runs
to its end (docs/market.md, "Budgets"). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from suanli.domain.jobs import Job
from suanli.domain.units import SECONDS_PER_HOUR
from suanli.scheduling.types import (
    BoolArray,
    FloatArray,
    Placement,
    Preemption,
    QueueState,
    RunningJob,
    Snapshot,
    TenantState,
)

EPS = 1e-9
S = TypeVar("S", TenantState, QueueState)


@dataclass
class Account:
    """One level's limits (None = unlimited) and what is left of them in this cycle."""

    label: str                    # "tenant demo" or "queue demo/urgent"
    quota_pflops: float | None
    in_use_pflops: float
    money_left: float | None
    pf16h_left: float | None
    budget: float | None = None
    budget_pf16h: float | None = None
    per: str = ""

    @classmethod
    def of(cls, label: str, s: TenantState | QueueState) -> Account:
        return cls(label, s.quota_pflops, s.in_use_pflops, s.budget_left, s.pf16h_left, s.budget, s.budget_pf16h,
                   s.budget_per)

    def period(self) -> str:
        return f" per {self.per}" if self.per else ""


Key = tuple[str, str]      # (tenant, "") for a tenant, (tenant, queue) for a queue


def accounts_of(snap: Snapshot) -> dict[Key, Account]:
    out: dict[Key, Account] = {}
    for name, t in snap.tenants.items():
        out[(name, "")] = Account.of(f"tenant {name}", t)
        for q, qs in t.queues.items():
            out[(name, q)] = Account.of(f"queue {name}/{q}", qs)
    return out


def of_job(accounts: dict[Key, Account], job: Job) -> list[Account]:
    """The job's tenant account, then its queue's (those that are known)."""
    return [a for k in ((job.tenant, ""), (job.tenant, job.queue)) if (a := accounts.get(k)) is not None]


def charge(accounts: dict[Key, Account], job: Job, pflops: float, cost: float = 0.0, pf16h: float = 0.0) -> None:
    """The job takes ``pflops`` and is predicted to spend ``cost`` and ``pf16h``, on both levels."""
    for a in of_job(accounts, job):
        a.in_use_pflops += pflops
        if a.money_left is not None:
            a.money_left -= cost
        if a.pf16h_left is not None:
            a.pf16h_left -= pf16h


def over_quota(accounts: list[Account], pflops: FloatArray) -> BoolArray | None:
    """Pools where the job fits every declared quota of its accounts; None if none is declared."""
    mask = None
    for a in accounts:
        if a.quota_pflops is not None:
            ok = a.in_use_pflops + pflops <= a.quota_pflops + EPS
            mask = ok if mask is None else mask & ok
    return mask


def quota_why(accounts: list[Account], pflops: float) -> str:
    for a in accounts:
        if a.quota_pflops is not None and a.in_use_pflops + pflops > a.quota_pflops + EPS:
            return f"{a.label} holds {a.in_use_pflops:.3f} PFLOPS, +{pflops:.3f} here > quota {a.quota_pflops:g}"
    return "within quota"


def over_budget(accounts: list[Account], cost: FloatArray, pf16h: FloatArray) -> BoolArray | None:
    """Pools where the job's predicted cost and PF16-hours fit what every budget of its accounts
    has left; None if no budget is declared."""
    mask = None
    for a in accounts:
        for left, need in ((a.money_left, cost), (a.pf16h_left, pf16h)):
            if left is not None:
                ok = need <= left
                mask = ok if mask is None else mask & ok
    return mask


def budget_why(accounts: list[Account], cost: float, pf16h: float) -> str:
    for a in accounts:
        if a.money_left is not None and cost > a.money_left:
            declared = f" (budget {a.budget:g}{a.period()})" if a.budget is not None else ""
            return f"predicted cost {cost:.2f} > budget left {a.money_left:.2f} of {a.label}{declared}"
        if a.pf16h_left is not None and pf16h > a.pf16h_left:
            declared = f" (budget {a.budget_pf16h:g} PF16-h{a.period()})" if a.budget_pf16h is not None else ""
            return f"predicted {pf16h:.4f} PF16-h > {a.pf16h_left:.4f} PF16-h left of {a.label}{declared}"
    return "within budget"


def spent_reason(accounts: list[Account]) -> str | None:
    """Why a job of these accounts may not run on: a budget with nothing left, or None."""
    for a in accounts:
        if a.money_left is not None and a.money_left <= 0:
            declared = f" {a.budget:g}{a.period()}" if a.budget is not None else ""
            return f"budget spent: {a.label} has {a.money_left:.2f} left of its budget{declared}"
        if a.pf16h_left is not None and a.pf16h_left <= 0:
            declared = f" {a.budget_pf16h:g} PF16-h{a.period()}" if a.budget_pf16h is not None else ""
            return f"budget spent: {a.label} has {a.pf16h_left:.4f} PF16-h left of its budget{declared}"
    return None


def budget_stops(snap: Snapshot) -> list[Preemption]:
    """Running preemptible jobs whose tenant or queue has spent a budget: preempt them, saying why."""
    if not any(t.budget_left is not None or t.pf16h_left is not None or t.queues for t in snap.tenants.values()):
        return []
    accounts = accounts_of(snap)
    out = []
    for r in snap.running:
        if not r.job.preemptible:
            continue
        why = spent_reason(of_job(accounts, r.job))
        if why is not None:
            out.append(Preemption(victim_id=r.job.id, pool=r.pool, count=r.count, by_job_id="", reason=why,
                                  lost_pf16h=_since_checkpoint(r, snap)))
    return out


def _since_checkpoint(r: RunningJob, snap: Snapshot) -> float:
    since = max(r.start, r.last_checkpoint or r.start)
    seconds = max(0.0, snap.now - since)
    return float(snap.table.fp16_tflops[r.pool]) * r.count * seconds / SECONDS_PER_HOUR / 1000.0


def after_placements(snap: Snapshot, placements: Sequence[Placement]) -> dict[str, TenantState]:
    """The tenants' (and queues') states with these placements charged: what explain asks after a cycle."""
    jobs = {j.id: j for j in snap.pending}
    tenants = dict(snap.tenants)
    for p in placements:
        job = jobs.get(p.job_id)
        t = tenants.get(job.tenant) if job is not None else None
        if job is None or t is None:
            continue
        tflops = float(snap.table.fp16_tflops[p.pool])
        pflops, pf16h = tflops * p.count / 1000.0, tflops * p.count * p.runtime_s / 1000.0 / SECONDS_PER_HOUR
        q = t.queues.get(job.queue)
        queues = t.queues if q is None else {**t.queues, job.queue: _charged(q, pflops, p.cost, pf16h)}
        tenants[job.tenant] = replace(_charged(t, pflops, p.cost, pf16h), queues=queues)
    return tenants


def _charged(s: S, pflops: float, cost: float, pf16h: float) -> S:
    return replace(s, in_use_pflops=s.in_use_pflops + pflops,
                   budget_left=None if s.budget_left is None else s.budget_left - cost,
                   pf16h_left=None if s.pf16h_left is None else s.pf16h_left - pf16h)


def pf16h_of(runtime_s: FloatArray, fp16_tflops: FloatArray, gpus: int) -> FloatArray:
    """PF16-hours metered for running ``runtime_s`` on ``gpus`` accelerators of each pool."""
    out: FloatArray = np.asarray(runtime_s * fp16_tflops * (gpus / 1000.0 / SECONDS_PER_HOUR))
    return out
