"""Each filter, table-driven: which of the two pools (east A100, west H100) it lets through."""

import numpy as np
import pytest

from suanli.scheduling import TenantState, build_pool_table, make_snapshot
from suanli.scheduling.context import CycleState, job_vectors
from suanli.scheduling.filters import FILTERS
from tests.scheduling.builders import federation, job

TABLE = build_pool_table(federation())


def mask(filter_name, j, *, free=None, tenants=None, now=0.0):
    snap = make_snapshot(TABLE, now, [j], tenants=tenants or {}, free=free)
    state = CycleState.from_snapshot(snap)
    v = job_vectors(j, snap, state)
    f = FILTERS.get(filter_name)
    m = f.mask(v, state)
    reasons = [f.why(v, state, p) for p in range(TABLE.n) if not m[p]]
    return [bool(x) for x in m], reasons


@pytest.mark.parametrize(("name", "kwargs", "extra", "expected", "reason_part"), [
    ("capacity", {"gpus": 8}, {}, [True, True], None),
    ("capacity", {"gpus": 4}, {"free": {0: 3}}, [False, True], "needs 4 free, has 3 of 8"),
    ("capacity", {"gpus": 9}, {}, [False, False], "needs 9, the pool holds only 8: it can never fit here"),
    ("model", {"allowed_models": ("H100",)}, {}, [False, True], "not in allowed"),
    ("model", {"allowed_models": ("a100-sxm4-80gb", "H100")}, {}, [True, True], None),
    ("memory", {"min_memory_gb": 80}, {}, [True, True], None),
    ("memory", {"min_memory_gb": 90}, {}, [False, False], "needs 90 GB per chip, has 80 GB"),
    ("region", {"allowed_regions": ("west",)}, {}, [False, True], "region east not in allowed"),
    ("latency", {"user_region": "east", "latency_slo_ms": 20}, {}, [True, False], "RTT 40.0 ms from east > SLO 20"),
    ("latency", {"user_region": "east", "latency_slo_ms": 50}, {}, [True, True], None),
    ("price", {"max_price": 9}, {}, [False, True], "price 10.00/PF16-h > cap 9"),
    ("quota", {"gpus": 8}, {"tenants": {"t": TenantState(quota_pflops=3.0, in_use_pflops=0.0)}},
     [True, False], "> quota 3"),   # 8 x A100 = 2.496 PFLOPS fits; 8 x H100 = 7.9 does not
    # cost = price x PF16 x hours: A100 10 x (8 x 0.312) x 1 h = 24.96; H100 8 x (8 x 0.9894) x 0.3153 h = 19.97
    ("budget", {"gpus": 8, "duration_s": 3600}, {"tenants": {"t": TenantState(budget_left=22.0)}},
     [False, True], "predicted cost 24.96 > budget left 22.00"),
    ("deadline", {"duration_s": 3600, "deadline": 2000.0}, {}, [False, True], "after the deadline"),
    ("deadline", {"duration_s": 3600, "deadline": 500.0}, {}, [True, True], None),  # nowhere in time: run late
])
def test_filter(name, kwargs, extra, expected, reason_part):
    got, reasons = mask(name, job(**kwargs), **extra)
    assert got == expected
    if reason_part:
        assert any(reason_part in r for r in reasons), reasons
    else:
        assert reasons == []


def test_site_down_leaves_no_capacity():
    snap = make_snapshot(TABLE, 0, [], available=np.array([False, True]))
    assert list(snap.free) == [0, 8]
