"""A market world: the API world of ``tests/api`` (real store, one token per role) with a clock the
test moves, and helpers that run a job through an agent's reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from suanli.services.platform import Caches
from tests.api.helpers import World, make_world


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def market_world(url: str) -> tuple[World, Clock]:
    w = make_world(url)
    clock = Clock()
    w.p.clock = clock
    w.p.cache = Caches()
    for role in ("agent", "other_agent"):
        beat(w, role)
    return w, clock


def beat(w: World, role: str = "agent", free: dict[str, int] | None = None, held: list[str] | None = None) -> None:
    pool = {"agent": "a100", "other_agent": "h100"}[role]
    default = {"a100": 8, "h100": 4}[pool]
    r = w.client.post("/v1/agent/heartbeat", json={"free": free or {pool: default}, "held": held or []},
                      headers=w.h(role))
    assert r.status_code == 200, r.text


def run_job(w: World, clock: Clock, *, tenant_role: str = "tenant", gpus: int = 1, hours: float = 1.0,
            end: str = "succeeded", must_place: bool = True, **spec: Any) -> dict[str, Any] | None:
    """Submit, place on nx-hub (only allowed model A100), lease, run for ``hours``, end."""
    beat(w)                 # the agent is up (a test may have let it lapse before)
    body = {"command": ["true"], "gpus": gpus, "allowed_models": ["A100"], "duration_s": hours * 3600, **spec}
    job = w.client.post("/v1/jobs", json=body, headers=w.h(tenant_role)).json()
    assert "id" in job, job
    w.cycle()
    lease = w.client.post("/v1/agent/lease", json={}, headers=w.h("agent")).json()["items"]
    mine = [x for x in lease if x["job_id"] == job["id"]]
    if not mine and not must_place:          # e.g. the pool is held for another tenant's reservation
        w.client.post(f"/v1/jobs/{job['id']}/cancel", headers=w.h("operator"))
        return None
    assert mine, (lease, w.client.get(f"/v1/jobs/{job['id']}", headers=w.h("operator")).json())
    pl = mine[0]["placement_id"]
    r = w.client.post(f"/v1/agent/placements/{pl}/status", json={"state": "running", "slots": list(range(gpus))},
                      headers=w.h("agent"))
    assert r.status_code == 200, r.text
    clock.t += hours * 3600
    if end == "lost":       # the agent went silent: the lease lapses, the next cycle ends the placement lost
        clock.t += w.p.settings.lease_s + 1
        beat(w, "other_agent")
        w.cycle()
    else:
        beat(w, held=[pl])
        beat(w, "other_agent")
        r = w.client.post(f"/v1/agent/placements/{pl}/status",
                          json={"state": end, "exit_code": 0 if end == "succeeded" else 1}, headers=w.h("agent"))
        assert r.status_code == 200, r.text
    return {"job": job["id"], "placement": pl}


def D(x: Any) -> Decimal:
    return Decimal(str(x))
