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
    data, marks = tmp_path / "data", tmp_path / "marks"
    marks.mkdir(mode=0o777)
    marks.chmod(0o777)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SUANLI_LEASE_S": "3", "SUANLI_CYCLE_S": "0.2"}
    up = procs.start(["up", "--port", str(port), "--data-dir", str(data)], "up", env)
    wait_healthy(url)
    cli = Cli(url, (data / "tenant.token").read_text().strip(), tmp_path)
    wait_for(lambda: all(s["health"] == "up" for s in cli.json("sites")["items"]), timeout=20, what="agents up")
    # each job, when it completes, leaves one line in its own file: a job run to its end twice leaves two
    auth = {"Authorization": f"Bearer {cli.env['SUANLI_TOKEN']}"}
    ids = []
    for _ in range(JOBS):
        r = httpx.post(f"{url}/v1/jobs", headers=auth,
                       json={"command": ["sh", "-c", f'sleep 6; echo done >> {marks}/"$SUANLI_JOB_ID"']})
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
        assert (marks / jid).read_text() == "done\n", f"{jid} ran to its end more than once (or never)"
    assert max(j["attempts"] for j in jobs) <= 3           # no job was started over and over
    assert len(agent_pids(data)) == 3                     # one agent per site, not old and new side by side
