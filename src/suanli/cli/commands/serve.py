"""``suanli serve``: one stateless API replica (plus a scheduler loop that runs only while it
holds the leadership). Several replicas may share one PostgreSQL. With the SQLite store in
``--data-dir``, that directory is made 0700 and its files 0600 (umask 077), as ``suanli up`` does."""

from __future__ import annotations

import argparse
import os
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run one API replica (and the scheduler when it is the leader)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--database-url", default=None, help="default: $SUANLI_DATABASE_URL, else SQLite in --data-dir")
    p.add_argument("--data-dir", default=os.environ.get("SUANLI_DATA_DIR", ".suanli"))
    p.add_argument("--reuse-port", action="store_true", help="let several replicas listen on one port")
    p.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    p.add_argument("--seed", default=None, help="load this federation YAML (path or packaged name) into the store")
    add_tls_flags(p)
    p.set_defaults(func=run)


def add_tls_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", default=None, help="the certificate's private key (PEM)")


def tls_pair(args: argparse.Namespace) -> tuple[str, str] | None:
    """The (certificate, key) files to serve HTTPS with, or None; both or neither must be given."""
    from suanli.domain.errors import InvalidInput

    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if bool(cert) != bool(key):
        raise InvalidInput("give both --tls-cert and --tls-key", field="--tls-key" if cert else "--tls-cert",
                           value=cert or key, fix="pass the certificate and its private key, both PEM files")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path and not os.path.isfile(path):
            raise InvalidInput("file not found", field=flag, value=path, fix="give a readable PEM file")
    return (cert, key) if cert and key else None


def database_url(args: argparse.Namespace) -> str:
    from suanli.store.db import sqlite_url

    return args.database_url or os.environ.get("SUANLI_DATABASE_URL") or sqlite_url(args.data_dir)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from suanli.api.server import serve
    from suanli.cli.commands.up import private_data_dir
    from suanli.services.federation import seed_from_file
    from suanli.services.platform import bootstrap

    os.umask(0o077)   # what this process creates (a SQLite store, its journal) is the platform's alone
    url = database_url(args)
    if not (args.database_url or os.environ.get("SUANLI_DATABASE_URL")):
        private_data_dir(Path(args.data_dir).expanduser().resolve())
    platform = bootstrap(url)
    if args.seed:
        seed_from_file(platform, args.seed)
    serve(platform, args.host, args.port, scheduler=not args.no_scheduler, reuse_port=args.reuse_port,
          tls=tls_pair(args))
    return 0
