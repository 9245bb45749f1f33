"""End to end through HTTP with real processes: ``suanli up`` (API, scheduler, three local
sites each with its agent) driven by the ``suanli`` CLI."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, Procs, agent_pids, free_port, wait_for, wait_healthy

pytestmark = pytest.mark.slow



def _agent_pid(site: str, data: Path) -> int | None:
    pids = agent_pids(data, site)
    return pids[0] if pids else None


@pytest.fixture(scope="module")
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    p = Procs(tmp_path_factory.mktemp("e2e-procs"))
    yield p
    p.close()


@pytest.fixture(scope="module")
def up(procs: Procs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One platform for the module; the tests run in file order and the last one stops it. DATA is
    outside /tmp, so that a sandboxed job's private /tmp is not what hides it from the job."""
    tmp_path = tmp_path_factory.mktemp("e2e")
    data = Path(tempfile.mkdtemp(prefix="suanli-e2e-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    os.chmod(data, 0o755)   # as an ordinary mkdir leaves it: `up` must close it
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SUANLI_LEASE_S": "3", "SUANLI_CYCLE_S": "0.2"}
    proc = procs.start(["up", "--port", str(port), "--data-dir", str(data)], "up", env)
    wait_healthy(url)
    wait_for(lambda: "suanli is up" in procs.log("up"), timeout=15, what="the banner")
    cli = Cli(url, (data / "tenant.token").read_text().strip(), tmp_path)
    wait_for(lambda: all(s["health"] == "up" for s in cli.json("sites")["items"]), timeout=15, what="agents up")
    yield {"proc": proc, "url": url, "data": data, "cli": cli, "port": port, "env": env}
    procs.close()
    shutil.rmtree(data, ignore_errors=True)


def test_submit_run_logs_usage_and_listings(up: dict, procs: Procs) -> None:
    cli, data = up["cli"], up["data"]
    for name in ("operator.token", "tenant.token"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    assert "operator.token" in procs.log("up") and up["url"] in procs.log("up")
    job = cli.json("submit", "--gpus", "2", "--class", "train", "--",
                   "python3", "-c", "import os; print('slots', os.environ['CUDA_VISIBLE_DEVICES'])")
    done = wait_for(lambda: (lambda j: j if j["state"] == "succeeded" else None)(cli.json("job", "show", job["id"])),
                    timeout=30, what="the job to succeed")
    assert done["exit_code"] == 0 and done["site"] in ("nx-hub", "sh-city", "sz-edge")
    logs = cli.run("job", "logs", job["id"]).stdout
    assert logs.startswith("slots ") and len(logs.split()[1].split(",")) == 2
    usage = cli.json("usage", "--by", "job")
    assert usage["items"][0]["job"] == job["id"] and usage["items"][0]["pf16h"] > 0
    assert usage["items"][0]["energy_kwh"] > 0 and usage["items"][0]["carbon_kg"] > 0
    assert cli.json("jobs")["items"][0]["id"] == job["id"]
    assert len(cli.json("sites")["items"]) == 3
    top = cli.json("top", "--once")
    assert top["federation"]["total"]["accelerators"] == 14
    assert "PF16" in cli.run("usage", "--by", "site").stdout.upper()
    explain = cli.json("job", "explain", job["id"])
    assert len(explain["pools"]) == 3
    bad = cli.run("submit", "--gpus", "0", "--", "true", check=False)
    assert bad.returncode == 2 and "gpus" in bad.stderr and "Traceback" not in bad.stderr  # 4xx: bad input


def test_the_data_dir_is_private_and_hidden_from_jobs(up: dict) -> None:
    data, cli = up["data"], up["cli"]
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for root, dirs, files in os.walk(data):
        for d in dirs:
            assert stat.S_IMODE(os.lstat(os.path.join(root, d)).st_mode) == 0o700, (root, d)
        for f in files:
            assert stat.S_IMODE(os.lstat(os.path.join(root, f)).st_mode) == 0o600, (root, f)
    assert (data / "suanli.db").exists() and list((data / "agents").glob("*.token"))
    if os.geteuid() != 0 and shutil.which("bwrap") is None and os.environ.get("CI") != "true":
        pytest.skip("a job of a non-root agent without bwrap runs as the agent's user (docs/security.md)")
    operator = (data / "operator.token").read_text().strip()
    job = cli.json("submit", "--", "sh", "-c", f"cat {data}/operator.token {data}/suanli.db {data}/agents/*.token; "
                   f"ls {data}/work; cat ../../operator.token; echo probe done")
    done = wait_for(lambda: (lambda j: j if j["state"] in ("succeeded", "failed") else None)(
        cli.json("job", "show", job["id"])), timeout=30, what="the probe to end")
    logs = cli.run("job", "logs", job["id"]).stdout
    assert done["state"] == "succeeded" and "probe done" in logs, logs   # the last command, echo, ends it
    assert operator not in logs and "SQLite format" not in logs, logs
    # by hand: in the sandbox DATA is an empty directory ("No such file or directory"); a root
    # agent's job without the sandbox is suanli-job before DATA 0700 ("Permission denied")
    assert f"cat: {data}/operator.token: " in logs and f"ls: cannot access '{data}/work': " in logs, logs
    assert logs.count("No such file or directory") + logs.count("Permission denied") >= 4, logs


def test_cancel_a_running_job(up: dict) -> None:
    cli = up["cli"]
    job = cli.json("submit", "--checkpoint-interval", "600", "--", "sleep", "60")
    assert cli.json("job", "show", job["id"])["spec"]["checkpoint_interval_s"] == 600
    wait_for(lambda: cli.json("job", "show", job["id"])["state"] == "running", timeout=20, what="running")
    assert cli.json("job", "cancel", job["id"])["state"] == "cancelled"
    j = wait_for(lambda: (lambda j: j if j["placements"][0]["state"] == "cancelled" else None)(
        cli.json("job", "show", job["id"])), timeout=15, what="the agent to kill it")
    assert j["state"] == "cancelled"


def test_an_agent_dies_up_starts_it_again_and_its_job_completes(up: dict) -> None:
    cli, data = up["cli"], up["data"]
    job = cli.json("submit", "--gpus", "2", "--", "sh", "-c", "sleep 4; echo finished")
    j = wait_for(lambda: (lambda j: j if j["state"] == "running" else None)(cli.json("job", "show", job["id"])),
                 timeout=20, what="running")
    first = j["site"]
    pid = _agent_pid(first, data)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # `up` starts the agent again; its job died with the old agent, so the platform requeues it
    again = wait_for(lambda: (lambda q: q if q not in (None, pid) else None)(_agent_pid(first, data)), timeout=20,
                     what="up to start the agent again")
    assert again != pid
    done = wait_for(lambda: (lambda j: j if j["state"] == "succeeded" else None)(cli.json("job", "show", job["id"])),
                    timeout=40, what="the job to finish")
    assert done["attempts"] == 2
    assert [p["state"] for p in sorted(done["placements"], key=lambda p: p["attempt"])] == ["lost", "succeeded"]
    wait_for(lambda: {s["name"]: s["health"] for s in cli.json("sites")["items"]}[first] == "up", timeout=20,
             what="the site back up")
    assert "finished" in cli.run("job", "logs", job["id"]).stdout


def test_ctrl_c_stops_cleanly_and_up_resumes(up: dict, procs: Procs) -> None:
    cli, data = up["cli"], up["data"]
    job = cli.json("submit", "--", "true")
    wait_for(lambda: cli.json("job", "show", job["id"])["state"] == "succeeded", timeout=20, what="done")
    token = (data / "tenant.token").read_text()
    os.killpg(up["proc"].pid, signal.SIGINT)
    assert up["proc"].wait(timeout=20) == 0
    time.sleep(0.5)
    assert all(_agent_pid(s, data) is None for s in ("nx-hub", "sh-city", "sz-edge"))
    proc = procs.start(["up", "--port", str(up["port"]), "--data-dir", str(data)], "up2", up["env"])
    wait_healthy(up["url"])
    assert (data / "tenant.token").read_text() == token
    assert cli.json("job", "show", job["id"])["state"] == "succeeded"
    procs.kill(proc, signal.SIGINT)
