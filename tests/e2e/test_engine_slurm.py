"""End to end on a real Slurm cluster (.ci/slurm.sh: nodes n1, n2 with gpu:4 each on fake devices,
partition ``gpu``): ``suanli serve`` with a federation whose one site runs ``engine: slurm``, and
``suanli agent --site slurm-site`` (backend taken from the site's engine), driven by the ``suanli``
CLI and checked against ``squeue``/``scontrol``. Skipped when Slurm is not up, a failure under CI=true.

One platform and agent for the module; the tests run in file order. The time-limit job is submitted
by the first test that needs a GPU and checked by the last, so its minute overlaps the rest. Every
Slurm job the module starts (by suanli or by hand) is cancelled at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from suanli.api.client import Client
from tests.conftest import Cli, Procs, free_port, sh, slurm_problem, wait_for, wait_healthy

pytestmark = pytest.mark.slow

SITE, POOL = "slurm-site", "a100"
FEDERATION = f"""
name: e2e-slurm
regions:
  - {{name: r1}}
sites:
  - name: {SITE}
    region: r1
    engine: slurm
    engine_options: {{partition: gpu}}
    pools:
      - {{name: {POOL}, accelerator: A100, per_node: 4, nodes: 2}}
tenants:
  - {{name: lab, home_region: r1}}
