"""From simulation options to the inputs of a run: the ``SimConfig``, the federation and the trace.

``options`` is anything with the attributes ``suanli simulate`` parses (see
``cli/simulation_args.add_trace_arguments``): an ``argparse.Namespace`` from the command line, or
a copy of one shipped to a Ray worker by ``suanli sweep``. Both build their inputs here, so a
sweep task and a single run read the same trace the same way (same seed, same bytes).
"""

from __future__ import annotations

from typing import Any

from suanli.config.federation_file import load_federation
from suanli.domain.errors import InvalidInput
from suanli.domain.federation import Federation
from suanli.sim.engine import Outage, SimConfig
from suanli.traces import Trace, TraceOptions, read_trace


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
