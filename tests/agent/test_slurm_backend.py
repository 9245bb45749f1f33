"""The Slurm backend against a real Slurm cluster (.ci/slurm.sh: nodes n1, n2 with gpu:4 each on
fake character devices). Skipped when Slurm is not up, a failure under CI=true.

The time-limit job is submitted when the module starts (Slurm's limits are whole minutes and its
controller checks them every ~30 s) and checked by the last test, so the wait overlaps the rest."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends import PoolSpec, get_backend
from suanli.agent.backends.slurm import SlurmBackend
from tests.conftest import sh, slurm_problem

RUN = "t" + uuid.uuid4().hex[:8]       # placement ids unique to this run (ended jobs stay visible)
SUBMITTED: list[str] = []


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    why = slurm_problem()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Slurm is not up under CI=true: {why}")
        pytest.skip(f"no Slurm: {why}")
    yield tmp_path_factory.mktemp("slurm-agent")
    if SUBMITTED:
        sh("scancel", *SUBMITTED)


def _backend(work: Path, **kw: Any) -> SlurmBackend:
    b = get_backend("slurm", work_dir=work, poll_interval=0, **kw)
    assert isinstance(b, SlurmBackend)
    return b


def _start(b: SlurmBackend, name: str, command: list[str], **extra: Any) -> Any:
    pl = {"placement_id": f"{RUN}-{name}", "job_id": f"job-{name}", "command": command, "count": 1, **extra}
    h = b.start(pl, list(range(int(pl["count"]))))
    assert h.job_id is not None
    SUBMITTED.append(h.job_id)
    return h


def _wait(h: Any, timeout: float = 30) -> int:
    end = time.time() + timeout
    while time.time() < end:
        code = h.poll()
        if code is not None:
            return int(code)
        time.sleep(0.2)
    raise AssertionError(f"job {h.job_id} did not end in {timeout}s")


def _wait_running(job_id: str, timeout: float = 20) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if sh("squeue", "-h", "-j", job_id, "-o", "%T").stdout.strip() == "RUNNING":
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not start")


@pytest.fixture(scope="module")
def time_limited(work: Path) -> Any:
    """A job with a one-minute limit that would sleep for ten."""
    return _start(_backend(work), "limit", ["sleep", "600"], time_limit_s=30)


def test_a_gpu_job_sees_its_gpu_and_exit_code_but_not_the_agents_environment(
        work: Path, time_limited: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_TOKEN", "agent-token")
    monkeypatch.setenv("SECRET_X", "agent-secret")
    b = _backend(work)
    b.check()
    h = _start(b, "gpu", ["sh", "-c", 'echo "job=$SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES foo=$FOO '
                                     'token=${SUANLI_TOKEN:-none} secret=${SECRET_X:-none} '
                                     'pid=$SUANLI_PLACEMENT_ID rank=$SUANLI_RANK/$SUANLI_WORLD_SIZE"; pwd; exit 3'],
               env={"FOO": "it's $fine"})
    assert _wait(h) == 3 and h.reason == ""
    out = h.read_log(0, 100_000).decode()
    assert re.search(rf"^job={h.job_id} gpus=[0-3] foo=it's \$fine token=none secret=none "
                     rf"pid={RUN}-gpu rank=0/1$", out, re.M), out
    assert f"{work}/runs/{RUN}-gpu\n" in out
    assert h.read_log(4, 3) == out.encode()[4:7]


def test_starting_twice_submits_one_job(work: Path) -> None:
    b = _backend(work)
    h1 = _start(b, "twice", ["sleep", "30"])
    h2 = _start(_backend(work), "twice", ["sleep", "30"])
    assert h1.job_id == h2.job_id
    assert sh("squeue", "-h", f"--name={RUN}-twice", "-o", "%i").stdout.split() == [h1.job_id]
    h1.kill()


def test_kill_stops_every_process_of_the_job(work: Path) -> None:
    b = _backend(work)
    h = _start(b, "kill", ["bash", "-c", "setsid sleep 4101 & (sleep 4102 &); sleep 4103 & echo up; wait"])
    end = time.time() + 20
    while b"up" not in h.read_log(0, 100) and time.time() < end:
        time.sleep(0.2)
    assert sh("pgrep", "-f", "sleep 410[123]").stdout.split(), "the job's processes did not start"
    h.kill()
    code = _wait(h, 10)
    assert code != 0 and h.reason == ""
    time.sleep(0.3)
    assert sh("pgrep", "-af", "sleep 410[123]").stdout == ""


def test_adopt_finds_a_live_and_an_ended_job_by_placement_id(work: Path) -> None:
    b = _backend(work)
    live = _start(b, "adopt-live", ["sleep", "60"])
    done = _start(b, "adopt-done", ["sh", "-c", "exit 5"])
    assert _wait(done) == 5
    restarted = _backend(work)          # a new agent process
    a = restarted.adopt({"placement_id": f"{RUN}-adopt-live"})
    assert a is not None and a.job_id == live.job_id and a.poll() is None
    d = restarted.adopt({"placement_id": f"{RUN}-adopt-done"})
    assert d is not None and d.job_id == done.job_id and d.poll() == 5
    assert restarted.adopt({"placement_id": f"{RUN}-never"}) is None
    a.kill()
    assert _wait(a, 10) != 0


def test_squeue_failing_is_never_an_end(work: Path, tmp_path: Path) -> None:
    """A PATH whose squeue and scontrol fail, as when the controller is down."""
    shims = tmp_path / "bin"
    shims.mkdir()
    for name in ("squeue", "scontrol"):
        (shims / name).write_text("#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\n"
                                  "exit 1\n")
        (shims / name).chmod(0o755)
    h = _start(_backend(work, retries=0), "blind", ["true"])
    assert _wait(_backend(work).adopt({"placement_id": f"{RUN}-blind"})) == 0   # it has ended
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{shims}:{path}"
    try:
        for _ in range(3):
            assert h.poll() is None
    finally:
        os.environ["PATH"] = path
    assert h.poll() == 0 and h.reason == ""


def test_an_external_job_lowers_free_and_counts_as_external(work: Path) -> None:
    b = _backend(work)
    pools = [PoolSpec("main", "gpu", 4, 2)]
    before = b.inventory(pools)["main"]
    p = sh("sbatch", "--parsable", "--gres=gpu:2", "--output=/dev/null", "--wrap", "sleep 60")
    assert p.returncode == 0, p.stderr
    job = p.stdout.strip()
    SUBMITTED.append(job)
    _wait_running(job)
    after = b.inventory(pools)["main"]
    assert before.total == after.total == 8
    assert after.free == before.free - 2
    assert after.external == before.external + 2
    assert sum(n.allocated for n in after.nodes) == sum(n.allocated for n in before.nodes) + 2
    sh("scancel", job)


def test_a_two_node_gang_gets_ranks_and_one_master(work: Path) -> None:
    nodes = sh("sinfo", "-h", "-N", "-o", "%N").stdout.split()
    if len(set(nodes)) < 2:
        pytest.skip("a one-node cluster")
    b = _backend(work)
    h = _start(b, "gang", ["sh", "-c", 'echo "rank=$SUANLI_RANK world=$SUANLI_WORLD_SIZE '
                                      'master=$MASTER_ADDR:$MASTER_PORT gpus=$CUDA_VISIBLE_DEVICES"'],
               nodes=2, per_node=2, count=4)
    assert _wait(h) == 0
    lines = sorted(line for line in h.read_log(0, 100_000).decode().splitlines() if line.startswith("rank="))
    port = 29500 + int(h.job_id) % 10000
    assert [line.split(" gpus=")[0] for line in lines] == [f"rank=0 world=2 master=127.0.0.1:{port}",
                                                           f"rank=1 world=2 master=127.0.0.1:{port}"]
    assert all(re.fullmatch(r"[0-3],[0-3]", line.split(" gpus=")[1]) for line in lines)


def test_zz_a_time_limit_ends_with_reason_time_limit(time_limited: Any) -> None:
    """Last: the one-minute job submitted at the start ends by Slurm's TIMEOUT."""
    code = _wait(time_limited, 150)
    assert time_limited.reason == "time_limit" and code != 0
