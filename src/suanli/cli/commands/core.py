"""Core commands on files, no server needed: ``schedule``, ``explain``, ``accelerators``, ``capacity``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from suanli.cli.render import add_api_flags, client, table
from suanli.config.federation_file import load_federation
from suanli.config.jobs_file import load_jobs
from suanli.domain.accelerators import default_catalog
from suanli.metering.capacity import capacity_summary
from suanli.scheduling import build_pool_table, load_profile, make_snapshot, schedule
from suanli.scheduling.explain import explain_in_cycle


def register(sub: Any) -> None:
    p = sub.add_parser("schedule", help="run one scheduling cycle over a federation file and a job queue file")
    _files(p)
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("explain", help="why a job in a queue file was placed where it was, or not at all")
    p.add_argument("job", help="the job id")
    _files(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("accelerators", help="list the accelerator catalog (dense FP16/FP32, memory, bandwidth, TDP)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_accelerators)

    p = sub.add_parser("capacity", help="capacity of a federation in PFLOPS FP16/FP32 by site, region and tier "
                                        "(of a file with -f, else of the running platform, with what is schedulable)")
    p.add_argument("--federation", "-f", default=None, help="a federation YAML file or packaged name")
    add_api_flags(p)
    p.set_defaults(func=cmd_capacity)


def _files(p: Any) -> None:
    p.add_argument("--federation", "-f", required=True, help="a federation YAML file or packaged name")
    p.add_argument("--jobs", "-j", required=True, help="a job queue YAML file")
    p.add_argument("--profile", "-p", default="balanced", help="a packaged profile name or a profile YAML")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")


def _cycle(args: Any) -> tuple[Any, Any, Any]:
    fed = load_federation(args.federation)
    now, jobs = load_jobs(args.jobs, fed)
    profile = load_profile(args.profile)
    snap = make_snapshot(build_pool_table(fed), now, jobs)
    return snap, profile, np.random.default_rng(args.seed)


def cmd_schedule(args: Any) -> int:
    snap, profile, rng = _cycle(args)
    result = schedule(snap, profile, rng)
    if args.json:
        print(json.dumps({
            "placements": [{"job": p.job_id, "site": p.site, "pool": p.pool_name, "count": p.count,
                            "runtime_s": round(p.runtime_s, 3), "cost": round(p.cost, 4),
                            "carbon_kg": round(p.carbon_kg, 4), "score": round(p.score, 3)} for p in result.placements],
            "preemptions": [{"victim": p.victim_id, "by": p.by_job_id, "lost_pf16h": p.lost_pf16h}
                            for p in result.preemptions],
            "pending": {k: v.summary for k, v in result.pending.items()},
            "rejected": dict(result.rejected),
        }, indent=2))
        return 0
    print(table(["job", "site/pool", "gpus", "runtime s", "cost", "kg CO2", "score"],
                [[p.job_id, f"{p.site}/{p.pool_name}", p.count, f"{p.runtime_s:.0f}", f"{p.cost:.2f}",
                  f"{p.carbon_kg:.2f}", f"{p.score:.1f}"] for p in result.placements]))
    for job_id, reason in result.pending.items():
        print(f"pending  {job_id}: {reason.summary}")
    for job_id, why in result.rejected.items():
        print(f"rejected {job_id}: {why}")
    return 0


def cmd_explain(args: Any) -> int:
    snap, profile, rng = _cycle(args)
    ex = explain_in_cycle(snap, args.job, profile, rng)
    if args.json:
        print(json.dumps(ex.as_dict(), indent=2))
        return 0
    print(f"job {ex.job.id}: {ex.status}: {ex.summary}")
    if ex.placement is not None and ex.placement.breakdown:
        print("scores there: " + ", ".join(f"{k} {v:.1f}" for k, v in ex.placement.breakdown.items()))
    print(table(["site", "pool", "chip", "verdict", "why", "runtime s", "cost", "kg CO2"],
                [[r.site, r.pool, r.accelerator, r.verdict, r.reason, f"{r.runtime_s:.0f}", f"{r.cost:.2f}",
                  f"{r.carbon_kg:.2f}"] for r in ex.rows]))
    return 0


def cmd_accelerators(args: Any) -> int:
    cat = default_catalog()
    rows = [{"id": a.id, "name": a.name, "fp16_tflops": a.fp16_tflops, "fp32_tflops": a.fp32_tflops,
             "memory_gb": a.memory_gb, "memory_bw_gbps": a.memory_bw_gbps, "tdp_w": a.tdp_w,
             "pf16h_per_hour": round(a.fp16_tflops / 1000, 4)} for a in cat.by_id.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(list(rows[0]), [list(r.values()) for r in rows]))
    return 0


def cmd_capacity(args: Any) -> int:
    if args.federation:
        summary = capacity_summary(load_federation(args.federation)).as_dict()
    else:
        summary = client(args).get("/v1/federation")
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for group in ("by_site", "by_region", "by_tier"):
        rows = [[k, v["accelerators"], v["pflops_fp16"], v["pflops_fp32"]] for k, v in summary[group].items()]  # type: ignore[attr-defined]
        print(table([group[3:], "accelerators", "PFLOPS FP16", "PFLOPS FP32"], rows))
        print()
    total = summary["total"]
    print(f"total: {total['accelerators']} accelerators, {total['pflops_fp16']} PFLOPS FP16, "  # type: ignore[index]
          f"{total['pflops_fp32']} PFLOPS FP32")  # type: ignore[index]
    if "schedulable" in summary:
        s = summary["schedulable"]
        print(f"schedulable now (sites up, engine-reported sizes): {s['accelerators']} accelerators, "  # type: ignore[index]
              f"{s['pflops_fp16']} PFLOPS FP16, {s['pflops_fp32']} PFLOPS FP32")  # type: ignore[index]
    return 0
