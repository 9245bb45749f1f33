"""The static columns of a federation: one row per pool, built once and shared by every cycle.

Region-to-region matrices (RTT ms, bandwidth Gbit/s, egress price per GB) are indexed by the
region index of the table. Per-chip run-time ratios are cached per (reference chip, intensity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suanli.domain.accelerators import Accelerator, Catalog, default_catalog
from suanli.domain.federation import Federation
from suanli.domain.jobs import Job
from suanli.scheduling.types import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class PoolTable:
    federation: Federation
    catalog: Catalog
    site_names: tuple[str, ...]
    pool_names: tuple[str, ...]
    regions: tuple[str, ...]
    accelerators: tuple[Accelerator, ...]   # per pool
    site_of: IntArray
    region_of: IntArray
    tier_of: tuple[str, ...]
    capacity: IntArray
    per_node: IntArray
    memory_gb: FloatArray
    fp16_tflops: FloatArray
    bw_gbps: FloatArray
    tdp_w: FloatArray
    price: FloatArray
    pue: FloatArray
    green: FloatArray
    carbon_g: FloatArray
    rtt_ms: FloatArray        # [R, R]
    bandwidth_gbps: FloatArray  # [R, R]
    egress_per_gb: FloatArray   # [R, R]
    _cache: dict[object, object] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.pool_names)

    def region_index(self, name: str) -> int:
        return self.regions.index(name)

    def label(self, pool: int) -> str:
        return f"{self.site_names[self.site_of[pool]]}/{self.pool_names[pool]}"

    def model_mask(self, models: tuple[str, ...]) -> BoolArray:
        """Pools whose accelerator is one of ``models`` (ids or aliases)."""
        key = ("models", models)
        hit = self._cache.get(key)
        if hit is None:
            ids = {self.catalog.get(m).id for m in models}
            hit = np.fromiter((a.id in ids for a in self.accelerators), dtype=bool, count=self.n)
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    def region_mask(self, regions: tuple[str, ...]) -> BoolArray:
        key = ("regions", regions)
        hit = self._cache.get(key)
        if hit is None:
            idx = [self.regions.index(r) for r in regions if r in self.regions]
            hit = np.isin(self.region_of, idx)
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    def effective_tflops(self, intensity: float) -> FloatArray:
        """Roofline-attainable TFLOPS per pool chip for work of this intensity."""
        key = ("eff", intensity)
        hit = self._cache.get(key)
        if hit is None:
            hit = np.minimum(self.fp16_tflops, intensity * self.bw_gbps / 1000.0)
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    def slowdown(self, reference: str, intensity: float) -> FloatArray:
        """Run time on each pool's chip divided by run time on ``reference``."""
        key = ("slow", reference, intensity)
        hit = self._cache.get(key)
        if hit is None:
            ref = self.catalog.get(reference)
            ref_eff = min(ref.fp16_tflops, intensity * ref.memory_bw_gbps / 1000.0)
            hit = ref_eff / self.effective_tflops(intensity)
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    def data_rows(self, data_region: int) -> tuple[tuple[FloatArray, FloatArray], FloatArray]:
        """Per pool, for data in ``data_region``: ((seconds per GB, fixed seconds), egress per GB).
        Staging ``size`` GB takes ``size x s_per_gb + fixed_s``: size / bandwidth + RTT, and
        nothing where the data already is."""
        key = ("data", data_region)
        hit = self._cache.get(key)
        if hit is None:
            same = self.region_of == data_region
            per_gb = np.where(same, 0.0, 8.0 / self.bandwidth_gbps[data_region, self.region_of])
            fixed = np.where(same, 0.0, self.rtt_ms[data_region, self.region_of] / 1000.0)
            egress = np.where(same, 0.0, self.egress_per_gb[data_region, self.region_of])
            hit = ((per_gb, fixed), egress)
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    def staging_at(self, job: Job, pool: int) -> float:
        """Seconds to stage ``job``'s data to one pool: its slowest input, as ``data_rows``."""
        out = 0.0
        for d in job.data:
            if d.region in self.regions and d.size_gb > 0:
                (per_gb, fixed), _ = self.data_rows(self.region_index(d.region))
                out = max(out, float(d.size_gb * per_gb[pool] + fixed[pool]))
        return out

    def staging_s(self, data_region: int, size_gb: float) -> FloatArray:
        """Seconds to move ``size_gb`` from ``data_region`` to each pool's region."""
        (per_gb, fixed), _ = self.data_rows(data_region)
        if size_gb <= 0:
            return self.zeros
        out: FloatArray = size_gb * per_gb + fixed
        return out

    def rtt_s_from(self, region: int) -> FloatArray:
        """Round-trip seconds from ``region`` to each pool's region."""
        key = ("rtt", region)
        hit = self._cache.get(key)
        if hit is None:
            hit = self.rtt_ms[region, self.region_of] / 1000.0
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    @property
    def zeros(self) -> FloatArray:
        hit = self._cache.get("zeros")
        if hit is None:
            hit = np.zeros(self.n)
            hit.setflags(write=False)
            self._cache["zeros"] = hit
        return hit  # type: ignore[return-value]

    def packing_offset(self, gpus: int) -> FloatArray:
        """100 + gpus x 100 / capacity per pool (cached per size): the packing score's offset."""
        key = ("packing", gpus)
        hit = self._cache.get(key)
        if hit is None:
            hit = 100.0 + gpus * self.inv_capacity_pct
            self._cache[key] = hit
        return hit  # type: ignore[return-value]

    @property
    def inv_capacity_pct(self) -> FloatArray:
        """100 / capacity per pool: turns a count of accelerators into a percent of the pool."""
        hit = self._cache.get("inv_capacity_pct")
        if hit is None:
            hit = 100.0 / np.maximum(self.capacity, 1)
            self._cache["inv_capacity_pct"] = hit
        return hit  # type: ignore[return-value]


