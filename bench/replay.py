"""Replay the packaged MSR ITP trace with ``balanced`` several times and print the median.

    python bench/replay.py [--runs 3] [-- extra arguments for `suanli bench replay`]

Each run is a fresh process (`suanli bench replay --trace msr-itp --json`); prints every run,
then one JSON line with the medians of jobs_per_s, wall_s and sim_s, and whether the target
(wall_s <= 15) is met.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

TARGET_WALL_S = 15.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="arguments passed on to `suanli bench replay`")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("suanli")
    cmd = [str(exe) if exe.exists() else "suanli", "bench", "replay", "--trace", "msr-itp", "--json", *args.extra]
    runs = []
    for i in range(args.runs):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        runs.append(result)
        print(f"run {i + 1}: {json.dumps(result)}", file=sys.stderr)
    summary = {key: round(statistics.median(r[key] for r in runs), 3) for key in ("jobs_per_s", "wall_s", "sim_s")}
    summary.update(runs=args.runs, jobs=runs[0]["jobs"], profile=runs[0]["profile"],
                   target_wall_s=TARGET_WALL_S, target_met=summary["wall_s"] <= TARGET_WALL_S)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
