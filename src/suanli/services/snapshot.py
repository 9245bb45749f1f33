"""Build the scheduler's ``Snapshot`` from the store, the same value the simulator builds.

The pool table is rebuilt only when sites or pools change (``federation_version``). Running
jobs are the active placements (assigned, leased, running: they hold accelerators until their
agent confirms they stopped). A pool is available when its site is active and its agent is up;
an agent's reported free slots (which exclude what it runs, and on an engine what its other users
hold and what is down) cap the free count; the pools' observed totals (what the engines report)
let a capacity refusal name a shortfall against the declared size. The pending jobs are the
oldest ``PENDING_WINDOW`` that some pool can take now; those no pool that is up can take (all
down, or over the job's price cap) are passed over, with why (``pending_window``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanli.domain.jobs import Job
from suanli.market.reserved import PoolUse, reserved_holds
from suanli.market.spot import spot_view
from suanli.scheduling import (
    PoolTable,
    RunningJob,
    Snapshot,
    build_pool_table,
    load_profile,
    make_snapshot,
)
from suanli.scheduling.feasibility import blocked_now
from suanli.scheduling.queue import PENDING_WINDOW
from suanli.services.federation import fresh_observation, load_domain_federation
from suanli.services.limits import tenant_states
from suanli.services.market import market_class_prices
from suanli.services.platform import Platform
from suanli.store.jobs import domain_job
from suanli.store.market import state_of
from suanli.store.uow import UnitOfWork


@dataclass(frozen=True)
class BuiltSnapshot:
    snapshot: Snapshot
    pool_ids: tuple[int, ...]          # pool index -> store pool id
    pending_rows: dict[str, dict[str, Any]]
    blocked: dict[str, str] = field(default_factory=dict)   # jobs newly passed over (out of the window): why


def pool_table(p: Platform, uow: UnitOfWork) -> tuple[PoolTable, tuple[int, ...]]:
    """The federation's pool table and each pool's store id; rebuilt only when sites or pools change."""
    fed, ids, version = load_domain_federation(p, uow)
    hit = p.cache.pool_table
    if hit is not None and hit[0] == version:
        return hit[1], hit[2]
    table = build_pool_table(fed, p.catalog)
    pool_ids = tuple(ids[(table.site_names[table.site_of[i]], table.pool_names[i])] for i in range(table.n))
    p.cache.pool_table = (version, table, pool_ids)
    return table, pool_ids


def build_snapshot(p: Platform, uow: UnitOfWork, *, pending_limit: int = PENDING_WINDOW,
                   filters: Sequence[str] | None = None) -> BuiltSnapshot:
    now = p.now()
    table, pool_ids = pool_table(p, uow)
    index_of = {pid: i for i, pid in enumerate(pool_ids)}
    jobs_cache = p.cache.domain_jobs
    if len(jobs_cache) > 50000:
        jobs_cache.clear()
    sites = {s["name"]: s for s in uow.federation.sites()}
    available = np.array([sites[table.site_names[table.site_of[i]]]["state"] == "active"
                          and sites[table.site_names[table.site_of[i]]]["health"] == "up"
                          for i in range(table.n)], dtype=bool)
    free: dict[int, int] = {}
    for i in range(table.n):
        live = json.loads(sites[table.site_names[table.site_of[i]]]["live"] or "{}")
        n = (live.get("free") or {}).get(table.pool_names[i])
        if n is not None:
            free[i] = int(n)
    observed = {index_of[pl["id"]]: n for pl in uow.federation.pools()
                if pl["id"] in index_of and (n := fresh_observation(pl, now, p.settings.lease_s)) is not None}
    running = []
    in_use: dict[tuple[str, str | None], float] = {}
    for row in uow.jobs.active_placements_with_jobs():
        idx = index_of.get(row["pool_id"])
        if idx is None:
            continue
        job = spot_view(domain_job({"id": row["job_id"], "tenant": row["tenant"], "submit_time": row["submit_time"],
                                    "spec": row["spec"]}, jobs_cache))
        start = row["started_at"] or row["created_at"]
        end = row["predicted_end"] or start + job.duration_s
        running.append(RunningJob(job=job, pool=idx, count=row["count"], start=start, expected_end=max(end, now)))
        held = table.fp16_tflops[idx] * row["count"] / 1000.0
        for key in ((row["tenant"], None), (row["tenant"], job.queue)):
            in_use[key] = in_use.get(key, 0.0) + held
    prices = market_class_prices(p, uow, table)      # per job class, per pool: a job's one price
    tenants = tenant_states(p, uow, now, usage=uow.jobs.usage_by_tenant(), in_use=in_use,
                            price_of_pool={(pid, c): float(col[i]) for c, col in prices.items()
                                           for i, pid in enumerate(pool_ids)})
    filters = load_profile(p.settings.profile).filters if filters is None else filters
    pending_rows, pending, blocked = pending_window(uow, table, filters, available, prices, pending_limit, jobs_cache)
    hold_reserved_capacity(uow, table, running, {r["tenant"] for r in pending_rows.values()}, free, now)
    snap = make_snapshot(table, now, pending, running, tenants, available=available, free=free,
                         class_price_per_pf16h=prices, observed_total=observed)
    return BuiltSnapshot(snapshot=snap, pool_ids=pool_ids, pending_rows=pending_rows, blocked=blocked)


BLOCKED = "blocked: every pool that could run it is down or over its price cap now; it waits for one"


def pending_window(uow: UnitOfWork, table: PoolTable, filters: Sequence[str], available: np.ndarray,
                   prices: Mapping[str, np.ndarray] | None, limit: int, jobs_cache: dict[str, Any]
                   ) -> tuple[dict[str, dict[str, Any]], list[Job], dict[str, str]]:
    """The oldest ``limit`` pending jobs that some pool can take now, read page by page, and the
    jobs newly passed over because none can (``feasibility.blocked_now``) with why: a job that
    waits for a site to come back or a price to fall cannot keep the jobs behind it out of the
    window."""
    rows_in: dict[str, dict[str, Any]] = {}
    jobs: list[Job] = []
    blocked: dict[str, str] = {}
    after = None
    while len(jobs) < limit:
        page = uow.jobs.pending(limit, after=after)
        for r in page:
            job = spot_view(domain_job(r, jobs_cache))
            if blocked_now(table, job, filters, available, prices):
                if r["reason"] != BLOCKED:
                    blocked[r["id"]] = BLOCKED
            elif len(jobs) < limit:
                rows_in[r["id"]] = r
                jobs.append(job)
        if len(page) < limit:
            break
        after = (page[-1]["submit_time"], page[-1]["id"])
    return rows_in, jobs, blocked


def hold_reserved_capacity(uow: UnitOfWork, table: PoolTable, running: list[RunningJob], pending_tenants: set[str],
                           free: dict[int, int], now: float) -> dict[int, int]:
    """The open reservations' holds (``market.reserved.reserved_holds``) over this snapshot's pools."""
    index = {f"{table.site_names[table.site_of[i]]}/{table.pool_names[i]}": i for i in range(table.n)}
    return reserved_holds([state_of(r) for r in uow.market.reservations(status="open")], index,
                          [int(c) for c in table.capacity], [float(t) / 1000.0 for t in table.fp16_tflops],
                          [PoolUse(x.pool, x.job.tenant, x.count) for x in running], pending_tenants, free, now)
