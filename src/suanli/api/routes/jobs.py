"""Jobs: submit (with ``Idempotency-Key``), list, get, cancel, logs, explain; placements; usage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.render import JSON, ok
from suanli.api.schemas import JobCreate, JobList, JobPublic
from suanli.services import agents, jobs, usage
from suanli.services.batching import SubmitBatcher
from suanli.services.platform import Platform

router = APIRouter(prefix="/v1", tags=["jobs"])


def batcher(p: Platform) -> SubmitBatcher:
    b = p.cache.get("submit_batcher")
    if b is None:
        b = p.cache["submit_batcher"] = SubmitBatcher(p)
    return b  # type: ignore[no-any-return,unused-ignore]
JOB: dict[int | str, dict[str, Any]] = {200: {"model": JobPublic}}


@router.post("/jobs", status_code=201, responses={201: {"model": JobPublic}, 200: {"model": JobPublic}})
async def submit(body: JobCreate, p: PlatformDep, caller: CallerDep,
                 idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> JSON:
    spec = body.model_dump(exclude={"tenant"})
    job, created = await batcher(p).submit(caller, spec, tenant=body.tenant, idempotency_key=idempotency_key)
    return ok(job, 201 if created else 200, headers={"Location": f"/v1/jobs/{job['id']}"})


@router.get("/jobs", responses={200: {"model": JobList}})
def list_jobs(p: PlatformDep, caller: CallerDep, tenant: str | None = None,
              state: Annotated[list[str] | None, Query()] = None, site: str | None = None, queue: str | None = None,
              cursor: str | None = None, limit: int = Query(50, ge=1, le=1000)) -> JSON:
    items, nxt = jobs.list_jobs(p, caller, tenant=tenant, states=state, site=site, queue=queue, cursor=cursor,
                                limit=limit)
    return ok({"items": items, "next": nxt})


@router.get("/jobs/{job_id}", responses=JOB)
def get_job(job_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(jobs.get_job(p, caller, job_id))


@router.post("/jobs/{job_id}/cancel", responses=JOB)
def cancel_job(job_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(jobs.cancel(p, caller, job_id))


@router.get("/jobs/{job_id}/logs")
def job_logs(job_id: str, p: PlatformDep, caller: CallerDep, after: int = Query(0, ge=0),
             limit: int = Query(1000, ge=1, le=10000)) -> JSON:
    return ok(jobs.logs(p, caller, job_id, after=after, limit=limit))


@router.get("/jobs/{job_id}/explain")
def explain_job(job_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(jobs.explain(p, caller, job_id))


@router.get("/placements")
def list_placements(p: PlatformDep, caller: CallerDep, site: str | None = None, job_id: str | None = None,
                    state: Annotated[list[str] | None, Query()] = None,
                    limit: int = Query(200, ge=1, le=1000)) -> JSON:
    return ok({"items": agents.list_placements(p, caller, site=site, job_id=job_id, states=state, limit=limit)})


@router.get("/usage")
def get_usage(p: PlatformDep, caller: CallerDep, by: str = "job", tenant: str | None = None,
              site: str | None = None, job_id: str | None = None) -> JSON:
    return ok(usage.usage(p, caller, by=by, tenant=tenant, site=site, job_id=job_id))
