"""``suanli bench load``, small: the whole platform (``suanli up`` on SQLite, three local agents)
under 4 clients for 3 s; every accepted submission is stored, and nothing fails."""

import json
import subprocess
import sys

SUANLI = [sys.executable, "-m", "suanli.cli.main"]


def test_bench_load_small_on_sqlite():
    proc = subprocess.run([*SUANLI, "bench", "load", "--clients", "4", "--seconds", "3", "--json"],
                          capture_output=True, text=True, timeout=90)
    out = json.loads(proc.stdout)
    assert set(out["routes"]) == {"submit", "list", "poll"}
    for route in out["routes"].values():
        assert route["requests"] > 0 and route["errors"] == 0, route
        assert route["p50_ms"] <= route["p99_ms"]
        assert set(route) >= {"per_s", "first_errors"}
    assert out["total"]["errors"] == 0
    assert out["accepted"] == out["stored"] == out["routes"]["submit"]["requests"] > 0
    assert sum(out["stored_by_state"].values()) == out["stored"]
    assert out["targets"]["zero_errors"] and out["targets"]["nothing_lost"]
    assert out["store"] == "sqlite" and len(out["loadavg_before"]) == 3 and len(out["loadavg_after"]) == 3
    assert out["settings"]["clients"] == 4 and out["settings"]["seconds"] == 3
    assert proc.returncode == (0 if out["targets_met"] else 1)


def test_bench_load_bad_mix_exits_2_with_one_line():
    proc = subprocess.run([*SUANLI, "bench", "load", "--mix", "1,x", "--json"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
