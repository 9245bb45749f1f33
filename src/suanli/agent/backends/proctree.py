"""Whole process trees of local jobs: finding every process a job started and killing them all.

Three mechanisms, strongest first (``LocalBackend`` uses every one that is available):

- A cgroup v1 per placement (the ``freezer`` hierarchy, else ``pids``), named after the agent's
  work directory and the placement, when the agent may write there (root). Every process a job
  forks stays in it, whatever it does (``setsid``, double fork, re-parenting); a kill freezes
  the cgroup, SIGKILLs every member and thaws it, so nothing can fork away meanwhile. A restarted
  agent finds its previous run's cgroups by name and empties them.
- The agent is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a job's orphans are re-parented
  to the agent instead of ``init``, so they stay visible as the agent's children. Each poll walks
  ``/proc`` and records, per job, the descendants of every process already recorded, as
  ``(pid, start time)`` pairs (a recycled pid is never mistaken for a job's process); orphans
  that no running job claims are killed.
- The recorded pairs are written to a small state file in the agent's work directory, so that a
  restarted agent kills what a SIGKILLed predecessor's jobs left behind even without cgroups.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("freezer", "pids")

_libc = None


def prctl(option: int, arg: int) -> bool:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return int(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Orphans of this process's descendants are re-parented to it (Linux >= 3.4)."""
    return prctl(PR_SET_CHILD_SUBREAPER, 1)


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int      # clock ticks after boot: with the pid, names one process for good
    state: str
    uid: int


def read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uid = os.stat(f"/proc/{pid}").st_uid
    except (OSError, ValueError):
        return None
    rest = stat[stat.rindex(")") + 2:].split()   # the command name may hold spaces and parentheses
    return Proc(pid, int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19]), rest[0], uid)


def snapshot() -> dict[int, Proc]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            p = read_proc(int(name))
            if p is not None:
                out[p.pid] = p
    return out


def environ_value(pid: int, name: str) -> str | None:
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for item in data.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix):].decode(errors="replace")
    return None


def kill_exact(pid: int, start: int) -> bool:
    """SIGKILL the process ``pid`` if it is still the one that started at ``start`` (race-free
    through a pidfd: the check and the signal name the same process). True if signalled."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        p = read_proc(pid)
        if p is None or p.start != start or p.state == "Z":
            return False
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def reap(pids: object) -> None:
    """Collect the exit status of those of ``pids`` that are this process's dead children (orphans
    re-parented to the subreaper); never waits, never touches other children."""
    for pid in pids:  # type: ignore[attr-defined]
        try:
            os.waitpid(int(pid), os.WNOHANG)
        except ChildProcessError:
            pass
        except OSError:
            pass


def descendants(roots: set[int], procs: dict[int, Proc]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    out, todo = set(), list(roots)
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out and c not in roots:
                out.add(c)
                todo.append(c)
    return out


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:100] or "_"


def agent_key(work_dir: Path) -> str:
    """One name per agent work directory: two agents on a machine never touch each other's jobs."""
    return hashlib.sha256(str(work_dir.resolve()).encode()).hexdigest()[:16]


# -- cgroups ---------------------------------------------------------------------------------------
def _own_path(controller: str) -> str:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path
    except OSError:
        pass
    return "/"


def cgroup_base(key: str) -> Path | None:
    """``<hierarchy>/<this process's cgroup>/suanli/<key>`` in the first v1 hierarchy (freezer,
    else pids) where this process may create cgroups; ``None`` without one."""
    for controller in CONTROLLERS:
        mount = CGROUP_ROOT / controller
        if not (mount / "cgroup.procs").exists():
            continue
        base = mount / _own_path(controller).lstrip("/") / "suanli" / key
        try:
            base.mkdir(parents=True, exist_ok=True)
            probe = base / "_probe"
            probe.mkdir(exist_ok=True)
            probe.rmdir()
        except OSError:
            continue
        try:
            base.rmdir()   # created again with the first placement's cgroup; left if a previous run's are there
        except OSError:
            pass
        return base
    return None


class Cgroup:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.freezer = (path / "freezer.state").exists() or "freezer" in path.parts

    def create(self) -> Cgroup:
        self.path.mkdir(parents=True, exist_ok=True)
        self.freezer = (self.path / "freezer.state").exists()
        return self

    @property
    def procs_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def _freeze(self, state: str) -> None:
        if not self.freezer:
            return
        try:
            (self.path / "freezer.state").write_text(state)
        except OSError:
            return
        end = time.monotonic() + 2
        while state == "FROZEN" and time.monotonic() < end:
            try:
                if (self.path / "freezer.state").read_text().strip() == "FROZEN":
                    return
            except OSError:
                return
            time.sleep(0.005)

    def kill(self, timeout: float = 5.0, keep: frozenset[int] = frozenset()) -> list[int]:
        """SIGKILL every member (frozen first, so none can fork meanwhile); wait until the cgroup
        is empty and remove it. Returns the pids that were signalled. Dead members that are this
        process's children are reaped, except ``keep`` (a ``Popen`` collects its own)."""
        killed: list[int] = []
        end = time.monotonic() + timeout
        while self.path.exists():
            self._freeze("FROZEN")
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            self._freeze("THAWED")
            reap(set(pids) - keep)
            if not pids:
                try:
                    self.path.rmdir()
                    try:
                        self.path.parent.rmdir()   # the agent's own group, when this was its last placement
                    except OSError:
                        pass
                except OSError as exc:
                    if exc.errno == errno.ENOENT:
                        break
                    if exc.errno != errno.EBUSY:
                        break
            if time.monotonic() > end:
                break
            time.sleep(0.01)
        return killed


# -- state files -----------------------------------------------------------------------------------
def write_state(path: Path, pids: dict[int, int]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(pids.items())))
    os.replace(tmp, path)


def read_state(path: Path) -> dict[int, int]:
    try:
        return {int(p): int(s) for p, s in json.loads(path.read_text())}
    except (OSError, ValueError, TypeError):
        return {}
