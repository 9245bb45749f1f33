"""The live scheduler with real ``suanli agent`` processes (local engine) against a real
``suanli serve``: spot preemption, live migration to a faster site, an agent restart.

The jobs' own processes are watched in ``/proc`` (``sleep <tag>`` commands) and their runs are
counted in their logs (a job is sandboxed: it cannot write outside its own directory).
"""

from __future__ import annotations

import json
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, bootstrap
from tests.conftest import Procs, free_port, sleepers, wait_for, wait_healthy

pytestmark = pytest.mark.slow


class Live:
    def __init__(self, procs: Procs, url: str, store_url: str, tenant: str, agents: dict[str, str],
                 work: Path) -> None:
        self.procs, self.url, self.store_url, self.agents, self.work = procs, url, store_url, agents, work
        self.h = {"Authorization": f"Bearer {tenant}"}

    def agent(self, site: str, name: str | None = None) -> Any:
        return self.procs.start(["agent", "--site", site, "--url", self.url, "--token", self.agents[site],
                                 "--interval", "0.1", "--work-dir", str(self.work / site)], name or f"agent-{site}")

    def submit(self, **body: object) -> str:
        r = httpx.post(f"{self.url}/v1/jobs", json=body, headers=self.h, timeout=10)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def job(self, jid: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/v1/jobs/{jid}", headers=self.h, timeout=10).json())

    def log(self, jid: str) -> str:
        return str(httpx.get(f"{self.url}/v1/jobs/{jid}/logs", params={"limit": 10000}, headers=self.h,
                             timeout=10).json()["text"])

    def until(self, jid: str, cond: Any, timeout: float = 20, what: str = "") -> dict[str, Any]:
        return wait_for(lambda: (lambda j: j if cond(j) else None)(self.job(jid)), timeout=timeout,
                        what=what or f"job {jid}")  # type: ignore[return-value]

    def audit(self, subject: str) -> list[dict[str, Any]]:
        p = bootstrap(self.store_url, migrate=False)
        try:
            with p.uow() as uow:
                return uow.audit.find(subject=subject, limit=1000)
        finally:
            p.db.dispose()


@pytest.fixture
def live(procs: Procs, store_url: str, tmp_path: Path) -> Live:
    p = bootstrap(store_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    agents = {s: tokens.create_token(p, SYSTEM, role="agent", site=s)[1] for s in ("nx-hub", "sh-city")}
    p.db.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs.start(["serve", "--port", str(port), "--database-url", store_url], "serve",
                {"SUANLI_CYCLE_S": "0.1", "SUANLI_LEASE_S": "60"})
    wait_healthy(url)
    return Live(procs, url, store_url, tenant, agents, tmp_path / "work")


def _detail(a: dict[str, Any]) -> dict[str, Any]:
    d = a["detail"]
    return dict(json.loads(d) if isinstance(d, str) else d)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_an_on_demand_job_preempts_a_spot_job_whose_process_is_killed(live: Live) -> None:
    live.agent("nx-hub")                      # 8 x A100; the other sites stay down
    tag = f"8{secrets.randbelow(10**6):06d}"
    spot = live.submit(command=["sh", "-c", f"echo spot run $SUANLI_ATTEMPT; exec sleep {tag}"], gpus=8,
                       preemptible=True)
    live.until(spot, lambda j: j["state"] == "running" and sleepers(tag), what="the spot job running")
    [victim] = sleepers(tag)
    wait_for(lambda: "spot run 1" in live.log(spot), timeout=10, what="the spot job's first output")
    # same priority, on demand, needs the whole pool: spot ranks one step below and gives way
    od = live.submit(command=["sh", "-c", "echo on-demand ran"], gpus=8)
    wait_for(lambda: not _alive(victim), timeout=15, what="the agent to kill the spot job's process")
    j = live.until(od, lambda j: j["state"] == "succeeded", what="the on-demand job to run")
    assert j["attempts"] == 1 and [p["state"] for p in j["placements"]] == ["succeeded"], [(a["action"], _detail(a)) for a in live.audit(od)]
    assert live.log(od).count("on-demand ran") == 1
    # the spot job was preempted by it, went back to the queue and runs again once the pool is free
    s = live.until(spot, lambda j: j["attempts"] == 2 and j["state"] == "running", what="the spot job again")
    assert [p["state"] for p in s["placements"]] == ["running", "preempted"], s   # newest first
    first = s["placements"][1]
    assert first["ended_at"] <= j["placements"][0]["started_at"], "the on-demand job started beside the victim"
    actions = [(a["action"], _detail(a)) for a in live.audit(spot)]
    names = [a for a, _ in actions]
    assert names.count("job.preempted") == 1 and "job.pending" in names[names.index("job.preempted"):], names
    assert [d["by"] for a, d in actions if a == "job.preempted"] == [od]
    text = wait_for(lambda: (lambda t: t if "spot run 2" in t else None)(live.log(spot)), timeout=10,
                    what="the spot job's second output")
    assert text.count("spot run 1") == 1 and text.count("spot run 2") == 1, text
    assert len(sleepers(tag)) == 1 and victim not in sleepers(tag)


def test_a_checkpointing_job_moves_to_a_faster_site_that_comes_up(live: Live) -> None:
    live.agent("nx-hub")                      # only the A100 site; sh-city (4 x H100, 3.2x faster) is down
    tag = f"9{secrets.randbelow(10**6):06d}"
    # declared 10 h on the A100 reference: ~3.1 h on the H100 pool, far more than the 1 h (and a
    # quarter of what is left) the balanced profile asks a move to save. The command itself sleeps
    # on its first attempt and ends quickly on its second.
    cmd = f'echo run $SUANLI_ATTEMPT; if [ "$SUANLI_ATTEMPT" = 1 ]; then exec sleep {tag}; fi; sleep 1; echo done'
    jid = live.submit(command=["sh", "-c", cmd], gpus=4, duration_s=36_000, checkpoint_interval_s=600)
    j = live.until(jid, lambda j: j["state"] == "running" and sleepers(tag), what="running on nx-hub")
    assert j["site"] == "nx-hub"
    [first] = sleepers(tag)
    live.agent("sh-city")
    wait_for(lambda: not _alive(first), timeout=20, what="the nx-hub agent to kill the moving job")
    j = live.until(jid, lambda j: j["state"] == "succeeded", what="the job to end on sh-city")
    assert j["site"] == "sh-city" and j["attempts"] == 2, j
    pls = j["placements"]
    assert [(p["site"], p["state"]) for p in pls] == [("sh-city", "succeeded"), ("nx-hub", "preempted")], pls
    moved = [a for a in live.audit(jid) if a["action"] == "job.preempted"]
    assert [_detail(a)["by"] for a in moved] == [jid], moved
    text = live.log(jid)
    assert text.count("run 1") == 1 and text.count("run 2") == 1 and text.count("done") == 1, text


def test_a_restarted_agent_fences_the_old_session_and_the_job_runs_once_to_its_end(live: Live) -> None:
    agent = live.agent("nx-hub")
    tag = f"6{secrets.randbelow(10**6):06d}"
    # the first run would sleep for months; a later one for a second
    cmd = (f'echo start $SUANLI_ATTEMPT; if [ "$SUANLI_ATTEMPT" = 1 ]; then sleep {tag}; else sleep 1; fi; '
           'echo done $SUANLI_ATTEMPT')
    jid = live.submit(command=["sh", "-c", cmd], gpus=2)
    live.until(jid, lambda j: j["state"] == "running" and sleepers(tag), what="the job running")
    wait_for(lambda: "start 1" in live.log(jid), timeout=10, what="the first run's output")
    time.sleep(0.5)   # the agent records the process tree
    [first] = sleepers(tag)
    live.procs.kill(agent, signal.SIGKILL)
    live.agent("nx-hub", "agent-2")           # the same work dir
    wait_for(lambda: not _alive(first), timeout=15, what="the first run to die with its agent")
    j = live.until(jid, lambda j: j["state"] == "succeeded", timeout=30, what="the job to run to its end")
    assert j["attempts"] == 2 and [p["state"] for p in j["placements"]] == ["succeeded", "lost"], j
    text = live.log(jid)
    assert text.count("start ") == 2 and text.count("done ") == 1 and "done 2" in text, text
    # the new agent's session fenced the old one: the old session is refused
    sessions = [a for a in live.audit("nx-hub") if a["action"] == "agent.session"]
    assert len(sessions) == 2, sessions
    old_session = _detail(sessions[1])["fenced"]
    assert old_session
    r = httpx.post(f"{live.url}/v1/agent/heartbeat", json={"free": {}, "held": []}, timeout=10,
                   headers={"Authorization": f"Bearer {live.agents['nx-hub']}", "X-Agent-Session": old_session})
    assert r.status_code == 409 and r.json()["error"]["code"] == "fenced", r.text
