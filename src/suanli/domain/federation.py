"""The federation: regions and the network between them, sites, pools, tenants and queues.

Invariants (checked by ``Federation.validate``): names are unique; every site's region is a
known region; every pool's accelerator is in the catalog; counts are positive; PUE >= 1;
green share in [0, 1]. Links are symmetric unless both directions are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from suanli.domain.accelerators import Accelerator, Catalog
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.domain.jobs import Job


class Tier(str, Enum):
    HUB = "hub"
    CITY = "city"
    EDGE = "edge"


class EngineKind(str, Enum):
    LOCAL = "local"
    SLURM = "slurm"
    RAY = "ray"
    KUBERNETES = "kubernetes"


# What a site may set in ``engine_options`` for each engine (the agent's backend reads them).
# Kubernetes has no backend yet: no API server can be had where suanli is tested.
ENGINE_OPTIONS: dict[EngineKind, tuple[str, ...]] = {
    EngineKind.LOCAL: ("hide", "sandbox", "job_user", "cgroup"),
    EngineKind.SLURM: ("partition", "account", "qos", "sbatch_flags"),
    EngineKind.RAY: ("address",),
    EngineKind.KUBERNETES: (),
}


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    grid_zone: str = ""
    carbon_g_per_kwh: float = 500.0


@dataclass(frozen=True, slots=True)
class Link:
    """The network between two regions: round-trip time, bandwidth and egress price."""

    src: str
    dst: str
    rtt_ms: float
    bandwidth_gbps: float = 10.0
    egress_per_gb: float = 0.0

    def transfer_s(self, size_gb: float) -> float:
        """Time to move ``size_gb`` over this link: size / bandwidth + RTT."""
        if size_gb <= 0:
            return 0.0
        return size_gb * 8.0 / self.bandwidth_gbps + self.rtt_ms / 1000.0


@dataclass(frozen=True, slots=True)
class Pool:
    """A homogeneous group of nodes in a site."""

    name: str
    accelerator: Accelerator
    per_node: int
    nodes: int
    cpus_per_node: int = 64
    memory_gb_per_node: float = 512.0

    @property
    def capacity(self) -> int:
        return self.per_node * self.nodes


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    region: str
    tier: Tier = Tier.HUB
    owner: str = "operator"
    engine: EngineKind = EngineKind.LOCAL
    pue: float = 1.4
    green_share: float = 0.0
    grid_zone: str = ""
    carbon_g_per_kwh: float | None = None
    price_per_pf16h: float = 10.0   # the provider's ask (before the fee): its default spot ask; tenants pay list prices
    pools: tuple[Pool, ...] = ()
    carbon_series: str | None = None
    engine_options: tuple[tuple[str, str], ...] = ()   # sorted (name, value) pairs, see ENGINE_OPTIONS

    @property
    def capacity(self) -> int:
        return sum(p.capacity for p in self.pools)


class BudgetPer(str, Enum):
    """What a budget counts over: a UTC calendar day or month (a budget without one counts all time)."""

    DAY = "day"
    MONTH = "month"


def budget_period_start(per: BudgetPer | str | None, now: float) -> float:
    """The start (seconds UTC) of the budget period that contains ``now``; 0 for all time."""
    if per is None or per == "":
        return 0.0
    t = datetime.fromtimestamp(now, tz=UTC)
    start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if BudgetPer(per) is BudgetPer.MONTH:
        start = start.replace(day=1)
    return start.timestamp()


@dataclass(frozen=True, slots=True)
class Queue:
    """A tenant's queue. Limits (None = unlimited): ``quota_pf16`` PFLOPS(FP16) held at once;
    ``budget`` money and ``budget_pf16h`` PF16-hours, each over ``budget_per`` (None = all time)."""

    name: str
    quota_pf16: float | None = None
    priority_class: int = 0
    budget: float | None = None
    budget_pf16h: float | None = None
    budget_per: BudgetPer | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant; its limits are those of ``Queue``, over all of its queues together."""

    name: str
    home_region: str | None = None
    queues: tuple[Queue, ...] = (Queue("default"),)
    quota_pf16: float | None = None
    budget: float | None = None
    weight: float = 1.0
    budget_pf16h: float | None = None
    budget_per: BudgetPer | None = None


