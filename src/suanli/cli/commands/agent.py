"""``suanli agent --site NAME --backend local --token ...``: the site agent."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("agent", help="run a site agent: lease placements for a site and run them")
    p.add_argument("--site", required=True)
    p.add_argument("--backend", default="local", help="engine backend (local)")
    p.add_argument("--token", default=None, help="agent token (default: $SUANLI_TOKEN)")
    p.add_argument("--token-file", default=None, help="read the agent token from this file")
    p.add_argument("--url", default=None, help="API URL (default: $SUANLI_URL)")
    p.add_argument("--work-dir", default=None, help="where job logs and working files go")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between heartbeats")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from suanli.agent.agent import Agent
    from suanli.agent.backends import get_backend
    from suanli.api.client import Client

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s agent[{args.site}] %(levelname)s %(message)s")
    token = args.token
    if args.token_file:
        token = Path(args.token_file).read_text().strip()
    work = args.work_dir or os.path.join(".suanli-agent", args.site)
    agent = Agent(Client(args.url, token), args.site, get_backend(args.backend, work_dir=work), interval=args.interval)

    def _stop(*_: Any) -> None:
        agent.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.shutdown()
    return 0
