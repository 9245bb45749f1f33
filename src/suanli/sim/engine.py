"""The discrete-event simulator: a clock, a cluster and sinks around the pure ``schedule()``.

The loop, in steps:
1. Pop the next event by (time, sequence) and move the clock to it.
2. Apply it to the cluster: an arrival that no pool of the federation could ever run is
   rejected with the reason (``scheduling.feasibility.never_runs``), any other joins the pending
   queue (parked when no pool can take it now, see ``pending.py``); a finish frees its chips; a site
   outage fails the site's running jobs (requeued with the work since their last checkpoint
   lost) and takes its pools out of the snapshot until the site comes back.
3. Anything that changed what could be scheduled asks for a cycle, which runs at most once per
   ``cycle_interval_s``. A cycle builds a snapshot (the pool table is built once per run; the
   pending list is a window of the oldest jobs, by default as large as the live loop's, see
   ``pending.py``), calls ``schedule()``, and applies its
   decisions in sorted order: preemptions (victim id), rejections (job id), placements (job id).
   A cycle that cannot change anything (no pool has room for the smallest waiting job, no
   waiting job may preempt, none is too big to ever fit) is skipped: it would place nothing.
   A cycle that placed (or rejected) its whole window while more jobs wait asks for another
   cycle at once: the jobs beyond the window must not wait for an unrelated event.
   As in the live loop, a cycle runs only for waiting work; with a profile that migrates, the
   capacity it leaves may take over running work. A preemption of a job by itself is such a
   migration: the job is requeued with the work since its last checkpoint lost, and the same
   cycle places it again.
4. A placement holds its chips from now, stages the job's data over the region link, then runs;
   ``START`` and ``FINISH`` events carry the placement's attempt number so that events of an
   interrupted attempt are ignored.
Fair share: a placement charges its tenant the PF16-hours it will use, decayed with a half-life
of ``fairshare_half_life_s``; an interruption refunds what did not run. Everything random (the
``random`` profile) draws from one numpy Generator seeded by the config.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from suanli.domain.errors import InvalidInput, UnknownName
from suanli.domain.jobs import Job
from suanli.scheduling import Profile, TenantState, schedule
from suanli.scheduling.feasibility import blocked_now, never_runs
from suanli.scheduling.queue import PENDING_WINDOW
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import CycleResult, RunningJob, Snapshot
from suanli.sim.cluster import JobRun, SimCluster
from suanli.sim.events import EventQueue, Kind, SimClock, SimEvent
from suanli.sim.pending import PendingQueue
from suanli.sim.series import HourlySeries, load_series
from suanli.sim.sinks import Sink

ScheduleFn = Callable[[Snapshot, Profile, np.random.Generator], CycleResult]


@dataclass(frozen=True, slots=True)
class Outage:
    """Site ``site`` goes down at ``start_s`` for ``duration_s`` seconds."""

    site: str
    start_s: float
    duration_s: float


@dataclass(frozen=True)
class SimConfig:
    seed: int = 0
    cycle_interval_s: float = 300.0
    max_pending: int = PENDING_WINDOW        # what the live loop's cycle sees
    per_tenant_pending: int = 0              # each tenant's oldest, on top (the live loop takes none)
    checkpoint_interval_s: float = 1800.0   # for jobs that do not give their own
    fairshare_half_life_s: float = 86400.0
    outages: tuple[Outage, ...] = ()
    series_start_hour: int = 0               # hour of the hourly series at simulation time 0
    price_series: Mapping[str, str] = field(default_factory=dict)  # site -> series name or CSV path

    def validate(self) -> SimConfig:
        for name, value in (("cycle_interval_s", self.cycle_interval_s), ("max_pending", self.max_pending)):
            if value <= 0:
                raise InvalidInput("must be positive", field=name, value=value, fix="give a positive number")
        for o in self.outages:
            if o.start_s < 0 or o.duration_s <= 0:
                raise InvalidInput("an outage needs start >= 0 and duration > 0", field="outage",
                                   value=(o.site, o.start_s, o.duration_s), fix="write SITE@START:DURATION")
        return self


@dataclass(frozen=True)
class SimResult:
    """What a run leaves behind; the sinks hold the detail."""

    profile: str
    jobs: int
    finished: int
    rejected: Mapping[str, str]
    rejected_kinds: Mapping[str, int]   # the filters behind the rejections -> jobs
    unfinished: int
    unfinished_ids: tuple[str, ...]
    cycles: int
    cycles_skipped: int
    invalid_placements: int
    end_time: float


class Simulator:
    def __init__(self, table: PoolTable, jobs: Iterable[Job], profile: Profile, config: SimConfig | None = None,
                 sinks: Iterable[Sink] = (), schedule_fn: ScheduleFn = schedule) -> None:
        self.table = table
        self.profile = profile
        self.config = (config or SimConfig()).validate()
        self.sinks = tuple(sinks)
        self.schedule_fn = schedule_fn
        self.rng = np.random.default_rng(self.config.seed)
        fed = table.federation
        site_index = {s.name: i for i, s in enumerate(fed.sites)}
        carbon: dict[int, HourlySeries] = {}
        for i, s in enumerate(fed.sites):
            if s.carbon_series:
                carbon[i] = load_series(s.carbon_series, self.config.series_start_hour)
        price: dict[int, HourlySeries] = {}
        for name, series in sorted(self.config.price_series.items()):
            if name not in site_index:
                raise UnknownName("site", name, list(site_index), field="price_series")
            price[site_index[name]] = load_series(series, self.config.series_start_hour)
        for o in self.config.outages:
            if o.site not in site_index:
                raise UnknownName("site", o.site, list(site_index), field="outage")
        self.site_index = site_index
        self.cluster = SimCluster(table, carbon, price)
        self.clock = SimClock()
        self._static_key = self._parking_key()   # what decided which jobs are parked
        self.queue = EventQueue()
        self.pending = PendingQueue()
        self.runs: dict[str, JobRun] = {}
        for job in jobs:
            if job.id in self.runs:
                raise InvalidInput("duplicate job id", field="id", value=job.id, fix="give each job a unique id")
            self.runs[job.id] = JobRun(job)
        self.rejected: dict[str, str] = {}
        self.rejected_kinds: Counter[str] = Counter()
        self.finished = 0
        self.cycles = 0
        self.cycles_skipped = 0
        self.invalid = 0
        self._cycle_queued = False
        self._last_cycle = -float("inf")
        self._usage: dict[str, tuple[float, float]] = {}   # tenant -> (decayed PF16-h, as of time)
        self._in_use: dict[str, float] = {}                # tenant -> PFLOPS held
        self._preemptible_prios: Counter[int] = Counter()  # priorities of running preemptible jobs
        self._weights = {t.name: t.weight for t in fed.tenants}
        self._largest_pool = int(table.capacity.max()) if table.n else 0
        self._log = any(getattr(s, "wants_events", False) for s in self.sinks)

    # -- output -------------------------------------------------------------------------------
    def _emit(self, kind: str, subject: str, detail: str = "") -> None:
        if self._log:
            ev = SimEvent(self.clock.now, kind, subject, detail)
            for s in self.sinks:
                s.on_event(ev)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        self.queue.extend_sorted([(r.job.submit_time, Kind.ARRIVE, r.job.id)
                                  for r in sorted(self.runs.values(), key=lambda r: (r.job.submit_time, r.job.id))])
        for o in sorted(self.config.outages, key=lambda o: (o.start_s, o.site)):
            self.queue.push(o.start_s, Kind.SITE_DOWN, o.site)
            self.queue.push(o.start_s + o.duration_s, Kind.SITE_UP, o.site)
        total = max(1, len(self.runs))
        step = max(1, total // 200)
        next_report = step
        by_kind = {Kind.ARRIVE: self._arrive, Kind.CYCLE: self._cycle, Kind.START: self._start,
                   Kind.FINISH: self._finish, Kind.SITE_DOWN: self._site_down, Kind.SITE_UP: self._site_up}
        handlers = [by_kind[k] for k in sorted(by_kind)]   # indexed by the kind's int value
        while len(self.queue):
            time, _, kind, subject, attempt = self.queue.pop()
            self.clock.advance(time)
            handlers[kind](subject, attempt)
            if progress is not None and self.finished + len(self.rejected) >= next_report:
                progress((self.finished + len(self.rejected)) / total)
                next_report += step
        if progress is not None:
            progress(1.0)
        for s in self.sinks:
            s.on_end(self.clock.now)
        return SimResult(profile=self.profile.name, jobs=len(self.runs), finished=self.finished,
                         rejected=dict(sorted(self.rejected.items())),
                         rejected_kinds=dict(sorted(self.rejected_kinds.items())), unfinished=len(self.pending),
                         unfinished_ids=tuple(sorted(self.pending.ids())),
                         cycles=self.cycles, cycles_skipped=self.cycles_skipped,
                         invalid_placements=self.invalid, end_time=self.clock.now)

    def _want_cycle(self) -> None:
        if not self._cycle_queued:
            self._cycle_queued = True
            self.queue.push(max(self.clock.now, self._last_cycle + self.config.cycle_interval_s), Kind.CYCLE)

    # -- handlers -----------------------------------------------------------------------------
    def _arrive(self, job_id: str, _: int) -> None:
        run = self.runs[job_id]
        if self._log:
            self._emit("arrive", job_id, f"gpus={run.job.gpus}")
        for s in self.sinks:
            s.on_arrive(self.clock.now, run)
        refusal = never_runs(self.table, run.job, self.profile.filters)
        if refusal is not None:
            self._reject(run, refusal.message, refusal.kind)
            return
        self.pending.add(run.job, parked=self._blocked(run.job))
        self._want_cycle()

    def _reject(self, run: JobRun, reason: str, kind: str) -> None:
        run.done = True
        self.rejected[run.job.id] = reason
        self.rejected_kinds[kind] += 1
        self._emit("reject", run.job.id, reason)
        for s in self.sinks:
            s.on_reject(self.clock.now, run, reason)

    def _blocked(self, job: Job) -> bool:
        """No pool that could run ``job`` is up and within its price cap now (it is parked)."""
        if not self.cluster.down and job.max_price is None:
            return False   # the fast path: it passed never_runs, so some pool could take it
        return blocked_now(self.table, job, self.profile.filters, self.cluster.available(),
                           self.cluster.prices_now(self.clock.now))

    def _parking_key(self) -> tuple[frozenset[int], int | None]:
        """What decides which jobs are parked: the sites down, and the price hour (with price series)."""
        return frozenset(self.cluster.down), int(self.clock.now // 3600) if self.cluster.price_series else None

    def _restatus(self) -> None:
        """Re-check which jobs are parked when what decides it changed."""
        key = self._parking_key()
        if key != self._static_key:
            self.pending.restatus(self._blocked)
            self._static_key = key

    def _start(self, job_id: str, attempt: int) -> None:
        run = self.runs[job_id]
        if run.attempt == attempt and run.pool >= 0 and not run.done:
            self._emit("start", job_id, self.table.label(run.pool))

    def _finish(self, job_id: str, attempt: int) -> None:
        run = self.runs[job_id]
        if run.attempt != attempt or run.pool < 0 or run.done:
            return  # an interrupted attempt
        pool = run.pool
        self._release(run)
        seg = self.cluster.release(run, self.clock.now)
        run.done = True
        run.pool = -1
        self.finished += 1
        if self._log:
            self._emit("finish", job_id, self.table.label(pool))
        for s in self.sinks:
            s.on_segment(seg)
            s.on_finish(self.clock.now, run, pool)
        self._want_cycle()

    def _site_down(self, site: str, _: int) -> None:
        index = self.site_index[site]
        self.cluster.down.add(index)
        self._emit("site-down", site)
        pools = set(map(int, self.cluster.pools_of_site[index]))
        victims = sorted(jid for jid, r in self.cluster.running.items() if r.pool in pools)
        for jid in victims:
            self._interrupt(self.runs[jid], "fail")
        self._want_cycle()

    def _site_up(self, site: str, _: int) -> None:
        self.cluster.down.discard(self.site_index[site])
        self._emit("site-up", site)
        self._want_cycle()

    # -- bookkeeping --------------------------------------------------------------------------
    def _usage_at(self, tenant: str) -> float:
        value, since = self._usage.get(tenant, (0.0, self.clock.now))
        return float(value * 0.5 ** ((self.clock.now - since) / self.config.fairshare_half_life_s))

    def _charge(self, tenant: str, pf16h: float) -> None:
        self._usage[tenant] = (self._usage_at(tenant) + pf16h, self.clock.now)

    def _hold(self, run: JobRun, pool: int) -> None:
        self.cluster.hold(run, pool, self.clock.now)
        job = run.job
        pflops = float(self.table.fp16_tflops[pool]) * job.gpus / 1000.0
        self._in_use[job.tenant] = self._in_use.get(job.tenant, 0.0) + pflops
        self._charge(job.tenant, pflops * run.runtime_s / 3600.0)
        if job.preemptible:
            self._preemptible_prios[job.priority] += 1

    def _release(self, run: JobRun) -> None:
        job = run.job
        self._in_use[job.tenant] -= float(self.table.fp16_tflops[run.pool]) * job.gpus / 1000.0
        if job.preemptible:
            self._preemptible_prios[job.priority] -= 1
            if not self._preemptible_prios[job.priority]:
                del self._preemptible_prios[job.priority]

    def _interrupt(self, run: JobRun, why: str) -> None:
        pool = run.pool
        self._release(run)
        unrun = max(0.0, run.end - self.clock.now)
        self._charge(run.job.tenant, -float(self.table.fp16_tflops[pool]) * run.job.gpus * unrun / 3.6e6)
        seg, lost = self.cluster.interrupt(run, self.clock.now, self.config.checkpoint_interval_s)
        if why == "preempt":
            run.preemptions += 1
        elif why == "fail":
            run.failures += 1
        run.pool = -1
        self.pending.add(run.job, requeued=True, parked=self._blocked(run.job))
        if self._log:
            self._emit(why, run.job.id, f"{self.table.label(pool)} lost={lost:.0f}s")
        for s in self.sinks:
            s.on_segment(seg)
            s.on_interrupt(self.clock.now, run, why, lost)

    # -- the cycle ----------------------------------------------------------------------------
    def _cycle(self, _: str, __: int) -> None:
        self._cycle_queued = False
        self._last_cycle = self.clock.now
        if not len(self.pending):
            return
        self._restatus()
        window = self.pending.window(self.config.max_pending, self.config.per_tenant_pending)
        if not window or self._cannot_place(window):
            self.cycles_skipped += 1
            for s in self.sinks:
                s.on_cycle(self.clock.now, len(self.pending), self.cluster.free)
            self._wake_parked()
            return
        self.cycles += 1
        now = self.clock.now
        tenants = {t: TenantState(usage_pf16h=self._usage_at(t), in_use_pflops=self._in_use.get(t, 0.0),
                                  weight=self._weights.get(t, 1.0))
                   for t in sorted({j.tenant for j in window})}
        available = self.cluster.available()
        free = self.cluster.free.copy()
        if available is not None:
            free[~available] = 0
        # What make_snapshot builds, from the free counts the cluster keeps (it would recount them
        # from the running jobs, 1,000 of them per cycle here).
        snap = Snapshot(table=self.table, now=now, free=free, pending=tuple(window),
                        running=self._running_view(window), tenants=tenants, available=available,
                        carbon_g_per_kwh=self.cluster.carbon_now(now),
                        class_price_per_pf16h=self.cluster.prices_now(now))
        result = self.schedule_fn(snap, self.profile, self.rng)
        if self._log:
            self._emit("cycle", f"#{self.cycles}", f"pending={len(window)} placed={len(result.placements)}")
        before = len(self.pending)
        self._apply(result)
        for s in self.sinks:
            s.on_cycle(now, len(self.pending), self.cluster.free)
        if not result.pending and len(self.pending) - self.pending.parked and len(self.pending) < before:
            # the whole window was placed or rejected: the jobs beyond it get a cycle now
            self._cycle_queued = True
            self.queue.push(now, Kind.CYCLE)
        self._wake_parked()

    def _wake_parked(self) -> None:
        """Jobs parked on a price cap are looked at again when the price hour turns."""
        if self.pending.parked and self.cluster.price_series and not self._cycle_queued:
            self._cycle_queued = True
            self.queue.push((self.clock.now // 3600 + 1) * 3600, Kind.CYCLE)

    def _running_view(self, window: list[Job]) -> tuple[RunningJob, ...]:
        """The running jobs as the cycle sees them. When a waiting job may preempt (it outranks a
        running preemptible job and does not fit anywhere now), preemptible jobs carry their last
        checkpoint, so the core can count what a preemption would lose; otherwise the stored
        values are passed as they are (refreshing them every cycle would cost more than the cycle)."""
        running = self.cluster.running
        if not (self.profile.preemption and self._preemptible_prios):
            return tuple(running.values())
        lowest = min(self._preemptible_prios)
        most = int(self.cluster.free.max())
        same = self.profile.preempt_longer_than > 0   # jobs of the same priority may preempt too
        if not any((j.priority > lowest or (same and j.priority == lowest)) and j.gpus > most for j in window):
            return tuple(running.values())
        now = self.clock.now
        every = self.config.checkpoint_interval_s
        top = max(j.priority for j in window)
        runs = self.runs
        view = []
        for r in running.values():
            job = r.job
            if job.preemptible and (job.priority < top or (same and job.priority == top)):
                run = runs[job.id]
                interval = job.checkpoint_interval_s if job.checkpoint_interval_s is not None else every
                ran = now - run.run_start
                if ran > 0 and interval > 0:
                    r = RunningJob(job, r.pool, r.count, r.start, r.expected_end,
                                   run.run_start + (ran // interval) * interval)
            view.append(r)
        return tuple(view)

    def _cannot_place(self, window: list[Job]) -> bool:
        free = self.cluster.free
        avail = self.cluster.available()
        most = int(free[avail].max() if avail is not None and avail.any() else (0 if avail is not None else free.max()))
        if most >= min(j.gpus for j in window) or max(j.gpus for j in window) > self._largest_pool:
            return False  # something fits, or the core will reject a job no pool can ever hold
        if self.profile.preemption and self._preemptible_prios:
            lowest = min(self._preemptible_prios)
            same = self.profile.preempt_longer_than > 0
            if any(j.priority > lowest or (same and j.priority == lowest) for j in window):
                return False
        return True

    def _apply(self, result: CycleResult) -> None:
        for pre in sorted(result.preemptions, key=lambda p: p.victim_id):
            victim = self.runs.get(pre.victim_id)
            if victim is None or victim.pool < 0 or victim.done:
                self.invalid += 1
                continue
            self._interrupt(victim, "migrate" if pre.by_job_id == pre.victim_id else "preempt")
        for job_id, reason in sorted(result.rejected.items()):
            if job_id in self.pending:
                self.pending.remove(job_id)
                refusal = never_runs(self.table, self.runs[job_id].job, self.profile.filters)
                self._reject(self.runs[job_id], reason, refusal.kind if refusal is not None else "cycle")
        down = self.cluster.down
        for p in sorted(result.placements, key=lambda p: p.job_id):
            placed = self.runs.get(p.job_id)
            ok = (placed is not None and p.job_id in self.pending and p.count == placed.job.gpus
                  and self.cluster.free[p.pool] >= p.count and int(self.table.site_of[p.pool]) not in down)
            if not ok or placed is None:
                self.invalid += 1
                continue
            run = placed
            self.pending.remove(p.job_id)
            self._hold(run, p.pool)
            if self._log:  # a start changes nothing but the log: no event unless someone listens
                self._emit("place", p.job_id, f"{self.table.label(p.pool)} x{p.count}")
                self.queue.push(run.run_start, Kind.START, p.job_id, run.attempt)
            self.queue.push(run.end, Kind.FINISH, p.job_id, run.attempt)
