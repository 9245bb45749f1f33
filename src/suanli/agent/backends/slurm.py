"""The ``slurm`` backend: each placement is one ``sbatch`` job on the site's own Slurm cluster.

Owns submitting, finding, polling and cancelling suanli's jobs, the batch script they run and the
inventory the agent reports per pool. Parsing of Slurm's output lives in ``slurm_parse``.

Jobs. ``sbatch --parsable --job-name=<placement_id> --comment=suanli --export=NONE``, with
``--gres=gpu[:type]:N`` (one node), or ``--nodes=K --ntasks-per-node=1 --gres=gpu[:type]:per_node``
for a gang (``placement["nodes"] > 1``), ``--time`` from ``time_limit_s`` (minutes, rounded up,
at least 1), ``--no-requeue`` (the platform retries, not Slurm), the site's partition/account/qos
and allow-listed ``sbatch_flags``. The job name is the placement id, so ``start`` is idempotent and
``adopt`` finds the job: both look the name up (``squeue -t all``, this user's jobs only) before
submitting. The job runs as the agent's Unix user (Slurm has no other way without root).

Files, under ``work_dir`` (absolute, must be on storage the batch host shares with the agent):
``logs/<placement>.log`` (``--output``, stdout and stderr, appended), ``logs/<placement>.exit``
and ``runs/<placement>/`` (``--chdir``, mode 0700, so the job never runs where the logs are).

Environment. ``--export=NONE`` and a wrapper that rebuilds each task's environment with ``env -i``
from an allow-list: ``PATH``, ``HOME``, ``LANG`` (the agent's values), the placement's ``env``,
``SUANLI_JOB_ID``, ``SUANLI_PLACEMENT_ID``, ``SUANLI_ATTEMPT``, ``SUANLI_RANK`` (``SLURM_PROCID``),
``SUANLI_LOCAL_RANK``, ``SUANLI_WORLD_SIZE`` (``SLURM_NTASKS``), ``MASTER_ADDR`` (the ``NodeAddr``
of the allocation's first node, from ``scontrol show hostnames``), ``MASTER_PORT`` (29500 + job id
mod 10000), and what Slurm sets for the task (``SLURM_*``, ``CUDA_VISIBLE_DEVICES`` and the other
vendors' device lists, ``USER``, ``LOGNAME``, ``TMPDIR``). Nothing else of the agent's environment
(``SUANLI_TOKEN``...) reaches the job; the commands the agent runs get a pared environment too.
The placement's variables travel from the batch shell to the tasks in the environment (as
``SUANLI_SET__<name>``), never on a command line that ``ps`` shows to other users.

Exit code. The batch script runs the command with one ``srun`` (one task per node), then writes
srun's status -- the command's own exit code, or 128+N when a task died of signal N -- to
``<placement>.exit.tmp`` and renames it to ``<placement>.exit`` (atomic), then exits with it.
``poll`` reports an end only once Slurm says the job ended (COMPLETED, FAILED, TIMEOUT, CANCELLED,
NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, ...): the code is the exit file's when it exists, else
Slurm's ``ExitCode=code:signal`` from ``scontrol show job`` (128+signal when a signal is given).
An end Slurm calls anything but COMPLETED never reports 0 (a job cancelled while pending reports
-1). ``reason`` is ``time_limit`` for TIMEOUT, ``""`` for COMPLETED, FAILED and our own cancel,
else the lowercase state (``node_fail``, ``cancelled``, ``out_of_memory``). When neither squeue
nor scontrol knows the job any more (purged after MinJobAge) the exit file alone decides; with no
exit file either, ``poll`` keeps returning ``None`` for ``lost_grace_s`` and then ends with -1 and
reason ``the engine lost the job``.

Transient errors. Every command runs with a timeout and ``retries`` retries. ``inventory``,
``start`` and ``adopt`` then raise ``EngineUnavailable``; ``poll`` returns ``None``; a failed
``scancel`` is retried by the next ``poll``. A ``sbatch`` that timed out may still have submitted:
the name is looked up again before any retry.

Inventory. ``scontrol show node -o -d`` (``Gres=``, ``GresUsed=``, ``State=``, ``Partitions=``),
restricted to the configured partition if any. ``external`` counts GPUs of running jobs without the
suanli comment and a placement this backend started or adopted (``squeue -t R -o '%i|%k|%j'``;
another agent's placements on a shared cluster are external to this one), per-node GPUs from
``scontrol show job -o -d``). Pools map to nodes by GRES type when any node has typed GRES
(``gpu:a100:4`` goes to the pool whose accelerator is ``a100``, case-insensitive); otherwise one
pool takes every node, and several pools split the nodes in the order ``scontrol`` lists them,
``pool.nodes`` each, in declared order. ``start`` then asks for the pool's GRES type, or excludes
the other pools' nodes, as the last ``inventory`` call mapped them.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from suanli.agent.backends import (
    EngineError,
    EngineUnavailable,
    NodeState,
    PoolInventory,
    PoolSpec,
    read_log_file,
)
from suanli.agent.backends import slurm_parse as sp

Runner = Callable[[Sequence[str], "str | None", float], "tuple[int, str, str]"]

MARKER = "suanli"
LOST = "the engine lost the job"
_COMMANDS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel")
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "SLURM_CONF")
_PLACEMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Facts about a job id, not failures to reach Slurm.
_GONE = ("Invalid job id", "already completing or completed")
_TRANSIENT = ("timed out", "contact", "temporarily", "connection", "communication", "try again", "busy")

SBATCH_FLAGS = frozenset({
    "--constraint", "--exclusive", "--reservation", "--mem", "--mem-per-gpu", "--mem-per-cpu",
    "--cpus-per-gpu", "--cpus-per-task", "--exclude", "--nodelist", "--requeue", "--no-requeue",
    "--nice", "--licenses", "--signal", "--gpu-bind", "--gpu-freq", "--network", "--switches",
    "--tmp", "--hint", "--wckey", "--mail-type", "--mail-user", "--prefer", "--cluster-constraint",
})
OPTIONS = ("work_dir", "partition", "account", "qos", "sbatch_flags", "poll_interval",
           "command_timeout_s", "retries", "lost_grace_s", "kill_wait_s", "runner")

# Runs inside each task: keep what Slurm set for the task, add the placement's variables (the
# batch script passes them as SUANLI_SET__<name>, not on a command line other users can read with
# ps), then the rank variables; the arguments are the command.
_TASK = r"""keep=()
while IFS= read -r -d '' kv; do
  case "${kv%%=*}" in
    SUANLI_SET__*) keep+=("${kv#SUANLI_SET__}") ;;
    SLURM_EXPORT_ENV|SLURM_GET_USER_ENV) ;;
    SLURM_*|SLURMD_*|CUDA_VISIBLE_DEVICES|GPU_DEVICE_ORDINAL|ROCR_VISIBLE_DEVICES|ZE_AFFINITY_MASK|\
