"""An idealized cycle, the floor for a per-job vector design: for each of ``--pending`` jobs
over ``--pools`` pools, only the numpy work every placement needs (capacity mask; staging,
completion and cost rows for a job with data; their min and max for normalizing; the weighted
total with shared rows and packing; the masked argmax; a job without data has only shared
rows, whose weighted sum a cycle computes once) and the free count updated. No filters
but capacity, no records, no reasons, no backfill. Written for this benchmark; imports only the
seeded inputs of ``suanli bench cycle`` so that both see the same jobs and pools.

    python bench/cycle_floor.py [--pending 10000] [--pools 2000] [--runs 3]

Prints one JSON object: jobs_per_s of the floor (median of runs), numpy calls per job, and
microseconds per numpy call. ``suanli bench cycle`` at the same size, divided by this, is how
much of the cycle's time is the vector work itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from suanli.scheduling.seeded_inputs import synthetic_federation, synthetic_jobs


def floor_once(pending: int, pools: int) -> float:
    rng = np.random.default_rng(7)
    fed = synthetic_federation(pools, rng)
    jobs = synthetic_jobs(pending, rng)
    cap = np.asarray([p.capacity for s in fed.sites for p in s.pools], dtype=np.int64)
    speed = np.asarray([p.accelerator.fp16_tflops for s in fed.sites for p in s.pools])
    price = np.repeat(np.asarray([s.price_per_pf16h for s in fed.sites]), [len(s.pools) for s in fed.sites])
    base = speed.max() / speed                         # run-time factor per pool
    price_rate = base * price
    shared = 100.0 * (price_rate.max() - price_rate) / np.ptp(price_rate)
    per_gb = rng.uniform(0.0, 1.0, pools)
    fixed = rng.uniform(0.0, 0.05, pools)
    inv_cap = 100.0 / cap
    free = cap.copy()
    free_pct = free * inv_cap
    calls = 0
    t0 = time.perf_counter()
    for job in jobs:
        g = job.gpus
        ok = free >= g                                                   # 1
        if job.data:      # own rows: staging, completion and cost, normalized by their range
            staging = job.data[0].size_gb * per_gb + fixed               # 2, 3
            completion = job.duration_s * base + staging                 # 4, 5
            cost = (job.duration_s * g) * price_rate                     # 6
            lo_c, hi_c = completion.min(), completion.max()              # 7, 8
            lo_p, hi_p = cost.min(), cost.max()                          # 9, 10
            total = shared - (400.0 / max(hi_c - lo_c, 1e-9)) * completion   # 11, 12
            total -= (100.0 / max(hi_p - lo_p, 1e-9)) * cost             # 13, 14
            calls += 17
        else:             # every row is a per-cycle shared one: its weighted sum is cached
            total = shared
            calls += 5
        total = total + (100.0 + g * inv_cap - free_pct)                 # packing: 3 calls
        pool = int(np.where(ok, total, -np.inf).argmax())                # 2 calls
        if ok[pool]:
            free[pool] -= g
            free_pct[pool] = free[pool] * inv_cap[pool]
    floor_once.calls_per_job = calls / pending  # type: ignore[attr-defined]
    return pending / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--pools", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates = [floor_once(args.pending, args.pools) for _ in range(args.runs)]
    rate = statistics.median(rates)
    calls = floor_once.calls_per_job  # type: ignore[attr-defined]
    print(json.dumps({"floor_jobs_per_s": round(rate, 1), "runs": [round(r, 1) for r in rates],
                      "numpy_calls_per_job": round(calls, 2),
                      "us_per_numpy_call": round(1e6 / rate / calls, 2),
                      "pending": args.pending, "pools": args.pools}))


if __name__ == "__main__":
    main()
