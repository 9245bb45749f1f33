"""Running a sweep's tasks on Ray: each simulation is one Ray task; a failed one is retried once.

Where the tasks run:
- by default on a new local Ray started for the sweep (``ray.init(address="local")`` in a fresh
  temporary directory, on free ports, with no dashboard) and stopped after it. ``"local"`` never
  reads ``RAY_ADDRESS`` nor joins a cluster already running on the machine. Its workers run at
  the priority of the command (Ray nices them to 15 by default, which on a shared machine puts
  the sweep behind everyone else's work while a plain ``suanli simulate`` is not);
- with ``address`` on that existing cluster; the ``suanli`` package is shipped to its workers
  (``runtime_env.py_modules``) so that they run the driver's code; numpy, scipy and PyYAML must be
  installed there, and a ``--trace-path`` must be readable on every node.

A task returns the ``metrics.json`` text; the driver writes it to ``DIR/runs/PROFILE/seed-N/`` as
soon as it arrives, so a failure loses nothing already done. A task that raises (or whose worker
dies) is submitted once more; if that fails too it is reported with the error, and the others go
on. Ray's own retries are off (``max_retries=0``), so every attempt is counted here.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import suanli
from suanli.domain.errors import InvalidInput, SuanliError
from suanli.sim.options import config_from, load_inputs
from suanli.sim.run import simulate_profiles
from suanli.sweep.plan import Task

ATTEMPTS = 2
OBJECT_STORE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    task: Task
    attempts: int
    error: str | None = None       # None: the metrics are at ``task.metrics_path(out)``

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Cluster:
    """The Ray the tasks ran on: its GCS address, whether the sweep started it, its CPUs."""

    address: str
    started_here: bool
    cpus: float


def simulate_one(options: Any, profile: str) -> str:
    """The task: one profile, one seed; the text ``suanli simulate --profile P --compare ''`` writes."""
    config = config_from(options)
    fed, trace = load_inputs(options)
    return simulate_profiles(trace, fed, [profile], config).metrics_json()


def check_address(address: str) -> None:
    """Fail fast when nothing listens at a ``HOST:PORT`` address (Ray itself retries for minutes)."""
    if "://" in address:
        return                      # a Ray client address; the client says itself what is wrong
    host, _, port = address.rpartition(":")
    fix = "give the GCS address of the cluster's head, HOST:PORT (`ray start --head` prints it), or ray://HOST:10001"
    if not host or not port.isdigit():
        raise InvalidInput("is not HOST:PORT", field="--address", value=address, fix=fix)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InvalidInput(f"nothing answers there ({exc.strerror or exc})", field="--address", value=address,
                           fix=fix) from None


@contextmanager
def ray_cluster(address: str | None = None, workers: int | None = None) -> Iterator[Cluster]:
    """A connected Ray: a new local one (``workers`` CPUs, default all) or the one at ``address``."""
    try:
        import ray
    except ImportError:
        raise SuanliError("suanli sweep runs on Ray, which is not installed: pip install 'suanli[ray]'") from None

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    temp = tempfile.mkdtemp(prefix="suanli-ray-") if address is None else None
    try:
        if temp is not None:
            ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, num_gpus=0, include_dashboard=False,
                     object_store_memory=OBJECT_STORE_BYTES, _temp_dir=temp,
                     _system_config={"worker_niceness": 0}, **quiet)
        else:
            ray.init(address=address, runtime_env={"py_modules": [str(Path(suanli.__file__).parent)]}, **quiet)
        yield Cluster(address=ray.get_runtime_context().gcs_address or address or "", started_here=temp is not None,
                      cpus=float(ray.cluster_resources().get("CPU", 0.0)))
    finally:
        ray.shutdown()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def run_tasks(tasks: Sequence[Task], out: Path,
              on_event: Callable[[str, Task, str | None], None] = lambda kind, task, detail: None) -> list[Outcome]:
    """Run ``tasks`` on the connected Ray, write each result, and return the outcomes in task order.

    ``on_event(kind, task, detail)`` with kind ``done``, ``retry`` (detail: the error) or
    ``failed`` (detail: the error of the last attempt).
    """
    import ray
    from ray.exceptions import RayError

    remote = ray.remote(num_cpus=1, max_retries=0)(simulate_one)
    pending: dict[Any, tuple[Task, int]] = {remote.remote(t.options, t.profile): (t, 1) for t in tasks}
    outcomes: dict[int, Outcome] = {}
    order = {id(t): i for i, t in enumerate(tasks)}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        task, attempt = pending.pop(ready[0])
        try:
            text = ray.get(ready[0])
        except RayError as exc:
            reason = _reason(exc)
            if attempt < ATTEMPTS:
                on_event("retry", task, reason)
                pending[remote.remote(task.options, task.profile)] = (task, attempt + 1)
                continue
            outcomes[order[id(task)]] = Outcome(task, attempt, reason)
            on_event("failed", task, reason)
            continue
        path = task.metrics_path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        outcomes[order[id(task)]] = Outcome(task, attempt)
        on_event("done", task, None)
    return [outcomes[i] for i in range(len(tasks))]


def _reason(exc: BaseException) -> str:
    """The task's own error (``InvalidInput: file ...: line 3 ...``), not Ray's wrapping of it."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
