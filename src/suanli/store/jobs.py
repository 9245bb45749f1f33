"""Jobs, their placements and their logs.

Invariants kept by the services that write here (always inside one ``UnitOfWork`` together with
the audit record):
- a job's ``state`` follows ``suanli.domain.jobs.check_transition``; every change is a conditional
  ``UPDATE ... WHERE state = <expected>`` so two writers can never both move it;
- a job has at most one *active* placement (assigned, leased or running), the one named by
  ``jobs.placement_id``; ``(tenant, idempotency_key)`` is unique.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from suanli.domain.jobs import DataInput, Job, JobClass
from suanli.store.db import metadata
from suanli.store.rows import row, rows, where_equal

ACTIVE_PLACEMENT_STATES = ("assigned", "leased", "running")

jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("queue", String(64), nullable=False, default="default"),
    Column("state", String(16), nullable=False),
    Column("job_class", String(16), nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("spec", Text, nullable=False),
    Column("submit_time", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("idempotency_key", String(128), nullable=True),
    Column("spec_hash", String(64), nullable=True),   # SHA-256 of ``spec``: a reused key must bring the same spec
    Column("attempts", Integer, nullable=False, default=0),
    Column("reason", Text, nullable=False, default=""),
    Column("site", String(64), nullable=True),
    Column("placement_id", String(32), nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
    Index("ix_jobs_state_submit", "state", "submit_time"),
    Index("ix_jobs_tenant_submit", "tenant", "submit_time"),
)

placements = Table(
    "placements", metadata,
    Column("id", String(32), primary_key=True),
    Column("job_id", String(32), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("site", String(64), nullable=False),
    Column("pool_id", Integer, nullable=False),
    Column("pool_name", String(64), nullable=False),
    Column("accelerator", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("lease_id", String(32), nullable=True),
    Column("leased_at", Float, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("slots", String(200), nullable=False, default=""),
    Column("kill_requested", Boolean, nullable=False, default=False),
    Column("kill_reason", String(32), nullable=False, default=""),
    Column("predicted_start", Float, nullable=True),
    Column("predicted_end", Float, nullable=True),
    Column("predicted_cost", Float, nullable=True),
    Column("score", Float, nullable=True),
    Column("breakdown", Text, nullable=False, default="{}"),
    Column("pf16h", Float, nullable=False, default=0.0),
    Column("energy_kwh", Float, nullable=False, default=0.0),
    Column("carbon_kg", Float, nullable=False, default=0.0),
    Column("cost", Numeric(18, 6), nullable=False, default=0),
    Index("ix_placements_site_state", "site", "state"),
)

job_logs = Table(
    "job_logs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("placement_id", String(32), nullable=False),
    Column("offset", BigInteger, nullable=False),     # byte offset in the job's output (may pass 2 GiB)
    Column("data", Text, nullable=False),
    UniqueConstraint("placement_id", "offset", name="uq_job_logs_placement_offset"),
)


_INSERT_JOB = insert(jobs)
_SET_REASON = (update(jobs).where(jobs.c.id == bindparam("jid"), jobs.c.state == "pending")
               .values(reason=bindparam("why")))


class JobRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- jobs --------------------------------------------------------------------------------
    def add(self, **row: Any) -> None:
        self.conn.execute(_INSERT_JOB, row)

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(_INSERT_JOB, rows)

    def get(self, job_id: str) -> dict[str, Any] | None:
        return row(self.conn.execute(select(jobs).where(jobs.c.id == job_id)).first())

    def by_idempotency_key(self, tenant: str, key: str) -> dict[str, Any] | None:
        q = select(jobs).where(jobs.c.tenant == tenant, jobs.c.idempotency_key == key)
        return row(self.conn.execute(q).first())

    def find(self, *, tenant: str | None = None, states: Iterable[str] = (), site: str | None = None,
             queue: str | None = None, before: tuple[float, str] | None = None, limit: int = 50,
             sites_of_provider: list[str] | None = None) -> list[dict[str, Any]]:
        """Newest first; page with ``before=(submit_time, id)`` of the last row seen."""
        q = select(jobs).order_by(jobs.c.submit_time.desc(), jobs.c.id.desc()).limit(limit)
        q = where_equal(q, jobs, tenant=tenant, site=site, queue=queue)
        states = list(states)
        if states:
            q = q.where(jobs.c.state.in_(states))
        if sites_of_provider is not None:
            q = q.where(jobs.c.site.in_(sites_of_provider))
        if before is not None:
            t, jid = before
            q = q.where((jobs.c.submit_time < t) | and_(jobs.c.submit_time == t, jobs.c.id < jid))
        return rows(self.conn.execute(q))

    def in_states(self, states: Iterable[str]) -> list[dict[str, Any]]:
        q = select(jobs).where(jobs.c.state.in_(list(states))).order_by(jobs.c.submit_time, jobs.c.id)
        return rows(self.conn.execute(q))

    def count_by_state(self) -> dict[str, int]:
        q = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        return {s: int(n) for s, n in self.conn.execute(q)}

    def transition(self, job_id: str, old: str, new: str, **values: Any) -> bool:
        """Move a job from ``old`` to ``new`` only if it is still in ``old``; True if it moved."""
        res = self.conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == old)
                                .values(state=new, **values))
        return bool(res.rowcount == 1)

    def set_reasons(self, reasons: dict[str, str]) -> None:
        """Why each pending job waits (one executemany; jobs no longer pending are left alone)."""
        if reasons:
            self.conn.execute(_SET_REASON, [{"jid": j, "why": r} for j, r in reasons.items()])

    # -- placements --------------------------------------------------------------------------
    def add_placement(self, **row: Any) -> None:
        self.conn.execute(insert(placements).values(**row))

    def placement(self, placement_id: str) -> dict[str, Any] | None:
        return row(self.conn.execute(select(placements).where(placements.c.id == placement_id)).first())

    def placements(self, *, site: str | None = None, sites: list[str] | None = None, job_id: str | None = None,
                   states: Iterable[str] = (), limit: int = 500) -> list[dict[str, Any]]:
        q = select(placements).order_by(placements.c.created_at.desc()).limit(limit)
        q = where_equal(q, placements, site=site, job_id=job_id)
        if sites is not None:
            q = q.where(placements.c.site.in_(sites))
        states = list(states)
        if states:
            q = q.where(placements.c.state.in_(states))
        return rows(self.conn.execute(q))

    def placement_transition(self, placement_id: str, olds: Iterable[str], new: str, **values: Any) -> bool:
        res = self.conn.execute(update(placements)
                                .where(placements.c.id == placement_id, placements.c.state.in_(list(olds)))
                                .values(state=new, **values))
        return bool(res.rowcount == 1)

    def update_placement(self, placement_id: str, **values: Any) -> None:
        self.conn.execute(update(placements).where(placements.c.id == placement_id).values(**values))

    def usage_rows(self, *, tenant: str | None = None, sites: list[str] | None = None,
                   job_id: str | None = None) -> list[dict[str, Any]]:
        """Placements that ran (started), joined with their job's tenant and class."""
        q = (select(placements, jobs.c.tenant, jobs.c.job_class).join(jobs, jobs.c.id == placements.c.job_id)
             .where(placements.c.started_at.is_not(None)))
        q = where_equal(where_equal(q, jobs, tenant=tenant), placements, job_id=job_id)
        if sites is not None:
            q = q.where(placements.c.site.in_(sites))
        return rows(self.conn.execute(q))

    # -- logs --------------------------------------------------------------------------------
    def append_log(self, job_id: str, placement_id: str, offset: int, data: str, *, cap: int | None = None) -> bool:
        """Store one chunk; a chunk already stored at that offset (an agent's retry) is skipped, and
        so is one that would take the placement's stored output past ``cap`` characters."""
        exists = self.conn.execute(select(job_logs.c.id).where(job_logs.c.placement_id == placement_id,
                                                               job_logs.c.offset == offset)).first()
        if exists:
            return False
        if cap is not None:
            stored = self.conn.execute(select(func.coalesce(func.sum(func.length(job_logs.c.data)), 0))
                                       .where(job_logs.c.placement_id == placement_id)).scalar()
            if int(stored or 0) + len(data) > cap:
                return False
        self.conn.execute(insert(job_logs).values(job_id=job_id, placement_id=placement_id, offset=offset, data=data))
        return True

    def logs(self, job_id: str, *, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        q = (select(job_logs).where(job_logs.c.job_id == job_id, job_logs.c.id > after_id)
             .order_by(job_logs.c.id).limit(limit))
        return rows(self.conn.execute(q))

    def active_placements_with_jobs(self) -> list[dict[str, Any]]:
        """Active placements (holding accelerators), each with its job's tenant, state and spec."""
        q = (select(placements, jobs.c.tenant, jobs.c.state.label("job_state"), jobs.c.spec,
                    jobs.c.submit_time)
             .join(jobs, jobs.c.id == placements.c.job_id)
             .where(placements.c.state.in_(ACTIVE_PLACEMENT_STATES)))
        return rows(self.conn.execute(q))

    def pending(self, limit: int = 5000, after: tuple[float, str] | None = None) -> list[dict[str, Any]]:
        """The oldest pending jobs, by (submit time, id); ``after`` = the last of the previous page."""
        q = select(jobs).where(jobs.c.state == "pending")
        if after is not None:
            q = q.where(or_(jobs.c.submit_time > after[0], and_(jobs.c.submit_time == after[0], jobs.c.id > after[1])))
        return rows(self.conn.execute(q.order_by(jobs.c.submit_time, jobs.c.id).limit(limit)))

    # -- figures for /metrics (services.metrics) ----------------------------------------------
    def count_placements(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(placements)).scalar_one())

    def held_by_pool(self) -> dict[tuple[str, str], int]:
        """(site, pool name) -> accelerators held by active placements."""
        q = (select(placements.c.site, placements.c.pool_name, func.sum(placements.c.count))
             .where(placements.c.state.in_(ACTIVE_PLACEMENT_STATES))
             .group_by(placements.c.site, placements.c.pool_name))
        return {(s, p): int(n or 0) for s, p, n in self.conn.execute(q)}

    def wait_histogram(self, bounds: Iterable[float]) -> tuple[list[int], float, int]:
        """Queue wait (first start - submission) of every job that started: the cumulative count at
        or under each bound, the sum of waits and the number of jobs."""
        first = (select(placements.c.job_id, func.min(placements.c.started_at).label("first"))
                 .where(placements.c.started_at.is_not(None)).group_by(placements.c.job_id).subquery())
        wait = first.c.first - jobs.c.submit_time
        bounds = list(bounds)
        cols = [func.count(), func.sum(wait)] + [func.sum(case((wait <= b, 1), else_=0)) for b in bounds]
        r = self.conn.execute(select(*cols).select_from(first.join(jobs, jobs.c.id == first.c.job_id))).one()
        return [int(c or 0) for c in r[2:]], float(r[1] or 0.0), int(r[0])

    def ended_usage_totals(self) -> dict[str, Any]:
        """PF16-hours, energy, carbon and cost summed over placements that ended."""
        q = (select(func.sum(placements.c.pf16h), func.sum(placements.c.energy_kwh),
                    func.sum(placements.c.carbon_kg), func.sum(placements.c.cost))
             .where(placements.c.ended_at.is_not(None)))
        pf, kwh, co2, cost = self.conn.execute(q).one()
        return {"pf16h": float(pf or 0), "energy_kwh": float(kwh or 0), "carbon_kg": float(co2 or 0),
                "cost": Decimal(cost or 0)}

    def live_usage_rows(self) -> list[dict[str, Any]]:
        """Placements that started and have not ended, with their job's class."""
        q = (select(placements, jobs.c.job_class).join(jobs, jobs.c.id == placements.c.job_id)
             .where(placements.c.started_at.is_not(None), placements.c.ended_at.is_(None)))
        return rows(self.conn.execute(q))

    def usage_by_tenant(self) -> dict[str, tuple[float, float]]:
        """tenant -> (PF16-hours metered, money spent) over finished placements."""
        q = (select(jobs.c.tenant, func.sum(placements.c.pf16h), func.sum(placements.c.cost))
             .join(jobs, jobs.c.id == placements.c.job_id).group_by(jobs.c.tenant))
        return {t: (float(a or 0), float(c or 0)) for t, a, c in self.conn.execute(q)}


