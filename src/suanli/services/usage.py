"""Metered usage: PF16-hours, energy (kWh, PUE included), carbon (kg CO2) and cost per
placement, summed per job, tenant or site. Finished placements keep the figures written when
they ended; running ones are metered up to now on every read.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from suanli.domain.units import pf16_hours
from suanli.metering import carbon_kg, energy_kwh
from suanli.services.access import require
from suanli.services.errors import NotFound
from suanli.services.platform import Caller, Platform
from suanli.store.uow import UnitOfWork

CENT = Decimal("0.000001")


def meter(p: Platform, uow: UnitOfWork, placement: dict[str, Any], end: float) -> dict[str, Any]:
    """The figures of one placement from its start to ``end``."""
    start = placement["started_at"]
    if start is None:
        return {"pf16h": 0.0, "energy_kwh": 0.0, "carbon_kg": 0.0, "cost": Decimal(0)}
    seconds = max(0.0, end - start)
    acc = p.catalog.get(placement["accelerator"])
    site = _site(p, uow, placement["site"])
    pf = float(pf16_hours(acc.fp16_tflops, placement["count"], seconds))
    kwh = energy_kwh(acc, placement["count"], seconds, site["pue"])
    co2 = carbon_kg(kwh, site["carbon"], site["green_share"])
    cost = (Decimal(str(pf)) * Decimal(site["price_per_pf16h"])).quantize(CENT, ROUND_HALF_UP)
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
                         "carbon": carbon if carbon is not None else region["carbon_g_per_kwh"],
                         "price_per_pf16h": s.get("price_per_pf16h", 0)})
        cache[name] = hit
    return hit[1]  # type: ignore[no-any-return]


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
        groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"pf16h": 0.0, "energy_kwh": 0.0, "carbon_kg": 0.0,
                                                                 "cost": Decimal(0), "runtime_s": 0.0,
                                                                 "placements": 0, "running": 0})
        for r in rows:
            live = r["ended_at"] is None
            figures = meter(p, uow, r, now) if live else r
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
