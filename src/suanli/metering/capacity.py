"""Capacity summaries in PFLOPS (FP16 and FP32) per site, region, tier and in total; and the
schedulable capacity: only sites that are up, each pool at the smaller of what was declared and
what its engine reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from suanli.domain.federation import Federation
from suanli.domain.units import pflops


@dataclass(frozen=True)
class Capacity:
    accelerators: int = 0
    pflops_fp16: float = 0.0
    pflops_fp32: float = 0.0

    def __add__(self, other: Capacity) -> Capacity:
        return Capacity(self.accelerators + other.accelerators, self.pflops_fp16 + other.pflops_fp16,
                        self.pflops_fp32 + other.pflops_fp32)

    def as_dict(self) -> dict[str, float]:
        return {"accelerators": self.accelerators, "pflops_fp16": round(self.pflops_fp16, 6),
                "pflops_fp32": round(self.pflops_fp32, 6)}


@dataclass(frozen=True)
class CapacitySummary:
    total: Capacity
    by_site: dict[str, Capacity] = field(default_factory=dict)
    by_region: dict[str, Capacity] = field(default_factory=dict)
    by_tier: dict[str, Capacity] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total.as_dict(),
            "by_site": {k: v.as_dict() for k, v in self.by_site.items()},
            "by_region": {k: v.as_dict() for k, v in self.by_region.items()},
            "by_tier": {k: v.as_dict() for k, v in self.by_tier.items()},
        }


def schedulable_capacity(fed: Federation, up: set[str], observed: Mapping[tuple[str, str], int]) -> Capacity:
    """Capacity of the sites in ``up``; a pool counts ``min(declared, observed[(site, pool)])``
    accelerators where its engine reported a total."""
    total = Capacity()
    for site in fed.sites:
        if site.name not in up:
            continue
        for pool in site.pools:
            n = min(pool.capacity, observed.get((site.name, pool.name), pool.capacity))
            total = total + Capacity(n, pflops(pool.accelerator.fp16_tflops, n), pflops(pool.accelerator.fp32_tflops, n))
    return total


def capacity_summary(fed: Federation) -> CapacitySummary:
    by_site: dict[str, Capacity] = {}
    by_region: dict[str, Capacity] = defaultdict(Capacity)
    by_tier: dict[str, Capacity] = defaultdict(Capacity)
    total = Capacity()
    for site in fed.sites:
        cap = Capacity()
        for pool in site.pools:
            n = pool.capacity
            cap = cap + Capacity(n, pflops(pool.accelerator.fp16_tflops, n), pflops(pool.accelerator.fp32_tflops, n))
        by_site[site.name] = cap
        by_region[site.region] = by_region[site.region] + cap
        by_tier[site.tier.value] = by_tier[site.tier.value] + cap
        total = total + cap
    return CapacitySummary(total=total, by_site=by_site, by_region=dict(by_region), by_tier=dict(by_tier))
