"""Filters: each says, for one job, which pools may take it now, and why the others may not.

A filter is ``mask(v, state) -> bool array over pools`` plus ``why(v, state, pool) -> str``
with the numbers behind a "no". ``static`` filters do not depend on what the cycle has placed
so far (capacity, quota and budget do). ``permanent`` filters (``PermanentFilter``) also say,
from the job and the federation's table alone, which pools they could ever accept
(``allows``): a pool refused there is refused for ever -- too small (capacity), the wrong chip,
too little memory, the wrong region, too far for the latency SLO. ``scheduling.feasibility``
builds "this job can never run here" from them. Registered by name in ``FILTERS``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from suanli.domain.jobs import Job
from suanli.domain.registry import Registry
from suanli.scheduling import limits
from suanli.scheduling.context import CycleState, JobVectors
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import BoolArray, FloatArray


class Filter(Protocol):
    name: str
    static: bool
    permanent: bool

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray: ...

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str: ...


class PermanentFilter(Filter, Protocol):
    """A filter with a part that depends only on the job and the table. ``field`` is the job
    field a user changes to get past it; ``fix`` says how, given the pools the other permanent
    filters accept."""

    field: str

    def allows(self, table: PoolTable, job: Job) -> BoolArray: ...

    def fix(self, table: PoolTable, job: Job, others: BoolArray) -> str: ...


FILTERS: Registry[Filter] = Registry("filter")


class Capacity:
    """Enough free accelerators in the pool right now (sites that are down have none)."""

    name = "capacity"
    static = False
    permanent = True   # its permanent part: the pool's size
    field = "gpus"

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        return state.free >= v.job.gpus

    def allows(self, table: PoolTable, job: Job) -> BoolArray:
        ok: BoolArray = table.capacity >= job.gpus
        return ok

    def fix(self, table: PoolTable, job: Job, others: BoolArray) -> str:
        largest = int(table.capacity[others].max()) if others.any() else 0
        which = "the largest pool" if others.all() else "the largest pool its other constraints allow"
        return f"{which} holds {largest}: ask for at most {largest} accelerators, or split the work into several jobs"

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        capacity = int(v.table.capacity[pool])
        if capacity < v.job.gpus:
            return f"needs {v.job.gpus}, the pool holds only {capacity}: it can never fit here"
        why = f"needs {v.job.gpus} free, has {int(state.free[pool])} of {capacity}"
        observed = state.observed_total
        if observed is not None and int(observed[pool]) < capacity:
            why += f"; engine reports {int(observed[pool])} of {capacity} accelerators"
        return why


class Model:
    """The pool's accelerator is one the job allows."""

    name = "model"
    static = True
    permanent = True
    field = "allowed_models"

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        return self.allows(v.table, v.job)

    def allows(self, table: PoolTable, job: Job) -> BoolArray:
        return table.model_mask(job.allowed_models) if job.allowed_models else all_pools(table)

    def fix(self, table: PoolTable, job: Job, others: BoolArray) -> str:
        models = sorted({table.accelerators[p].id for p in map(int, np.flatnonzero(others))})
        return f"allow one of the chips the federation has: {', '.join(models)}"

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        return f"chip {v.table.accelerators[pool].id} not in allowed {list(v.job.allowed_models)}"


class Memory:
    """Each accelerator has at least the job's minimum memory."""

    name = "memory"
    static = True
    permanent = True
    field = "min_memory_gb"

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        return self.allows(v.table, v.job)

    def allows(self, table: PoolTable, job: Job) -> BoolArray:
        if job.min_memory_gb <= 0:
            return all_pools(table)
        ok: BoolArray = table.memory_gb >= job.min_memory_gb
        return ok

    def fix(self, table: PoolTable, job: Job, others: BoolArray) -> str:
        most = float(table.memory_gb[others].max()) if others.any() else 0.0
        return f"ask for at most {most:g} GB per chip (the most any pool that could run it has)"

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        return f"needs {v.job.min_memory_gb:g} GB per chip, has {v.table.memory_gb[pool]:g} GB"


class RegionAllow:
    """Data residency: the pool's region is on the job's allow-list."""

    name = "region"
    static = True
    permanent = True
    field = "allowed_regions"

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        return self.allows(v.table, v.job)

    def allows(self, table: PoolTable, job: Job) -> BoolArray:
        return table.region_mask(job.allowed_regions) if job.allowed_regions else all_pools(table)

    def fix(self, table: PoolTable, job: Job, others: BoolArray) -> str:
        regions = sorted({table.regions[table.region_of[p]] for p in map(int, np.flatnonzero(others))})
        return f"allow a region with a pool that could run it: {', '.join(regions)}"

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        return f"region {v.table.regions[v.table.region_of[pool]]} not in allowed {list(v.job.allowed_regions)}"


