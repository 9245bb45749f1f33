"""The policy report: how the platform stands against the green and scale targets of the policy
behind suanli, from figures it observed. Pure: the live platform (services/compliance.py) and the
simulator build the same ``WorkRun`` values and call ``compliance_report``.

The figures and their formulas (docs/green.md):

- ``infrastructures_up``: connected compute infrastructures (sites) that are up. Target >= 4.
- ``schedulable_pflops_fp16`` / ``_fp32``: capacity of the sites that are up, each pool at the
  smaller of its declared size and what its engine reports. Target (FP16) >= 1,000 PFLOPS.
- ``green_share``: green energy / all energy of the work run, where a site's green energy is its
  energy x its ``green_share``. Target > 10%.
- ``hub_pue``: energy-weighted PUE of the work run in hub sites = facility energy / IT energy
  (IT energy = facility energy / PUE). Target <= 1.25 ("in the large hub clusters"). ``pue`` is
  the same over every tier, shown without a target.
- ``pf16h_by_tier``: PF16-hours delivered in hub, city and edge sites.
- ``outside_home_share``: the share of the jobs that ran where at least one placement was outside
  the tenant's home region (tenants without a home region are not counted).

A figure with nothing to measure (no energy yet) is ``None`` and neither passes nor fails.
Ratios are judged with a tolerance of 1e-9: work all at a 10%-green site is not "more than 10%"
green, and work all at PUE 1.25 is "at most 1.25", whatever the float division gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Targets:
    min_infrastructures: int = 4
    min_pflops_fp16: float = 1000.0
    min_green_share: float = 0.10      # exclusive: "more than 10%"
    max_hub_pue: float = 1.25


@dataclass(frozen=True)
class WorkRun:
    """One placement's run (or the part of it inside the report's time range)."""

    job_id: str
    tier: str
    energy_kwh: float          # facility energy, PUE included
    pue: float
    green_share: float
    pf16h: float
    outside_home: bool | None  # None: the tenant has no home region


@dataclass(frozen=True)
class Totals:
    """Sums over work runs: what a report needs, and what the history keeps cumulatively."""

    energy_kwh: float = 0.0
    green_kwh: float = 0.0
    it_kwh: float = 0.0
    hub_energy_kwh: float = 0.0
    hub_it_kwh: float = 0.0
    pf16h_by_tier: dict[str, float] = field(default_factory=dict)
    jobs_with_home: int = 0
    jobs_outside_home: int = 0


def totals(work: Iterable[WorkRun]) -> Totals:
    energy = green = it = hub_e = hub_it = 0.0
    by_tier: dict[str, float] = {"hub": 0.0, "city": 0.0, "edge": 0.0}
    outside: dict[str, bool] = {}
    for w in work:
        energy += w.energy_kwh
        green += w.energy_kwh * w.green_share
        it_part = w.energy_kwh / w.pue if w.pue > 0 else 0.0
        it += it_part
        if w.tier == "hub":
            hub_e += w.energy_kwh
            hub_it += it_part
        by_tier[w.tier] = by_tier.get(w.tier, 0.0) + w.pf16h
        if w.outside_home is not None:
            outside[w.job_id] = outside.get(w.job_id, False) or w.outside_home
    return Totals(energy, green, it, hub_e, hub_it, by_tier, len(outside), sum(outside.values()))


TOLERANCE = 1e-9


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _figure(name: str, value: float | None, target: str | None, ok: bool | None, unit: str = "") -> dict[str, object]:
    return {"name": name, "value": None if value is None else round(value, 6), "unit": unit, "target": target,
            "ok": ok}


def compliance_report(infrastructures_up: int, pflops_fp16: float, pflops_fp32: float, t: Totals,
                      targets: Targets = Targets()) -> dict[str, object]:
    """Each figure beside its target with ``ok`` true (pass) or false (fail); ``None``: nothing to judge
    yet, or no target."""
    green = _ratio(t.green_kwh, t.energy_kwh)
    hub_pue = _ratio(t.hub_energy_kwh, t.hub_it_kwh)
    figures = [
        _figure("infrastructures_up", infrastructures_up, f">= {targets.min_infrastructures}",
                infrastructures_up >= targets.min_infrastructures),
        _figure("schedulable_pflops_fp16", pflops_fp16, f">= {targets.min_pflops_fp16:g}",
                pflops_fp16 >= targets.min_pflops_fp16, "PFLOPS"),
        _figure("schedulable_pflops_fp32", pflops_fp32, None, None, "PFLOPS"),
        _figure("green_share", green, f"> {targets.min_green_share:g}",
                None if green is None else green > targets.min_green_share + TOLERANCE),
        _figure("hub_pue", hub_pue, f"<= {targets.max_hub_pue:g}",
                None if hub_pue is None else hub_pue <= targets.max_hub_pue + TOLERANCE),
        _figure("pue", _ratio(t.energy_kwh, t.it_kwh), None, None),
        _figure("outside_home_share", _ratio(t.jobs_outside_home, t.jobs_with_home), None, None),
    ]
    judged = [f["ok"] for f in figures if f["ok"] is not None]
    return {"figures": figures, "pf16h_by_tier": {k: round(v, 6) for k, v in sorted(t.pf16h_by_tier.items())},
            "energy_kwh": round(t.energy_kwh, 6), "passed": sum(bool(j) for j in judged), "judged": len(judged)}
