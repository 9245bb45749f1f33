"""The simulator's pending queue and the short window of it each cycle sees.

A cycle gets at most ``max_pending`` of the oldest jobs, plus each tenant's oldest
``per_tenant`` (so fair share can reorder tenants), plus every requeued job (preempted or
failed, usually few). Arrivals come in submit order, so insertion order is age order; removal
is O(1). The window is returned sorted by (submit time, id) so the cycle's input is canonical.
"""

from __future__ import annotations

from itertools import islice

from suanli.domain.jobs import Job


class PendingQueue:
    def __init__(self) -> None:
        self._all: dict[str, Job] = {}
        self._by_tenant: dict[str, dict[str, Job]] = {}
        self._requeued: dict[str, Job] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._all

    def add(self, job: Job, *, requeued: bool = False) -> None:
        self._all[job.id] = job
        self._by_tenant.setdefault(job.tenant, {})[job.id] = job
        if requeued:
            self._requeued[job.id] = job

    def remove(self, job_id: str) -> Job:
        job = self._all.pop(job_id)
        del self._by_tenant[job.tenant][job_id]
        self._requeued.pop(job_id, None)
        return job

    def window(self, max_pending: int, per_tenant: int) -> list[Job]:
        chosen: dict[str, Job] = dict(self._requeued)
        for job in islice(self._all.values(), max_pending):
            chosen[job.id] = job
        if per_tenant > 0 and len(self._all) > max_pending:
            for tenant in sorted(self._by_tenant):
                for job in islice(self._by_tenant[tenant].values(), per_tenant):
                    chosen[job.id] = job
        return sorted(chosen.values(), key=lambda j: (j.submit_time, j.id))
