"""Routes a site agent calls with its agent token: heartbeat, lease, status, logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.render import JSON, ok
from suanli.api.responses import AssignmentList, HeartbeatPublic, LogStored, ReportPublic, SessionPublic
from suanli.api.schemas import HeartbeatCreate, LeaseCreate, LogCreate, ReportCreate
from suanli.services import agents

router = APIRouter(prefix="/v1/agent", tags=["agent"], responses=V1)


Session = Annotated[str | None, Header(alias="X-Agent-Session", max_length=64)]


@router.post("/session", response_model=SessionPublic)
def open_session(p: PlatformDep, caller: CallerDep) -> JSON:
    """Start an agent session for the caller's site; earlier sessions are fenced out (409 fenced)."""
    return ok(agents.open_session(p, caller))


@router.post("/heartbeat", response_model=HeartbeatPublic)
def heartbeat(body: HeartbeatCreate, p: PlatformDep, caller: CallerDep, session: Session = None) -> JSON:
    return ok(agents.heartbeat(p, caller, free=body.free, held=body.held, info=body.info,
                               inventory={k: v.model_dump() for k, v in body.inventory.items()}, session=session))


@router.post("/lease", response_model=AssignmentList)
def lease(body: LeaseCreate, p: PlatformDep, caller: CallerDep, session: Session = None) -> JSON:
    agents.check_session(p, caller, session)
    return ok({"items": agents.lease(p, caller, max_placements=body.max)})


@router.get("/placements", response_model=AssignmentList)
def held(p: PlatformDep, caller: CallerDep, session: Session = None) -> JSON:
    agents.check_session(p, caller, session)
    return ok({"items": agents.held(p, caller)})


@router.post("/placements/{placement_id}/status", response_model=ReportPublic)
def report(placement_id: str, body: ReportCreate, p: PlatformDep, caller: CallerDep, session: Session = None) -> JSON:
    agents.check_session(p, caller, session)
    return ok(agents.report(p, caller, placement_id, **body.model_dump()))


@router.post("/placements/{placement_id}/logs", response_model=LogStored)
def logs(placement_id: str, body: LogCreate, p: PlatformDep, caller: CallerDep, session: Session = None) -> JSON:
    agents.check_session(p, caller, session)
    return ok(agents.append_logs(p, caller, placement_id, offset=body.offset, data=body.data))
