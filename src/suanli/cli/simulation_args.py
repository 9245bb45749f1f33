"""What ``suanli simulate`` and ``suanli bench replay`` share: parsing the simulation options,
loading trace and federation from them, and a progress bar on stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from suanli.config.federation_file import load_federation
from suanli.domain.errors import InvalidInput
from suanli.domain.federation import Federation
from suanli.scheduling.queue import PENDING_WINDOW
from suanli.sim.engine import Outage, SimConfig
from suanli.traces import Trace, TraceOptions, read_trace, reader_names


def add_trace_arguments(p: Any) -> None:
    p.add_argument("--trace", default="msr-itp", help=f"trace reader: {', '.join(reader_names())} (default msr-itp)")
    p.add_argument("--trace-path", type=Path, default=None,
                   help="read this file (same format as the reader's) instead of the packaged copy")
    p.add_argument("--skip-bad-rows", action="store_true", help="count and report malformed rows instead of failing")
    p.add_argument("--limit", type=int, default=None, help="only the first N jobs of the trace")
    p.add_argument("--federation", default="east-data-west-compute", help="packaged federation name or YAML path")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--cycle-interval", type=float, default=300.0,
                   help="a cycle runs when something changed, at most once per this many seconds (default 300)")
    p.add_argument("--max-pending", type=int, default=PENDING_WINDOW,
                   help=f"oldest pending jobs each cycle sees (default {PENDING_WINDOW}, as the live loop)")
    p.add_argument("--checkpoint-interval", type=float, default=1800.0,
                   help="seconds between checkpoints of jobs that do not give their own (default 1800)")
    p.add_argument("--outage", action="append", default=[], metavar="SITE@START:DURATION",
                   help="site SITE is down from START for DURATION seconds (repeatable)")
    p.add_argument("--series-start-hour", type=int, default=0,
                   help="hour of the hourly carbon/price series at simulation time 0")
    p.add_argument("--price-series", action="append", default=[], metavar="SITE=SERIES",
                   help="hourly price per PF16-hour for SITE from a CSV (datetime_utc,value)")


def parse_outage(text: str) -> Outage:
    try:
        site, rest = text.split("@", 1)
        start, duration = rest.split(":", 1)
        return Outage(site=site, start_s=float(start), duration_s=float(duration))
    except ValueError:
        raise InvalidInput("is not SITE@START:DURATION", field="--outage", value=text,
                           fix="write e.g. hub-horinger@86400:7200 (seconds)") from None


def config_from(args: Any) -> SimConfig:
    if args.limit is not None and args.limit <= 0:
        raise InvalidInput("must be positive", field="--limit", value=args.limit, fix="give a number of jobs")
    prices = {}
    for item in args.price_series:
        if "=" not in item:
            raise InvalidInput("is not SITE=SERIES", field="--price-series", value=item,
                               fix="write e.g. hub-horinger=prices.csv")
        site, series = item.split("=", 1)
        prices[site] = series
    return SimConfig(seed=args.seed, cycle_interval_s=args.cycle_interval, max_pending=args.max_pending,
                     checkpoint_interval_s=args.checkpoint_interval,
                     outages=tuple(parse_outage(o) for o in args.outage),
                     series_start_hour=args.series_start_hour, price_series=prices).validate()


def load_inputs(args: Any) -> tuple[Federation, Trace]:
    fed = load_federation(args.federation)
    options = TraceOptions(path=args.trace_path, skip_bad_rows=args.skip_bad_rows, limit=args.limit, seed=args.seed,
                           regions=tuple(fed.region_names()),
                           home_regions={t.name: t.home_region for t in fed.tenants if t.home_region},
                           checkpoint_interval_s=args.checkpoint_interval)
    trace = read_trace(args.trace, options)
    if not trace.jobs:
        raise InvalidInput("has no jobs", field="trace", value=trace.source, fix="give a trace with at least one job")
    return fed, trace


class ProgressBar:
    """``[balanced] ########------ 57%`` on stderr, redrawn in place."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._last: tuple[str, int] | None = None

    def __call__(self, label: str, fraction: float) -> None:
        pct = int(fraction * 100)
        if not self.stream.isatty() and fraction < 1.0:
            pct -= pct % 25     # a log file gets a line per quarter, not a redraw per percent
        if self._last == (label, pct):
            return
        self._last = (label, pct)
        filled = int(self.width * fraction)
        end = "\n" if fraction >= 1.0 or not self.stream.isatty() else ""
        start = "\r" if self.stream.isatty() else ""
        self.stream.write(f"{start}[{label}] {'#' * filled}{'-' * (self.width - filled)} {pct:3d}%{end}")
        self.stream.flush()
