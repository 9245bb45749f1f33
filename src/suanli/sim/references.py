"""Idealized references a real schedule is measured against: ``suanli simulate --references``
and ``bench/jct_floor.py`` both compute them here.

The **fluid chip-mix reference** (the yardstick for mean JCT) is a schedule far stronger than any
real scheduler: the pools as they are (each its own chips and speed), clairvoyant, with free and
instant preemption and migration at every arrival and completion, and a job allowed to spread
its accelerators over several pools. At each event the jobs go in order of remaining seconds on
their fastest pool x accelerators ** W (W = 2 by default, the best order tried on MSR ITP), and
take the pools in ``pool_order``: the fastest first (the JCT reference) or the cheapest first (a
cost yardstick). Its cost is PF16-hours x each job's one price on the pool it ran on (its class's
on-demand price, ``sim.prices``, as the simulator prices it; a site with an hourly price series
at its lowest hour, as in ``bounds.py``); egress is left out, which only flatters it. Jobs that no pool can hold are left out, as the simulator rejects them.

Invariants of ``fluid_chip_mix``: between events rates are constant; a job holding a_p
accelerators of pool p progresses at sum_p a_p / (gpus x time_s[p]) of its work per second; no
pool hands out more than its accelerators; within a pool the jobs are served in the order above.
The event loop is compiled (numba): each event is a greedy over pools in order, which cannot be
vectorised across pools, and run in numpy it cost ~20 calls per pool per event (~70 s on the
whole MSR ITP trace); compiled it is the same arithmetic in the same order (only the per-pool
sums of accelerators held are summed left to right instead of pairwise; on MSR ITP every
completion time and every pool's accelerator-seconds came out bit-identical).

Two older, weaker references (``bench/jct_floor.py`` prints them): fluid preemptive SRPT on the
whole federation as one divisible pool (``fluid_srpt_mean_jct``), and a linear program over the
chip mix with no waiting at all (``chip_mix_mean_jct``).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

from suanli.domain.jobs import Job
from suanli.domain.units import pf16_hours
from suanli.scheduling.table import PoolTable
from suanli.sim.bounds import completion_matrix, job_bounds
from suanli.sim.metrics import r
from suanli.sim.prices import lowest_hour_prices
from suanli.sim.series import HourlySeries

GPU_WEIGHT = 2.0     # the best of 0, 0.5, 1, 1.5, 2, 3, 5 on MSR ITP (docs/simulate.md)
_DONE_EPS = 1e-12    # remaining share of a job at which it counts as finished


@dataclass(frozen=True)
class FluidSchedule:
    done_s: np.ndarray       # completion time per job (input order)
    by_group_gpu_s: np.ndarray   # [groups, pools]: accelerator-seconds each pool delivered to each group

    @property
    def used_gpu_s(self) -> np.ndarray:
        """Accelerator-seconds each pool delivered."""
        return np.asarray(self.by_group_gpu_s.sum(axis=0))


@dataclass(frozen=True)
class ReferenceInputs:
    """The jobs some pool can hold, as arrays: submit time, accelerators, and staging + run time
    on every pool ([jobs, pools], inf where not eligible)."""

    jobs: tuple[Job, ...]
    submit: np.ndarray
    gpus: np.ndarray
    time_s: np.ndarray

    @classmethod
    def of(cls, table: PoolTable, jobs: Sequence[Job]) -> ReferenceInputs:
        time_s = completion_matrix(table, jobs)
        ok = np.isfinite(time_s).any(axis=1)
        kept = tuple(j for j, fits in zip(jobs, ok, strict=True) if fits)
        return cls(kept, np.asarray([j.submit_time for j in kept], dtype=float),
                   np.asarray([j.gpus for j in kept], dtype=float), time_s[ok])


def fluid_chip_mix(submit: np.ndarray, gpus: np.ndarray, time_s: np.ndarray, capacity: np.ndarray,
                   pool_order: np.ndarray, gpu_weight: float = GPU_WEIGHT,
                   group: np.ndarray | None = None) -> FluidSchedule:
    """The fluid schedule over the chip mix (module docstring). Job i arrives at ``submit[i]``,
    asks for ``gpus[i]`` accelerators and takes ``time_s[i, p]`` seconds on pool p with all of
    them (inf: not eligible); pool p has ``capacity[p]`` accelerators; ``pool_order`` lists the
    pools in the order they are handed out. ``group[i]`` (0.., default all 0) only splits what
    the pools delivered by group (job class, for pricing); it changes no decision."""
    submit = np.asarray(submit, dtype=float)
    gpus = np.asarray(gpus, dtype=float)
    time_s = np.asarray(time_s, dtype=float).reshape(len(submit), len(capacity))
    if len(submit) and not np.isfinite(time_s).any(axis=1).all():
        raise ValueError("a job is eligible on no pool; leave such jobs out")
    arrival = np.argsort(submit, kind="stable")
    speed = np.where(np.isfinite(time_s), 1.0 / time_s, 0.0)   # share of the job per second, all chips
    least = np.min(time_s, axis=1) * gpus ** gpu_weight if len(submit) else np.zeros(0)
    group = np.zeros(len(submit), dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    n_groups = int(group.max()) + 1 if len(group) else 1
    done, used, ok = _compiled()(submit, arrival, gpus, speed, least, np.asarray(capacity, dtype=float),
                                   np.asarray(pool_order, dtype=np.int64), group, n_groups)
    if not ok:
        raise ValueError("a job is eligible on no pool with any accelerators; leave such jobs out")
    return FluidSchedule(done, used)


def _compiled() -> Any:
    """``_fluid_events`` compiled by numba on first use (cached on disk; numba is imported only
    by a run that asks for references)."""
    global _FLUID_EVENTS
    if _FLUID_EVENTS is None:
        from numba import njit

        _FLUID_EVENTS = njit(cache=True)(_fluid_events)
    return _FLUID_EVENTS


_FLUID_EVENTS: Any = None


def _fluid_events(submit, arrival, gpus, speed, least, capacity, pool_order, group, n_groups):  # type: ignore[no-untyped-def]
    """The event loop of ``fluid_chip_mix``: at each arrival or completion, order the active jobs,
    hand out the pools in order (each pool to its eligible jobs in that order, as much as each
    still wants), then run until the next event. Returns (done, used [groups, pools], ok)."""
    n = len(submit)
    n_pools = len(capacity)
    done = np.full(n, np.nan)
    used = np.zeros((n_groups, n_pools))
    if n == 0:
        return done, used, True
    remaining = np.ones(n)
    active = np.empty(n, dtype=np.int64)
    n_active = 0
    nxt = 0
    now = submit[arrival[0]]
    while nxt < n or n_active > 0:
        while nxt < n and submit[arrival[nxt]] <= now:
            active[n_active] = arrival[nxt]
            n_active += 1
            nxt += 1
        if n_active == 0:
            now = submit[arrival[nxt]]
            continue
        keys = np.empty(n_active)
        for k in range(n_active):
            keys[k] = remaining[active[k]] * least[active[k]]
        jobs = active[:n_active][np.argsort(keys, kind="mergesort")]   # stable, as numpy's "stable"
        want = gpus[jobs].copy()
        rate = np.zeros(n_active)
        held = np.zeros((n_groups, n_pools))
        wanting = n_active
        for p in pool_order:
            cap = capacity[p]
            total = 0.0       # cumulative demand of eligible jobs so far
            for k in range(n_active):
                if speed[jobs[k], p] <= 0.0:
                    continue
                demand = want[k]
                total = total + demand
                before = total - demand
                if before > cap + 1e-9:
                    break     # the pool is full: every later take is 0 (total only grows)
                take = min(max(cap - before, 0.0), demand)
                if take > 0.0:
                    want[k] = demand - take
                    if want[k] == 0.0:
                        wanting -= 1
                    rate[k] = rate[k] + take / gpus[jobs[k]] * speed[jobs[k], p]
                    held[group[jobs[k]], p] += take
            if wanting == 0:
                break
        finish_in = np.full(n_active, np.inf)
        for k in range(n_active):
            if rate[k] > 0.0:
                finish_in[k] = remaining[jobs[k]] / rate[k]
        next_arrival = submit[arrival[nxt]] if nxt < n else np.inf
        dt = min(finish_in.min(), next_arrival - now)
        if not np.isfinite(dt):
            return done, used, False
        for k in range(n_active):
            remaining[jobs[k]] = remaining[jobs[k]] - rate[k] * dt
        for g in range(n_groups):
            for p in range(n_pools):
                used[g, p] = used[g, p] + held[g, p] * dt
        now = now + dt
        left = 0
        for k in range(n_active):
            j = jobs[k]
            if remaining[j] <= _DONE_EPS or finish_in[k] <= dt:
                done[j] = now
            else:
                active[left] = j
                left += 1
        n_active = left
    return done, used, True


def pool_order(table: PoolTable, time_s: np.ndarray, by: str, price: np.ndarray | None = None) -> np.ndarray:
    """Pools fastest first (median seconds over the jobs) or cheapest first (median price of a job
    there: ``price[job, pool]`` per PF16-hour, default the table's), ties in pool order."""
    per_chip_s = np.where(np.isfinite(time_s), time_s, np.nan)
    if by == "fastest":
        key = np.nanmedian(per_chip_s, axis=0)
    elif by == "cheapest":
        key = np.nanmedian(per_chip_s * table.fp16_tflops * (table.price if price is None else price), axis=0)
    else:
        raise ValueError(f"pool order {by!r}: use 'fastest' or 'cheapest'")
    return np.argsort(key, kind="stable")


@dataclass(frozen=True)
class JobPrices:
    """Each job's price per PF16-hour on every pool, by its class: ``classes[k]`` has the price
    column ``columns[k]``, and job i is of class ``index[i]``."""

    classes: tuple[str, ...]
    columns: np.ndarray      # [classes, pools]
    index: np.ndarray        # per job

    @classmethod
    def of(cls, table: PoolTable, jobs: Sequence[Job], prices: Mapping[str, np.ndarray] | None = None,
           price_series: Mapping[int, HourlySeries] | None = None) -> JobPrices:
        """The simulator's one price per class (``sim.prices``); a site with an hourly price series
        at its lowest hour (as ``bounds.job_bounds`` prices it)."""
        by_class = lowest_hour_prices(table, prices, price_series)
        classes = tuple(sorted(by_class))
        at = {c: k for k, c in enumerate(classes)}
        return cls(classes, np.stack([by_class[c] for c in classes]) if classes else np.zeros((0, table.n)),
                   np.asarray([at[j.job_class.value] for j in jobs], dtype=np.int64))

    def per_job(self) -> np.ndarray:
        """[jobs, pools]: each job's price on each pool."""
        return np.asarray(self.columns[self.index])


def fluid_reference(table: PoolTable, data: ReferenceInputs, by: str,
                    gpu_weight: float = GPU_WEIGHT, prices: JobPrices | None = None) -> dict[str, float]:
    """Mean JCT and cost (each job's price x PF16-hours, no egress) of the fluid schedule with the
    pools handed out ``by`` ("fastest" or "cheapest") first."""
    if not len(data.submit):
        return {"jct_mean_s": 0.0, "cost": 0.0}
    prices = prices or JobPrices.of(table, data.jobs)
    sched = fluid_chip_mix(data.submit, data.gpus, data.time_s, table.capacity.astype(float),
                           pool_order(table, data.time_s, by, prices.per_job()), gpu_weight, prices.index)
    pf16h = pf16_hours(table.fp16_tflops, 1.0, sched.by_group_gpu_s)        # [classes, pools]
    cost = float((pf16h * prices.columns[: len(pf16h)]).sum())
    return {"jct_mean_s": float((sched.done_s - data.submit).mean()), "cost": cost}


def references(table: PoolTable, jobs: Sequence[Job], carbon_series: Mapping[int, HourlySeries] | None = None,
               price_series: Mapping[int, HourlySeries] | None = None,
               gpu_weight: float = GPU_WEIGHT) -> dict[str, Any]:
    """The ``references`` block of ``metrics.json`` (unrounded): the fluid chip-mix reference with
    the fastest pools first (``fluid``) and the cheapest first (``fluid_cheapest``), and the
    no-queue bounds of ``bounds.py`` over the same jobs (``bounds``, with the hourly series the
    simulation uses, as each profile's bounds are)."""
    data = ReferenceInputs.of(table, jobs)
    b = job_bounds(table, data.jobs, carbon_series, price_series)
    prices = JobPrices.of(table, data.jobs, price_series=price_series)
    return {
        "jobs": len(data.jobs),
        "gpu_weight": gpu_weight,
        "fluid": fluid_reference(table, data, "fastest", gpu_weight, prices),
        "fluid_cheapest": fluid_reference(table, data, "cheapest", gpu_weight, prices),
        "bounds": {"jct_mean_s": float(np.mean(b.completion_s)) if len(data.jobs) else 0.0,
                   "cost": float(np.sum(b.cost)), "carbon_kg": float(np.sum(b.carbon_kg))},
    }


def fluid_srpt_mean_jct(submit: np.ndarray, alone_s: np.ndarray, rate: np.ndarray, capacity: float) -> float:
    """Mean JCT under fluid preemptive SRPT with per-job rate caps on one pool of ``capacity``.

    Job i arrives at ``submit[i]``, needs ``alone_s[i]`` seconds at its cap ``rate[i]`` (same
    unit as ``capacity``). Between events the jobs served at their cap all lose remaining time at
    the same pace and the one served in part loses it slower, so the order by remaining time only
    changes at arrivals (an insertion)."""
    order = np.argsort(submit, kind="stable")
    submit, alone_s, rate = submit[order], alone_s[order], rate[order]
    n = len(submit)
    remaining = alone_s.astype(float).copy()
    done = np.empty(n)
    keys: list[float] = []   # remaining seconds at cap, ascending
    ids: list[int] = []
    now = float(submit[0]) if n else 0.0
    nxt = 0
    while nxt < n or ids:
        while nxt < n and submit[nxt] <= now:
            at = bisect.bisect_right(keys, remaining[nxt])
            keys.insert(at, float(remaining[nxt]))
            ids.insert(at, nxt)
            nxt += 1
        left = capacity   # who is served: a prefix at full cap, then one in part
        served = 0
        partial = 0.0
        for k in ids:
            if rate[k] <= left:
                left -= rate[k]
                served += 1
            else:
                partial = left / rate[k]
                break
        t_finish = now + keys[0] if served else (now + keys[0] / partial if partial > 0 else np.inf)
        t_arrive = float(submit[nxt]) if nxt < n else np.inf
        t = min(t_finish, t_arrive)
        dt = t - now
        for pos in range(served):
            keys[pos] -= dt
        if served < len(ids) and partial > 0:
            keys[served] -= dt * partial
        now = t
        while ids and keys[0] <= 1e-9 * max(1.0, now):
            done[ids.pop(0)] = now
            keys.pop(0)
    return float((done - submit).mean()) if n else 0.0


def chip_mix_mean_jct(table: PoolTable, data: ReferenceInputs) -> float:
    """Least mean (staging + run) over pool assignments that respect each pool's
    accelerator-seconds over the trace's submission span, no waiting at all; a linear program over
    jobs grouped by accelerators and run time (quarter powers of two), so an estimate."""
    time_s, gpus = data.time_s, data.gpus
    span_s = float(data.submit.max() - data.submit.min())
    shortest = np.min(time_s, axis=1)
    groups: dict[tuple[float, int, bytes], list[int]] = {}
    for i, (g, t) in enumerate(zip(gpus, shortest, strict=True)):
        groups.setdefault((g, int(np.floor(4 * np.log2(max(t, 1.0)))), np.isfinite(time_s[i]).tobytes()), []).append(i)
    keys = list(groups)
    n_pools = table.n
    cost = np.zeros(len(keys) * n_pools)
    use = lil_matrix((n_pools, len(keys) * n_pools))
    one = lil_matrix((len(keys), len(keys) * n_pools))
    upper = np.ones(len(keys) * n_pools)
    for b, key in enumerate(keys):
        total = time_s[groups[key]].sum(axis=0)                      # inf where not eligible
        for p in range(n_pools):
            v = b * n_pools + p
            one[b, v] = 1.0
            if np.isfinite(total[p]):
                cost[v] = total[p]
                use[p, v] = key[0] * total[p]
            else:
                upper[v] = 0.0
    res = linprog(cost, A_ub=use.tocsr(), b_ub=table.capacity * span_s, A_eq=one.tocsr(), b_eq=np.ones(len(keys)),
                  bounds=list(zip(np.zeros_like(upper), upper, strict=True)), method="highs")
    if res.status != 0:
        return float("nan")   # the trace does not fit in the span at all
    return float(res.fun / len(time_s))


def references_document(table: PoolTable, jobs: Sequence[Job], carbon_series: Mapping[int, HourlySeries] | None = None,
                        price_series: Mapping[int, HourlySeries] | None = None,
                        gpu_weight: float = GPU_WEIGHT) -> dict[str, Any]:
    """``references()`` rounded as ``metrics.json`` rounds (see docs/simulate.md)."""
    refs = references(table, jobs, carbon_series, price_series, gpu_weight)
    out: dict[str, Any] = {"jobs": refs["jobs"], "gpu_weight": gpu_weight}
    for name in ("fluid", "fluid_cheapest", "bounds"):
        out[name] = {k: r(v, 2 if k == "cost" else 1) for k, v in refs[name].items()}
    return out


def ratios_to_references(metrics: dict[str, Any], refs: dict[str, Any]) -> dict[str, float]:
    """A profile's mean JCT and cost over the fluid reference's (``fluid_*``), and its cost over
    the cheapest-first fluid schedule's (``fluid_cheapest_cost``); 0 where a reference is 0."""
    def ratio(value: float, ref: float) -> float:
        return r(value / ref) if ref else 0.0

    return {"fluid_jct_mean": ratio(metrics["jct_mean_s"], refs["fluid"]["jct_mean_s"]),
            "fluid_cost": ratio(metrics["cost"], refs["fluid"]["cost"]),
            "fluid_cheapest_cost": ratio(metrics["cost"], refs["fluid_cheapest"]["cost"])}
