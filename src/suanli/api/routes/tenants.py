"""Tenants and queues."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.render import JSON, ok
from suanli.api.schemas import QueueCreate, TenantCreate, TenantPublic, TenantUpdate
from suanli.services import tenancy as svc

router = APIRouter(prefix="/v1", tags=["tenants"])
TENANT: dict[int | str, dict[str, Any]] = {200: {"model": TenantPublic}}


@router.post("/tenants", status_code=201, responses={201: {"model": TenantPublic}})
def create_tenant(body: TenantCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.create_tenant(p, caller, **body.model_dump()), 201)


@router.get("/tenants")
def list_tenants(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_tenants(p, caller)})


@router.get("/tenants/{name}", responses=TENANT)
def get_tenant(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.get_tenant(p, caller, name))


@router.patch("/tenants/{name}", responses=TENANT)
def update_tenant(name: str, body: TenantUpdate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.update_tenant(p, caller, name, **body.model_dump(exclude_none=True)))


@router.post("/tenants/{name}/queues", status_code=201)
def create_queue(name: str, body: QueueCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.create_queue(p, caller, name, **body.model_dump()), 201)


@router.get("/tenants/{name}/queues")
def list_queues(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_queues(p, caller, name)})
