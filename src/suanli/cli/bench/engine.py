"""``suanli bench engine --backend slurm``: how long suanli adds between a submission and the job
running in the site's engine, against submitting to the engine directly.

Starts its own platform on a temporary SQLite data directory: ``suanli serve`` (API and scheduler)
with a federation of one site on the cluster (``engine: slurm``, one pool sized from what Slurm
reports) and ``suanli agent`` for it. Then, in the same run and concurrently (so both see the same
load), ``--concurrency`` workers each submit one-GPU ``sleep 1`` jobs through the API, one after
another, and as many workers submit the same job with plain ``sbatch``. A worker submits its next
job once the previous one has ended (for suanli: once the platform says so), so with the default
concurrency no job ever waits for a free GPU: what is measured is latency, not queueing.

"Running" is the Slurm job in state RUNNING, seen by one ``squeue -t R`` poller every
``--poll-s`` seconds (the platform's own ``running`` only means the agent submitted it). The
poller's resolution is the same for both paths, so it cancels out of the overhead.

Prints ``submit_to_running_p50_s``/``_p99_s`` (suanli: from the API submission),
``suanli_steps_p50_s`` (the platform's own timestamps: submitted to placed by the scheduler,
placed to leased by the agent, leased to ``sbatch`` done and reported),
``sbatch_to_running_p50_s``/``_p99_s`` (from starting ``sbatch``), ``overhead_p50_s`` (the
difference of the medians), the machine's load average before and after, and the runs. Needs Slurm:
exit 2 with one line when ``sbatch``/``sinfo`` are missing or the controller does not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from suanli.api import client as api


def register(sub: Any) -> None:
    p = sub.add_parser("engine", help="submit-to-running latency through suanli against the engine's own submit")
    p.add_argument("--backend", choices=["slurm"], default="slurm")
    p.add_argument("--jobs", type=int, default=200, help="jobs per path (suanli and sbatch)")
    p.add_argument("--concurrency", type=int, default=3,
                   help="workers per path, each with one job in flight (keep 2x this under the GPUs)")
    p.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    p.add_argument("--agent-interval", type=float, default=0.5, help="the agent's --interval")
    p.add_argument("--cycle-s", type=float, default=None,
                   help="scheduler cycle (SUANLI_CYCLE_S; default: the platform's default)")
    p.add_argument("--poll-s", type=float, default=0.1, help="how often squeue is asked which jobs run")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


ENDED = ("succeeded", "failed", "cancelled", "rejected")


class Unusable(Exception):
    """The engine cannot be benchmarked (one line)."""


def _sh(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _check_slurm(partition: str | None) -> None:
    missing = [c for c in ("sbatch", "squeue", "sinfo", "scontrol", "scancel") if shutil.which(c) is None]
    if missing:
        raise Unusable(f"Slurm commands not on PATH: {', '.join(missing)}")
    try:
        p = _sh(["sinfo", "-h", "-o", "%R"], timeout=15)
    except subprocess.TimeoutExpired:
        raise Unusable("sinfo timed out: the Slurm controller does not answer") from None
    if p.returncode != 0:
        raise Unusable(f"sinfo failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    if partition and partition not in p.stdout.split():
        raise Unusable(f"no Slurm partition {partition!r}; partitions: {', '.join(p.stdout.split())}")


def _pool_shape(partition: str | None, work: Path) -> tuple[int, int]:
    """(GPUs per node, nodes) of the healthy nodes Slurm reports (in ``partition`` when given)."""
    from suanli.agent.backends import PoolSpec
    from suanli.agent.backends.slurm import SlurmBackend

    inv = SlurmBackend(work_dir=work, partition=partition).inventory([PoolSpec("gpu", "A100", 1, 1)])["gpu"]
    totals = [n.total for n in inv.nodes if n.healthy and n.total > 0]
    if not totals:
        raise Unusable("Slurm reports no healthy node with GPUs")
    return max(totals), len(totals)


class Poller:
    """One thread asking ``squeue`` which jobs run; keeps when each job name was first seen
    RUNNING, and which names are still pending or running."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.first_running: dict[str, float] = {}
        self.active: set[str] = set()
        self.calls = 0
        self.seconds = 0.0
        self.stop = threading.Event()
        self.fresh = threading.Condition()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        uid = str(os.getuid())
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                p = _sh(["squeue", "-h", "-u", uid, "-t", "PD,R,CG,CF", "-o", "%j|%T"], timeout=10)
            except subprocess.TimeoutExpired:
                continue
            seen = time.time()
            self.calls += 1
            self.seconds += time.monotonic() - t0
            if p.returncode == 0:
                active = set()
                for line in p.stdout.splitlines():
                    name, _, state = line.partition("|")
                    active.add(name)
                    if state == "RUNNING":
                        self.first_running.setdefault(name, seen)
                with self.fresh:
                    self.active = active
                    self.fresh.notify_all()
            self.stop.wait(max(0.0, self.every - (time.monotonic() - t0)))

    def wait_running(self, name: str, timeout: float) -> float:
        end = time.monotonic() + timeout
        while name not in self.first_running:
            if time.monotonic() > end:
                raise TimeoutError(f"{name} never seen RUNNING")
            with self.fresh:
                self.fresh.wait(1.0)
        return self.first_running[name]

    def wait_gone(self, name: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while True:
            with self.fresh:
                self.fresh.wait(1.0)
                if name not in self.active:
                    return
            if time.monotonic() > end:
                raise TimeoutError(f"{name} still in squeue")


def _federation(per_node: int, nodes: int, partition: str | None) -> str:
    options = f"{{partition: {partition}}}" if partition else "{}"
    return (f"name: bench-engine\nregions:\n  - {{name: bench}}\nsites:\n  - name: bench-slurm\n    region: bench\n"
            f"    engine: slurm\n    engine_options: {options}\n    pools:\n"
            f"      - {{name: gpu, accelerator: A100, per_node: {per_node}, nodes: {nodes}}}\n"
            "tenants:\n  - {name: bench, home_region: bench}\n")


def _suanli_worker(url: str, token: str, n: int, poller: Poller, out: list[float], errors: list[str],
                   steps: list[tuple[float, float, float]]) -> None:
    c = api.Client(url, token, timeout=30)
    try:
        for _ in range(n):
            t0 = time.time()
            job = c.post("/v1/jobs", {"command": ["sleep", "1"], "gpus": 1, "duration_s": 1},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
            deadline = time.monotonic() + 120
            while True:        # the placement id is the Slurm job's name
                j = c.get(f"/v1/jobs/{job['id']}")
                if j.get("placement_id") or j["state"] in ENDED or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if not j.get("placement_id"):
                errors.append(f"{job['id']}: {j['state']} {j.get('reason', '')}")
                continue
            try:
                out.append(poller.wait_running(j["placement_id"], 120) - t0)
            except TimeoutError as exc:
                errors.append(str(exc))
            while j["state"] not in ENDED and time.monotonic() < deadline:
                time.sleep(0.1)
                j = c.get(f"/v1/jobs/{job['id']}")
            if j["state"] != "succeeded":
                errors.append(f"{job['id']}: {j['state']} {j.get('reason', '')}")
            elif len(j["placements"]) == 1 and j["placements"][0].get("leased_at"):
                pl = j["placements"][0]
                steps.append((pl["created_at"] - j["submit_time"], pl["leased_at"] - pl["created_at"],
                              pl["started_at"] - pl["leased_at"]))
    except Exception as exc:  # noqa: BLE001  (counted, reported; the other workers go on)
        errors.append(f"suanli worker: {exc}")
    finally:
        c.close()


def _sbatch_worker(prefix: str, n: int, partition: str | None, poller: Poller, out: list[float],
                   errors: list[str]) -> None:
    extra = [f"--partition={partition}"] if partition else []
    for i in range(n):
        name = f"{prefix}-{i}"
        t0 = time.time()
        p = _sh(["sbatch", "--parsable", f"--job-name={name}", "--nodes=1", "--ntasks=1", "--gres=gpu:1",
                 "--output=/dev/null", "--no-requeue", *extra, "--wrap", "sleep 1"])
        if p.returncode != 0:
            errors.append(f"sbatch: {p.stderr.strip()}")
            continue
        try:
            out.append(poller.wait_running(name, 120) - t0)
            poller.wait_gone(name, 120)
        except TimeoutError as exc:
            errors.append(str(exc))


def _stats(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    a = np.asarray(xs)
    return round(float(np.percentile(a, 50)), 3), round(float(np.percentile(a, 99)), 3)


def run(args: argparse.Namespace) -> int:
    try:
        _check_slurm(args.partition)
    except Unusable as exc:
        print(f"suanli bench engine: {exc}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="suanli-bench-engine-"))
    procs: list[subprocess.Popen[bytes]] = []
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    poller = Poller(args.poll_s)
    try:
        return _run(args, tmp, procs, prefix, poller)
    except Unusable as exc:
        print(f"suanli bench engine: {exc}", file=sys.stderr)
        return 2
    finally:
        poller.stop.set()
        for pr in procs:
            pr.send_signal(signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pr.kill()
        _cancel_leftovers(prefix, tmp)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _cancel_leftovers(prefix: str, tmp: Path) -> None:
    """Every job this run started that Slurm still holds: the sbatch ones by name, suanli's by
    their working directory under this run's agent directory."""
    out = _sh(["squeue", "-h", "-u", str(os.getuid()), "-o", "%i|%j|%Z"]).stdout
    ids = [i for i, name, path in (line.split("|", 2) for line in out.splitlines() if line.count("|") >= 2)
           if name.startswith(prefix) or path.startswith(str(tmp))]
    if ids:
        _sh(["scancel", *ids])


def _run(args: argparse.Namespace, tmp: Path, procs: list[subprocess.Popen[bytes]], prefix: str,
         poller: Poller) -> int:
    from suanli.services import tokens
    from suanli.services.federation import seed_from_file
    from suanli.services.platform import SYSTEM, Settings, bootstrap
    from suanli.store.db import sqlite_url

    from .submit import free_port, wait_healthy

    per_node, nodes = _pool_shape(args.partition, tmp / "probe")
    if 2 * args.concurrency > per_node * nodes:
        raise Unusable(f"--concurrency {args.concurrency} needs {2 * args.concurrency} GPUs; Slurm has "
                       f"{per_node * nodes}")
    fed = tmp / "federation.yaml"
    fed.write_text(_federation(per_node, nodes, args.partition))
    data = tmp / "data"
    p = bootstrap(sqlite_url(data))
    seed_from_file(p, str(fed))
    tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="bench", name="bench")[1]
    operator = tokens.create_token(p, SYSTEM, role="operator", name="bench")[1]
    agent_token = tmp / "agent.token"
    agent_token.write_text(tokens.create_token(p, SYSTEM, role="agent", site="bench-slurm", name="bench")[1] + "\n")
    p.db.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if args.cycle_s is not None:
        env["SUANLI_CYCLE_S"] = str(args.cycle_s)
    cli = [sys.executable, "-m", "suanli.cli.main"]
    procs.append(subprocess.Popen([*cli, "serve", "--port", str(port), "--data-dir", str(data)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "ab"),
                                  stdin=subprocess.DEVNULL))
    wait_healthy(url)
    procs.append(subprocess.Popen([*cli, "agent", "--site", "bench-slurm", "--url", url, "--token-file",
                                   str(agent_token), "--work-dir", str(tmp / "agent"),
                                   "--interval", str(args.agent_interval)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "agent.log", "ab"),
                                  stdin=subprocess.DEVNULL))
    op = api.Client(url, operator)
    deadline = time.monotonic() + 60
    while not (op.get("/v1/sites/bench-slurm")["health"] == "up"
               and op.get("/v1/sites/bench-slurm")["pools"][0].get("observed_total")):
        if procs[-1].poll() is not None or time.monotonic() > deadline:
            raise Unusable(f"the agent did not come up; see {tmp / 'agent.log'}")
        time.sleep(0.2)
    op.close()

    poller.thread.start()
    load_before = os.getloadavg()
    per = [args.jobs // args.concurrency + (1 if i < args.jobs % args.concurrency else 0)
           for i in range(args.concurrency)]
    suanli_lat: list[float] = []
    sbatch_lat: list[float] = []
    errors: list[str] = []
    steps: list[tuple[float, float, float]] = []
    threads = [threading.Thread(target=_suanli_worker, args=(url, tenant, n, poller, suanli_lat, errors, steps))
               for n in per]
    threads += [threading.Thread(target=_sbatch_worker,
                                 args=(f"{prefix}-{w}", n, args.partition, poller, sbatch_lat, errors))
                for w, n in enumerate(per)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - t0
    load_after = os.getloadavg()

    s50, s99 = _stats(suanli_lat)
    b50, b99 = _stats(sbatch_lat)
    out = {
        "backend": args.backend,
        "running_means": "the Slurm job in state RUNNING, seen by polling squeue",
        "submit_to_running_p50_s": s50, "submit_to_running_p99_s": s99,
        "sbatch_to_running_p50_s": b50, "sbatch_to_running_p99_s": b99,
        "overhead_p50_s": round(s50 - b50, 3) if s50 is not None and b50 is not None else None,
        "overhead_p99_s": round(s99 - b99, 3) if s99 is not None and b99 is not None else None,
        "suanli_steps_p50_s": {name: round(float(np.median([x[i] for x in steps])), 3) for i, name in enumerate(
            ("submit_to_placed", "placed_to_leased", "leased_to_sbatch_done"))} if steps else None,
        "runs": {"suanli": len(suanli_lat), "sbatch": len(sbatch_lat), "errors": len(errors)},
        "jobs": args.jobs, "concurrency": args.concurrency, "cluster_gpus": per_node * nodes,
        "agent_interval_s": args.agent_interval,
        "cycle_s": Settings.from_env(env).cycle_s,
        "squeue_poll_s": args.poll_s,
        "squeue_call_ms": round(1000 * poller.seconds / poller.calls, 1) if poller.calls else None,
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(), "seconds": round(seconds, 1),
        "first_errors": errors[:5],
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"submit -> running: suanli p50 {s50} s, p99 {s99} s; sbatch p50 {b50} s, p99 {b99} s; "
              f"overhead p50 {out['overhead_p50_s']} s ({len(suanli_lat)}+{len(sbatch_lat)} jobs, "
              f"{len(errors)} errors, load {load_before[0]:.2f} -> {load_after[0]:.2f})")
    return 0 if not errors else 1
