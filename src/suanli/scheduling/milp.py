"""Batch placement: one mixed-integer program over (job x pool) for the jobs at the head of the
queue, solved by HiGHS through ``scipy.optimize.milp``.

    maximize   sum_jp x_jp * (BIG + ORDER * (N - j) / N + score_jp)
                                                    score_jp = the profile's weighted score, 0..100;
                                                    ORDER favours jobs earlier in the queue
    subject to sum_p x_jp <= 1                      each job at most once
               sum_j gpus_j * x_jp <= free_p         no pool over-committed
               x_jp in {0, 1}, only for pools every filter accepts

BIG (1000) makes placing one more job worth more than any gain in quality, so the program
places as many jobs as the greedy cycle could, then the best mix. Its LP relaxation is solved
too and reported as ``CycleResult.lower_bound`` (of the minimized objective, the negated one
above). Jobs beyond ``profile.milp_max_jobs`` and jobs the program leaves out go through the
greedy cycle with the capacity left, so every pending job still gets its reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from suanli.domain.jobs import Job
from suanli.scheduling.context import job_vectors

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle

BIG = 1000.0
ORDER = 200.0


def place_milp(cycle: Cycle, order: Sequence[Job]) -> None:
    """The ``milp`` placement strategy: the program over the first ``milp_max_jobs`` jobs, then
    every job it left out through ``Cycle.consider``; sets ``cycle.lower_bound``."""
    from scipy.optimize import Bounds, LinearConstraint, milp  # imported only by profiles that use it
    from scipy.sparse import coo_matrix

    snapshot, profile = cycle.snap, cycle.profile
    window = [j for j in order[: profile.milp_max_jobs] if j.gpus <= cycle.max_capacity]
    vectors = [job_vectors(j, snapshot, cycle.state) for j in window]
    rows: list[int] = []
    cols: list[int] = []
    gains: list[float] = []
    counts: list[int] = []
    pools: list[int] = []
    for j, v in enumerate(vectors):
        idx = np.flatnonzero(cycle.feasible(v))
        if not len(idx):
            continue
        total = np.zeros(len(idx))
        for (score, _), w in zip(cycle.scores, cycle.combiner.weights, strict=True):
            total += w * cycle.combiner.normalized(score.raw(v, cycle.state))[idx]
        for k, p in enumerate(idx):
            rows.append(j)
            cols.append(len(gains))
            gains.append(BIG + ORDER * (len(window) - j) / len(window) + float(total[k]))
            counts.append(v.job.gpus)
            pools.append(int(p))
    lower_bound = None
    chosen: dict[int, tuple[int, float]] = {}
    if gains:
        n = len(gains)
        c = -np.asarray(gains)
        one_per_job = coo_matrix((np.ones(n), (rows, cols)), shape=(len(window), n))
        per_pool = coo_matrix((np.asarray(counts, dtype=float), (pools, cols)), shape=(snapshot.table.n, n))
        constraints = [LinearConstraint(one_per_job, -np.inf, 1.0),
                       LinearConstraint(per_pool, -np.inf, cycle.state.free.astype(float))]
        relaxed = milp(c, constraints=constraints, bounds=Bounds(0, 1), integrality=np.zeros(n))
        if relaxed.status == 0:
            lower_bound = float(relaxed.fun)
        solved = milp(c, constraints=constraints, bounds=Bounds(0, 1), integrality=np.ones(n),
                      options={"time_limit": 10.0})
        if solved.x is not None:
            for k in map(int, np.flatnonzero(solved.x > 0.5)):
                j = rows[k]
                chosen[j] = (pools[k], gains[k] - BIG - ORDER * (len(window) - j) / len(window))
    placed = set()
    for j, v in enumerate(vectors):
        if j in chosen:
            pool, gain = chosen[j]
            cycle.place(v, pool, gain, {"milp": gain})
            placed.add(v.job.id)
    for job in order:
        if job.id not in placed:
            cycle.consider(job)
    cycle.lower_bound = lower_bound
