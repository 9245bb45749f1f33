"""Scheduling-cycle benchmark: medians of several runs, the balanced profile against a plain
first-fit FIFO baseline in the same run, and the 40,000-vs-10,000 pending scaling ratio.

    python bench/cycle.py [--runs 5] [--pools 2000]

Prints one JSON object. Targets (issue 14): balanced >= 20,000 placements/s at 10,000 pending x
2,000 pools; the cycle at 40,000 pending takes <= 4.5x the cycle at 10,000.
"""

from __future__ import annotations

import argparse
import json
import statistics

from suanli.cli.bench.cycle import measure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pools", type=int, default=2000)
    args = parser.parse_args()
    out = {}
    for profile in ("balanced", "fifo-firstfit"):
        for pending in (10_000, 40_000):
            runs = [measure(pending, args.pools, profile, 1, seed=7) for _ in range(args.runs)]
            out[f"{profile}@{pending}"] = {
                "cycle_s_median": round(statistics.median(r["cycle_s"] for r in runs), 4),
                "placements_per_s_median": round(statistics.median(r["placements_per_s"] for r in runs), 1),
                "placed": runs[0]["placed"],
            }
    for profile in ("balanced", "fifo-firstfit"):
        out[f"{profile}_ratio_40k_to_10k"] = round(
            out[f"{profile}@40000"]["cycle_s_median"] / out[f"{profile}@10000"]["cycle_s_median"], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
