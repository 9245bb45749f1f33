"""Tenants and queues: operators create and change them; a tenant reads its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from suanli.domain.errors import UnknownName
from suanli.services.access import require
from suanli.services.errors import Conflict, NotFound
from suanli.services.platform import Caller, Platform


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def create_tenant(p: Platform, caller: Caller, *, name: str, home_region: str | None = None,
                  quota_pf16: float | None = None, budget: Any = None, weight: float = 1.0,
                  budget_pf16h: float | None = None, budget_per: str | None = None) -> dict[str, Any]:
    require(caller, "operator")
    with p.uow() as uow:
        if uow.tenancy.tenant(name):
            raise Conflict(f"tenant {name!r} exists; pick another name", field="name")
        if home_region is not None and uow.federation.region(home_region) is None:
            raise UnknownName("region", home_region, [r["name"] for r in uow.federation.regions()],
                              field="home_region")
        uow.tenancy.add_tenant(name=name, home_region=home_region, quota_pf16=quota_pf16, budget=_dec(budget),
                               budget_pf16h=budget_pf16h, budget_per=budget_per, weight=weight, created_at=p.now())
        uow.tenancy.add_queue(tenant=name, name="default", priority_class=0)
        uow.audit.record(p.now(), caller.actor, caller.role, "tenant.create", name)
        return _view(uow.tenancy.tenant(name) or {}, uow.tenancy.queues(name))


def _view(t: dict[str, Any], queues: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(t)
    out["queues"] = [dict(q) for q in queues]
    return out


def list_tenants(p: Platform, caller: Caller) -> list[dict[str, Any]]:
    require(caller, "operator", "tenant")
    with p.uow() as uow:
        rows = uow.tenancy.tenants()
        queues = uow.tenancy.queues()
    return [_view(t, [q for q in queues if q["tenant"] == t["name"]]) for t in rows
            if caller.role == "operator" or t["name"] == caller.tenant]


def get_tenant(p: Platform, caller: Caller, name: str) -> dict[str, Any]:
    for t in list_tenants(p, caller):
        if t["name"] == name:
            return t
    raise NotFound(f"no tenant {name!r} that you can see", field="name")


def update_tenant(p: Platform, caller: Caller, name: str, **values: Any) -> dict[str, Any]:
    require(caller, "operator")
    values = {k: v for k, v in values.items() if v is not None}
    if "budget" in values:
        values["budget"] = _dec(values["budget"])
    with p.uow() as uow:
        if uow.tenancy.tenant(name) is None:
            raise NotFound(f"no tenant {name!r}", field="name")
        if values:
            uow.tenancy.update_tenant(name, **values)
            uow.audit.record(p.now(), caller.actor, caller.role, "tenant.update", name, **values)
    p.cache.queues = None
    return get_tenant(p, caller, name)


def create_queue(p: Platform, caller: Caller, tenant: str, *, name: str, quota_pf16: float | None = None,
                 priority_class: int = 0, budget: Any = None, budget_pf16h: float | None = None,
                 budget_per: str | None = None) -> dict[str, Any]:
    require(caller, "operator")
    with p.uow() as uow:
        if uow.tenancy.tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}", field="tenant")
        if uow.tenancy.queue(tenant, name):
            raise Conflict(f"tenant {tenant!r} already has a queue {name!r}", field="name")
        uow.tenancy.add_queue(tenant=tenant, name=name, quota_pf16=quota_pf16, priority_class=priority_class,
                              budget=_dec(budget), budget_pf16h=budget_pf16h, budget_per=budget_per)
        uow.audit.record(p.now(), caller.actor, caller.role, "queue.create", f"{tenant}/{name}")
        row = uow.tenancy.queue(tenant, name) or {}
    p.cache.queues = None
    return row


def list_queues(p: Platform, caller: Caller, tenant: str) -> list[dict[str, Any]]:
    return get_tenant(p, caller, tenant)["queues"]  # type: ignore[no-any-return]
