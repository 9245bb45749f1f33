"""The core CLI commands on files: schedule, explain, accelerators, capacity, bench cycle; bad input
exits 2 with one line, never a traceback."""

import json
import os
import subprocess
import sys

import pytest

from tests.scheduling.builders import TWO_SITES

SUANLI = [sys.executable, "-m", "suanli.cli.main"]


def suanli(*args, check=True):
    proc = subprocess.run([*SUANLI, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def files(tmp_path):
    fed = tmp_path / "fed.yaml"
    fed.write_text(TWO_SITES)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("""
now: 0
jobs:
  - {id: big, tenant: a, gpus: 8}
  - {id: second, tenant: a, gpus: 4, submit_time: 1}
  - {id: third, tenant: b, gpus: 8, submit_time: 2}
  - {id: picky, tenant: b, gpus: 1, max_price: 9, allowed_regions: [east], submit_time: 3}
""")
    return str(fed), str(jobs)


def test_schedule_json(files):
    fed, jobs = files
    out = json.loads(suanli("schedule", "-f", fed, "-j", jobs, "--json").stdout)
    assert {p["job"]: p["site"] for p in out["placements"]} == {"big": "west-h100", "second": "east-a100"}
    assert set(out["pending"]) == {"third", "picky"}


def test_explain_prints_every_pool_with_the_filter_and_numbers(files):
    fed, jobs = files
    text = suanli("explain", "third", "-f", fed, "-j", jobs).stdout
    assert "job third: pending" in text
    assert "east-a100" in text and "west-h100" in text
    assert "needs 8 free, has 4 of 8" in text and "needs 8 free, has 0 of 8" in text
    data = json.loads(suanli("explain", "picky", "-f", fed, "-j", jobs, "--json").stdout)
    verdicts = {p["site"]: (p["verdict"], p["reason"]) for p in data["pools"]}
    assert verdicts["east-a100"] == ("price", "price 10.00/PF16-h > cap 9")
    # west-h100 is full now, but it is in the wrong region for good: the permanent "no" comes first
    assert verdicts["west-h100"] == ("region", "region west not in allowed ['east']")


def test_explain_a_placed_job_shows_its_scores(files):
    fed, jobs = files
    data = json.loads(suanli("explain", "big", "-f", fed, "-j", jobs, "--json").stdout)
    assert data["status"] == "placed"
    assert data["placement"]["site"] == "west-h100"
    assert set(data["placement"]["breakdown"]) == {"completion", "price", "carbon", "packing", "locality"}


@pytest.mark.parametrize(("args", "message"), [
    (["explain", "nope"], "unknown job"),
    (["schedule", "--profile", "fastest"], "unknown profile"),
])
def test_bad_input_exits_2_with_one_line(files, args, message):
    fed, jobs = files
    proc = suanli(*args, "-f", fed, "-j", jobs, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_federation_file_exits_2_naming_the_file(tmp_path, files):
    _, jobs = files
    bad = tmp_path / "bad.yaml"
    bad.write_text(TWO_SITES.replace("accelerator: H100", "accelerator: H1000"))
    proc = suanli("schedule", "-f", str(bad), "-j", jobs, check=False)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "sites[1].pools[0].accelerator" in proc.stderr and "Traceback" not in proc.stderr


def test_accelerators_and_capacity(files):
    fed, _ = files
    rows = json.loads(suanli("accelerators", "--json").stdout)
    h100 = next(r for r in rows if r["id"] == "h100-sxm5-80gb")
    assert h100["fp16_tflops"] == 989.4 and h100["pf16h_per_hour"] == 0.9894
    cap = json.loads(suanli("capacity", "-f", fed, "--json").stdout)
    assert cap["total"]["accelerators"] == 16
    assert cap["by_tier"]["hub"]["pflops_fp16"] == pytest.approx(7.9152)


def test_bench_cycle_prints_its_figures():
    out = json.loads(suanli("bench", "cycle", "--pending", "300", "--pools", "40", "--repeat", "1", "--json").stdout)
    assert {"placements_per_s", "cycle_s", "pending", "pools", "profile"} <= set(out)
    assert out["pending"] == 300 and out["pools"] == 40 and out["profile"] == "balanced"
    assert out["placements_per_s"] > 0 and 0 < out["placed"] <= 300
    proc = suanli("bench", "cycle", "--pending", "0", "--json", check=False)
    assert proc.returncode == 2


def test_bench_engine_without_slurm_exits_2_with_one_line():
    proc = subprocess.run([*SUANLI, "bench", "engine", "--backend", "slurm", "--json"], capture_output=True, text=True,
                          env={**os.environ, "PATH": "/nonexistent"}, timeout=60)   # no sbatch, no sinfo
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Slurm commands not on PATH: sbatch" in proc.stderr, proc.stderr
