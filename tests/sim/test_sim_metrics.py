"""Whole runs on small synthetic traces: same seed, same bytes; bounds never beaten; contract keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from suanli.cli.main import main
from suanli.config.federation_file import load_federation
from suanli.sim.engine import SimConfig
from suanli.sim.metrics import jain
from suanli.sim.run import simulate_profiles
from suanli.sim.series import HourlySeries
from suanli.traces import TraceOptions, read_trace

FED = "east-data-west-compute"


def trace(seed: int = 0, jobs: int = 400):
    fed = load_federation(FED)
    options = TraceOptions(seed=seed, limit=jobs, regions=tuple(fed.region_names()))
    return fed, read_trace("synthetic", options)


def test_same_seed_gives_byte_identical_metrics_json():
    fed, tr = trace()
    one = simulate_profiles(tr, fed, ["balanced", "random"], SimConfig(seed=3)).metrics_json()
    two = simulate_profiles(tr, fed, ["balanced", "random"], SimConfig(seed=3)).metrics_json()
    assert one == two
    fed, other = trace(seed=1)
    assert simulate_profiles(other, fed, ["balanced", "random"], SimConfig(seed=3)).metrics_json() != one


def test_no_profile_beats_its_lower_bounds_and_contract_keys_exist():
    fed, tr = trace(jobs=300)
    doc = simulate_profiles(tr, fed, ["balanced", "fifo-firstfit", "cheapest"], SimConfig()).document
    assert 0.0 < doc["offered_load"]
    for name, m in doc["profiles"].items():
        for key in ("jobs", "jct_mean_s", "jct_p99_s", "wait_mean_s", "cost", "carbon_kg", "energy_kwh",
                    "deadline_misses", "utilization", "bounds"):
            assert key in m, (name, key)
        assert m["jobs"] == 300 and m["invalid_placements"] == 0
        assert m["jct_mean_s"] >= m["bounds"]["jct_mean_s"] > 0
        assert m["cost"] >= m["bounds"]["cost"] > 0
        assert m["carbon_kg"] >= m["bounds"]["carbon_kg"] > 0
        assert min(m["ratio_to_bound"].values()) >= 1.0
        assert sum(m["pf16h_by_tier"].values()) == pytest.approx(m["pf16h_delivered"], rel=1e-3)


def test_jain_index():
    assert jain([1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert jain([1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)


def test_hourly_series_mean_follows_the_hours():
    s = HourlySeries("t", np.asarray([100.0, 300.0]))
    assert s.at(0) == 100.0 and s.at(3600) == 300.0 and s.at(7200) == 100.0   # wraps
    assert s.mean_over(0, 7200) == pytest.approx(200.0)
    assert s.mean_over(1800, 5400) == pytest.approx(200.0)
    assert s.mean_over(3600, 3600 + 900) == pytest.approx(300.0)


def test_carbon_series_site_is_metered_by_the_hour(tmp_path):
    fed_text = (tmp_path / "f.yaml")
    fed_text.write_text("""
name: series
regions: [{name: sg, carbon_g_per_kwh: 999}]
sites:
  - {name: sg-edge, region: sg, pue: 1.0, carbon_series: SG-2021,
     pools: [{name: a100, accelerator: A100, per_node: 8, nodes: 1}]}
