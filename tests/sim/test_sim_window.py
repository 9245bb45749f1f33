"""Reproductions of three simulator defects found against an independent strict-FIFO simulator
(issue 14, section 0), kept as tests: a start at t=0 is a start; jobs beyond the pending window
are not stranded; jobs that can never run are rejected at arrival and cannot starve the others;
a job no pool can take now (its only site down, a price cap) does not hold the window either."""

from __future__ import annotations

import csv
import gzip
import json
from importlib import resources

import pytest
from simbuild import job

from suanli.cli.main import main
from suanli.config.federation_file import load_federation, parse_federation
from suanli.scheduling import build_pool_table, load_profile
from suanli.sim.bounds import job_bounds
from suanli.sim.engine import Outage, SimConfig, Simulator
from suanli.sim.metrics import summarize
from suanli.sim.run import simulate_profiles
from suanli.sim.sinks import Collector, EventLog
from suanli.traces import TraceOptions, read_trace


def one_pool(nodes: int) -> str:
    return f"""
name: one-pool
regions: [{{name: east, carbon_g_per_kwh: 500}}]
sites:
  - {{name: only, region: east, price_per_pf16h: 10,
     pools: [{{name: a100, accelerator: A100, per_node: 8, nodes: {nodes}}}]}}
"""


def run(fed_text: str, jobs, config: SimConfig | None = None, profile: str = "fifo-firstfit"):
    table = build_pool_table(parse_federation(fed_text, "<test>"))
    col = Collector(table)
    sim = Simulator(table, jobs, load_profile(profile), config or SimConfig(), [col])
    result = sim.run()
    metrics = summarize(result, col, table, job_bounds(table, jobs), 0)
    return result, col, metrics


@pytest.mark.parametrize("profile", ["fifo-firstfit", "balanced"])
def test_a_job_started_at_zero_waited_zero(profile):
    # two 1-GPU jobs at t=0, 100 s each on the reference chip (A100), one pool of 8: both start at 0
    _, _, m = run(one_pool(1), [job("a", 0, 100, 1), job("b", 0, 100, 1)], profile=profile)
    assert m["wait_mean_s"] == 0.0
    assert m["jct_mean_s"] == 100.0


def test_openb_mean_wait_matches_the_placements_in_the_event_log():
    # The mean wait the metrics report, against one computed from the event log's placements
    # (first "place" of each job - its submit time), not from the collector under test.
    fed = load_federation("east-data-west-compute")
    tr = read_trace("openb", TraceOptions(limit=200, regions=tuple(fed.region_names())))
    logs: dict[str, EventLog] = {}

    def sinks(name: str):
        logs[name] = EventLog()
        return [logs[name]]

    doc = simulate_profiles(tr, fed, ["balanced"], SimConfig(), extra_sinks=sinks).document
    submit = {j.id: j.submit_time for j in tr.jobs}
    first: dict[str, float] = {}
    for ev in logs["balanced"].events:
        if ev.kind == "place":
            first.setdefault(ev.subject, ev.time)
    assert len(first) == len(tr.jobs) == doc["profiles"]["balanced"]["jobs"]
    truth = sum(first[j] - submit[j] for j in first) / len(first)
    assert doc["profiles"]["balanced"]["wait_mean_s"] == pytest.approx(truth, abs=0.05)
    assert truth < 3600   # not the ~17 h the t=0 defect reported


@pytest.mark.parametrize("config", [SimConfig(max_pending=64, per_tenant_pending=4), SimConfig()])
def test_jobs_beyond_the_window_start_when_chips_are_free(config):
    # 100 one-GPU jobs at t=0, 10,000 s each, one pool of 128: all start at 0.
    jobs = [job(f"j{i:03d}", 0, 10_000, 1) for i in range(100)]
    _, col, m = run(one_pool(16), jobs, config)
    assert {r.first_start for r in col.records} == {0.0}
    assert m["jct_mean_s"] == 10_000.0
    # 100 chips busy of 128 for the whole makespan of 10,000 s (all the same chip)
    assert m["utilization"] == pytest.approx(100 / 128, abs=1e-4)


