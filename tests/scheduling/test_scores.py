"""Each score prefers the pool a person would expect, and normalization is 0..100."""

import numpy as np
import pytest

from suanli.domain.jobs import DataInput, JobClass
from suanli.scheduling import build_pool_table, make_snapshot
from suanli.scheduling.context import CycleState, job_vectors
from suanli.scheduling.scores import SCORES, Combiner, normalize
from tests.scheduling.builders import federation, job

TABLE = build_pool_table(federation())  # pool 0: east A100 (dirty, pricier per PF16-h); pool 1: west H100


def scored(name, j, free=None):
    snap = make_snapshot(TABLE, 0, [j], free=free)
    state = CycleState.from_snapshot(snap)
    combiner = Combiner([(SCORES.get(name), 1.0)])
    pool, total, breakdown = combiner.best(job_vectors(j, snap, state), state, None)
    return pool, breakdown[name]


@pytest.mark.parametrize(("name", "kwargs", "free", "best"), [
    ("completion", {"job_class": JobClass.TRAIN}, None, 1),                      # H100 is 3.2x faster
    ("completion", {"data": (DataInput("east", 5000.0),)}, None, 0),             # 5 TB over 8 Gbit/s = 83 min
    ("price", {}, None, 1),                                                      # 8/PF16-h and fast
    ("carbon", {}, None, 1),                                                     # 150 g, 50% green, PUE 1.2
    ("packing", {"gpus": 2}, {1: 2}, 1),                                         # fills the H100 pool exactly
    ("locality", {"data": (DataInput("east", 10.0),)}, None, 0),
    ("locality", {"user_region": "west"}, None, 1),
])
def test_score_prefers(name, kwargs, free, best):
    pool, value = scored(name, job(**kwargs), free)
    assert pool == best
    assert value == pytest.approx(100.0)


def test_price_counts_egress():
    # 1 TB from east costs 500 in egress to reach west: the A100 at home is cheaper
    pool, _ = scored("price", job(data=(DataInput("east", 1000.0),)))
    assert pool == 0


def test_normalize_range_and_ties():
    assert list(normalize(np.array([2.0, 4.0, 3.0]))) == [100.0, 0.0, 50.0]
    assert list(normalize(np.array([5.0, 5.0]))) == [100.0, 100.0]
