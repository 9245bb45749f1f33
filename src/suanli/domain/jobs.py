"""Jobs as tenants submit them, and their lifecycle.

A job asks for ``gpus`` accelerators of any allowed model, for a run time given either as
``duration_s`` on a reference accelerator (``reference_accelerator``) or as a compute demand
in PF16-hours (``compute_pf16h``, converted by each chip's effective throughput).

Lifecycle: pending -> placed -> running -> succeeded | failed | cancelled;
running|placed -> preempted -> pending. Terminal states never change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from suanli.domain.errors import InvalidInput


class JobClass(str, Enum):
    TRAIN = "train"
    FINETUNE = "finetune"
    INFER = "infer"
    BATCH = "batch"


class JobState(str, Enum):
    PENDING = "pending"
    PLACED = "placed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED})

ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.PLACED, JobState.CANCELLED, JobState.REJECTED}),
    JobState.PLACED: frozenset({JobState.RUNNING, JobState.PENDING, JobState.PREEMPTED, JobState.FAILED,
                                JobState.CANCELLED, JobState.SUCCEEDED}),
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PREEMPTED,
                                 JobState.PENDING}),
    JobState.PREEMPTED: frozenset({JobState.PENDING, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.REJECTED: frozenset(),
}


def check_transition(old: JobState, new: JobState) -> None:
    """Raise ``InvalidInput`` unless ``old -> new`` is a legal lifecycle step."""
    if new not in ALLOWED_TRANSITIONS[old]:
        raise InvalidInput(
            f"a job cannot go from {old.value} to {new.value}",
            field="state", value=new.value,
            fix="terminal states never change; cancel only pending, placed or running jobs",
        )


@dataclass(frozen=True, slots=True)
class DataInput:
    """A data set the job reads: where it lives and how big it is."""

    region: str
    size_gb: float


@dataclass(frozen=True, slots=True)
class Job:
    """What a tenant asks for. Times are seconds UTC; money limits are floats of currency units
    per PF16-hour for the scheduler's arithmetic (the market uses Decimal)."""

    id: str
    tenant: str
    job_class: JobClass = JobClass.TRAIN
    gpus: int = 1
    duration_s: float = 3600.0
    reference_accelerator: str = "a100-sxm4-80gb"
    compute_pf16h: float | None = None
    allowed_models: tuple[str, ...] = ()
    min_memory_gb: float = 0.0
    gang: bool = True
    data: tuple[DataInput, ...] = ()
    user_region: str | None = None
    latency_slo_ms: float | None = None
    allowed_regions: tuple[str, ...] = ()
    deadline: float | None = None
    max_price: float | None = None
    preemptible: bool = False
    priority: int = 0
    submit_time: float = 0.0
    queue: str = "default"
    arithmetic_intensity: float | None = None
    command: tuple[str, ...] = ()
    checkpoint_interval_s: float | None = None
    labels: tuple[tuple[str, str], ...] = field(default=())

    @property
    def data_gb(self) -> float:
        return sum(d.size_gb for d in self.data)


def validate_job(job: Job, *, now: float | None = None) -> Job:
    """Check a job's own fields (not against a federation); return it or raise ``InvalidInput``."""
    if not job.id:
        raise InvalidInput("a job needs an id", field="id", value=job.id, fix="give the job a unique id")
    if job.gpus <= 0:
        raise InvalidInput("must be a positive whole number", field="gpus", value=job.gpus,
                           fix="ask for 1 or more accelerators")
    if job.compute_pf16h is None and job.duration_s <= 0:
        raise InvalidInput("must be positive", field="duration_s", value=job.duration_s,
                           fix="give the expected run time in seconds, or a compute demand in PF16-hours")
    if job.compute_pf16h is not None and job.compute_pf16h <= 0:
        raise InvalidInput("must be positive", field="compute_pf16h", value=job.compute_pf16h,
                           fix="give the compute demand in PF16-hours, e.g. 2.5")
    if job.min_memory_gb < 0:
        raise InvalidInput("must not be negative", field="min_memory_gb", value=job.min_memory_gb,
                           fix="give the memory each accelerator needs in GB, or 0")
    if job.max_price is not None and job.max_price <= 0:
        raise InvalidInput("must be positive", field="max_price", value=job.max_price,
                           fix="give the highest price per PF16-hour you accept, or leave it out")
    if job.latency_slo_ms is not None and (job.latency_slo_ms <= 0 or job.user_region is None):
        raise InvalidInput("a latency SLO needs a positive value and a user_region", field="latency_slo_ms",
                           value=job.latency_slo_ms, fix="set user_region and a positive latency_slo_ms")
    if job.deadline is not None and now is not None and job.deadline <= now:
        raise InvalidInput("is in the past", field="deadline", value=job.deadline,
                           fix=f"give a deadline after now ({now:.0f} s UTC)")
    for d in job.data:
        if d.size_gb < 0:
            raise InvalidInput("must not be negative", field="data.size_gb", value=d.size_gb,
                               fix="give the data size in GB")
    return job
