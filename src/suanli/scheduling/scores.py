"""Scores: each rates the feasible pools for one job on 0..100 (100 = best); the profile's
weights combine them. A score is ``raw(v, state, idx) -> values`` (lower is better) over the
feasible pool indices ``idx``; ``normalize`` maps them to 0..100 among those pools.
Registered by name in ``SCORES``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from suanli.scheduling.context import CycleState, JobVectors
from suanli.scheduling.registry import Registry
from suanli.scheduling.types import FloatArray, IntArray


class Score(Protocol):
    name: str

    def raw(self, v: JobVectors, state: CycleState, idx: IntArray) -> FloatArray: ...


SCORES: Registry[Score] = Registry("score")


def normalize(raw: FloatArray) -> FloatArray:
    """Lower raw is better: 100 for the lowest, 0 for the highest, linear between; all equal -> 100."""
    lo = raw.min()
    span = raw.max() - lo
    if span <= 1e-12 * max(1.0, abs(lo)):
        return np.full(raw.shape, 100.0)
    out: FloatArray = 100.0 * (1.0 - (raw - lo) / span)
    return out


class Completion:
    """Predicted completion: data staging + run time on that chip (the job starts now)."""

    name = "completion"

    def raw(self, v: JobVectors, state: CycleState, idx: IntArray) -> FloatArray:
        return v.completion_s[idx]


class Price:
    """Predicted cost: price x PF16-hours on that chip + data egress."""

    name = "price"

    def raw(self, v: JobVectors, state: CycleState, idx: IntArray) -> FloatArray:
        return v.cost[idx]


class Carbon:
    """Predicted kg CO2: energy x PUE x grid intensity x (1 - green share)."""

    name = "carbon"

    def raw(self, v: JobVectors, state: CycleState, idx: IntArray) -> FloatArray:
        return v.carbon_kg[idx]


class Packing:
    """Best fit: the fewest accelerators left free in the pool after placing the job."""

    name = "packing"

    def raw(self, v: JobVectors, state: CycleState, idx: IntArray) -> FloatArray:
        left = (state.free[idx] - v.job.gpus).astype(np.float64)
        out: FloatArray = left / np.maximum(v.table.capacity[idx], 1)
        return out


class Locality:
    """Near the job's data and its users: staging time plus RTT from the user region."""

    name = "locality"

    def raw(self, v: JobVectors, state: CycleState, idx: IntArray) -> FloatArray:
        t = v.table
        out: FloatArray = v.staging_s[idx].copy()
        if v.job.user_region in t.regions:
            r = t.region_index(v.job.user_region or "")
            out = out + t.rtt_ms[r, t.region_of[idx]] / 1000.0
        return out


for _s in (Completion(), Price(), Carbon(), Packing(), Locality()):
    SCORES.add(_s.name, _s)
