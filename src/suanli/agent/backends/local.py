"""The ``local`` backend: a placement's command runs as a subprocess on this machine, in its own
process group, with ``CUDA_VISIBLE_DEVICES`` set to the slots it was given (bookkeeping on a
machine without GPUs).

- Output goes to ``<work_dir>/<placement>.log``, which only the agent reads.
- The job runs in a private directory of its own (mode 0700) under ``job_root`` (default: the
  system's temporary directory), never inside the agent's or the platform's directories; it is
  the job's ``HOME`` too.
- Its environment is an allow-list: ``PATH``, ``LANG``, ``HOME``, the job's own ``env``, the
  slots and the ``SUANLI_JOB_ID``/``SUANLI_PLACEMENT_ID``/``SUANLI_ATTEMPT`` ids; never the
  agent's environment (no token, no database URL).
- Children get SIGKILL if the agent dies (Linux ``PR_SET_PDEATHSIG``), so a lost agent never
  leaves a job running that the platform has requeued elsewhere; so nothing is there to adopt
  after an agent restart (``adopt`` returns ``None`` and the platform requeues the placement).
- There is no engine to report an inventory: the declared pools are the truth (``{}``).
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from suanli.agent.backends import EngineError, PoolInventory, PoolSpec

PR_SET_PDEATHSIG = 1
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PASSED_THROUGH = ("PATH", "LANG")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def job_environment(placement: dict[str, Any], home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A job's whole environment: the allow-list above. Refuses names or values an ``execve``
    cannot carry (``=`` or NUL in a name, NUL in a value) with ``EngineError``."""
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOME"] = home
    for k, v in dict(placement.get("env") or {}).items():
        k, v = str(k), str(v)
        if not ENV_NAME.match(k) or "\0" in v:
            raise EngineError(f"env {k!r}: a name of letters, digits and _ and a value without NUL bytes")
        env[k] = v
    env.update(extra or {})
    env.update(SUANLI_JOB_ID=str(placement["job_id"]), SUANLI_PLACEMENT_ID=str(placement["placement_id"]),
               SUANLI_ATTEMPT=str(placement.get("attempt", 1)))
    return env


def job_command(placement: dict[str, Any]) -> list[str]:
    command = [str(c) for c in placement.get("command") or ()]
    if not command:
        raise EngineError("the job has no command")
    if any("\0" in c for c in command):
        raise EngineError("the command contains a NUL byte")
    return command


class LocalHandle:
    def __init__(self, placement_id: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.placement_id = placement_id
        self.reason = ""
        self.proc = proc
        self.log_path = log_path

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)

    def read_log(self, offset: int, limit: int) -> bytes:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return b""


class LocalBackend:
    name = "local"
    kill_on_shutdown = True

    def __init__(self, work_dir: str | os.PathLike[str] = ".suanli-agent", job_root: str | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work_dir, 0o700)
        self.job_root = Path(job_root or os.path.join(tempfile.gettempdir(), f"suanli-jobs-{os.getuid()}"))
        self.job_root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.job_root, 0o711)   # others may enter a job's own directory by name, not list them
        self.handles: dict[str, LocalHandle] = {}

    def check(self) -> None:
        return None

    def start(self, placement: dict[str, Any], slots: list[int]) -> LocalHandle:
        pid = str(placement["placement_id"])
        if pid in self.handles:
            return self.handles[pid]
        command = job_command(placement)
        home = self.job_root / pid
        home.mkdir(mode=0o700, exist_ok=True)
        env = job_environment(placement, str(home), {"CUDA_VISIBLE_DEVICES": ",".join(str(s) for s in slots)})
        log_path = self.work_dir / f"{pid}.log"
        log = open(log_path, "ab")
        try:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    cwd=home, start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            log.write(f"suanli-agent: cannot start {command[0]!r}: {exc}\n".encode())
            raise
        finally:
            log.close()
        self.handles[pid] = LocalHandle(pid, proc, log_path)
        return self.handles[pid]

    def adopt(self, placement: dict[str, Any]) -> LocalHandle | None:
        return self.handles.get(str(placement["placement_id"]))

    def inventory(self, pools: list[PoolSpec]) -> dict[str, PoolInventory]:
        return {}