class Latency:
    """Round-trip time from the job's user region to the pool's region is within its SLO."""

    name = "latency"
    static = True
    permanent = True
    field = "latency_slo_ms"

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        return self.allows(v.table, v.job)

    def allows(self, table: PoolTable, job: Job) -> BoolArray:
        if job.latency_slo_ms is None or job.user_region not in table.regions:
            return all_pools(table)
        ok: BoolArray = table.rtt_ms[table.region_index(job.user_region), table.region_of] <= job.latency_slo_ms
        return ok

    def fix(self, table: PoolTable, job: Job, others: BoolArray) -> str:
        if not others.any() or job.user_region not in table.regions:
            return "raise the latency SLO or give another user_region"
        rtt = float(table.rtt_ms[table.region_index(job.user_region), table.region_of][others].min())
        return f"raise the latency SLO to at least {rtt:g} ms, or give another user_region"

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        t = v.table
        r = t.region_index(v.job.user_region or "")
        return f"RTT {t.rtt_ms[r, t.region_of[pool]]:.1f} ms from {v.job.user_region} > SLO {v.job.latency_slo_ms:g} ms"


class PriceCap:
    """The job's price per PF16-hour on the pool (its class's price there) is within its cap."""

    name = "price"
    static = True
    permanent = False   # prices change (market, hourly series)

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        return self.allows_at(v.table, v.job, v.price)   # the job's class price per pool

    @staticmethod
    def allows_at(table: PoolTable, job: Job, price: FloatArray) -> BoolArray:
        """Pools whose price per PF16-hour (``price``, per pool) is within the job's cap."""
        if job.max_price is None:
            return all_pools(table)
        ok: BoolArray = price <= job.max_price
        return ok

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        return f"price {v.price[pool]:.2f}/PF16-h > cap {v.job.max_price:g}"


class Quota:
    """The PFLOPS(FP16) held by the job's tenant, and by its queue, plus this job stay within each
    one's quota (``scheduling.limits``)."""

    name = "quota"
    static = False
    permanent = False

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        accounts = limits.of_job(state.accounts, v.job)
        if not any(a.quota_pflops is not None for a in accounts):
            return all_pools(v.table)      # no quota declared: no PFLOPS vector to compute
        mask = limits.over_quota(accounts, v.pflops)
        return all_pools(v.table) if mask is None else mask

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        return limits.quota_why(limits.of_job(state.accounts, v.job), float(v.pflops[pool]))


class Budget:
    """The job's predicted cost and PF16-hours on the pool are within what is left of every budget
    of its tenant and of its queue (money, PF16-hours; ``scheduling.limits``)."""

    name = "budget"
    static = False
    permanent = False

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        accounts = limits.of_job(state.accounts, v.job)
        if not any(a.money_left is not None or a.pf16h_left is not None for a in accounts):
            return all_pools(v.table)
        mask = limits.over_budget(accounts, v.cost, v.pf16h)
        return all_pools(v.table) if mask is None else mask

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        return limits.budget_why(limits.of_job(state.accounts, v.job), float(v.cost[pool]), float(v.pf16h[pool]))


class Deadline:
    """Staging plus run time ends by the deadline. When no pool can meet it at all, the filter
    lets every pool through: the job runs late (a counted miss) rather than never."""

    name = "deadline"
    static = True
    permanent = False   # and it never refuses every pool: a job that cannot meet it runs late

    def mask(self, v: JobVectors, state: CycleState) -> BoolArray:
        if v.job.deadline is None:
            return all_pools(v.table)
        ok: BoolArray = v.now + v.completion_s <= v.job.deadline
        return ok if bool(ok.any()) else all_pools(v.table)

    def why(self, v: JobVectors, state: CycleState, pool: int) -> str:
        end = v.now + v.completion_s[pool]
        return f"would end at {end:.0f}, {end - (v.job.deadline or 0):.0f} s after the deadline"


def all_pools(table: PoolTable) -> BoolArray:
    """The shared all-true mask of a table: a filter returns it to say "no restriction", and
    the cycle skips it by identity. Never mutate it."""
    hit = table._cache.get("ones")
    if hit is None:
        hit = np.ones(table.n, dtype=bool)
        hit.setflags(write=False)
        table._cache["ones"] = hit
    return hit  # type: ignore[return-value]


for _f in (Capacity(), Model(), Memory(), RegionAllow(), Latency(), PriceCap(), Quota(), Budget(), Deadline()):
    FILTERS.add(_f.name, _f)
