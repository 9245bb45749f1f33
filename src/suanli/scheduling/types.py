"""Values in and out of the scheduling cycle.

In: a ``Snapshot`` = the static ``PoolTable`` of a federation (columns over pools, built once)
plus the dynamic state at ``now`` (free slots, running jobs, pending jobs, tenant usage, and
optional per-pool carbon and price overrides for time-varying series).

Out: a ``CycleResult`` = placements (with predicted start, end, cost, energy, carbon and the
score breakdown), preemptions, rejections and, for every job left pending, the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from suanli.domain.jobs import Job

if TYPE_CHECKING:
    from suanli.scheduling.table import PoolTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding accelerators in one pool. ``expected_end`` is the scheduler's best estimate;
    ``last_checkpoint`` is when its progress was last saved (what a preemption would keep)."""

    job: Job
    pool: int
    count: int
    start: float
    expected_end: float
    last_checkpoint: float | None = None


@dataclass(frozen=True, slots=True)
class QueueState:
    """A tenant's queue this cycle: its declared limits (None = unlimited) and what is left of them."""

    in_use_pflops: float = 0.0         # PFLOPS(FP16) its jobs hold right now (quota)
    quota_pflops: float | None = None
    budget_left: float | None = None   # money left of ``budget`` this budget period
    pf16h_left: float | None = None    # PF16-hours left of ``budget_pf16h`` this budget period
    budget: float | None = None        # declared money budget (for the reasons)
    budget_pf16h: float | None = None  # declared PF16-hour budget (for the reasons)
    budget_per: str = ""               # "day", "month" or "" (all time)


@dataclass(frozen=True, slots=True)
class TenantState:
    """What the scheduler needs to know of a tenant this cycle. Its own limits are the fields
    below; its queues' limits are ``queues`` (a job counts against both, ``scheduling.limits``)."""

    usage_pf16h: float = 0.0          # decayed PF16-hours used (fair share)
    in_use_pflops: float = 0.0        # PFLOPS(FP16) held right now (quota)
    quota_pflops: float | None = None  # None = unlimited
    budget_left: float | None = None   # money left; None = unlimited
    weight: float = 1.0
    pf16h_left: float | None = None    # PF16-hours left of ``budget_pf16h``; None = unlimited
    budget: float | None = None        # declared money budget (for the reasons)
    budget_pf16h: float | None = None  # declared PF16-hour budget (for the reasons)
    budget_per: str = ""               # "day", "month" or "" (all time)
    queues: Mapping[str, QueueState] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """Everything ``schedule()`` reads. Arrays are never mutated by the cycle."""

    table: PoolTable
    now: float
    free: IntArray
    pending: tuple[Job, ...]
    running: tuple[RunningJob, ...] = ()
    tenants: Mapping[str, TenantState] = field(default_factory=dict)
    available: BoolArray | None = None     # pools whose site is up; None = all
    carbon_g_per_kwh: FloatArray | None = None  # per pool, overrides the table (hourly series)
    price_per_pf16h: FloatArray | None = None   # per pool, overrides the table (market prices)
    class_price_per_pf16h: Mapping[str, FloatArray] | None = None  # per job class, per pool: a job's price
    observed_total: IntArray | None = None      # per pool, what the site's engine reports (live); None = declared


@dataclass(frozen=True, slots=True)
class Placement:
    job_id: str
    pool: int
    site: str
    pool_name: str
    count: int
    start: float
    predicted_end: float
    runtime_s: float
    staging_s: float
    cost: float
    energy_kwh: float
    carbon_kg: float
    score: float
    breakdown: Mapping[str, float] = field(default_factory=dict)
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class Preemption:
    victim_id: str
    pool: int
    count: int
    by_job_id: str
    lost_pf16h: float
    reason: str = ""       # set when no job preempts it (a budget that ran out, ``scheduling.limits``)


@dataclass(frozen=True, slots=True)
class Reservation:
    """The start a blocked head job is promised; backfill may not delay it."""

    job_id: str
    pool: int
    start: float


@dataclass(frozen=True, slots=True)
class PendingReason:
    """Why a job was not placed: the filter that rejected most pools and the count per filter."""

    job_id: str
    summary: str
    rejected_by: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CycleResult:
    placements: tuple[Placement, ...]
    preemptions: tuple[Preemption, ...]
    pending: Mapping[str, PendingReason]
    rejected: Mapping[str, str]
    reservation: Reservation | None = None
    order: tuple[str, ...] = ()
    lower_bound: float | None = None
