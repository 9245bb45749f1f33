"""The scheduling cycle: ``schedule(snapshot, profile, rng) -> CycleResult``. Pure.

0. Preempt running preemptible jobs whose tenant or queue has spent a budget (``limits.budget_stops``).
1. Order the pending jobs (the profile's queue sort).
2. For each job, compute its vectors over all pools and AND the profile's filters.
3. Score the feasible pools (weighted, normalized 0..100) and place the job on the best one;
   reserve it in the cycle's working state. A job runs in one pool, so gang jobs are
   all-or-nothing on one site by construction. A job larger than every pool is rejected.
4. A job that fits nowhere only for lack of free capacity:
   - may preempt preemptible lower-priority running jobs (fewest PF16-hours lost);
   - else, the first such job becomes the head with a reservation (EASY backfill): later jobs
     may use the reserved pool only if they end before the head's start or use slots the head
     will not need; without backfill the queue stops behind it (strict FIFO).
5. Every job left pending carries the count of pools each filter refused and a summary.
6. With ``migrate``, capacity still free after the queue may take over running work: a job that
   checkpoints moves to a free pool when that ends it ``migrate_min_gain_s`` sooner, counting
   the work since its last checkpoint that it must redo. The move is a preemption of the job by
   itself plus a placement of what is left; the longest remaining work moves first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from suanli.domain.jobs import Job
from suanli.domain.units import SECONDS_PER_HOUR
from suanli.metering.compute import intensity_of
from suanli.scheduling import limits
from suanli.scheduling.context import CycleState, JobVectors, job_vectors
from suanli.scheduling.filters import FILTERS, Filter, all_pools
from suanli.scheduling.profile import Profile
from suanli.scheduling.queue import QUEUE_SORTS
from suanli.scheduling.scores import SCORES, Combiner, Score
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import (
    BoolArray,
    CycleResult,
    IntArray,
    PendingReason,
    Placement,
    Preemption,
    Reservation,
    RunningJob,
    Snapshot,
)
from suanli.scheduling.waits import WaitEstimator

MIGRATE_MIN_SHARE = 0.25  # a move must also save this share of what is left: no moves for a few percent


def migration_sources(table: PoolTable, free: IntArray) -> BoolArray:
    """Pools whose work could move (step 6): some pool with room runs some kind of work at least
    1 / (1 - MIGRATE_MIN_SHARE) times faster."""
    room = free > 0
    out: BoolArray = np.where(room[None, :], table.max_speedup, 0.0).max(axis=1) >= 1.0 / (1.0 - MIGRATE_MIN_SHARE)
    return out


class _Cycle:
    """The working state of one cycle; lives only inside ``schedule``."""

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
        self._ends: list[list[tuple[float, int]]] | None = None   # built when first needed
        self._running_by_pool: list[list[RunningJob]] | None = None
        self.has_victims = np.zeros(self.table.n, dtype=bool)   # filled with running_by_pool
        self.preempted: set[str] = set()
        self.max_capacity = int(self.table.capacity.max()) if self.table.n else 0
        self.max_free = int(self.state.free.max()) if self.table.n else 0
        self.waits = WaitEstimator(self.table.n, snap.running, snap.now) if profile.wait_for_better else None
        victims = [r.job.priority for r in snap.running if r.job.preemptible]
        self.lowest_victim_priority = min(victims) if victims else None

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

    def could_preempt(self, job: Job) -> bool:
        low = self.lowest_victim_priority
        return self.profile.preemption and low is not None and job.priority > low

    # -- step 2 -------------------------------------------------------------------------------
    def feasible(self, v: JobVectors) -> BoolArray:
        """The AND of the profile's filters; each filter's own mask is kept on ``v`` for the
        steps that look at them one by one (``all_but_capacity``, ``leave_pending``) while
        the cycle's state is what it was here."""
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

    # -- step 3 -------------------------------------------------------------------------------
    def choose(self, v: JobVectors, mask: BoolArray, count: int) -> tuple[int, float, dict[str, float]]:
        select = self.profile.select
        if select == "random" and count > 1:
            return int(np.flatnonzero(mask)[int(self.rng.integers(count))]), 0.0, {}
        if select != "best" or count == 1 or not self.scores:
            return int(mask.argmax()), 100.0, {}  # the first feasible pool in declared order
        return self.combiner.best(v, self.state, None if count == self.table.n else mask)

    def place(self, v: JobVectors, pool: int, score: float, breakdown: dict[str, float],
              backfilled: bool = False) -> None:
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

    # -- step 4 -------------------------------------------------------------------------------
    def try_preempt(self, v: JobVectors, candidates: BoolArray) -> bool:
        """Free a pool among ``candidates`` by preempting preemptible lower-priority jobs, choosing
        the pool where the fewest PF16-hours since the victims' last checkpoints are lost."""
        job = v.job
        best: tuple[float, int, list[RunningJob]] | None = None
        by_pool = self.running_by_pool
        for pool in map(int, np.flatnonzero(candidates & self.has_victims)):
            victims = sorted(
                (r for r in by_pool[pool]
                 if r.job.preemptible and r.job.priority < job.priority and r.job.id not in self.preempted),
                key=lambda r: (self.lost_pf16h(r), r.job.id))
            free = int(self.state.free[pool])
            chosen: list[RunningJob] = []
            lost = 0.0
            for r in victims:
                if free >= job.gpus:
                    break
                chosen.append(r)
                free += r.count
                lost += self.lost_pf16h(r)
            if free >= job.gpus and chosen and (best is None or lost < best[0]):
                best = (lost, pool, chosen)
        if best is None:
            return False
        lost, pool, chosen = best
        for r in chosen:
            self.release(r)
            self.preemptions.append(Preemption(victim_id=r.job.id, pool=pool, count=r.count, by_job_id=job.id,
                                               lost_pf16h=self.lost_pf16h(r)))
        self.place(v, pool, 0.0, {"preempted": float(len(chosen))})
        return True

    def release(self, r: RunningJob) -> None:
        """Take running job ``r`` off its pool in this cycle's state (preempted, or moving)."""
        if self._ends is not None:
            self._ends[r.pool].remove((r.expected_end, r.count))
        self.preempted.add(r.job.id)
        self.state.give(r.pool, r.count)
        self.max_free = max(self.max_free, int(self.state.free[r.pool]))

    def lost_pf16h(self, r: RunningJob) -> float:
        since = max(r.start, r.last_checkpoint or r.start)
        seconds = max(0.0, self.snap.now - since)
        return float(self.table.fp16_tflops[r.pool]) * r.count * seconds / SECONDS_PER_HOUR / 1000.0

    def reserve(self, v: JobVectors, candidates: BoolArray) -> None:
        """The earliest pool and time at which the head job will fit, from predicted ends."""
        job = v.job
        best: tuple[float, int, int] | None = None
        for pool in map(int, np.flatnonzero(candidates)):
            if int(self.table.capacity[pool]) < job.gpus:
                continue
            free = int(self.state.free[pool])
            when = self.snap.now
            for end, count in sorted(self.ends[pool]):
                if free >= job.gpus:
                    break
                free += count
                when = max(end, self.snap.now)  # overdue work is expected to end any moment
            if free >= job.gpus and (best is None or when < best[0]):
                best = (when, pool, free - job.gpus)
        if best is not None:
            self.reservation = Reservation(job_id=job.id, pool=best[1], start=best[0])
            self.reserved_extra = best[2]

    def respects_reservation(self, v: JobVectors, mask: BoolArray, *, spare_ok: bool = True) -> BoolArray:
        """Backfill: drop the reserved pool unless the job ends before the head starts or (when
        ``spare_ok``) fits in the slots the head will not need."""
        res = self.reservation
        if res is None or not mask[res.pool]:
            return mask
        q = v.at(res.pool)
        ends_before = self.snap.now + q["staging_s"] + q["runtime_s"] <= res.start
        if ends_before or (spare_ok and v.job.gpus <= self.reserved_extra):
            return mask
        out = mask.copy()
        out[res.pool] = False
        return out

    # -- step 5 -------------------------------------------------------------------------------
    def leave_pending(self, v: JobVectors, summary: str | None = None) -> None:
        counts: Counter[str] = Counter()
        remaining = np.ones(self.table.n, dtype=bool)
        if self.snap.available is not None:
            down = ~self.snap.available
            counts["site down"] = int(down.sum())
            remaining &= self.snap.available
        first_reason: dict[str, int] = {}
        for f, m in zip(self.filters, self.masks_of(v), strict=True):
            refused = remaining & ~m
            n = int(refused.sum())
            if n:
                counts[f.name] += n
                first_reason.setdefault(f.name, int(np.flatnonzero(refused)[0]))
                remaining &= ~refused
        if summary is None:
            if counts:
                name, n = max(counts.items(), key=lambda kv: kv[1])
                example = first_reason.get(name)
                detail = f" (e.g. {self.table.label(example)}: {FILTERS.get(name).why(v, self.state, example)})" \
                    if example is not None else ""
                summary = f"no pool fits: {name} refused {n} of {self.table.n} pools{detail}"
            else:
                summary = "fits, but the reserved pool is held for an earlier blocked job (backfill)"
        self.pending[v.job.id] = PendingReason(job_id=v.job.id, summary=summary, rejected_by=dict(counts))

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> CycleResult:
        self.stop_over_budget()
        order = QUEUE_SORTS.get(self.profile.queue_sort)(self.snap.pending, self.snap.tenants)
        for job in order:
            self.consider(job)
        if self.profile.migrate and self.max_free > 0 and self.snap.running:
            self.migrate()
        return CycleResult(
            placements=tuple(self.placements), preemptions=tuple(self.preemptions), pending=self.pending,
            rejected=self.rejected, reservation=self.reservation, order=tuple(j.id for j in order),
        )

    # -- step 0 -------------------------------------------------------------------------------
    def stop_over_budget(self) -> None:
        stops = limits.budget_stops(self.snap)
        if not stops:
            return
        running = {r.job.id: r for r in self.snap.running}
        for pre in stops:
            r = running[pre.victim_id]
            self.release(r)
            limits.charge(self.state.accounts, r.job, -float(self.table.fp16_tflops[r.pool]) * r.count / 1000.0)
            self.preemptions.append(pre)

    # -- step 6 -------------------------------------------------------------------------------
    def migrate(self) -> None:
        now = self.snap.now
        t = self.table
        min_gain = self.profile.migrate_min_gain_s
        source = migration_sources(t, self.state.free).tolist()
        movable = [r for r in self.snap.running
                   if source[r.pool] and r.expected_end - now > min_gain and r.job.checkpoint_interval_s
                   and r.count <= self.max_free]
        movable.sort(key=lambda r: (now - r.expected_end, r.job.id))   # longest remaining first
        # per (intensity, accelerators): the fastest pool with room, and each pool's speed over its speed
        fastest: dict[tuple[float, int], tuple[int, list[float]]] = {}
        for r in movable:
            if r.count > self.max_free or r.job.id in self.preempted:
                continue
            remaining = r.expected_end - now
            intensity = intensity_of(r.job)
            hit = fastest.get((intensity, r.count))
            if hit is None:
                eff = t.effective_tflops(intensity)
                best = int(np.argmax(np.where(self.state.free >= r.count, eff, -1.0)))
                hit = fastest[(intensity, r.count)] = (best, (eff / eff[best]).tolist())
            best, ratios = hit
            # Quick estimates at the speed of the fastest pool with room; most jobs stop at the
            # first (what is left, as if there were no lost work and no staging), the rest at the
            # second (plus the work since the last checkpoint, after staging there).
            ratio = ratios[r.pool]
            need = max(min_gain, MIGRATE_MIN_SHARE * remaining)
            if remaining * (1.0 - ratio) < need:
                continue
            ran = max(0.0, now - r.start - t.staging_at(r.job, r.pool))
            lost = ran % float(r.job.checkpoint_interval_s or 1.0)
            if remaining - t.staging_at(r.job, best) - (remaining + lost) * ratio < need:
                continue
            if self.try_migrate(r, remaining):
                fastest.clear()   # the pool it moved to has less room now

    def try_migrate(self, r: RunningJob, remaining_s: float) -> bool:
        """Move ``r`` to the best pool with room that ends it at least ``migrate_min_gain_s`` (and
        MIGRATE_MIN_SHARE of what is left) sooner, after redoing the work since its last
        checkpoint. True if it moved."""
        job = r.job
        v = job_vectors(job, self.snap, self.state)
        here = v.at(r.pool)
        run_start = r.start + here["staging_s"]
        ran = max(0.0, self.snap.now - run_start)
        if r.last_checkpoint is not None:
            saved = max(0.0, r.last_checkpoint - run_start)
        else:
            interval = float(job.checkpoint_interval_s or 0.0)
            saved = (ran // interval) * interval
        saved = min(saved, ran, here["runtime_s"])
        left = 1.0 - saved / here["runtime_s"] if here["runtime_s"] > 0 else 1.0
        deadline = remaining_s - max(self.profile.migrate_min_gain_s, MIGRATE_MIN_SHARE * remaining_s)
        sooner = v.staging_s + left * v.runtime_s <= deadline
        sooner[r.pool] = False
        if left <= 0.0 or not sooner.any():
            return False
        rest = replace(job, duration_s=job.duration_s * left) if job.compute_pf16h is None \
            else replace(job, compute_pf16h=job.compute_pf16h * left)
        old_pflops = float(self.table.fp16_tflops[r.pool]) * r.count / 1000.0
        limits.charge(self.state.accounts, job, -old_pflops)
        v = job_vectors(rest, self.snap, self.state)
        mask = self.respects_reservation(v, self.feasible(v)) & sooner
        if not mask.any():
            limits.charge(self.state.accounts, job, old_pflops)
            return False
        pool, score, breakdown = self.combiner.best(v, self.state, mask) if self.scores \
            else (int(mask.argmax()), 100.0, {})
        self.release(r)
        lost = float(self.table.fp16_tflops[r.pool]) * r.count * (ran - saved) / SECONDS_PER_HOUR / 1000.0
        self.preemptions.append(Preemption(victim_id=job.id, pool=r.pool, count=r.count, by_job_id=job.id,
                                           lost_pf16h=lost))
        self.place(v, pool, score, {**breakdown, "migrated": 1.0})
        return True

    def consider_waiting(self, v: JobVectors, now_ok: BoolArray) -> bool:
        """Some pool fits now; should the job rather wait for a full pool that finishes it
        sooner? Returns True when the job was handled here: left waiting (and claiming) a better
        pool, or placed on the best pool free now; False to let the caller place it as usual.

        Bounded regret: a job waits for a pool only while the time it has already waited plus
        the pool's predicted wait plus its run there stays below its completion time on the
        best pool free now. So waiting never costs a job more than it can save, a job that
        waited in vain stops waiting, and no job starves behind a pool that never frees.
        Among the pools that pass, the profile's weighted score (completion with the wait,
        price, carbon...) decides. The check is one vector minimum, so jobs for which no full
        pool could be sooner (most short jobs) cost what they cost without waiting."""
        job = v.job
        completion = v.completion_s
        best_now_s = float(np.min(np.where(now_ok, completion, np.inf)))
        waited = max(0.0, self.snap.now - job.submit_time)
        sooner = completion + waited < best_now_s
        sooner &= ~now_ok
        if not sooner.any():
            return False
        sooner &= self.all_but_capacity(v) & (self.table.capacity >= job.gpus)
        if self.reservation is not None:
            sooner[self.reservation.pool] = False
        pools = np.flatnonzero(sooner)
        if len(pools) == 0 or self.waits is None:
            return False
        wait = self.waits.waits(pools, job.gpus - self.state.free[pools])
        keep = (wait <= self.profile.max_wait_s) & (waited + wait + completion[pools] < best_now_s)
        if job.deadline is not None:
            keep &= self.snap.now + wait + completion[pools] <= job.deadline
        pools, wait = pools[keep], wait[keep]
        if len(pools) == 0:
            return False
        v.wait = np.zeros(self.table.n)
        v.wait[pools] = wait
        candidates = now_ok.copy()
        candidates[pools] = True
        pool, score, breakdown = self.combiner.best(v, self.state, candidates)
        if now_ok[pool]:
            self.place(v, pool, score, breakdown, backfilled=self.reservation is not None)
            return True
        start = self.snap.now + float(v.wait[pool])
        q = v.at(pool)
        self.waits.claim(pool, job.gpus, start, start + q["staging_s"] + q["runtime_s"])
        if self.reservation is None and self.profile.backfill:
            only = np.zeros(self.table.n, dtype=bool)
            only[pool] = True
            self.reserve(v, only)
        self.pending[job.id] = PendingReason(
            job.id, f"waiting for {self.table.label(pool)}: expected to start in {start - self.snap.now:.0f} s "
                    f"and finish sooner than on any pool free now ({best_now_s:.0f} s)",
            {"waiting": 1})
        return True

    def consider(self, job: Job) -> None:
        if job.gpus > self.max_capacity:
            self.rejected[job.id] = (f"asks for {job.gpus} accelerators but the largest pool holds "
                                     f"{self.max_capacity}; ask for at most {self.max_capacity}")
            return
        if self.blocked_by is not None:
            self.pending[job.id] = PendingReason(job.id, f"waiting behind blocked job {self.blocked_by} (strict FIFO)")
            return
        if job.gpus > self.max_free and self.reservation is not None and not self.could_preempt(job):
            # The cheap "no": capacity (the first filter) refuses every pool. Explain has the detail.
            self.pending[job.id] = PendingReason(
                job.id, f"no pool fits: no pool has {job.gpus} free accelerators (the most free is {self.max_free})",
                {"capacity": self.table.n})
            return
        v = job_vectors(job, self.snap, self.state)
        mask = self.respects_reservation(v, self.feasible(v))
        feasible_count = int(np.count_nonzero(mask))
        if feasible_count and self.waits is not None and not self.waits.empty and self.scores \
                and self.profile.select == "best" and self.consider_waiting(v, mask):
            return
        if feasible_count:
            pool, score, breakdown = self.choose(v, mask, feasible_count)
            self.place(v, pool, score, breakdown, backfilled=self.reservation is not None)
            return
        others = self.all_but_capacity(v) & (self.table.capacity >= job.gpus)
        capacity_bound = bool(others.any())
        if capacity_bound and self.profile.preemption and \
                self.try_preempt(v, self.respects_reservation(v, others, spare_ok=False)):
            return
        if capacity_bound and self.reservation is None:
            if self.profile.backfill:
                self.reserve(v, others)
            else:
                self.blocked_by = job.id
        self.leave_pending(v)


def schedule(snapshot: Snapshot, profile: Profile, rng: np.random.Generator | None = None) -> CycleResult:
    """One scheduling cycle over ``snapshot`` with ``profile``. Same inputs and seed, same result."""
    if profile.placement == "milp":
        from suanli.scheduling.milp import schedule_milp

        return schedule_milp(snapshot, profile, rng or np.random.default_rng(0))
    return _Cycle(snapshot, profile, rng or np.random.default_rng(0)).run()
