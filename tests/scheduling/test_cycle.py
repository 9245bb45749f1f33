"""The cycle's behaviours: order, gang and rejection, strict FIFO vs EASY backfill, preemption,
pending reasons, explain, determinism, and the MILP batch placement."""

import numpy as np
import pytest

from suanli.scheduling import (
    RunningJob,
    TenantState,
    build_pool_table,
    explain_job,
    load_profile,
    make_snapshot,
    schedule,
)
from suanli.scheduling.explain import explain_in_cycle
from suanli.scheduling.profile import parse_profile
from tests.scheduling.builders import federation, job

TABLE = build_pool_table(federation())
BALANCED = load_profile("balanced")
FIFO = load_profile("fifo-firstfit")


def run(jobs, profile=BALANCED, running=(), tenants=None, now=0.0, free=None):
    return schedule(make_snapshot(TABLE, now, jobs, running, tenants, free=free), profile, np.random.default_rng(0))


def where(result):
    return {p.job_id: p.site for p in result.placements}


def test_balanced_places_training_on_the_fast_clean_cheap_pool():
    result = run([job("a", gpus=8)])
    assert where(result) == {"a": "west-h100"}
    p = result.placements[0]
    assert p.runtime_s == pytest.approx(3600 * 312 / 989.4)
    assert set(p.breakdown) == {"completion", "price", "carbon", "packing", "locality"}


def test_fifo_firstfit_takes_the_first_declared_site():
    assert where(run([job("a", gpus=8)], FIFO)) == {"a": "east-a100"}


def test_a_job_larger_than_every_pool_is_rejected_with_the_reason():
    result = run([job("big", gpus=9), job("ok", gpus=1)])
    assert "big" in result.rejected and "largest pool holds 8" in result.rejected["big"]
    assert "ok" in where(result)


def test_gang_job_is_all_or_nothing_in_one_pool():
    result = run([job("a", gpus=6), job("b", gpus=6), job("gang", gpus=6, submit_time=5)])
    placed = where(result)
    assert set(placed) == {"a", "b"}
    assert "gang" in result.pending  # 2 + 2 free: never split across the pools


def test_queue_order_priority_then_fair_share_then_age():
    tenants = {"heavy": TenantState(usage_pf16h=100.0), "light": TenantState(usage_pf16h=1.0)}
    jobs = [job("old-heavy", tenant="heavy", submit_time=0), job("new-light", tenant="light", submit_time=10),
            job("urgent", tenant="heavy", priority=5, submit_time=20)]
    assert run(jobs, tenants=tenants).order == ("urgent", "new-light", "old-heavy")
    assert run(jobs, FIFO, tenants=tenants).order == ("old-heavy", "new-light", "urgent")


def test_strict_fifo_stops_behind_a_blocked_head():
    running = [RunningJob(job("r", gpus=8), pool=1, count=8, start=0, expected_end=1000)]
    jobs = [job("head", gpus=8, submit_time=1), job("small", gpus=1, submit_time=2)]
    result = run(jobs, FIFO, running=running, free={0: 4})
    assert where(result) == {}
    assert "waiting behind blocked job head" in result.pending["small"].summary


def test_easy_backfill_runs_short_work_without_delaying_the_head():
    # pool 0 (A100) has 4 free until t=1000; pool 1 (H100) is full until t=5000.
    running = [RunningJob(job("r0", gpus=4), pool=0, count=4, start=0, expected_end=1000),
               RunningJob(job("r1", gpus=8), pool=1, count=8, start=0, expected_end=5000)]
    jobs = [job("head", gpus=8, submit_time=1),
            job("short", gpus=4, duration_s=900, submit_time=2),      # ends at 900 < 1000: may backfill
            job("long", gpus=4, duration_s=90_000, submit_time=3)]    # would delay the head: must wait
    result = run(jobs, running=running)
    assert result.reservation is not None and result.reservation.job_id == "head"
    assert result.reservation.start == 1000 and result.reservation.pool == 0
    assert where(result) == {"short": "east-a100"}
    assert "long" in result.pending
    assert result.placements[0].backfilled


