"""Benchmarks: one module per `suanli bench <name>` subcommand, each with `register(subparsers)`;
a module without it (`sqlite_ledger`, the market bench's ledger store) is a helper."""

import json
import sys
from typing import Any


def print_result(out: dict[str, Any], as_json: bool) -> int:
    """A benchmark's result: one JSON object (``--json``), or one ``key: value`` line each."""
    if as_json:
        print(json.dumps(out))
    else:
        width = max((len(k) for k in out), default=0)
        for k, v in out.items():
            print(f"{k:>{width}}: {v}")
    sys.stdout.flush()
    return 0
