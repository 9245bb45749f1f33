"""Queue order: which pending job the cycle considers first. Registered by name in ``QUEUE_SORTS``.

``priority-fairshare``: higher priority first, then the tenant with the smaller dominant share
(decayed PF16-hours used / quota, divided by the tenant's weight), then the older job.
``fifo``: submit time only (what a plain queue does).

``PENDING_WINDOW``: how many of the oldest pending jobs a cycle is given, in the live loop
(``services/snapshot.py``) and, by default, in the simulator (``--max-pending``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from suanli.domain.jobs import Job
from suanli.domain.registry import Registry
from suanli.scheduling.types import TenantState

PENDING_WINDOW = 5000

QueueSort = Callable[[Sequence[Job], Mapping[str, TenantState]], list[Job]]
QUEUE_SORTS: Registry[QueueSort] = Registry("queue sort")


def fair_share(state: TenantState | None) -> float:
    """Dominant share of standard compute used against quota (or against 1 PF16-h when the
    tenant has no quota), divided by the tenant's weight."""
    if state is None:
        return 0.0
    denominator = state.quota_pflops if state.quota_pflops else 1.0
    return state.usage_pf16h / denominator / max(state.weight, 1e-9)


def priority_fairshare(jobs: Sequence[Job], tenants: Mapping[str, TenantState]) -> list[Job]:
    shares = {name: fair_share(tenants.get(name)) for name in {j.tenant for j in jobs}}
    return sorted(jobs, key=lambda j: (-j.priority, shares[j.tenant], j.submit_time, j.id))


def fifo(jobs: Sequence[Job], tenants: Mapping[str, TenantState]) -> list[Job]:
    return sorted(jobs, key=lambda j: (j.submit_time, j.id))


QUEUE_SORTS.add("priority-fairshare", priority_fairshare)
QUEUE_SORTS.add("fifo", fifo)
