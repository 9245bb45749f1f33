"""``suanli bench replay``: replay a trace over a federation with one profile and time it.

Prints ``jobs_per_s`` and ``wall_s`` (trace read + simulation; ``sim_s`` is the simulation
alone; ``cpu_s`` the process CPU time of both, which other load on the machine hardly changes)
as one JSON object with ``--json``. Target: the packaged MSR ITP trace with
``balanced`` in <= 15 s.
"""

from __future__ import annotations

import json
import time
from typing import Any


def register(sub: Any) -> None:
    from suanli.cli.simulation_args import add_trace_arguments

    p = sub.add_parser("replay", help="time a full trace replay (default: MSR ITP, balanced)")
    add_trace_arguments(p)
    p.add_argument("--profile", default="balanced")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def measure(args: Any) -> dict[str, Any]:
    from suanli.cli.simulation_args import config_from, load_inputs
    from suanli.scheduling import build_pool_table, load_profile
    from suanli.sim.engine import Simulator
    from suanli.sim.sinks import Collector

    config = config_from(args)
    profile = load_profile(args.profile)
    c0 = time.process_time()
    t0 = time.perf_counter()
    fed, trace = load_inputs(args)
    table = build_pool_table(fed)
    t1 = time.perf_counter()
    sim = Simulator(table, trace.jobs, profile, config, [Collector(table)])
    result = sim.run()
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    wall = t2 - t0
    return {"jobs_per_s": round(len(trace.jobs) / wall, 1), "wall_s": round(wall, 3), "sim_s": round(t2 - t1, 3),
            "cpu_s": round(cpu, 3),
            "read_s": round(t1 - t0, 3), "jobs": len(trace.jobs), "finished": result.finished,
            "cycles": result.cycles, "trace": trace.name, "profile": profile.name, "federation": fed.name}


def run(args: Any) -> int:
    out = measure(args)
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>12}: {v}")
    return 0
