"""A server crash under ``suanli up``: SIGKILL ``up`` while 50 jobs are in flight, start it again on
the same data directory, and every job finishes exactly once (no old agent survives to fight the
new ones: agents die with ``up``, and a new agent session fences any old one out)."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.conftest import Cli, Procs, agent_pids, free_port, wait_for, wait_healthy

pytestmark = pytest.mark.slow

JOBS = 50


def test_sigkill_up_with_50_jobs_in_flight_and_restart(procs: Procs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SUANLI_LEASE_S": "3", "SUANLI_CYCLE_S": "0.2"}
    up = procs.start(["up", "--port", str(port), "--data-dir", str(data)], "up", env)
    wait_healthy(url)
    cli = Cli(url, (data / "tenant.token").read_text().strip(), tmp_path)
    wait_for(lambda: all(s["health"] == "up" for s in cli.json("sites")["items"]), timeout=20, what="agents up")
    # each job, when it completes, prints one line: a job run to its end twice prints two (jobs run
    # sandboxed, so the line goes to the job's log, which keeps every attempt's output)
    auth = {"Authorization": f"Bearer {cli.env['SUANLI_TOKEN']}"}
    ids = []
    for _ in range(JOBS):
        r = httpx.post(f"{url}/v1/jobs", headers=auth,
                       json={"command": ["sh", "-c", 'sleep 6; echo "done $SUANLI_JOB_ID"']})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    wait_for(lambda: sum(j["state"] == "running" for j in cli.json("jobs", "--limit", "100")["items"]) >= 10,
             timeout=30, what="jobs running")
    procs.kill(up, signal.SIGKILL)
    wait_for(lambda: not agent_pids(data), timeout=10, what="the agents to die with up")

    procs.start(["up", "--port", str(port), "--data-dir", str(data)], "up-again", env)
    wait_healthy(url)

    def all_ended() -> list[dict] | None:
        jobs = [j for j in cli.json("jobs", "--limit", "100")["items"] if j["id"] in ids]
        return jobs if len(jobs) == JOBS and all(j["state"] == "succeeded" for j in jobs) else None

    jobs = wait_for(all_ended, timeout=120, what="all 50 jobs to succeed after the restart")
    assert len(jobs) == JOBS
    for jid in ids:
        text = httpx.get(f"{url}/v1/jobs/{jid}/logs", headers=auth, params={"limit": 10000}).json()["text"]
        assert text.count(f"done {jid}") == 1, f"{jid} ran to its end more than once (or never): {text!r}"
    assert max(j["attempts"] for j in jobs) <= 3           # no job was started over and over
    assert len(agent_pids(data)) == 3                     # one agent per site, not old and new side by side
