"""``suanli sweep``: run profiles x seeds of ``suanli simulate`` as Ray tasks, then print and write
the summary across seeds (means with 95% intervals) and a plot. Exit 0 when every task finished,
1 when some failed twice (reported, the others kept), 2 on bad input (before any task starts)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from suanli.domain.errors import InvalidInput


def register(sub: Any) -> None:
    from suanli.cli.simulation_args import add_trace_arguments

    p = sub.add_parser("sweep", help="run simulations (profiles x seeds) as Ray tasks and summarize across seeds",
                       description="Each (profile, seed) is one `suanli simulate` run as a Ray task; it takes "
                                   "simulate's options, and --trace-path may hold {seed} for a file per seed.")
    p.add_argument("--profiles", default="balanced,fifo-firstfit",
                   help="comma-separated profiles (default balanced,fifo-firstfit)")
    p.add_argument("--seeds", default="0-9", help="seeds: 0-9, 0,3,7 or 0-4,10 (default 0-9)")
    add_trace_arguments(p, seed=False)
    p.add_argument("--out", type=Path, default=Path("sweep"), help="output directory (default sweep/)")
    p.add_argument("--address", default=None,
                   help="run on this existing Ray cluster (e.g. 10.0.0.5:6379 or ray://host:10001); "
                        "default: start a local Ray for the sweep and stop it after")
    p.add_argument("--workers", type=int, default=None,
                   help="CPUs of the local Ray, one simulation each (default: all); not with --address")
    p.add_argument("--no-plots", action="store_true", help="no sweep.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: Any) -> int:
    from suanli.sweep.plan import plan
    from suanli.sweep.ray_run import check_address, ray_cluster, run_tasks
    from suanli.sweep.summary import summarize, write_plot, write_summary

    if args.workers is not None and (args.workers <= 0 or args.address is not None):
        raise InvalidInput("must be positive, and is only for the local Ray", field="--workers", value=args.workers,
                           fix="drop --workers with --address (the cluster's CPUs are used)")
    tasks = plan(args)
    if args.address is not None:
        check_address(args.address)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot be created ({exc.strerror})", field="--out", value=str(args.out),
                           fix="give a writable directory") from None
    t0 = time.perf_counter()
    with ray_cluster(args.address, args.workers) as cluster, _progress(args.quiet, len(tasks)) as event:
        where = ("a local Ray started for the sweep" if cluster.started_here else "the Ray cluster") + f" at {cluster.address}"
        event("start", None, f"{len(tasks)} simulations on {where} ({cluster.cpus:g} CPUs)")
        outcomes = run_tasks(tasks, args.out, event)
    doc = summarize(outcomes, args.out)
    written = write_summary(doc, args.out)
    if not args.no_plots and any(o.ok for o in outcomes):
        written.append(write_plot(doc, args.out))
    _print_table(doc)
    for failure in doc["failed"]:
        print(f"suanli: {failure['profile']} seed {failure['seed']} failed after {failure['attempts']} attempts: "
              f"{failure['error']}", file=sys.stderr)
    done = sum(o.ok for o in outcomes)
    print(f"{done} of {len(outcomes)} simulations finished in {time.perf_counter() - t0:.1f} s; wrote "
          f"{args.out / 'runs'}/PROFILE/seed-N/metrics.json, {', '.join(str(p) for p in written)}")
    return 0 if done == len(outcomes) else 1


class _progress:
    """A rich progress bar on stderr, advanced by the sweep's events (or nothing with ``quiet``)."""

    def __init__(self, quiet: bool, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.bar = None if quiet else Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                               TimeElapsedColumn(), console=self.console)
        self.total = total
        self.failed = 0

    def __enter__(self) -> Any:
        if self.bar is not None:
            self.bar.start()
            self.id = self.bar.add_task("simulations", total=self.total)
        return self.event

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def event(self, kind: str, task: Any, detail: str | None) -> None:
        if kind in ("start", "retry", "failed"):
            text = detail if task is None else f"{kind}: {task.label}: {detail}"
            self.console.print(text, highlight=False, markup=False)
        if kind == "failed":
            self.failed += 1
        if self.bar is not None and kind in ("done", "failed"):
            desc = "simulations" + (f" ({self.failed} failed)" if self.failed else "")
            self.bar.update(self.id, advance=1, description=desc)


def _print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from suanli.sweep.summary import seed_text, table_rows

    header, rows = table_rows(doc)
    print(f"{doc['trace']} on {doc['federation']}, seeds {seed_text(doc['seeds'])}: "
          "mean ± 95% interval across seeds (Student's t)")
    table = Table()
    table.add_column(header[0])
    for name in header[1:]:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    Console(width=max(100, 30 + 24 * len(header))).print(table)
