"""The scheduler leader loses its PostgreSQL connection without dying.

Two ``suanli serve`` replicas share one database; the test terminates the leader's backends
(``pg_terminate_backend``): only its advisory-lock connection, or every connection of the
replica (``PGAPPNAME`` names each replica's connections). The other replica takes over within
seconds, the old one says ``leader: false`` and runs no more cycles, and a stream of jobs
submitted through the switch runs with every job placed and run exactly once (two leaders
deciding at once would give one pool's accelerators to two jobs: the agent would refuse the
second start, a second placement).

And, in-process: a cycle that loses its lock while it decides binds nothing (the bind step is
fenced), and the new leader places the job once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from suanli.control import loop as loop_mod
from suanli.control.leader import LOCK_KEY, PostgresLeader
from suanli.control.loop import SchedulerLoop
from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, bootstrap
from tests.api.helpers import World, make_world
from tests.conftest import Procs, free_port, wait_for, wait_healthy

pytestmark = [pytest.mark.postgres]

HOLDER = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 "
          "AND objid = %s AND objsubid = 1")


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _health(url: str) -> dict[str, Any]:
    try:
        return dict(httpx.get(url + "/healthz", timeout=2).json()["scheduler"])
    except (httpx.HTTPError, KeyError, ValueError):
        return {"leader": False, "cycles": None}


def _lock_holders(admin: psycopg.Connection) -> list[int]:
    return [r[0] for r in admin.execute(HOLDER, (LOCK_KEY,)).fetchall()]


@pytest.mark.slow
@pytest.mark.parametrize("cut", ["lock", "all"])
def test_a_leader_that_loses_its_connection_steps_down_and_nothing_runs_twice(
        procs: Procs, pg_url: str, tmp_path: Path, cut: str) -> None:
    p = bootstrap(pg_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    _, agent = tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")
    p.db.dispose()
    env = {"SUANLI_CYCLE_S": "0.2", "SUANLI_LEASE_S": "60"}
    urls = {}
    for name in ("a", "b"):
        port = free_port()
        urls[name] = f"http://127.0.0.1:{port}"
        procs.start(["serve", "--port", str(port), "--database-url", pg_url], f"serve-{name}",
                    {**env, "PGAPPNAME": f"suanli-test-{name}"})
    for url in urls.values():
        wait_healthy(url)
    wait_for(lambda: sum(_health(u)["leader"] for u in urls.values()) == 1, timeout=10, what="one leader")
    old = next(n for n, u in urls.items() if _health(u)["leader"])
    new = "b" if old == "a" else "a"
    # one agent (8 x A100 at nx-hub) runs the jobs; it talks to the replica that stays follower
    procs.start(["agent", "--site", "nx-hub", "--url", urls[new], "--token", agent, "--interval", "0.1",
                 "--work-dir", str(tmp_path / "work")], "agent")
    headers = {"Authorization": f"Bearer {tenant}"}

    def submit(i: int) -> str:
        body = {"command": ["sh", "-c", "echo ran $SUANLI_JOB_ID; sleep 0.3"], "gpus": 4}
        r = httpx.post(urls[new if i % 2 else old] + "/v1/jobs", json=body, headers=headers, timeout=10)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    ids = [submit(i) for i in range(6)]
    time.sleep(0.5)

    with _admin(pg_url) as admin:
        holders = _lock_holders(admin)
        assert len(holders) == 1, holders
        if cut == "lock":
            victims = holders
        else:
            victims = [r[0] for r in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
                (f"suanli-test-{old}",)).fetchall()]
            assert holders[0] in victims
        t0 = time.time()
        killed = admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid",
                               (victims,)).fetchall()
        assert all(k[0] for k in killed), killed
        ids += [submit(i) for i in range(6, 12)]   # more jobs through the switch

        wait_for(lambda: _health(urls[new])["leader"], timeout=10, what="the other replica to take over")
        took = time.time() - t0
        print(f"takeover after the leader lost its connection ({cut}): {took:.2f} s")
        assert took < 5, f"takeover took {took:.1f} s"
        wait_for(lambda: not _health(urls[old])["leader"], timeout=5, what="the old leader to step down")
        # the lock is now held by the new leader's connection (not a reconnect of the old one)
        holder = _lock_holders(admin)
        assert len(holder) == 1
        app = admin.execute("SELECT application_name FROM pg_stat_activity WHERE pid = %s", holder).fetchone()
        assert app == (f"suanli-test-{new}",), app

    # the old replica does not act: its cycle count stays where it was while the new one counts on
    before = _health(urls[old])["cycles"]
    new_before = _health(urls[new])["cycles"]
    ids += [submit(i) for i in range(12, 16)]
    time.sleep(1.5)
    assert _health(urls[old]) == {"leader": False, "cycles": before}
    assert _health(urls[new])["cycles"] > new_before

    def all_done() -> bool:
        items = httpx.get(urls[new] + "/v1/jobs?limit=100", headers=headers, timeout=5).json()["items"]
        return len(items) == len(ids) and all(j["state"] == "succeeded" for j in items)

    wait_for(all_done, timeout=40, what="every job to succeed")
    for jid in ids:
        j = httpx.get(f"{urls[new]}/v1/jobs/{jid}", headers=headers, timeout=5).json()
        assert j["attempts"] == 1 and [pl["state"] for pl in j["placements"]] == ["succeeded"], j
        text = httpx.get(f"{urls[new]}/v1/jobs/{jid}/logs", params={"limit": 10000}, headers=headers,
                         timeout=5).json()["text"]
        assert text.count(f"ran {jid}") == 1, text
    # the API of the old replica still answers (it lost its connections, not its store)
    assert httpx.get(f"{urls[old]}/v1/jobs/{ids[0]}", headers=headers, timeout=5).json()["state"] == "succeeded"


# -- the fence: a cycle that has lost its lock binds nothing ----------------------------------------
@pytest.fixture
def world(pg_url: str) -> Iterator[World]:
    w = make_world(pg_url)
    yield w
    w.p.db.dispose()


def test_a_cycle_that_loses_the_lock_while_it_decides_binds_nothing(world: World, pg_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    assert w.client.post("/v1/agent/heartbeat", json={"free": {}, "held": []}, headers=w.h("agent")).status_code == 200
    r = w.client.post("/v1/jobs", json={"command": ["true"], "gpus": 8}, headers=w.h("tenant"))
    jid = r.json()["id"]
    old = SchedulerLoop(w.p, PostgresLeader(w.p.db))
    rival = PostgresLeader(w.p.db)
    real_schedule = loop_mod.schedule
    calls = []

    def lose_the_lock_then_schedule(*args: Any, **kw: Any) -> Any:
        # the old leader has taken its snapshot; now its lock connection dies and the rival wins
        with _admin(pg_url) as admin:
            holders = _lock_holders(admin)
            assert holders == [old.leader.conn.info.backend_pid]   # type: ignore[attr-defined]
            admin.execute("SELECT pg_terminate_backend(%s)", (holders[0],))
        assert wait_for(rival.acquire, timeout=5, what="the rival to take the lock")
        calls.append(1)
        old.stop.set()            # one iteration of the old leader's loop
        return real_schedule(*args, **kw)

    monkeypatch.setattr(loop_mod, "schedule", lose_the_lock_then_schedule)
    old.run()
    assert calls == [1]
    job = w.client.get(f"/v1/jobs/{jid}", headers=w.h("operator")).json()
    assert job["state"] == "pending" and job["placements"] == [], job
    monkeypatch.setattr(loop_mod, "schedule", real_schedule)
    # the new leader places it, once
    new = SchedulerLoop(w.p, rival)
    new.stop.set()
    assert new.tick()
    job = w.client.get(f"/v1/jobs/{jid}", headers=w.h("operator")).json()
    assert job["state"] == "placed" and job["attempts"] == 1 and len(job["placements"]) == 1, job
    rival.release()
