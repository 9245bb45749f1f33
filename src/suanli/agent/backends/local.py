"""The ``local`` backend: a placement's command runs as a subprocess on this machine, in its own
process group, with ``CUDA_VISIBLE_DEVICES`` set to the slots it was given (bookkeeping on a
machine without GPUs). Output goes to ``<work_dir>/<placement>.log``. Children get SIGKILL if the
agent dies (Linux ``PR_SET_PDEATHSIG``), so a lost agent never leaves a job running that the
platform has requeued elsewhere.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


class LocalHandle:
    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
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

    def __init__(self, work_dir: str | os.PathLike[str] = ".suanli-agent") -> None:
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def start(self, placement: dict[str, object], slots: list[int]) -> LocalHandle:
        pid = str(placement["placement_id"])
        log_path = self.work_dir / f"{pid}.log"
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in dict(placement.get("env") or {}).items()})  # type: ignore[call-overload]
        env.update(CUDA_VISIBLE_DEVICES=",".join(str(s) for s in slots), SUANLI_JOB_ID=str(placement["job_id"]),
                   SUANLI_PLACEMENT_ID=pid, SUANLI_ATTEMPT=str(placement.get("attempt", 1)))
        env.pop("SUANLI_TOKEN", None)
        command = [str(c) for c in placement["command"]]  # type: ignore[attr-defined]
        log = open(log_path, "ab")
        try:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    cwd=self.work_dir, start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            log.write(f"suanli-agent: cannot start {command[0]!r}: {exc}\n".encode())
            log.close()
            raise
        log.close()
        return LocalHandle(proc, log_path)