"""
ENDED = ("succeeded", "failed", "cancelled", "killed")


def _until(get: Callable[[], dict[str, Any]], ok: Callable[[dict[str, Any]], bool], what: str,
           timeout: float = 30) -> dict[str, Any]:
    """``get()`` once ``ok`` holds for it (polled)."""
    return cast(dict[str, Any], wait_for(lambda: (lambda v: v if ok(v) else None)(get()), timeout=timeout,
                                         interval=0.3, what=what))


def _slurm_jobs(name: str) -> list[tuple[str, str]]:
    """(job id, state) of every Slurm job of this user named ``name`` (ended ones included)."""
    out = sh("squeue", "-h", "-t", "all", "-u", str(os.getuid()), f"--name={name}", "-o", "%i|%T").stdout
    return [tuple(line.split("|", 1)) for line in out.splitlines() if line.strip()]  # type: ignore[misc]


class Platform:
    """The module's platform: URLs, CLIs, the agent's files and what the tests started in Slurm."""

    def __init__(self, procs: Procs, tmp: Path) -> None:
        self.procs, self.tmp = procs, tmp
        self.data, self.work, self.shims = tmp / "data", tmp / "agent-work", tmp / "shims"
        self.squeue_down = tmp / "squeue-down"     # while it exists, the agent's squeue fails
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.external: list[str] = []               # Slurm job ids submitted by hand
        self.agent: subprocess.Popen[bytes] | None = None
        self.agents = 0
        self.tenant: Cli            # the suanli CLI, for what a user does
        self.operator: Cli
        self.api: Client            # the HTTP API, for polling (cheaper than a CLI process each time)
        self.operator_api: Client
        self.agent_token: Path

    def start_agent(self) -> None:
        self.agents += 1
        self.agent = self.procs.start(
            ["agent", "--site", SITE, "--url", self.url, "--token-file", str(self.agent_token),
             "--work-dir", str(self.work), "--interval", "0.3"],
            f"agent{self.agents}", {"PATH": f"{self.shims}:{os.environ['PATH']}"})

    # -- reading the platform ------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/v1/jobs/{job_id}"))

    def wait_state(self, job_id: str, *states: str, timeout: float = 40) -> dict[str, Any]:
        return _until(lambda: self.job(job_id), lambda j: j["state"] in states,
                      f"job {job_id} to be {'/'.join(states)}", timeout)

    def placement(self, job_id: str) -> str:
        j = self.wait_state(job_id, "placed", "running", *ENDED)
        return str(j["placement_id"] or sorted(j["placements"], key=lambda p: p["attempt"])[-1]["id"])

    def submit(self, *args: str) -> str:
        return str(self.tenant.json("submit", *args)["id"])

    def site(self) -> dict[str, Any]:
        return dict(self.operator_api.get(f"/v1/sites/{SITE}"))

    def pool(self) -> dict[str, Any]:
        return next(p for p in self.site()["pools"] if p["name"] == POOL)


@pytest.fixture(scope="module")
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    p = Procs(tmp_path_factory.mktemp("slurm-e2e-procs"))
    yield p
    p.close()


@pytest.fixture(scope="module")
def plat(procs: Procs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    why = slurm_problem()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Slurm is not up under CI=true: {why}")
        pytest.skip(f"no Slurm: {why}")
    from suanli.services import tokens
    from suanli.services.federation import seed_from_file
    from suanli.services.platform import SYSTEM, bootstrap
    from suanli.store.db import sqlite_url

    pl = Platform(procs, tmp_path_factory.mktemp("slurm-e2e"))
    pl.shims.mkdir()
    real = shutil.which("squeue")
    (pl.shims / "squeue").write_text(
        f"#!/bin/sh\nif [ -e '{pl.squeue_down}' ]; then\n"
        "  echo 'squeue: error: Unable to contact slurm controller (connect failure)' >&2; exit 1\nfi\n"
        f"exec '{real}' \"$@\"\n")
    (pl.shims / "squeue").chmod(0o755)
    fed = pl.tmp / "federation.yaml"
    fed.write_text(FEDERATION)
    p = bootstrap(sqlite_url(pl.data))
    seed_from_file(p, str(fed))
    secrets = {role: tokens.create_token(p, SYSTEM, role=role, name=f"e2e {role}", **kw)[1]
               for role, kw in (("operator", {}), ("tenant", {"tenant": "lab"}), ("agent", {"site": SITE}))}
    p.db.dispose()
    pl.agent_token = pl.tmp / "agent.token"
    pl.agent_token.write_text(secrets["agent"] + "\n")
    pl.tenant = Cli(pl.url, secrets["tenant"], pl.tmp)
    pl.operator = Cli(pl.url, secrets["operator"], pl.tmp)
    pl.api, pl.operator_api = Client(pl.url, secrets["tenant"]), Client(pl.url, secrets["operator"])
    procs.start(["serve", "--port", str(pl.port), "--data-dir", str(pl.data)], "serve", {"SUANLI_CYCLE_S": "0.1"})
    wait_healthy(pl.url)
    pl.start_agent()
    wait_for(lambda: pl.site()["health"] == "up" and pl.pool()["observed_total"] == 8, timeout=30,
             what="the agent's first heartbeat with the engine's inventory")
    try:
        yield pl
    finally:
        pl.api.close()
        pl.operator_api.close()
        for p in procs.items:
            procs.kill(p)
        ours = [line.split("|")[0] for line in sh("squeue", "-h", "-u", str(os.getuid()), "-o", "%i|%k").stdout.split()
                if line.endswith("|suanli")]
        sh("scancel", *pl.external, *[j for j in ours if _job_dir(j, pl.work)])


def _job_dir(job_id: str, work: Path) -> bool:
    """The Slurm job is one of this module's agent's (its output is under the agent's work dir)."""
    return str(work) in sh("scontrol", "show", "job", "-o", job_id).stdout


# -- h. a two-node gang (first: it needs all eight GPUs free) ------------------------------------------
def test_a_two_node_gang_runs_one_task_per_node_with_ranks(plat: Platform) -> None:
    job = plat.submit("--gpus", "8", "--", "sh", "-c",
                      'echo "rank=$SUANLI_RANK world=$SUANLI_WORLD_SIZE node=$SLURMD_NODENAME gpus=$CUDA_VISIBLE_DEVICES"')
    j = plat.wait_state(job, *ENDED)
    assert j["state"] == "succeeded" and j["exit_code"] == 0, j
    lines = sorted(x for x in plat.tenant.run("job", "logs", job).stdout.splitlines() if x.startswith("rank="))
    assert [x.split(" node=")[0] for x in lines] == ["rank=0 world=2", "rank=1 world=2"]
    assert sorted(x.split(" node=")[1].split()[0] for x in lines) == ["n1", "n2"]
    assert all(re.search(r" gpus=[0-3],[0-3],[0-3],[0-3]$", x) for x in lines), lines


# -- a. a job is a Slurm job: its id and GPUs in the log, its exit code ---------------------------------
@pytest.fixture(scope="module")
def time_limited(plat: Platform) -> dict[str, Any]:
    """b.: a job limited to 60 s that would sleep for ten minutes, submitted by the first test after
    the gang and checked by the last, so its minute overlaps the others."""
    return {"id": plat.submit("--time-limit", "60", "--", "sleep", "600"), "at": time.time()}


def test_a_job_runs_as_a_slurm_job_with_its_gpu_and_exit_code(plat: Platform, time_limited: dict[str, Any]) -> None:
    ok = plat.submit("--gpus", "1", "--", "sh", "-c", "echo JOB=$SLURM_JOB_ID CVD=$CUDA_VISIBLE_DEVICES")
    bad = plat.submit("--gpus", "1", "--", "sh", "-c", "exit 3")
    j = plat.wait_state(ok, *ENDED)
    assert (j["state"], j["exit_code"]) == ("succeeded", 0), j
    log = plat.tenant.run("job", "logs", ok).stdout
    m = re.search(r"^JOB=(\d+) CVD=(\S+)$", log, re.M)
    assert m, log
    assert _slurm_jobs(plat.placement(ok)) == [(m.group(1), "COMPLETED")]   # the very Slurm job named after it
    assert re.fullmatch(r"[0-3]", m.group(2)), log                        # one of its node's four GPUs
    j = plat.wait_state(bad, *ENDED)
    assert (j["state"], j["exit_code"]) == ("failed", 3), j
    assert [state for _, state in _slurm_jobs(plat.placement(bad))] == ["FAILED"]


# -- c. cancel: the Slurm job goes too -----------------------------------------------------------------
def test_cancel_removes_the_slurm_job(plat: Platform) -> None:
    job = plat.submit("--", "sleep", "600")
    plat.wait_state(job, "running")
    name = plat.placement(job)
    wait_for(lambda: [s for _, s in _slurm_jobs(name)] == ["RUNNING"], timeout=20, what="the Slurm job to run")
    assert plat.tenant.json("job", "cancel", job)["state"] == "cancelled"
    j = _until(lambda: plat.job(job), lambda j: j["placements"][0]["state"] == "cancelled", "the agent to cancel it")
    assert j["state"] == "cancelled"
    assert sh("squeue", "-h", f"--name={name}", "-o", "%i").stdout.strip() == ""   # nothing pending or running
    assert [s for _, s in _slurm_jobs(name)] == ["CANCELLED"]


# -- f. squeue failing for a while fails no job --------------------------------------------------------
def test_a_failing_squeue_for_a_while_fails_no_job(plat: Platform) -> None:
    job = plat.submit("--", "sh", "-c", "sleep 3; echo slept")
    plat.wait_state(job, "running")
    name = plat.placement(job)
    wait_for(lambda: [s for _, s in _slurm_jobs(name)] == ["RUNNING"], timeout=20, what="the Slurm job to run")
    before = plat.procs.log(f"agent{plat.agents}").count("engine inventory unavailable")
    plat.squeue_down.touch()
    try:
        # The job ends in Slurm during the outage; the agent must not take "squeue fails" for "gone".
        wait_for(lambda: [s for _, s in _slurm_jobs(name)] == ["COMPLETED"], timeout=20, what="the job to end")
        wait_for(lambda: plat.procs.log(f"agent{plat.agents}").count("engine inventory unavailable") >= before + 2,
                 timeout=20, what="the agent to meet the failing squeue twice")
        assert plat.job(job)["state"] == "running"
    finally:
        plat.squeue_down.unlink()
    j = plat.wait_state(job, *ENDED)
    assert (j["state"], j["exit_code"], j["attempts"]) == ("succeeded", 0, 1), j
    assert "slept" in plat.tenant.run("job", "logs", job).stdout


# -- g. a job submitted outside suanli ----------------------------------------------------------------
def test_an_outside_slurm_job_lowers_free_and_counts_as_external(plat: Platform, time_limited: dict[str, Any]) -> None:
    # Now only the time-limited job (1 GPU) runs: the agent offers 8 - 1.
    plat.wait_state(time_limited["id"], "running")
    site = _until(plat.site, lambda s: s["live"]["free"][POOL] == 7, "free 7 of 8")
    assert next(p for p in site["pools"] if p["name"] == POOL)["observed"]["external"] == 0
    out = sh("sbatch", "--parsable", "--gres=gpu:2", "--output=/dev/null", "--wrap", "sleep 120")
    assert out.returncode == 0, out.stderr
    plat.external.append(out.stdout.strip().split(";")[0])
    site = _until(plat.site, lambda s: s["live"]["free"][POOL] == 5, "free 5 of 8 (8 - 1 held - 2 external)")
    site = next(s for s in plat.operator.json("sites")["items"] if s["name"] == SITE)     # as the CLI shows it
    pool = next(p for p in site["pools"] if p["name"] == POOL)
    assert site["live"]["free"][POOL] == 5
    assert pool["observed"]["external"] == 2 and pool["observed"]["healthy"] == 8 and pool["observed_total"] == 8
    sh("scancel", plat.external[-1])
    wait_for(lambda: plat.site()["live"]["free"][POOL] == 7, timeout=20, what="free 7 again")


# -- d. fewer GPUs in the engine than declared ----------------------------------------------------------
def test_a_job_larger_than_the_engine_reports_waits_and_says_why(plat: Platform) -> None:
    assert sh("scontrol", "update", "nodename=n2", "state=drain", "reason=suanli-e2e").returncode == 0
    job = None
    try:
        wait_for(lambda: plat.pool()["observed_total"] == 4, timeout=20, what="the engine to report 4 of 8")
        job = plat.submit("--gpus", "8", "--", "true")
        why = "engine reports 4 of 8 accelerators"
        _until(lambda: plat.api.get(f"/v1/jobs/{job}/explain"), lambda e: why in json.dumps(e),
               "the API's explain to name the engine's shortfall", 15)
        assert why in plat.tenant.run("job", "explain", job).stdout                   # the CLI says it too
        assert plat.job(job)["state"] == "pending"
        sites = plat.operator.json("sites")
        pool = next(p for s in sites["items"] if s["name"] == SITE for p in s["pools"] if p["name"] == POOL)
        assert (pool["observed_total"], pool["declared"], pool["observed"]["total"]) == (4, 8, 8)
        assert [n["healthy"] for n in sorted(pool["observed"]["nodes"], key=lambda n: n["name"])] == [True, False]
    finally:
        if job is not None:
            plat.tenant.run("job", "cancel", job, check=False)
            plat.wait_state(job, *ENDED)
        sh("scontrol", "update", "nodename=n2", "state=resume")
    assert plat.job(job)["placements"] == []       # it never ran
    wait_for(lambda: plat.pool()["observed_total"] == 8, timeout=20, what="the engine to report 8 of 8 again")


# -- e. the agent is SIGKILLed while two jobs run in Slurm, then restarted ----------------------------------
def test_a_restarted_agent_adopts_its_slurm_jobs_and_each_runs_once(plat: Platform) -> None:
    marker = plat.tmp / "marker"
    jobs = [plat.submit("--", "sh", "-c", f'echo "$SUANLI_JOB_ID" >>{marker}; sleep 12') for _ in range(2)]
    names = [plat.placement(j) for j in jobs]
    for j in jobs:
        plat.wait_state(j, "running")
    wait_for(lambda: all([s for _, s in _slurm_jobs(n)] == ["RUNNING"] for n in names), timeout=20,
             what="both Slurm jobs to run")
    assert plat.agent is not None
    plat.procs.kill(plat.agent, signal.SIGKILL)
    time.sleep(0.5)
    assert all([s for _, s in _slurm_jobs(n)] == ["RUNNING"] for n in names)   # they outlive their agent
    plat.start_agent()
    for j in jobs:
        done = plat.wait_state(j, *ENDED)
        assert (done["state"], done["exit_code"], done["attempts"]) == ("succeeded", 0, 1), done
        assert [p["attempt"] for p in done["placements"]] == [1]
    assert sorted(marker.read_text().split()) == sorted(jobs)       # each ran exactly once
    for n in names:
        assert [s for _, s in _slurm_jobs(n)] == ["COMPLETED"]      # one Slurm job each: no second sbatch
        assert f"placement {n} adopted from the engine" in plat.procs.log(f"agent{plat.agents}")


# -- b. the time limit (last: its minute overlapped the tests above) -----------------------------------------
def test_zz_a_time_limit_ends_the_job_failed_with_reason_time_limit(plat: Platform, time_limited: dict[str, Any]) -> None:
    j = plat.wait_state(time_limited["id"], *ENDED, timeout=max(10.0, time_limited["at"] + 110 - time.time()))
    assert (j["state"], j["placements"][0]["state"]) == ("failed", "failed"), j
    assert "time_limit" in j["reason"], j
    pl = j["placements"][0]
    assert 60 <= pl["ended_at"] - pl["started_at"] < 100, pl
    assert [s for _, s in _slurm_jobs(pl["id"])] in (["CANCELLED"], ["TIMEOUT"])


# -- suanli bench engine: a small run of the benchmark on the same cluster -------------------------------
def test_zz_bench_engine_measures_suanli_against_sbatch(plat: Platform) -> None:
    r = plat.tenant.run("bench", "engine", "--backend", "slurm", "--jobs", "2", "--concurrency", "1",
                        "--agent-interval", "0.3", "--json")
    out = json.loads(r.stdout)
    assert out["runs"] == {"suanli": 2, "sbatch": 2, "errors": 0}, out
    for key in ("submit_to_running_p50_s", "submit_to_running_p99_s", "sbatch_to_running_p50_s",
                "sbatch_to_running_p99_s"):
        assert 0 < out[key] < 30, out
    assert out["overhead_p50_s"] == round(out["submit_to_running_p50_s"] - out["sbatch_to_running_p50_s"], 3)
    assert len(out["loadavg_before"]) == 3 and out["cluster_gpus"] == 8
    assert not [line for line in sh("squeue", "-h", "-o", "%j").stdout.split() if line.startswith("bench-")]
