"""Every route against every role, including the refusals; and the scoping of each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import World, make_world, only, role_matrix_failures


@pytest.fixture(scope="module")
def world(module_store_url: str) -> Iterator[World]:
    """The suite runs once on SQLite and once on PostgreSQL."""
    w = make_world(module_store_url)
    # one job placed and leased at nx-hub, so agent and placement routes have something to act on
    w.client.post("/v1/agent/heartbeat", json={"free": {"a100": 8}}, headers=w.h("agent"))
    job = w.client.post("/v1/jobs", json={"command": ["true"], "gpus": 1}, headers=w.h("tenant")).json()
    w.cycle()
    lease = w.client.post("/v1/agent/lease", json={}, headers=w.h("agent")).json()["items"]
    assert lease and lease[0]["job_id"] == job["id"]
    w.job_id = job["id"]  # type: ignore[attr-defined]
    w.placement_id = lease[0]["placement_id"]  # type: ignore[attr-defined]
    yield w
    w.p.db.dispose()


def _routes(w: World) -> list[tuple[str, str, object, dict[str, int]]]:
    """(method, path, body or a function of the role, expected status per role)."""
    job, pl = w.job_id, w.placement_id  # type: ignore[attr-defined]
    ok_all = {"operator": 200, "provider": 200, "tenant": 200, "agent": 200}

    return [
        ("GET", "/v1/providers", None, only({"operator": 200, "provider": 200})),
        ("POST", "/v1/providers", lambda r: {"name": f"prov-{r}"}, only({"operator": 201})),
        ("GET", "/v1/providers/west-dc", None, only({"operator": 200, "provider": 200})),
        ("GET", "/v1/regions", None, ok_all),
        ("POST", "/v1/regions", lambda r: {"name": f"region-{r}"}, only({"operator": 201})),
        ("GET", "/v1/sites", None, ok_all),
        ("POST", "/v1/sites", lambda r: {"name": f"site-{r}", "provider": "west-dc", "region": "ningxia",
                                         "pools": [{"accelerator": "A100", "per_node": 8, "nodes": 1}]},
         only({"operator": 201, "provider": 201})),
        ("GET", "/v1/sites/nx-hub", None, ok_all),
        ("PATCH", "/v1/sites/nx-hub", {"pue": 1.21}, only({"operator": 200, "provider": 200})),
        ("POST", "/v1/sites/nx-hub/drain", None, only({"operator": 200, "provider": 200})),
        ("POST", "/v1/sites/nx-hub/undrain", None, only({"operator": 200, "provider": 200})),
        ("POST", "/v1/sites/nx-hub/pools", lambda r: {"name": f"pool-{r}", "accelerator": "H100", "per_node": 8},
         only({"operator": 201, "provider": 201})),
        ("GET", "/v1/federation", None, only({"operator": 200, "provider": 200, "tenant": 200})),
        ("GET", "/v1/tenants", None, only({"operator": 200, "tenant": 200})),
        ("POST", "/v1/tenants", lambda r: {"name": f"tenant-{r}"}, only({"operator": 201})),
        ("GET", "/v1/tenants/demo", None, only({"operator": 200, "tenant": 200})),
        ("PATCH", "/v1/tenants/demo", {"weight": 2.0}, only({"operator": 200})),
        ("GET", "/v1/tenants/demo/queues", None, only({"operator": 200, "tenant": 200})),
        ("POST", "/v1/tenants/demo/queues", lambda r: {"name": f"q-{r}"}, only({"operator": 201})),
        ("POST", "/v1/tokens", {"role": "agent", "site": "nx-hub"}, only({"operator": 201, "provider": 201})),
        ("GET", "/v1/tokens", None, only({"operator": 200})),
        ("GET", "/v1/audit", None, only({"operator": 200})),
        ("POST", "/v1/jobs", {"command": ["true"], "tenant": "demo"}, only({"operator": 201, "tenant": 201})),
        ("GET", "/v1/jobs", None, only({"operator": 200, "provider": 200, "tenant": 200})),
        ("GET", f"/v1/jobs/{job}", None, {"operator": 200, "provider": 200, "tenant": 200, "agent": 404}),
        ("GET", f"/v1/jobs/{job}/logs", None, {"operator": 200, "provider": 200, "tenant": 200, "agent": 404}),
        ("GET", f"/v1/jobs/{job}/explain", None, {"operator": 200, "provider": 200, "tenant": 200, "agent": 404}),
        ("GET", "/v1/placements", None, ok_all),
        ("GET", "/v1/usage", None, only({"operator": 200, "provider": 200, "tenant": 200})),
        ("POST", "/v1/agent/heartbeat", {"free": {"a100": 7}, "held": [pl]}, only({"agent": 200})),
        ("POST", "/v1/agent/lease", {}, only({"agent": 200})),
        ("POST", f"/v1/agent/placements/{pl}/logs", {"offset": 0, "data": "x\n"}, only({"agent": 200})),
        ("POST", f"/v1/agent/placements/{pl}/status", {"state": "running", "slots": [0]}, only({"agent": 200})),
        ("POST", f"/v1/jobs/{job}/cancel", None, only({"operator": 200, "tenant": 409})),
    ]


def test_every_route_against_every_role(world: World) -> None:
    failures = role_matrix_failures(world, _routes(world))
    assert not failures, "\n".join(failures)


def test_openapi_lists_every_route(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for _, path, _, _ in _routes(world):
        template = path.replace(world.job_id, "{job_id}").replace(world.placement_id, "{placement_id}")  # type: ignore[attr-defined]
        template = template.replace("/nx-hub", "/{name}").replace("/west-dc", "/{name}").replace("/demo", "/{name}")
        assert template in paths, template
    assert world.client.get("/docs").status_code == 200


def test_a_tenant_sees_only_its_own_jobs_and_usage(world: World) -> None:
    c = world.client
    assert c.get(f"/v1/jobs/{world.job_id}", headers=world.h("other_tenant")).status_code == 404  # type: ignore[attr-defined]
    assert c.get(f"/v1/jobs/{world.job_id}/logs", headers=world.h("other_tenant")).status_code == 404  # type: ignore[attr-defined]
    assert c.post(f"/v1/jobs/{world.job_id}/cancel", headers=world.h("other_tenant")).status_code == 404  # type: ignore[attr-defined]
    assert c.get("/v1/jobs", headers=world.h("other_tenant")).json()["items"] == []
    assert c.get("/v1/jobs?tenant=demo", headers=world.h("other_tenant")).status_code == 403
    assert c.get("/v1/usage?tenant=demo", headers=world.h("other_tenant")).status_code == 404
    assert c.get("/v1/placements", headers=world.h("other_tenant")).json()["items"] == []
    mine = c.get("/v1/jobs", headers=world.h("tenant")).json()["items"]
    assert mine and {j["tenant"] for j in mine} == {"demo"}


def test_a_provider_sees_only_its_own_sites(world: World) -> None:
    c = world.client
    names = [s["name"] for s in c.get("/v1/sites", headers=world.h("other_provider")).json()["items"]]
    assert "nx-hub" not in names and "sh-city" in names
    assert c.get("/v1/sites/nx-hub", headers=world.h("other_provider")).status_code == 404
    assert c.patch("/v1/sites/nx-hub", json={"pue": 1.3}, headers=world.h("other_provider")).status_code == 404
    assert c.post("/v1/sites/nx-hub/drain", headers=world.h("other_provider")).status_code == 404
    assert c.post("/v1/tokens", json={"role": "agent", "site": "nx-hub"},
                  headers=world.h("other_provider")).status_code == 404
    assert c.get("/v1/placements", headers=world.h("other_provider")).json()["items"] == []
    assert c.get("/v1/usage?site=nx-hub", headers=world.h("other_provider")).status_code == 404
    assert c.post("/v1/sites", json={"name": "steal", "provider": "west-dc", "region": "ningxia"},
                  headers=world.h("other_provider")).status_code == 403


def test_an_agent_acts_only_for_its_own_site(world: World) -> None:
    c = world.client
    pl = world.placement_id  # type: ignore[attr-defined]
    assert c.post(f"/v1/agent/placements/{pl}/status", json={"state": "succeeded", "exit_code": 0},
                  headers=world.h("other_agent")).status_code == 404
    assert c.post(f"/v1/agent/placements/{pl}/logs", json={"offset": 5, "data": "x"},
                  headers=world.h("other_agent")).status_code == 404
    assert c.get("/v1/sites/nx-hub", headers=world.h("other_agent")).status_code == 404
    assert all(p["site"] == "sh-city" for p in c.get("/v1/placements", headers=world.h("other_agent")).json()["items"])


def test_every_change_is_audited_and_readable_by_operators(world: World) -> None:
    items = world.client.get("/v1/audit?limit=1000", headers=world.h("operator")).json()["items"]
    actions = {i["action"] for i in items}
    for action in ("job.submit", "job.placed", "placement.leased", "job.running", "site.update", "token.create",
                   "tenant.create", "queue.create", "site.create", "pool.create", "provider.create"):
        assert action in actions, action
    assert all(i["actor"] and i["at"] > 0 for i in items)
