"""Sinks: where a simulation's output goes. The engine calls every sink's hooks; a sink keeps
what it needs. ``EventLog`` keeps the event lines (golden tests, ``--events``);
``Collector`` keeps per-job records, per-site busy time, PF16-hours per tier and the queue
length at each cycle, from which ``metrics.py`` computes the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from suanli.scheduling.table import PoolTable
from suanli.sim.cluster import JobRun, Segment
from suanli.sim.events import SimEvent

if TYPE_CHECKING:
    pass


class Sink:
    """No-op hooks; subclasses override what they need."""

    wants_events = False

    def on_event(self, ev: SimEvent) -> None: ...

    def on_arrive(self, now: float, run: JobRun) -> None: ...

    def on_segment(self, seg: Segment) -> None: ...

    def on_finish(self, now: float, run: JobRun, pool: int) -> None: ...

    def on_interrupt(self, now: float, run: JobRun, why: str, lost_s: float) -> None: ...

    def on_reject(self, now: float, run: JobRun, reason: str) -> None: ...

    def on_cycle(self, now: float, pending: int, free: Any) -> None: ...

    def on_end(self, now: float) -> None: ...


class EventLog(Sink):
    wants_events = True

    def __init__(self) -> None:
        self.events: list[SimEvent] = []

    def on_event(self, ev: SimEvent) -> None:
        self.events.append(ev)

    def lines(self) -> list[str]:
        return [e.line() for e in self.events]


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    tenant: str
    submit: float
    first_start: float
    end: float
    gpus: int
    pool: int
    deadline: float | None
    pf16h: float
    lost_pf16h: float
    cost: float
    energy_kwh: float
    green_kwh: float
    carbon_kg: float
    preemptions: int
    failures: int
    home_region: str | None = None   # where its data lives: the tenant's home region (traces/enrich.py)


class Collector(Sink):
    def __init__(self, table: PoolTable) -> None:
        self.table = table
        self.records: list[JobRecord] = []
        nsites = len(table.site_names)
        self.site_gpu_s = np.zeros(nsites)
        self.pool_pf16h = np.zeros(table.n)
        self.pool_energy = np.zeros(table.n)   # kWh, PUE included (the compliance report)
        self.pool_green = np.zeros(table.n)
        self.queue_t: list[float] = []
        self.queue_n: list[int] = []
        self.busy_t: list[float] = []
        self.busy_sites: list[np.ndarray] = []
        self._next_busy_sample = 0.0
        self.first_submit: float | None = None
        self.end_time = 0.0
        self.interrupts = {"preempt": 0, "fail": 0, "migrate": 0}
        self.lost_run_s = 0.0

    def on_arrive(self, now: float, run: JobRun) -> None:
        if self.first_submit is None:
            self.first_submit = now

    def on_segment(self, seg: Segment) -> None:
        self.site_gpu_s[self.table.site_of[seg.pool]] += seg.gpu_s
        self.pool_pf16h[seg.pool] += seg.pf16h
        self.pool_energy[seg.pool] += seg.energy_kwh
        self.pool_green[seg.pool] += seg.green_kwh

    def on_finish(self, now: float, run: JobRun, pool: int) -> None:
        job = run.original
        first_start = now if run.first_start is None else run.first_start   # a start at t=0 is a start
        self.records.append(JobRecord(
            id=job.id, tenant=job.tenant, submit=job.submit_time, first_start=first_start, end=now,
            gpus=job.gpus, pool=pool, deadline=job.deadline, pf16h=run.pf16h, lost_pf16h=run.lost_pf16h, cost=run.cost,
            energy_kwh=run.energy, green_kwh=run.green_kwh, carbon_kg=run.carbon, preemptions=run.preemptions,
            failures=run.failures, home_region=job.data[0].region if job.data else None))

    def on_interrupt(self, now: float, run: JobRun, why: str, lost_s: float) -> None:
        self.interrupts[why] += 1
        self.lost_run_s += lost_s

    def on_cycle(self, now: float, pending: int, free: Any) -> None:
        self.queue_t.append(now)
        self.queue_n.append(pending)
        if now >= self._next_busy_sample:
            busy = (self.table.capacity - free).astype(np.float64)
            self.busy_t.append(now)
            self.busy_sites.append(np.bincount(self.table.site_of, weights=busy, minlength=len(self.table.site_names)))
            self._next_busy_sample = now + 3600.0

    def on_end(self, now: float) -> None:
        self.end_time = now
