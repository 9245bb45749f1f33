"""Which pools' work could migrate: the pools for which some pool with room runs some work at
least 1 / (1 - 0.25) times faster, checked against the pools x pools definition written out
here (for every pair, the larger of the FP16 and the memory-bandwidth ratio)."""

import numpy as np

from suanli.scheduling import build_pool_table
from suanli.scheduling.migration import migration_sources
from suanli.scheduling.seeded_inputs import synthetic_federation


def reference(fp16, bw, free):
    n = len(fp16)
    out = np.zeros(n, dtype=bool)
    for p in range(n):
        best = 0.0
        for q in range(n):
            if free[q] > 0:
                best = max(best, fp16[q] / fp16[p], bw[q] / bw[p])
        out[p] = best >= 1.0 / (1.0 - 0.25)
    return out


def test_migration_sources_match_the_pairwise_definition():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        table = build_pool_table(synthetic_federation(60, rng))
        free = rng.integers(-2, 3, table.n).clip(0)
        got = migration_sources(table, free)
        assert got.tolist() == reference(table.fp16_tflops.tolist(), table.bw_gbps.tolist(), free.tolist()).tolist()
        assert got.any() and not got.all()   # the draw exercises both answers


def test_no_pool_with_room_means_no_source():
    table = build_pool_table(synthetic_federation(20, np.random.default_rng(1)))
    assert not migration_sources(table, np.zeros(table.n, dtype=np.int64)).any()
