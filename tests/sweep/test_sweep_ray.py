"""``suanli sweep`` on a real Ray: its own local Ray by default (never the machine's running head,
even with RAY_ADDRESS set), an existing cluster with ``--address``; each run's ``metrics.json``
byte-identical to a single ``suanli simulate``; a task that fails on its input is retried once and
reported while the others finish. Skipped without the ray package, failed under CI=true."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from suanli.cli.main import main
from tests.conftest import SUANLI, needs

HOW = "pip install 'suanli[ray]' (the sweep starts its own local Ray)"
T975_DF1 = 12.7062047     # Student's t(0.975, 1), from a printed table
HEADER = "cluster,job_id,submit_time_s,duration_s,num_gpus\n"


@pytest.fixture(scope="module")
def ray() -> Any:
    try:
        import ray
    except ImportError:
        needs("the ray package is not installed", HOW)
    return ray


def write_trace(path: Path, seed: int, jobs: int = 30, bad_line: int | None = None) -> Path:
    """An MSR-format trace that differs per seed; ``bad_line`` holds a duration that is no number."""
    rows = [f"c{i % 3},s{seed}j{i},{60 * i + 7 * seed},{600 + (37 * i + 101 * seed) % 3000},{(1, 2, 4, 8)[(i + seed) % 4]}"
            for i in range(jobs)]
    if bad_line is not None:
        rows[bad_line - 2] = f"c0,s{seed}bad,0,ten minutes,1"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def simulate_alone(tmp: Path, profile: str, seed: int, *options: str) -> bytes:
    out = tmp / f"alone-{profile}-{seed}"
    assert main(["simulate", "--profile", profile, "--compare", "", "--seed", str(seed), *options,
                 "--out", str(out), "--no-plots", "--quiet"]) == 0
    return (out / "metrics.json").read_bytes()


RAY_CURRENT = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"   # what `ray start` leaves


def machine_head() -> str:
    return RAY_CURRENT.read_text().strip() if RAY_CURRENT.exists() else ""


def test_local_sweep_retries_a_failing_task_once_reports_it_and_keeps_the_others(ray, tmp_path, monkeypatch, capsys):
    for seed in (0, 1):
        write_trace(tmp_path / f"run-{seed}.csv", seed)
    write_trace(tmp_path / "run-2.csv", 2, bad_line=5)
    head = machine_head()
    monkeypatch.setenv("RAY_ADDRESS", head or "127.0.0.1:1")   # a sweep without --address must not use it
    own_tmp = Path(tempfile.mkdtemp(prefix="sw-", dir="/tmp"))   # short: Ray's socket paths must stay < 108
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    dashboard = os.environ.get("SUANLI_RAY_ADDRESS")
    out = tmp_path / "sweep"
    trace = ["--trace", "msr-itp", "--trace-path", str(tmp_path / "run-{seed}.csv"), "--cycle-interval", "60"]

    code = main(["sweep", "--profiles", "fifo-firstfit,balanced", "--seeds", "0-2", *trace, "--workers", "2",
                 "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert code == 1, printed.err

    # 1. its own Ray: 2 CPUs at a fresh address, not the machine's head (4 CPUs) nor RAY_ADDRESS
    where = re.search(r"6 simulations on a local Ray started for the sweep at (\S+) \((\S+) CPUs\)", printed.err)
    assert where is not None, printed.err
    assert where.group(2) == "2" and where.group(1) not in (head, "127.0.0.1:1")
    # 2. the runs that could finish are there, byte for byte what a single simulate writes
    for profile in ("fifo-firstfit", "balanced"):
        for seed in (0, 1):
            alone = simulate_alone(tmp_path, profile, seed, "--trace", "msr-itp", "--trace-path",
                                   str(tmp_path / f"run-{seed}.csv"), "--cycle-interval", "60")
            assert (out / "runs" / profile / f"seed-{seed}" / "metrics.json").read_bytes() == alone
        assert not (out / "runs" / profile / "seed-2").exists()
    # 3. seed 2 failed on its input in both profiles: tried twice, reported with the file and line
    assert printed.err.count("retry: ") == 2 and printed.err.count("failed: ") == 2
    summary = json.loads((out / "summary.json").read_text())
    assert [(f["profile"], f["seed"], f["attempts"]) for f in summary["failed"]] == [
        ("fifo-firstfit", 2, 2), ("balanced", 2, 2)]
    for f in summary["failed"]:
        assert "run-2.csv:5" in f["error"] and "duration_s" in f["error"], f
    assert "balanced seed 2 failed after 2 attempts" in printed.err
    # 4. the summary is over the two seeds that finished: mean and Student's t interval
    for profile in ("fifo-firstfit", "balanced"):
        a, b = (json.loads((out / "runs" / profile / f"seed-{s}" / "metrics.json").read_text())["profiles"][profile]
                for s in (0, 1))
        stats = summary["metrics"][profile]["jct_mean_s"]
        assert stats["n"] == 2 and stats["seeds"] == [0, 1]
        assert stats["mean"] == pytest.approx((a["jct_mean_s"] + b["jct_mean_s"]) / 2)
        assert stats["ci95_high"] - stats["mean"] == pytest.approx(T975_DF1 * abs(a["jct_mean_s"] - b["jct_mean_s"]) / 2,
                                                                   rel=1e-6)
        assert summary["metrics"][profile]["cost"]["mean"] == pytest.approx((a["cost"] + b["cost"]) / 2)
    csv_rows = (out / "summary.csv").read_text().splitlines()
    assert csv_rows[0] == "profile,metric,n,mean,ci95_low,ci95_high,std" and "balanced,jct_mean_s,2," in "\n".join(csv_rows)
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "JCT mean h" in printed.out and "mean ± 95% interval" in printed.out
    # 5. the sweep's Ray is stopped and its directory gone; the machine's own head neither used nor stopped
    assert not ray.is_initialized() and list(own_tmp.iterdir()) == []
    own_tmp.rmdir()
    if dashboard:
        urllib.request.urlopen(dashboard + "/api/version", timeout=5).read()
    assert machine_head() == head


def test_sweep_on_an_existing_cluster_with_address(ray, tmp_path):
    temp = tempfile.mkdtemp(prefix="suanli-rt-")
    ray.init(address="local", num_cpus=1, num_gpus=0, include_dashboard=False, object_store_memory=80 * 2**20,
             _temp_dir=temp)
    try:
        gcs = ray.get_runtime_context().gcs_address
        out = tmp_path / "sweep"
        options = ["--trace", "synthetic", "--limit", "40"]
        p = subprocess.run([*SUANLI, "sweep", "--address", gcs, "--profiles", "cheapest", "--seeds", "3,5",
                            *options, "--out", str(out), "--quiet", "--no-plots"],
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr
        assert f"2 simulations on the Ray cluster at {gcs} (1 CPUs)" in p.stderr
        for seed in (3, 5):
            assert (out / "runs" / "cheapest" / f"seed-{seed}" / "metrics.json").read_bytes() == \
                simulate_alone(tmp_path, "cheapest", seed, *options)
        assert json.loads((out / "summary.json").read_text())["failed"] == []
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
