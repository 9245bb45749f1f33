"""Per-job vectors over pools, computed lazily and shared by filters and scores.

Every per-pool quantity of a job is a job scalar times a per-pool rate that depends only on the
job's kind of work (reference chip and arithmetic intensity) and the cycle's prices and carbon,
plus data terms:

    run time  = scale x base                  base = slowdown vs. the reference chip, or 1 / effective TFLOPS
    cost      = scale x gpus x price_rate + egress
    energy    = scale x gpus x energy_rate
    carbon    = scale x gpus x carbon_rate
    staging   = max over the job's data inputs of (size / bandwidth + RTT) to each pool's region

Rates are cached per cycle in ``CycleState``, so a job costs a few vector operations, over the
feasible pools only where possible. ``CycleState`` is the working copy of what a cycle changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from suanli.domain.jobs import Job
from suanli.domain.units import SECONDS_PER_HOUR
from suanli.metering.compute import intensity_of
from suanli.scheduling.limits import Account, Key, accounts_of, pf16h_of
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import BoolArray, FloatArray, IntArray, Snapshot, TenantState

_KWH = SECONDS_PER_HOUR * 1000.0  # W x s -> kWh


@dataclass(frozen=True, slots=True)
class Rates:
    base: FloatArray
    price: FloatArray
    energy: FloatArray
    carbon: FloatArray


@dataclass
class CycleState:
    """What one cycle mutates: its own copies, never the snapshot's arrays."""

    table: PoolTable
    free: IntArray
    accounts: dict[Key, Account]        # quotas and budgets of tenants and queues (``scheduling.limits``)
    carbon_g: FloatArray
    price: FloatArray
    observed_total: IntArray | None = None
    class_price: Mapping[str, FloatArray] | None = None   # per job class (the market's one price)
    free_pct: FloatArray = field(default_factory=lambda: np.zeros(0))
    _rates: dict[tuple[str, str, float, str], Rates] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free_pct = self.free * self.table.inv_capacity_pct

    def take(self, pool: int, count: int) -> None:
        """``count`` accelerators of ``pool`` are no longer free (placed)."""
        self.free[pool] -= count
        self.free_pct[pool] = self.free[pool] * self.table.inv_capacity_pct[pool]

    def give(self, pool: int, count: int) -> None:
        """``count`` accelerators of ``pool`` are free again (preempted)."""
        self.take(pool, -count)

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> CycleState:
        t = snap.table
        return cls(
            table=t,
            free=snap.free.copy(),
            accounts=accounts_of(snap),
            carbon_g=snap.carbon_g_per_kwh if snap.carbon_g_per_kwh is not None else t.carbon_g,
            price=snap.price_per_pf16h if snap.price_per_pf16h is not None else t.price,
            observed_total=snap.observed_total,
            class_price=snap.class_price_per_pf16h,
        )

    def price_for(self, job_class: str) -> FloatArray:
        """Each pool's price per PF16-hour for a job of this class."""
        if self.class_price is not None and job_class in self.class_price:
            return self.class_price[job_class]
        return self.price

    def rates(self, kind: str, reference: str, intensity: float, job_class: str = "") -> Rates:
        key = (kind, reference, intensity, job_class if self.class_price is not None else "")
        hit = self._rates.get(key)
        if hit is None:
            t = self.table
            if kind == "duration":
                base = t.slowdown(reference, intensity)
            else:
                base = 1000.0 * SECONDS_PER_HOUR / t.effective_tflops(intensity)
            energy = base * t.tdp_w * t.pue / _KWH
            hit = Rates(
                base=base,
                price=base * self.price_for(job_class) * t.fp16_tflops / 1000.0 / SECONDS_PER_HOUR,
                energy=energy,
                carbon=energy * self.carbon_g * (1.0 - t.green) / 1000.0,
            )
            self._rates[key] = hit
        return hit


