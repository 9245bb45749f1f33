"""Providers, regions, sites and pools; the federation summary."""

from __future__ import annotations

from fastapi import APIRouter

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.render import JSON, ok
from suanli.api.responses import (
    FederationPublic,
    ProviderList,
    ProviderPublic,
    RegionList,
    RegionPublic,
    SiteList,
    SitePublic,
)
from suanli.api.schemas import PoolCreate, ProviderCreate, RegionCreate, SiteCreate, SiteUpdate
from suanli.services import federation as svc

router = APIRouter(prefix="/v1", tags=["federation"], responses=V1)


@router.post("/providers", status_code=201, response_model=ProviderPublic)
def create_provider(body: ProviderCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.create_provider(p, caller, body.name, body.display_name), 201)


@router.get("/providers", response_model=ProviderList)
def list_providers(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_providers(p, caller)})


@router.get("/providers/{name}", response_model=ProviderPublic)
def get_provider(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.get_provider(p, caller, name))


@router.post("/regions", status_code=201, response_model=RegionPublic)
def create_region(body: RegionCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.create_region(p, caller, **body.model_dump()), 201)


@router.get("/regions", response_model=RegionList)
def list_regions(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_regions(p, caller)})


@router.post("/sites", status_code=201, response_model=SitePublic)
def create_site(body: SiteCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    data = body.model_dump()
    return ok(svc.create_site(p, caller, **data), 201)


@router.get("/sites", response_model=SiteList)
def list_sites(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": svc.list_sites(p, caller)})


@router.get("/sites/{name}", response_model=SitePublic)
def get_site(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.get_site(p, caller, name))


@router.patch("/sites/{name}", response_model=SitePublic)
def update_site(name: str, body: SiteUpdate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.update_site(p, caller, name, **body.model_dump(exclude_none=True)))


@router.post("/sites/{name}/drain", response_model=SitePublic)
def drain_site(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.drain_site(p, caller, name, True))


@router.post("/sites/{name}/undrain", response_model=SitePublic)
def undrain_site(name: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.drain_site(p, caller, name, False))


@router.post("/sites/{name}/pools", status_code=201, response_model=SitePublic)
def add_pool(name: str, body: PoolCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.add_pool(p, caller, name, body.model_dump(exclude_none=True)), 201)


@router.get("/federation", response_model=FederationPublic)
def federation(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.federation_summary(p, caller))
