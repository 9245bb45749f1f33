"""Bad input on every route, through HTTP against a real ``suanli serve`` process: each gets a
4xx JSON error naming the field, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, Platform, bootstrap
from suanli.services.tenancy import create_tenant
from tests.api.test_errors import CASES
from tests.conftest import Procs, free_port, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(module_store_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Platform]]:
    url = module_store_url
    p = bootstrap(url)
    federation.seed_from_file(p, "demo-local")
    create_tenant(p, SYSTEM, name="other")
    secrets = {"operator": tokens.create_token(p, SYSTEM, role="operator")[1],
               "tenant": tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")[1],
               "agent": tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")[1]}
    procs = Procs(Path(tmp_path_factory.mktemp("bad-input")))
    port = free_port()
    procs.start(["serve", "--port", str(port), "--database-url", url, "--no-scheduler"], "serve")
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base)
    yield base, secrets, p
    procs.close()
    p.db.dispose()


def _counts(p: Platform) -> tuple[int, int, int, int]:
    with p.uow() as uow:
        return (len(uow.jobs.find(limit=1000)), len(uow.federation.sites()), len(uow.tenancy.tenants()),
                len(uow.tokens.find()))


def test_every_bad_request_is_refused_with_a_json_error(server: tuple[str, dict[str, str], Platform]) -> None:
    base, secrets, p = server
    before = _counts(p)
    failures = []
    with httpx.Client(base_url=base, timeout=10) as c:
        for role, method, path, body, status, field in CASES:
            r = c.request(method, path, json=body, headers={"Authorization": f"Bearer {secrets[role]}"})
            err = r.json().get("error", {}) if r.headers.get("content-type", "").startswith("application/json") else {}
            if r.status_code != status or err.get("field") != field or not err.get("message"):
                failures.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
            if "Traceback" in r.text:
                failures.append(f"{method} {path}: stack trace in the reply")
    assert not failures, "\n".join(failures)
    assert _counts(p) == before, "a refused request changed the store"


def test_the_same_idempotency_key_concurrently_makes_one_job(server: tuple[str, dict[str, str], Platform]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    base, secrets, p = server
    headers = {"Authorization": f"Bearer {secrets['tenant']}", "Idempotency-Key": "same-key-1"}

    def post(_: int) -> tuple[int, str]:
        r = httpx.post(base + "/v1/jobs", json={"command": ["true"]}, headers=headers, timeout=10)
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(post, range(32)))
    assert len({jid for _, jid in results}) == 1
    assert sorted(code for code, _ in results).count(201) == 1
    assert all(code in (200, 201) for code, _ in results)


def test_a_large_body_is_413_through_the_real_server(server: tuple[str, dict[str, str], Platform]) -> None:
    """Declared (Content-Length) and chunked: both refused with the JSON error; nothing is written."""
    base, secrets, p = server
    before = _counts(p)
    headers = {"Authorization": f"Bearer {secrets['tenant']}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        yield b'{"command": ["x"], "name": "'
        for _ in range(20):
            yield b"n" * 65536
        yield b'"}'

    with httpx.Client(base_url=base, timeout=10) as c:
        declared = c.post("/v1/jobs", content=b'{"command": ["' + b"x" * (2 << 20) + b'"]}', headers=headers)
        chunked = c.post("/v1/jobs", content=chunks(), headers=headers)
        for r in (declared, chunked):
            assert r.status_code == 413, r.text[:200]
            assert r.json()["error"]["code"] == "body_too_large"
        assert c.get("/healthz").status_code == 200
    assert _counts(p) == before


def test_submit_of_a_job_no_pool_could_ever_run_exits_2_with_the_reason(
        server: tuple[str, dict[str, str], Platform], tmp_path: Path) -> None:
    # demo-local's only Shanghai pool holds 4: 8 chips in Shanghai can never run
    from tests.conftest import Cli

    base, secrets, p = server
    before = _counts(p)
    r = Cli(base, secrets["tenant"], tmp_path).run("submit", "--gpus", "8", "--region", "shanghai", "--",
                                                   "echo", "hi", check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "no pool of the federation can ever run it" in r.stderr
    assert "ask for at most 4 accelerators" in r.stderr and "ningxia" in r.stderr
    assert _counts(p) == before
