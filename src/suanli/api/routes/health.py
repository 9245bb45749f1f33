"""``/healthz`` (200 when the store answers, no token) and Prometheus ``/metrics`` (any token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import errors
from suanli.api.render import JSON, error, ok
from suanli.api.schemas import HealthPublic
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
def metrics(p: PlatformDep, _: CallerDep) -> str:
    with p.uow() as uow:
        counts = uow.jobs.count_by_state()
        sites = uow.federation.sites()
    lines = ["# HELP suanli_jobs Jobs by state.", "# TYPE suanli_jobs gauge"]
    lines += [f'suanli_jobs{{state="{s}"}} {n}' for s, n in sorted(counts.items())]
    lines += ["# HELP suanli_site_up 1 if the site's agent holds its lease.", "# TYPE suanli_site_up gauge"]
    lines += [f'suanli_site_up{{site="{s["name"]}"}} {int(s["health"] == "up")}' for s in sites]
    loop = p.loop
    lines += ["# TYPE suanli_scheduler_cycles_total counter", f"suanli_scheduler_cycles_total {loop.cycles if loop else 0}"]
    return "\n".join(lines) + "\n"
