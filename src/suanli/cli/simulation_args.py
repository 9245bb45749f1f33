"""What ``suanli simulate``, ``suanli sweep`` and ``suanli bench replay`` share: the simulation
options on the command line and a progress bar on stderr. Turning the options into a
``SimConfig``, a federation and a trace is ``sim/options.py`` (re-exported here), so that a Ray
worker of ``suanli sweep`` builds its inputs the same way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from suanli.sim.options import config_from, load_inputs, parse_outage
from suanli.traces import reader_names

__all__ = ["ProgressBar", "add_trace_arguments", "config_from", "load_inputs", "parse_outage"]


def add_trace_arguments(p: Any, seed: bool = True) -> None:
    """The simulation options; ``seed=False`` leaves out ``--seed`` (``suanli sweep`` has ``--seeds``)."""
    p.add_argument("--trace", default="msr-itp", help=f"trace reader: {', '.join(reader_names())} (default msr-itp)")
    p.add_argument("--trace-path", type=Path, default=None,
                   help="read this file (same format as the reader's) instead of the packaged copy")
    p.add_argument("--skip-bad-rows", action="store_true", help="count and report malformed rows instead of failing")
    p.add_argument("--limit", type=int, default=None, help="only the first N jobs of the trace")
    p.add_argument("--federation", default="east-data-west-compute", help="packaged federation name or YAML path")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--cycle-interval", type=float, default=300.0,
                   help="a cycle runs when something changed, at most once per this many seconds (default 300)")
    p.add_argument("--max-pending", type=int, default=64, help="oldest pending jobs each cycle sees (default 64)")
    p.add_argument("--checkpoint-interval", type=float, default=1800.0,
                   help="seconds between checkpoints of jobs that do not give their own (default 1800)")
    p.add_argument("--outage", action="append", default=[], metavar="SITE@START:DURATION",
                   help="site SITE is down from START for DURATION seconds (repeatable)")
    p.add_argument("--series-start-hour", type=int, default=0,
                   help="hour of the hourly carbon/price series at simulation time 0")
    p.add_argument("--price-series", action="append", default=[], metavar="SITE=SERIES",
                   help="hourly price per PF16-hour for SITE from a CSV (datetime_utc,value)")


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
