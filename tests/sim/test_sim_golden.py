"""Golden runs on hand-written traces: the exact event sequence, outages and preemption."""

from __future__ import annotations

import pytest
from simbuild import job

from suanli.scheduling import build_pool_table, load_profile
from suanli.sim.engine import Outage, SimConfig, Simulator
from suanli.sim.sinks import Collector, EventLog


def run(fed, jobs, profile="fifo-firstfit", **config):
    table = build_pool_table(fed)
    log, col = EventLog(), Collector(table)
    sim = Simulator(table, jobs, load_profile(profile), SimConfig(cycle_interval_s=60, **config), [log, col])
    result = sim.run()
    return result, log, col, sim


def test_fifo_firstfit_event_sequence_is_golden(tiny):
    jobs = [job("j1", 0, 1000, 4, data=("east", 8.0)), job("j2", 10, 1000, 2, data=("east", 5.0)),
            job("j3", 20, 500, 4, data=("west", 100.0))]
    result, log, _, _ = run(tiny, jobs)
    assert log.lines() == [
        "0.0 arrive j1 gpus=4",
        "0.0 cycle #1 pending=1 placed=1",
        "0.0 place j1 west-hub/a100 x4",        # first fit in declared order
        "8.0 start j1 west-hub/a100",           # 8 GB over 8 Gbit/s + 20 ms RTT staged first
        "10.0 arrive j2 gpus=2",
        "20.0 arrive j3 gpus=4",
        "60.0 cycle #2 pending=2 placed=1",     # at most one cycle per 60 s
        "60.0 place j2 east-city/h800 x2",      # j3 then blocks: strict FIFO
        "60.0 start j2 east-city/h800",         # data already in east: no staging
        "375.3 finish j2 east-city/h800",       # 1000 s on A100 = 315.3 s on H800
        "1008.0 finish j1 west-hub/a100",
        "1008.0 cycle #3 pending=1 placed=1",
        "1008.0 place j3 west-hub/a100 x4",
        "1008.0 start j3 west-hub/a100",
        "1508.0 finish j3 west-hub/a100",
    ]
    assert result.finished == 3 and result.cycles_skipped == 1 and result.invalid_placements == 0


def test_outage_requeues_and_loses_work_since_last_checkpoint(tiny):
    jobs = [job("long", 0, 5000, 4, checkpoint_interval_s=1000)]
    result, log, col, _ = run(tiny, jobs, outages=(Outage("west-hub", 2600, 400),))
    lines = log.lines()
    assert "2600.0 fail long west-hub/a100 lost=600s" in lines
    assert "3000.0 place long west-hub/a100 x4" in lines
    (rec,) = col.records
    assert rec.end == pytest.approx(3000 + 3000)      # 2,000 s were saved, 3,000 s remain
    assert rec.failures == 1
    assert rec.lost_pf16h == pytest.approx(0.312 * 4 * 600 / 3600)
    assert rec.pf16h == pytest.approx(0.312 * 4 * (2600 + 3000) / 3600)


def test_outage_of_the_only_fitting_site_waits_for_it(tiny):
    jobs = [job("a", 0, 100, 4), job("b", 50, 100, 4)]
    _, log, col, _ = run(tiny, jobs, outages=(Outage("west-hub", 150, 1000),))
    ends = {r.id: r for r in col.records}
    assert ends["a"].end == pytest.approx(100.0)
    assert "120.0 place b west-hub/a100 x4" in log.lines()    # next cycle: 60 s after the one at 60
    assert "150.0 fail b west-hub/a100 lost=30s" in log.lines()
    assert ends["b"].end == pytest.approx(1150 + 100)  # no checkpoint yet: all 100 s again, once the site is back
    assert ends["b"].failures == 1


def test_preemption_requeues_the_victim_with_its_checkpointed_work(tiny):
    jobs = [job("low", 0, 10000, 4, preemptible=True, checkpoint_interval_s=1000),
            job("high", 1500, 1000, 4, priority=1)]
    result, log, col, _ = run(tiny, jobs, profile="balanced")
    lines = log.lines()
    assert "1500.0 preempt low west-hub/a100 lost=500s" in lines
    assert "1500.0 place high west-hub/a100 x4" in lines
    ends = {r.id: r for r in col.records}
    assert ends["high"].end == pytest.approx(2500.0)
    assert ends["low"].end == pytest.approx(2500.0 + 9000.0)
    assert ends["low"].preemptions == 1


def test_a_job_larger_than_every_pool_is_rejected(tiny):
    result, log, _, _ = run(tiny, [job("huge", 0, 100, 16)])
    assert list(result.rejected) == ["huge"]
    assert any(line.startswith("0.0 reject huge") for line in log.lines())


def test_hourly_price_series_prices_the_hours_a_job_ran(tiny, tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text("datetime_utc,price\n2021-01-01 00:00,10\n2021-01-01 01:00,30\n")
    jobs = [job("j", 0, 7200, 4)]     # two hours on the A100 pool: one at 10, one at 30
    _, _, col, _ = run(tiny, jobs, price_series={"west-hub": str(prices)})
    (rec,) = col.records
    assert rec.cost == pytest.approx(0.312 * 4 * 2 * 20.0)
