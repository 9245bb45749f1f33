"""Several ``suanli serve`` replicas on one PostgreSQL: exactly one runs the scheduler (advisory
lock); when the leader is killed another takes over within seconds and keeps placing jobs."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, bootstrap
from tests.conftest import Procs, free_port, wait_for, wait_healthy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _leader(url: str) -> bool:
    try:
        return bool(httpx.get(url + "/healthz", timeout=2).json()["scheduler"]["leader"])
    except httpx.HTTPError:
        return False


def test_one_leader_and_fast_failover(procs: Procs, pg_url: str) -> None:
    p = bootstrap(pg_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    _, agent = tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")
    p.db.dispose()
    env = {"SUANLI_CYCLE_S": "0.2", "SUANLI_LEASE_S": "60"}
    servers = {}
    for name in ("a", "b"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        servers[name] = (procs.start(["serve", "--port", str(port), "--database-url", pg_url], f"serve-{name}", env), url)
    for _, url in servers.values():
        wait_healthy(url)
    wait_for(lambda: sum(_leader(u) for _, u in servers.values()) == 1, timeout=10, what="one leader")
    time.sleep(1.0)
    assert sum(_leader(u) for _, u in servers.values()) == 1, "two leaders at once"
    leader = next(n for n, (_, u) in servers.items() if _leader(u))
    follower_url = servers["b" if leader == "a" else "a"][1]

    procs.kill(servers[leader][0], signal.SIGKILL)
    t0 = time.time()
    wait_for(lambda: _leader(follower_url), timeout=10, what="the follower to take over")
    took = time.time() - t0
    print(f"takeover after SIGKILL of the leader: {took:.2f} s")
    assert took < 5, f"takeover took {took:.1f} s"

    # the new leader schedules: a job submitted to it gets placed on the site whose agent beats
    h = {"Authorization": f"Bearer {agent}"}
    httpx.post(follower_url + "/v1/agent/heartbeat", json={"free": {"a100": 8}}, headers=h).raise_for_status()
    job = httpx.post(follower_url + "/v1/jobs", json={"command": ["true"]},
                     headers={"Authorization": f"Bearer {tenant}"}).json()

    def placed() -> bool:
        j = httpx.get(f"{follower_url}/v1/jobs/{job['id']}", headers={"Authorization": f"Bearer {tenant}"}).json()
        return j["state"] == "placed"

    wait_for(placed, timeout=10, what="the job to be placed by the new leader")