""")
    series = tmp_path / "jobs.csv"
    series.write_text("cluster,job_id,submit_time_s,duration_s,num_gpus\nc1,j1,0,7200,1\n")
    out = tmp_path / "out"
    code = main(["simulate", "--trace", "msr-itp", "--trace-path", str(series), "--federation", str(fed_text),
                 "--compare", "", "--out", str(out), "--no-plots", "--quiet"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())["profiles"]["balanced"]
    # 1 V100-hour of work = 7200 s x 125/312 on an A100 at 400 W; intensity from the SG 2021 series, not 999
    assert m["carbon_kg"] < m["energy_kwh"] * 0.6
    assert m["carbon_kg"] > m["energy_kwh"] * 0.3


def test_simulate_cli_writes_report_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["simulate", "--trace", "synthetic", "--limit", "150", "--compare", "fifo-firstfit",
                 "--out", str(out), "--quiet"])
    assert code == 0
    assert {"metrics.json", "report.html", "jct_cdf.png", "queue_length.png", "utilization_by_site.png",
            "cost_carbon.png", "pf16h_by_tier.png"} <= {p.name for p in out.iterdir()}
    printed = capsys.readouterr().out
    assert "offered load" in printed and "fifo-firstfit" in printed
    for argv in (["--profile", "nope"], ["--trace", "nope"], ["--outage", "garbage"],
                 ["--outage", "no-such-site@10:10"], ["--federation", "nope"]):
        assert main(["simulate", "--limit", "5", "--quiet", "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("suanli: error:"), err


def test_the_snapshot_the_simulator_builds_is_what_make_snapshot_builds():
    from suanli.scheduling import build_pool_table, load_profile, make_snapshot, schedule
    from suanli.sim.engine import Outage, Simulator

    fed, tr = trace(jobs=300)
    table = build_pool_table(fed)
    seen = []

    def checked(snap, profile, rng):
        ref = make_snapshot(table, snap.now, snap.pending, snap.running, snap.tenants, available=snap.available)
        assert (ref.free == snap.free).all()
        seen.append(len(snap.running))
        return schedule(snap, profile, rng)

    config = SimConfig(outages=(Outage("hub-horinger", 20000, 30000),))
    sim = Simulator(table, tr.jobs, load_profile("balanced"), config, schedule_fn=checked)
    result = sim.run()
    assert result.finished == 300 and max(seen) > 10
    assert (sim.cluster.free == table.capacity).all() and not sim.cluster.running   # every chip given back


def test_bench_replay_prints_jobs_per_s_and_wall_s(capsys):
    assert main(["bench", "replay", "--trace", "synthetic", "--limit", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["jobs"] == out["finished"] == 200 and out["jobs_per_s"] > 0 and out["wall_s"] > 0


def test_metrics_json_is_identical_across_processes_with_different_hash_seeds(tmp_path):
    import os
    import subprocess
    import sys

    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        subprocess.run([sys.executable, "-m", "suanli.cli.main", "simulate", "--trace", "synthetic", "--limit", "300",
                        "--compare", "random", "--no-plots", "--quiet", "--out", str(out),
                        "--outage", "hub-horinger@20000:40000"],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        outs.append((out / "metrics.json").read_bytes())
    assert outs[0] == outs[1]


def test_the_compliance_report_of_a_run_by_hand(tmp_path):
    """One 4-GPU job of 1,000 s on the tiny federation's west hub (A100, PUE 1.2, no green power,
    its data in west) and one 2-GPU job of 1,000 s (A100 time) pinned to the east city site
    (H800, PUE 1.5) with its data in west: energy = TDP x chips x hours / 1000 x PUE."""
    from simbuild import job, tiny_federation

    from suanli.traces.base import Trace

    fed = tiny_federation()
    jobs = (job("a", 0, 1000, 4, data=("west", 0.0)),
            job("b", 0, 1000, 2, data=("west", 0.0), allowed_regions=("east",)))
    tr = Trace(name="hand", source="test", jobs=jobs)
    m = simulate_profiles(tr, fed, ["fifo-firstfit"], SimConfig()).document["profiles"]["fifo-firstfit"]
    c = m["compliance"]
    fig = {f["name"]: f for f in c["figures"]}
    a100, h800 = fed.sites[0].pools[0].accelerator, fed.sites[1].pools[0].accelerator
    b_run_s = c["pf16h_by_tier"]["city"] * 1000 * 3600 / (h800.fp16_tflops * 2)   # as metered ...
    assert b_run_s == pytest.approx(315.3, abs=0.05)   # ... = the golden run's 1000 A100-s on an H800
    e_hub = a100.tdp_w * 4 * 1000 / 3600 / 1000 * 1.2
    e_city = h800.tdp_w * 2 * b_run_s / 3600 / 1000 * 1.5
    assert fig["infrastructures_up"]["value"] == 2 and fig["infrastructures_up"]["ok"] is False
    assert fig["schedulable_pflops_fp16"]["value"] == pytest.approx((4 * 312.0 + 2 * 989.4) / 1000, abs=1e-6)
    assert fig["hub_pue"]["value"] == pytest.approx(1.2) and fig["hub_pue"]["ok"] is True
    assert fig["pue"]["value"] == pytest.approx((e_hub + e_city) / (e_hub / 1.2 + e_city / 1.5), abs=1e-6)
    assert fig["green_share"]["value"] == 0.0 and fig["green_share"]["ok"] is False
    assert fig["outside_home_share"]["value"] == pytest.approx(0.5)      # b ran in east, its home is west
    assert c["pf16h_by_tier"]["hub"] == pytest.approx(312.0 * 4 * 1000 / 3600 / 1000, abs=1e-6)
    assert c["energy_kwh"] == pytest.approx(e_hub + e_city, abs=1e-6)
    assert (c["passed"], c["judged"]) == (1, 4)


def test_report_html_shows_each_profiles_compliance(tmp_path):
    out = tmp_path / "rep"
    assert main(["simulate", "--trace", "synthetic", "--limit", "120", "--compare", "fifo-firstfit",
                 "--quiet", "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    page = (out / "report.html").read_text()
    assert "Compliance with the policy" in page
    for name in ("balanced", "fifo-firstfit"):
        figs = {f["name"]: f for f in doc["profiles"][name]["compliance"]["figures"]}
        assert figs["infrastructures_up"]["value"] == doc["federation"]["sites"]
        assert figs["schedulable_pflops_fp16"]["value"] == pytest.approx(doc["federation"]["pflops_fp16"], abs=1e-3)
    assert f"<td>{doc['federation']['sites']} pass</td>" in page     # 15 sites >= 4
