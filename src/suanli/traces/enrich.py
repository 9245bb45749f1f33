"""What public traces lack, modelled here with a seeded generator: home region, data size,
deadline, priority and preemptibility.

Model (documented in docs/simulate.md; every draw comes from one numpy Generator seeded by
``TraceOptions.seed``, so the same seed gives the same jobs):

- home region: ``home_regions[tenant]`` if given, else the federation's regions assigned to the
  sorted tenant names round-robin; the job reads one data set there;
- data size: ``data_gb_per_gpu_median x gpus x lognormal(0, 1)`` GB;
- deadlines: a ``deadline_share`` of jobs gets ``submit + max(U(2, 4) x duration, duration + 1 h)``
  (duration on the trace's reference chip) and priority 1; those are never preemptible;
- of the other jobs a ``preemptible_share`` is preemptible; all checkpoint every
  ``checkpoint_interval_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanli.domain.jobs import DataInput, Job, JobClass
from suanli.traces.base import TraceOptions


@dataclass(frozen=True, slots=True)
class RawJob:
    """A job as a trace gives it: who, when, how many chips, how long on the reference chip."""

    id: str
    tenant: str
    submit_time: float
    duration_s: float
    gpus: int
    allowed_models: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    job_class: JobClass = JobClass.TRAIN


def home_region_map(tenants: list[str], options: TraceOptions) -> dict[str, str]:
    regions = options.regions
    out: dict[str, str] = {}
    for i, tenant in enumerate(sorted(set(tenants))):
        if tenant in options.home_regions:
            out[tenant] = options.home_regions[tenant]
        elif regions:
            out[tenant] = regions[i % len(regions)]
    return out


def enrich(raws: list[RawJob], options: TraceOptions, reference: str) -> tuple[Job, ...]:
    """Jobs sorted by (submit time, id), with the modelled fields filled in."""
    raws = sorted(raws, key=lambda r: (r.submit_time, r.id))
    if options.limit is not None:
        raws = raws[: options.limit]
    n = len(raws)
    rng = np.random.default_rng(options.seed)
    # The draws as Python lists: the same float64 values, without a numpy scalar per job.
    size = rng.lognormal(0.0, 1.0, n).tolist()
    has_deadline = (rng.random(n) < options.deadline_share).tolist()
    slack = rng.uniform(2.0, 4.0, n).tolist()
    preemptible = (rng.random(n) < options.preemptible_share).tolist()
    homes = home_region_map([r.tenant for r in raws], options)
    per_gpu = float(options.data_gb_per_gpu_median)
    jobs = []
    for i, r in enumerate(raws):
        home = homes.get(r.tenant)
        data = (DataInput(home, round(per_gpu * r.gpus * size[i], 3)),) if home else ()
        deadline = round(r.submit_time + max(slack[i] * r.duration_s, r.duration_s + 3600.0), 3) \
            if has_deadline[i] else None
        jobs.append(Job(
            id=r.id, tenant=r.tenant, job_class=r.job_class, gpus=r.gpus, duration_s=r.duration_s,
            reference_accelerator=reference, allowed_models=r.allowed_models, data=data,
            user_region=None, deadline=deadline, preemptible=preemptible[i] and deadline is None,
            priority=1 if deadline is not None else 0, submit_time=r.submit_time,
            checkpoint_interval_s=options.checkpoint_interval_s, labels=r.labels,
        ))
    return tuple(jobs)
