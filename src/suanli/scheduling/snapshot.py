"""Building a ``Snapshot`` from plain values: what the simulator and the live loop both call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from suanli.domain.jobs import Job
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import BoolArray, FloatArray, IntArray, RunningJob, Snapshot, TenantState


def make_snapshot(
    table: PoolTable,
    now: float,
    pending: Iterable[Job],
    running: Iterable[RunningJob] = (),
    tenants: Mapping[str, TenantState] | None = None,
    *,
    available: BoolArray | None = None,
    carbon_g_per_kwh: FloatArray | None = None,
    price_per_pf16h: FloatArray | None = None,
    class_price_per_pf16h: Mapping[str, FloatArray] | None = None,
    free: Mapping[int, int] | None = None,
    observed_total: Mapping[int, int] | None = None,
) -> Snapshot:
    """Free slots = capacity minus what running jobs hold (or the ``free`` per-pool override a
    live agent reported), never below zero. Pools of sites that are down have no free slots.
    ``observed_total``: per pool, the accelerators its engine reports (where fewer than declared,
    a capacity refusal says so)."""
    running = tuple(running)
    free_arr = table.capacity.copy()
    for r in running:
        free_arr[r.pool] -= r.count
    if free:
        for pool, n in free.items():
            free_arr[pool] = min(free_arr[pool], n)
    np.maximum(free_arr, 0, out=free_arr)
    if available is not None:
        free_arr[~available] = 0
    return Snapshot(
        table=table, now=float(now), free=free_arr, pending=tuple(pending), running=running,
        tenants=dict(tenants or {}), available=available,
        carbon_g_per_kwh=carbon_g_per_kwh, price_per_pf16h=price_per_pf16h,
        class_price_per_pf16h=class_price_per_pf16h,
        observed_total=_observed(table, observed_total),
    )


def _observed(table: PoolTable, observed: Mapping[int, int] | None) -> IntArray | None:
    if not observed:
        return None
    arr = table.capacity.copy()
    for pool, n in observed.items():
        arr[pool] = n
    return arr
