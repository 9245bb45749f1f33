"""Metered usage: PF16-hours, energy (kWh, PUE included), carbon (kg CO2) and cost per
placement, summed per job, tenant or site. Finished placements keep the figures written when
they ended; running ones are metered up to now on every read.

Cost is the job's one price (``market.pricing.pool_price``): until its placement is billed, each
metering period's PF16-hours (``market.usage.due_periods``, as billing splits them) at the
on-demand price of its class and grade in force when the period started, rounded to the cent as
its invoice line would be; once billed, what its invoice lines charged (``billing.bill_ended`` writes
it), which is less where it drew on spot trades or reservations. So for the same jobs, usage's cost
equals the invoices' charges to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from suanli.domain.units import pf16_hours
from suanli.market.money import ZERO, round_money
from suanli.market.pricing import PriceHistory, pool_price
from suanli.market.usage import due_periods
from suanli.metering import carbon_kg, energy_kwh
from suanli.services.access import require
from suanli.services.errors import NotFound
from suanli.services.platform import Caller, Platform
from suanli.services.prices import price_history
from suanli.store.uow import UnitOfWork


def meter(p: Platform, uow: UnitOfWork, placement: dict[str, Any], end: float, job_class: str | None = None,
          history: PriceHistory | None = None) -> dict[str, Any]:
    """The figures of one placement of a ``job_class`` job (or the placement row's ``job_class``)
    from its start to ``end`` (``history``: the list prices, read from the store if not given)."""
    job_class = job_class or placement["job_class"]
    start = placement["started_at"]
    if start is None:
        return {"pf16h": 0.0, "energy_kwh": 0.0, "carbon_kg": 0.0, "cost": Decimal(0)}
    seconds = max(0.0, end - start)
    acc = p.catalog.get(placement["accelerator"])
    site = _site(p, uow, placement["site"])
    pf = float(pf16_hours(acc.fp16_tflops, placement["count"], seconds))
    kwh = energy_kwh(acc, placement["count"], seconds, site["pue"])
    co2 = carbon_kg(kwh, site["carbon"], site["green_share"])
    history = history or price_history(p, uow)
    periods = due_periods(start, end, ended=True, period_s=p.settings.meter_s, done=0, fp16_tflops=acc.fp16_tflops,
                          count=placement["count"], total_pf16h=pf)
    cost = sum((round_money(x.pf16h * pool_price(history, acc, job_class, at=x.start)) for x in periods), ZERO)
    return {"pf16h": pf, "energy_kwh": kwh, "carbon_kg": co2, "cost": cost}


def _site(p: Platform, uow: UnitOfWork, name: str) -> dict[str, Any]:
    cache = p.cache.meter_sites
    version = uow.federation.version()
    hit = cache.get(name)
    if hit is None or hit[0] != version:
        s = uow.federation.site(name) or {}
        region = uow.federation.region(s.get("region", "")) or {"carbon_g_per_kwh": 500.0}
        carbon = s.get("carbon_g_per_kwh")
        hit = (version, {"pue": s.get("pue", 1.4), "green_share": s.get("green_share", 0.0),
                         "carbon": carbon if carbon is not None else region["carbon_g_per_kwh"]})
        cache[name] = hit
    return hit[1]


def usage(p: Platform, caller: Caller, *, by: str = "job", tenant: str | None = None, site: str | None = None,
          job_id: str | None = None) -> dict[str, Any]:
    """Usage grouped ``by`` job, tenant or site, limited to what the caller may see."""
    require(caller, "operator", "provider", "tenant")
    if by not in ("job", "tenant", "site"):
        from suanli.domain.errors import UnknownName

        raise UnknownName("grouping", by, ["job", "tenant", "site"], field="by")
    if caller.role == "tenant":
        if tenant not in (None, caller.tenant):
            raise NotFound(f"no tenant {tenant!r} that you can see", field="tenant")
        tenant = caller.tenant
    now = p.now()
    with p.uow() as uow:
        sites = None
        if caller.role == "provider":
            sites = [s["name"] for s in uow.federation.sites(provider=caller.provider)]
        if site is not None:
            if sites is not None and site not in sites:
                raise NotFound(f"no site {site!r} among your sites", field="site")
            sites = [site]
        rows = uow.jobs.usage_rows(tenant=tenant, sites=sites, job_id=job_id)
        history = price_history(p, uow)
        groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"pf16h": 0.0, "energy_kwh": 0.0, "carbon_kg": 0.0,
                                                                 "cost": Decimal(0), "runtime_s": 0.0,
                                                                 "placements": 0, "running": 0})
        for r in rows:
            live = r["ended_at"] is None
            figures = meter(p, uow, r, now, r["job_class"], history) if live else r
            key = {"job": r["job_id"], "tenant": r["tenant"], "site": r["site"]}[by]
            g = groups[key]
            g["pf16h"] += figures["pf16h"]
            g["energy_kwh"] += figures["energy_kwh"]
            g["carbon_kg"] += figures["carbon_kg"]
            g["cost"] += Decimal(figures["cost"])
            g["runtime_s"] += (r["ended_at"] or now) - r["started_at"]
            g["placements"] += 1
            g["running"] += int(live)
    items = [{by: k, **{f: (round(v, 6) if isinstance(v, float) else v) for f, v in g.items()}}
             for k, g in sorted(groups.items())]
    total = {f: sum((i[f] for i in items), Decimal(0) if f == "cost" else 0.0)
             for f in ("pf16h", "energy_kwh", "carbon_kg", "cost")}
    return {"by": by, "items": items, "total": total, "at": now}
