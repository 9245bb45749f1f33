"""Reports for operators: the policy compliance report and the platform's history (for plots)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.render import JSON, ok
from suanli.api.responses import CompliancePublic, HistoryPublic
from suanli.services import compliance as svc

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=V1)

Seconds = Annotated[float | None, Query(ge=0, le=1e11, description="Unix seconds")]


@router.get("/compliance", response_model=CompliancePublic)
def compliance(p: PlatformDep, caller: CallerDep, since: Seconds = None, until: Seconds = None) -> JSON:
    return ok(svc.compliance(p, caller, since, until))


@router.get("/history", response_model=HistoryPublic)
def history(p: PlatformDep, caller: CallerDep, since: Seconds = None, until: Seconds = None,
            limit: int = Query(500, ge=2, le=svc.MAX_POINTS)) -> JSON:
    return ok(svc.history(p, caller, since, until, limit))
