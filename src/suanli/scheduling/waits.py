"""Queue-wait estimates: when will a pool that is full now have room for a job?

Built once per cycle from the running jobs' predicted ends: per pool, the ends in time order and
the accelerators freed by then, padded into two matrices so that the wait of one job on many
pools is a few vector operations. A job that decides to wait for a pool *claims* it: its
accelerators are taken from what frees up by its expected start and come back at its expected
end, so later jobs queue behind it instead of all waiting for the same slots. Work placed during
the cycle is not in the matrices: its slots count as taken until after the last known end, which
makes estimates for pools the cycle has just filled pessimistic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanli.scheduling.types import FloatArray, IntArray, RunningJob


class WaitEstimator:
    def __init__(self, n_pools: int, running: Sequence[RunningJob], now: float) -> None:
        self.now = now
        self.events: list[list[tuple[float, int]]] = [[] for _ in range(n_pools)]
        for r in running:
            self.events[r.pool].append((max(r.expected_end, now), r.count))
        width = max((len(x) for x in self.events), default=0)
        self.empty = width == 0
        self.ends = np.full((n_pools, max(width, 1)), np.inf)
        self.freed = np.full((n_pools, max(width, 1)), -1, dtype=np.int64)
        for pool, items in enumerate(self.events):
            if items:
                items.sort()
                self._write_row(pool)

    def _write_row(self, pool: int) -> None:
        items = self.events[pool]
        if len(items) > self.ends.shape[1]:
            grow = max(len(items) - self.ends.shape[1], self.ends.shape[1])  # double: amortized O(1)
            self.ends = np.pad(self.ends, ((0, 0), (0, grow)), constant_values=np.inf)
            self.freed = np.pad(self.freed, ((0, 0), (0, grow)), constant_values=-1)
        n = len(items)
        self.ends[pool, :n] = [t for t, _ in items]
        cumulative = np.cumsum([d for _, d in items])
        # a claim makes the count dip; a job can start only once the count is enough and stays
        # enough, so each entry is the minimum of what is free from then on
        self.freed[pool, :n] = np.minimum.accumulate(cumulative[::-1])[::-1]
        self.ends[pool, n:] = np.inf
        self.freed[pool, n:] = -1

    def claim(self, pool: int, count: int, start: float, end: float) -> None:
        """A job waits for ``pool`` from ``start`` to ``end``: later jobs queue behind it."""
        items = self.events[pool]
        items.append((max(start, self.now), -count))
        items.append((max(end, self.now), count))
        items.sort()
        self._write_row(pool)
        self.empty = False

    def waits(self, pools: IntArray, need: IntArray) -> FloatArray:
        """Seconds until each pool in ``pools`` has freed ``need`` more accelerators (inf: never,
        as far as the running work tells)."""
        if self.empty or len(pools) == 0:
            return np.full(len(pools), np.inf)
        freed = self.freed[pools]
        enough = freed >= need[:, np.newaxis]
        k = enough.argmax(axis=1)
        rows = np.arange(len(pools))
        out: FloatArray = np.where(enough[rows, k], self.ends[pools, k] - self.now, np.inf)
        return out
