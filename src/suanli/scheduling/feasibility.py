"""Jobs that can never run on a federation, and jobs that no pool can take now for a static reason.

``never_runs(table, job, filters)`` is the one home of "no pool of this federation could ever run
this job": the ``permanent`` filters of the profile (``filters.PermanentFilter``: the pool's size,
the chip model, memory per chip, region, latency SLO) accept no pool together. It returns a
``Refusal`` with the filters that refused, the job field to change, the reason with numbers and a
fix. The simulator rejects such a job at arrival, the submit service and job files refuse it
(``check_runs``: HTTP 422, CLI exit 2), and the cycle rejects one that reached the queue anyway
(e.g. the federation shrank).

``blocked_now(...)``: every pool that could ever run the job is down or over its price cap right
now. Such a job waits, but the pending window passes it over (``sim/pending.py``,
``services/snapshot.py``) so that it cannot keep other jobs from being considered. The deadline
filter never blocks: when no pool can meet a deadline, it lets every pool through.

Both are pure and cached per job shape on the table (``PoolTable._cache``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from suanli.domain.errors import InvalidInput
from suanli.domain.jobs import Job
from suanli.scheduling.context import CycleState, job_vectors
from suanli.scheduling.filters import FILTERS, PermanentFilter, PriceCap, all_pools
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import BoolArray, FloatArray, Snapshot

ALL_FILTERS: tuple[str, ...] = tuple(FILTERS.names())


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why no pool of the federation could ever run a job, and what to change."""

    filters: tuple[str, ...]   # the permanent filters that refused pools, in the profile's order
    field: str                 # the job field to change first
    reason: str
    fix: str

    @property
    def kind(self) -> str:
        """A short key for summaries: the refusing filters, e.g. ``model`` or ``region+capacity``."""
        return "+".join(self.filters)

    @property
    def message(self) -> str:
        return f"{self.reason}; fix: {self.fix}"


def _permanent(filters: Sequence[str]) -> list[PermanentFilter]:
    return [cast(PermanentFilter, f) for f in (FILTERS.get(n) for n in filters) if f.permanent]


def _shape(job: Job) -> tuple[object, ...]:
    return (job.gpus, job.allowed_models, job.min_memory_gb, job.allowed_regions, job.user_region,
            job.latency_slo_ms)


def runnable_pools(table: PoolTable, job: Job, filters: Sequence[str] = ALL_FILTERS) -> BoolArray:
    """Pools that the permanent filters among ``filters`` could ever accept for ``job``."""
    key = ("runnable", tuple(filters), _shape(job))
    hit = table._cache.get(key)
    if hit is None:
        ok: BoolArray | None = None
        for f in _permanent(filters):
            allowed = f.allows(table, job)
            ok = allowed if ok is None else ok & allowed
        hit = all_pools(table) if ok is None else ok
        table._cache[key] = hit
    return hit  # type: ignore[return-value]


_RUNS = object()   # cached: some pool could run a job of this shape


def never_runs(table: PoolTable, job: Job, filters: Sequence[str] = ALL_FILTERS) -> Refusal | None:
    """None if some pool could run ``job`` some day; else why no pool ever could. A dict lookup
    once a job of the same shape was seen (the simulator asks for every arrival)."""
    key = ("never", filters if isinstance(filters, tuple) else tuple(filters), job.gpus, job.allowed_models,
           job.min_memory_gb, job.allowed_regions, job.user_region, job.latency_slo_ms)
    hit = table._cache.get(key)
    if hit is None:
        runs = bool(runnable_pools(table, job, filters).any())
        hit = table._cache[key] = _RUNS if runs else _refusal(table, job, _permanent(filters))
    return None if hit is _RUNS else hit  # type: ignore[return-value]


def _refusal(table: PoolTable, job: Job, permanent: list[PermanentFilter]) -> Refusal:
    allows = [f.allows(table, job) for f in permanent]
    snap = Snapshot(table=table, now=0.0, free=table.capacity, pending=())
    state = CycleState.from_snapshot(snap)
    v = job_vectors(job, snap, state)
    remaining = np.ones(table.n, dtype=bool)
    refused: list[tuple[PermanentFilter, int, int]] = []   # filter, pools it refused (of the rest), example
    for f, a in zip(permanent, allows, strict=True):
        cut = remaining & ~a
        if cut.any():
            refused.append((f, int(cut.sum()), int(np.flatnonzero(cut)[0])))
            remaining &= a
    parts = [f"{f.name} refuses {n} of {table.n} pools (e.g. {table.label(ex)}: {f.why(v, state, ex)})"
             for f, n, ex in refused]
    reason = "no pool of the federation can ever run it: " + "; ".join(parts)
    # A fix that suffices alone: relax one filter, keeping what the others accept.
    fixes = []
    for f, _, _ in refused:
        k = permanent.index(f)
        others = np.ones(table.n, dtype=bool)
        for j, a in enumerate(allows):
            if j != k:
                others &= a
        if others.any():
            fixes.append((f, f.fix(table, job, others)))
    if not fixes:   # no one change is enough: say what each filter needs, over the whole federation
        everything = np.ones(table.n, dtype=bool)
        fixes = [(f, f.fix(table, job, everything)) for f, _, _ in refused]
        fix = " and ".join(text for _, text in fixes)
    else:
        fix = " or ".join(text for _, text in fixes)
    return Refusal(filters=tuple(f.name for f, _, _ in refused), field=fixes[0][0].field, reason=reason, fix=fix)


def check_runs(table: PoolTable, job: Job, filters: Sequence[str] = ALL_FILTERS) -> Job:
    """``job``, or ``InvalidInput`` naming the field to change when no pool could ever run it."""
    refusal = never_runs(table, job, filters)
    if refusal is not None:
        raise InvalidInput(refusal.reason, field=refusal.field, value=getattr(job, refusal.field), fix=refusal.fix)
    return job


def blocked_now(table: PoolTable, job: Job, filters: Sequence[str], available: BoolArray | None,
                prices: Mapping[str, FloatArray] | None) -> bool:
    """True when no pool that could ever run ``job`` is up (``available``, None = all) and within
    its price cap at the price of its class (``prices``: per job class, per pool; None or a class
    missing = the table's prices) right now."""
    ok = runnable_pools(table, job, filters)
    if available is not None:
        ok = ok & available
    if job.max_price is not None and PriceCap.name in filters:
        price = prices.get(job.job_class.value, table.price) if prices else table.price
        ok = ok & PriceCap.allows_at(table, job, price)
    return not bool(ok.any())
