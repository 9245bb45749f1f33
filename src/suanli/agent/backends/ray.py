"""The ``ray`` backend: placements run as Ray jobs through the Ray Jobs API of an existing cluster.

It owns the mapping between suanli's backend contract and ``ray.job_submission``:

- A placement is one Ray job whose ``submission_id`` is the placement id (so ``start`` is
  idempotent and ``adopt`` finds it), whose entrypoint is the command joined with ``shlex`` (Ray
  runs it with a shell), and which asks ``entrypoint_num_gpus = count``. Ray picks the GPUs and
  sets ``CUDA_VISIBLE_DEVICES`` itself; the agent's ``slots`` are only its own bookkeeping. The
  entrypoint runs on ONE node: a placement wider than any node stays PENDING until Ray gives up
  (``RAY_JOB_START_TIMEOUT_SECONDS``, 15 min by default) and then fails with Ray's reason.
- The job's environment is the environment of the Ray worker that supervises it, i.e. of whoever
  ran ``ray start`` on that node (the provider, never the agent), plus Ray's own variables, plus
  ``runtime_env.env_vars``. The backend sends only an allow-list there: the placement's ``env``,
  ``SUANLI_JOB_ID``, ``SUANLI_PLACEMENT_ID``, ``SUANLI_ATTEMPT``. Nothing of the agent's own
  environment (``SUANLI_TOKEN``...) is sent.
- Exit codes: SUCCEEDED -> 0; FAILED -> the driver's exit code (``driver_exit_code``), or 1 when
  Ray has none (the job never ran: ``reason`` then says why); STOPPED -> ``-15`` (Ray stops a job
  with SIGTERM, then SIGKILL after ``RAY_JOB_STOP_WAIT_TIME_S``; -15 follows ``Popen.returncode``);
  a job Ray no longer knows (the cluster was rebuilt) -> ``-1`` with a reason.
- Every call has a timeout. Transport errors and 5xx answers are transient: ``EngineUnavailable``
  from ``start``/``adopt``/``inventory``/``check``; ``poll`` returns ``None`` and ``read_log``
  returns no bytes. ``kill`` never raises: a stop that could not be sent is sent again by ``poll``.

The Ray package is imported when a ``RayBackend`` is built, so suanli works without it.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from collections.abc import Callable
from typing import Any

from suanli.agent.backends import EngineError, EngineUnavailable, PoolInventory, PoolSpec, ray_inventory

log = logging.getLogger("suanli.agent.ray")

OPTIONS = ("work_dir", "address", "timeout", "kill_wait")
STOPPED_EXIT_CODE = -15
LOST_EXIT_CODE = -1
META_PLACEMENT = "suanli_placement_id"
META_GPUS = "suanli_gpus"
_STATUS = re.compile(r"status code (\d{3})")


class _NotFound(EngineError):
    """Ray answered 404: it has no such job."""


def _import_sdk() -> Any:
    try:
        from ray import job_submission
    except ImportError as exc:
        raise EngineError("the ray backend needs the ray package: pip install 'suanli[ray]'") from exc
    if not hasattr(job_submission.JobSubmissionClient, "_do_request"):
        raise EngineError("the ray backend does not support this Ray version (no JobSubmissionClient._do_request); "
                          "install ray[default] 2.10 to 2.60")
    return job_submission


def _timed_client_class(sdk: Any, timeout: float) -> type:
    class TimedClient(sdk.JobSubmissionClient):  # type: ignore[misc]
        """The Jobs API client with a timeout on every HTTP request (Ray sets none)."""

        def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return super()._do_request(method, endpoint, **kwargs)

    return TimedClient


def _one_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of ``text``, at most ``limit`` characters."""
    line = next((" ".join(part.split()) for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


class RayHandle:
    """One placement as a Ray job, found by its submission id."""

    def __init__(self, backend: RayBackend, placement_id: str) -> None:
        self.backend = backend
        self.placement_id = placement_id
        self.reason = ""
        self._code: int | None = None
        self._kill_wanted = False
        self._stop_sent = float("-inf")   # monotonic time of the last stop Ray accepted
        self._log = b""

    def _info(self) -> Any:
        return self.backend.call("get_job_info", self.placement_id)

    def poll(self) -> int | None:
        if self._code is not None:
            return self._code
        try:
            info = self._info()
        except _NotFound:
            self.reason = f"ray has no record of job {self.placement_id} (was the cluster restarted?)"
            self._code = LOST_EXIT_CODE
            return self._code
        except EngineError as exc:
            log.warning("poll %s: %s", self.placement_id, exc)
            return None
        self._code = self._exit_code(info)
        if self._code is None and self._kill_wanted and time.monotonic() - self._stop_sent > self.backend.kill_wait:
            self._send_stop()  # the stop was lost or did not take: ask again
        return self._code

    def _exit_code(self, info: Any) -> int | None:
        status = str(getattr(info.status, "value", info.status))
        if status in ("PENDING", "RUNNING"):
            return None
        driver_code = getattr(info, "driver_exit_code", None)
        if status == "SUCCEEDED":
            return 0
        if status == "STOPPED":
            if not self._kill_wanted:
                self.reason = "ray: the job was stopped outside suanli"
            return STOPPED_EXIT_CODE
        error_type = str(getattr(info.error_type, "value", info.error_type) or "")
        if error_type != "JOB_ENTRYPOINT_COMMAND_ERROR" or driver_code is None:
            self.reason = _one_line(f"ray: {error_type or status}: {info.message or 'no message'}")
        return int(driver_code) if driver_code is not None else 1

    def _send_stop(self) -> bool:
        try:
            self.backend.call("stop_job", self.placement_id)
        except _NotFound:
            pass
        except EngineError as exc:
            log.warning("kill %s: %s (poll will ask again)", self.placement_id, exc)
            return False
        self._stop_sent = time.monotonic()
        return True

    def kill(self) -> None:
        """Ask Ray to stop the job and wait (bounded by ``kill_wait``) until it is STOPPED. Never
        raises: when Ray cannot be asked now, ``poll`` sends the stop later.

        A PENDING job (waiting for GPUs) is not waited for: Ray queues the stop for its supervisor,
        which starts only when the GPUs free up; the command then starts and is stopped at once."""
        self._kill_wanted = True
        if self._code is not None or not self._send_stop():
            return
        end = self._stop_sent + self.backend.kill_wait
        while time.monotonic() < end:
            try:
                info = self._info()
            except EngineError:
                info = None
            if info is not None:
                self._code = self._exit_code(info)
                if self._code is not None or str(getattr(info.status, "value", info.status)) == "PENDING":
                    return
            time.sleep(0.1)
        log.warning("kill %s: still not stopped after %.0f s", self.placement_id, self.backend.kill_wait)

    def read_log(self, offset: int, limit: int) -> bytes:
        """Ray returns the whole log on every call; bytes already fetched never change (a log only
        grows), so a slice inside them is served without asking again."""
        if offset + limit > len(self._log):
            try:
                self._log = str(self.backend.call("get_job_logs", self.placement_id)).encode("utf-8")
            except EngineError as exc:
                log.warning("logs of %s: %s", self.placement_id, exc)
        return self._log[offset: offset + limit]


class RayBackend:
    name = "ray"
    kill_on_shutdown = False   # jobs outlive the agent; a restarted agent adopts them

    def __init__(self, work_dir: Any = ".suanli-agent", address: str = "http://127.0.0.1:8265",
                 timeout: float = 10.0, kill_wait: float = 15.0, **unknown: Any) -> None:
        if unknown:
            raise EngineError(f"ray backend: unknown option(s) {', '.join(sorted(unknown))}; "
                              f"valid options: {', '.join(OPTIONS)}")
        self.work_dir = work_dir
        self.address = str(address).rstrip("/")
        self.timeout = float(timeout)
        self.kill_wait = float(kill_wait)
        self._client_class = _timed_client_class(_import_sdk(), self.timeout)
        self._client: Any = None
        self._pool_resources: dict[str, str] = {}

    # -- talking to Ray -------------------------------------------------------------------------

    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = self._client_class(self.address)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError here
                raise self._error(exc, "connect") from exc
        return self._client

    def _error(self, exc: Exception, what: str) -> EngineError:
        text = _one_line(str(exc) or type(exc).__name__)
        where = f"ray at {self.address}: {what}"
        if isinstance(exc, OSError | TimeoutError):  # requests' errors are OSErrors
            return EngineUnavailable(f"{where}: no answer ({type(exc).__name__}: {text})")
        codes = _STATUS.findall(str(exc))   # the dashboard wraps its agent's answer: the last is the cause
        status = int(codes[-1]) if codes else 0
        if status == 404:
            return _NotFound(f"{where}: not found")
        if status >= 500:
            return EngineUnavailable(f"{where}: {text}")
        return EngineError(f"{where}: {text}")

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        client = self.client()
        fn: Callable[..., Any] = getattr(client, method)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._error(exc, method) from exc

    def get_json(self, endpoint: str) -> Any:
        """GET a dashboard endpoint with the client's address, headers and timeout."""
        def get() -> Any:
            r = self.client()._do_request("GET", endpoint)
            if r.status_code != 200:
                raise RuntimeError(f"Request failed with status code {r.status_code}: {r.text[:200]}")
            return r.json()
        try:
            return get()
        except EngineError:
            raise
        except Exception as exc:
            raise self._error(exc, f"GET {endpoint.split('?')[0]}") from exc

    # -- the contract ---------------------------------------------------------------------------

    def check(self) -> None:
        try:
            self.call("get_version")
        except EngineError as exc:
            raise type(exc)(f"{exc}. Fix: start Ray with its dashboard (ray start --head --dashboard-host ...) "
                            "or set the site's engine_options address") from None

    def start(self, placement: dict[str, Any], slots: list[int]) -> RayHandle:
        pid = str(placement["placement_id"])
        command = [str(c) for c in placement.get("command") or []]
        if not command:
            raise EngineError(f"placement {pid}: empty command")
        count = int(placement.get("count") or len(slots) or 0)
        if count < 0:
            raise EngineError(f"placement {pid}: count = {count}: must be 0 or more GPUs")
        env = {str(k): str(v) for k, v in dict(placement.get("env") or {}).items()}
        env.pop("SUANLI_TOKEN", None)
        env.update(SUANLI_JOB_ID=str(placement.get("job_id", "")), SUANLI_PLACEMENT_ID=pid,
                   SUANLI_ATTEMPT=str(placement.get("attempt", 1)))
        submit: dict[str, Any] = dict(
            entrypoint=shlex.join(command), submission_id=pid, entrypoint_num_gpus=count,
            runtime_env={"env_vars": env}, metadata={META_PLACEMENT: pid, META_GPUS: str(count)})
        resource = self._pool_resources.get(str(placement.get("pool", "")))
        if resource:
            submit["entrypoint_resources"] = {resource: 0.001}
        try:
            self.call("submit_job", **submit)
        except EngineError as exc:
            # a second start (Ray refuses a submission id it has), or a submission whose answer was
            # lost: either way the job may exist, and then it is this placement's job
            try:
                self.call("get_job_info", pid)
            except _NotFound:
                if isinstance(exc, EngineUnavailable):
                    raise
                raise EngineError(f"ray refused placement {pid}: {exc}") from None
            log.info("placement %s is already a Ray job; not submitted again", pid)
        return RayHandle(self, pid)

    def adopt(self, placement: dict[str, Any]) -> RayHandle | None:
        handle = RayHandle(self, str(placement["placement_id"]))
        try:
            info = handle._info()
        except _NotFound:
            return None
        handle._code = handle._exit_code(info)
        return handle

    def held(self) -> dict[str, int]:
        """GPUs suanli's RUNNING jobs hold, per node id (from their metadata)."""
        out: dict[str, int] = {}
        for job in self.call("list_jobs"):
            meta = job.metadata or {}
            if str(getattr(job.status, "value", job.status)) == "RUNNING" and META_PLACEMENT in meta:
                node = str(job.driver_node_id or "")
                out[node] = out.get(node, 0) + int(float(meta.get(META_GPUS) or 0))
        return out

    def inventory(self, pools: list[PoolSpec]) -> dict[str, PoolInventory]:
        rows = self.get_json("/api/v0/nodes?limit=10000&detail=1")["data"]["result"]["result"]
        status = self.get_json("/api/cluster_status?format=0")["data"]["clusterStatus"]
        usage = ((status or {}).get("loadMetricsReport") or {}).get("usageByNode") or {}
        nodes = ray_inventory.parse_nodes(rows, usage)
        self._pool_resources = ray_inventory.pool_resources(nodes, pools)
        return ray_inventory.inventory(nodes, pools, self.held())
