"""The FastAPI application: ``create_app(platform)``. OpenAPI at ``/docs``; a dashboard's static
files at ``/`` when ``suanli/web/static`` exists."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from suanli import __version__
from suanli.api import errors, fast_submit
from suanli.api.render import JSON
from suanli.api.routes import agent, federation, health, jobs, market, tenants, tokens
from suanli.services.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="suanli", version=__version__, default_response_class=JSON,
                  description="Pool GPU data centers into one compute service, metered in PF16-hours.")
    app.state.platform = platform
    errors.install(app)
    app.router.routes.append(fast_submit.route)   # before the documented route: same contract, less CPU
    for module in (health, federation, tenants, tokens, jobs, agent, market):
        app.include_router(module.router)
    static = Path(__file__).resolve().parent.parent / "web" / "static"
    if static.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    return app
