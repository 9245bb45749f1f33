"""Bad input on every route: a 4xx JSON error with a code, a message that says what to fix and
the field; never a stack trace, never a half-written record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import World, make_world


@pytest.fixture(scope="module")
def world(module_store_url: str) -> Iterator[World]:
    """The suite runs once on SQLite and once on PostgreSQL."""
    w = make_world(module_store_url)
    yield w
    w.p.db.dispose()


CASES = [
    # (role, method, path, body, status, field)
    ("operator", "POST", "/v1/providers", {"name": "bad name!"}, 422, "name"),
    ("operator", "POST", "/v1/providers", {"name": "west-dc"}, 409, "name"),
    ("operator", "GET", "/v1/providers/nope", None, 404, "name"),
    ("operator", "POST", "/v1/regions", {"name": "r1", "carbon_g_per_kwh": -1}, 422, "carbon_g_per_kwh"),
    ("operator", "POST", "/v1/sites", {"name": "s1", "provider": "west-dc", "region": "atlantis"}, 422, "region"),
    ("operator", "POST", "/v1/sites", {"name": "s1", "provider": "nobody", "region": "ningxia"}, 404, "provider"),
    ("operator", "POST", "/v1/sites", {"name": "s1", "provider": "west-dc", "region": "ningxia", "pue": 0.5},
     422, "pue"),
    ("operator", "POST", "/v1/sites", {"name": "s1", "provider": "west-dc", "region": "ningxia",
                                       "pools": [{"accelerator": "Z9000"}]}, 422, "pools[0].accelerator"),
    ("operator", "POST", "/v1/sites", {"name": "nx-hub", "provider": "west-dc", "region": "ningxia"}, 409, "name"),
    ("operator", "GET", "/v1/sites/nope", None, 404, "site"),
    ("operator", "PATCH", "/v1/sites/nx-hub", {"green_share": 2}, 422, "green_share"),
    ("operator", "PATCH", "/v1/sites/nx-hub", {"state": "exploded"}, 422, "state"),
    ("operator", "POST", "/v1/sites/nope/drain", None, 404, "site"),
    ("operator", "POST", "/v1/sites/nx-hub/pools", {"name": "a100", "accelerator": "A100"}, 409, "name"),
    ("operator", "POST", "/v1/sites/nx-hub/pools", {"accelerator": "A100", "nodes": 0}, 422, "nodes"),
    ("operator", "POST", "/v1/tenants", {"name": "t1", "home_region": "atlantis"}, 422, "home_region"),
    ("operator", "POST", "/v1/tenants", {"name": "t1", "budget": "lots"}, 422, "budget"),
    ("operator", "GET", "/v1/tenants/nope", None, 404, "name"),
    ("operator", "PATCH", "/v1/tenants/demo", {"weight": 0}, 422, "weight"),
    ("operator", "POST", "/v1/tenants/demo/queues", {"name": "default"}, 409, "name"),
    ("operator", "POST", "/v1/tenants/nope/queues", {"name": "q"}, 404, "tenant"),
    ("operator", "POST", "/v1/tokens", {"role": "king"}, 422, "role"),
    ("operator", "POST", "/v1/tokens", {"role": "tenant"}, 422, "tenant"),
    ("operator", "POST", "/v1/tokens", {"role": "agent", "site": "nope"}, 404, "site"),
    ("operator", "DELETE", "/v1/tokens/tok_nope", None, 404, "token_id"),
    ("operator", "GET", "/v1/audit?limit=0", None, 422, "limit"),
    ("tenant", "POST", "/v1/jobs", {"command": []}, 422, "command"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "gpus": 0}, 422, "gpus"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "gpus": 9999}, 422, "gpus"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "gpuz": 1}, 422, "gpuz"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "job_class": "party"}, 422, "job_class"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "queue": "nope"}, 422, "queue"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "allowed_regions": ["atlantis"]}, 422, "allowed_regions"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "allowed_models": ["Z9000"]}, 422, "allowed_models"),
    # names the federation knows, but no pool could ever run the job
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "allowed_models": ["T4"]}, 422, "allowed_models"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "gpus": 8, "allowed_regions": ["shanghai"]}, 422, "gpus"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "min_memory_gb": 200}, 422, "min_memory_gb"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "deadline": 1.0}, 422, "deadline"),
    ("tenant", "POST", "/v1/jobs", {"command": ["x"], "latency_slo_ms": 10}, 422, "latency_slo_ms"),
    ("operator", "POST", "/v1/jobs", {"command": ["x"]}, 422, "tenant"),
    ("tenant", "GET", "/v1/jobs?state=bogus", None, 422, "state"),
    ("tenant", "GET", "/v1/jobs?limit=0", None, 422, "limit"),
    ("tenant", "GET", "/v1/jobs?cursor=garbage", None, 422, "cursor"),
    ("tenant", "GET", "/v1/jobs/j-nope", None, 404, "job_id"),
    ("tenant", "POST", "/v1/jobs/j-nope/cancel", None, 404, "job_id"),
    ("tenant", "GET", "/v1/jobs/j-nope/logs", None, 404, "job_id"),
    ("tenant", "GET", "/v1/jobs/j-nope/explain", None, 404, "job_id"),
    ("tenant", "GET", "/v1/usage?by=planet", None, 422, "by"),
    ("operator", "GET", "/v1/placements?limit=5000", None, 422, "limit"),
    ("agent", "POST", "/v1/agent/heartbeat", {"free": {"nope": 1}}, 422, "free"),
    ("agent", "POST", "/v1/agent/heartbeat", {"free": {"a100": -1}}, 422, "free.a100"),
    ("agent", "POST", "/v1/agent/lease", {"max": 0}, 422, "max"),
    ("agent", "POST", "/v1/agent/placements/p-nope/status", {"state": "running"}, 404, "placement_id"),
    ("agent", "POST", "/v1/agent/placements/p-nope/status", {"state": "melted"}, 422, "state"),
    ("agent", "POST", "/v1/agent/placements/p-nope/logs", {"offset": -1, "data": ""}, 422, "offset"),
    ("agent", "POST", "/v1/agent/placements/p-nope/logs", {"offset": 0, "data": "x"}, 404, "placement_id"),
]


@pytest.mark.parametrize("role,method,path,body,status,field", CASES,
                         ids=[f"{c[1]} {c[2]} {c[5]}" for c in CASES])
def test_bad_input_gets_a_json_error_naming_the_field(world: World, role: str, method: str, path: str,
                                                       body: object, status: int, field: str) -> None:
    before = _counts(world)
    r = world.client.request(method, path, json=body, headers=world.h(role))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field, err
    assert err["code"] and len(err["message"]) > 10
    assert "Traceback" not in r.text
    assert _counts(world) == before, "a refused request changed the store"


def _counts(world: World) -> tuple[int, int, int]:
    with world.p.uow() as uow:
        return (len(uow.jobs.find(limit=1000)), len(uow.federation.sites()), len(uow.tenancy.tenants()))


def test_malformed_json_and_unknown_routes(world: World) -> None:
    r = world.client.post("/v1/jobs", content=b"{not json", headers={**world.h("tenant"),
                                                                     "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_field"
    r = world.client.get("/v1/nothing-here", headers=world.h("tenant"))
    assert r.status_code == 404 and r.json()["error"]["message"]
    r = world.client.get("/v1/jobs", headers={"Authorization": "Bearer sl_forged"})
    assert r.status_code == 401 and "token" in r.json()["error"]["message"]


def test_messages_say_what_to_fix(world: World) -> None:
    r = world.client.post("/v1/jobs", json={"command": ["x"], "queue": "nope"}, headers=world.h("tenant"))
    assert "default" in r.json()["error"]["message"] and "urgent" in r.json()["error"]["message"]
    r = world.client.post("/v1/jobs", json={"command": ["x"], "gpus": 9999}, headers=world.h("tenant"))
    assert "at most" in r.json()["error"]["message"]