def test_preemption_frees_the_pool_losing_the_fewest_pf16_hours():
    victims = [
        # on A100 since t=0, checkpointed at 3000: loses 8 x 0.312 x 1000/3600 = 0.693 PF16-h
        RunningJob(job("cheap-victim", gpus=8, preemptible=True), pool=0, count=8, start=0, expected_end=9e9,
                   last_checkpoint=3000),
        # on H100 since t=3000: loses 8 x 0.9894 x 1000/3600 = 2.199 PF16-h
        RunningJob(job("dear-victim", gpus=8, preemptible=True), pool=1, count=8, start=3000, expected_end=9e9),
    ]
    result = run([job("vip", gpus=8, priority=10)], running=victims, now=4000)
    assert [p.victim_id for p in result.preemptions] == ["cheap-victim"]
    assert result.preemptions[0].lost_pf16h == pytest.approx(8 * 0.312 * 1000 / 3600)
    assert where(result) == {"vip": "east-a100"}


def test_no_preemption_of_equal_priority_or_non_preemptible_work():
    running = [RunningJob(job("x", gpus=8, preemptible=False), pool=0, count=8, start=0, expected_end=9e9),
               RunningJob(job("y", gpus=8, preemptible=True, priority=10), pool=1, count=8, start=0,
                          expected_end=9e9)]
    result = run([job("vip", gpus=8, priority=10)], running=running, now=10)
    assert result.preemptions == () and "vip" in result.pending


def test_pending_reasons_count_the_filters_and_explain_gives_numbers():
    result = run([job("picky", max_price=9, allowed_regions=("east",))])
    reason = result.pending["picky"]
    assert reason.rejected_by == {"region": 1, "price": 1}
    rows = explain_job(make_snapshot(TABLE, 0, []), job("picky", max_price=9, allowed_regions=("east",)), BALANCED)
    assert [(r.site, r.verdict) for r in rows] == [("east-a100", "price"), ("west-h100", "region")]
    assert "price 10.00/PF16-h > cap 9" in rows[0].reason


def test_explain_in_cycle_sees_what_earlier_jobs_took():
    snap = make_snapshot(TABLE, 0, [job("first", gpus=8), job("second", gpus=8, submit_time=1),
                                    job("third", gpus=8, submit_time=2)])
    ex = explain_in_cycle(snap, "third", BALANCED)
    assert ex.status == "pending"
    assert {r.verdict for r in ex.rows} == {"capacity"}
    assert "needs 8 free, has 0 of 8" in ex.rows[0].reason
    assert explain_in_cycle(snap, "first", BALANCED).placement.site == "west-h100"


def test_same_seed_same_result_and_random_profile_uses_the_seed():
    jobs = [job(f"j{i}", gpus=1, submit_time=i) for i in range(10)]
    rnd = load_profile("random")
    snap = make_snapshot(TABLE, 0, jobs)
    a = schedule(snap, rnd, np.random.default_rng(1))
    b = schedule(snap, rnd, np.random.default_rng(1))
    assert a.placements == b.placements
    c = [schedule(snap, rnd, np.random.default_rng(s)).placements for s in range(2, 8)]
    assert any(x != a.placements for x in c)


def test_quota_and_budget_keep_counting_within_a_cycle():
    tenants = {"t": TenantState(quota_pflops=1.5)}  # 4 x A100 = 1.248 PFLOPS fits; 2 more (0.624) do not
    jobs = [job("a", gpus=4, allowed_models=("A100",)), job("b", gpus=2, allowed_models=("A100",), submit_time=1)]
    result = run(jobs, tenants=tenants)
    assert where(result) == {"a": "east-a100"}
    assert result.pending["b"].rejected_by == {"model": 1, "quota": 1}


