"""Providers, regions, sites and pools: register, update, drain, list (scoped), and the
federation as domain values (``load_domain_federation``) for the control loop and for checks.

Scope: operators see and change everything; a provider only its own sites; tenants read the
site list (where their jobs may run); agents only their own site.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from suanli.config.federation_file import load_federation
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.domain.federation import BudgetPer, EngineKind, Federation, Link, Pool, Region, Site, Tenant, Tier
from suanli.domain.federation import Queue as DomainQueue
from suanli.metering.capacity import Capacity
from suanli.services.access import require
from suanli.services.errors import Conflict, Forbidden, NotFound
from suanli.services.platform import Caller, Platform
from suanli.store.uow import UnitOfWork

SITE_FIELDS = ("region", "tier", "engine", "pue", "green_share", "carbon_g_per_kwh", "price_per_pf16h")


# -- providers and regions -----------------------------------------------------------------------
def create_provider(p: Platform, caller: Caller, name: str, display_name: str = "") -> dict[str, Any]:
    require(caller, "operator")
    with p.uow() as uow:
        if uow.federation.provider(name):
            raise Conflict(f"provider {name!r} exists; pick another name", field="name")
        uow.federation.add_provider(name=name, display_name=display_name, created_at=p.now())
        uow.audit.record(p.now(), caller.actor, caller.role, "provider.create", name)
        return uow.federation.provider(name) or {}


def list_providers(p: Platform, caller: Caller) -> list[dict[str, Any]]:
    require(caller, "operator", "provider")
    with p.uow() as uow:
        rows = uow.federation.providers()
    return [r for r in rows if caller.role == "operator" or r["name"] == caller.provider]


def get_provider(p: Platform, caller: Caller, name: str) -> dict[str, Any]:
    for r in list_providers(p, caller):
        if r["name"] == name:
            return r
    raise NotFound(f"no provider {name!r}", field="name")


def create_region(p: Platform, caller: Caller, name: str, grid_zone: str = "",
                  carbon_g_per_kwh: float = 500.0) -> dict[str, Any]:
    require(caller, "operator")
    with p.uow() as uow:
        if uow.federation.region(name):
            raise Conflict(f"region {name!r} exists", field="name")
        uow.federation.add_region(name=name, grid_zone=grid_zone, carbon_g_per_kwh=carbon_g_per_kwh)
        uow.audit.record(p.now(), caller.actor, caller.role, "region.create", name)
        return uow.federation.region(name) or {}


def list_regions(p: Platform, caller: Caller) -> list[dict[str, Any]]:
    with p.uow() as uow:
        return uow.federation.regions()


# -- sites and pools -----------------------------------------------------------------------------
def _site_view(site: dict[str, Any], pools: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(site)
    out["live"] = json.loads(out.get("live") or "{}")
    out["engine_options"] = json.loads(out.get("engine_options") or "{}")
    out["pools"] = [_pool_view(pl) for pl in pools if pl["site"] == site["name"]]
    out["available"] = site["state"] == "active" and site["health"] == "up"
    return out


def fresh_observation(pool: dict[str, Any], now: float, lease_s: float) -> int | None:
    """The accelerators a pool's engine reported, if reported within three leases (an agent that
    stopped reporting an inventory, or a site that went down, leaves only the declared size)."""
    seen, at = pool.get("observed_total"), pool.get("observed_at")
    if seen is None or at is None or now - float(at) > 3 * lease_s:
        return None
    return int(seen)


def _pool_view(pool: dict[str, Any]) -> dict[str, Any]:
    """A pool with what its engine last reported beside what was declared."""
    out = dict(pool)
    out["observed"] = json.loads(out.get("observed") or "{}")
    out["declared"] = pool["per_node"] * pool["nodes"]
    return out


def _visible_site(uow: UnitOfWork, caller: Caller, name: str) -> dict[str, Any]:
    site = uow.federation.site(name)
    if site is None or (caller.role == "provider" and site["provider"] != caller.provider) or (
            caller.role == "agent" and caller.site != name):
        raise NotFound(f"no site {name!r} among the sites you can see", field="site")
    return site


def _check_site_values(uow: UnitOfWork, values: dict[str, Any]) -> None:
    if "region" in values and values["region"] is not None and uow.federation.region(values["region"]) is None:
        raise UnknownName("region", values["region"], [r["name"] for r in uow.federation.regions()], field="region")
    if "tier" in values:
        _enum(Tier, values["tier"], "tier")
    if "engine" in values:
        _enum(EngineKind, values["engine"], "engine")


def _enum(kind: Any, value: str, field: str) -> None:
    valid = [e.value for e in kind]
    if value not in valid:
        raise UnknownName(field, value, valid, field=field)


def create_site(p: Platform, caller: Caller, *, name: str, provider: str | None, region: str,
                pools: list[dict[str, Any]] = (), **values: Any) -> dict[str, Any]:  # type: ignore[assignment]
    require(caller, "operator", "provider")
    if caller.role == "provider":
        if provider not in (None, caller.provider):
            raise Forbidden("a provider registers sites only for itself", field="provider")
        provider = caller.provider
    if not provider:
        raise InvalidInput("a site needs a provider", field="provider", value=provider,
                           fix="give the name of a registered provider")
    with p.uow() as uow:
        if uow.federation.provider(provider) is None:
            raise NotFound(f"no provider {provider!r}; register it first", field="provider")
        if uow.federation.site(name):
            raise Conflict(f"site {name!r} exists; pick another name", field="name")
        _check_site_values(uow, {"region": region, **values})
        values["price_per_pf16h"] = Decimal(str(values.get("price_per_pf16h", 10)))
        uow.federation.add_site(name=name, provider=provider, region=region, created_at=p.now(),
                                state="active", health="unknown", live="{}", **values)
        for i, pool in enumerate(pools):
            _add_pool(p, uow, name, pool, where=f"pools[{i}]")
        uow.audit.record(p.now(), caller.actor, caller.role, "site.create", name, provider=provider,
                         region=region, pools=[pl.get("name") for pl in pools])
        return _site_view(uow.federation.site(name) or {}, uow.federation.pools(name))


def _add_pool(p: Platform, uow: UnitOfWork, site: str, pool: dict[str, Any], where: str = "") -> None:
    field = f"{where}.accelerator" if where else "accelerator"
    acc = p.catalog.get(pool["accelerator"], field=field)
    pool = dict(pool)
    pool["accelerator"] = acc.id
    pool["name"] = pool.get("name") or acc.id
    if any(x["name"] == pool["name"] for x in uow.federation.pools(site)):
        raise Conflict(f"site {site!r} already has a pool {pool['name']!r}", field=f"{where}.name".lstrip("."))
    uow.federation.add_pool(site=site, **pool)


def add_pool(p: Platform, caller: Caller, site: str, pool: dict[str, Any]) -> dict[str, Any]:
    require(caller, "operator", "provider")
    with p.uow() as uow:
        _visible_site(uow, caller, site)
        _add_pool(p, uow, site, pool)
        uow.audit.record(p.now(), caller.actor, caller.role, "pool.create", f"{site}/{pool.get('name')}", **pool)
        return _site_view(uow.federation.site(site) or {}, uow.federation.pools(site))


def update_site(p: Platform, caller: Caller, name: str, **values: Any) -> dict[str, Any]:
    require(caller, "operator", "provider")
    values = {k: v for k, v in values.items() if v is not None}
    with p.uow() as uow:
        _visible_site(uow, caller, name)
        _check_site_values(uow, values)
        if "price_per_pf16h" in values:
            values["price_per_pf16h"] = Decimal(str(values["price_per_pf16h"]))
        if "state" in values and values["state"] not in ("active", "draining"):
            raise UnknownName("state", values["state"], ["active", "draining"], field="state")
        if values:
            uow.federation.update_site(name, **values)
            uow.audit.record(p.now(), caller.actor, caller.role, "site.update", name, **values)
        return _site_view(uow.federation.site(name) or {}, uow.federation.pools(name))


def drain_site(p: Platform, caller: Caller, name: str, drain: bool = True) -> dict[str, Any]:
    """Draining: running jobs finish, no new placements go to the site."""
    return update_site(p, caller, name, state="draining" if drain else "active")


def list_sites(p: Platform, caller: Caller) -> list[dict[str, Any]]:
    with p.uow() as uow:
        sites = uow.federation.sites(provider=caller.provider if caller.role == "provider" else None)
        pools = uow.federation.pools()
    if caller.role == "agent":
        sites = [s for s in sites if s["name"] == caller.site]
    return [_site_view(s, pools) for s in sites]


def get_site(p: Platform, caller: Caller, name: str) -> dict[str, Any]:
    with p.uow() as uow:
        site = _visible_site(uow, caller, name)
        return _site_view(site, uow.federation.pools(name))


# -- the domain federation -----------------------------------------------------------------------
def load_domain_federation(p: Platform, uow: UnitOfWork) -> tuple[Federation, dict[tuple[str, str], int], int]:
    """The federation as domain values, the store id of each (site, pool) and the version it was
    read at. Cached per process until sites or pools change."""
    version = uow.federation.version()
    hit = p.cache.federation
    if hit is not None and hit[2] == version:
        return hit  # type: ignore[no-any-return]
    regions = tuple(Region(r["name"], r["grid_zone"], r["carbon_g_per_kwh"]) for r in uow.federation.regions())
    links = tuple(Link(x["src"], x["dst"], x["rtt_ms"], x["bandwidth_gbps"], x["egress_per_gb"])
                  for x in uow.federation.links())
    all_pools = uow.federation.pools()
    pool_ids: dict[tuple[str, str], int] = {}
    sites = []
    for s in uow.federation.sites():
        pools = []
        for pl in all_pools:
            if pl["site"] == s["name"]:
                pools.append(Pool(pl["name"], p.catalog.get(pl["accelerator"]), pl["per_node"], pl["nodes"],
                                  pl["cpus_per_node"], pl["memory_gb_per_node"]))
                pool_ids[(s["name"], pl["name"])] = pl["id"]
        sites.append(Site(name=s["name"], region=s["region"], tier=Tier(s["tier"]), owner=s["provider"],
                          engine=EngineKind(s["engine"]), pue=s["pue"], green_share=s["green_share"],
                          carbon_g_per_kwh=s["carbon_g_per_kwh"], price_per_pf16h=float(s["price_per_pf16h"]),
                          pools=tuple(pools)))
    tenants = []
    queues = uow.tenancy.queues()
    for t in uow.tenancy.tenants():
        tq = tuple(DomainQueue(q["name"], q["quota_pf16"], q["priority_class"],
                               float(q["budget"]) if q["budget"] is not None else None, q["budget_pf16h"],
                               BudgetPer(q["budget_per"]) if q["budget_per"] else None)
                   for q in queues if q["tenant"] == t["name"])
        tenants.append(Tenant(t["name"], t["home_region"], tq or (DomainQueue("default"),), t["quota_pf16"],
                              float(t["budget"]) if t["budget"] is not None else None, t["weight"],
                              t["budget_pf16h"], BudgetPer(t["budget_per"]) if t["budget_per"] else None))
    fed = Federation(name="store", regions=regions, links=links, sites=tuple(sites), tenants=tuple(tenants))
    out = (fed, pool_ids, version)
    p.cache.federation = out
    return out


def _per(per: BudgetPer | None) -> str | None:
    return per.value if per is not None else None


def schedulable_now(p: Platform, uow: UnitOfWork, fed: Federation) -> tuple[set[str], Capacity]:
    """The sites that are up (active, agent holding its lease) and their schedulable capacity: each
    pool at the smaller of its declared size and what its engine reported within three leases."""
    from suanli.metering.capacity import schedulable_capacity

    up = {s["name"] for s in uow.federation.sites() if s["state"] == "active" and s["health"] == "up"}
    now = p.now()
    observed = {(pl["site"], pl["name"]): n for pl in uow.federation.pools()
                if (n := fresh_observation(pl, now, p.settings.lease_s)) is not None}
    return up, schedulable_capacity(fed, up, observed)


def federation_summary(p: Platform, caller: Caller) -> dict[str, Any]:
    """Capacity in PFLOPS FP16/FP32 by site, region and tier; utilization; the queue."""
    from suanli.metering.capacity import capacity_summary

    require(caller, "operator", "provider", "tenant")
    with p.uow() as uow:
        fed, _, _ = load_domain_federation(p, uow)
        counts = uow.jobs.count_by_state()
        active = uow.jobs.placements(states=("assigned", "leased", "running"), limit=100000)
        sites = {s["name"]: s for s in uow.federation.sites()}
        _, schedulable = schedulable_now(p, uow, fed)
    summary = capacity_summary(fed).as_dict()
    summary["schedulable"] = schedulable.as_dict()
    used: dict[str, int] = {}
    for pl in active:
        used[pl["site"]] = used.get(pl["site"], 0) + pl["count"]
    total = max(1, sum(s.capacity for s in fed.sites))
    summary["utilization"] = {
        "total": round(sum(used.values()) / total, 4),
        "by_site": {s.name: round(used.get(s.name, 0) / max(1, s.capacity), 4) for s in fed.sites},
    }
    summary["sites"] = {n: {"state": s["state"], "health": s["health"], "region": s["region"], "tier": s["tier"],
                            "engine": s["engine"]}
                        for n, s in sites.items()}
    summary["queue"] = {"pending": counts.get("pending", 0), "placed": counts.get("placed", 0),
                        "running": counts.get("running", 0), "by_state": counts}
    return summary


# -- seeding from a federation file ----------------------------------------------------------------
def seed_from_file(p: Platform, name_or_path: str) -> Federation:
    """Load a federation YAML into an empty store (regions, links, providers, sites, pools,
    tenants, queues). Idempotent: objects that exist are left alone."""
    from suanli.services.platform import SYSTEM

    fed = load_federation(name_or_path, p.catalog)
    now = p.now()
    with p.uow() as uow:
        for r in fed.regions:
            if uow.federation.region(r.name) is None:
                uow.federation.add_region(name=r.name, grid_zone=r.grid_zone, carbon_g_per_kwh=r.carbon_g_per_kwh)
        known = {(x["src"], x["dst"]) for x in uow.federation.links()}
        for link in fed.links:
            if (link.src, link.dst) not in known:
                uow.federation.add_link(src=link.src, dst=link.dst, rtt_ms=link.rtt_ms,
                                        bandwidth_gbps=link.bandwidth_gbps, egress_per_gb=link.egress_per_gb)
        for s in fed.sites:
            if uow.federation.provider(s.owner) is None:
                uow.federation.add_provider(name=s.owner, display_name=s.owner, created_at=now)
            if uow.federation.site(s.name) is None:
                uow.federation.add_site(name=s.name, provider=s.owner, region=s.region, tier=s.tier.value,
                                        engine=s.engine.value, engine_options=json.dumps(dict(s.engine_options)),
                                        pue=s.pue, green_share=s.green_share,
                                        carbon_g_per_kwh=s.carbon_g_per_kwh,
                                        price_per_pf16h=Decimal(str(s.price_per_pf16h)), state="active",
                                        health="unknown", live="{}", created_at=now)
                for pl in s.pools:
                    uow.federation.add_pool(site=s.name, name=pl.name, accelerator=pl.accelerator.id,
                                            per_node=pl.per_node, nodes=pl.nodes, cpus_per_node=pl.cpus_per_node,
                                            memory_gb_per_node=pl.memory_gb_per_node)
        for t in fed.tenants:
            if uow.tenancy.tenant(t.name) is None:
                uow.tenancy.add_tenant(name=t.name, home_region=t.home_region, quota_pf16=t.quota_pf16,
                                       budget=Decimal(str(t.budget)) if t.budget is not None else None,
                                       budget_pf16h=t.budget_pf16h, budget_per=_per(t.budget_per),
                                       weight=t.weight, created_at=now)
                for q in t.queues:
                    uow.tenancy.add_queue(tenant=t.name, name=q.name, quota_pf16=q.quota_pf16,
                                          priority_class=q.priority_class,
                                          budget=Decimal(str(q.budget)) if q.budget is not None else None,
                                          budget_pf16h=q.budget_pf16h, budget_per=_per(q.budget_per))
        uow.audit.record(now, SYSTEM.actor, SYSTEM.role, "federation.seed", str(name_or_path))
    return fed
