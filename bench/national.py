"""National scale: replay the packaged synthetic scenario ``national`` (about 200 sites, 20,000
pools, 1,000,000 jobs) at growing sizes and show how wall time grows.

    python bench/national.py [--sizes 100000,300000,1000000] [-- --max-pending 5000]

Runs ``suanli bench replay --trace synthetic --scenario national --limit N --json`` once per size
(a fresh process each), prints every run on stderr, then one JSON line: per size ``wall_s``,
``cpu_s``, ``jobs_per_s``, ``peak_rss_gb``, and each size's wall and CPU time per job relative
to the smallest size (1.0 = linear growth). Targets: the whole scenario in <= 600 s wall and
<= 6 GB peak memory; growth at most linear.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TARGET_WALL_S = 600.0
TARGET_RSS_GB = 6.0


def suanli() -> str:
    exe = Path(sys.executable).with_name("suanli")
    return str(exe) if exe.exists() else "suanli"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("extra", nargs="*", help="more arguments for the suanli command")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: dict[int, dict[str, Any]] = {}
    for n in sizes:
        load = os.getloadavg()[0]
        cmd = [suanli(), "bench", "replay", "--trace", "synthetic", "--scenario", "national", "--limit", str(n),
               "--json", *args.extra]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows[n] = json.loads(out.strip().splitlines()[-1])
        rows[n]["load_before"] = round(load, 2)
        print(f"{n}: {json.dumps(rows[n])}", file=sys.stderr)
    first = sizes[0]
    summary = {str(n): {"wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "jobs_per_s": r["jobs_per_s"],
                        "peak_rss_gb": r["peak_rss_gb"], "load_before": r["load_before"],
                        "wall_per_job_vs_first": round(r["wall_s"] / n / (rows[first]["wall_s"] / first), 3),
                        "cpu_per_job_vs_first": round(r["cpu_s"] / n / (rows[first]["cpu_s"] / first), 3)}
               for n, r in rows.items()}
    last = rows[sizes[-1]]
    print(json.dumps({"sizes": summary, "target_wall_s": TARGET_WALL_S, "target_rss_gb": TARGET_RSS_GB,
                      "target_met": last["wall_s"] <= TARGET_WALL_S and last["peak_rss_gb"] <= TARGET_RSS_GB}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
