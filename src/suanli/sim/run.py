"""One comparison run: a trace over a federation under several profiles, same seed, into the
``metrics.json`` document (the stable contract, see docs/simulate.md).

``offered_load`` = PF16-hours the trace asks for (each job's duration on its reference chip x
chips x the chip's dense FP16 peak) / (federation PF16 x the trace's submission span).

With ``references=True`` the document also holds the idealized references of ``references.py``
(``references``) and each profile its ratios to them (``ratio_to_references``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from suanli.domain.federation import Federation
from suanli.domain.jobs import Job
from suanli.metering.capacity import capacity_summary
from suanli.scheduling import build_pool_table, load_profile
from suanli.scheduling.table import PoolTable
from suanli.sim.bounds import job_bounds
from suanli.sim.engine import SimConfig, Simulator
from suanli.sim.metrics import r, summarize
from suanli.sim.references import ratios_to_references, references_document
from suanli.sim.sinks import Collector, Sink
from suanli.traces.base import Trace

SCHEMA = "suanli.simulate/1"


@dataclass(frozen=True)
class ProfileRun:
    name: str
    metrics: dict[str, Any]
    collector: Collector


@dataclass(frozen=True)
class Comparison:
    document: dict[str, Any]
    runs: tuple[ProfileRun, ...] = field(default=())
    table: PoolTable | None = None

    def metrics_json(self) -> str:
        return json.dumps(self.document, indent=2, sort_keys=True) + "\n"


def offered_load(jobs: Sequence[Job], table: PoolTable) -> float:
    if len(jobs) < 2:
        return 0.0
    demand = 0.0
    catalog = table.catalog
    for j in jobs:
        if j.compute_pf16h is not None:
            demand += j.compute_pf16h
        else:
            demand += catalog.get(j.reference_accelerator).fp16_tflops * j.gpus * j.duration_s / 3.6e6
    span_h = (max(j.submit_time for j in jobs) - min(j.submit_time for j in jobs)) / 3600.0
    cap = float((table.capacity * table.fp16_tflops).sum() / 1000.0)
    return demand / (cap * span_h) if span_h > 0 and cap > 0 else 0.0


def simulate_profiles(trace: Trace, federation: Federation, profiles: Sequence[str], config: SimConfig,
                      progress: Callable[[str, float], None] | None = None,
                      extra_sinks: Callable[[str], Sequence[Sink]] | None = None,
                      references: bool = False) -> Comparison:
    loaded = [load_profile(p) for p in profiles]   # unknown names fail before any work
    table = build_pool_table(federation)
    jobs = trace.jobs
    runs = []
    bounds = None
    series: tuple[Any, Any] = (None, None)
    for profile in loaded:
        col = Collector(table)
        sinks: list[Sink] = [col, *(extra_sinks(profile.name) if extra_sinks else ())]
        sim = Simulator(table, jobs, profile, config, sinks)
        if bounds is None:
            series = (sim.cluster.carbon_series, sim.cluster.price_series)
            bounds = job_bounds(table, jobs, *series)
        name = profile.name
        result = sim.run(None if progress is None else _bind(progress, name))
        unfinished_deadline = sum(1 for jid in result.rejected if sim.runs[jid].original.deadline is not None)
        unfinished_deadline += sum(1 for run in sim.runs.values()
                                   if not run.done and run.original.deadline is not None)
        runs.append(ProfileRun(name, summarize(result, col, table, bounds, unfinished_deadline), col))
    cap = capacity_summary(federation)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "trace": {"name": trace.name, "source": trace.source, "jobs": len(jobs), "skipped_rows": trace.skipped_total,
                  "skipped": dict(sorted(trace.skipped.items())), "notes": list(trace.notes)},
        "federation": {"name": federation.name, "sites": len(federation.sites), "pools": table.n,
                       "accelerators": cap.total.accelerators, "pflops_fp16": r(cap.total.pflops_fp16, 3)},
        "offered_load": r(offered_load(jobs, table)),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
        "profiles": {run.name: run.metrics for run in runs},
    }
    doc["config"]["outages"] = [asdict(o) for o in config.outages]
    if references:
        if progress is not None:
            progress("references", 0.0)
        doc["references"] = references_document(table, jobs, *series)
        for metrics in doc["profiles"].values():
            metrics["ratio_to_references"] = ratios_to_references(metrics, doc["references"])
        if progress is not None:
            progress("references", 1.0)
    return Comparison(document=doc, runs=tuple(runs), table=table)


def _bind(progress: Callable[[str, float], None], name: str) -> Callable[[float], None]:
    return lambda fraction: progress(name, fraction)


def jct_array(run: ProfileRun) -> np.ndarray:
    return np.asarray([x.end - x.submit for x in run.collector.records])
