"""Placement strategies are found by name in one registry, like filters and scores: a profile's
``placement`` must name a registered one (the error lists them), and the cycle's driver runs
whichever the profile names, with the same steps before (order) and after (reasons) it."""

import pytest

from suanli.domain.errors import ConfigError
from suanli.scheduling import build_pool_table, make_snapshot, schedule
from suanli.scheduling.profile import parse_profile
from suanli.scheduling.strategies import STRATEGIES
from tests.scheduling.builders import federation, job

TABLE = build_pool_table(federation())


def test_greedy_and_milp_are_registered_by_name():
    assert {"greedy", "milp"} <= set(STRATEGIES.names())


def test_an_unknown_placement_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError) as exc:
        parse_profile("name: p\nplacement: clever\n")
    assert exc.value.field == "placement"
    assert "greedy" in exc.value.fix and "milp" in exc.value.fix


def test_the_cycle_runs_the_strategy_the_profile_names():
    """A strategy registered by a test, which considers the queue from its end: of two 8-GPU jobs
    and one 8-GPU pool free (the other pool is full), the later job gets the pool and the
    earlier one stays pending with a reason; the queue order reported is still the queue sort's."""
    def last_first(cycle, order):
        for j in reversed(order):
            cycle.consider(j)

    STRATEGIES.add("test-last-first", last_first)
    try:
        profile = parse_profile("name: p\nqueue_sort: fifo\nplacement: test-last-first\n")
        free = {1: 0}  # east-a100 free, west-h100 full
        snap = make_snapshot(TABLE, 0.0, [job("early", gpus=8, submit_time=0), job("late", gpus=8, submit_time=5)],
                             free=free)
        result = schedule(snap, profile)
    finally:
        STRATEGIES.remove("test-last-first")
    assert [(p.job_id, p.site) for p in result.placements] == [("late", "east-a100")]
    assert set(result.pending) == {"early"}
    assert result.order == ("early", "late")
