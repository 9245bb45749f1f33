"""``suanli agent --site NAME [--backend local|slurm|ray] [--option KEY=VALUE ...]``: the site agent.

The backend and its options default to the site's ``engine`` and ``engine_options`` as the
platform knows them; ``--backend`` and ``--option`` override them. An unknown backend or
option, or an engine that cannot be used (no ``sbatch`` on the PATH, an unreachable Ray
dashboard), is one line on stderr and exit code 2, before any work is leased.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("agent", help="run a site agent: lease placements for a site and run them on its engine")
    p.add_argument("--site", required=True)
    p.add_argument("--backend", default=None, help="engine backend: local, slurm, ray (default: the site's engine)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="engine option, e.g. partition=gpu or address=http://127.0.0.1:8265 (repeatable; "
                        "default: the site's engine_options)")
    p.add_argument("--token", default=None, help="agent token (default: $SUANLI_TOKEN)")
    p.add_argument("--token-file", default=None, help="read the agent token from this file")
    p.add_argument("--url", default=None, help="API URL (default: $SUANLI_URL)")
    p.add_argument("--ca-file", default=None, help="certificate to trust for https (default: $SUANLI_CA_FILE)")
    p.add_argument("--work-dir", default=None, help="where job logs and the agent's files go")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between heartbeats")
    p.add_argument("--log-cap", type=int, default=10 * 2**20,
                   help="bytes of each placement's output to keep: the first and the last half (default 10 MiB)")
    p.add_argument("--log-file", default=None, help="log here, rotated at 10 MiB (3 kept), instead of stderr")
    p.set_defaults(func=run)


def parse_options(items: list[str]) -> dict[str, str]:
    from suanli.domain.errors import InvalidInput

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput("expected KEY=VALUE", field="--option", value=item, fix="write e.g. partition=gpu")
        out[key.strip()] = value
    return out


def _site_engine(client: Any, site: str) -> tuple[str, dict[str, str]]:
    """The site's engine and options as the platform knows them (waits up to 30 s for the API)."""
    from suanli.api.client import ApiUnreachable

    deadline = time.monotonic() + 30
    while True:
        try:
            row = client.get(f"/v1/sites/{site}")
            return str(row.get("engine") or "local"), {k: str(v) for k, v in (row.get("engine_options") or {}).items()}
        except ApiUnreachable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def build_backend(name: str, options: dict[str, str], work_dir: str) -> Any:
    """The backend, checked: raises ``EngineError``/``InvalidInput`` with one line a provider can act on."""
    from suanli.agent.backends import BACKENDS, EngineError, get_backend
    from suanli.domain.federation import ENGINE_OPTIONS, EngineKind

    known = {e.value: ENGINE_OPTIONS[e] for e in EngineKind}
    unknown = sorted(set(options) - set(known.get(name, ())))
    if name in known and unknown:
        raise EngineError(f"unknown {name} option {unknown[0]!r}; valid: {', '.join(known[name]) or '(none)'}")
    if name not in BACKENDS:
        raise EngineError(f"no backend for engine {name!r}; the backends are: {', '.join(BACKENDS.names())}")
    backend = get_backend(name, work_dir=work_dir, **options)
    backend.check()
    return backend


def run(args: argparse.Namespace) -> int:
    from suanli.agent.agent import Agent
    from suanli.agent.backends import EngineError
    from suanli.api.client import Client

    handlers: list[logging.Handler] | None = None
    if args.log_file:
        from logging.handlers import RotatingFileHandler

        handlers = [RotatingFileHandler(args.log_file, maxBytes=10 * 2**20, backupCount=3)]
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s agent[{args.site}] %(levelname)s %(message)s",
                        handlers=handlers)
    logging.getLogger("httpx").setLevel(logging.WARNING)   # not a line per request
    token = args.token
    if args.token_file:
        token = Path(args.token_file).read_text().strip()
    client = Client(args.url, token, ca_file=args.ca_file)
    work = args.work_dir or os.path.join(".suanli-agent", args.site)
    name, options = args.backend, parse_options(args.option)
    if name is None:
        name, site_options = _site_engine(client, args.site)
        options = {**site_options, **options}
    if name == "local" and args.token_file:   # the job never sees the agent's token file
        options["hide"] = ":".join(filter(None, [options.get("hide", ""), str(Path(args.token_file).resolve())]))
    try:
        backend = build_backend(name, options, work)
    except EngineError as exc:
        print(f"suanli agent: {name}: {exc}", file=sys.stderr)
        return 2
    agent = Agent(client, args.site, backend, interval=args.interval, log_cap=args.log_cap)

    def _stop(*_: Any) -> None:
        agent.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.shutdown()
    return 0
