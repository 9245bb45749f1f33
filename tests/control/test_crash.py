"""Kill the server with SIGKILL in the middle of cycles and restart it (5 times, on SQLite and on
PostgreSQL): no job is lost, none is placed or run twice; a submission retried with its Idempotency-Key through the crashes makes one job."""

from __future__ import annotations

import random
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, bootstrap
from tests.conftest import Procs, free_port, wait_for, wait_healthy

pytestmark = pytest.mark.slow


def _post_retrying(url: str, path: str, body: dict, headers: dict, timeout: float = 60) -> dict:
    end = time.time() + timeout
    while True:
        try:
            r = httpx.post(url + path, json=body, headers=headers, timeout=5)
            if r.status_code < 500:
                assert r.status_code in (200, 201), r.text
                return r.json()
        except httpx.HTTPError:
            if time.time() > end:
                raise
        time.sleep(0.1)


def test_sigkill_mid_cycle_loses_nothing_and_runs_nothing_twice(procs: Procs, tmp_path: Path,
                                                                store_url: str) -> None:
    p = bootstrap(store_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    agent_tokens = {s: tokens.create_token(p, SYSTEM, role="agent", site=s)[1] for s in ("nx-hub", "sh-city", "sz-edge")}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SUANLI_CYCLE_S": "0.02", "SUANLI_LEASE_S": "30"}
    serve = ["serve", "--port", str(port), "--database-url", store_url]
    server = procs.start(serve, "serve", env)
    wait_healthy(url)
    for site, tok in agent_tokens.items():
        procs.start(["agent", "--site", site, "--url", url, "--token", tok, "--interval", "0.05",
                     "--work-dir", str(tmp_path / site)], f"agent-{site}")
    headers = {"Authorization": f"Bearer {tenant}"}
    keys = [uuid.uuid4().hex for _ in range(30)]
    ids = set()
    rng = random.Random(7)
    for i, key in enumerate(keys):
        body = {"command": ["sh", "-c", f"echo ran $SUANLI_JOB_ID; sleep 0.{rng.randint(1, 3)}"],
                "gpus": rng.choice([1, 2])}
        ids.add(_post_retrying(url, "/v1/jobs", body, {**headers, "Idempotency-Key": key})["id"])
        if i % 6 == 5:   # crash in the middle of cycles, then resubmit the same key once more
            time.sleep(rng.uniform(0.05, 0.3))
            procs.kill(server, signal.SIGKILL)
            server = procs.start(serve, "serve", env)
            wait_healthy(url)
            ids.add(_post_retrying(url, "/v1/jobs", body, {**headers, "Idempotency-Key": key})["id"])
    assert len(ids) == len(keys), "a retried Idempotency-Key made a second job"

    def all_done() -> bool:
        items = httpx.get(url + "/v1/jobs?limit=1000", headers=headers, timeout=5).json()["items"]
        return len(items) == len(keys) and all(j["state"] == "succeeded" for j in items)

    wait_for(all_done, timeout=90, what="every job to succeed")
    for jid in ids:   # every run's output is kept in the job's log (jobs are sandboxed: no shared file)
        text = httpx.get(f"{url}/v1/jobs/{jid}/logs", params={"limit": 10000}, headers=headers, timeout=5).json()["text"]
        assert text.count(f"ran {jid}") == 1, f"{jid} ran twice or not at all: {text!r}"
    with p.uow() as uow:
        for jid in ids:
            started = [pl for pl in uow.jobs.placements(job_id=jid) if pl["started_at"] is not None]
            assert len(started) == 1, (jid, started)
            assert len([a for a in uow.audit.find(subject=jid, limit=1000) if a["action"] == "job.submit"]) == 1
    p.db.dispose()
