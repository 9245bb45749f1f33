"""Seeded synthetic federations and job queues of any size, for benchmarks and property tests.

Pure: takes sizes and a numpy ``Generator``, returns domain values.
"""

from __future__ import annotations

import numpy as np

from suanli.domain.accelerators import Catalog, default_catalog
from suanli.domain.federation import Federation, Link, Pool, Region, Site, Tier
from suanli.domain.jobs import DataInput, Job, JobClass

CHIPS = ("a100-sxm4-80gb", "h800-sxm5-80gb", "h20-hgx-96gb", "ascend910b-64gb", "l20-pcie-48gb", "rtx4090-24gb")
TIERS = (Tier.HUB, Tier.CITY, Tier.EDGE)


def synthetic_federation(pools: int, rng: np.random.Generator, *, regions: int = 10, pools_per_site: int = 4,
                         catalog: Catalog | None = None) -> Federation:
    catalog = catalog or default_catalog()
    region_list = tuple(Region(f"r{i}", carbon_g_per_kwh=float(rng.uniform(100, 800))) for i in range(regions))
    links = tuple(Link(a.name, b.name, rtt_ms=float(rng.uniform(5, 60)), bandwidth_gbps=float(rng.choice([10, 40, 100])),
                       egress_per_gb=float(rng.uniform(0, 0.1)))
                  for i, a in enumerate(region_list) for b in region_list[i + 1:])
    sites = []
    n_sites = (pools + pools_per_site - 1) // pools_per_site
    made = 0
    for s in range(n_sites):
        k = min(pools_per_site, pools - made)
        made += k
        site_pools = tuple(
            Pool(name=f"p{j}", accelerator=catalog.get(str(rng.choice(CHIPS))), per_node=8,
                 nodes=int(rng.integers(1, 9)))
            for j in range(k))
        sites.append(Site(name=f"site{s}", region=region_list[s % regions].name, tier=TIERS[s % 3],
                          pue=float(rng.uniform(1.1, 1.6)), green_share=float(rng.uniform(0, 0.6)),
                          price_per_pf16h=float(rng.uniform(5, 20)), pools=site_pools))
    return Federation(name=f"synthetic-{pools}", regions=region_list, links=links, sites=tuple(sites))


def synthetic_jobs(n: int, rng: np.random.Generator, *, regions: int = 10, tenants: int = 20,
                   now: float = 0.0) -> list[Job]:
    classes = list(JobClass)
    gpus = rng.choice([1, 1, 1, 1, 2, 4, 8, 8, 16], size=n)
    durations = rng.lognormal(mean=8.5, sigma=1.2, size=n)
    out = []
    for i in range(n):
        data = (DataInput(f"r{int(rng.integers(regions))}", float(rng.uniform(0, 200))),) if rng.random() < 0.5 else ()
        out.append(Job(
            id=f"job{i}", tenant=f"t{int(rng.integers(tenants))}", job_class=classes[int(rng.integers(len(classes)))],
            gpus=int(gpus[i]), duration_s=float(max(60.0, durations[i])), data=data,
            max_price=float(rng.uniform(10, 40)) if rng.random() < 0.2 else None,
            min_memory_gb=float(rng.choice([0, 0, 0, 40, 80])), priority=int(rng.integers(0, 3)),
            preemptible=bool(rng.random() < 0.3), submit_time=now - float(rng.uniform(0, 3600)),
        ))
    return out
