"""The FastAPI application: ``create_app(platform)``. OpenAPI at ``/docs``; a dashboard's static
files at ``/`` when ``suanli/web/static`` exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from suanli import __version__
from suanli.api import errors
from suanli.api.limits import BodyLimit
from suanli.api.observe import RequestMetrics
from suanli.api.render import JSON
from suanli.api.routes import agent, federation, health, jobs, market, reports, tenants, tokens
from suanli.api.schemas import JobCreate
from suanli.services.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="suanli", version=__version__, default_response_class=JSON,
                  description="Pool GPU data centers into one compute service, metered in PF16-hours.")
    app.state.platform = platform
    errors.install(app)
    app.add_middleware(BodyLimit, limit=platform.settings.max_body)
    app.add_middleware(RequestMetrics, histogram=platform.metrics.request_seconds)   # outermost: times all
    for module in (health, federation, tenants, tokens, jobs, agent, market, reports):
        app.include_router(module.router)
    _document_models(app, JobCreate)
    static = Path(__file__).resolve().parent.parent / "web" / "static"
    if static.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    return app


def _document_models(app: FastAPI, *models: type[BaseModel]) -> None:
    """Add request models that a route reads from the raw body (so FastAPI does not see them) to
    the OpenAPI components, where the route's ``openapi_extra`` refers to them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            for m in models:
                doc = m.model_json_schema(ref_template="#/components/schemas/{model}")
                comps.update(doc.pop("$defs", {}))
                comps[m.__name__] = doc
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
