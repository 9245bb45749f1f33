"""The packaged ``national`` scenario: its size (about 200 sites and 20,000 pools, >= 20,000
PFLOPS FP16, 1,000,000 jobs), drawn from a seed, and its bench entry point."""

import json
import math

import pytest

from suanli.cli.main import main
from suanli.config.federation_file import load_federation
from suanli.traces import TraceOptions
from suanli.traces.scenarios import SCENARIOS, arrival_rate_per_hour

NATIONAL = SCENARIOS.get("national")


@pytest.fixture(scope="module")
def fed():
    return NATIONAL.federation(load_federation(NATIONAL.base_federation), 0)


def test_national_is_the_size_the_issue_asks_for(fed):
    pools = [p for s in fed.sites for p in s.pools]
    assert len(fed.sites) == 200 and len(pools) == 20_000
    pflops = sum(p.capacity * p.accelerator.fp16_tflops for p in pools) / 1000.0
    assert pflops >= 20_000
    assert max(p.capacity for p in pools) >= 64   # the trace's 64-chip gang jobs have somewhere to run
    assert NATIONAL.jobs == 1_000_000


def test_the_same_seed_gives_the_same_federation_and_another_seed_another(fed):
    base = load_federation(NATIONAL.base_federation)
    assert NATIONAL.federation(base, 0) == fed
    assert NATIONAL.federation(base, 1) != fed


def test_the_arrival_rate_offers_the_scenario_load():
    """Jobs per hour x mean chip-seconds per job = load x chips x 3600, with the mean written out
    here from the MSR ITP fit (gpus, share, mu, sigma): E[gpus x duration] = sum share x gpus x
    exp(mu + sigma^2 / 2) (lognormal mean)."""
    fit = ((1, 0.8568, 8.952, 1.068), (2, 0.0183, 8.099, 1.101), (4, 0.0351, 9.081, 1.51),
           (8, 0.0803, 9.826, 1.519), (16, 0.0029, 10.068, 2.078), (32, 0.0053, 10.372, 1.755),
           (64, 0.0013, 9.924, 1.723))
    mean_chip_s = sum(share * gpus * math.exp(mu + sigma ** 2 / 2) for gpus, share, mu, sigma in fit)
    assert arrival_rate_per_hour(100_000, 0.7) == pytest.approx(0.7 * 100_000 * 3600 / mean_chip_s, rel=1e-9)


def test_the_trace_takes_limit_jobs_in_submit_order(fed):
    trace = NATIONAL.trace(fed, TraceOptions(limit=500, seed=0, regions=tuple(fed.region_names())))
    assert len(trace.jobs) == 500
    assert [j.submit_time for j in trace.jobs] == sorted(j.submit_time for j in trace.jobs)


def test_bench_replay_runs_a_scenario_and_reports_memory(capsys):
    assert main(["bench", "replay", "--trace", "synthetic", "--scenario", "national", "--limit", "300",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["jobs"] == 300 and out["pools"] == 20_000 and out["finished"] == 300
    assert 0 < out["peak_rss_gb"] < 6


def test_a_scenario_with_another_trace_is_refused(capsys):
    assert main(["bench", "replay", "--trace", "msr-itp", "--scenario", "national", "--json"]) == 2
    assert "--trace synthetic" in capsys.readouterr().err
