"""Run every benchmark with medians of 3 runs and print their JSON, one after another
(`make bench`). Takes several minutes on a 2-core machine; run on a quiet machine.

    python bench/run_all.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUANLI = [sys.executable, "-m", "suanli.cli.main"]


def main() -> int:
    steps = [
        ("scheduling cycle", [sys.executable, str(HERE / "cycle.py"), "--runs", "3"]),
        ("trace replay", [sys.executable, str(HERE / "replay.py"), "--runs", "3"]),
        ("JCT bound references", [sys.executable, str(HERE / "jct_floor.py")]),
        ("forecast error on the packaged grid series", [sys.executable, str(HERE / "forecast_error.py")]),
        ("sweep on Ray, 10 simulations on 2 workers against one after another (3 rounds, medians)",
         [*SUANLI, "bench", "sweep", "--trace", "msr-itp", "--limit", "10000", "--workers", "2", "--json"]),
    ]
    for name, cmd in steps:
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
    for name, args in (("submissions (SQLite)", ["bench", "submit", "--json"]),
                       ("market", ["bench", "market", "--orders", "100000", "--records", "1000000", "--json"])):
        print(f"== {name}: suanli {' '.join(args)} (3 runs)", flush=True)
        runs = [json.loads(subprocess.run([*SUANLI, *args], check=True, capture_output=True, text=True).stdout)
                for _ in range(3)]
        for run in runs:
            print(json.dumps(run), flush=True)
        numeric = sorted(k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool))
        medians = {k: sorted(r[k] for r in runs)[1] for k in numeric}
        print("medians: " + json.dumps(medians), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
