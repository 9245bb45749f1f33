"""The scheduling cycle: ``schedule(snapshot, profile, rng) -> CycleResult``. Pure.

``Cycle`` holds one cycle's working state; ``Cycle.run`` is its one driver, in the numbered
steps of the design (shared/DESIGN.md, README "The scheduling core"), after a step 0:

0. **Budget stops**: preempt running preemptible jobs whose tenant or queue has spent a budget
   (``limits.budget_stops``; ``preemption.stop_over_budget``).
1. **Order** the pending jobs (the profile's queue sort, ``queue.py``).
2. **Filter**: for each job, its vectors over all pools and the AND of the profile's filters
   (``filters.py``; ``Cycle.feasible``).
3. **Score** the feasible pools (weighted, normalized 0..100; ``scores.py``; ``Cycle.choose``).
4. **Place** the best and reserve it in the working state (``Cycle.place``). A job runs in one
   pool, so gang jobs are all-or-nothing on one site; a job no pool could ever run is rejected
   (``feasibility.never_runs``: too big, or no pool of an allowed chip, region...).
5. **Backfill, preempt, wait, move** for a job that fits nowhere now, or could do better:
   - preempt preemptible lower-priority running jobs (``preemption.py``);
   - else the first such job becomes the head with a reservation (EASY backfill,
     ``backfill.py``): later jobs use the reserved pool only if they end before the head's start
     or use slots it will not need; without backfill the queue stops behind it (strict FIFO);
   - with ``wait_for_better``, a job may wait for a full pool that finishes it sooner
     (``wait_for_better.py``);
   - with ``migrate``, after the queue, capacity still free may take over running work that
     checkpoints (``migration.py``).
6. **Return** placements, preemptions and, for every job left pending, the count of pools each
   filter refused and a summary (``reasons.py``).

Steps 2-5 run over the ordered queue by the profile's placement strategy, found by name in
``STRATEGIES`` (``strategies.py``): ``greedy`` considers one job after another
(``Cycle.consider``), ``milp`` places the head of the queue jointly first (``milp.py``).
"""

from __future__ import annotations

import numpy as np

from suanli.domain.jobs import Job
from suanli.scheduling import limits
from suanli.scheduling.backfill import reserve, respects_reservation
from suanli.scheduling.context import CycleState, JobVectors, job_vectors
from suanli.scheduling.feasibility import never_runs
from suanli.scheduling.filters import FILTERS, Filter, all_pools
from suanli.scheduling.migration import migrate
from suanli.scheduling.preemption import fastest_s, stop_over_budget, try_preempt
from suanli.scheduling.profile import Profile
from suanli.scheduling.queue import QUEUE_SORTS
from suanli.scheduling.reasons import leave_pending
from suanli.scheduling.scores import SCORES, Combiner, Score
from suanli.scheduling.strategies import STRATEGIES
from suanli.scheduling.types import (
    BoolArray,
    CycleResult,
    PendingReason,
    Placement,
    Preemption,
    Reservation,
    RunningJob,
    Snapshot,
)
from suanli.scheduling.wait_for_better import consider_waiting
from suanli.scheduling.waits import WaitEstimator


