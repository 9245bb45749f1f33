"""Who a local job runs as, and the ``bwrap`` sandbox around it.

- **Job user.** An agent running as root never runs tenant code as root: jobs run as the
  unprivileged account ``suanli-job`` (created when missing with ``useradd --system
  --no-create-home --shell /usr/sbin/nologin``; ``nobody`` when it cannot be created), with no
  supplementary groups and ``no_new_privs`` (a setuid program cannot give root back). An agent
  that is not root runs jobs as itself.
- **Sandbox.** When ``bwrap`` (bubblewrap) works here, the job runs in it: a read-only view of
  the system, its own ``/dev``, ``/proc`` and PID namespace (it sees only its own processes, and
  the death of the namespace's pid 1 ends every one of them), its own IPC namespace, a private
  ``/tmp``, empty read-only directories over every hidden path (the platform's data directory,
  the agent's work directory, the other jobs' directories) and only its own directory writable.
  As root, bwrap is run as root (no user namespace needed) and drops to the job user with
  ``setpriv`` inside; as another user, bwrap needs unprivileged user namespaces.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

JOB_USER = "suanli-job"


def resolve_job_user(name: str) -> tuple[int, int] | None:
    """``(uid, gid)`` jobs run as, or ``None`` (run as the agent's own user, when it is not root).
    Creates the account when root and it is missing; falls back to ``nobody``."""
    if os.geteuid() != 0:
        return None
    for attempt in (name, "nobody"):
        try:
            pw = pwd.getpwnam(attempt)
        except KeyError:
            if attempt != name or not shutil.which("useradd"):
                continue
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", attempt],
                           capture_output=True, timeout=30)
            try:
                pw = pwd.getpwnam(attempt)
            except KeyError:
                continue
        if pw.pw_uid != 0:
            return pw.pw_uid, pw.pw_gid
    raise OSError(f"no unprivileged account to run jobs as ({name!r} cannot be created, no 'nobody')")


def drop_command(user: tuple[int, int]) -> list[str]:
    """What bwrap (run as root) executes first to become the job user for good."""
    uid, gid = user
    return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_argv(bwrap: str, home: Path, hide: list[Path], job_root: Path) -> list[str]:
    """The bwrap arguments (up to ``--``) for one job: read-only system, own /dev, /proc, /tmp,
    PID and IPC namespaces; every path of ``hide`` and ``job_root`` replaced by an empty read-only
    directory (a file: by /dev/null); ``home`` the only writable place and the working directory."""
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp",
            "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]
    dirs = []
    for path in _outermost([*hide, job_root]):
        if path.is_dir() and not path.is_symlink():
            argv += ["--tmpfs", str(path)]
            dirs.append(path)
        elif path.exists() or path.is_symlink():
            argv += ["--ro-bind", "/dev/null", str(path)]
    argv += ["--bind", str(home), str(home)]
    for path in dirs:
        argv += ["--remount-ro", str(path)]
    argv += ["--chdir", str(home)]
    return argv


def _outermost(paths: list[Path]) -> list[Path]:
    """Absolute, resolved, without duplicates or paths inside another one of the list; never ``/``."""
    resolved = sorted({Path(os.path.realpath(p)) for p in paths if str(p)}, key=lambda p: len(p.parts))
    out: list[Path] = []
    for p in resolved:
        if p == Path("/") or any(p == o or o in p.parents for o in out):
            continue
        out.append(p)
    return out


def bwrap_works(bwrap: str, user: tuple[int, int] | None) -> str:
    """``""`` when a trivial sandbox starts here (as the agent, dropping to ``user`` inside), else
    bwrap's one-line complaint (e.g. no user namespaces for a non-root agent)."""
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-pid",
           "--unshare-ipc", "--die-with-parent", "--new-session", "--"]
    cmd += drop_command(user) if user else []
    try:
        r = subprocess.run([*cmd, "true"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return "" if r.returncode == 0 else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
