"""A real agent process against a real API process: runs a job, enforces its time limit, kills
it on cancel, and leaves nothing running when the agent is SIGKILLed."""

from __future__ import annotations

import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest

from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, bootstrap
from tests.conftest import Procs, free_port, sleepers, wait_for, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture
def platform(procs: Procs, sqlite_url: str) -> dict:
    p = bootstrap(sqlite_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    _, agent = tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")
    p.db.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs.start(["serve", "--port", str(port), "--database-url", sqlite_url], "serve", {"SUANLI_CYCLE_S": "0.1"})
    wait_healthy(url)
    return {"url": url, "tenant": {"Authorization": f"Bearer {tenant}"}, "agent": agent}


def _job(w: dict, jid: str) -> dict:
    return httpx.get(f"{w['url']}/v1/jobs/{jid}", headers=w["tenant"]).json()


def _submit(w: dict, **body: object) -> str:
    r = httpx.post(f"{w['url']}/v1/jobs", json=body, headers=w["tenant"])
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _agent(procs: Procs, w: dict, tmp_path: Path):  # type: ignore[no-untyped-def]
    return procs.start(["agent", "--site", "nx-hub", "--url", w["url"], "--token", w["agent"], "--interval", "0.1",
                        "--work-dir", str(tmp_path / "work")], "agent")


def test_time_limit_and_cancel(procs: Procs, platform: dict, tmp_path: Path) -> None:
    _agent(procs, platform, tmp_path)
    slow = _submit(platform, command=["sleep", "30"], time_limit_s=1)
    doomed = _submit(platform, command=["sleep", "30"], gpus=2)
    wait_for(lambda: _job(platform, doomed)["state"] == "running", timeout=15, what="running")
    httpx.post(f"{platform['url']}/v1/jobs/{doomed}/cancel", headers=platform["tenant"]).raise_for_status()
    wait_for(lambda: _job(platform, doomed)["placements"][0]["state"] == "cancelled", timeout=10, what="killed")
    j = wait_for(lambda: (lambda j: j if j["state"] == "failed" else None)(_job(platform, slow)), timeout=15,
                 what="time limit")
    assert "time_limit" in j["reason"]


def test_a_sigkilled_agent_leaves_no_job_running(procs: Procs, platform: dict, tmp_path: Path) -> None:
    """The job's main process (exec'd) and its background child: neither outlives the agent and
    the agent's next run on the same work dir (without a sandbox or cgroups, the child is killed
    by that next run, from the state file)."""
    agent = _agent(procs, platform, tmp_path)
    tag = f"7{secrets.randbelow(10**6):06d}"
    jid = _submit(platform, command=["sh", "-c", f"sleep {tag}.1 & exec sleep {tag}.2"])
    wait_for(lambda: _job(platform, jid)["state"] == "running" and len(sleepers(tag)) == 2, timeout=15, what="running")
    time.sleep(0.5)   # the agent records the tree
    old = {pid: Path(f"/proc/{pid}/stat").read_text().split()[21] for pid in sleepers(tag)}
    procs.kill(agent, signal.SIGKILL)
    _agent(procs, platform, tmp_path)   # may start the requeued job again: only the old pids count

    def gone() -> bool:
        for pid, start in old.items():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().split()
            except OSError:
                continue
            if stat[21] == start and stat[2] != "Z":
                return False
        return True

    wait_for(gone, timeout=15, what="the job's processes to die with its agent or its next run")
