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
def platform(procs: Procs, store_url: str) -> dict:
    p = bootstrap(store_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    _, agent = tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")
    p.db.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs.start(["serve", "--port", str(port), "--database-url", store_url], "serve", {"SUANLI_CYCLE_S": "0.1"})
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


def test_a_new_agent_fences_the_old_one_out(procs: Procs, platform: dict, tmp_path: Path) -> None:
    old = _agent(procs, platform, tmp_path / "old")
    wait_for(lambda: "placement" in procs.log("agent") or _site_up(platform), timeout=15, what="the first agent up")
    new = procs.start(["agent", "--site", "nx-hub", "--url", platform["url"], "--token", platform["agent"],
                       "--interval", "0.1", "--work-dir", str(tmp_path / "new")], "agent-new")
    # the old agent's next call is refused (409 fenced) and it exits; the new one keeps the site
    wait_for(lambda: old.poll() is not None, timeout=15, what="the fenced agent to exit")
    assert "another agent took over" in procs.log("agent")
    jid = _submit(platform, command=["sh", "-c", "echo ran"])
    wait_for(lambda: _job(platform, jid)["state"] == "succeeded", timeout=15, what="a job on the new agent")
    assert new.poll() is None


def _site_up(w: dict) -> bool:
    op = httpx.get(f"{w['url']}/v1/federation", headers=w["tenant"]).json()
    return bool(op["sites"]["nx-hub"]["health"] == "up")


def test_a_job_that_cannot_start_fails_alone_and_the_agent_lives(procs: Procs, platform: dict, tmp_path: Path) -> None:
    agent = _agent(procs, platform, tmp_path)
    missing = _submit(platform, command=["/no/such/program"])
    j = wait_for(lambda: (lambda j: j if j["state"] == "failed" else None)(_job(platform, missing)), timeout=15,
                 what="the failed start")
    assert "cannot start" in j["reason"]
    ok = _submit(platform, command=["sh", "-c", "echo fine"])
    wait_for(lambda: _job(platform, ok)["state"] == "succeeded", timeout=15, what="the next job")
    assert agent.poll() is None


def test_a_flood_of_output_is_capped_and_the_site_stays_up(procs: Procs, platform: dict, tmp_path: Path) -> None:
    procs.start(["agent", "--site", "nx-hub", "--url", platform["url"], "--token", platform["agent"], "--interval",
                 "0.1", "--work-dir", str(tmp_path / "work"), "--log-cap", "200000"], "agent")
    # 30 MB of output, then a last line; the stored log keeps 100,000 bytes of head and of tail
    flood = _submit(platform, command=["sh", "-c", "yes 0123456789abcdef | head -c 30000000; echo; echo THE-END"])
    quiet = _submit(platform, command=["sleep", "4"])
    j = wait_for(lambda: (lambda j: j if j["state"] == "succeeded" else None)(_job(platform, flood)), timeout=60,
                 what="the flood to end")
    text = httpx.get(f"{platform['url']}/v1/jobs/{flood}/logs", params={"limit": 10000},
                     headers=platform["tenant"]).json()["text"]
    assert text.startswith("0123456789abcdef\n")
    assert text.rstrip().endswith("THE-END")
    dropped = 30_000_000 + len("\nTHE-END\n") - 200_000
    assert f"[suanli: {dropped} bytes of output dropped here" in text
    assert len(text) < 200_000 + 200
    assert j["attempts"] == 1
    # and the agent's disk keeps about the same: what it dropped was freed (a hole in the file)
    log_file = max((tmp_path / "work").glob("*.log"), key=lambda f: f.stat().st_size)   # the flood's
    assert log_file.stat().st_size > 30_000_000
    assert log_file.stat().st_blocks * 512 < 2_000_000
    q = wait_for(lambda: (lambda j: j if j["state"] == "succeeded" else None)(_job(platform, quiet)), timeout=30,
                 what="the other job")
    assert q["attempts"] == 1          # never requeued: the site kept its lease through the flood
