"""What every CLI command shares: aligned plain-text tables, JSON output, the API client built
from ``--url``/``--token`` (or ``SUANLI_URL``/``SUANLI_TOKEN``/the config file), and those flags."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, rule: bool = True) -> str:
    """Columns padded to their widest cell; ``None`` shows as empty; a dashed rule under the header."""
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """The API commands' tables: a header line and the rows, no rule."""
    print(table(header, rows, rule=False))


def emit(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def client(args: argparse.Namespace) -> Any:
    from suanli.api.client import Client

    return Client(getattr(args, "url", None), getattr(args, "token", None), ca_file=getattr(args, "ca_file", None))


def add_api_flags(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
    p.add_argument("--url", default=None, help="API URL (default $SUANLI_URL)")
    p.add_argument("--token", default=None, help="API token (default $SUANLI_TOKEN)")
    p.add_argument("--ca-file", default=None, help="certificate to trust for https (default $SUANLI_CA_FILE)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print JSON")
