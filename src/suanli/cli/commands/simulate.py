"""``suanli simulate``: replay a trace over a federation under several profiles, print a summary
table and write ``metrics.json``, ``report.html`` and PNG plots to ``--out``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from suanli.domain.errors import InvalidInput


def register(sub: Any) -> None:
    from suanli.cli.simulation_args import add_trace_arguments

    p = sub.add_parser("simulate", help="replay a GPU-cluster trace over a federation and compare profiles")
    add_trace_arguments(p)
    p.add_argument("--profile", default="balanced", help="the profile to evaluate (default balanced)")
    p.add_argument("--compare", default="fifo-firstfit,cheapest",
                   help="comma-separated profiles to compare against (default fifo-firstfit,cheapest; '' for none)")
    p.add_argument("--out", type=Path, default=Path("report"), help="output directory (default report/)")
    p.add_argument("--references", action="store_true",
                   help="also compute the fluid chip-mix reference (clairvoyant, free preemption and migration) "
                        "and the no-queue bounds, and each profile's ratio to them (a few seconds)")
    p.add_argument("--no-plots", action="store_true", help="write metrics.json only")
    p.add_argument("--events", type=Path, default=None, help="also write every event, one per line, to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: Any) -> int:
    from suanli.cli.simulation_args import ProgressBar, config_from, load_inputs
    from suanli.scheduling import load_profile
    from suanli.sim.run import simulate_profiles
    from suanli.sim.sinks import EventLog

    config = config_from(args)
    profiles = [args.profile] + [p.strip() for p in args.compare.split(",") if p.strip() and p.strip() != args.profile]
    for name in profiles:
        load_profile(name)   # an unknown profile fails before the trace is read
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot be created ({exc.strerror})", field="--out", value=str(args.out),
                           fix="give a writable directory") from None
    fed, trace = load_inputs(args)
    if trace.skipped:
        print(f"skipped rows: {trace.skipped_total} ({', '.join(f'{k}: {v}' for k, v in sorted(trace.skipped.items()))})",
              file=sys.stderr)
    logs: dict[str, EventLog] = {}

    def sinks(name: str) -> list[EventLog]:
        if args.events is None:
            return []
        logs[name] = EventLog()
        return [logs[name]]

    cmp = simulate_profiles(trace, fed, profiles, config, progress=None if args.quiet else ProgressBar(),
                            extra_sinks=sinks, references=args.references)
    doc = cmp.document
    (args.out / "metrics.json").write_text(cmp.metrics_json(), encoding="utf-8")
    from suanli.sim.report import references_table, summary_table, write_html, write_plots

    print(f"trace {trace.name}: {len(trace.jobs):,} jobs; federation {fed.name}: "
          f"{doc['federation']['pflops_fp16']} PFLOPS FP16; offered load {doc['offered_load']:.2f}")
    print(summary_table(doc))
    if "references" in doc:
        print(references_table(doc))
    if not args.no_plots:
        plots = write_plots(cmp, args.out)
        write_html(cmp, args.out, plots)
    if args.events is not None:
        with args.events.open("w", encoding="utf-8") as fh:
            for name, log in logs.items():
                for line in log.lines():
                    fh.write(f"{name} {line}\n")
    print(f"wrote {args.out / 'metrics.json'}" + ("" if args.no_plots else f", {args.out / 'report.html'} and plots"))
    return 0
