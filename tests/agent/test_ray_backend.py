"""The ray backend against a real Ray head (``.ci/ray.sh start``: 4 fake GPUs, dashboard on
SUANLI_RAY_ADDRESS). Skipped without one, failed under CI=true. Jobs run concurrently where the
test allows it (each costs 2-4 s of Ray overhead) and every job of the run is stopped and deleted
at the end.

What Ray 2.60 puts in a job's environment (seen in ``test_a_job_gets_its_gpus_env_and_exit_code``):
CUDA_VISIBLE_DEVICES (the GPUs Ray chose), RAY_ADDRESS (the GCS address), RAY_JOB_CONFIG_JSON_ENV_VAR
(the runtime_env and metadata, with ``job_submission_id`` = the placement id), PYTHONUNBUFFERED=1,
RAY_CLIENT_MODE=0, OMP_NUM_THREADS=1 (without CPUs asked), PYTHONBREAKPOINT, RAY_worker_niceness. No
RAY_JOB_ID: a shell command is not a Ray driver, so Ray gives it no job id (``job_id`` stays None);
the submission id is in the log's first lines ("Running entrypoint for job <id>: ...").
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from suanli.agent.backends import EngineError, EngineUnavailable, PoolSpec, get_backend
from tests.conftest import needs

ADDRESS = os.environ.get("SUANLI_RAY_ADDRESS", "")
RAY_HOW = "run `.ci/ray.sh start` before the tests"
RUN = f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def ray_sdk() -> Any:
    try:
        from ray import job_submission
    except ImportError:
        needs("the ray package is not installed", RAY_HOW)
    return job_submission


@pytest.fixture(scope="module")
def backend(ray_sdk: Any) -> Iterator[Any]:
    if not ADDRESS:
        needs("SUANLI_RAY_ADDRESS is not set (no Ray head)", RAY_HOW)
    b = get_backend("ray", work_dir=".", address=ADDRESS)
    b.check()
    yield b
    _clean_up(b.client())


def _clean_up(client: Any) -> None:
    """Stop this run's jobs, then delete them. Ray's job monitor writes a last status about 1 s
    after a job ends; a job deleted before that comes back as a FAILED "Entrypoint not found."
    record, so deletion waits, and sweeps once more."""
    ours = [j.submission_id for j in client.list_jobs() if str(j.submission_id or "").startswith(RUN)]
    for sid in ours:
        if not client.get_job_info(sid).status.is_terminal():
            client.stop_job(sid)
    end = time.time() + 20
    for sid in ours:
        while time.time() < end and not client.get_job_info(sid).status.is_terminal():
            time.sleep(0.2)
    for _ in range(2):
        time.sleep(2)
        for j in client.list_jobs():
            if str(j.submission_id or "").startswith(RUN) and j.status.is_terminal():
                client.delete_job(j.submission_id)


def _placement(name: str, command: list[str], count: int = 1, **extra: Any) -> dict[str, Any]:
    return {"placement_id": f"{RUN}-{name}", "job_id": f"job-{name}", "pool": "gpu", "count": count,
            "command": command, "attempt": 2, **extra}


def _wait(handle: Any, timeout: float = 30) -> int:
    end = time.time() + timeout
    while time.time() < end:
        code = handle.poll()
        if code is not None:
            return int(code)
        time.sleep(0.1)
    raise AssertionError(f"{handle.placement_id} did not end in {timeout} s")


def _wait_status(backend: Any, pid: str, status: str, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if backend.client().get_job_info(pid).status == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"{pid} not {status} in {timeout} s")


def _pgrep(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return out.split()


def test_a_job_gets_its_gpus_env_and_exit_code(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_TOKEN", "agent-secret")
    monkeypatch.setenv("SUANLI_LEAK_CHECK", "agent-only")
    env_job = backend.start(_placement("env", ["sh", "-c", 'env; printf "arg=%s\\n" "$1"', "sh", "it's; $HOME"],
                                       count=2, env={"FOO": "bär baz"}), [0, 1])
    failing = backend.start(_placement("exit3", ["sh", "-c", "echo failing; exit 3"]), [2])
    missing = backend.start(_placement("missing", ["/no/such/program"]), [3])
    assert _wait(env_job) == 0 and env_job.reason == ""
    # the command's own failure: its exit code, no engine reason; a missing program: the shell's 127
    assert _wait(failing) == 3 and failing.reason == ""
    assert _wait(missing) == 127 and missing.reason == ""

    text = env_job.read_log(0, 1 << 20).decode()
    pid = env_job.placement_id
    assert f"Running entrypoint for job {pid}:" in text                    # Ray's line: the submission id
    assert f'"job_submission_id": "{pid}"' in text                          # in RAY_JOB_CONFIG_JSON_ENV_VAR
    lines = set(text.splitlines())
    assert "arg=it's; $HOME" in lines                                        # shlex kept the argument whole
    assert {"FOO=bär baz", f"SUANLI_PLACEMENT_ID={pid}", "SUANLI_JOB_ID=job-env", "SUANLI_ATTEMPT=2"} <= lines
    cuda = [line for line in lines if line.startswith("CUDA_VISIBLE_DEVICES=")]
    assert len(cuda) == 1 and len(cuda[0].split("=", 1)[1].split(",")) == 2  # Ray gave it 2 GPUs
    assert "RAY_JOB_ID" not in text and "agent-secret" not in text and "SUANLI_LEAK_CHECK" not in text

    # read_log slices the utf-8 bytes: "ä" is 2 bytes
    raw = text.encode()
    at = raw.index(b"FOO=")
    assert env_job.read_log(at, 8) == "FOO=bär".encode() and len("FOO=bär".encode()) == 8
    assert env_job.read_log(len(raw), 100) == b""
    assert b"failing\n" in failing.read_log(0, 10_000)


def test_kill_stops_every_process_and_reads_stopped(backend: Any) -> None:
    marker = f"{3000 + int(uuid.uuid4().int % 1000)}.{uuid.uuid4().int % 100000:05d}"
    h = backend.start(_placement("kill", ["sh", "-c", f"sleep {marker} & sleep {marker}; wait"]), [0])
    _wait_status(backend, h.placement_id, "RUNNING")
    end = time.time() + 10
    while len(_pgrep(f"sleep {marker}")) < 2 and time.time() < end:
        time.sleep(0.1)
    assert len(_pgrep(f"sleep {marker}")) >= 2               # Ray's sh, our sh, two sleeps
    t0 = time.time()
    h.kill()
    assert h.poll() == -15 and h.reason == ""            # STOPPED, asked by us: no engine reason
    assert time.time() - t0 < 10
    end = time.time() + 5
    while _pgrep(f"sleep {marker}") and time.time() < end:
        time.sleep(0.1)
    assert _pgrep(f"sleep {marker}") == []
    assert str(backend.client().get_job_info(h.placement_id).status) in ("STOPPED", "JobStatus.STOPPED")
    h.kill()                                              # a second kill is harmless


def test_start_twice_is_one_job_and_adopt_finds_live_and_ended_jobs(backend: Any, ray_sdk: Any) -> None:
    pl = _placement("twice", ["sleep", "60"])
    first = backend.start(pl, [0])
    second = backend.start(pl, [0])
    assert first.placement_id == second.placement_id
    assert [j.submission_id for j in backend.client().list_jobs()].count(pl["placement_id"]) == 1

    live = backend.adopt(pl)
    assert live is not None and live.poll() is None
    assert backend.adopt(_placement("never-started", ["true"])) is None

    # an end Ray caused itself (a GPU count it refuses), submitted behind suanli's back: adopted
    # as ended, exit code 1 with Ray's reason
    bad = f"{RUN}-refused"
    backend.client().submit_job(entrypoint="true", submission_id=bad, entrypoint_num_gpus=-1)
    ended = backend.adopt({"placement_id": bad})
    assert ended is not None
    assert _wait(ended) == 1 and "JOB_SUPERVISOR_ACTOR_START_FAILURE" in ended.reason
    assert "\n" not in ended.reason

    live.kill()            # likely still PENDING (Ray takes 1-2 s to start a job): ends soon after
    assert _wait(live) == -15 and live.reason == ""
    again = backend.adopt(pl)
    assert again is not None and again.poll() == -15
    assert again.reason == "ray: the job was stopped outside suanli"   # this handle did not ask


def test_inventory_sees_suanli_and_external_gpus(backend: Any) -> None:
    pools = [PoolSpec("gpu", "H100", 4, 1)]
    assert backend.inventory(pools)["gpu"].total == 4
    ours = backend.start(_placement("inv", ["sleep", "60"], count=2), [0, 1])
    other = f"{RUN}-external"
    backend.client().submit_job(entrypoint="sleep 60", submission_id=other, entrypoint_num_gpus=1)
    _wait_status(backend, ours.placement_id, "RUNNING")
    _wait_status(backend, other, "RUNNING")
    # 4 GPUs: suanli's job holds 2, the external job 1 -> free 1, external 1 (the resource report
    # lags the job states by a heartbeat, so wait for it)
    end = time.time() + 15
    while True:
        inv = backend.inventory(pools)["gpu"]
        if inv.free == 1 or time.time() > end:
            break
        time.sleep(0.3)
    assert (inv.total, inv.healthy, inv.free, inv.external) == (4, 4, 1, 1)
    assert len(inv.nodes) == 1 and inv.nodes[0].state == "alive" and inv.nodes[0].allocated == 3
    ours.kill()
    backend.client().stop_job(other)


def test_too_few_gpus_is_a_clear_start_error(backend: Any) -> None:
    with pytest.raises(EngineError, match="must be 0 or more"):
        backend.start(_placement("negative", ["true"], count=-1), [])
    with pytest.raises(EngineError, match="empty command"):
        backend.start(_placement("empty", []), [0])


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_an_unreachable_ray_is_transient_except_for_check(ray_sdk: Any) -> None:
    from suanli.agent.backends.ray import RayHandle

    b = get_backend("ray", work_dir=".", address=f"http://127.0.0.1:{_closed_port()}", timeout=2)
    with pytest.raises(EngineError, match=r"ray at http://127\.0\.0\.1:\d+.*Fix:"):
        b.check()
    h = RayHandle(b, "p-away")
    assert h.poll() is None and h.read_log(0, 100) == b""
    h.kill()                                                   # never raises; poll will ask again
    with pytest.raises(EngineUnavailable):
        b.start(_placement("away", ["true"]), [0])
    with pytest.raises(EngineUnavailable):
        b.adopt({"placement_id": "p-away"})
    with pytest.raises(EngineUnavailable):
        b.inventory([PoolSpec("gpu", "H100", 4, 1)])


def test_a_dashboard_that_never_answers_times_out(ray_sdk: Any) -> None:
    with socket.socket() as silent:          # listens, never accepts: the connection hangs
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        b = get_backend("ray", address=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        t0 = time.time()
        with pytest.raises(EngineUnavailable, match="no answer.*Timeout"):
            b.check()
        assert time.time() - t0 < 5


def test_options_are_checked_and_ray_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EngineError, match="unknown option.*partition.*valid options: work_dir, address"):
        get_backend("ray", work_dir=".", partition="gpu")
    monkeypatch.setitem(sys.modules, "ray", None)              # as if ray were not installed
    with pytest.raises(EngineError, match=r"needs the ray package: pip install 'suanli\[ray\]'"):
        get_backend("ray", work_dir=".")
