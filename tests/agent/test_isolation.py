"""Hostile tenant code against the local backend, with real processes (docs/security.md).

Each probe is a job that attacks the platform the way a tenant could, and asserts that the attack
failed: the secret's bytes never appear in the job's log, and the log shows the refusal we work
out by hand below. The platform is laid out as ``suanli up`` lays it out (DATA 0700 with
``operator.token``, ``suanli.db``, the agent's work dir ``DATA/work/<site>`` holding the other
placements' logs), but under /var/tmp so that the sandbox's private ``/tmp`` is not what hides it,
and with the jobs' directories in ``DATA/jobs`` so that ``../../operator.token`` from a job's
working directory names the real token, as it did when jobs ran in the agent's work dir.

Every probe runs in two modes, as root: ``bwrap`` (the sandbox; expected refusal: the path does
not exist in the job's view, DATA being an empty directory there) and ``none`` (no sandbox: the
job runs as ``suanli-job`` and DATA is 0700 root, so: "Permission denied"). The process-tree
probes also run without cgroups (``cgroup=none``: the subreaper's tracking alone).

Under CI=true (root, bwrap installed by .ci/services.sh) they must run; elsewhere they skip when
not root or without bwrap.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.agent import Agent
from suanli.agent.backends import get_backend
from suanli.agent.backends.local import LocalBackend
from tests.conftest import sleepers, wait_for

ROOT = os.geteuid() == 0
BWRAP = shutil.which("bwrap") is not None
MODES = ["bwrap", "none"]
TREE_MODES = [("bwrap", "auto"), ("none", "auto"), ("none", "none")]


@pytest.fixture(autouse=True)
def _root_and_bwrap() -> None:
    if ROOT and BWRAP:
        return
    why = f"the isolation tests need root and bwrap (root: {ROOT}, bwrap: {BWRAP})"
    if os.environ.get("CI") == "true":
        pytest.fail(why + "; .ci/services.sh installs bubblewrap")
    pytest.skip(why)


@pytest.fixture
def data() -> Iterator[dict[str, Any]]:
    root = Path(tempfile.mkdtemp(prefix="suanli-iso-", dir="/var/tmp"))
    os.chmod(root, 0o700)
    token = "op-" + secrets.token_hex(16)
    (root / "operator.token").write_text(token + "\n")
    db = root / "suanli.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (secret TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (token,))
    work = root / "work" / "site"
    work.mkdir(parents=True)
    other = "other-tenant-" + secrets.token_hex(8)
    (work / "p-other.log").write_text(f"{other}\n")
    for f in (root / "operator.token", db, work / "p-other.log"):
        os.chmod(f, 0o600)
    yield {"root": root, "token": token, "db": db, "work": work, "other": other}
    shutil.rmtree(root, ignore_errors=True)


def backend(data: dict[str, Any], sandbox: str, cgroup: str = "auto") -> LocalBackend:
    b = get_backend("local", work_dir=data["work"], job_root=str(data["root"] / "jobs"), hide=str(data["root"]),
                    sandbox=sandbox, cgroup=cgroup)
    b.check()
    assert (b.bwrap is not None) == (sandbox == "bwrap")
    return b  # type: ignore[return-value]


def run(b: LocalBackend, pid: str, script: str, timeout: float = 20) -> bytes:
    h = b.start({"placement_id": pid, "job_id": "j-" + pid, "command": ["sh", "-c", script]}, [0])
    wait_for(lambda: h.poll() is not None, timeout=timeout, interval=0.02, what=f"{pid} to end")
    return h.read_log(0, 1 << 20)


def refused(mode: str) -> str:
    return "No such file or directory" if mode == "bwrap" else "Permission denied"


def db_rows(db: Path) -> list[tuple[str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT secret FROM t"))


# -- the platform's files --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_a_job_cannot_read_the_token_the_store_or_other_logs(data: dict[str, Any], mode: str) -> None:
    root, db = data["root"], data["db"]
    before = db_rows(db)
    other_log = data["work"] / "p-other.log"
    probe = (
        "cat ../../operator.token\n"
        f"cat {root}/operator.token\n"
        f"cat {other_log}\n"
        f"ls {data['work']}\n"
        f"python3 -c \"import sqlite3\n"
        f"for mode in ('ro', 'rw'):\n"
        f"    try:\n"
        f"        c = sqlite3.connect('file:{db}?mode=' + mode, uri=True)\n"
        f"        print(mode, c.execute('SELECT secret FROM t').fetchall())\n"
        f"        c.execute(\\\"INSERT INTO t VALUES ('tenant was here')\\\"); c.commit(); print('wrote')\n"
        f"    except Exception as e:\n"
        f"        print('sqlite', mode, e)\"\n"
        "echo probe done\n")
    log = run(backend(data, mode), "p-files", probe).decode()
    assert data["token"] not in log and data["other"] not in log and "wrote" not in log, log
    # by hand: bwrap shows DATA as an empty directory holding only the bind of the job's own dir
    # (DATA/jobs/p-files), so absolute names in it are missing; the relative name first goes up
    # through DATA/jobs, a directory bwrap created 0700 root for the bind, so it is refused.
    # Without bwrap, DATA is 0700 root and the job is suanli-job: every lookup in DATA is refused.
    assert "cat: ../../operator.token: Permission denied" in log, log
    assert f"cat: {root}/operator.token: {refused(mode)}" in log, log
    assert f"cat: {other_log}: {refused(mode)}" in log, log
    assert f"ls: cannot access '{data['work']}': {refused(mode)}" in log, log
    assert "sqlite ro unable to open database file" in log and "sqlite rw unable to open database file" in log, log
    assert log.rstrip().endswith("probe done"), log
    assert db_rows(db) == before == [(data["token"],)]


@pytest.mark.parametrize("mode", MODES)
def test_a_job_cannot_read_the_agents_environment(data: dict[str, Any], mode: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    token, secret = "agent-token-" + secrets.token_hex(8), "secret-" + secrets.token_hex(8)
    monkeypatch.setenv("SUANLI_TOKEN", token)
    monkeypatch.setenv("SECRET", secret)
    agent = os.getpid()
    log = run(backend(data, mode), "p-env", f"cat /proc/{agent}/environ; tr '\\0' '\\n' </proc/{agent}/environ; "
              f"env; echo probe done").decode()
    assert token not in log and secret not in log and "SUANLI_TOKEN" not in log and "SECRET" not in log, log
    # by hand: in its own PID namespace the job has no process with the agent's pid; without
    # bwrap, another user's /proc/<pid>/environ is refused.
    assert f"cat: /proc/{agent}/environ: {refused(mode)}" in log, log
    assert "SUANLI_PLACEMENT_ID=p-env" in log and log.rstrip().endswith("probe done"), log


def test_a_sandboxed_job_sees_its_own_tmp_not_the_hosts(data: dict[str, Any]) -> None:
    marker = Path(tempfile.mkstemp(prefix="suanli-iso-host-")[1])
    try:
        log = run(backend(data, "bwrap"), "p-tmp", "ls -a /tmp; echo mine > /tmp/x && cat /tmp/x; echo probe done")
    finally:
        marker.unlink()
    # by hand: /tmp is an empty tmpfs of the job's own: ". .." then the job's own file
    assert marker.name.encode() not in log, log
    assert log == b".\n..\nmine\nprobe done\n", log


def test_a_job_writes_only_its_own_directory(data: dict[str, Any]) -> None:
    log = run(backend(data, "bwrap"), "p-rw", "touch mine && echo ok-home; touch /usr/x; touch /var/tmp/x; "
              f"touch {data['root']}/x; id -un").decode()
    assert "ok-home" in log and "touch: cannot touch '/usr/x': Read-only file system" in log, log
    assert "touch: cannot touch '/var/tmp/x': Read-only file system" in log, log
    assert f"touch: cannot touch '{data['root']}/x': " in log and not (data["root"] / "x").exists(), log
    assert log.rstrip().endswith("suanli-job"), log


# -- whole process trees ---------------------------------------------------------------------------
def escapes(tag: str) -> str:
    """Three ways out of a process group: a new session, a double fork, and nohup."""
    return f"setsid sleep {tag}.1 & (sleep {tag}.2 &); nohup sleep {tag}.3 >/dev/null 2>&1 & "


def new_tag() -> str:
    return f"9{secrets.randbelow(10**6):06d}"


@pytest.mark.parametrize("mode,cgroup", TREE_MODES)
def test_background_children_end_with_the_job(data: dict[str, Any], mode: str, cgroup: str) -> None:
    tag = new_tag()
    b = backend(data, mode, cgroup)
    h = b.start({"placement_id": "p-bg", "job_id": "j", "command": ["sh", "-c", escapes(tag) + "sleep 0.5; exit 0"]},
                [0])
    wait_for(lambda: len(sleepers(tag)) == 3, timeout=10, interval=0.02, what="the three sleepers")
    wait_for(lambda: h.poll() is not None, timeout=10, interval=0.02, what="the job to end")
    assert h.poll() == 0
    assert sleepers(tag) == []   # right after the end, not eventually


@pytest.mark.parametrize("mode,cgroup", TREE_MODES)
def test_cancel_kills_the_whole_tree(data: dict[str, Any], mode: str, cgroup: str) -> None:
    tag = new_tag()
    b = backend(data, mode, cgroup)
    h = b.start({"placement_id": "p-cancel", "job_id": "j", "command": ["sh", "-c", escapes(tag) + f"sleep {tag}.4"]},
                [0])
    wait_for(lambda: len(sleepers(tag)) == 4, timeout=10, interval=0.02, what="the four sleepers")
    h.poll()
    h.kill()
    assert h.poll() is not None and sleepers(tag) == []


class FakeClient:
    """The API as an agent sees it, for one placement: leased once, then only recorded."""

    def __init__(self, placement: dict[str, Any]) -> None:
        self.placement = placement
        self.statuses: list[dict[str, Any]] = []

    def get(self, path: str) -> dict[str, Any]:
        assert path == "/v1/agent/placements"
        return {"items": []}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/v1/agent/heartbeat":
            return {"kill": []}
        if path == "/v1/agent/lease":
            items, self.placement = ([self.placement] if self.placement else []), {}
            return {"items": items}
        if path.endswith("/status"):
            self.statuses.append(body)
        return {}


@pytest.mark.parametrize("mode,cgroup", TREE_MODES)
def test_the_time_limit_kills_the_whole_tree(data: dict[str, Any], mode: str, cgroup: str) -> None:
    tag = new_tag()
    client = FakeClient({"placement_id": "p-limit", "job_id": "j", "pool": "gpu", "count": 1, "time_limit_s": 1,
                         "command": ["sh", "-c", escapes(tag) + f"sleep {tag}.4"]})
    agent = Agent(client, "site", backend(data, mode, cgroup), slots={"gpu": {0, 1}})  # type: ignore[arg-type]

    def ended() -> bool:
        agent.step()
        return any(s["state"] != "running" for s in client.statuses)

    agent.step()
    wait_for(lambda: len(sleepers(tag)) == 4, timeout=10, interval=0.02, what="the four sleepers")
    wait_for(ended, timeout=15, interval=0.1, what="the time limit")
    assert client.statuses[-1]["state"] == "failed" and client.statuses[-1]["reason"] == "time_limit"
    assert sleepers(tag) == []


AGENT = """
import sys, time
from suanli.agent.backends import get_backend
work, root, mode, cgroup, script = sys.argv[1:]
b = get_backend("local", work_dir=work, job_root=root + "/jobs", hide=root, sandbox=mode, cgroup=cgroup)
h = b.start({"placement_id": "p-orphan", "job_id": "j", "command": ["sh", "-c", script]}, [0])
while True:
    h.poll()
    time.sleep(0.1)
"""


@pytest.mark.parametrize("mode,cgroup", TREE_MODES)
def test_a_restarted_agent_kills_what_a_sigkilled_one_left(data: dict[str, Any], mode: str, cgroup: str) -> None:
    tag = new_tag()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    agent = subprocess.Popen([sys.executable, "-c", AGENT, str(data["work"]), str(data["root"]), mode, cgroup,
                              escapes(tag) + f"sleep {tag}.4"], env=env, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(sleepers(tag)) == 4, timeout=15, interval=0.02, what="the four sleepers")
        time.sleep(0.3)   # a poll or two: the agent records the tree
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
    if mode == "bwrap":   # the sandbox's PID namespace dies with the agent
        wait_for(lambda: sleepers(tag) == [], timeout=5, interval=0.02, what="the namespace to die")
    backend(data, mode, cgroup)   # the next run of the agent, on the same work dir
    assert sleepers(tag) == []
