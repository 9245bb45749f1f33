"""Building a spot book: providers' standing pool asks and the pools' idle capacity become
auction asks; clearing results become spot contracts the scheduler can place against.

- ``asks_from_idle``: one ``Ask`` per pool with idle compute, at the pool's posted price; a pool
  whose idle quantity is below its ask's minimum is not offered (its reason is returned).
- ``spot_allocations``: per tenant, the PF16-hours it won and the trades backing them, so
  placements (and later meter records) can name the trade they draw on.

Invariants: an ask never offers more than the pool's idle quantity; ask ids are
``<site>/<pool>@<round>`` so a round's asks are unique.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal

from suanli.domain.jobs import Job
from suanli.market.auction import Ask, Clearing, Trade
from suanli.market.catalog import PoolAsk
from suanli.market.ledger import provider_account
from suanli.market.money import QTY_QUANTUM, ROUND_DOWN_QTY, ZERO


def asks_from_idle(asks: Iterable[PoolAsk], idle: Mapping[tuple[str, str], Decimal], at: float,
                   round_id: str) -> tuple[list[Ask], dict[tuple[str, str], str]]:
    """Spot asks for the idle PF16-hours of each ``(site, pool)``; returns the asks and, for each
    pool left out, why."""
    out: list[Ask] = []
    skipped: dict[tuple[str, str], str] = {}
    for a in asks:
        key = (a.site, a.pool)
        qty = idle.get(key, ZERO).quantize(QTY_QUANTUM, rounding=ROUND_DOWN_QTY)
        if qty <= 0:
            skipped[key] = "no idle capacity"
        elif qty < a.min_qty:
            skipped[key] = f"idle {idle[key]} PF16-h is below the ask's minimum {a.min_qty}"
        else:
            out.append(Ask(f"{a.site}/{a.pool}@{round_id}", provider_account(a.provider), qty, a.price, at,
                           a.grade, a.region, f"{a.site}/{a.pool}"))
    return out, skipped


def spot_allocations(clearings: Iterable[Clearing]) -> dict[str, tuple[Decimal, tuple[Trade, ...]]]:
    """PF16-hours won per tenant across books, with the trades that back them."""
    trades: dict[str, list[Trade]] = defaultdict(list)
    for c in clearings:
        for t in c.trades:
            trades[t.buyer].append(t)
    return {tenant: (sum((t.qty for t in ts), ZERO), tuple(ts)) for tenant, ts in sorted(trades.items())}


SPOT_PRIORITY_GAP = 1


def spot_view(job: Job) -> Job:
    """How the scheduler sees a job: a preemptible job runs on spot, so it ranks one priority step
    below on-demand and reserved work of its priority. The core preempts only lower-priority
    preemptible work, so an on-demand or reserved job of the same priority that needs the capacity
    preempts a spot job, and spot jobs never preempt each other."""
    if not job.preemptible:
        return job
    return replace(job, priority=job.priority - SPOT_PRIORITY_GAP)
