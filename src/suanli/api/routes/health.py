"""``/healthz`` (200 when the store answers, no token) and Prometheus ``/metrics`` (any token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4  # what Prometheus 2.x reads
from sqlalchemy import text

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import errors
from suanli.api.render import JSON, error, ok
from suanli.api.responses import HealthPublic
from suanli.services.metrics import exposition
from suanli.store.db import READ_ONLY

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, responses=errors(503, 413))
def healthz(p: PlatformDep) -> JSON:
    try:
        with p.db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return error(503, "store_unavailable", "the database does not answer; check SUANLI_DATABASE_URL")
    loop = p.loop
    return ok({"status": "ok", "database": p.db.dialect,
               "scheduler": {"leader": bool(loop and loop.is_leader), "cycles": loop.cycles if loop else 0}})


@router.get("/metrics", response_class=PlainTextResponse, responses=errors(401, 413, 422, plain=True))
def metrics(p: PlatformDep, _: CallerDep) -> Response:
    return Response(exposition(p), media_type=CONTENT_TYPE_PLAIN_0_0_4)
