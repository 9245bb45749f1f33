"""Job queue files (YAML or JSON): a list of jobs as tenants would submit them.

Format::

    now: 0                      # optional: the time the queue is looked at (s UTC)
    jobs:
      - id: train-1
        tenant: lab-a
        class: train            # train | finetune | infer | batch
        gpus: 8
        duration_s: 7200        # on reference_accelerator (default A100); or compute_pf16h: 12.5
        allowed_models: [H800, A100]
        min_memory_gb: 80
        gang: true
        data: [{region: shanghai, size_gb: 500}]
        user_region: shanghai
        latency_slo_ms: 30
        allowed_regions: [shanghai, ningxia]
        deadline: 86400
        max_price: 15
        preemptible: false
        priority: 1
        submit_time: 0

Every job is checked on its own (``validate_job``) and against the federation when one is given
(unknown region or accelerator; a job no pool could ever run: ``scheduling.feasibility``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from suanli.config import fields as f
from suanli.domain.accelerators import Catalog, default_catalog
from suanli.domain.errors import ConfigError, InvalidInput
from suanli.domain.federation import Federation
from suanli.domain.jobs import DataInput, Job, JobClass, validate_job
from suanli.scheduling.feasibility import check_runs
from suanli.scheduling.table import PoolTable, build_pool_table

JOB_KEYS = ("id", "tenant", "class", "gpus", "duration_s", "reference_accelerator", "compute_pf16h",
            "allowed_models", "min_memory_gb", "gang", "data", "user_region", "latency_slo_ms", "allowed_regions",
            "deadline", "max_price", "preemptible", "priority", "submit_time", "queue", "arithmetic_intensity",
            "command", "checkpoint_interval_s")


def job_from_mapping(m: Mapping[str, Any], where: str = "job", *, now: float | None = None) -> Job:
    """One job from a parsed mapping; raises ``InvalidInput`` with the field path."""
    f.check_keys(m, where, JOB_KEYS)
    data = []
    for i, d in enumerate(f.items(m, "data", where, [])):
        dw = f.path(f.path(where, "data"), i)
        d = f.mapping(d, dw)
        f.check_keys(d, dw, ("region", "size_gb"))
        data.append(DataInput(region=f.text(d, "region", dw), size_gb=f.number(d, "size_gb", dw, minimum=0)))
    command = f.get(m, "command", where, [])
    if isinstance(command, str):
        command = command.split()
    job = Job(
        id=str(f.get(m, "id", where)),
        tenant=f.text(m, "tenant", where, "default"),
        job_class=f.choice(m, "class", where, JobClass, JobClass.TRAIN),
        gpus=f.integer(m, "gpus", where, 1, positive=True),
        duration_s=f.number(m, "duration_s", where, 3600.0, positive=True),
        reference_accelerator=f.text(m, "reference_accelerator", where, "a100-sxm4-80gb"),
        compute_pf16h=f.number(m, "compute_pf16h", where, None, positive=True),
        allowed_models=f.strings(m, "allowed_models", where),
        min_memory_gb=f.number(m, "min_memory_gb", where, 0.0, minimum=0),
        gang=f.boolean(m, "gang", where, True),
        data=tuple(data),
        user_region=f.text(m, "user_region", where, None),
        latency_slo_ms=f.number(m, "latency_slo_ms", where, None, positive=True),
        allowed_regions=f.strings(m, "allowed_regions", where),
        deadline=f.number(m, "deadline", where, None),
        max_price=f.number(m, "max_price", where, None, positive=True),
        preemptible=f.boolean(m, "preemptible", where, False),
        priority=f.integer(m, "priority", where, 0),
        submit_time=f.number(m, "submit_time", where, 0.0),
        queue=f.text(m, "queue", where, "default"),
        arithmetic_intensity=f.number(m, "arithmetic_intensity", where, None, positive=True),
        command=tuple(str(c) for c in command),
        checkpoint_interval_s=f.number(m, "checkpoint_interval_s", where, None, positive=True),
    )
    try:
        return validate_job(job, now=now)
    except InvalidInput as exc:
        raise InvalidInput(exc.problem, field=f.path(where, exc.field), value=exc.value, fix=exc.fix) from None


def parse_jobs(text: str, where: str = "<jobs>", federation: Federation | None = None,
               catalog: Catalog | None = None) -> tuple[float, list[Job]]:
    """(now, jobs) from queue-file text; every error names the file, the job and the field."""
    catalog = catalog or default_catalog()
    doc = f.load_yaml(text, where)
    with f.located(where):
        if isinstance(doc, list):
            doc = {"jobs": doc}
        doc = f.mapping(doc, "")
        f.check_keys(doc, "", ("now", "jobs"))
        now = f.number(doc, "now", "", 0.0)
        jobs = []
        seen: set[str] = set()
        tables: list[PoolTable] = []

        def table() -> PoolTable:
            if not tables:
                assert federation is not None
                tables.append(build_pool_table(federation, catalog))
            return tables[0]

        for i, m in enumerate(f.items(doc, "jobs", "")):
            jw = f.path("jobs", i)
            job = job_from_mapping(f.mapping(m, jw), jw, now=now)
            if job.id in seen:
                raise InvalidInput("duplicate job id", field=f.path(jw, "id"), value=job.id, fix="give each job a unique id")
            seen.add(job.id)
            if federation is not None:
                try:
                    federation.check_job(job, catalog)
                    check_runs(table(), job)
                except InvalidInput as exc:
                    raise InvalidInput(exc.problem, field=f.path(jw, exc.field), value=exc.value, fix=exc.fix) from None
            jobs.append(job)
        return now, jobs


def load_jobs(path: str | Path, federation: Federation | None = None) -> tuple[float, list[Job]]:
    p = Path(path)
    if not p.exists():
        raise ConfigError("file not found", field="jobs", value=str(p), fix="give the path of a job queue YAML file")
    return parse_jobs(p.read_text(encoding="utf-8"), str(p), federation)
