"""Replay the packaged MSR ITP trace: speed (``suanli bench replay``) and, with ``--policy``, the
balanced-vs-fifo-firstfit ratios (``suanli simulate``), each over several runs, with medians.

    python bench/replay.py [--runs 3]              # speed: median jobs_per_s, wall_s, sim_s
    python bench/replay.py --policy [--runs 3]     # ratios over seeds 0..runs-1

Each run is a fresh process. Prints every run on stderr, then one JSON line with the medians
and whether each target is met (jobs_per_s >= 10,000; mean JCT <= 0.7x, cost <= 0.9x, carbon
<= 0.9x of fifo-firstfit with no more deadline misses; mean JCT <= 1.5x its lower bound). Extra
arguments go to the suanli command, e.g. ``python bench/replay.py -- --max-pending 5000``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TARGET_JOBS_PER_S = 10_000.0


def suanli() -> str:
    exe = Path(sys.executable).with_name("suanli")
    return str(exe) if exe.exists() else "suanli"


def speed(runs: int, extra: list[str]) -> dict[str, Any]:
    cmd = [suanli(), "bench", "replay", "--trace", "msr-itp", "--json", *extra]
    results = []
    for i in range(runs):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(f"run {i + 1}: {json.dumps(results[-1])}", file=sys.stderr)
    summary: dict[str, Any] = {key: round(statistics.median(r[key] for r in results), 3)
                               for key in ("jobs_per_s", "wall_s", "sim_s", "cpu_s", "peak_rss_gb")}
    summary.update(runs=runs, jobs=results[0]["jobs"], profile=results[0]["profile"],
                   max_pending=results[0]["max_pending"], target_jobs_per_s=TARGET_JOBS_PER_S,
                   target_met=summary["jobs_per_s"] >= TARGET_JOBS_PER_S)
    return summary


def policy(runs: int, extra: list[str]) -> dict[str, Any]:
    rows = []
    for seed in range(runs):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([suanli(), "simulate", "--trace", "msr-itp", "--federation", "east-data-west-compute",
                            "--profile", "balanced", "--compare", "fifo-firstfit,cheapest", "--seed", str(seed),
                            "--no-plots", "--quiet", "--out", out, *extra], check=True, capture_output=True)
            doc = json.loads((Path(out) / "metrics.json").read_text())
        b, f = doc["profiles"]["balanced"], doc["profiles"]["fifo-firstfit"]
        row = {"seed": seed, "offered_load": doc["offered_load"],
               "jct_vs_fifo": b["jct_mean_s"] / f["jct_mean_s"], "cost_vs_fifo": b["cost"] / f["cost"],
               "carbon_vs_fifo": b["carbon_kg"] / f["carbon_kg"],
               "deadline_misses": b["deadline_misses"], "fifo_deadline_misses": f["deadline_misses"],
               "jct_vs_bound": b["ratio_to_bound"]["jct_mean"]}
        rows.append(row)
        print(f"seed {seed}: {json.dumps({k: round(v, 4) for k, v in row.items()})}", file=sys.stderr)
    med = {k: round(statistics.median(r[k] for r in rows), 4) for k in rows[0] if k != "seed"}
    med["runs"] = runs
    med["targets_met"] = {"jct_vs_fifo<=0.7": med["jct_vs_fifo"] <= 0.7, "cost_vs_fifo<=0.9": med["cost_vs_fifo"] <= 0.9,
                          "carbon_vs_fifo<=0.9": med["carbon_vs_fifo"] <= 0.9,
                          "deadline_misses<=fifo": all(r["deadline_misses"] <= r["fifo_deadline_misses"] for r in rows),
                          "jct_vs_bound<=1.5": med["jct_vs_bound"] <= 1.5}
    return med


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--policy", action="store_true", help="measure the policy ratios instead of speed")
    parser.add_argument("extra", nargs="*", help="more arguments for the suanli command")
    args = parser.parse_args()
    print(json.dumps((policy if args.policy else speed)(args.runs, args.extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
