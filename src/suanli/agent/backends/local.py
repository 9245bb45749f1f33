"""The ``local`` backend: a placement's command runs as a subprocess on this machine, with
``CUDA_VISIBLE_DEVICES`` set to the slots it was given (bookkeeping on a machine without GPUs).
Tenant code is hostile; see docs/security.md for what holds it and what does not.

- Output goes to ``<work_dir>/<placement>.log`` (mode 0600), opened by the agent and handed to the
  job as stdout/stderr; only the agent reads it.
- The job runs in a private directory of its own (mode 0700) under ``job_root`` (default: the
  system's temporary directory), never inside the agent's or the platform's directories; it is
  the job's ``HOME`` too.
- Its environment is an allow-list: ``PATH``, ``LANG``, ``HOME``, the job's own ``env``, the
  slots and the ``SUANLI_JOB_ID``/``SUANLI_PLACEMENT_ID``/``SUANLI_ATTEMPT`` ids; never the
  agent's environment (no token, no database URL).
- An agent running as root runs jobs as the unprivileged ``job_user`` (default ``suanli-job``,
  created if missing), which then owns the job's directory (see ``sandbox``).
- ``sandbox``: ``auto`` (default: bwrap when it works here), ``bwrap`` (required: ``check``
  fails without it) or ``none``. In the sandbox the system is read-only, ``/tmp``, ``/dev``,
  ``/proc`` and the PID namespace are the job's own, and ``hide`` (paths separated by ``:`` or
  ``,``: the platform's data directory) plus the agent's work directory and the other jobs'
  directories are replaced by empty read-only directories.
- The whole process tree ends when the job's main process ends, is killed (cancel, time limit)
  or the agent dies: per-placement cgroups when writable (``cgroup=auto``; ``none`` to not use
  them), else the agent as child subreaper tracking every descendant (``proctree``). The job's
  main process gets SIGKILL if the agent dies (``PR_SET_PDEATHSIG``; in the sandbox that ends
  the PID namespace), and a restarted agent kills whatever its predecessor's jobs left (their
  cgroups, found by name, and the pids in ``<work_dir>/.procs``), so nothing is there to adopt
  after an agent restart (``adopt`` returns ``None`` and the platform requeues the placement)
  and no work runs twice.
- There is no engine to report an inventory: the declared pools are the truth (``{}``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from suanli.agent.backends import EngineError, PoolInventory, PoolSpec, proctree, punch_hole, read_log_file
from suanli.agent.backends import sandbox as sandbox_mod
from suanli.agent.backends.proctree import PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, Cgroup

log = logging.getLogger("suanli.agent.local")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PASSED_THROUGH = ("PATH", "LANG")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
SWEEP_S = 0.2


def _child_setup(cgroup_procs: str | None, user: tuple[int, int] | None, agent: int) -> None:
    """In the job's process, before ``exec``: join the placement's cgroup (as root, before the
    drop), become the job user for good, die with the agent."""
    if cgroup_procs:
        try:
            fd = os.open(cgroup_procs, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        except OSError:
            pass   # tracked by the subreaper instead
    if user is not None:
        uid, gid = user
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if not proctree.prctl(PR_SET_NO_NEW_PRIVS, 1):
            os._exit(126)
    proctree.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # after the drop: a uid change clears it
    if os.getppid() != agent:
        os._exit(137)   # the agent died before the death signal was armed


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


def reachable(path: str, user: tuple[int, int] | None) -> bool:
    """Whether ``user`` (``None``: this process) may search every directory down to ``path``."""
    if user is None:
        return os.path.isdir(path) and os.access(path, os.X_OK)
    uid, gid = user
    p = Path(path)
    if not p.is_absolute():
        return False
    for d in [*reversed(p.parents), p]:
        try:
            st = d.stat()
        except OSError:
            return False
        bit = 0o100 if st.st_uid == uid else 0o010 if st.st_gid == gid else 0o001
        if not st.st_mode & bit:
            return False
    return True


def job_path(path: str, user: tuple[int, int] | None) -> str:
    """The agent's ``PATH`` without what the job's user cannot enter (``/root/...`` for a job of a
    root agent), else the default."""
    kept = [d for d in path.split(os.pathsep) if d and reachable(d, user)]
    return os.pathsep.join(kept) or DEFAULT_PATH


def job_command(placement: dict[str, Any]) -> list[str]:
    command = [str(c) for c in placement.get("command") or ()]
    if not command:
        raise EngineError("the job has no command")
    if any("\0" in c for c in command):
        raise EngineError("the command contains a NUL byte")
    return command


def _executable(program: str, path: str) -> bool:
    if "/" in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program, path=path) is not None


def _paths(value: str | list[str] | tuple[str, ...] | None) -> list[Path]:
    if not value:
        return []
    items = re.split(r"[:,]", value) if isinstance(value, str) else [str(v) for v in value]
    return [Path(v).expanduser() for v in items if v.strip()]


class LocalHandle:
    def __init__(self, backend: LocalBackend, placement_id: str, proc: subprocess.Popen[bytes], log_path: Path,
                 cgroup: Cgroup | None) -> None:
        self.backend = backend
        self.placement_id = placement_id
        self.reason = ""
        self.proc = proc
        self.log_path = log_path
        self.cgroup = cgroup
        self.state_path = backend.state_dir / f"{proctree.safe_name(placement_id)}.json"
        me = proctree.read_proc(proc.pid)
        self.tracked: dict[int, int] = {proc.pid: me.start} if me else {}
        self.ended = False
        proctree.write_state(self.state_path, self.tracked)

    def poll(self) -> int | None:
        code = self.proc.poll()
        if code is None:
            self.backend.sweep()
            return None
        self._end()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._end()
        self.proc.wait(timeout=5)

    def _end(self) -> None:
        """Kill every process the job started (idempotent): its cgroup, then whatever the
        subreaper saw it start (several rounds: a process may fork while its siblings die)."""
        if self.ended:
            return
        keep = frozenset({self.proc.pid})
        if self.cgroup is not None:
            self.cgroup.kill(keep=keep)
        for _ in range(50):
            self.backend.sweep(force=True)
            if not any(proctree.kill_exact(pid, start) for pid, start in self.tracked.items() if pid not in keep):
                break
            time.sleep(0.01)
        time.sleep(0.01)
        proctree.reap(set(self.tracked) - keep)
        self.ended = True
        try:
            self.state_path.unlink()
        except FileNotFoundError:
            pass

    def read_log(self, offset: int, limit: int) -> bytes:
        return read_log_file(self.log_path, offset, limit)

    def release_log(self, start: int, end: int) -> None:
        """Free the disk blocks of output the agent dropped (the file keeps its size and offsets)."""
        punch_hole(self.log_path, start, end)


class LocalBackend:
    name = "local"
    kill_on_shutdown = True

    def __init__(self, work_dir: str | os.PathLike[str] = ".suanli-agent", job_root: str | None = None,
                 hide: str | list[str] | None = None, sandbox: str = "auto", job_user: str = sandbox_mod.JOB_USER,
                 cgroup: str = "auto") -> None:
        if sandbox not in ("auto", "bwrap", "none"):
            raise EngineError(f"sandbox {sandbox!r}: one of auto, bwrap, none")
        if cgroup not in ("auto", "none"):
            raise EngineError(f"cgroup {cgroup!r}: one of auto, none")
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work_dir, 0o700)
        self.state_dir = self.work_dir / ".procs"
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        self.job_root = Path(job_root or os.path.join(tempfile.gettempdir(), f"suanli-jobs-{os.getuid()}")).resolve()
        self.job_root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.job_root, 0o711)   # others may enter a job's own directory by name, not list them
        self.hide = [self.work_dir, *_paths(hide)]
        try:
            self.user = sandbox_mod.resolve_job_user(job_user or sandbox_mod.JOB_USER)
        except OSError as exc:
            raise EngineError(str(exc)) from None
        self.sandbox = sandbox
        self.bwrap: str | None = None
        self.bwrap_as_root = os.geteuid() == 0 and shutil.which("setpriv") is not None
        self.sandbox_error = ""
        if sandbox != "none":
            found = sandbox_mod.bwrap_path()
            if found is None:
                self.sandbox_error = "bwrap (bubblewrap) is not installed"
            else:
                self.sandbox_error = self._probe(found)
                self.bwrap = None if self.sandbox_error else found
        self.subreaper = proctree.become_subreaper()
        self.cgroups = proctree.cgroup_base(proctree.agent_key(self.work_dir)) if cgroup == "auto" else None
        self.handles: dict[str, LocalHandle] = {}
        self._swept = 0.0
        self._unclaimed: set[int] = set()
        self.kill_leftovers()
        log.info("local jobs run as %s, %s; process trees: %s",
                 f"uid {self.user[0]}" if self.user else f"the agent's uid {os.getuid()}",
                 "in a bwrap sandbox" if self.bwrap else f"without sandbox ({self.sandbox_error or 'sandbox=none'})",
                 f"cgroup {self.cgroups}" if self.cgroups else "subreaper tracking")

    def _probe(self, bwrap: str) -> str:
        if self.user is None or self.bwrap_as_root:
            return sandbox_mod.bwrap_works(bwrap, self.user if self.bwrap_as_root else None)
        # root without setpriv: drop first, then bwrap needs user namespaces
        try:
            r = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"],
                               capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                               preexec_fn=lambda: _child_setup(None, self.user, os.getppid()))
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        return "" if r.returncode == 0 else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]

    def check(self) -> None:
        if self.sandbox == "bwrap" and self.bwrap is None:
            raise EngineError(f"sandbox=bwrap, but bwrap cannot run here: {self.sandbox_error}")

    # -- process trees -------------------------------------------------------------------------
    def kill_leftovers(self) -> None:
        """What a previous run of an agent with this work directory left: its placements' cgroups
        (by name) and the processes recorded in its state files, with their descendants."""
        if self.cgroups is not None and self.cgroups.is_dir():
            for d in sorted(p for p in self.cgroups.iterdir() if p.is_dir()):
                killed = Cgroup(d).kill()
                if killed:
                    log.warning("killed %d processes left by placement %s of a previous run", len(killed), d.name)
        for f in sorted(self.state_dir.glob("*.json")):
            pairs, killed = proctree.read_state(f), 0
            for _ in range(50):
                procs = proctree.snapshot()
                alive = {pid: start for pid, start in pairs.items() if pid in procs and procs[pid].start == start}
                for pid in proctree.descendants(set(alive), procs):
                    alive[pid] = pairs[pid] = procs[pid].start
                n = sum(proctree.kill_exact(pid, start) for pid, start in alive.items())
                if not n:
                    break
                killed += n
                time.sleep(0.01)
            proctree.reap(pairs)
            if killed:
                log.warning("killed %d processes left by placement %s of a previous run", killed, f.stem)
            f.unlink()

    def sweep(self, force: bool = False) -> None:
        """Record every descendant of every job; orphans re-parented to the agent (the subreaper)
        belong to the job that recorded them or whose placement id they carry; an orphan of the
        job user that no job claims is killed."""
        now = time.monotonic()
        if not force and now - self._swept < SWEEP_S:
            return
        self._swept = now
        procs = proctree.snapshot()
        me = os.getpid()
        mains = {h.proc.pid for h in self.handles.values()}
        proctree.reap(self._unclaimed & {p.pid for p in procs.values() if p.state == "Z" and p.ppid == me})
        owner: dict[int, LocalHandle] = {}
        for h in self.handles.values():
            if h.ended:
                continue
            h.tracked = {pid: start for pid, start in h.tracked.items()
                         if pid in procs and procs[pid].start == start}
            for pid in proctree.descendants(set(h.tracked), procs):
                h.tracked[pid] = procs[pid].start
            owner.update({pid: h for pid in h.tracked})
        for p in procs.values():
            if p.ppid != me or p.pid in mains or p.pid in owner or p.state == "Z":
                continue
            h = self.handles.get(proctree.environ_value(p.pid, "SUANLI_PLACEMENT_ID") or "")
            if h is not None and not h.ended:
                h.tracked[p.pid] = p.start
                for pid in proctree.descendants({p.pid}, procs):
                    h.tracked[pid] = procs[pid].start
            elif self.user is not None and p.uid == self.user[0]:
                for pid in {p.pid} | proctree.descendants({p.pid}, procs):
                    if proctree.kill_exact(pid, procs[pid].start):
                        self._unclaimed.add(pid)
        for h in self.handles.values():
            if not h.ended:
                proctree.write_state(h.state_path, h.tracked)

    # -- the contract ----------------------------------------------------------------------------
    def start(self, placement: dict[str, Any], slots: list[int]) -> LocalHandle:
        pid = str(placement["placement_id"])
        if pid in self.handles:
            return self.handles[pid]
        command = job_command(placement)
        home = self.job_root / proctree.safe_name(pid)
        home.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            os.chown(home, *self.user)
        os.chmod(home, 0o700)
        env = job_environment(placement, str(home), {"CUDA_VISIBLE_DEVICES": ",".join(str(s) for s in slots)})
        if "PATH" not in dict(placement.get("env") or {}):
            env["PATH"] = job_path(env["PATH"], self.user)
        log_path = self.work_dir / f"{pid}.log"
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        log = os.fdopen(fd, "ab")
        try:
            if not _executable(command[0], env["PATH"]):
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", command[0])
            argv, drop = command, self.user
            if self.bwrap:
                inner = sandbox_mod.drop_command(self.user) if self.user and self.bwrap_as_root else []
                argv = [*sandbox_mod.bwrap_argv(self.bwrap, home, self.hide, self.job_root), "--", *inner, *command]
                drop = None if self.bwrap_as_root else self.user
            cgroup = None
            if self.cgroups is not None:
                cgroup = Cgroup(self.cgroups / proctree.safe_name(pid))
                cgroup.kill()   # a previous attempt's leftovers, if any
                cgroup.create()
            agent = os.getpid()
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    cwd=home, start_new_session=True, close_fds=True,
                                    preexec_fn=lambda: _child_setup(cgroup.procs_file if cgroup else None, drop,
                                                                    agent))
        except OSError as exc:
            log.write(f"suanli-agent: cannot start {command[0]!r}: {exc}\n".encode())
            raise
        finally:
            log.close()
        self.handles[pid] = LocalHandle(self, pid, proc, log_path, cgroup)
        return self.handles[pid]

    def adopt(self, placement: dict[str, Any]) -> LocalHandle | None:
        return self.handles.get(str(placement["placement_id"]))

    def inventory(self, pools: list[PoolSpec]) -> dict[str, PoolInventory]:
        return {}