class Cycle:
    """The working state of one cycle and the steps that change it; made and run by ``schedule``.

    What the steps read and write: ``snap``/``table``/``profile`` (inputs), ``state`` (free
    accelerators, the tenants' and queues' accounts of quota and budget), ``placements``, ``preemptions``, ``pending`` and
    ``rejected`` (the decisions so far), ``reservation`` (the backfill head's pool and start)
    and ``blocked_by`` (the strict-FIFO head)."""

    def __init__(self, snap: Snapshot, profile: Profile, rng: np.random.Generator) -> None:
        self.snap = snap
        self.table = snap.table
        self.profile = profile
        self.rng = rng
        self.state = CycleState.from_snapshot(snap)
        self.filters: list[Filter] = [FILTERS.get(n) for n in profile.filters]
        self.filter_masks = [f.mask for f in self.filters]
        self.scores: list[tuple[Score, float]] = [(SCORES.get(n), w) for n, w in profile.scores]
        self.combiner = Combiner(self.scores)
        self.placements: list[Placement] = []
        self.preemptions: list[Preemption] = []
        self.pending: dict[str, PendingReason] = {}
        self.rejected: dict[str, str] = {}
        self.reservation: Reservation | None = None
        self.reserved_extra = 0  # slots of the reserved pool the head will not need at its start
        self.blocked_by: str | None = None  # strict FIFO: the job the queue waits behind
        self.lower_bound: float | None = None  # a strategy's bound on its objective (milp)
        self._ends: list[list[tuple[float, int]]] | None = None   # built when first needed
        self._running_by_pool: list[list[RunningJob]] | None = None
        self.has_victims = np.zeros(self.table.n, dtype=bool)   # filled with running_by_pool
        self.preempted: set[str] = set()
        self.max_capacity = int(self.table.capacity.max()) if self.table.n else 0
        self.max_free = int(self.state.free.max()) if self.table.n else 0
        self.waits = WaitEstimator(self.table.n, snap.running, snap.now) if profile.wait_for_better else None
        self._lowest_victim: tuple[int | None] | None = None   # computed when first asked
        self._longest_left: float | None = None                # computed when first asked
        self.fastest: dict[tuple[str, str, float], float] = {}  # preemption.fastest_s's cache

    # -- the driver ---------------------------------------------------------------------------
    def run(self) -> CycleResult:
        stop_over_budget(self)                                               # 0. budget stops
        order = QUEUE_SORTS.get(self.profile.queue_sort)(self.snap.pending, self.snap.tenants)   # 1. order
        STRATEGIES.get(self.profile.placement)(self, order)                 # 2.-5. each job, by the strategy
        if self.profile.migrate and self.max_free > 0 and self.snap.running:
            migrate(self)                                                    # 5. move running work
        return CycleResult(                                                  # 6. return
            placements=tuple(self.placements), preemptions=tuple(self.preemptions), pending=self.pending,
            rejected=self.rejected, reservation=self.reservation, order=tuple(j.id for j in order),
            lower_bound=self.lower_bound,
        )

    def consider(self, job: Job) -> None:
        """Steps 2-6 for one job, in queue order (the greedy strategy)."""
        if self.settled_without_vectors(job):
            return
        v = job_vectors(job, self.snap, self.state)
        mask = respects_reservation(self, v, self.feasible(v))              # 2. filter (and 5. backfill)
        feasible_count = int(np.count_nonzero(mask))
        if feasible_count and self.waits is not None and not self.waits.empty and self.scores \
                and self.profile.select == "best" and consider_waiting(self, v, mask):
            return                                                           # 5. wait for a better pool
        if feasible_count:
            pool, score, breakdown = self.choose(v, mask, feasible_count)   # 3. score
            self.place(v, pool, score, breakdown, backfilled=self.reservation is not None)   # 4. place
            return
        others = self.all_but_capacity(v) & (self.table.capacity >= job.gpus)
        capacity_bound = bool(others.any())
        if capacity_bound and self.profile.preemption and \
                try_preempt(self, v, respects_reservation(self, v, others, spare_ok=False)):
            return                                                           # 5. preempt
        if capacity_bound and self.reservation is None:
            if self.profile.backfill:
                reserve(self, v, others)                                    # 5. backfill head
            else:
                self.blocked_by = job.id                                     # 5. strict FIFO stops here
        leave_pending(self, v)                                               # 6. the reasons

    def settled_without_vectors(self, job: Job) -> bool:
        """The answers that need no per-pool work: no pool could ever run it (rejected), behind a
        strict-FIFO head, or more accelerators than any pool has free while a head holds a
        reservation and preemption cannot help (capacity refuses every pool; explain has the detail)."""
        refusal = never_runs(self.table, job, self.profile.filters)
        if refusal is not None:
            self.rejected[job.id] = refusal.message
            return True
        if self.blocked_by is not None:
            self.pending[job.id] = PendingReason(job.id, f"waiting behind blocked job {self.blocked_by} (strict FIFO)")
            return True
        if job.gpus > self.max_free and self.reservation is not None and not self.could_preempt(job):
            self.pending[job.id] = PendingReason(
                job.id, f"no pool fits: no pool has {job.gpus} free accelerators (the most free is {self.max_free})",
                {"capacity": self.table.n})
            return True
        return False

    # -- step 2: filter -----------------------------------------------------------------------
    def feasible(self, v: JobVectors) -> BoolArray:
        """The AND of the profile's filters; each filter's own mask is kept on ``v`` for the
        steps that look at them one by one (``all_but_capacity``, the reasons) while the cycle's
        state is what it was here."""
        ones = all_pools(self.table)
        mask: BoolArray | None = None
        state = self.state
        masks = [filter_mask(v, state) for filter_mask in self.filter_masks]
        v.filter_masks = masks
        for m in masks:
            if m is ones:
                continue
            mask = m if mask is None else mask & m
        return ones if mask is None else mask

    def masks_of(self, v: JobVectors) -> list[BoolArray]:
        """Each filter's mask for ``v``: those ``feasible`` kept, else computed now."""
        if v.filter_masks is not None:
            return v.filter_masks
        return [f.mask(v, self.state) for f in self.filters]

    def all_but_capacity(self, v: JobVectors) -> BoolArray:
        """Pools every filter but capacity accepts (and whose site is up)."""
        mask = np.ones(self.table.n, dtype=bool)
        for f, m in zip(self.filters, self.masks_of(v), strict=True):
            if f.name != "capacity":
                mask = mask & m
        if self.snap.available is not None:
            mask = mask & self.snap.available
        return mask

    # -- step 3: score ------------------------------------------------------------------------
    def choose(self, v: JobVectors, mask: BoolArray, count: int) -> tuple[int, float, dict[str, float]]:
        """The pool to place ``v`` on among ``mask`` (``count`` pools), its score and breakdown."""
        select = self.profile.select
        if select == "random" and count > 1:
            return int(np.flatnonzero(mask)[int(self.rng.integers(count))]), 0.0, {}
        if select != "best" or count == 1 or not self.scores:
            return int(mask.argmax()), 100.0, {}  # the first feasible pool in declared order
        return self.combiner.best(v, self.state, None if count == self.table.n else mask)

    # -- step 4: place (and its inverse) ------------------------------------------------------
    def place(self, v: JobVectors, pool: int, score: float, breakdown: dict[str, float],
              backfilled: bool = False) -> None:
        """Record the placement of ``v`` on ``pool`` now and take its share of the working state."""
        job = v.job
        t = self.table
        q = v.at(pool)
        self.state.take(pool, job.gpus)
        if self.state.free[pool] + job.gpus >= self.max_free:
            self.max_free = int(self.state.free.max())
        limits.charge(self.state.accounts, job, q["pflops"], q["cost"], q["pf16h"])
        start = self.snap.now
        end = start + q["staging_s"] + q["runtime_s"]
        res = self.reservation
        if res is not None and pool == res.pool and end > res.start:
            self.reserved_extra -= job.gpus  # it holds slots past the head's start: only the spare ones
        if self._ends is not None:
            self._ends[pool].append((end, job.gpus))
        self.placements.append(Placement(
            job_id=job.id, pool=pool, site=t.site_names[t.site_of[pool]], pool_name=t.pool_names[pool],
            count=job.gpus, start=start, predicted_end=end, runtime_s=q["runtime_s"], staging_s=q["staging_s"],
            cost=q["cost"], energy_kwh=q["energy_kwh"], carbon_kg=q["carbon_kg"], score=score,
            breakdown=breakdown, backfilled=backfilled,
        ))

    def release(self, r: RunningJob) -> None:
        """Take running job ``r`` off its pool in this cycle's state (preempted, or moving)."""
        if self._ends is not None:
            self._ends[r.pool].remove((r.expected_end, r.count))
        self.preempted.add(r.job.id)
        self.state.give(r.pool, r.count)
        self.max_free = max(self.max_free, int(self.state.free[r.pool]))

    # -- what step 5 reads --------------------------------------------------------------------
    @property
    def ends(self) -> list[list[tuple[float, int]]]:
        """Per pool, (predicted end, accelerators) of the work it holds: running jobs not preempted
        and what this cycle placed. Built on first use; most cycles never need it."""
        if self._ends is None:
            ends: list[list[tuple[float, int]]] = [[] for _ in range(self.table.n)]
            for r in self.snap.running:
                if r.job.id not in self.preempted:
                    ends[r.pool].append((r.expected_end, r.count))
            for p in self.placements:
                ends[p.pool].append((p.predicted_end, p.count))
            self._ends = ends
        return self._ends

    @property
    def running_by_pool(self) -> list[list[RunningJob]]:
        """Per pool, its running jobs (and in ``has_victims``, whether any is preemptible)."""
        if self._running_by_pool is None:
            by_pool: list[list[RunningJob]] = [[] for _ in range(self.table.n)]
            self.has_victims = np.zeros(self.table.n, dtype=bool)
            for r in self.snap.running:
                by_pool[r.pool].append(r)
                if r.job.preemptible:
                    self.has_victims[r.pool] = True
            self._running_by_pool = by_pool
        return self._running_by_pool

    @property
    def lowest_victim_priority(self) -> int | None:
        """The lowest priority among the preemptible running jobs (None if there is none).
        Computed on first use: a pass over every running job that most cycles never need."""
        if self._lowest_victim is None:
            victims = [r.job.priority for r in self.snap.running if r.job.preemptible]
            self._lowest_victim = (min(victims) if victims else None,)
        return self._lowest_victim[0]

    @property
    def longest_left(self) -> float:
        """The most time any preemptible checkpointing job has left (for ``preempt_longer_than``),
        computed on first use."""
        if self._longest_left is None:
            self._longest_left = max(
                (r.expected_end - max(r.start, r.last_checkpoint or r.start) for r in self.snap.running
                 if r.job.preemptible and r.job.checkpoint_interval_s), default=0.0)
        return self._longest_left

    def could_preempt(self, job: Job) -> bool:
        """Whether preemption is on and some running job is preemptible at a lower priority or,
        with ``preempt_longer_than``, at the same priority with that many times the job's time left."""
        if not self.profile.preemption:
            return False
        low = self.lowest_victim_priority
        if low is None:
            return False
        if job.priority > low:
            return True
        ratio = self.profile.preempt_longer_than
        return job.priority == low and ratio > 0 and self.longest_left > ratio * fastest_s(self, job)


def schedule(snapshot: Snapshot, profile: Profile, rng: np.random.Generator | None = None) -> CycleResult:
    """One scheduling cycle over ``snapshot`` with ``profile``. Same inputs and seed, same result."""
    return Cycle(snapshot, profile, rng or np.random.default_rng(0)).run()
