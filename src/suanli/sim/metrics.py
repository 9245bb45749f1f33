"""The summary of one simulated profile: the documented ``metrics.json`` fields.

Definitions (also in docs/simulate.md):
- jobs rejected (no pool of the federation could ever run them, ``rejected_by`` counts them per
  refusing filter) and jobs unfinished (still pending at the end; the first ``LISTED`` ids in
  ``unfinished_jobs``) are not in the figures below: ``warnings`` says so whenever there are any.
- JCT = finish - submit; wait (queueing delay) = first placement - submit; over finished jobs.
- makespan = last finish - first submit; utilization = PF16-hours delivered / (federation
  PF16 x makespan); per site: accelerator-seconds held / (site chips x makespan).
- energy includes PUE; green share = energy covered by the site's green power / energy.
- deadline misses: finished after the deadline, plus unfinished or rejected jobs that had one.
- fairness: Jain's index over tenants of each tenant's mean (bound completion / JCT).
- bounds: sums (cost, carbon) or mean (JCT) of the per-job bounds of ``bounds.py`` over the
  finished jobs; ``ratio_to_bound`` = achieved / bound (>= 1).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from suanli.metering.compliance import Totals, compliance_report
from suanli.scheduling.table import PoolTable
from suanli.sim.bounds import Bounds
from suanli.sim.engine import SimResult
from suanli.sim.sinks import Collector


def r(x: float, digits: int = 4) -> float:
    """Round for a stable JSON (and -0.0 -> 0.0)."""
    v = round(float(x), digits)
    return 0.0 if v == 0 else v


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else 0.0


def jain(values: list[float]) -> float:
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0 or not np.any(x):
        return 1.0
    return float(x.sum() ** 2 / (len(x) * (x ** 2).sum()))


LISTED = 1000


def warnings(result: SimResult) -> list[str]:
    """One line for the rejected jobs and one for the unfinished ones, when there are any."""
    out = []
    if result.rejected:
        first = next(iter(result.rejected.items()))
        kinds = ", ".join(f"{k}: {n:,}" for k, n in result.rejected_kinds.items())
        out.append(f"{len(result.rejected):,} of {result.jobs:,} jobs rejected, never run ({kinds}); "
                   f"e.g. {first[0]}: {first[1]}")
    if result.unfinished:
        ids = ", ".join(result.unfinished_ids[:5]) + (", ..." if result.unfinished > 5 else "")
        out.append(f"{result.unfinished:,} of {result.jobs:,} jobs never finished (still pending at the end: {ids})")
    return out


def summarize(result: SimResult, col: Collector, table: PoolTable, bounds: Bounds,
              deadline_jobs_unfinished: int) -> dict[str, Any]:
    recs = col.records
    submit = np.asarray([x.submit for x in recs])
    end = np.asarray([x.end for x in recs])
    start = np.asarray([x.first_start for x in recs])
    jct = end - submit
    wait = start - submit
    first = col.first_submit or 0.0
    makespan = max(0.0, (end.max() if len(end) else first) - first)
    cap_pf16 = float((table.capacity * table.fp16_tflops).sum() / 1000.0)
    pf16h = float(col.pool_pf16h.sum())
    energy = sum(x.energy_kwh for x in recs)
    green = sum(x.green_kwh for x in recs)
    site_caps = np.bincount(table.site_of, weights=table.capacity.astype(np.float64), minlength=len(table.site_names))
    util_site = {name: r(col.site_gpu_s[i] / (site_caps[i] * makespan) if makespan else 0.0)
                 for i, name in enumerate(table.site_names)}
    by_tier: dict[str, float] = defaultdict(float)
    for p in range(table.n):
        by_tier[table.tier_of[p]] += float(col.pool_pf16h[p])
    index = bounds.index()
    rows = np.asarray([index[x.id] for x in recs], dtype=np.int64)
    b_completion = bounds.completion_s[rows] if len(rows) else np.zeros(0)
    b_cost = float(np.nansum(bounds.cost[rows])) if len(rows) else 0.0
    b_carbon = float(np.nansum(bounds.carbon_kg[rows])) if len(rows) else 0.0
    b_jct = float(np.nanmean(b_completion)) if len(rows) else 0.0
    per_tenant: dict[str, list[float]] = defaultdict(list)
    for x, b, j in zip(recs, b_completion, jct, strict=True):
        per_tenant[x.tenant].append(float(b / j) if j > 0 else 1.0)
    fairness = jain([float(np.mean(v)) for _, v in sorted(per_tenant.items())])
    misses = sum(1 for x in recs if x.deadline is not None and x.end > x.deadline + 1e-6)
    cost = sum(x.cost for x in recs)
    carbon = sum(x.carbon_kg for x in recs)
    jct_mean = float(jct.mean()) if len(jct) else 0.0
    return {
        "jobs": len(recs),
        "jobs_rejected": len(result.rejected),
        "jobs_unfinished": result.unfinished,
        "rejected_by": dict(result.rejected_kinds),
        "unfinished_jobs": list(result.unfinished_ids[:LISTED]),
        "warnings": warnings(result),
        "jct_mean_s": r(jct_mean, 1), "jct_p50_s": r(pct(jct, 50), 1), "jct_p95_s": r(pct(jct, 95), 1),
        "jct_p99_s": r(pct(jct, 99), 1),
        "wait_mean_s": r(wait.mean() if len(wait) else 0.0, 1), "wait_p50_s": r(pct(wait, 50), 1),
        "wait_p95_s": r(pct(wait, 95), 1), "wait_p99_s": r(pct(wait, 99), 1),
        "makespan_s": r(makespan, 1),
        "utilization": r(pf16h / (cap_pf16 * makespan / 3600.0) if makespan else 0.0),
        "utilization_by_site": util_site,
        "pf16h_delivered": r(pf16h, 2),
        "pf16h_by_tier": {k: r(v, 2) for k, v in sorted(by_tier.items())},
        "pf16h_by_site": {name: r(float(col.pool_pf16h[table.site_of == i].sum()), 2)
                          for i, name in enumerate(table.site_names)},
        "pf16h_lost": r(sum(x.lost_pf16h for x in recs), 2),
        "cost": r(cost, 2),
        "energy_kwh": r(energy, 1),
        "carbon_kg": r(carbon, 1),
        "green_energy_share": r(green / energy if energy else 0.0),
        "deadline_jobs": sum(1 for x in recs if x.deadline is not None) + deadline_jobs_unfinished,
        "deadline_misses": misses + deadline_jobs_unfinished,
        "preemptions": col.interrupts["preempt"],
        "failures": col.interrupts["fail"],
        "migrations": col.interrupts["migrate"],
        "fairness_jain": r(fairness),
        "bounds": {"jct_mean_s": r(b_jct, 1), "cost": r(b_cost, 2), "carbon_kg": r(b_carbon, 1)},
        "ratio_to_bound": {"jct_mean": r(jct_mean / b_jct if b_jct else 0.0),
                           "cost": r(cost / b_cost if b_cost else 0.0),
                           "carbon": r(carbon / b_carbon if b_carbon else 0.0)},
        "cycles": result.cycles,
        "cycles_skipped": result.cycles_skipped,
        "invalid_placements": result.invalid_placements,
        "compliance": simulated_compliance(col, table),
    }


def simulated_compliance(col: Collector, table: PoolTable) -> dict[str, Any]:
    """The policy report (``metering.compliance``, as ``suanli report compliance`` computes it
    live) of a simulated run: every site of the federation counts as connected and its whole
    capacity as schedulable; the work run is what the run metered per pool; a job ran outside its
    home region when the pool it finished on is not where its data (its tenant's home) is."""
    it = col.pool_energy / np.where(table.pue > 0, table.pue, 1.0)
    hub = np.asarray([t == "hub" for t in table.tier_of], dtype=bool)
    by_tier: dict[str, float] = {"hub": 0.0, "city": 0.0, "edge": 0.0}
    for p in range(table.n):
        by_tier[table.tier_of[p]] = by_tier.get(table.tier_of[p], 0.0) + float(col.pool_pf16h[p])
    homed = [(x.home_region, table.regions[int(table.region_of[x.pool])]) for x in col.records if x.home_region]
    totals = Totals(energy_kwh=float(col.pool_energy.sum()), green_kwh=float(col.pool_green.sum()),
                    it_kwh=float(it.sum()), hub_energy_kwh=float(col.pool_energy[hub].sum()),
                    hub_it_kwh=float(it[hub].sum()), pf16h_by_tier=by_tier, jobs_with_home=len(homed),
                    jobs_outside_home=sum(1 for home, ran in homed if home != ran))
    fp16 = float((table.capacity * table.fp16_tflops).sum() / 1000.0)
    fp32 = float(sum(int(c) * a.fp32_tflops for c, a in zip(table.capacity, table.accelerators, strict=True)) / 1000.0)
    return compliance_report(len(table.site_names), fp16, fp32, totals)
