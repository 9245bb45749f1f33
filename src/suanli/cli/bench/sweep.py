"""``suanli bench sweep``: the speedup of a sweep on Ray against the same simulations one after another.

Each round runs the sweep's simulations (``--profile``, ``--seeds``, default 10 seeds) twice:
one after another in this process (``serial_s``), then as Ray tasks on a new local Ray with
``--workers`` CPUs (``ray_s``: submitting to the last result; ``ray_start_s``: starting Ray,
apart). Rounds alternate the two so that load changes hit both; the JSON gives each round, the
medians, ``speedup`` = serial_s / ray_s, ``speedup_with_start`` = serial_s / (ray_start_s + ray_s)
(both of the medians), ``speedup_round_median`` (the median of each round's own ratio),
the 1-minute load average before each round, and whether every Ray result was byte-identical to
the serial one.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from suanli.cli.bench import print_result


def register(sub: Any) -> None:
    from suanli.cli.simulation_args import add_trace_arguments

    p = sub.add_parser("sweep", help="speedup of a sweep on a local Ray against the same runs one after another")
    add_trace_arguments(p, seed=False)
    p.add_argument("--profile", default="balanced")
    p.add_argument("--seeds", default="0-9", help="one simulation per seed (default 0-9)")
    p.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray (default 2)")
    p.add_argument("--runs", type=int, default=3, help="rounds; medians are taken over them (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run, profiles=None)


def one_round(args: Any) -> dict[str, Any]:
    from suanli.sweep.plan import plan
    from suanli.sweep.ray_run import ray_cluster, run_tasks, simulate_one

    tasks = plan(args)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    serial = [simulate_one(t.options, t.profile) for t in tasks]
    serial_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="suanli-bench-sweep-") as tmp:
        t1 = time.perf_counter()
        with ray_cluster(workers=args.workers) as cluster:
            t2 = time.perf_counter()
            outcomes = run_tasks(tasks, Path(tmp))
            t3 = time.perf_counter()
        identical = all(o.ok and o.task.metrics_path(Path(tmp)).read_text(encoding="utf-8") == text
                        for o, text in zip(outcomes, serial, strict=True))
    return {"load_1m": round(load, 2), "serial_s": round(serial_s, 3), "ray_start_s": round(t2 - t1, 3),
            "ray_s": round(t3 - t2, 3), "speedup": round(serial_s / (t3 - t2), 2), "ray_cpus": cluster.cpus,
            "identical": identical}


def measure(args: Any) -> dict[str, Any]:
    from suanli.sweep.plan import parse_seeds

    args.profiles = args.profile
    rounds = [one_round(args) for _ in range(args.runs)]
    med = {k: round(statistics.median(r[k] for r in rounds), 3) for k in ("serial_s", "ray_s", "ray_start_s")}
    return {"simulations": len(parse_seeds(args.seeds)), **med,
            "speedup": round(med["serial_s"] / med["ray_s"], 2),
            "speedup_with_start": round(med["serial_s"] / (med["ray_start_s"] + med["ray_s"]), 2),
            "speedup_round_median": round(statistics.median(r["speedup"] for r in rounds), 2),
            "workers": args.workers, "profile": args.profile, "trace": args.trace, "limit": args.limit,
            "federation": args.federation, "seeds": args.seeds, "runs": rounds,
            "identical": all(r["identical"] for r in rounds), "cpu_count": os.cpu_count()}


def run(args: Any) -> int:
    out = measure(args)
    return print_result(out, args.json)
