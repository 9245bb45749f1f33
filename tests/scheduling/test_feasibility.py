"""``never_runs``: the one home of "no pool of the federation could ever run this job", with the
filters that refused, the field to change and a fix; ``blocked_now``: no such pool is up and
within the job's price cap now; explain shows a permanent "no" before a passing one."""

import numpy as np
import pytest

from suanli.domain.errors import InvalidInput
from suanli.scheduling import build_pool_table, explain_job, load_profile, make_snapshot
from suanli.scheduling.feasibility import blocked_now, check_runs, never_runs
from tests.scheduling.builders import federation, job

TABLE = build_pool_table(federation())   # east-a100: 8 x A100 in east; west-h100: 8 x H100 in west
BALANCED = load_profile("balanced")


@pytest.mark.parametrize(("kw", "filters", "field", "fix"), [
    ({"gpus": 9}, ("capacity",), "gpus", "the largest pool holds 8: ask for at most 8 accelerators"),
    ({"allowed_models": ("T4",)}, ("model",), "allowed_models",
     "allow one of the chips the federation has: a100-sxm4-80gb, h100-sxm5-80gb"),
    ({"min_memory_gb": 100}, ("memory",), "min_memory_gb", "ask for at most 80 GB per chip"),
    ({"allowed_regions": ("west",), "allowed_models": ("A100",)}, ("model", "region"), "allowed_models",
     "allow one of the chips the federation has: h100-sxm5-80gb or allow a region with a pool that could run "
     "it: east"),
    ({"user_region": "east", "latency_slo_ms": 1, "allowed_regions": ("west",)}, ("region", "latency"),
     "allowed_regions", "allow a region with a pool that could run it: east or raise the latency SLO to at "
     "least 40 ms"),
])
def test_a_job_no_pool_could_ever_run_gets_the_filters_the_field_and_a_fix(kw, filters, field, fix):
    refusal = never_runs(TABLE, job("x", **kw))
    assert refusal is not None
    assert refusal.filters == filters and refusal.kind == "+".join(filters) and refusal.field == field
    assert refusal.reason.startswith("no pool of the federation can ever run it: ")
    assert fix in refusal.fix
    with pytest.raises(InvalidInput) as err:
        check_runs(TABLE, job("x", **kw))
    assert err.value.field == field


def test_a_job_some_pool_could_run_is_never_refused_even_when_full_or_over_its_price():
    for kw in ({"gpus": 8}, {"allowed_models": ("H100",), "allowed_regions": ("west",)}, {"max_price": 1.0},
               {"user_region": "east", "latency_slo_ms": 1}):
        assert never_runs(TABLE, job("x", **kw)) is None, kw


def test_a_profile_without_a_filter_does_not_refuse_for_it():
    assert never_runs(TABLE, job("x", allowed_models=("T4",)), ("capacity", "region")) is None


def test_blocked_now_when_every_pool_that_could_run_it_is_down_or_over_its_cap():
    east_down = np.array([False, True])
    assert blocked_now(TABLE, job("x", allowed_regions=("east",)), BALANCED.filters, east_down, None)
    assert not blocked_now(TABLE, job("x"), BALANCED.filters, east_down, None)
    # prices are 10 (east) and 8 (west): a cap of 9 passes west only
    assert not blocked_now(TABLE, job("x", max_price=9), BALANCED.filters, None, None)
    assert blocked_now(TABLE, job("x", max_price=9), BALANCED.filters, east_down[::-1].copy(), None)
    # the prices of the job's class (train here) decide; another class's do not
    assert blocked_now(TABLE, job("x", max_price=9), BALANCED.filters, None, {"train": np.array([10.0, 12.0])})
    assert not blocked_now(TABLE, job("x", max_price=9), BALANCED.filters, None,
                           {"train": np.array([10.0, 8.5]), "infer": np.array([10.0, 12.0])})


def test_explain_shows_the_region_of_a_full_pool_and_of_a_down_one():
    east_only = job("x", allowed_regions=("east",))
    full = make_snapshot(TABLE, 0, [], free={0: 8, 1: 0})
    rows = explain_job(full, east_only, BALANCED)
    assert [(r.site, r.verdict) for r in rows] == [("east-a100", "fits"), ("west-h100", "region")]
    down = make_snapshot(TABLE, 0, [], available=np.array([True, False]))
    assert [r.verdict for r in explain_job(down, east_only, BALANCED)] == ["fits", "region"]
    west_down = explain_job(down, job("y"), BALANCED)
    assert [r.verdict for r in west_down] == ["fits", "site down"]