def test_milp_places_as_many_as_greedy_and_reports_a_lower_bound():
    jobs = [job(f"j{i}", gpus=g, submit_time=i) for i, g in enumerate([6, 4, 4, 2])]
    milp = schedule(make_snapshot(TABLE, 0, jobs), load_profile("batch-milp"))
    greedy = run(jobs)
    assert len(milp.placements) >= len(greedy.placements)
    assert len(milp.placements) == 4  # 6+2 | 4+4 fills both pools
    assert milp.lower_bound is not None
    used = {}
    for p in milp.placements:
        used[p.pool] = used.get(p.pool, 0) + p.count
    assert all(v <= 8 for v in used.values())


def test_profile_errors_list_valid_names():
    from suanli.domain.errors import ConfigError, UnknownName

    with pytest.raises(ConfigError, match="unknown filter"):
        parse_profile("name: x\nfilters: [capacity, vibes]")
    with pytest.raises(ConfigError, match="capacity filter is required"):
        parse_profile("name: x\nfilters: [price]")
    with pytest.raises(ConfigError, match="weight must be a number"):
        parse_profile("name: x\nscores: {price: -1}")
    with pytest.raises(UnknownName, match="balanced"):
        load_profile("nonexistent-profile")


def test_a_long_job_waits_for_a_much_faster_pool_and_a_short_one_does_not():
    # the H100 pool is full until t=600; the A100 pool is free. H100 runs training 3.17x faster.
    running = [RunningJob(job("r", gpus=8), pool=1, count=8, start=0, expected_end=600)]
    long_job = job("long", gpus=8, duration_s=36_000)    # A100: 10 h now; H100: 600 s wait + 3.2 h
    short_job = job("short", gpus=8, duration_s=300)     # A100: 5 min now beats waiting 10 min
    green = load_profile("green")
    waited = run([long_job], green, running=running)
    assert where(waited) == {}
    assert "waiting for west-h100/h100: expected to start in 600 s" in waited.pending["long"].summary
    assert waited.reservation is not None and waited.reservation.pool == 1
    assert where(run([short_job], green, running=running)) == {"short": "east-a100"}
    # balanced and a plain queue never wait, and no job waits longer than the profile allows
    assert where(run([long_job], running=running)) == {"long": "east-a100"}
    assert where(run([long_job], FIFO, running=running)) == {"long": "east-a100"}
    impatient = parse_profile("name: impatient\nwait_for_better: true\nmax_wait_s: 300\n"
                              "scores: {completion: 1}")
    assert where(run([long_job], impatient, running=running)) == {"long": "east-a100"}


def test_a_job_stops_waiting_once_waiting_would_cost_more_than_the_faster_pool_saves():
    # A100 now: 10 h. H100: 3.2 h once the running job ends, 600 s after ``now``. Waiting pays
    # while (waited so far + 600 s + 3.2 h) < 10 h, i.e. for about the first 6.5 h in the queue.
    green = load_profile("green")
    for waited_h, expected in ((1.0, {}), (6.0, {}), (7.0, {"long": "east-a100"}), (20.0, {"long": "east-a100"})):
        now = waited_h * 3600.0
        running = [RunningJob(job("r", gpus=8), pool=1, count=8, start=0, expected_end=now + 600)]
        long_job = job("long", gpus=8, duration_s=36_000, submit_time=0.0)
        result = run([long_job], green, running=running, now=now)
        assert where(result) == expected, waited_h
        if not expected:
            assert "finish sooner than on any pool free now (36000 s)" in result.pending["long"].summary


