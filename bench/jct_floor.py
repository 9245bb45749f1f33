"""How close to the no-queue JCT bound can any schedule get at the trace's load?

Prints the no-queue bound (every job alone on its fastest eligible chip) and the idealized
references of ``suanli.sim.references`` (where they are defined and computed) with their ratios
to it: fluid preemptive SRPT on the federation as one divisible pool, the chip-mix LP with no
waiting, and the fluid schedule over the chip mix (the JCT yardstick of ``suanli simulate
--references``), with the fastest pools first and with the cheapest first (cost against the cost
bound, egress left out). ``references_s`` is the time of what ``--references`` computes (both
fluid schedules and the bounds); ``wall_s`` counts everything, reading the trace included::

    python bench/jct_floor.py [--federation NAME|PATH] [--trace msr-itp] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from types import SimpleNamespace

import numpy as np

from suanli.cli.simulation_args import load_inputs
from suanli.scheduling import build_pool_table
from suanli.sim.references import (
    GPU_WEIGHT,
    ReferenceInputs,
    chip_mix_mean_jct,
    fluid_srpt_mean_jct,
    references,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--federation", default="east-data-west-compute")
    ap.add_argument("--trace", default="msr-itp")
    ap.add_argument("--limit", type=int, default=None, help="only the first N jobs of the trace")
    ap.add_argument("--gpu-weight", type=float, default=GPU_WEIGHT,
                    help="fluid references: order by remaining seconds x accelerators ** W (default 2, the best "
                         "of 0, 0.5, 1, 1.5, 2, 3, 5 on MSR ITP)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    fed, trace = load_inputs(SimpleNamespace(federation=args.federation, trace=args.trace, trace_path=None,
                                             skip_bad_rows=False, limit=args.limit, seed=0, checkpoint_interval=1800.0))
    table = build_pool_table(fed)
    data = ReferenceInputs.of(table, trace.jobs)               # jobs no pool can hold are rejected
    fastest = np.argmin(data.time_s, axis=1)                  # where each job's bound is reached
    alone = data.time_s[np.arange(len(data.time_s)), fastest]  # the no-queue bound per job
    capacity_pf = float((table.capacity * table.fp16_tflops).sum() / 1000.0)
    ideal = fluid_srpt_mean_jct(data.submit, alone, data.gpus * table.fp16_tflops[fastest] / 1000.0, capacity_pf)
    mix = chip_mix_mean_jct(table, data)
    bound = float(alone.mean())
    out = {"federation": fed.name, "jobs": len(data.jobs), "pflops_fp16": round(capacity_pf, 3),
           "bound_jct_mean_s": round(bound, 1), "fluid_srpt_jct_mean_s": round(ideal, 1),
           "ratio": round(ideal / bound, 3), "chip_mix_jct_mean_s": round(mix, 1),
           "chip_mix_ratio": round(mix / bound, 3), "gpu_weight": args.gpu_weight}
    timed = time.perf_counter()
    refs = references(table, trace.jobs, gpu_weight=args.gpu_weight)   # what `simulate --references` adds
    out["references_s"] = round(time.perf_counter() - timed, 2)
    cost_bound = refs["bounds"]["cost"]
    for name, key in (("fluid_mix", "fluid"), ("fluid_mix_cheapest", "fluid_cheapest")):
        ref = refs[key]
        out[f"{name}_jct_mean_s"] = round(ref["jct_mean_s"], 1)
        out[f"{name}_ratio"] = round(ref["jct_mean_s"] / bound, 3)
        out[f"{name}_cost_ratio"] = round(ref["cost"] / cost_bound, 3)
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
        print(f"[{out['wall_s']} s in all; {out['references_s']} s for the fluid references and bounds]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
