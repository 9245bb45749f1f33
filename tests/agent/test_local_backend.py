"""The local backend runs real subprocesses: slots in CUDA_VISIBLE_DEVICES, logs to a file,
kill of the whole process tree (tests/agent/test_isolation.py holds the sandbox and the escapes)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from suanli.agent.backends import get_backend
from suanli.domain.errors import UnknownName
from tests.conftest import sleepers, wait_for


def _wait(handle: object, timeout: float = 10) -> int:
    end = time.time() + timeout
    while time.time() < end:
        code = handle.poll()  # type: ignore[attr-defined]
        if code is not None:
            return int(code)
        time.sleep(0.02)
    raise AssertionError("process did not end")


def test_runs_the_command_with_its_slots_and_env(tmp_path: Path) -> None:
    b = get_backend("local", work_dir=tmp_path)
    h = b.start({"placement_id": "p-1", "job_id": "j-1", "command": ["sh", "-c", "echo $CUDA_VISIBLE_DEVICES $FOO"],
                 "env": {"FOO": "bar"}}, [2, 3])
    assert _wait(h) == 0
    assert h.read_log(0, 1000) == b"2,3 bar\n"
    assert h.read_log(4, 1000) == b"bar\n"


def test_exit_code_and_kill(tmp_path: Path) -> None:
    b = get_backend("local", work_dir=tmp_path)
    assert _wait(b.start({"placement_id": "p-2", "job_id": "j", "command": ["sh", "-c", "exit 3"]}, [0])) == 3
    tag = f"8{secrets.randbelow(10**6):06d}"
    h = b.start({"placement_id": "p-3", "job_id": "j", "command": ["sh", "-c", f"sleep {tag}.1 & exec sleep {tag}.2"]},
                [0])
    wait_for(lambda: len(sleepers(tag)) == 2, timeout=10, interval=0.02, what="both sleepers")
    t0 = time.time()
    h.kill()
    assert h.poll() is not None and time.time() - t0 < 5
    assert sleepers(tag) == []   # the background child too, not only the exec'd main process


def test_a_background_child_ends_with_its_job(tmp_path: Path) -> None:
    b = get_backend("local", work_dir=tmp_path)
    tag = f"8{secrets.randbelow(10**6):06d}"
    h = b.start({"placement_id": "p-5", "job_id": "j", "command": ["sh", "-c", f"sleep {tag}.1 & sleep 0.3; echo started"]}, [0])
    assert _wait(h) == 0 and h.read_log(0, 100) == b"started\n"
    assert sleepers(tag) == []


def test_a_missing_command_raises_and_unknown_backends_are_named(tmp_path: Path) -> None:
    b = get_backend("local", work_dir=tmp_path)
    with pytest.raises(OSError):
        b.start({"placement_id": "p-4", "job_id": "j", "command": ["/no/such/program"]}, [0])
    with pytest.raises(UnknownName, match="local"):
        get_backend("quantum")


def test_a_jobs_path_leaves_out_what_its_user_cannot_enter(tmp_path: Path) -> None:
    from suanli.agent.backends.local import DEFAULT_PATH, job_path

    closed = tmp_path / "closed"
    (closed / "bin").mkdir(parents=True)
    closed.chmod(0o700)
    nobody = (65534, 65534)
    assert job_path(f"{closed}/bin:/usr/bin:/bin", nobody) == "/usr/bin:/bin"
    assert job_path(f"{closed}/bin:relative", nobody) == DEFAULT_PATH
