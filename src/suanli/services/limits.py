"""The limits read model: per tenant and per queue, the declared quota and budgets and what is left
of them now, as the values the scheduling core reads (``TenantState``, ``QueueState``).

What a budget has spent in its period (a UTC day or month, or all time;
``domain.federation.budget_period_start``) is:

1. the invoice lines of usage that started in the period (hourly records of running work
   included), net of SLA credits, and their PF16-hours;
2. plus the usage not billed yet: of an ended placement, the share of its metered cost and
   PF16-hours after its last billed period; of a running one, the PF16-hours since its last billed
   period, at its job's price on its pool in the snapshot (``market.pricing``: its class's price).

A tenant's figures are the sum over its queues (plus lines of no job: a reservation's unused part).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from suanli.domain.federation import budget_period_start
from suanli.domain.units import pf16_hours
from suanli.scheduling import QueueState, TenantState
from suanli.services.platform import Platform
from suanli.store.uow import UnitOfWork

Key = tuple[str, str | None]


def _unbilled(p: Platform, rows: Sequence[Mapping[str, Any]], now: float,
              price_of_pool: Mapping[tuple[int, str], float]) -> dict[Key, tuple[float, float]]:
    """Step 2: per (tenant, queue), the (money, PF16-h) of usage not billed yet."""
    out: dict[Key, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        billed_to = r["started_at"] + int(r["periods"]) * p.settings.meter_s
        acc = out[(r["tenant"], r["queue"])]
        if r["ended_at"] is not None:
            total = r["ended_at"] - r["started_at"]
            share = max(0.0, r["ended_at"] - billed_to) / total if total > 0 else 1.0
            acc[0] += float(r["cost"] or 0) * share
            acc[1] += float(r["pf16h"] or 0) * share
        else:
            pf = float(pf16_hours(p.catalog.get(r["accelerator"]).fp16_tflops, r["count"], max(0.0, now - billed_to)))
            acc[0] += pf * price_of_pool.get((r["pool_id"], r["job_class"]), 0.0)
            acc[1] += pf
    return {k: (v[0], v[1]) for k, v in out.items()}


class _Spent:
    """What each (tenant, queue) has spent since each period start asked for (one query per start)."""

    def __init__(self, p: Platform, uow: UnitOfWork, now: float,
                 price_of_pool: Mapping[tuple[int, str], float]) -> None:
        self.p, self.uow, self.now, self.price_of_pool = p, uow, now, price_of_pool
        self.unbilled: dict[Key, tuple[float, float]] | None = None     # read on first use
        self.by_since: dict[float, dict[Key, tuple[int, int]]] = {}

    def of(self, since: float, tenant: str, queue: str | None) -> tuple[float, float]:
        """(money, PF16-h) spent since ``since`` by a queue, or by the whole tenant if ``queue`` is None."""
        lines = self.by_since.get(since)
        if lines is None:
            lines = self.by_since[since] = self.uow.ledger.spent_since(since)
        if self.unbilled is None:
            self.unbilled = _unbilled(self.p, self.uow.ledger.unbilled_usage(), self.now, self.price_of_pool)

        def mine(key: Key) -> bool:
            return key[0] == tenant and (queue is None or key[1] == queue)

        billed = [v for k, v in lines.items() if mine(k)]                 # step 1: cents, 10**-6 PF16-h
        pending = [v for k, v in self.unbilled.items() if mine(k)]        # step 2: money, PF16-h
        return (sum(c for c, _ in billed) / 100.0 + sum(m for m, _ in pending),
                sum(u for _, u in billed) / 1e6 + sum(x for _, x in pending))


def _left(limit: Any, spent: float) -> float | None:
    return float(limit) - spent if limit is not None else None


def tenant_states(p: Platform, uow: UnitOfWork, now: float, *, usage: Mapping[str, tuple[float, float]],
                  in_use: Mapping[Key, float], price_of_pool: Mapping[tuple[int, str], float]
                  ) -> dict[str, TenantState]:
    """Every tenant's ``TenantState`` with its queues' ``QueueState``s. ``in_use``: PFLOPS held per
    (tenant, None) and per (tenant, queue); ``usage``: fair-share PF16-h per tenant."""
    spent = _Spent(p, uow, now, price_of_pool)
    queues: dict[str, dict[str, QueueState]] = defaultdict(dict)
    for q in uow.tenancy.queues():
        declared = q["budget"] is not None or q["budget_pf16h"] is not None
        money, pf = spent.of(budget_period_start(q["budget_per"], now), q["tenant"], q["name"]) if declared \
            else (0.0, 0.0)
        queues[q["tenant"]][q["name"]] = QueueState(
            in_use_pflops=in_use.get((q["tenant"], q["name"]), 0.0), quota_pflops=q["quota_pf16"],
            budget_left=_left(q["budget"], money), pf16h_left=_left(q["budget_pf16h"], pf),
            budget=float(q["budget"]) if q["budget"] is not None else None, budget_pf16h=q["budget_pf16h"],
            budget_per=q["budget_per"] or "")
    out = {}
    for t in uow.tenancy.tenants():
        name = t["name"]
        declared = t["budget"] is not None or t["budget_pf16h"] is not None
        money, pf = spent.of(budget_period_start(t["budget_per"], now), name, None) if declared else (0.0, 0.0)
        out[name] = TenantState(
            usage_pf16h=usage.get(name, (0.0, 0.0))[0], in_use_pflops=in_use.get((name, None), 0.0),
            quota_pflops=t["quota_pf16"], budget_left=_left(t["budget"], money), weight=t["weight"],
            pf16h_left=_left(t["budget_pf16h"], pf), budget=float(t["budget"]) if t["budget"] is not None else None,
            budget_pf16h=t["budget_pf16h"], budget_per=t["budget_per"] or "",
            queues={q: s for q, s in queues.get(name, {}).items()
                    if s.quota_pflops is not None or s.budget_left is not None or s.pf16h_left is not None})
    return out
