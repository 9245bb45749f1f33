"""``suanli bench``: a group whose subcommands are the modules of ``suanli.cli.bench``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("bench", help="measure the platform's speed (prints JSON with --json)")
    group = parser.add_subparsers(dest="bench_command", metavar="BENCH")
    import suanli.cli.bench as benches

    for info in sorted(pkgutil.iter_modules(benches.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"suanli.cli.bench.{info.name}")
        if hasattr(module, "register"):
            module.register(group)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