# -- rows -> domain values -------------------------------------------------------------------
DOMAIN_FIELDS = ("job_class", "gpus", "duration_s", "reference_accelerator", "compute_pf16h", "allowed_models",
                 "min_memory_gb", "gang", "user_region", "latency_slo_ms", "allowed_regions", "deadline",
                 "max_price", "preemptible", "priority", "queue", "arithmetic_intensity", "checkpoint_interval_s")


def job_from_spec(job_id: str, tenant: str, submit_time: float, spec: dict[str, Any]) -> Job:
    """The domain job a stored spec describes."""
    kw = {k: spec[k] for k in DOMAIN_FIELDS if spec.get(k) is not None}
    kw["job_class"] = JobClass(kw.get("job_class", "train"))
    for k in ("allowed_models", "allowed_regions"):
        if k in kw:
            kw[k] = tuple(kw[k])
    return Job(id=job_id, tenant=tenant, submit_time=submit_time,
               data=tuple(DataInput(d["region"], float(d["size_gb"])) for d in spec.get("data") or ()),
               command=tuple(spec.get("command") or ()),
               labels=tuple(sorted((spec.get("labels") or {}).items())), **kw)


def domain_job(job_row: dict[str, Any], cache: dict[str, Any] | None = None) -> Job:
    """The domain job of a ``jobs`` row (``id``, ``tenant``, ``submit_time``, ``spec``), cached by id."""
    if cache is not None and job_row["id"] in cache:
        return cache[job_row["id"]]  # type: ignore[no-any-return]
    job = job_from_spec(job_row["id"], job_row["tenant"], job_row["submit_time"], json.loads(job_row["spec"]))
    if cache is not None:
        cache[job_row["id"]] = job
    return job
