"""``suanli bench replay``: replay a trace over a federation with one profile and time it.

Prints ``jobs_per_s`` and ``wall_s`` (trace read + simulation; ``sim_s`` is the simulation
alone; ``cpu_s`` the process CPU time of both, which other load on the machine hardly changes)
as one JSON object with ``--json``, with ``peak_rss_gb`` (the process's peak resident memory).
Target: the packaged MSR ITP trace with ``balanced`` at >= 10,000 jobs/s.

``--trace synthetic --scenario national`` replays a packaged synthetic scenario (its federation
and job stream generated from ``--seed``; ``--limit`` takes its first N jobs): about 200 sites,
20,000 pools and 1,000,000 jobs. Target: <= 10 min and <= 6 GB.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

from suanli.cli.bench import print_result


def register(sub: Any) -> None:
    from suanli.cli.simulation_args import add_trace_arguments

    p = sub.add_parser("replay", help="time a full trace replay (default: MSR ITP, balanced)")
    add_trace_arguments(p)
    p.add_argument("--profile", default="balanced")
    p.add_argument("--scenario", default=None,
                   help="a packaged synthetic scenario (with --trace synthetic): national")
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
    fed, trace = scenario_inputs(args) if args.scenario else load_inputs(args)
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
            "cycles": result.cycles, "trace": trace.name, "profile": profile.name, "federation": fed.name,
            "pools": table.n, "max_pending": config.max_pending, "peak_rss_gb": round(peak_rss_gb(), 3)}


def scenario_inputs(args: Any) -> tuple[Any, Any]:
    """The federation and trace of ``--scenario`` (over its base federation, from ``--seed``)."""
    from suanli.config.federation_file import load_federation
    from suanli.domain.errors import InvalidInput
    from suanli.traces import TraceOptions
    from suanli.traces.scenarios import SCENARIOS

    scenario = SCENARIOS.get(args.scenario)
    if args.trace != "synthetic" or args.trace_path is not None:
        raise InvalidInput("a scenario generates its own jobs", field="--scenario", value=args.scenario,
                           fix="use it with --trace synthetic and no --trace-path")
    fed = scenario.federation(load_federation(scenario.base_federation), args.seed)
    options = TraceOptions(limit=args.limit, seed=args.seed, regions=tuple(fed.region_names()),
                           checkpoint_interval_s=args.checkpoint_interval)
    return fed, scenario.trace(fed, options)


def peak_rss_gb() -> float:
    """Peak resident memory of this process in GB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 30) if sys.platform == "darwin" else peak / (1 << 20)


def run(args: Any) -> int:
    out = measure(args)
    return print_result(out, args.json)