class JobVectors:
    """One job's quantities over pools. Whole-array properties are computed on first use;
    ``*_at(idx)`` methods compute only the pools in ``idx``."""

    def __init__(self, job: Job, snap: Snapshot, state: CycleState) -> None:
        self.job = job
        self.table = snap.table
        self.now = snap.now
        self.tenant = snap.tenants.get(job.tenant) or _NO_TENANT
        if job.compute_pf16h is not None:
            self.scale = job.compute_pf16h / job.gpus
            self.rates = state.rates("compute", "", intensity_of(job), job.job_class.value)
        else:
            self.scale = job.duration_s
            self.rates = state.rates("duration", job.reference_accelerator, intensity_of(job), job.job_class.value)
        self.price = state.price_for(job.job_class.value)     # per PF16-hour, per pool
        self.work = self.scale * job.gpus
        self._staging: FloatArray | None = None
        self._egress: FloatArray | None = None
        if job.data:
            self._data_terms()
        self.has_data = self._staging is not None
        self.wait: FloatArray | None = None  # set by the cycle when full pools are candidates too
        self.filter_masks: list[BoolArray] | None = None  # each filter's mask, kept by the cycle's feasible()
        self._cache: dict[str, FloatArray] = {}

    def _data_terms(self) -> None:
        t = self.table
        staging: FloatArray | None = None
        egress: FloatArray | None = None
        for d in self.job.data:
            if d.region not in t.regions:
                continue
            s, e = t.data_rows(t.region_index(d.region))
            staging = d.size_gb * s[0] + s[1] if staging is None else np.maximum(staging, d.size_gb * s[0] + s[1])
            egress = d.size_gb * e if egress is None else egress + d.size_gb * e
        self._staging, self._egress = staging, egress

    # -- whole arrays, computed on first use ---------------------------------------------------
    @property
    def runtime_s(self) -> FloatArray:
        hit = self._cache.get("runtime")
        if hit is None:
            hit = self._cache["runtime"] = self.scale * self.rates.base
        return hit

    @property
    def staging_s(self) -> FloatArray:
        return self._staging if self._staging is not None else self.table.zeros

    @property
    def completion_s(self) -> FloatArray:
        if self._staging is None:
            return self.runtime_s
        hit = self._cache.get("completion")
        if hit is None:
            hit = self._cache["completion"] = self.runtime_s + self._staging
        return hit

    @property
    def cost(self) -> FloatArray:
        hit = self._cache.get("cost")
        if hit is None:
            hit = self.work * self.rates.price
            if self._egress is not None:
                hit = hit + self._egress
            self._cache["cost"] = hit
        return hit

    @property
    def carbon_kg(self) -> FloatArray:
        out: FloatArray = self.work * self.rates.carbon
        return out

    @property
    def energy_kwh(self) -> FloatArray:
        out: FloatArray = self.work * self.rates.energy
        return out

    @property
    def pf16h(self) -> FloatArray:
        """PF16-hours the job would be metered for on each pool (peak FP16 x accelerators x run time)."""
        hit = self._cache.get("pf16h")
        if hit is None:
            hit = self._cache["pf16h"] = pf16h_of(self.runtime_s, self.table.fp16_tflops, self.job.gpus)
        return hit

    @property
    def pflops(self) -> FloatArray:
        out: FloatArray = self.table.fp16_tflops * (self.job.gpus / 1000.0)
        return out

    # -- one pool (the placement record) ------------------------------------------------------
    def at(self, pool: int) -> dict[str, float]:
        runtime = self.scale * float(self.rates.base[pool])
        staging = float(self._staging[pool]) if self._staging is not None else 0.0
        cost = self.work * float(self.rates.price[pool]) + (float(self._egress[pool]) if self._egress is not None else 0.0)
        return {
            "runtime_s": runtime, "staging_s": staging, "cost": cost,
            "energy_kwh": self.work * float(self.rates.energy[pool]),
            "carbon_kg": self.work * float(self.rates.carbon[pool]),
            "pflops": float(self.table.fp16_tflops[pool]) * self.job.gpus / 1000.0,
            "pf16h": runtime * float(self.table.fp16_tflops[pool]) * self.job.gpus / 1000.0 / SECONDS_PER_HOUR,
        }


_NO_TENANT = TenantState()


def job_vectors(job: Job, snap: Snapshot, state: CycleState) -> JobVectors:
    return JobVectors(job, snap, state)
