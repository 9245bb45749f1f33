"""The API's hardening (the security issue): size caps and NUL bytes in submissions, non-finite
numbers, the priority bound of a queue, the body limit, idempotency keys reused with another body,
the per-tenant submission rate, ``/v1/me`` and a token for ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from suanli.store.db import sqlite_url

    w = make_world(sqlite_url(tmp_path_factory.mktemp("hardening")))
    yield w
    w.p.db.dispose()


def _jobs(world: World) -> int:
    with world.p.uow() as uow:
        return len(uow.jobs.find(limit=1000))


def _refused(world: World, body: object, field: str, *, status: int = 422, role: str = "tenant",
             raw: bytes | None = None) -> str:
    before = _jobs(world)
    if raw is not None:
        r = world.client.post("/v1/jobs", content=raw, headers={**world.h(role), "Content-Type": "application/json"})
    else:
        r = world.client.post("/v1/jobs", json=body, headers=world.h(role))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field, err
    assert err["code"] and "fix" in err["message"].lower(), err
    assert _jobs(world) == before
    return str(err["message"])


BIG = "x" * 300
SUBMISSION_CASES = [
    ({"command": ["a\x00b"]}, "command[0]"),
    ({"command": ["ok", "also\x00"]}, "command[1]"),
    ({"command": ["x"] * 257}, "command"),
    ({"command": ["x" * 40000, "y" * 30000]}, "command"),
    ({"command": ["\u4e00" * 22000]}, "command"),               # 22,000 characters but 66,000 bytes
    ({"command": ["x"], "name": "n\x00"}, "name"),
    ({"command": ["x"], "name": "n" * 201}, "name"),
    ({"command": ["x"], "env": {"A\x00": "1"}}, "env.A\x00"),
    ({"command": ["x"], "env": {"A": "1\x00"}}, "env.A"),
    ({"command": ["x"], "env": {"1A": "1"}}, "env.1A"),
    ({"command": ["x"], "env": {"A-B": "1"}}, "env.A-B"),
    ({"command": ["x"], "env": {"": "1"}}, "env."),
    ({"command": ["x"], "env": {"A" * 129: "1"}}, "env." + "A" * 129),
    ({"command": ["x"], "env": {"A": "v" * (32 * 1024 + 1)}}, "env.A"),
    ({"command": ["x"], "env": {f"K{i}": "1" for i in range(257)}}, "env"),
    ({"command": ["x"], "labels": {"k\x00": "v"}}, "labels.k\x00"),
    ({"command": ["x"], "labels": {"k": "v\x00"}}, "labels.k"),
    ({"command": ["x"], "labels": {f"k{i}": "v" for i in range(65)}}, "labels"),
]


@pytest.mark.parametrize("body,field", SUBMISSION_CASES, ids=[f"{i}-{c[1][:20]}" for i, c in enumerate(SUBMISSION_CASES)])
def test_submissions_are_capped_and_refuse_nul_bytes(world: World, body: dict[str, object], field: str) -> None:
    _refused(world, body, field)


def test_submissions_at_the_caps_are_accepted(world: World) -> None:
    body = {"command": ["x" * 255] * 256, "name": "n" * 200, "labels": {f"k{i}": "v" for i in range(64)},
            "env": {f"K_{i}": "v" for i in range(255)} | {"_BIG": "v" * 32 * 1024}}
    r = world.client.post("/v1/jobs", json=body, headers=world.h("tenant"))
    assert r.status_code == 201, r.text[:300]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["duration_s", "max_price", "min_memory_gb", "compute_pf16h"])
def test_non_finite_numbers_are_refused_on_submit(world: World, literal: str, field: str) -> None:
    _refused(world, None, field, raw=f'{{"command": ["x"], "{field}": {literal}}}'.encode())


@pytest.mark.parametrize("method,path,role,raw,field", [
    ("POST", "/v1/regions", "operator", b'{"name": "nan-r", "carbon_g_per_kwh": NaN}', "carbon_g_per_kwh"),
    ("PATCH", "/v1/sites/nx-hub", "operator", b'{"pue": Infinity}', "pue"),
    ("PATCH", "/v1/tenants/demo", "operator", b'{"weight": Infinity}', "weight"),
    ("POST", "/v1/tenants", "operator", b'{"name": "nan-t", "budget": NaN}', "budget"),
    ("POST", "/v1/agent/heartbeat", "agent", b'{"info": {"load": NaN}}', "info"),
    ("GET", "/v1/invoices?end=inf", "operator", None, "end"),
    ("GET", "/v1/invoices?start=nan", "operator", None, "start"),
])
def test_non_finite_numbers_are_refused_everywhere(world: World, method: str, path: str, role: str,
                                                   raw: bytes | None, field: str) -> None:
    r = world.client.request(method, path, content=raw, headers={**world.h(role), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_a_tenants_priority_is_bounded_by_its_queues_class(world: World) -> None:
    # demo's queues: default (class 0), urgent (class 10)
    msg = _refused(world, {"command": ["x"], "priority": 5}, "priority")
    assert "(0)" in msg and "urgent" in msg, msg
    msg = _refused(world, {"command": ["x"], "queue": "urgent", "priority": 11}, "priority")
    assert "(10)" in msg and "operator" in msg, msg
    c, h = world.client, world.h("tenant")
    assert c.post("/v1/jobs", json={"command": ["x"], "queue": "urgent", "priority": 10}, headers=h).status_code == 201
    assert c.post("/v1/jobs", json={"command": ["x"], "priority": -5}, headers=h).status_code == 201
    job = c.post("/v1/jobs", json={"command": ["x"], "queue": "urgent"}, headers=h).json()
    assert job["priority"] == 10
    # operators may set any priority
    r = c.post("/v1/jobs", json={"command": ["x"], "tenant": "demo", "priority": 1000}, headers=world.h("operator"))
    assert r.status_code == 201 and r.json()["priority"] == 1000


def test_an_idempotency_key_reused_with_another_body_is_a_conflict(world: World) -> None:
    c, h = world.client, {**world.h("tenant"), "Idempotency-Key": "reuse-1"}
    first = c.post("/v1/jobs", json={"command": ["train"], "gpus": 2}, headers=h)
    assert first.status_code == 201
    again = c.post("/v1/jobs", json={"gpus": 2, "command": ["train"], "job_class": "train"}, headers=h)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]   # the same spec, defaults alike
    before = _jobs(world)
    other = c.post("/v1/jobs", json={"command": ["train"], "gpus": 4}, headers=h)
    assert other.status_code == 409, other.text
    err = other.json()["error"]
    assert err["field"] == "idempotency-key" and first.json()["id"] in err["message"]
    assert _jobs(world) == before
    # another tenant may use the same key for its own job
    assert c.post("/v1/jobs", json={"command": ["train"], "gpus": 4},
                  headers={**world.h("other_tenant"), "Idempotency-Key": "reuse-1"}).status_code == 201


def test_a_key_reused_within_one_group_commit_is_checked_too(world: World) -> None:
    from suanli.services import jobs, tokens
    from suanli.services.errors import Conflict

    caller = tokens.authenticate(world.p, world.tokens["tenant"])
    subs = [jobs.prepare(world.p, caller, {"command": ["a"]}, idempotency_key="batch-1"),
            jobs.prepare(world.p, caller, {"command": ["a"]}, idempotency_key="batch-1"),
            jobs.prepare(world.p, caller, {"command": ["b"]}, idempotency_key="batch-1")]
    out = jobs.store(world.p, subs)
    assert isinstance(out[0], tuple) and out[0][1] is True
    assert isinstance(out[1], tuple) and out[1][0]["id"] == out[0][0]["id"] and out[1][1] is False
    assert isinstance(out[2], Conflict)
    # and the key is in the store now: the same spec returns the job, another one is refused
    again = jobs.store(world.p, [jobs.prepare(world.p, caller, {"command": ["a"]}, idempotency_key="batch-1"),
                                 jobs.prepare(world.p, caller, {"command": ["c"]}, idempotency_key="batch-1")])
    assert isinstance(again[0], tuple) and again[0][0]["id"] == out[0][0]["id"]
    assert isinstance(again[1], Conflict)


def test_jobs_stored_before_the_spec_hash_are_compared_by_their_spec(world: World) -> None:
    from sqlalchemy import update

    from suanli.store.jobs import jobs as table

    c, h = world.client, {**world.h("tenant"), "Idempotency-Key": "legacy-1"}
    first = c.post("/v1/jobs", json={"command": ["old"]}, headers=h).json()
    with world.p.uow() as uow:
        uow.conn.execute(update(table).where(table.c.id == first["id"]).values(spec_hash=None))
    assert c.post("/v1/jobs", json={"command": ["old"]}, headers=h).status_code == 200
    assert c.post("/v1/jobs", json={"command": ["new"]}, headers=h).status_code == 409


MIB = 1 << 20


def test_a_body_over_the_limit_is_413_on_every_route(world: World) -> None:
    big = b'{"command": ["x"], "name": "' + b"n" * MIB + b'"}'
    for method, path, role in [("POST", "/v1/jobs", "tenant"), ("POST", "/v1/regions", "operator"),
                               ("POST", "/v1/agent/heartbeat", "agent"), ("GET", "/v1/jobs", "tenant"),
                               ("POST", "/v1/agent/placements/p-x/logs", "agent")]:
        r = world.client.request(method, path, content=big, headers={**world.h(role), "Content-Type": "application/json"})
        assert r.status_code == 413, (path, r.text[:200])
        assert r.json()["error"]["code"] == "body_too_large" and "1048576" in r.json()["error"]["message"]


def test_a_chunked_body_is_counted_while_it_is_read(world: World) -> None:
    def chunks(n: int) -> Iterator[bytes]:
        yield b'{"command": ["x"], "name": "'
        for _ in range(n):
            yield b"n" * 65536
        yield b'"}'

    for path, role in [("/v1/jobs", "tenant"), ("/v1/regions", "operator")]:
        before = _jobs(world)
        r = world.client.post(path, content=chunks(17), headers={**world.h(role), "Content-Type": "application/json"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.status_code == 413, (path, r.text[:200])
        assert r.json()["error"]["code"] == "body_too_large"
        assert _jobs(world) == before
    # under the limit, a chunked body is read as usual (and refused here only for its long name)
    r = world.client.post("/v1/jobs", content=chunks(2), headers={**world.h("tenant"), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"


def test_the_body_limit_is_a_setting() -> None:
    from suanli.services.platform import Settings

    assert Settings.from_env({}).max_body == MIB
    assert Settings.from_env({"SUANLI_MAX_BODY": "4096"}).max_body == 4096


def test_a_tenant_over_its_submission_rate_gets_429_with_retry_after(world: World) -> None:
    import dataclasses

    from suanli.services.platform import Settings

    assert Settings.from_env({}).submit_rate > 0
    assert Settings.from_env({"SUANLI_SUBMIT_RATE": "0", "SUANLI_SUBMIT_BURST": "7"}).submit_burst == 7
    saved = world.p.settings
    world.p.settings = dataclasses.replace(saved, submit_rate=0.01, submit_burst=3)
    world.p.cache.submit_buckets.clear()
    try:
        c = world.client
        codes = [c.post("/v1/jobs", json={"command": ["x"]}, headers=world.h("tenant")).status_code for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        r = c.post("/v1/jobs", json={"command": ["x"]}, headers=world.h("tenant"))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 100
        # per tenant: another tenant still submits; an operator submitting for demo is limited as demo
        assert c.post("/v1/jobs", json={"command": ["x"]}, headers=world.h("other_tenant")).status_code == 201
        assert c.post("/v1/jobs", json={"command": ["x"], "tenant": "demo"},
                      headers=world.h("operator")).status_code == 429
        world.p.settings = dataclasses.replace(saved, submit_rate=0)   # 0 = off
        assert all(c.post("/v1/jobs", json={"command": ["x"]}, headers=world.h("tenant")).status_code == 201
                   for _ in range(5))
    finally:
        world.p.settings = saved
        world.p.cache.submit_buckets.clear()


def test_me_names_the_callers_token_role_and_scope(world: World) -> None:
    c = world.client
    want = {"operator": {}, "tenant": {"tenant": "demo"}, "provider": {"provider": "west-dc"},
            "agent": {"site": "nx-hub"}}
    for role, scope in want.items():
        r = c.get("/v1/me", headers=world.h(role))
        assert r.status_code == 200, r.text
        me = r.json()
        assert me["role"] == role and me["token_id"].startswith("tok_")
        assert {k: me[k] for k in ("tenant", "provider", "site") if me[k] is not None} == scope
    assert c.get("/v1/me").status_code == 401


def test_metrics_needs_a_token_of_any_role(world: World) -> None:
    c = world.client
    r = c.get("/metrics")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    for role in ("operator", "provider", "tenant", "agent"):
        r = c.get("/metrics", headers=world.h(role))
        assert r.status_code == 200 and "suanli_jobs" in r.text
    assert c.get("/healthz").status_code == 200      # health stays open (load balancers)


def test_openapi_declares_every_routes_real_schema_and_its_errors(world: World) -> None:
    doc = world.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "ErrorPublic" in schemas and "HTTPValidationError" not in schemas
    error_ref = {"$ref": "#/components/schemas/ErrorPublic"}
    problems = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            ok = [c for c in responses if c.startswith("2")]
            if not ok:
                problems.append(f"{where}: no success response")
            for code in ok:
                content = responses[code].get("content", {})
                if path == "/metrics":
                    assert "text/plain" in content
                    continue
                schema = content.get("application/json", {}).get("schema", {})
                if "$ref" not in schema:
                    problems.append(f"{where} {code}: {schema}")
            wanted = {"401", "403", "404", "409", "413", "422"} if path.startswith("/v1/") else {"413"}
            for code in wanted | {c for c in responses if c[0] in "45"}:
                got = responses.get(code, {}).get("content", {}).get("application/json", {}).get("schema")
                if got != error_ref:
                    problems.append(f"{where} {code}: {got}")
    submit = doc["paths"]["/v1/jobs"]["post"]["responses"]
    assert "Retry-After" in submit["429"]["headers"]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("method,path,role,body,field", [
    ("GET", "/v1/audit?after=9223372036854775808", "operator", None, "after"),
    ("GET", "/v1/jobs/j-x/logs?after=99999999999999999999", "tenant", None, "after"),
    ("POST", "/v1/agent/placements/p-x/status", "agent", {"state": "failed", "exit_code": 2**63}, "exit_code"),
    ("POST", "/v1/agent/placements/p-x/logs", "agent", {"offset": 2**63, "data": "x"}, "offset"),
])
def test_integers_beyond_the_store_are_422_not_500(world: World, method: str, path: str, role: str,
                                                   body: object, field: str) -> None:
    r = world.client.request(method, path, json=body, headers=world.h(role))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
