"""``suanli report compliance``: the policy figures beside their targets, live from the platform."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from suanli.cli.render import add_api_flags, client, emit, print_table


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="reports for operators")
    reports = p.add_subparsers(dest="report", required=True, metavar="REPORT")
    c = reports.add_parser("compliance", help="the policy's green and scale targets: each figure, its target, "
                                              "pass or fail")
    c.add_argument("--since", type=when, default=None,
                   help="count work run from this time (Unix seconds or ISO 8601, UTC; default: all)")
    c.add_argument("--until", type=when, default=None, help="... up to this time (default: now)")
    add_api_flags(c)
    c.set_defaults(func=compliance)


def when(text: str) -> float:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: give Unix seconds (1767225600) or ISO 8601 "
                                         "(2026-01-01 or 2026-01-01T08:00:00)") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def _value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    text = f"{v:.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)
    return f"{text} {unit}".strip()


def compliance(args: argparse.Namespace) -> int:
    data = client(args).get("/v1/reports/compliance", since=args.since, until=args.until)
    if args.json:
        emit(data)
        return 0
    verdict = {True: "PASS", False: "FAIL", None: "-"}
    print_table([[f["name"], _value(f["value"], f["unit"]), f["target"] or "-", verdict[f["ok"]]]
                 for f in data["figures"]], ["FIGURE", "VALUE", "TARGET", "RESULT"])
    tiers = ", ".join(f"{t} {v:.4f}" for t, v in data["pf16h_by_tier"].items())
    print(f"PF16-hours by tier: {tiers}")
    print(f"{data['passed']} of {data['judged']} targets met")
    return 0
