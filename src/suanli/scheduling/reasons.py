"""Why a job stays pending (cycle step 6): the count of pools each filter refused (the first
filter to refuse a pool takes it; pools of sites that are down count as "site down") and a
one-line summary naming the filter that refused most, with the numbers at one example pool."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from suanli.scheduling.context import JobVectors
from suanli.scheduling.filters import FILTERS
from suanli.scheduling.types import PendingReason

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle


def leave_pending(cycle: Cycle, v: JobVectors, summary: str | None = None) -> None:
    """Record ``v``'s job as pending with its reasons (``summary`` overrides the generated one)."""
    table = cycle.table
    counts: Counter[str] = Counter()
    remaining = np.ones(table.n, dtype=bool)
    if cycle.snap.available is not None:
        down = ~cycle.snap.available
        counts["site down"] = int(down.sum())
        remaining &= cycle.snap.available
    first_reason: dict[str, int] = {}
    for f, m in zip(cycle.filters, cycle.masks_of(v), strict=True):
        refused = remaining & ~m
        n = int(refused.sum())
        if n:
            counts[f.name] += n
            first_reason.setdefault(f.name, int(np.flatnonzero(refused)[0]))
            remaining &= ~refused
    if summary is None:
        if counts:
            name, n = max(counts.items(), key=lambda kv: kv[1])
            example = first_reason.get(name)
            detail = f" (e.g. {table.label(example)}: {FILTERS.get(name).why(v, cycle.state, example)})" \
                if example is not None else ""
            summary = f"no pool fits: {name} refused {n} of {table.n} pools{detail}"
        else:
            summary = "fits, but the reserved pool is held for an earlier blocked job (backfill)"
    cycle.pending[v.job.id] = PendingReason(job_id=v.job.id, summary=summary, rejected_by=dict(counts))