MASTER_ADDR|MASTER_PORT|USER|LOGNAME|TMPDIR) keep+=("$kv") ;;
  esac
done < <(env -0)
exec env -i "${keep[@]}" SUANLI_RANK="$SLURM_PROCID" SUANLI_LOCAL_RANK="$SLURM_LOCALID" \
  SUANLI_WORLD_SIZE="$SLURM_NTASKS" "$@"
"""


def batch_script(placement_id: str, command: Sequence[str], env: dict[str, str], exit_path: str) -> str:
    """The batch script for one placement: one ``srun`` over the allocation (one task per node),
    then the atomic exit file. ``command`` and ``env`` are quoted with ``shlex``."""
    q = shlex.quote
    argv = list(command)
    if "=" in argv[0]:            # env(1) would take it for a variable
        argv = ["/bin/sh", "-c", 'exec "$0" "$@"', *argv]
    return "\n".join([
        "#!/bin/bash",
        f"# suanli placement {placement_id}: generated by suanli.agent.backends.slurm",
        f"suanli_exit={q(exit_path)}",
        "suanli_vars=(" + " ".join(q(f"{k}={v}") for k, v in env.items()) + ")",
        'for suanli_kv in "${suanli_vars[@]}"; do export "SUANLI_SET__$suanli_kv"; done',
        "suanli_cmd=(" + " ".join(q(a) for a in argv) + ")",
        'suanli_first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null | head -n 1)',
        'suanli_addr=$(scontrol show node -o "$suanli_first" 2>/dev/null'
        " | sed -n 's/.* NodeAddr=\\([^ ]*\\).*/\\1/p')",
        'export MASTER_ADDR="${suanli_addr:-${suanli_first:-$(hostname)}}"',
        "export MASTER_PORT=$((29500 + SLURM_JOB_ID % 10000))",
        f'srun --export=ALL --kill-on-bad-exit=1 /bin/bash -c {q(_TASK)} suanli-task "${{suanli_cmd[@]}}"',
        "suanli_code=$?",
        'printf \'%d\\n\' "$suanli_code" >"$suanli_exit.tmp" && mv -f "$suanli_exit.tmp" "$suanli_exit"',
        'exit "$suanli_code"',
        "",
    ])


def default_runner(argv: Sequence[str], stdin: str | None, timeout: float) -> tuple[int, str, str]:
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    p = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, errors="replace",
                       timeout=timeout, env=env, stdin=None if stdin is not None else subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


class _Status:
    """What Slurm says about one job id: ``active``, ``ended`` (with ``job``) or ``unknown``."""

    def __init__(self, kind: str, job: sp.JobRecord | None = None) -> None:
        self.kind, self.job = kind, job


class SlurmHandle:
    def __init__(self, backend: SlurmBackend, placement_id: str, job_id: str | None) -> None:
        self.backend = backend
        self.placement_id = placement_id
        self.job_id = job_id
        self.reason = ""
        backend.own.add(placement_id)
        self.log_path = backend.log_path(placement_id)
        self.exit_path = backend.exit_path(placement_id)
        self._code: int | None = None
        self._killed = False
        self._kill_pending = False
        self._lost_since: float | None = None
        self._last_poll = 0.0

    def _end(self, code: int, reason: str) -> int:
        self._code, self.reason = code, reason
        return code

    def _exit_file(self) -> int | None:
        try:
            return int(self.exit_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def poll(self) -> int | None:
        if self._code is not None:
            return self._code
        now = time.monotonic()
        if now - self._last_poll < self.backend.poll_interval:
            return None
        self._last_poll = now
        if self.job_id is None:       # adopted from an exit file alone
            code = self._exit_file()
            return None if code is None else self._end(code, "")
        try:
            status = self.backend.status(self.job_id)
            if self._kill_pending and status.kind == "active":
                self._cancel()
        except EngineUnavailable:
            return None
        if status.kind == "active":
            self._lost_since = None
            return None
        if status.kind == "ended" and status.job is not None:
            return self._ended(status.job)
        code = self._exit_file()
        if code is not None:
            return self._end(code, "")
        if self._lost_since is None:
            self._lost_since = now
        if now - self._lost_since >= self.backend.lost_grace_s:
            return self._end(-1, LOST)
        return None

    def _ended(self, job: sp.JobRecord) -> int:
        code = self._exit_file()
        if code is None:
            code_sig = job.exit_code or (0, 0)
            code = 128 + code_sig[1] if code_sig[1] else code_sig[0]
            if code == 0 and job.state != "COMPLETED":
                code = -1
        return self._end(code, sp.end_reason(job.state, killed_by_us=self._killed))

    def _cancel(self, *extra: str) -> None:
        assert self.job_id is not None
        self.backend.run(["scancel", *extra, self.job_id])
        self._kill_pending = False

    def kill(self) -> None:
        """``scancel`` the whole job (every step and the batch shell; Slurm sends SIGTERM, then
        SIGKILL after the cluster's KillWait), wait up to ``kill_wait_s`` for Slurm to say it
        ended, then SIGKILL everything (``--full`` includes the batch step). A cancel Slurm could
        not take now is retried by ``poll``."""
        if self._code is not None or self.job_id is None:
            return
        self._killed = True
        try:
            self._cancel()
        except EngineUnavailable:
            self._kill_pending = True
            return
        end = time.monotonic() + self.backend.kill_wait_s
        while time.monotonic() < end:
            try:
                if self.backend.status(self.job_id).kind != "active":
                    return
            except EngineUnavailable:
                pass
            time.sleep(0.2)
        try:
            self._cancel("--signal=KILL", "--full")
        except EngineUnavailable:
            self._kill_pending = True

    def read_log(self, offset: int, limit: int) -> bytes:
        return read_log_file(self.log_path, offset, limit)


class SlurmBackend:
    name = "slurm"
    kill_on_shutdown = False   # jobs outlive the agent; a restarted agent adopts them

    def __init__(self, work_dir: str | os.PathLike[str] = ".suanli-agent", partition: str | None = None,
                 account: str | None = None, qos: str | None = None, sbatch_flags: Sequence[str] | str = (),
                 poll_interval: float = 2.0, command_timeout_s: float = 20.0, retries: int = 2,
                 lost_grace_s: float = 300.0, kill_wait_s: float = 10.0, runner: Runner | None = None,
                 **unknown: Any) -> None:
        if unknown:
            raise EngineError(f"unknown slurm option(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(OPTIONS)}")
        self.work_dir = Path(work_dir).absolute()
        self.own: set[str] = set()     # placements this agent started or adopted (its share of the cluster)
        if "%" in str(self.work_dir) or "\\" in str(self.work_dir):
            raise EngineError(f"slurm work_dir {self.work_dir} contains % or \\, which sbatch rewrites")
        self.partition, self.account, self.qos = partition, account, qos
        flags = shlex.split(sbatch_flags) if isinstance(sbatch_flags, str) else [str(f) for f in sbatch_flags]
        for flag in flags:
            if flag.split("=", 1)[0] not in SBATCH_FLAGS:
                raise EngineError(f"sbatch flag {flag!r} is not allowed; allowed (as --flag or --flag=value): "
                                  f"{', '.join(sorted(SBATCH_FLAGS))}")
        self.sbatch_flags = flags
        self.poll_interval = float(poll_interval)
        self.command_timeout_s = float(command_timeout_s)
        self.retries = int(retries)
        self.lost_grace_s = float(lost_grace_s)
        self.kill_wait_s = float(kill_wait_s)
        self.runner: Runner = runner or default_runner
        self.pool_gres: dict[str, str] = {}          # pool -> GRES type to ask for ("" untyped)
        self.pool_exclude: dict[str, list[str]] = {}  # pool -> nodes of the other pools

    # -- running commands ---------------------------------------------------------------------

    def run(self, argv: Sequence[str], stdin: str | None = None, attempts: int | None = None) -> tuple[int, str, str]:
        """Run a Slurm command with a timeout and retries. Returns ``(rc, out, err)`` when it
        answered (rc 0, or an error that is a fact about the job such as "Invalid job id");
        raises ``EngineUnavailable`` when it did not, ``EngineError`` when it is missing."""
        last = ""
        for attempt in range(attempts or self.retries + 1):
            if attempt:
                time.sleep(min(0.5 * attempt, 2.0))
            try:
                rc, out, err = self.runner(argv, stdin, self.command_timeout_s)
            except FileNotFoundError as exc:
                raise EngineError(f"{argv[0]} not found on PATH: {exc}") from exc
            except subprocess.TimeoutExpired:
                last = f"{argv[0]} timed out after {self.command_timeout_s:g}s"
                continue
            except OSError as exc:
                last = f"{argv[0]}: {exc}"
                continue
            if rc == 0 or any(g in err for g in _GONE) or _refused(argv, err):
                return rc, out, err
            last = f"{argv[0]} exited {rc}: {err.strip().splitlines()[-1] if err.strip() else ''}"
        raise EngineUnavailable(f"slurm did not answer: {last}")

    # -- paths --------------------------------------------------------------------------------

    def log_path(self, placement_id: str) -> Path:
        return self.work_dir / "logs" / f"{placement_id}.log"

    def exit_path(self, placement_id: str) -> Path:
        return self.work_dir / "logs" / f"{placement_id}.exit"

    def run_dir(self, placement_id: str) -> Path:
        return self.work_dir / "runs" / placement_id

    # -- contract -----------------------------------------------------------------------------

    def check(self) -> None:
        missing = [c for c in _COMMANDS if shutil.which(c) is None]
        if missing:
            raise EngineError(f"slurm commands not on PATH: {', '.join(missing)}")
        _, out, _ = self.run(["sinfo", "-h", "-o", "%R"])
        if self.partition and self.partition not in out.split():
            raise EngineError(f"slurm partition {self.partition!r} does not exist; "
                              f"partitions: {', '.join(out.split()) or 'none'}")

    def status(self, job_id: str) -> _Status:
        rc, out, _ = self.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", sp.SQUEUE_FORMAT])
        rows = [r for r in sp.parse_squeue(out) if r.job_id == job_id] if rc == 0 else []
        if rows and rows[0].state not in sp.ENDED_STATES:
            return _Status("active")
        rc, out, _ = self.run(["scontrol", "show", "job", "-o", job_id])
        job = sp.parse_job(out.strip().splitlines()[0]) if rc == 0 and out.strip() else None
        if job is None or job.job_id != job_id:
            return _Status("unknown")
        return _Status("ended", job) if job.state in sp.ENDED_STATES else _Status("active")

    def find(self, placement_id: str) -> SlurmHandle | None:
        """This user's suanli job named ``placement_id``: a live one first, else the newest."""
        _, out, _ = self.run(["squeue", "-h", "-t", "all", "-u", str(os.getuid()), f"--name={placement_id}",
                              "-o", sp.SQUEUE_FORMAT])
        rows = [r for r in sp.parse_squeue(out) if r.name == placement_id and r.comment == MARKER]
        if not rows:
            return None
        live = [r for r in rows if r.state not in sp.ENDED_STATES]
        best = max(live or rows, key=lambda r: int(r.job_id.split("_")[0]) if r.job_id.split("_")[0].isdigit() else 0)
        return SlurmHandle(self, placement_id, best.job_id)

    def adopt(self, placement: dict[str, Any]) -> SlurmHandle | None:
        pid = _placement_id(placement)
        handle = self.find(pid)
        if handle is None and self.exit_path(pid).exists():   # ended, and purged from Slurm
            handle = SlurmHandle(self, pid, None)
        return handle

    def start(self, placement: dict[str, Any], slots: list[int]) -> SlurmHandle:
        pid = _placement_id(placement)
        argv, script = self._submission(placement, slots)
        existing = self.find(pid)
        if existing is not None:
            return existing
        try:
            for path in (self.work_dir / "logs", self.work_dir / "runs", self.run_dir(pid)):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                path.chmod(0o700)
            self.exit_path(pid).unlink(missing_ok=True)
        except OSError as exc:
            raise EngineError(f"cannot prepare the job's directories: {exc}") from exc
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.5 * attempt, 2.0))
            try:
                rc, out, err = self.run(argv, stdin=script, attempts=1)
            except EngineUnavailable as exc:
                last = str(exc)
                found = self.find(pid)      # a timed-out sbatch may still have submitted
                if found is not None:
                    return found
                continue
            job_id = out.strip().split(";", 1)[0]
            if rc == 0 and job_id.isdigit():
                return SlurmHandle(self, pid, job_id)
            raise EngineError(f"sbatch refused the job: {err.strip() or out.strip()}")
        raise EngineUnavailable(f"slurm did not take the job: {last}")

    def _submission(self, placement: dict[str, Any], slots: list[int]) -> tuple[list[str], str]:
        pid = _placement_id(placement)
        command = placement.get("command")
        if isinstance(command, str) or not command or not isinstance(command, (list, tuple)):
            raise EngineError("the placement's command must be a non-empty list of strings")
        command = [str(c) for c in command]
        env = {str(k): str(v) for k, v in dict(placement.get("env") or {}).items()}
        for k in env:
            if not _ENV_NAME.fullmatch(k):
                raise EngineError(f"invalid environment variable name {k!r}")
        if any("\0" in s for s in (*command, *env.values())):
            raise EngineError("the command or its environment contains a NUL byte")
        job_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        job_env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        job_env.update(env)
        job_env.update(SUANLI_JOB_ID=str(placement.get("job_id", "")), SUANLI_PLACEMENT_ID=pid,
                       SUANLI_ATTEMPT=str(placement.get("attempt", 1)))
        pool = str(placement.get("pool", ""))
        gres = "gpu:" + (f"{self.pool_gres[pool]}:" if self.pool_gres.get(pool) else "")
        nodes = int(placement.get("nodes") or 1)
        argv = ["sbatch", "--parsable", "--no-requeue", *self.sbatch_flags,
                f"--job-name={pid}", f"--comment={MARKER}", "--export=NONE", "--open-mode=append",
                f"--output={self.log_path(pid)}", f"--chdir={self.run_dir(pid)}"]
        if nodes > 1:
            per_node = int(placement.get("per_node") or 0)
            argv += [f"--nodes={nodes}", "--ntasks-per-node=1"]
        else:
            per_node = int(placement.get("count", len(slots)))
            argv += ["--nodes=1", "--ntasks=1"]
        if per_node > 0:
            argv.append(f"--gres={gres}{per_node}")
        limit = placement.get("time_limit_s")
        if limit:
            argv.append(f"--time={max(1, math.ceil(float(limit) / 60))}")
        for flag, value in (("--partition", self.partition), ("--account", self.account), ("--qos", self.qos)):
            if value:
                argv.append(f"{flag}={value}")
        if self.pool_exclude.get(pool):
            argv.append(f"--exclude={','.join(self.pool_exclude[pool])}")
        return argv, batch_script(pid, command, job_env, str(self.exit_path(pid)))

    def inventory(self, pools: list[PoolSpec]) -> dict[str, PoolInventory]:
        _, out, _ = self.run(["scontrol", "show", "node", "-o", "-d"])
        nodes = [n for n in map(sp.parse_node, out.splitlines()) if n is not None]
        if self.partition:
            nodes = [n for n in nodes if self.partition in n.partitions]
        _, out, _ = self.run(["squeue", "-h", "-t", "R", "-o", "%i|%k|%j"])
        ours = set()
        for line in out.splitlines():
            job_id, comment, name = (line.split("|", 2) + ["", ""])[:3]
            if comment.strip() == MARKER and name.strip() in self.own:
                ours.add(job_id)
        _, out, _ = self.run(["scontrol", "show", "job", "-o", "-d"])
        external: dict[str, dict[str, int]] = {}
        for job in map(sp.parse_job, out.splitlines()):
            if job is None or job.state != "RUNNING" or job.job_id in ours:
                continue
            for node, per_type in job.gpus_per_node.items():
                for kind, n in per_type.items():
                    external.setdefault(node, {})[kind] = external.get(node, {}).get(kind, 0) + n
        return self._map_pools(pools, nodes, external)

    def _map_pools(self, pools: list[PoolSpec], nodes: list[sp.NodeRecord],
                   external: dict[str, dict[str, int]]) -> dict[str, PoolInventory]:
        typed = any(k for n in nodes for k in n.gpus)
        members: dict[str, list[tuple[sp.NodeRecord, str | None]]] = {}
        if typed:
            for p in pools:
                kind = p.accelerator.lower()
                members[p.name] = [(n, kind) for n in nodes if kind in n.gpus]
                self.pool_gres[p.name] = kind
        else:
            rest = list(nodes)
            for p in pools:
                take = rest if len(pools) == 1 else rest[:p.nodes]
                rest = rest[len(take):]
                members[p.name] = [(n, None) for n in take]
            if len(pools) > 1:
                for p in pools:
                    mine = {n.name for n, _ in members[p.name]}
                    self.pool_exclude[p.name] = [n.name for n in nodes if n.name not in mine]
        result = {}
        for p in pools:
            states = []
            ext = 0
            for n, kind in members[p.name]:
                total = n.gpus.get(kind, 0) if kind is not None else n.total
                used = n.used.get(kind, 0) if kind is not None else n.allocated
                ext_here = external.get(n.name, {})
                ext += ext_here.get(kind, 0) if kind is not None else sum(ext_here.values())
                states.append(NodeState(n.name, n.state, total, min(used, total), sp.node_healthy(n.state)))
            result[p.name] = PoolInventory(
                total=sum(s.total for s in states),
                free=sum(s.total - s.allocated for s in states if s.healthy),
                healthy=sum(s.total for s in states if s.healthy),
                external=ext, nodes=tuple(states))
        return result


def _refused(argv: Sequence[str], err: str) -> bool:
    """sbatch said no for a reason a retry will not change (bad account, partition, request)."""
    low = err.lower()
    return argv[0] == "sbatch" and "submission failed" in low and not any(t in low for t in _TRANSIENT)


def _placement_id(placement: dict[str, Any]) -> str:
    pid = str(placement.get("placement_id", ""))
    if not _PLACEMENT_ID.fullmatch(pid):
        raise EngineError(f"placement id {pid!r} is not usable as a Slurm job name "
                          "(letters, digits, '.', '_', '-'; at most 128)")
    return pid
