"""``suanli bench submit``: submissions per second through the real HTTP API.

Starts ``suanli serve --no-scheduler`` on loopback against the given store (a fresh SQLite file
when no URL is given), seeds the demo federation and a tenant token, then drives ``--clients``
concurrent keep-alive HTTP/1.1 connections (a minimal asyncio client, so the client costs little
CPU next to the server on a small machine), each submitting jobs with an ``Idempotency-Key``.
Prints one JSON object: ``submits_per_s``, ``p50_ms``, ``p99_ms``, ``database`` and the set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from suanli.api import client


def register(sub: Any) -> None:
    p = sub.add_parser("submit", help="job submissions per second through the HTTP API")
    p.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=8000, help="measured submissions (after a warm-up)")
    p.add_argument("--workers", type=int, default=2, help="API server processes (replicas) sharing the port")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    if not client.wait_healthy(url, timeout):
        raise RuntimeError(f"server at {url} did not become healthy")


async def _client(port: int, token: str, n: int, lat: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"command": ["python3", "train.py"], "gpus": 2, "job_class": "train",
                       "duration_s": 600}).encode()
    head = (f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
    for _ in range(n):
        req = (head + f"Idempotency-Key: {uuid.uuid4().hex}\r\n\r\n").encode() + body
        t0 = time.perf_counter()
        writer.write(req)
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t0)
        if status != 201:
            errors.append(status)
    writer.close()


async def _drive(port: int, token: str, clients: int, total: int) -> tuple[float, list[float], list[int]]:
    lat: list[float] = []
    errors: list[int] = []
    per = max(1, total // clients)
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, token, per, lat, errors) for _ in range(clients)))
    return time.perf_counter() - t0, lat, errors


def run(args: argparse.Namespace) -> int:
    from suanli.services import tokens
    from suanli.services.federation import seed_from_file
    from suanli.services.platform import SYSTEM, bootstrap
    from suanli.store.db import sqlite_url

    tmp = tempfile.mkdtemp(prefix="suanli-bench-")
    url = args.database_url or sqlite_url(tmp)
    p = bootstrap(url, pool_size=2)
    seed_from_file(p, "demo-local")
    _, token = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo", name="bench")
    p.db.dispose()
    port = free_port()
    procs = []
    for i in range(args.workers):
        cmd = [sys.executable, "-m", "suanli.cli.main", "serve", "--port", str(port), "--database-url", url,
               "--no-scheduler", "--reuse-port"]
        env = dict(os.environ)
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"serve{i}.log"), "ab"),
                                      env=env))
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        asyncio.run(_drive(port, token, args.clients, max(args.clients * 20, args.requests // 10)))  # warm-up
        seconds, lat, errors = asyncio.run(_drive(port, token, args.clients, args.requests))
    finally:
        for pr in procs:
            pr.terminate()
        for pr in procs:
            pr.wait(timeout=10)
    lat.sort()
    out = {
        "submits_per_s": round(len(lat) / seconds, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "clients": args.clients, "workers": args.workers, "requests": len(lat), "errors": len(errors),
        "seconds": round(seconds, 3),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['submits_per_s']} submissions/s, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms "
              f"({out['database']}, {args.clients} clients, {args.workers} server process(es), {len(errors)} errors)")
    return 0 if not errors else 1
