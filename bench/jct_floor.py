"""How close to the no-queue JCT bound can any schedule get at the trace's load?

``metrics.json`` reports each profile's mean JCT against a lower bound that ignores queueing:
every job running alone on its fastest eligible chip. At the default federation's ~80% offered
load that bound is far from reachable, because the MSR ITP trace comes in bursts (many days
offer more than 100% of the capacity). This script measures how far, with an idealized
reference that is far stronger than any real scheduler:

- the federation's whole PF16 is one divisible pool (no slow chips, no pool edges, no gang
  placement problems);
- preemption is free and instant; capacity is divisible (fluid);
- the order is preemptive shortest-remaining-time-first (SRPT), knowing every job's size;
- a job runs at most at its no-queue speed (its accelerators x the chip of its fastest eligible
  pool), so alone it finishes exactly at its bound (its data staging counts as run time there,
  which makes the reference a little slower than it could be).

A second reference looks at the chip mix instead of the queue: a linear program assigns the
jobs to pools so that the sum of their run times (staging + run, no waiting at all) is least,
given only that no pool runs more accelerator-seconds than it has over the trace's span. Jobs
are grouped by accelerators asked and run time (quarter powers of two) to keep the LP small, so
it is an estimate. Where the fast chips are a minority of the capacity, this alone puts the
mean JCT well above the no-queue bound.

A third reference pays for both at once, still far stronger than a real scheduler: a fluid
schedule over the pools as they are (each pool its own chips and speed), clairvoyant, with
free and instant preemption and migration at every arrival and completion, and a job allowed to
spread its accelerators over several pools. At each event the jobs go in order of remaining
seconds on their fastest pool x accelerators ** W (W = 2 by default, the best of the orders
tried; W = 1 is least remaining accelerator-seconds first) and take the fastest pools first.
Run once more with the cheapest pools first, it shows what such an idealized work-conserving
schedule costs against the cost bound (egress left out, which only flatters it).

It prints the no-queue bound and the references with their ratios to it::

    python bench/jct_floor.py [--federation NAME|PATH] [--trace msr-itp] [--json]

Any real schedule (non-preemptive, discrete pools, slower chips, cycles every few minutes) has
a mean JCT above this reference on the same trace, in practice well above it.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import time
from types import SimpleNamespace

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

from suanli.cli.simulation_args import load_inputs
from suanli.domain.jobs import Job
from suanli.domain.units import pf16_hours
from suanli.scheduling import PoolTable, build_pool_table
from suanli.sim.bounds import completion_matrix, job_bounds


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
        # who is served: a prefix at full cap, then one in part
        left = capacity
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


def chip_mix_mean_jct(table: PoolTable, jobs: list[Job], time_s: np.ndarray, span_s: float) -> float:
    """The LP estimate described above: least mean (staging + run) over pool assignments that
    respect each pool's accelerator-seconds over ``span_s``; ``time_s`` is the jobs' staging +
    run time per pool (inf: not eligible)."""
    gpus = np.asarray([j.gpus for j in jobs], dtype=float)
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
        members = groups[key]
        total = time_s[members].sum(axis=0)                      # inf where not eligible
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
    return float(res.fun / len(jobs))


def fluid_chip_mix(submit: np.ndarray, gpus: np.ndarray, time_s: np.ndarray, capacity: np.ndarray,
                   pool_order: np.ndarray, gpu_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The fluid schedule over the chip mix described above. Job i arrives at ``submit[i]``, asks
    for ``gpus[i]`` accelerators and takes ``time_s[i, p]`` seconds on pool p with all of them
    (inf: not eligible); pool p has ``capacity[p]`` accelerators. ``pool_order`` lists the pools
    in the order they are handed out (fastest or cheapest first). Jobs go first by remaining
    seconds at their fastest pool x accelerators ** ``gpu_weight`` (1: least remaining
    accelerator-seconds first; more favours narrow jobs). Between events rates are
    constant: a job holding a_p accelerators of pool p progresses at sum_p a_p / (gpus x time_s[p])
    of its work per second. Returns each job's completion time and the accelerator-seconds each
    pool delivered."""
    n = len(submit)
    arrival = np.argsort(submit, kind="stable")
    done = np.full(n, np.nan)
    used = np.zeros(len(capacity))
    if n == 0:
        return done, used
    speed = np.where(np.isfinite(time_s), 1.0 / time_s, 0.0)   # share of the job per second, all chips
    remaining = np.ones(n)
    least = np.min(time_s, axis=1) * gpus ** gpu_weight          # the order's key, with all the work left
    active = np.zeros(0, dtype=int)
    nxt = 0
    now = float(submit[arrival[0]])
    while nxt < n or len(active):
        first = nxt
        while nxt < n and submit[arrival[nxt]] <= now:
            nxt += 1
        if nxt > first:
            active = np.concatenate([active, arrival[first:nxt]])
        if not len(active):
            now = float(submit[arrival[nxt]])
            continue
        jobs = active[np.argsort(remaining[active] * least[active], kind="stable")]
        want = gpus[jobs].astype(float)
        rate = np.zeros(len(jobs))
        held = np.zeros(len(capacity))
        for p in pool_order:
            demand = np.where(speed[jobs, p] > 0, want, 0.0)
            before = np.cumsum(demand) - demand
            take = np.clip(capacity[p] - before, 0.0, demand)
            if not take.any():
                continue
            want -= take
            rate += take / gpus[jobs] * speed[jobs, p]
            held[p] = take.sum()
            if not want.any():
                break
        with np.errstate(divide="ignore"):
            finish_in = np.where(rate > 0, remaining[jobs] / rate, np.inf)
        next_arrival = float(submit[arrival[nxt]]) if nxt < n else np.inf
        dt = min(float(finish_in.min()), next_arrival - now)
        if not np.isfinite(dt):
            raise ValueError("a job is eligible on no pool; leave such jobs out")
        remaining[jobs] -= rate * dt
        used += held * dt
        now += dt
        finished = (remaining[jobs] <= 1e-12) | (finish_in <= dt)
        done[jobs[finished]] = now
        active = jobs[~finished]
    return done, used


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--federation", default="east-data-west-compute")
    ap.add_argument("--trace", default="msr-itp")
    ap.add_argument("--limit", type=int, default=None, help="only the first N jobs of the trace")
    ap.add_argument("--gpu-weight", type=float, default=2.0,
                    help="fluid references: order by remaining seconds x accelerators ** W (default 2, the best "
                         "of 0, 0.5, 1, 1.5, 2, 3, 5 on MSR ITP)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    fed, trace = load_inputs(SimpleNamespace(federation=args.federation, trace=args.trace, trace_path=None,
                                             skip_bad_rows=False, limit=args.limit, seed=0, checkpoint_interval=1800.0))
    table = build_pool_table(fed)
    jobs = list(trace.jobs)
    time_s = completion_matrix(table, jobs)
    ok = np.isfinite(time_s).any(axis=1)                     # jobs no pool can hold are rejected
    time_s = time_s[ok]
    fastest = np.argmin(time_s, axis=1)                      # where each job's bound is reached
    alone = time_s[np.arange(len(time_s)), fastest]          # the no-queue bound per job
    capacity_pf = float((table.capacity * table.fp16_tflops).sum() / 1000.0)
    submit = np.asarray([j.submit_time for j in jobs])[ok]
    gpus = np.asarray([j.gpus for j in jobs], dtype=float)[ok]
    ideal = fluid_srpt_mean_jct(submit, alone, gpus * table.fp16_tflops[fastest] / 1000.0, capacity_pf)
    eligible_jobs = [j for j, fits in zip(jobs, ok, strict=True) if fits]
    mix = chip_mix_mean_jct(table, eligible_jobs, time_s, float(submit.max() - submit.min()))
    bound = float(alone.mean())
    out = {"federation": fed.name, "jobs": int(ok.sum()), "pflops_fp16": round(capacity_pf, 3),
           "bound_jct_mean_s": round(bound, 1), "fluid_srpt_jct_mean_s": round(ideal, 1),
           "ratio": round(ideal / bound, 3), "chip_mix_jct_mean_s": round(mix, 1),
           "chip_mix_ratio": round(mix / bound, 3), "gpu_weight": args.gpu_weight}
    cost_bound = float(np.nansum(job_bounds(table, eligible_jobs).cost))
    per_chip_s = np.where(np.isfinite(time_s), time_s, np.nan)
    fastest_first = np.argsort(np.nanmedian(per_chip_s, axis=0), kind="stable")
    cheapest_first = np.argsort(np.nanmedian(per_chip_s * table.fp16_tflops * table.price, axis=0), kind="stable")
    for name, order in (("fluid_mix", fastest_first), ("fluid_mix_cheapest", cheapest_first)):
        done, used = fluid_chip_mix(submit, gpus, time_s, table.capacity.astype(float), order, args.gpu_weight)
        cost = float((pf16_hours(table.fp16_tflops, 1.0, used) * table.price).sum())
        jct = float((done - submit).mean())
        out[f"{name}_jct_mean_s"] = round(jct, 1)
        out[f"{name}_ratio"] = round(jct / bound, 3)
        out[f"{name}_cost_ratio"] = round(cost / cost_bound, 3)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['jobs']} jobs over {out['federation']} ({out['pflops_fp16']} PF16 as one divisible pool)")
        print(f"no-queue bound, mean JCT:          {out['bound_jct_mean_s']:>10.1f} s")
        print(f"fluid preemptive SRPT, mean JCT:   {out['fluid_srpt_jct_mean_s']:>10.1f} s  "
              f"({out['ratio']:.3f}x the bound)")
        print(f"chip-mix LP, no waiting, mean JCT: {out['chip_mix_jct_mean_s']:>10.1f} s  "
              f"({out['chip_mix_ratio']:.3f}x the bound)")
        for name, label in (("fluid_mix", "fastest pools first"), ("fluid_mix_cheapest", "cheapest pools first")):
            print(f"fluid over the chip mix, {label}: mean JCT {out[f'{name}_jct_mean_s']:.1f} s "
                  f"({out[f'{name}_ratio']:.3f}x the bound), cost {out[f'{name}_cost_ratio']:.3f}x the cost bound")
        print(f"[{out['wall_s']} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
