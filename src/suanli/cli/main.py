"""Entry point of the ``suanli`` command: discovers command modules, parses, dispatches.

Exit codes: 0 ok, 1 the command ran and failed, 2 bad input (usage, a wrong file or value, an
API answer 4xx), 130 interrupted. ``InvalidInput`` errors print as one line on stderr, never a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from suanli import __version__
from suanli.domain.errors import InvalidInput, SuanliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="suanli", description="suanli: pool, meter, trade and schedule GPU compute.")
    parser.add_argument("--version", action="version", version=f"suanli {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import suanli.cli.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"suanli.cli.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except InvalidInput as exc:
        print(f"suanli: error: {exc}", file=sys.stderr)
        return 2
    except SuanliError as exc:
        print(f"suanli: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        print("suanli: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
