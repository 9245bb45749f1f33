"""Per-job lower bounds that no schedule can beat, whatever the queueing:

- completion: staging plus run time on the fastest eligible pool (JCT >= this);
- cost: the cheapest eligible placement (the job's price x PF16-hours + data egress);
- carbon: the cleanest eligible pool (its lowest hourly intensity if it has a series).

Eligible = a pool with enough chips in total for the job and a chip the job allows. Jobs with
no eligible pool get ``nan`` (they are rejected). Computed in groups of jobs sharing a kind of
work and an eligibility mask, as job x pool matrices (``job_groups``, which other tools use too).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from suanli.domain.jobs import Job
from suanli.metering.compute import intensity_of
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import BoolArray, FloatArray, IntArray
from suanli.sim.prices import lowest_hour_prices
from suanli.sim.series import HourlySeries


@dataclass(frozen=True)
class Bounds:
    ids: tuple[str, ...]
    completion_s: FloatArray
    cost: FloatArray
    carbon_kg: FloatArray

    def index(self) -> dict[str, int]:
        return {j: i for i, j in enumerate(self.ids)}


@dataclass(frozen=True)
class GroupTimes:
    """Jobs that share a kind of work and an eligibility mask, as job x pool matrices."""

    rows: IntArray           # indices into the job list
    gpus: int
    eligible: BoolArray      # [pools]
    runtime_s: FloatArray    # [jobs, pools]
    staging_s: FloatArray    # [jobs, pools]
    egress: FloatArray       # [jobs, pools]


def job_groups(table: PoolTable, jobs: Sequence[Job]) -> Iterator[GroupTimes]:
    """Run time, staging and egress of every job on every pool, a group of alike jobs at a time.
    Groups with no eligible pool are left out."""
    groups: dict[tuple[bool, str, float, tuple[str, ...], int, str | None, bool], list[int]] = defaultdict(list)
    for i, j in enumerate(jobs):
        data_region = j.data[0].region if len(j.data) == 1 else None
        key = (j.compute_pf16h is None, j.reference_accelerator, intensity_of(j), j.allowed_models, j.gpus,
               data_region, len(j.data) > 1)
        groups[key].append(i)
    for key, idx in groups.items():
        by_duration, ref, intensity, models, gpus, data_region, multi = key
        eligible = table.capacity >= int(gpus)
        if models:
            eligible = eligible & table.model_mask(models)
        if not eligible.any():
            continue
        if by_duration:
            base = table.slowdown(str(ref), float(intensity))
            scale = np.asarray([jobs[i].duration_s for i in idx])
        else:
            base = 1000.0 * 3600.0 / table.effective_tflops(float(intensity))
            scale = np.asarray([(jobs[i].compute_pf16h or 0.0) / jobs[i].gpus for i in idx])
        runtime = scale[:, None] * base[None, :]                     # [jobs, pools]
        staging = np.zeros_like(runtime)
        egress = np.zeros_like(runtime)
        if data_region is not None and data_region in table.regions:
            r = table.region_index(str(data_region))
            sizes = np.asarray([jobs[i].data[0].size_gb for i in idx])[:, None]
            staging = sizes * 8.0 / table.bandwidth_gbps[r, table.region_of][None, :] \
                + table.rtt_ms[r, table.region_of][None, :] / 1000.0
            staging[:, table.region_of == r] = 0.0
            staging[sizes[:, 0] <= 0, :] = 0.0
            egress = sizes * table.egress_per_gb[r, table.region_of][None, :]
        elif multi:
            for row, i in enumerate(idx):
                for d in jobs[i].data:
                    if d.region in table.regions:
                        r = table.region_index(d.region)
                        staging[row] = np.maximum(staging[row], table.staging_s(r, d.size_gb))
                        egress[row] += d.size_gb * table.egress_per_gb[r, table.region_of]
        yield GroupTimes(np.asarray(idx), int(gpus), eligible, runtime, staging, egress)


def completion_matrix(table: PoolTable, jobs: Sequence[Job]) -> FloatArray:
    """Staging + run time of every job on every pool, [jobs, pools]; inf where not eligible."""
    out = np.full((len(jobs), table.n), np.inf)
    for g in job_groups(table, jobs):
        out[g.rows] = np.where(g.eligible[None, :], g.runtime_s + g.staging_s, np.inf)
    return out


def job_bounds(table: PoolTable, jobs: Sequence[Job], carbon_series: Mapping[int, HourlySeries] | None = None,
               price_series: Mapping[int, HourlySeries] | None = None,
               prices: Mapping[str, FloatArray] | None = None) -> Bounds:
    """``prices``: per job class, each pool's price (``sim.prices.class_prices`` if not given); a
    site with a price series is at its lowest hour."""
    n = len(jobs)
    completion = np.full(n, np.nan)
    cost = np.full(n, np.nan)
    carbon = np.full(n, np.nan)
    ci = table.carbon_g.copy()
    for site, s in (carbon_series or {}).items():
        ci[table.site_of == site] = float(np.min(s.values))
    by_class = lowest_hour_prices(table, prices, price_series)
    for g in job_groups(table, jobs):
        work = g.runtime_s * float(g.gpus)  # chip-seconds per pool
        pf16h = work * table.fp16_tflops[None, :] / 1000.0 / 3600.0
        energy = work * table.tdp_w[None, :] * table.pue[None, :] / 3.6e6
        masked = np.where(g.eligible[None, :], 1.0, np.nan)
        rows = g.rows
        completion[rows] = np.nanmin((g.runtime_s + g.staging_s) * masked, axis=1)
        price = np.stack([by_class[jobs[i].job_class.value] for i in rows])        # [jobs, pools]
        cost[rows] = np.nanmin((pf16h * price + g.egress) * masked, axis=1)
        carbon[rows] = np.nanmin(energy * (ci * (1.0 - table.green) / 1000.0)[None, :] * masked, axis=1)
    return Bounds(ids=tuple(j.id for j in jobs), completion_s=completion, cost=cost, carbon_kg=carbon)
