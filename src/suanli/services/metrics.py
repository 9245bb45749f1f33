"""What an operator scrapes at ``/metrics``: Prometheus text, served with ``prometheus_client``.

Two kinds of figure, so that the answer is right whichever API replica Prometheus scrapes:

- **Platform figures, read from the store at scrape time** (``StoreCollector``): jobs by state,
  sites up, placements made, preemptions and migrations, accelerators held and utilization per
  pool, queue wait (a histogram over every job that started), and PF16-hours, energy, carbon and
  cost delivered (ended placements as billed, running ones metered up to now). Every replica reads
  the same store, so every replica reports the same values; counters only grow because the rows
  they count are never deleted.
- **Process figures** (``ProcessMetrics``): the scheduler cycle's duration (only the leader runs
  cycles) and API request latency by route template. Each replica keeps its own; Prometheus
  labels them by ``instance`` and a query sums or takes quantiles across replicas.

Rates ("carbon per hour", "cost per hour") are Prometheus queries over the counters, e.g.
``rate(suanli_carbon_kg_total[1h]) * 3600``; docs/grafana-dashboard.json draws them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from suanli.services.platform import Platform

# queue wait buckets (seconds): a second to a week
WAIT_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0, 7 * 24 * 3600.0)
CYCLE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


@dataclass
class ProcessMetrics:
    """This process's registry: its own histograms, plus the store collector once bound."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))
    cycle_seconds: Histogram = field(init=False)
    request_seconds: Histogram = field(init=False)
    _store_bound: bool = False

    def __post_init__(self) -> None:
        self.cycle_seconds = Histogram("suanli_scheduler_cycle_seconds",
                                       "Duration of one scheduling cycle (leader only).",
                                       buckets=CYCLE_BUCKETS, registry=self.registry)
        self.request_seconds = Histogram("suanli_http_request_duration_seconds",
                                         "API request latency by method, route template and status.",
                                         ["method", "route", "status"], buckets=REQUEST_BUCKETS,
                                         registry=self.registry)

    def bind_store(self, p: Platform) -> None:
        """Add the platform figures (once per process)."""
        if not self._store_bound:
            self.registry.register(StoreCollector(p))
            self._store_bound = True


def exposition(p: Platform) -> bytes:
    """The Prometheus text of this process and of the platform."""
    p.metrics.bind_store(p)
    return generate_latest(p.metrics.registry)


class StoreCollector(Collector):
    """The platform figures, read in one read-only unit of work per scrape."""

    def __init__(self, p: Platform) -> None:
        self.p = p

    def describe(self) -> list[Metric]:
        return []          # no store read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        from suanli.services.usage import meter  # usage imports the platform, which imports this

        p = self.p
        now = p.now()
        with p.read() as uow:
            counts = uow.jobs.count_by_state()
            sites = uow.federation.sites()
            pools = uow.federation.pools()
            held = uow.jobs.held_by_pool()
            made = uow.jobs.count_placements()
            preempted, migrated = uow.audit.count_preemptions()
            under, wait_sum, waited = uow.jobs.wait_histogram(WAIT_BUCKETS)
            totals = uow.jobs.ended_usage_totals()
            for row in uow.jobs.live_usage_rows():
                figures = meter(p, uow, row, now)
                for k in totals:
                    totals[k] += figures[k]

        jobs = GaugeMetricFamily("suanli_jobs", "Jobs by state.", labels=["state"])
        for state, n in sorted(counts.items()):
            jobs.add_metric([state], n)
        yield jobs
        up = GaugeMetricFamily("suanli_site_up", "1 if the site's agent holds its lease.", labels=["site"])
        for s in sites:
            up.add_metric([s["name"]], int(s["health"] == "up"))
        yield up
        yield CounterMetricFamily("suanli_placements", "Placements the scheduler made.", value=made)
        yield CounterMetricFamily("suanli_preemptions", "Running jobs preempted for other work.", value=preempted)
        yield CounterMetricFamily("suanli_migrations", "Running jobs moved to a pool that finishes them sooner.",
                                  value=migrated)
        yield from _pool_figures(pools, held)
        wait = HistogramMetricFamily("suanli_queue_wait_seconds",
                                     "Time from submission to first start, over every job that started.")
        buckets = [(_le(b), float(n)) for b, n in zip(WAIT_BUCKETS, under, strict=True)] + [("+Inf", float(waited))]
        wait.add_metric([], buckets, sum_value=wait_sum)
        yield wait
        for name, what, key in (("suanli_pf16_hours", "PF16-hours delivered.", "pf16h"),
                                ("suanli_energy_kwh", "Energy used, PUE included (kWh).", "energy_kwh"),
                                ("suanli_carbon_kg", "Carbon emitted (kg CO2).", "carbon_kg"),
                                ("suanli_cost", "Cost of the work run, in the platform's currency.", "cost")):
            yield CounterMetricFamily(name, what, value=float(totals[key]))


def _pool_figures(pools: list[dict[str, object]], held: dict[tuple[str, str], int]) -> Iterator[Metric]:
    total = GaugeMetricFamily("suanli_pool_accelerators", "Accelerators a pool has (the engine's count "
                              "where it reports one, else the declared one).", labels=["site", "pool"])
    used = GaugeMetricFamily("suanli_pool_accelerators_held", "Accelerators held by suanli's placements.",
                             labels=["site", "pool"])
    util = GaugeMetricFamily("suanli_pool_utilization", "Held / total accelerators of a pool.",
                             labels=["site", "pool"])
    for pool in pools:
        site, name = str(pool["site"]), str(pool["name"])
        observed = pool["observed_total"]
        n = int(observed) if observed is not None else int(pool["per_node"]) * int(pool["nodes"])  # type: ignore[call-overload]
        h = held.get((site, name), 0)
        total.add_metric([site, name], n)
        used.add_metric([site, name], h)
        util.add_metric([site, name], h / n if n else 0.0)
    yield from (total, used, util)


def _le(bound: float) -> str:
    return repr(float(bound))
