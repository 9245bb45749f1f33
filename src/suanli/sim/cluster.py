"""The simulated cluster: which job holds which pool, which sites are up, and what each run
segment used (PF16-hours, energy with PUE, carbon at the hour it ran, cost).

Truth lives here, not in the scheduler's predictions: run time on a chip comes from
``metering.runtime_on``, staging from the federation's links, energy and carbon from
``metering`` with the site's hourly series when it has one. A job's remaining work after a
failure or preemption is its reference duration times the share not saved by a checkpoint.

Invariants: ``free[p] == capacity[p] - sum(count of jobs on p)`` and never negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from suanli.domain.accelerators import Accelerator
from suanli.domain.jobs import Job
from suanli.domain.units import pf16_hours
from suanli.metering.compute import carbon_kg, energy_kwh, runtime_on
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import FloatArray, RunningJob
from suanli.sim.prices import class_prices, with_site_prices
from suanli.sim.series import HourlySeries


class JobRun:
    """The mutable record of one job through the simulation (private to the simulator)."""

    __slots__ = ("job", "original", "attempt", "pool", "placed_at", "run_start", "end", "runtime_s",
                 "first_start", "preemptions", "failures", "pf16h", "lost_pf16h", "cost", "energy", "carbon",
                 "green_kwh", "busy_gpu_s", "done")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.original = job
        self.attempt = 0
        self.pool = -1
        self.placed_at = 0.0
        self.run_start = 0.0
        self.end = 0.0
        self.runtime_s = 0.0
        self.first_start: float | None = None
        self.preemptions = 0
        self.failures = 0
        self.pf16h = 0.0
        self.lost_pf16h = 0.0
        self.cost = 0.0
        self.energy = 0.0
        self.carbon = 0.0
        self.green_kwh = 0.0
        self.busy_gpu_s = 0.0
        self.done = False


@dataclass(frozen=True, slots=True)
class Segment:
    """What one placement of a job used, from placement to its end or interruption."""

    pool: int
    gpu_s: float        # accelerators held x seconds (staging included)
    run_s: float        # seconds actually computing
    pf16h: float
    energy_kwh: float
    green_kwh: float
    carbon_kg: float
    cost: float


class SimCluster:
    def __init__(self, table: PoolTable, carbon_series: Mapping[int, HourlySeries] | None = None,
                 price_series: Mapping[int, HourlySeries] | None = None,
                 prices: Mapping[str, FloatArray] | None = None) -> None:
        self.table = table
        self.prices = dict(prices) if prices is not None else class_prices(table)   # per job class, per pool
        fed = table.federation
        self.site_by_name = {s.name: i for i, s in enumerate(fed.sites)}
        self.free = table.capacity.copy()
        self.running: dict[str, RunningJob] = {}
        self.down: set[int] = set()
        self.carbon_series = dict(carbon_series or {})   # by site index
        self.price_series = dict(price_series or {})
        self._reference: dict[str, Accelerator] = {}
        self._region = {name: i for i, name in enumerate(table.regions)}
        self._pool_consts = [(int(table.site_of[p]), table.accelerators[p], float(table.pue[p]),
                              float(table.green[p]), float(table.carbon_g[p]), float(table.price[p]))
                             for p in range(table.n)]
        self.pools_of_site = [np.flatnonzero(table.site_of == i) for i in range(len(fed.sites))]

    # -- truth --------------------------------------------------------------------------------
    def runtime_s(self, job: Job, pool: int) -> float:
        ref = self._reference.get(job.reference_accelerator)
        if ref is None:
            ref = self.table.catalog.get(job.reference_accelerator)
            self._reference[job.reference_accelerator] = ref
        return runtime_on(job, self.table.accelerators[pool], ref)

    def staging_s(self, job: Job, pool: int) -> float:
        """Seconds to move the job's data to the pool's region (the links' size / bandwidth + RTT)."""
        t = self.table
        dst = int(t.region_of[pool])
        out = 0.0
        for d in job.data:
            src = self._region.get(d.region)
            if src is None or src == dst or d.size_gb <= 0:
                continue
            out = max(out, d.size_gb * 8.0 / t.bandwidth_gbps[src, dst] + t.rtt_ms[src, dst] / 1000.0)
        return float(out)

    def egress_cost(self, job: Job, pool: int) -> float:
        t = self.table
        dst = int(t.region_of[pool])
        return float(sum(d.size_gb * t.egress_per_gb[self._region[d.region], dst] for d in job.data
                         if d.region in self._region))

    # -- dynamic columns for the snapshot ----------------------------------------------------
    def available(self) -> np.ndarray | None:
        if not self.down:
            return None
        ok = np.ones(self.table.n, dtype=bool)
        for s in self.down:
            ok[self.pools_of_site[s]] = False
        return ok

    def carbon_now(self, now: float) -> FloatArray | None:
        return self._override(self.carbon_series, self.table.carbon_g, now)

    def prices_now(self, now: float) -> dict[str, FloatArray]:
        """Per job class, each pool's price per PF16-hour now (a site's price series overrides)."""
        if not self.price_series:
            return self.prices
        return with_site_prices(self.prices, dict(enumerate(self.pools_of_site)),
                                {site: s.at(now) for site, s in self.price_series.items()})

    def _override(self, series: Mapping[int, HourlySeries], base: FloatArray, now: float) -> FloatArray | None:
        if not series:
            return None
        out = base.copy()
        for site, s in series.items():
            out[self.pools_of_site[site]] = s.at(now)
        return out

    # -- changes ------------------------------------------------------------------------------
    def hold(self, run: JobRun, pool: int, now: float) -> None:
        """Place a job: it holds ``gpus`` chips of ``pool`` from now, stages its data, then runs."""
        job = run.job
        if self.free[pool] < job.gpus:
            raise ValueError(f"pool {self.table.label(pool)} has {self.free[pool]} free, job {job.id} needs {job.gpus}")
        self.free[pool] -= job.gpus
        run.attempt += 1
        run.pool = pool
        run.placed_at = now
        run.runtime_s = self.runtime_s(job, pool)
        run.run_start = now + self.staging_s(job, pool)
        run.end = run.run_start + run.runtime_s
        if run.first_start is None:
            run.first_start = now
        run.cost += self.egress_cost(job, pool)
        self.running[job.id] = RunningJob(job=job, pool=pool, count=job.gpus, start=now, expected_end=run.end)

    def release(self, run: JobRun, now: float) -> Segment:
        """The job leaves its pool at ``now`` (finished or interrupted); meter the segment."""
        pool = run.pool
        job = run.job
        del self.running[job.id]
        self.free[pool] += job.gpus
        site, acc, pue, green, ci, _ = self._pool_consts[pool]
        price = float(self.prices[job.job_class.value][pool])      # the job's one price (market.pricing)
        run_s = max(0.0, now - run.run_start)
        gpu_s = job.gpus * (now - run.placed_at)
        pf16h = float(pf16_hours(acc.fp16_tflops, job.gpus, run_s))
        energy = energy_kwh(acc, job.gpus, run_s, pue)
        if self.carbon_series:
            series = self.carbon_series.get(site)
            if series is not None:
                ci = series.mean_over(run.run_start, now)
        if self.price_series:
            price_s = self.price_series.get(site)
            if price_s is not None:
                price = price_s.mean_over(run.run_start, now)
        seg = Segment(pool=pool, gpu_s=gpu_s, run_s=run_s, pf16h=pf16h, energy_kwh=energy, green_kwh=energy * green,
                      carbon_kg=carbon_kg(energy, ci, green), cost=price * pf16h)
        run.pf16h += seg.pf16h
        run.energy += seg.energy_kwh
        run.green_kwh += seg.green_kwh
        run.carbon += seg.carbon_kg
        run.cost += seg.cost
        run.busy_gpu_s += seg.gpu_s
        return seg

    def interrupt(self, run: JobRun, now: float, checkpoint_default: float) -> tuple[Segment, float]:
        """Fail or preempt a job: release it and shrink its remaining work to what its last
        checkpoint saved. Returns the segment and the run seconds lost."""
        seg = self.release(run, now)
        job = run.job
        interval = job.checkpoint_interval_s if job.checkpoint_interval_s is not None else checkpoint_default
        ran = seg.run_s
        saved = (ran // interval) * interval if interval > 0 else 0.0
        saved = min(saved, run.runtime_s)
        lost = ran - saved
        done_share = saved / run.runtime_s if run.runtime_s > 0 else 0.0
        if job.compute_pf16h is not None:
            run.job = replace(job, compute_pf16h=max(job.compute_pf16h * (1.0 - done_share), 1e-9))
        else:
            run.job = replace(job, duration_s=max(job.duration_s * (1.0 - done_share), 1e-6))
        if seg.run_s > 0:
            run.lost_pf16h += seg.pf16h * lost / seg.run_s
        return seg, lost
