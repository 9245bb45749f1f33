"""``suanli bench load``: a bounded mixed load on the whole running platform.

Starts the platform on loopback: ``suanli up`` on a fresh SQLite data directory (the demo
federation of three local sites, each with its agent, so the jobs really run), or, with
``--database-url``, ``suanli serve`` on that database (seeded with the demo federation) plus one
agent per site. Then ``--clients`` concurrent httpx clients, for ``--seconds``, each repeatedly
pick one of: submit a short job (``true`` or ``sleep 0.1``, 1 GPU) with a fresh ``Idempotency-Key``;
list jobs (``GET /v1/jobs?limit=50``); poll one of its own jobs (``GET /v1/jobs/{id}``). A client
starts no request after the deadline. At the end the operator pages through ``GET /v1/jobs`` and
counts what the store holds: every accepted submission must be there.

Prints one JSON object: per route requests, throughput, p50/p99 latency, errors (any non-2xx or
exception, first messages kept); ``accepted`` vs ``stored``; the targets and whether each is met;
load average before and after; the client's CPU time; the store kind and the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from suanli.cli.bench.submit import free_port, wait_healthy

ROUTES = ("submit", "list", "poll")
P99_TARGET_MS = 250.0   # submit and list (the target)


def register(sub: Any) -> None:
    p = sub.add_parser("load", help="a bounded mixed load (submit, list, poll) on the running platform")
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL URL: `suanli serve` on it plus an agent per site (default: `suanli up` on SQLite)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=60.0, help="no request starts after this long")
    p.add_argument("--mix", default="1,1,1", help="weights of submit,list,poll (default 1,1,1)")
    p.add_argument("--processes", type=int, default=1, help="client processes the clients are spread over")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


# -- the clients ---------------------------------------------------------------------------------
def _error(errs: dict[str, Any], what: str) -> None:
    errs["count"] += 1
    if len(errs["first"]) < 5:
        errs["first"].append(what[:300])


async def _one_client(url: str, token: str, weights: list[float], deadline: float, rng: random.Random,
                      out: dict[str, Any]) -> None:
    """One client: its own keep-alive connection (httpx's shared pool costs the client process
    much more CPU per request at 64 connections), which it lets go after 2 s idle, before the
    server's 5 s keep-alive timeout can close it under a request being sent."""
    import httpx

    mine: list[str] = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30.0) as http:
        while time.time() < deadline:
            route = rng.choices(ROUTES, weights)[0]
            if route == "poll" and not mine:
                route = "submit"
            try:
                t0 = time.perf_counter()
                if route == "submit":
                    cmd = ["true"] if rng.random() < 0.5 else ["sleep", "0.1"]
                    r = await http.post("/v1/jobs", json={"command": cmd, "gpus": 1, "job_class": "batch",
                                                          "duration_s": 1, "time_limit_s": 60},
                                        headers={"Idempotency-Key": uuid.uuid4().hex})
                elif route == "list":
                    r = await http.get("/v1/jobs", params={"limit": 50})
                else:
                    r = await http.get(f"/v1/jobs/{rng.choice(mine)}")
                out[route]["lat"].append(time.perf_counter() - t0)
            except Exception as exc:  # a timeout, a reset connection: an error like a non-2xx
                _error(out[route]["errors"], f"{route}: {type(exc).__name__}: {exc!r}")
                continue
            if not 200 <= r.status_code < 300:
                _error(out[route]["errors"], f"{route}: HTTP {r.status_code} {r.text[:200]}")
            elif route == "submit":
                out["accepted"].add(r.json()["id"])
                mine.append(r.json()["id"])


