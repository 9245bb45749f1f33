"""Jobs: submit (with ``Idempotency-Key``), list, get, cancel, logs, explain; placements; usage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from suanli.api import errors
from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.openapi import errors as documented
from suanli.api.render import JSON, error, ok
from suanli.api.responses import (
    JobDetail,
    JobExplain,
    JobList,
    JobLogs,
    JobPublic,
    PlacementList,
    UsagePublic,
)
from suanli.api.schemas import OFFSET, JobCreate
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.services import agents, jobs, ratelimit, tokens, usage
from suanli.services.batching import SubmitBatcher
from suanli.services.errors import ServiceError
from suanli.services.platform import Platform

router = APIRouter(prefix="/v1", tags=["jobs"], responses=V1)


def batcher(p: Platform) -> SubmitBatcher:
    b = p.submit_batcher
    if b is None:
        b = p.submit_batcher = SubmitBatcher(p)
    return b  # type: ignore[no-any-return,unused-ignore]


SUBMIT_DOC: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/JobCreate"}}}},
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "maxLength": 128},
                    "description": "the same key from the same tenant returns the job it first created"}],
}


@router.post("/jobs", status_code=201, response_model=JobPublic,
             responses={200: {"model": JobPublic, "description": "the job this Idempotency-Key first created"},
                        **documented(429)},
             openapi_extra=SUBMIT_DOC)
async def submit(request: Request) -> JSON:
    """The hot path, and the only submit route: no FastAPI dependencies (their per-request solving
    was most of a submission's CPU on a small machine); the bearer token, ``JobCreate`` (validated
    from the raw body by pydantic's JSON parser) and ``Idempotency-Key`` are read here, and the job
    is stored by group commit through ``SubmitBatcher``. Errors are the API's usual JSON errors."""
    p = request.app.state.platform
    try:
        scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
        caller = tokens.authenticate(p, secret.strip() if scheme.lower() == "bearer" else None)
        if caller.tenant is not None:
            ratelimit.take_submission(p, caller.tenant)
        key = request.headers.get("idempotency-key")
        if key is not None and len(key) > 128:
            return error(422, "invalid_field", "idempotency-key: at most 128 characters; fix: send a shorter key",
                         "idempotency-key")
        try:
            body = JobCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            return errors.validation_error(list(exc.errors(include_url=False)))  # type: ignore[no-any-return]
        if caller.tenant is None and body.tenant is not None:     # an operator, on a tenant's behalf
            ratelimit.take_submission(p, body.tenant)
        job, created = await batcher(p).submit(caller, body.model_dump(exclude={"tenant"}), tenant=body.tenant,
                                               idempotency_key=key)
    except ServiceError as exc:
        return errors.service_error(exc)  # type: ignore[no-any-return]
    except InvalidInput as exc:
        return error(422, "unknown_name" if isinstance(exc, UnknownName) else "invalid_input", exc.render(), exc.field)
    return ok(job, 201 if created else 200, headers={"Location": f"/v1/jobs/{job['id']}"})


@router.get("/jobs", response_model=JobList)
def list_jobs(p: PlatformDep, caller: CallerDep, tenant: str | None = None,
              state: Annotated[list[str] | None, Query()] = None, site: str | None = None, queue: str | None = None,
              cursor: str | None = None, limit: int = Query(50, ge=1, le=1000)) -> JSON:
    items, nxt = jobs.list_jobs(p, caller, tenant=tenant, states=state, site=site, queue=queue, cursor=cursor,
                                limit=limit)
    return ok({"items": items, "next": nxt})


@router.get("/jobs/{job_id}", response_model=JobDetail)
def get_job(job_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(jobs.get_job(p, caller, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobDetail)
def cancel_job(job_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(jobs.cancel(p, caller, job_id))


@router.get("/jobs/{job_id}/logs", response_model=JobLogs)
def job_logs(job_id: str, p: PlatformDep, caller: CallerDep, after: int = Query(0, ge=0, le=OFFSET),
             limit: int = Query(1000, ge=1, le=10000)) -> JSON:
    return ok(jobs.logs(p, caller, job_id, after=after, limit=limit))


@router.get("/jobs/{job_id}/explain", response_model=JobExplain)
def explain_job(job_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(jobs.explain(p, caller, job_id))


@router.get("/placements", response_model=PlacementList)
def list_placements(p: PlatformDep, caller: CallerDep, site: str | None = None, job_id: str | None = None,
                    state: Annotated[list[str] | None, Query()] = None,
                    limit: int = Query(200, ge=1, le=1000)) -> JSON:
    return ok({"items": agents.list_placements(p, caller, site=site, job_id=job_id, states=state, limit=limit)})


@router.get("/usage", response_model=UsagePublic)
def get_usage(p: PlatformDep, caller: CallerDep, by: str = "job", tenant: str | None = None,
              site: str | None = None, job_id: str | None = None) -> JSON:
    return ok(usage.usage(p, caller, by=by, tenant=tenant, site=site, job_id=job_id))
