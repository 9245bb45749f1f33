"""End to end on a real Ray head (``.ci/ray.sh start``: one node, 4 fake GPUs, dashboard on
SUANLI_RAY_ADDRESS): ``suanli serve`` on a federation with one Ray site, its agent
``suanli agent --site ray-site`` (backend and address from the site's ``engine``/``engine_options``),
driven by the ``suanli`` CLI and checked against the Ray Jobs API. Skipped without Ray, failed
under CI=true (the rule of tests/agent/test_ray_backend.py).

The site's pool is declared with 8 GPUs on one node while Ray reports 4, so an 8-GPU job shows the
shortfall; every other job fits in the 4 Ray has. One platform and one agent for the module; the
tests run in file order and restart the agent where they need to. Every Ray job the module starts
is stopped at the end (Ray keeps the records).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Cli, Procs, free_port, needs, wait_for, wait_healthy

pytestmark = pytest.mark.slow

ADDRESS = os.environ.get("SUANLI_RAY_ADDRESS", "")
RAY_HOW = "run `.ci/ray.sh start` before the tests"
SITE, POOL = "ray-site", "h800"
RAY_GPUS = 4        # what .ci/ray.sh gives the head
DECLARED = 8        # what the federation declares for the pool
ENDED = ("succeeded", "failed", "cancelled", "rejected")

FEDERATION = """\
name: ray-e2e
regions:
  - {{name: r1}}
sites:
  - name: {site}
    region: r1
    engine: ray
    engine_options: {{address: "{address}"}}
    pools:
      - {{name: {pool}, accelerator: H800, per_node: {declared}, nodes: 1}}
tenants:
  - {{name: lab, home_region: r1}}
