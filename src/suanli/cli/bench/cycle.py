"""``suanli bench cycle``: time one scheduling cycle over a seeded synthetic federation.

Prints one JSON object (``--json``) with placements_per_s, cycle_s (median of ``--repeat``
runs), pending, pools, placed and profile.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from suanli.cli.bench import print_result
from suanli.scheduling import build_pool_table, load_profile, make_snapshot, schedule
from suanli.scheduling.seeded_inputs import synthetic_federation, synthetic_jobs


def register(sub: Any) -> None:
    p = sub.add_parser("cycle", help="time one scheduling cycle on a synthetic federation")
    p.add_argument("--pending", type=int, default=10_000, help="pending jobs (default 10000)")
    p.add_argument("--pools", type=int, default=2_000, help="pools in the federation (default 2000)")
    p.add_argument("--profile", default="balanced")
    p.add_argument("--repeat", type=int, default=3, help="cycles to time; the median is reported")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def measure(pending: int, pools: int, profile_name: str, repeat: int, seed: int) -> dict[str, Any]:
    from suanli.domain.errors import InvalidInput

    if pending <= 0 or pools <= 0 or repeat <= 0:
        raise InvalidInput("must be positive", field="--pending/--pools/--repeat", value=(pending, pools, repeat),
                           fix="give positive whole numbers")
    rng = np.random.default_rng(seed)
    fed = synthetic_federation(pools, rng)
    table = build_pool_table(fed)
    jobs = synthetic_jobs(pending, rng)
    profile = load_profile(profile_name)
    snap = make_snapshot(table, 0.0, jobs)
    times = []
    placed = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = schedule(snap, profile, np.random.default_rng(seed))
        times.append(time.perf_counter() - t0)
        placed = len(result.placements)
    cycle_s = statistics.median(times)
    return {"placements_per_s": round(placed / cycle_s, 1), "jobs_per_s": round(pending / cycle_s, 1),
            "cycle_s": round(cycle_s, 4), "pending": pending, "pools": pools, "placed": placed,
            "profile": profile.name, "repeat": repeat}


def run(args: Any) -> int:
    out = measure(args.pending, args.pools, args.profile, args.repeat, args.seed)
    return print_result(out, args.json)
