"""The simulator's pending queue and the window of it each cycle sees.

A cycle gets at most ``max_pending`` of the oldest jobs, plus each tenant's oldest
``per_tenant`` (so fair share can reorder tenants), plus every requeued job (preempted or
failed, usually few). Arrivals come in submit order, so insertion order is age order; removal
is O(1). The window is returned sorted by (submit time, id) so the cycle's input is canonical.

A job that no pool can take now for a static reason (``scheduling.feasibility.blocked_now``:
every pool that could run it is down or over its price cap) is parked: it stays pending but is
left out of every window, so it cannot keep the jobs behind it from being considered.
``restatus`` re-checks every job when what decides that changed (a site went down or came up,
the price hour turned); parked jobs that can run again go back in age order.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice

from suanli.domain.jobs import Job


class PendingQueue:
    def __init__(self) -> None:
        self._all: dict[str, Job] = {}
        self._by_tenant: dict[str, dict[str, Job]] = {}
        self._requeued: dict[str, Job] = {}
        self._parked: dict[str, Job] = {}
        self._seq: dict[str, int] = {}      # insertion order, to put parked jobs back in place
        self._next = 0

    def __len__(self) -> int:
        return len(self._all) + len(self._parked)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._all or job_id in self._parked

    @property
    def parked(self) -> int:
        return len(self._parked)

    def ids(self) -> list[str]:
        """Every pending job, parked ones included."""
        return [*self._all, *self._parked]

    def add(self, job: Job, *, requeued: bool = False, parked: bool = False) -> None:
        self._seq[job.id] = self._next
        self._next += 1
        if requeued:
            self._requeued[job.id] = job
        if parked:
            self._parked[job.id] = job
            return
        self._all[job.id] = job
        self._by_tenant.setdefault(job.tenant, {})[job.id] = job

    def remove(self, job_id: str) -> Job:
        self._requeued.pop(job_id, None)
        del self._seq[job_id]
        if job_id in self._parked:
            return self._parked.pop(job_id)
        job = self._all.pop(job_id)
        del self._by_tenant[job.tenant][job_id]
        return job

    def restatus(self, blocked: Callable[[Job], bool]) -> None:
        """Park the jobs ``blocked`` says no pool can take now; put back those it clears."""
        for job in [j for j in self._all.values() if blocked(j)]:
            del self._all[job.id]
            del self._by_tenant[job.tenant][job.id]
            self._parked[job.id] = job
        back = [j for j in self._parked.values() if not blocked(j)]
        if not back:
            return
        for job in back:
            del self._parked[job.id]
        seq = self._seq
        self._all = {j.id: j for j in sorted([*self._all.values(), *back], key=lambda j: seq[j.id])}
        for job in back:
            self._by_tenant.setdefault(job.tenant, {})[job.id] = job
        for tenant in {j.tenant for j in back}:
            jobs = self._by_tenant[tenant]
            self._by_tenant[tenant] = {j.id: j for j in sorted(jobs.values(), key=lambda j: seq[j.id])}

    def window(self, max_pending: int, per_tenant: int) -> list[Job]:
        chosen: dict[str, Job] = {k: j for k, j in self._requeued.items() if k not in self._parked}
        for job in islice(self._all.values(), max_pending):
            chosen[job.id] = job
        if per_tenant > 0 and len(self._all) > max_pending:
            for tenant in sorted(self._by_tenant):
                for job in islice(self._by_tenant[tenant].values(), per_tenant):
                    chosen[job.id] = job
        return sorted(chosen.values(), key=lambda j: (j.submit_time, j.id))
