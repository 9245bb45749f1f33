"""Quotas and budgets of tenants and of their queues in the pure core (``scheduling.limits``): the
quota and budget filters check both levels and say which limit refused, with the numbers; the
cycle charges both; a spent budget stops running preemptible work.

Pools (tests/scheduling/builders.py): 0 = east, 8 x A100 (312 dense FP16 TFLOPS, 10/PF16-h),
1 = west, 8 x H100 (989.4 TFLOPS, 8/PF16-h). 8 x A100 hold 8 x 0.312 = 2.496 PFLOPS and run
2.496 PF16-h in an hour; 8 x H100 hold 7.915 PFLOPS."""

import numpy as np

from suanli.scheduling import (
    QueueState,
    RunningJob,
    TenantState,
    build_pool_table,
    load_profile,
    make_snapshot,
)
from suanli.scheduling.context import CycleState, job_vectors
from suanli.scheduling.cycle import schedule
from suanli.scheduling.explain import explain_in_cycle
from suanli.scheduling.filters import FILTERS
from tests.scheduling.builders import federation, job

TABLE = build_pool_table(federation())
BALANCED = load_profile("balanced")


def verdicts(name, j, tenants):
    snap = make_snapshot(TABLE, 0.0, [j], tenants=tenants)
    state = CycleState.from_snapshot(snap)
    v = job_vectors(j, snap, state)
    f = FILTERS.get(name)
    m = f.mask(v, state)
    return [bool(x) for x in m], [f.why(v, state, p) for p in range(TABLE.n) if not m[p]]


def test_a_queue_quota_is_enforced_and_named() -> None:
    tenants = {"t": TenantState(queues={"urgent": QueueState(quota_pflops=3.0, in_use_pflops=1.0)})}
    got, why = verdicts("quota", job(gpus=8, queue="urgent"), tenants)
    assert got == [False, False]                    # 1.0 + 2.496 > 3 on A100; 1.0 + 7.915 > 3 on H100
    assert why[0] == "queue t/urgent holds 1.000 PFLOPS, +2.496 here > quota 3"
    assert verdicts("quota", job(gpus=8, queue="default"), tenants)[0] == [True, True]   # another queue: no limit


def test_the_tenant_quota_still_binds_a_queue_within_its_own() -> None:
    tenants = {"t": TenantState(quota_pflops=2.0, queues={"urgent": QueueState(quota_pflops=30.0)})}
    got, why = verdicts("quota", job(gpus=8, queue="urgent"), tenants)
    assert got == [False, False]
    assert why[0] == "tenant t holds 0.000 PFLOPS, +2.496 here > quota 2"


def test_a_queue_money_budget_is_enforced_and_named() -> None:
    # cost = price x PF16-h: A100 10 x 2.496 = 24.96; H100 8 x (8 x 0.9894 x 0.3153 h) = 19.97
    tenants = {"t": TenantState(queues={"q": QueueState(budget_left=22.0, budget=100.0, budget_per="month")})}
    got, why = verdicts("budget", job(gpus=8, duration_s=3600, queue="q"), tenants)
    assert got == [False, True]
    assert why == ["predicted cost 24.96 > budget left 22.00 of queue t/q (budget 100 per month)"]


def test_a_pf16h_budget_is_enforced_and_named() -> None:
    over = {"t": TenantState(pf16h_left=2.0, budget_pf16h=500.0, budget_per="month")}
    got, why = verdicts("budget", job(gpus=8, duration_s=3600), over)
    assert got == [False, False]                    # 2.496 PF16-h on A100 (and about the same on H100)
    assert why[0] == "predicted 2.4960 PF16-h > 2.0000 PF16-h left of tenant t (budget 500 PF16-h per month)"
    enough = {"t": TenantState(pf16h_left=3.0, budget_pf16h=500.0)}
    assert verdicts("budget", job(gpus=8, duration_s=3600), enough)[0] == [True, True]


def test_the_cycle_charges_the_queue_so_its_second_job_waits_and_explain_names_the_queue() -> None:
    # two 4 x A100 jobs in queue q (quota 2 PFLOPS): the first holds 1.248, the second would make 2.496
    jobs = [job("a", gpus=4, queue="q", allowed_models=("A100",)),
            job("b", gpus=4, queue="q", allowed_models=("A100",), submit_time=1.0)]
    tenants = {"t": TenantState(queues={"q": QueueState(quota_pflops=2.0)})}
    snap = make_snapshot(TABLE, 0.0, jobs, tenants=tenants)
    result = schedule(snap, BALANCED, np.random.default_rng(0))
    assert [p.job_id for p in result.placements] == ["a"]
    ex = explain_in_cycle(snap, "b", BALANCED, result=result)
    east = next(r for r in ex.rows if r.site == "east-a100")
    assert east.verdict == "quota"
    assert east.reason == "queue t/q holds 1.248 PFLOPS, +1.248 here > quota 2"


def test_a_spent_budget_stops_running_preemptible_work_only() -> None:
    running = [
        RunningJob(job("spot", gpus=4, preemptible=True, allowed_models=("A100",)), pool=0, count=4, start=0,
                   expected_end=9e9),
        RunningJob(job("steady", gpus=4, allowed_models=("A100",)), pool=0, count=4, start=0, expected_end=9e9),
        RunningJob(job("other", tenant="u", gpus=4, preemptible=True), pool=1, count=4, start=0, expected_end=9e9),
        RunningJob(job("queued", tenant="v", gpus=4, preemptible=True, queue="q"), pool=1, count=4, start=0,
                   expected_end=9e9),
    ]
    tenants = {"t": TenantState(budget_left=-1.5, budget=100.0),
               "u": TenantState(budget_left=50.0, budget=100.0),
               "v": TenantState(queues={"q": QueueState(pf16h_left=0.0, budget_pf16h=40.0, budget_per="day")})}
    # a pending job of tenant u needs the 4 A100 slots the stopped job gives back, in the same cycle
    pending = [job("next", tenant="u", gpus=4, allowed_models=("A100",))]
    snap = make_snapshot(TABLE, 3600.0, pending, running, tenants)
    result = schedule(snap, BALANCED, np.random.default_rng(0))
    stopped = {p.victim_id: p.reason for p in result.preemptions}
    assert stopped == {"spot": "budget spent: tenant t has -1.50 left of its budget 100",
                       "queued": "budget spent: queue v/q has 0.0000 PF16-h left of its budget 40 PF16-h per day"}
    assert [(p.job_id, p.pool) for p in result.placements] == [("next", 0)]
    # 4 x A100 for the hour since it started: 4 x 0.312 = 1.248 PF16-h lost (it never checkpointed)
    assert next(p.lost_pf16h for p in result.preemptions if p.victim_id == "spot") == 1.248