@dataclass(frozen=True)
class Federation:
    name: str
    regions: tuple[Region, ...]
    links: tuple[Link, ...]
    sites: tuple[Site, ...]
    tenants: tuple[Tenant, ...] = ()
    default_bandwidth_gbps: float = 10.0
    default_rtt_ms: float = 50.0
    _link_index: dict[tuple[str, str], Link] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], Link] = {}
        for link in self.links:
            index.setdefault((link.dst, link.src), link)
        for link in self.links:
            index[(link.src, link.dst)] = link
        self._link_index.update(index)

    # -- look-ups ----------------------------------------------------------------------------
    def region_names(self) -> list[str]:
        return [r.name for r in self.regions]

    def region(self, name: str, *, field: str = "region") -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise UnknownName("region", name, self.region_names(), field=field)

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise UnknownName("site", name, [s.name for s in self.sites])

    def tenant(self, name: str) -> Tenant | None:
        for t in self.tenants:
            if t.name == name:
                return t
        return None

    def link(self, src: str, dst: str) -> Link:
        """The link between two regions; within a region: 1 ms RTT, 100 Gbit/s, free."""
        if src == dst:
            return Link(src, dst, rtt_ms=1.0, bandwidth_gbps=100.0, egress_per_gb=0.0)
        found = self._link_index.get((src, dst))
        if found is not None:
            return found
        return Link(src, dst, rtt_ms=self.default_rtt_ms, bandwidth_gbps=self.default_bandwidth_gbps)

    def site_carbon_g_per_kwh(self, site: Site) -> float:
        if site.carbon_g_per_kwh is not None:
            return site.carbon_g_per_kwh
        return self.region(site.region).carbon_g_per_kwh

    def max_pool_capacity(self) -> int:
        return max((p.capacity for s in self.sites for p in s.pools), default=0)

    def total_capacity(self) -> int:
        return sum(s.capacity for s in self.sites)

    # -- validation --------------------------------------------------------------------------
    def validate(self, catalog: Catalog) -> Federation:
        """Check the invariants in the module docstring; raise ``InvalidInput`` naming the field."""
        regions = set()
        for i, r in enumerate(self.regions):
            if r.name in regions:
                raise InvalidInput("duplicate region", field=f"regions[{i}].name", value=r.name,
                                   fix="give each region a unique name")
            if r.carbon_g_per_kwh < 0:
                raise InvalidInput("must not be negative", field=f"regions[{i}].carbon_g_per_kwh",
                                   value=r.carbon_g_per_kwh, fix="give grid carbon intensity in gCO2/kWh")
            regions.add(r.name)
        for i, link in enumerate(self.links):
            for end, name in (("src", link.src), ("dst", link.dst)):
                if name not in regions:
                    raise UnknownName("region", name, sorted(regions), field=f"links[{i}].{end}")
            if link.rtt_ms < 0 or link.bandwidth_gbps <= 0:
                raise InvalidInput("needs rtt_ms >= 0 and bandwidth_gbps > 0", field=f"links[{i}]",
                                   value=(link.rtt_ms, link.bandwidth_gbps), fix="give measured or estimated values")
        seen_sites: set[str] = set()
        for i, s in enumerate(self.sites):
            where = f"sites[{i}]"
            if s.name in seen_sites:
                raise InvalidInput("duplicate site", field=f"{where}.name", value=s.name,
                                   fix="give each site a unique name")
            seen_sites.add(s.name)
            if s.region not in regions:
                raise UnknownName("region", s.region, sorted(regions), field=f"{where}.region")
            if s.pue < 1.0:
                raise InvalidInput("PUE is at least 1.0", field=f"{where}.pue", value=s.pue,
                                   fix="give the facility's power usage effectiveness, e.g. 1.25")
            if not 0.0 <= s.green_share <= 1.0:
                raise InvalidInput("must be between 0 and 1", field=f"{where}.green_share", value=s.green_share,
                                   fix="give the share of green power as a fraction, e.g. 0.35")
            if s.price_per_pf16h < 0:
                raise InvalidInput("must not be negative", field=f"{where}.price_per_pf16h",
                                   value=s.price_per_pf16h, fix="give the price per PF16-hour")
            pool_names: set[str] = set()
            for j, p in enumerate(s.pools):
                pw = f"{where}.pools[{j}]"
                if p.name in pool_names:
                    raise InvalidInput("duplicate pool in site", field=f"{pw}.name", value=p.name,
                                       fix="give each pool in a site a unique name")
                pool_names.add(p.name)
                if p.per_node <= 0:
                    raise InvalidInput("must be a positive whole number", field=f"{pw}.per_node",
                                       value=p.per_node, fix="give accelerators per node, e.g. 8")
                if p.nodes <= 0:
                    raise InvalidInput("must be a positive whole number", field=f"{pw}.nodes", value=p.nodes,
                                       fix="give the number of nodes, e.g. 16")
                catalog.get(p.accelerator.id, field=f"{pw}.accelerator")
        return self

    def check_job(self, job: Job, catalog: Catalog) -> Job:
        """Check the names a job gives against this federation (unknown region or accelerator).
        Whether any pool could ever run it is ``scheduling.feasibility.check_runs``."""
        known = set(self.region_names())
        for i, d in enumerate(job.data):
            if d.region not in known:
                raise UnknownName("region", d.region, sorted(known), field=f"data[{i}].region")
        for name, fld in ((job.user_region, "user_region"),):
            if name is not None and name not in known:
                raise UnknownName("region", name, sorted(known), field=fld)
        for r in job.allowed_regions:
            if r not in known:
                raise UnknownName("region", r, sorted(known), field="allowed_regions")
        for m in job.allowed_models:
            catalog.get(m, field="allowed_models")
        catalog.get(job.reference_accelerator, field="reference_accelerator")
        return job
