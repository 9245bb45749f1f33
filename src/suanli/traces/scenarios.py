"""Packaged synthetic scenarios: a federation and a job stream for scale runs, generated from a
seed (no large file ships). Registered by name in ``SCENARIOS``; ``suanli bench replay --trace
synthetic --scenario NAME`` replays one.

``national`` (about 200 sites, 20,000 pools, 1,000,000 jobs, over 20,000 PFLOPS FP16; for scale,
Shanghai's municipal scheduling platform was reported to manage nearly 20,000 PFLOPS in January
2026): the regions, links and carbon of a base federation (the packaged
``east-data-west-compute``), and ``sites`` sites spread round-robin over its regions, each with
``pools_per_site`` pools. A pool's chip is drawn from the base federation's chips weighted by
their count there; a pool is one node of 4 chips (70%), one of 8 (28%) or eight of 8 (2%; they
take the trace's 64-chip gang jobs). Site PUE, green share and price are drawn around the base's ranges.
Jobs: the ``synthetic`` reader's MSR-ITP-shaped stream, with the arrival rate set so that the
offered load is about ``load`` of the capacity (``offered_load`` is printed by ``suanli simulate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanli.domain.federation import Federation, Pool, Site, Tier
from suanli.domain.registry import Registry
from suanli.traces.base import Trace, TraceOptions
from suanli.traces.enrich import enrich
from suanli.traces.msr_shaped import REFERENCE, SIZES, generate

SHAPES = ((4, 1), (8, 1), (8, 8))     # (chips per node, nodes) of a pool
SHAPE_SHARES = (0.7, 0.28, 0.02)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    base_federation: str
    sites: int
    pools_per_site: int
    jobs: int
    load: float = 0.7
    tenants: int = 200

    def federation(self, base: Federation, seed: int) -> Federation:
        """The scenario's federation over ``base``'s regions and links, drawn from ``seed``."""
        rng = np.random.default_rng([seed, 7])
        chips = [p.accelerator for s in base.sites for p in s.pools]
        weights = np.asarray([p.capacity for s in base.sites for p in s.pools], dtype=float)
        weights /= weights.sum()
        regions = base.region_names()
        tiers = (Tier.HUB, Tier.CITY, Tier.EDGE)
        sites = []
        for s in range(self.sites):
            picks = rng.choice(len(chips), size=self.pools_per_site, p=weights)
            shapes = rng.choice(len(SHAPES), size=self.pools_per_site, p=SHAPE_SHARES)
            pools = tuple(Pool(name=f"p{j:03d}", accelerator=chips[int(picks[j])], per_node=SHAPES[int(shapes[j])][0],
                               nodes=SHAPES[int(shapes[j])][1])
                          for j in range(self.pools_per_site))
            sites.append(Site(name=f"site{s:03d}", region=regions[s % len(regions)], tier=tiers[s % 3],
                              pue=round(float(rng.uniform(1.15, 1.45)), 3),
                              green_share=round(float(rng.uniform(0.0, 0.6)), 3),
                              price_per_pf16h=round(float(rng.uniform(6.0, 16.0)), 3), pools=pools))
        return Federation(name=self.name, regions=base.regions, links=base.links, sites=tuple(sites),
                          tenants=(), default_bandwidth_gbps=base.default_bandwidth_gbps,
                          default_rtt_ms=base.default_rtt_ms)

    def trace(self, fed: Federation, options: TraceOptions) -> Trace:
        """``jobs`` (or ``options.limit``) MSR-ITP-shaped jobs arriving at the rate that offers
        about ``load`` of ``fed``'s accelerators (durations on the reference chip, which is slower
        than most of the federation's, so the load on the federation is lower)."""
        n = self.jobs if options.limit is None else min(self.jobs, options.limit)
        rate = arrival_rate_per_hour(sum(s.capacity for s in fed.sites), self.load)
        raws = generate(n, rate, self.tenants, np.random.default_rng([options.seed, 1]))
        return Trace(name=f"synthetic:{self.name}", source="<generated>", jobs=enrich(raws, options, REFERENCE),
                     notes=(f"scenario {self.name}: {n} jobs at {rate:.0f} per hour",))


def arrival_rate_per_hour(chips: int, load: float) -> float:
    """Jobs per hour whose mean chip-seconds (the MSR size mix, lognormal durations floored at
    600 s, ignoring the floor) are ``load`` of ``chips`` chips."""
    total = sum(share for _, share, _, _ in SIZES)
    chip_s = sum(share / total * gpus * float(np.exp(mu + sigma * sigma / 2.0)) for gpus, share, mu, sigma in SIZES)
    return load * chips * 3600.0 / chip_s


SCENARIOS: Registry[Scenario] = Registry("scenario")
SCENARIOS.add("national", Scenario(
    name="national", description="about 200 sites, 20,000 pools, 1,000,000 jobs, over 20,000 PFLOPS FP16",
    base_federation="east-data-west-compute", sites=200, pools_per_site=100, jobs=1_000_000))