def _openb_with_unrunnable_third(tmp_path, n: int = 300) -> tuple[str, int]:
    """The first ``n`` packaged openb pods, every third one allowing only a chip the federation
    lacks (T4, V100 or A10). Returns the path and how many were so constrained."""
    src = resources.files("suanli.data").joinpath("traces", "alibaba_openb_2023_pods_default.csv.gz")
    with gzip.open(str(src), "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    pods = [r for r in rows if r["num_gpus"] not in ("", "0") and r["duration_s"]][:n]
    lacking = ["T4", "V100M32", "A10"]
    for i, r in enumerate(pods):
        r["gpu_type"] = lacking[(i // 3) % 3] if i % 3 == 0 else ""
    path = tmp_path / "pods.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(pods)
    return str(path), len(range(0, n, 3))


def test_jobs_that_can_never_run_are_rejected_at_arrival_and_the_rest_all_run(tmp_path, capsys):
    trace, constrained = _openb_with_unrunnable_third(tmp_path)
    out = tmp_path / "out"
    code = main(["simulate", "--trace", "openb", "--trace-path", trace, "--federation", "east-data-west-compute",
                 "--compare", "fifo-firstfit", "--max-pending", "64", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "metrics.json").read_text())
    for name, m in doc["profiles"].items():
        assert m["jobs_rejected"] == constrained, name
        assert m["rejected_by"] == {"model": constrained}, name
        assert m["jobs"] == 300 - constrained and m["jobs_unfinished"] == 0, name
        assert len(m["warnings"]) == 1 and f"{constrained} of 300 jobs rejected" in m["warnings"][0]
        assert "model refuses" in m["warnings"][0] and "allow one of the chips" in m["warnings"][0]
        assert f"warning: {name}: {constrained} of 300 jobs rejected" in printed
    assert f"{constrained} of 300 jobs rejected" in (out / "report.html").read_text()


def two_regions() -> str:
    return """
name: two-regions
regions: [{name: east, carbon_g_per_kwh: 500}, {name: west, carbon_g_per_kwh: 100}]
sites:
  - {name: e, region: east, price_per_pf16h: 10, pools: [{name: a100, accelerator: A100, per_node: 8, nodes: 1}]}
  - {name: w, region: west, price_per_pf16h: 10, pools: [{name: a100, accelerator: A100, per_node: 8, nodes: 1}]}
"""


def test_jobs_whose_only_site_is_down_do_not_hold_the_window():
    # Site w is down 0..50,000 s. 10 west-only jobs at t=10, then 10 free ones at t=20; the window
    # holds 4 and fifo-firstfit stops behind a blocked head, so parked west jobs must stay out of it.
    west = [job(f"a-west{i}", 10, 1000, 1, allowed_regions=("west",)) for i in range(10)]
    free = [job(f"b-any{i}", 20, 1000, 1) for i in range(10)]
    config = SimConfig(max_pending=4, outages=(Outage("w", 0, 50_000),))
    result, col, _ = run(two_regions(), west + free, config)
    start = {r.id: r.first_start for r in col.records}
    assert result.finished == 20 and not result.rejected
    # cycles: t=0 (the site went down), then at most one per 300 s: at 300 the 8 chips of site e
    # take 8 free jobs, the other 2 when those end at 1,300
    assert sorted(start[j.id] for j in free) == [300.0] * 8 + [1300.0] * 2
    # the west jobs when their site is back: 8 at once, 2 when those end
    assert sorted(start[j.id] for j in west) == [50_000.0] * 8 + [51_000.0] * 2


def test_a_job_under_its_price_cap_nowhere_waits_and_is_reported(capsys):
    capped = [job(f"a-cheap{i}", 0, 100, 1, max_price=5) for i in range(5)]   # every pool costs 10
    free = [job(f"b-any{i}", 1, 100, 1) for i in range(5)]
    result, col, m = run(two_regions(), capped + free, SimConfig(max_pending=2))
    assert {r.id for r in col.records} == {j.id for j in free}
    assert result.unfinished == 5 and m["unfinished_jobs"] == sorted(j.id for j in capped)
    assert m["warnings"] == ["5 of 10 jobs never finished (still pending at the end: "
                             "a-cheap0, a-cheap1, a-cheap2, a-cheap3, a-cheap4)"]