async def _clients(url: str, token: str, clients: int, weights: list[float], deadline: float,
                   seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {r: {"lat": [], "errors": {"count": 0, "first": []}} for r in ROUTES}
    out["accepted"] = set()
    await asyncio.gather(*(_one_client(url, token, weights, deadline, random.Random(seed * 1000 + i), out)
                           for i in range(clients)))
    out["accepted"] = sorted(out["accepted"])
    return out


def drive(url: str, token: str, clients: int, weights: list[float], deadline: float, seed: int) -> dict[str, Any]:
    """One client process: ``clients`` coroutines until ``deadline`` (``time.time()``); also its CPU time."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    out = asyncio.run(_clients(url, token, clients, weights, deadline, seed))
    after = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


# -- the platform --------------------------------------------------------------------------------
class Platform:
    """The platform under test, started as subprocesses of this one on a temporary directory."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self.tmp = Path(tempfile.mkdtemp(prefix="suanli-bench-load-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.agents: Any = None
        self.tenant = self.operator = ""

    def start(self) -> None:
        cli = [sys.executable, "-m", "suanli.cli.main"]
        log = open(self.tmp / "server.log", "ab")   # noqa: SIM115 (closed with the process)
        if self.database_url is None:
            data = self.tmp / "data"
            self.procs.append(subprocess.Popen([*cli, "up", "--port", str(self.port), "--data-dir", str(data)],
                                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            wait_healthy(self.url, 60)
            for name in ("tenant", "operator"):
                setattr(self, name, (data / f"{name}.token").read_text().strip())
            self._wait_agents(3)
            return
        from suanli.cli.commands.up import Agents
        from suanli.services import tokens
        from suanli.services.federation import list_sites, seed_from_file
        from suanli.services.platform import SYSTEM, bootstrap

        p = bootstrap(self.database_url, pool_size=2)
        seed_from_file(p, "demo-local")
        self.tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo", name="bench load")[1]
        self.operator = tokens.create_token(p, SYSTEM, role="operator", name="bench load")[1]
        (self.tmp / "agents").mkdir(mode=0o700)
        sites = [s["name"] for s in list_sites(p, SYSTEM)]
        for site in sites:
            secret = tokens.create_token(p, SYSTEM, role="agent", site=site, name=f"bench load agent of {site}")[1]
            (self.tmp / "agents" / f"{site}.token").write_text(secret + "\n")
        p.db.dispose()
        self.procs.append(subprocess.Popen([*cli, "serve", "--port", str(self.port), "--database-url",
                                            self.database_url], stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL))
        wait_healthy(self.url, 60)
        self.agents = Agents(self.tmp, self.url)
        for site in sites:
            self.agents.start(site)
        self._wait_agents(len(sites))

    def _wait_agents(self, n: int) -> None:
        """Until every site reports its agent up (so jobs run during the measurement)."""
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = httpx.get(self.url + "/v1/sites", headers={"Authorization": f"Bearer {self.operator}"}, timeout=5)
            items = r.json()
            sites = items["items"] if isinstance(items, dict) else items
            if len([s for s in sites if s.get("health") == "up"]) >= n:
                return
            if any(pr.poll() is not None for pr in self.procs):
                break
            time.sleep(0.2)
        raise RuntimeError(f"the site agents did not come up; see {self.tmp}")

    def stored(self) -> tuple[int, dict[str, int]]:
        """Jobs in the store, counted by the operator through the API (pages of 1000), and by state."""
        import httpx

        n, cursor = 0, None
        states: dict[str, int] = {}
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.operator}"},
                          timeout=60) as http:
            while True:
                page = http.get("/v1/jobs", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
                page.raise_for_status()
                body = page.json()
                n += len(body["items"])
                for job in body["items"]:
                    states[job["state"]] = states.get(job["state"], 0) + 1
                cursor = body["next"]
                if not cursor:
                    return n, dict(sorted(states.items()))

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by the server process and by the site agents (from /proc)."""
        server = self.procs[0].pid
        agents = [a.pid for a in self.agents.procs.values()] if self.agents is not None else _children(server)
        return {"server": _proc_cpu_s(server), "agents": sum(_proc_cpu_s(a) for a in agents)}

    def stop(self, keep: bool = False) -> None:
        if self.agents is not None:
            self.agents.stop()
        for pr in self.procs:
            pr.terminate()
        for pr in self.procs:
            try:
                pr.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pr.kill()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


# -- the report ----------------------------------------------------------------------------------
def _pct(xs: list[float], q: float) -> float | None:
    return round(xs[min(len(xs) - 1, int(len(xs) * q))] * 1000, 2) if xs else None


def run(args: argparse.Namespace) -> int:
    try:
        weights = [float(w) for w in args.mix.split(",")]
        if len(weights) != 3 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError
    except ValueError:
        print("suanli bench load: --mix takes three weights >= 0, e.g. 1,1,1 (submit,list,poll)", file=sys.stderr)
        return 2
    if args.clients < 1 or args.seconds <= 0 or not 1 <= args.processes <= args.clients:
        print("suanli bench load: --clients >= 1, --seconds > 0 and 1 <= --processes <= --clients", file=sys.stderr)
        return 2
    platform = Platform(args.database_url)
    try:
        platform.start()
        cpu_before = platform.cpu_s()
        load_before = os.getloadavg()
        t0 = time.time()
        deadline = t0 + args.seconds
        share = [args.clients // args.processes + (1 if i < args.clients % args.processes else 0)
                 for i in range(args.processes)]
        if args.processes == 1:
            parts = [drive(platform.url, platform.tenant, args.clients, weights, deadline, 0)]
        else:
            with ProcessPoolExecutor(args.processes) as ex:
                parts = list(ex.map(drive, [platform.url] * args.processes, [platform.tenant] * args.processes,
                                    share, [weights] * args.processes, [deadline] * args.processes,
                                    range(args.processes)))
        seconds = time.time() - t0
        load_after = os.getloadavg()
        cpu_after = platform.cpu_s()
        stored, by_state = platform.stored()
    except BaseException:
        platform.stop(keep=True)
        print(f"suanli bench load: the platform's logs are in {platform.tmp}", file=sys.stderr)
        raise
    failed = any(part[r]["errors"]["count"] for part in parts for r in ROUTES)
    platform.stop(keep=failed)

    routes: dict[str, Any] = {}
    for r in ROUTES:
        lat = sorted(x for part in parts for x in part[r]["lat"])
        errs = sum(part[r]["errors"]["count"] for part in parts)
        first = [m for part in parts for m in part[r]["errors"]["first"]][:5]
        routes[r] = {"requests": len(lat) + errs, "per_s": round((len(lat) + errs) / seconds, 1),
                     "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99), "errors": errs, "first_errors": first}
    accepted = sum(len(part["accepted"]) for part in parts)
    total_req = sum(v["requests"] for v in routes.values())
    total_err = sum(v["errors"] for v in routes.values())
    targets = {
        "zero_errors": total_err == 0,
        "submit_p99_le_250ms": routes["submit"]["p99_ms"] is not None and routes["submit"]["p99_ms"] <= P99_TARGET_MS,
        "list_p99_le_250ms": routes["list"]["p99_ms"] is not None and routes["list"]["p99_ms"] <= P99_TARGET_MS,
        "nothing_lost": accepted == stored,
    }
    out = {
        "routes": routes,
        "total": {"requests": total_req, "per_s": round(total_req / seconds, 1), "errors": total_err},
        "accepted": accepted, "stored": stored, "stored_by_state": by_state,
        "targets": targets, "targets_met": all(targets.values()),
        "store": "postgresql" if args.database_url else "sqlite",
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "cpu_s": {"clients": round(sum(part["cpu_s"] for part in parts), 1),
                  **{k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_after}},
        **({"logs": str(platform.tmp)} if failed else {}),
        "settings": {"clients": args.clients, "seconds": args.seconds, "mix": dict(zip(ROUTES, weights, strict=True)),
                     "processes": args.processes,
                     "submit_rate": os.environ.get("SUANLI_SUBMIT_RATE", "default")},
        "seconds": round(seconds, 2),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for r, v in routes.items():
            print(f"{r:6} {v['requests']:7} requests  {v['per_s']:8}/s  p50 {v['p50_ms']} ms  p99 {v['p99_ms']} ms  "
                  f"{v['errors']} errors")
        print(f"accepted {accepted}, stored {stored}; load {load_before[0]:.2f} -> {load_after[0]:.2f}; "
              f"targets {'met' if out['targets_met'] else 'MISSED: ' + ', '.join(k for k, v in targets.items() if not v)}")
    return 0 if out["targets_met"] else 1
