"""The backend contract: how a site agent drives the engine its site already runs.

A backend is found by name (``local``, ``slurm``, ``ray``); an unknown name lists the valid ones.
Each backend can:

- ``check()``: raise ``EngineError`` with one clear line when the engine cannot be used at all
  (a missing ``sbatch``, an unreachable Ray dashboard, an unknown option). Called once at start.
- ``start(placement, slots)``: start a placement, idempotently on ``placement["placement_id"]``:
  starting the same placement twice starts one engine job and returns a handle to it. The agent
  adds ``nodes`` and ``per_node`` (the gang's shape over the pool's nodes) to the work order.
- ``kill_on_shutdown``: whether the agent stops the placement's work when it stops itself
  (local processes: yes; engine jobs: no, a restarted agent adopts them).
- ``adopt(placement)``: after an agent restart, find the placement in the engine (by its id in
  the job name, comment or submission id) and return a handle to it, alive or ended while the
  agent was away; ``None`` when the engine has no trace of it.
- ``inventory(pools)``: what the engine reports per pool, as ``PoolInventory``.

A ``Handle`` is one started placement:

- ``poll()``: ``None`` while it runs or while the engine cannot be asked (a transient error is
  never taken as "gone"); the job's own exit code once the engine says it ended. ``reason`` is
  then the engine's reason for an end it did not ask for (``""`` otherwise).
- ``kill()``: stop it with every process and job step it started.
- ``read_log(offset, limit)``: up to ``limit`` bytes of its output from byte ``offset``.
- ``release_log(start, end)`` (optional): the agent no longer needs bytes [start, end) of the
  output (it keeps a long output's head and tail only); the backend may free them.

Errors::

    EngineError            the engine cannot be used (configuration, missing tools): final
    +-- EngineUnavailable  the engine did not answer this time: retry later, assume nothing
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from suanli.domain.registry import Registry


class EngineError(Exception):
    """The engine cannot be used as configured; the message is one line a provider can act on."""


class EngineUnavailable(EngineError):
    """A transient failure talking to the engine; nothing about any job may be concluded from it."""


@dataclass(frozen=True)
class PoolSpec:
    """A pool as the platform declared it (what the agent tells its backend)."""

    name: str
    accelerator: str
    per_node: int
    nodes: int

    @property
    def declared(self) -> int:
        return self.per_node * self.nodes


@dataclass(frozen=True)
class NodeState:
    name: str
    state: str          # the engine's word: idle, mixed, allocated, down, drained, alive, ...
    total: int          # accelerators on the node
    allocated: int      # in use by any job
    healthy: bool       # schedulable: not down, drained or failing


@dataclass(frozen=True)
class PoolInventory:
    """What the engine reports for one pool. ``free`` counts only healthy, unallocated accelerators;
    ``external`` is what jobs the engine runs for others (not submitted by suanli) hold."""

    total: int
    free: int
    healthy: int
    external: int = 0
    nodes: tuple[NodeState, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Handle(Protocol):
    placement_id: str
    reason: str

    def poll(self) -> int | None: ...
    def kill(self) -> None: ...
    def read_log(self, offset: int, limit: int) -> bytes: ...


class Backend(Protocol):
    name: str

    def check(self) -> None: ...
    def start(self, placement: dict[str, Any], slots: list[int]) -> Handle: ...
    def adopt(self, placement: dict[str, Any]) -> Handle | None: ...
    def inventory(self, pools: list[PoolSpec]) -> dict[str, PoolInventory]: ...


def read_log_file(path: str | os.PathLike[str], offset: int, limit: int) -> bytes:
    """Up to ``limit`` bytes of a log file from byte ``offset``; ``b""`` before the file exists."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(limit)
    except FileNotFoundError:
        return b""


FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def punch_hole(path: str | os.PathLike[str], start: int, end: int) -> bool:
    """Free the disk blocks of bytes [start, end) of a file, keeping its size and every offset
    (Linux ``fallocate`` with ``PUNCH_HOLE``; the range then reads as zeros). False where the file
    system cannot."""
    import ctypes

    if end <= start:
        return True
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        rc = libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, ctypes.c_long(start),
                            ctypes.c_long(end - start))
        return bool(rc == 0)
    except (OSError, AttributeError):
        return False
    finally:
        os.close(fd)


def _local() -> type:
    from suanli.agent.backends.local import LocalBackend
    return LocalBackend


def _slurm() -> type:
    from suanli.agent.backends.slurm import SlurmBackend
    return SlurmBackend


def _ray() -> type:
    from suanli.agent.backends.ray import RayBackend
    return RayBackend


BACKENDS: Registry[Callable[[], type]] = Registry("backend")
BACKENDS.add("local", _local)
BACKENDS.add("slurm", _slurm)
BACKENDS.add("ray", _ray)


def get_backend(name: str, **options: Any) -> Backend:
    """Build a backend by name; ``options`` are its keyword arguments (``work_dir`` and the site's
    ``engine_options``). An unknown option raises ``EngineError`` naming the valid ones."""
    return BACKENDS.get(name)()(**options)  # type: ignore[no-any-return]
