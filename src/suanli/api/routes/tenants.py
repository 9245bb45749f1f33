"""Tenants and queues."""

from __future__ import annotations

from fastapi import APIRouter

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.render import JSON, ok
from suanli.api.responses import QueueList, QueuePublic, TenantList, TenantPublic
from suanli.api.schemas import QueueCreate, TenantCreate, TenantUpdate
from suanli.services import tenancy as svc

router = APIRouter(prefix="/v1", tags=["tenants"], responses=V1)


@router.post("/tenants", status_code=201, response_model=TenantPublic)
def create_tenant(body: TenantCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.create_tenant(p, caller, **body.model_dump()), 201)


@router.get("/tenants", response_model=TenantList)
def list_tenants(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_tenants(p, caller)})


@router.get("/tenants/{name}", response_model=TenantPublic)
def get_tenant(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.get_tenant(p, caller, name))


@router.patch("/tenants/{name}", response_model=TenantPublic)
def update_tenant(name: str, body: TenantUpdate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.update_tenant(p, caller, name, **body.model_dump(exclude_none=True)))


@router.post("/tenants/{name}/queues", status_code=201, response_model=QueuePublic)
def create_queue(name: str, body: QueueCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.create_queue(p, caller, name, **body.model_dump()), 201)


@router.get("/tenants/{name}/queues", response_model=QueueList)
def list_queues(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_queues(p, caller, name)})
