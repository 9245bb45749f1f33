"""``suanli up``: the whole platform on one machine -- API, scheduler loop and a federation (by
default a demo of three local sites), each site served by an agent on the site's engine -- on a
SQLite store in a data directory. Before anything starts, each site's engine is checked (a Slurm
or Ray site needs its cluster reachable from here); what is missing is named, with exit code 2.

Writes ``DIR/operator.token`` and ``DIR/tenant.token``; DIR is 0700 and everything in it 0600
(umask 077, existing files fixed at start), and local jobs run with DIR hidden (the agents' ``hide``
option, docs/security.md). ``up`` again on the same directory resumes: same store, same tokens. Ctrl-C stops the agents and the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from suanli.cli.commands.serve import add_tls_flags


def register(sub: Any) -> None:
    p = sub.add_parser("up", help="start the platform on this machine (what `make run` calls)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--data-dir", default=os.environ.get("SUANLI_DATA_DIR", ".suanli"))
    p.add_argument("--federation", default="demo-local", help="federation YAML (path or packaged name) to seed")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate made in the data "
                                                      "directory (tls.crt); clients trust it with SUANLI_CA_FILE")
    add_tls_flags(p)
    p.set_defaults(func=run)


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)


def _token(p: Any, path: Path, **kw: Any) -> str:
    from suanli.services import tokens
    from suanli.services.errors import Unauthorized
    from suanli.services.platform import SYSTEM

    if path.exists():
        secret = path.read_text().strip()
        try:
            tokens.authenticate(p, secret)
            return secret
        except Unauthorized:
            pass
    _, secret = tokens.create_token(p, SYSTEM, **kw)
    _write_secret(path, secret)
    return secret


def check_engines(fed: Any, data: Path) -> list[str]:
    """One line per site whose engine cannot be used from here (``Backend.check``)."""
    from suanli.agent.backends import EngineError
    from suanli.cli.commands.agent import build_backend
    from suanli.domain.federation import EngineKind

    out = []
    for site in fed.sites:
        if site.engine is EngineKind.LOCAL:
            continue
        try:
            build_backend(site.engine.value, dict(site.engine_options), str(data / "work" / site.name))
        except EngineError as exc:
            out.append(f"site {site.name} ({site.engine.value}): {exc}")
    return out


class Agents:
    """The site agents ``up`` runs: each dies with ``up`` (``PR_SET_PDEATHSIG``), so a killed ``up``
    leaves none behind; one that dies is started again (at most every 2 s; every 30 s after an
    exit code 2, an engine that cannot be used). Each logs to ``agents/SITE.log`` (rotated) and
    prints what happens before its logging starts to ``agents/SITE.out``."""

    def __init__(self, data: Path, url: str, ca_file: str | None = None) -> None:
        self.data, self.url, self.ca_file = data, url, ca_file
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.next_start: dict[str, float] = {}
        self.engines: dict[str, str] = {}

    def start(self, site: str, engine: str = "local") -> None:
        from suanli.agent.lifetime import die_with_parent

        self.engines[site] = engine
        hide = ["--option", f"hide={self.data}"] if engine == "local" else []   # the local sandbox hides DATA
        d = self.data / "agents"
        with open(d / f"{site}.out", "ab") as out:
            self.procs[site] = subprocess.Popen(
                [sys.executable, "-m", "suanli.cli.main", "agent", "--site", site, "--url", self.url,
                 "--token-file", str(d / f"{site}.token"), "--work-dir", str(self.data / "work" / site),
                 "--log-file", str(d / f"{site}.log"), *(["--ca-file", self.ca_file] if self.ca_file else []), *hide],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    def supervise(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            for site, proc in list(self.procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                now = time.monotonic()
                due = self.next_start.setdefault(site, now + (30.0 if code == 2 else 2.0))
                if now >= due:
                    del self.next_start[site]
                    print(f"suanli up: the agent of {site} exited ({code}); starting it again", flush=True)
                    self.start(site, self.engines.get(site, "local"))

    def stop(self) -> None:
        for a in self.procs.values():
            a.terminate()
        for a in self.procs.values():
            try:
                a.wait(timeout=5)
            except subprocess.TimeoutExpired:
                a.kill()


def private_data_dir(data: Path) -> None:
    """The data directory is the platform's alone: from now on this process creates files 0600 and
    directories 0700 (umask 077, inherited by the agents it starts); DATA is made 0700 and what it
    already holds (an older run's store, tokens, logs) 0600/0700."""
    os.umask(0o077)
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    for root, dirs, files in os.walk(data):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                os.chmod(p, 0o600)


def run(args: argparse.Namespace) -> int:
    from suanli.api.server import make_server
    from suanli.cli.commands.serve import tls_pair
    from suanli.config.federation_file import load_federation
    from suanli.services.federation import list_sites, seed_from_file
    from suanli.services.platform import SYSTEM, bootstrap
    from suanli.store.db import sqlite_url

    data = Path(args.data_dir).expanduser().resolve()
    missing = check_engines(load_federation(args.federation), data)
    if missing:
        for line in missing:
            print(f"suanli up: {line}", file=sys.stderr)
        print("suanli up: start the missing engines (see docs/engines.md) or use a federation without them",
              file=sys.stderr)
        return 2
    private_data_dir(data)
    (data / "agents").mkdir(exist_ok=True)
    p = bootstrap(sqlite_url(data))
    fed = seed_from_file(p, args.federation)
    _token(p, data / "operator.token", role="operator", name="suanli up operator")
    tenant = fed.tenants[0].name if fed.tenants else None
    if tenant:
        _token(p, data / "tenant.token", role="tenant", tenant=tenant, name="suanli up demo tenant")
    tls = tls_pair(args)
    if tls is None and args.tls:
        from suanli.cli.tls import self_signed

        if not (data / "tls.crt").exists() or not (data / "tls.key").exists():
            self_signed(data / "tls.crt", data / "tls.key")
        tls = (str(data / "tls.crt"), str(data / "tls.key"))
    url = f"{'https' if tls else 'http'}://{args.host}:{args.port}"
    server, loop = make_server(p, args.host, args.port, tls=tls)
    agents = Agents(data, url, ca_file=tls[0] if tls else None)

    def start_agents() -> None:
        while not server.started:
            time.sleep(0.05)
        for site in list_sites(p, SYSTEM):
            _token(p, data / "agents" / f"{site['name']}.token", role="agent", site=site["name"],
                   name=f"agent of {site['name']}")
            agents.start(site["name"], site.get("engine", "local"))
        print(f"suanli is up at {url}  (API docs: {url}/docs)", flush=True)
        print(f"  operator token: {data / 'operator.token'}   tenant token ({tenant}): {data / 'tenant.token'}"
              "   (mode 0600)", flush=True)
        ca = f" SUANLI_CA_FILE={tls[0]}" if tls else ""
        print(f"  try:  export SUANLI_URL={url} SUANLI_TOKEN=$(cat {data / 'tenant.token'}){ca}", flush=True)
        print("        suanli submit --gpus 2 --class train -- python3 -c 'print(42)'", flush=True)
        print(f"  {len(agents.procs)} site agents running (logs in {data / 'agents'}); Ctrl-C stops everything",
              flush=True)
        agents.supervise(loop.stop)

    loop.start()
    threading.Thread(target=start_agents, daemon=True).start()
    signal.signal(signal.SIGTERM, _interrupt)   # uvicorn re-raises SIGTERM after its shutdown: stop cleanly
    try:
        server.run()
    except KeyboardInterrupt:
        pass   # Ctrl-C is how `up` is stopped
    finally:
        loop.stop.set()
        agents.stop()
        print("suanli stopped", flush=True)
    return 0