"""


@pytest.fixture(scope="module")
def ray() -> Any:
    """The Ray Jobs API client (the test's own view of Ray)."""
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError:
        needs("the ray package is not installed", RAY_HOW)
    if not ADDRESS:
        needs("SUANLI_RAY_ADDRESS is not set (no Ray head)", RAY_HOW)
    try:
        return JobSubmissionClient(ADDRESS)
    except Exception as exc:  # noqa: BLE001  (Ray raises ConnectionError, RuntimeError...)
        needs(f"no Ray dashboard at {ADDRESS}: {exc}", RAY_HOW)


@pytest.fixture(scope="module")
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    p = Procs(tmp_path_factory.mktemp("ray-e2e-procs"))
    yield p
    p.close()


@pytest.fixture(scope="module")
def plat(ray: Any, procs: Procs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from suanli.services import federation, tokens
    from suanli.services.platform import SYSTEM, bootstrap
    from suanli.store.db import sqlite_url

    tmp = tmp_path_factory.mktemp("ray-e2e")
    fed = tmp / "federation.yaml"
    fed.write_text(FEDERATION.format(site=SITE, address=ADDRESS, pool=POOL, declared=DECLARED))
    data = tmp / "data"
    p = bootstrap(sqlite_url(data))
    federation.seed_from_file(p, str(fed))
    operator = tokens.create_token(p, SYSTEM, role="operator")[1]
    tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="lab")[1]
    agent_token = tmp / "agent.token"
    agent_token.write_text(tokens.create_token(p, SYSTEM, role="agent", site=SITE)[1] + "\n")
    p.db.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # a long lease: a SIGKILLed agent restarted within it keeps its site (and its placements) up
    procs.start(["serve", "--port", str(port), "--data-dir", str(data)], "serve",
                {"SUANLI_LEASE_S": "30", "SUANLI_CYCLE_S": "0.2"})
    wait_healthy(url)
    api = httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {operator}"})
    plat: dict[str, Any] = {"url": url, "tmp": tmp, "token_file": agent_token, "n": 0, "api": api,
                            "cli": Cli(url, tenant, tmp), "op": Cli(url, operator, tmp)}
    start_agent(plat, procs)
    wait_for(lambda: _pool(plat)["observed_total"] is not None, timeout=30, what="the agent's first inventory")
    yield plat
    _stop_ray_jobs(ray, plat)
    api.close()


@pytest.fixture(autouse=True)
def _nothing_left_running(plat: dict[str, Any]) -> Iterator[None]:
    """Cancel whatever a test left pending or running: a test that fails half-way must not leave a
    job holding the pool's GPUs for the tests after it."""
    yield
    live = _get(plat, "/v1/jobs", state=["pending", "placed", "running"], limit=1000)["items"]
    for job in live:
        plat["api"].post(f"/v1/jobs/{job['id']}/cancel")


def start_agent(plat: dict[str, Any], procs: Procs, *extra: str) -> subprocess.Popen[bytes]:
    plat["n"] += 1
    name = f"agent{plat['n']}"
    proc = procs.start(["agent", "--site", SITE, "--url", plat["url"], "--token-file", str(plat["token_file"]),
                        "--work-dir", str(plat["tmp"] / "work"), "--interval", "0.3", *extra], name)
    plat["agent"], plat["agent_log"] = proc, name
    t0 = time.time()
    wait_for(lambda: (lambda s: s["health"] == "up" and (s["last_heartbeat"] or 0) > t0)(_site(plat)),
             timeout=30, interval=0.3, what=f"{name} to heartbeat")
    return proc


def _stop_ray_jobs(ray: Any, plat: dict[str, Any]) -> None:
    """Stop every Ray job this module's platform started (their submission ids are placement ids)."""
    ours = {pl["id"] for pl in _get(plat, "/v1/placements", limit=1000)["items"]}
    for job in ray.list_jobs():
        if job.submission_id in ours and not job.status.is_terminal():
            ray.stop_job(job.submission_id)


# -- reading the platform (over HTTP: the loops would cost a CLI process per look) ---------------
def _get(plat: dict[str, Any], path: str, **params: Any) -> Any:
    r = plat["api"].get(path, params=params)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def _site(plat: dict[str, Any]) -> dict[str, Any]:
    return _get(plat, f"/v1/sites/{SITE}")  # type: ignore[no-any-return]


def _pool(plat: dict[str, Any]) -> dict[str, Any]:
    return next(pl for pl in _site(plat)["pools"] if pl["name"] == POOL)


def _job(plat: dict[str, Any], job_id: str) -> dict[str, Any]:
    return _get(plat, f"/v1/jobs/{job_id}")  # type: ignore[no-any-return]


def _when(plat: dict[str, Any], job_id: str, states: tuple[str, ...], timeout: float = 40) -> dict[str, Any]:
    return wait_for(lambda: (lambda j: j if j["state"] in states else None)(_job(plat, job_id)),  # type: ignore[return-value]
                    timeout=timeout, interval=0.3, what=f"{job_id} to be {'/'.join(states)}")


def _running_in_ray(plat: dict[str, Any], ray: Any, job_id: str, timeout: float = 40) -> str:
    """The job's placement id once the platform says running and Ray says RUNNING."""
    j = _when(plat, job_id, ("running",), timeout)
    pid = j["placements"][-1]["id"]
    wait_for(lambda: str(ray.get_job_info(pid).status) == "RUNNING", timeout=timeout, what=f"Ray job {pid} RUNNING")
    return str(pid)


def _placements(plat: dict[str, Any], job_id: str) -> list[dict[str, Any]]:
    return _get(plat, "/v1/placements", job_id=job_id)["items"]  # type: ignore[no-any-return]


def _free_and_external(plat: dict[str, Any]) -> tuple[int, int]:
    """What the agent reports free for the pool, and what Ray runs there for others."""
    s = _site(plat)
    pool = next(pl for pl in s["pools"] if pl["name"] == POOL)
    return s["live"]["free"][POOL], pool["observed"].get("external", 0)


def _idle(plat: dict[str, Any]) -> None:
    """Wait until the pool is seen idle: Ray's usage report lags a job's end by 1-2 s (meanwhile its
    GPUs count as external) and the agent reads the inventory every 2 s."""
    wait_for(lambda: _free_and_external(plat) == (RAY_GPUS, 0), timeout=20, what="an idle pool")


def _ray_status(ray: Any, pid: str) -> str:
    return str(ray.get_job_info(pid).status)


def _pgrep(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [line for line in out.split() if int(line) != os.getpid()]


def _marker() -> str:
    """A unique ``sleep`` argument: finds the job's processes with pgrep."""
    return f"600.{random.randrange(10**6, 10**7)}"


# -- the tests ------------------------------------------------------------------------------------
def test_a_job_runs_as_the_ray_job_named_by_its_placement(plat: dict[str, Any], ray: Any) -> None:
    cli = plat["cli"]
    sub = 'import json,os;print(json.loads(os.environ["RAY_JOB_CONFIG_JSON_ENV_VAR"])["metadata"]["job_submission_id"])'
    ok = cli.json("submit", "--gpus", "1", "--", "sh", "-c",
                  f"echo SUB=$(python3 -c '{sub}') CVD=$CUDA_VISIBLE_DEVICES")
    bad = cli.json("submit", "--gpus", "1", "--", "sh", "-c", "echo failing; exit 3")
    _when(plat, ok["id"], ENDED)
    done = cli.json("job", "show", ok["id"])
    assert (done["state"], done["exit_code"]) == ("succeeded", 0), done
    [pl] = _placements(plat, ok["id"])
    assert pl["state"] == "succeeded" and pl["attempt"] == 1 and pl["site"] == SITE
    assert [p["id"] for p in done["placements"]] == [pl["id"]]
    assert _ray_status(ray, pl["id"]) == "SUCCEEDED"
    logs = cli.run("job", "logs", ok["id"]).stdout
    assert f"Running entrypoint for job {pl['id']}:" in logs
    line = next(x for x in logs.splitlines() if x.startswith("SUB="))
    sub_id, cvd = line.split()
    assert sub_id == f"SUB={pl['id']}"                 # the Ray submission id is the placement id
    assert cvd.startswith("CVD=") and cvd != "CVD="    # Ray chose a GPU
    assert len(cvd[4:].split(",")) == 1

    failed = _when(plat, bad["id"], ENDED)
    assert (failed["state"], failed["exit_code"]) == ("failed", 3), failed
    [bpl] = _placements(plat, bad["id"])
    assert (bpl["state"], bpl["exit_code"]) == ("failed", 3)
    assert _ray_status(ray, bpl["id"]) == "FAILED"
    assert "failing" in cli.run("job", "logs", bad["id"]).stdout


def test_a_time_limit_stops_the_ray_job(plat: dict[str, Any], ray: Any) -> None:
    """A limit of 10 s: well after Ray's own start (2-4 s here). A stop that races that start can
    leave the command running (Ray signals only what it finds; docs/engines.md, known limits), so
    the limit is one a user would set, and then nothing may survive it."""
    cli, mark = plat["cli"], _marker()
    job = cli.json("submit", "--time-limit", "10", "--", "sleep", mark)
    pid = _running_in_ray(plat, ray, job["id"])   # the limit counts from the submission to Ray
    wait_for(lambda: _pgrep(f"sleep {mark}"), timeout=15, what="the command to start")
    done = _when(plat, job["id"], ENDED, timeout=40)
    assert done["state"] == "failed" and "time_limit" in done["reason"], done
    [pl] = _placements(plat, job["id"])
    assert (pl["state"], pl["exit_code"]) == ("failed", -15), pl   # Ray's SIGTERM
    assert _ray_status(ray, pid) == "STOPPED"
    wait_for(lambda: not _pgrep(f"sleep {mark}"), timeout=10, what="the sleep to be gone")


def test_cancel_stops_the_ray_job_and_its_processes(plat: dict[str, Any], ray: Any) -> None:
    cli, mark = plat["cli"], _marker()
    job = cli.json("submit", "--", "sh", "-c", f"sleep {mark}; echo REACHED_$((40 + 2))")
    pid = _running_in_ray(plat, ray, job["id"])
    # Ray says RUNNING before its driver has spawned the entrypoint's shell: wait for the command
    wait_for(lambda: _pgrep(f"sleep {mark}"), timeout=15, what="the command to start")
    assert cli.json("job", "cancel", job["id"])["state"] == "cancelled"
    j = wait_for(lambda: (lambda j: j if j["placements"][0]["state"] not in ("leased", "running") else None)(
        _job(plat, job["id"])), timeout=30, what="the agent to stop it")
    assert j["state"] == "cancelled" and j["placements"][0]["state"] == "cancelled", j
    assert _ray_status(ray, pid) == "STOPPED"
    wait_for(lambda: not _pgrep(f"sleep {mark}"), timeout=10, what="the job's processes to be gone")
    assert "REACHED_42" not in cli.run("job", "logs", job["id"]).stdout


def test_a_job_larger_than_what_ray_reports_stays_pending(plat: dict[str, Any]) -> None:
    cli = plat["cli"]
    _idle(plat)
    job = cli.json("submit", "--gpus", str(DECLARED), "--", "true")
    try:
        time.sleep(2)     # ten scheduler cycles
        explain = cli.json("job", "explain", job["id"])
        assert explain["state"] == "pending", explain
        [row] = [r for r in explain["pools"] if r["pool"] == POOL]
        assert f"engine reports {RAY_GPUS} of {DECLARED} accelerators" in row["reason"], row
        assert f"engine reports {RAY_GPUS} of {DECLARED} accelerators" in _job(plat, job["id"])["reason"]
        [site] = [s for s in cli.json("sites")["items"] if s["name"] == SITE]
        [pool] = site["pools"]
        assert (pool["observed_total"], pool["declared"]) == (RAY_GPUS, DECLARED)
        # Ray's usage report lags the end of an earlier test's job by a report or two: wait for it
        wait_for(lambda: _free_and_external(plat)[0] == RAY_GPUS, timeout=20, what="all 4 GPUs free")
        assert _job(plat, job["id"])["placements"] == []      # still not placed: 4 free, 8 asked
    finally:
        cli.run("job", "cancel", job["id"])


def test_a_killed_agent_is_restarted_and_adopts_its_ray_jobs(plat: dict[str, Any], ray: Any, procs: Procs) -> None:
    cli = plat["cli"]
    marks = plat["tmp"] / "executions"
    marks.mkdir()
    jobs = [cli.json("submit", "--", "sh", "-c", f"sleep 15; echo $SUANLI_PLACEMENT_ID >> {marks}/runs")
            for _ in range(2)]
    pids = [_running_in_ray(plat, ray, j["id"]) for j in jobs]
    procs.kill(plat["agent"], signal.SIGKILL)
    start_agent(plat, procs)
    wait_for(lambda: all(f"placement {pid} adopted from the engine" in procs.log(plat["agent_log"]) for pid in pids),
             timeout=30, what="the new agent to adopt both")
    assert not (marks / "runs").exists()   # adopted while both still ran (a restart takes 3-6 s here)
    done = [_when(plat, j["id"], ENDED) for j in jobs]
    assert [(d["state"], d["exit_code"], d["attempts"]) for d in done] == [("succeeded", 0, 1)] * 2, done
    for d, pid in zip(done, pids, strict=True):
        assert [(p["id"], p["attempt"], p["state"]) for p in d["placements"]] == [(pid, 1, "succeeded")]
    assert sorted((marks / "runs").read_text().split()) == sorted(pids)   # each ran exactly once
    submitted = [j.submission_id for j in ray.list_jobs()]
    assert [submitted.count(pid) for pid in pids] == [1, 1]


class Proxy:
    """A TCP forwarder to the Ray dashboard that can be stopped (connections refused) and started
    again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.server: socket.socket | None = None
        self.conns: list[socket.socket] = []

    def start(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.server = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            try:
                self.server.shutdown(socket.SHUT_RDWR)   # wakes the accept() (a bare close does not)
            except OSError:
                pass
            self.server.close()
            self.server = None
        for c in self.conns:   # shutdown first: a bare close does not wake the pipes' recv() nor send a FIN
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_ray_refusing_connections_for_a_while_does_not_fail_a_job(plat: dict[str, Any], ray: Any,
                                                                   procs: Procs) -> None:
    cli = plat["cli"]
    host, port = httpx.URL(ADDRESS).host, httpx.URL(ADDRESS).port or 80
    proxy = Proxy((host, port))
    proxy.start()
    try:
        procs.kill(plat["agent"], signal.SIGTERM)
        start_agent(plat, procs, "--option", f"address=http://127.0.0.1:{proxy.port}")
        job = cli.json("submit", "--", "sh", "-c", "sleep 8; echo survived")
        pid = _running_in_ray(plat, ray, job["id"])
        proxy.stop()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{proxy.port}/api/version", timeout=2)
        time.sleep(4)   # the agent polls 10+ times into a refused port; the site keeps heartbeating
        j = _job(plat, job["id"])
        assert j["state"] == "running" and _site(plat)["health"] == "up", j
        assert "no answer" in procs.log(plat["agent_log"])   # the agent did see the outage
        proxy.start()
        done = _when(plat, job["id"], ENDED, timeout=30)
        assert (done["state"], done["exit_code"], done["attempts"]) == ("succeeded", 0, 1), done
        assert [(p["id"], p["state"]) for p in done["placements"]] == [(pid, "succeeded")]
        assert "survived" in cli.run("job", "logs", job["id"]).stdout
    finally:
        procs.kill(plat["agent"], signal.SIGTERM)
        proxy.stop()
        start_agent(plat, procs)   # back on the site's own address for the tests after this one


def test_gpus_held_by_ray_work_outside_suanli_lower_its_free_count(plat: dict[str, Any], ray: Any) -> None:
    _idle(plat)
    sid = f"external-{uuid.uuid4().hex[:8]}"
    ray.submit_job(entrypoint="sleep 60", submission_id=sid, entrypoint_num_gpus=2)
    try:
        wait_for(lambda: _ray_status(ray, sid) == "RUNNING", timeout=30, what="the external job to run")
        wait_for(lambda: _free_and_external(plat) == (RAY_GPUS - 2, 2), timeout=20, what="free 2, external 2")
        [site] = [s for s in plat["cli"].json("sites")["items"] if s["name"] == SITE]
        [pool] = site["pools"]
        assert (site["live"]["free"][POOL], pool["observed"]["external"], pool["observed_total"]) == (2, 2, RAY_GPUS)
    finally:
        ray.stop_job(sid)
    _idle(plat)   # and the GPUs come back