def build_pool_table(fed: Federation, catalog: Catalog | None = None) -> PoolTable:
    catalog = catalog or default_catalog()
    regions = tuple(fed.region_names())
    r_index = {r: i for i, r in enumerate(regions)}
    rows = [(si, s, p) for si, s in enumerate(fed.sites) for p in s.pools]
    nreg = len(regions)
    rtt = np.zeros((nreg, nreg))
    bw = np.zeros((nreg, nreg))
    egress = np.zeros((nreg, nreg))
    for a in regions:
        for b in regions:
            link = fed.link(a, b)
            rtt[r_index[a], r_index[b]] = link.rtt_ms
            bw[r_index[a], r_index[b]] = link.bandwidth_gbps
            egress[r_index[a], r_index[b]] = link.egress_per_gb

    def col(values: list[float]) -> FloatArray:
        return np.asarray(values, dtype=np.float64)

    return PoolTable(
        federation=fed,
        catalog=catalog,
        site_names=tuple(s.name for s in fed.sites),
        pool_names=tuple(p.name for _, _, p in rows),
        regions=regions,
        accelerators=tuple(p.accelerator for _, _, p in rows),
        site_of=np.asarray([si for si, _, _ in rows], dtype=np.int64),
        region_of=np.asarray([r_index[s.region] for _, s, _ in rows], dtype=np.int64),
        tier_of=tuple(s.tier.value for _, s, _ in rows),
        capacity=np.asarray([p.capacity for _, _, p in rows], dtype=np.int64),
        per_node=np.asarray([p.per_node for _, _, p in rows], dtype=np.int64),
        memory_gb=col([p.accelerator.memory_gb for _, _, p in rows]),
        fp16_tflops=col([p.accelerator.fp16_tflops for _, _, p in rows]),
        bw_gbps=col([p.accelerator.memory_bw_gbps for _, _, p in rows]),
        tdp_w=col([p.accelerator.tdp_w for _, _, p in rows]),
        price=col([s.price_per_pf16h for _, s, _ in rows]),
        pue=col([s.pue for _, s, _ in rows]),
        green=col([s.green_share for _, s, _ in rows]),
        carbon_g=col([fed.site_carbon_g_per_kwh(s) for _, s, _ in rows]),
        rtt_ms=rtt, bandwidth_gbps=bw, egress_per_gb=egress,
    )
