"""Per-job vectors over all pools, computed once per job per cycle and shared by filters and scores.

``JobVectors`` holds, for one job and every pool: run time on that pool's chip, data staging
time from where the job's data lives, cost (price x PF16-hours + egress), facility energy and
carbon. ``CycleState`` is the working copy of what a cycle changes: free slots and tenant usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suanli.domain.jobs import Job
from suanli.domain.units import SECONDS_PER_HOUR
from suanli.metering.compute import intensity_of
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import FloatArray, IntArray, Snapshot, TenantState


@dataclass
class CycleState:
    """What one cycle mutates: its own copies, never the snapshot's arrays."""

    free: IntArray
    in_use_pflops: dict[str, float]
    budget_left: dict[str, float | None]
    carbon_g: FloatArray
    price: FloatArray

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> CycleState:
        t = snap.table
        return cls(
            free=snap.free.copy(),
            in_use_pflops={k: v.in_use_pflops for k, v in snap.tenants.items()},
            budget_left={k: v.budget_left for k, v in snap.tenants.items()},
            carbon_g=snap.carbon_g_per_kwh if snap.carbon_g_per_kwh is not None else t.carbon_g,
            price=snap.price_per_pf16h if snap.price_per_pf16h is not None else t.price,
        )


@dataclass
class JobVectors:
    job: Job
    table: PoolTable
    now: float
    tenant: TenantState
    runtime_s: FloatArray
    staging_s: FloatArray
    cost: FloatArray
    energy_kwh: FloatArray
    carbon_kg: FloatArray
    pflops: FloatArray          # PFLOPS(FP16) the job would hold on each pool
    _cache: dict[str, object] = field(default_factory=dict)

    @property
    def completion_s(self) -> FloatArray:
        out = self._cache.get("completion")
        if out is None:
            out = self.staging_s + self.runtime_s
            self._cache["completion"] = out
        return out  # type: ignore[return-value]


def job_vectors(job: Job, snap: Snapshot, state: CycleState) -> JobVectors:
    t = snap.table
    intensity = intensity_of(job)
    if job.compute_pf16h is not None:
        runtime = job.compute_pf16h * SECONDS_PER_HOUR / (job.gpus * t.effective_tflops(intensity) / 1000.0)
    else:
        runtime = job.duration_s * t.slowdown(job.reference_accelerator, intensity)
    staging: FloatArray
    egress: FloatArray | float = 0.0
    if job.data:
        staging = np.zeros(t.n)
        egress_arr = np.zeros(t.n)
        for d in job.data:
            if d.region not in t.regions:
                continue
            r = t.region_index(d.region)
            staging = np.maximum(staging, t.staging_s(r, d.size_gb))
            egress_arr += d.size_gb * t.egress_per_gb[r, t.region_of]
        egress = egress_arr
    else:
        staging = _zeros(t)
    pflops = t.fp16_tflops * (job.gpus / 1000.0)
    hours = runtime / SECONDS_PER_HOUR
    cost = state.price * pflops * hours + egress
    energy = t.tdp_w * job.gpus * hours / 1000.0 * t.pue
    carbon = energy * state.carbon_g * (1.0 - t.green) / 1000.0
    tenant = snap.tenants.get(job.tenant) or TenantState()
    return JobVectors(job=job, table=t, now=snap.now, tenant=tenant, runtime_s=runtime, staging_s=staging,
                      cost=cost, energy_kwh=energy, carbon_kg=carbon, pflops=pflops)


def _zeros(t: PoolTable) -> FloatArray:
    key = "zeros"
    hit = t._cache.get(key)
    if hit is None:
        hit = np.zeros(t.n)
        t._cache[key] = hit
    return hit  # type: ignore[return-value]
