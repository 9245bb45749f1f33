"""Process lifetimes on Linux: a child that must not outlive its parent asks the kernel for SIGKILL
when the parent dies (``PR_SET_PDEATHSIG``). Used for the agents ``suanli up`` starts (they die
with ``up``) and for the processes the local backend starts (they die with their agent)."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Call in the child between fork and exec (``preexec_fn``). A no-op where prctl is missing."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