def test_a_checkpointing_job_moves_to_a_free_faster_pool_and_redoes_only_what_its_checkpoint_lost():
    # 10 h of A100 work started at t=0 on east-a100; at t=4000 the H100 pool is free. The last
    # checkpoint (every 1800 s) was at 3600: 10% is saved, 400 s are lost. What is left takes
    # 0.9 x 36000 / 3.171 = 10,217 s on the H100 instead of 32,000 s more on the A100.
    def running(**kw):
        long_job = job("long", gpus=8, duration_s=kw.pop("duration_s", 36_000), **kw)
        return [RunningJob(long_job, pool=0, count=8, start=0.0, expected_end=long_job.duration_s)]

    moved = run([], BALANCED, running=running(checkpoint_interval_s=1800.0), now=4000.0)
    assert [(p.victim_id, p.by_job_id, p.pool, p.count) for p in moved.preemptions] == [("long", "long", 0, 8)]
    assert moved.preemptions[0].lost_pf16h == pytest.approx(312 * 8 * 400 / 3600 / 1000)
    assert where(moved) == {"long": "west-h100"}
    assert moved.placements[0].predicted_end == pytest.approx(4000 + 0.9 * 36_000 * 312 / 989.4)
    assert moved.placements[0].breakdown["migrated"] == 1.0
    # no checkpoints: it would start over, so it stays; a plain queue never moves work
    assert run([], BALANCED, running=running(), now=4000.0).preemptions == ()
    assert run([], FIFO, running=running(checkpoint_interval_s=1800.0), now=4000.0).preemptions == ()
    # 1,000 s left on the A100 vs 441 s on the H100: a gain under 30 min is not worth a move
    short = run([], BALANCED, running=running(checkpoint_interval_s=1800.0, duration_s=5000), now=4000.0)
    assert short.preemptions == () and short.placements == ()


def test_queued_work_takes_free_capacity_before_running_work_moves_into_it():
    running = [RunningJob(job("long", gpus=8, duration_s=36_000, checkpoint_interval_s=1800.0), pool=0, count=8,
                          start=0.0, expected_end=36_000.0)]
    result = run([job("new", gpus=8, submit_time=3000.0)], BALANCED, running=running, now=4000.0)
    assert where(result) == {"new": "west-h100"} and result.preemptions == ()


def test_migration_settings_are_validated():
    from suanli.domain.errors import ConfigError

    with pytest.raises(ConfigError, match="must be true or false"):
        parse_profile("name: x\nmigrate: sometimes")
    with pytest.raises(ConfigError, match="migrate_min_gain_s"):
        parse_profile("name: x\nmigrate: true\nmigrate_min_gain_s: -5")
    assert parse_profile("name: x\nmigrate: true\nmigrate_min_gain_s: 600").migrate_min_gain_s == 600.0
    assert not parse_profile("name: x").migrate


def test_short_work_may_preempt_long_checkpointing_work_of_its_priority():
    longer = parse_profile("name: t\npreempt_longer_than: 10\n")
    # both pools full; pool 0 (A100) runs preemptible checkpointing work, pool 1 (H100) work that is not
    def running(left_s, checkpoints=1800.0):
        victim = job("long", gpus=8, preemptible=True, checkpoint_interval_s=checkpoints)
        return [RunningJob(victim, pool=0, count=8, start=0, expected_end=4000 + left_s, last_checkpoint=3600),
                RunningJob(job("fixed", gpus=8), pool=1, count=8, start=0, expected_end=9e9)]

    short = job("short", gpus=8, duration_s=3600)   # 3,600 s on the A100 of pool 0: 10x = 36,000 s
    # 40,000 s left + 400 s lost since the checkpoint > 36,000: preempted
    result = run([short], longer, running=running(40_000), now=4000, free={0: 0, 1: 0})
    assert [(p.victim_id, p.by_job_id) for p in result.preemptions] == [("long", "short")]
    assert where(result) == {"short": "east-a100"}
    # 35,000 + 400 < 36,000: not worth it
    assert run([short], longer, running=running(35_000), now=4000, free={0: 0, 1: 0}).preemptions == ()
    # work that does not checkpoint would lose everything: never
    assert run([short], longer, running=running(40_000, checkpoints=None), now=4000,
               free={0: 0, 1: 0}).preemptions == ()
    # without the setting, work of the same priority is never preempted
    assert run([short], parse_profile("name: t\n"), running=running(40_000), now=4000,
               free={0: 0, 1: 0}).preemptions == ()
