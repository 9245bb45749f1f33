"""The compliance report of the live platform and its history.

- ``compliance(p, caller, since, until)``: the policy figures (metering/compliance.py) over the
  work run in ``[since, until]`` (each placement counted for the part of its run inside the range,
  running ones up to now), with the infrastructures and schedulable capacity as they are now.
- ``record_history(p, now)``: the scheduler leader's step that writes one sample every
  ``SUANLI_HISTORY_S`` seconds (default 60) and prunes samples older than
  ``SUANLI_HISTORY_DAYS`` (default 90).
- ``history(p, caller, since, until)``: the samples as time series for plots (the dashboard, and
  the compliance figures over time).

A sample holds: the infrastructures up and schedulable PFLOPS; cumulative totals of the work run
(energy, green and IT energy, PF16-hours by tier, jobs in/outside their home region), so any two
samples give the figures of the time between them; utilization per tier; the queue; and each
site's carbon intensity and price per PF16-hour as the platform used them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from suanli.domain.errors import InvalidInput
from suanli.metering.compliance import Targets, Totals, WorkRun, compliance_report, totals
from suanli.services.access import require
from suanli.services.federation import load_domain_federation, schedulable_now
from suanli.services.platform import Caller, Platform
from suanli.services.usage import meter
from suanli.store.history import HistoryRepo  # noqa: F401  (registers uow.history)
from suanli.store.uow import UnitOfWork

TARGETS = Targets()
MAX_POINTS = 2000


def _range(p: Platform, since: float | None, until: float | None) -> tuple[float, float]:
    now = p.now()
    lo, hi = (0.0 if since is None else since), (now if until is None else min(until, now))
    if lo > hi:
        raise InvalidInput(f"is after until = {hi}", field="since", value=since,
                           fix="give since <= until, both in Unix seconds")
    return lo, hi


def _work(p: Platform, uow: UnitOfWork, since: float, until: float) -> list[WorkRun]:
    """The part of every placement's run inside ``[since, until]``."""
    sites = {s["name"]: s for s in uow.federation.sites()}
    regions = {s["name"]: s["region"] for s in sites.values()}
    home = {t["name"]: t["home_region"] for t in uow.tenancy.tenants()}
    out = []
    for row in uow.jobs.usage_rows():
        start, end = max(row["started_at"], since), min(row["ended_at"] or until, until)
        if end <= start:
            continue
        site = sites.get(row["site"], {})
        figures = meter(p, uow, {**row, "started_at": start}, end)
        tenant_home = home.get(row["tenant"])
        out.append(WorkRun(job_id=row["job_id"], tier=site.get("tier", "hub"), energy_kwh=figures["energy_kwh"],
                           pue=site.get("pue", 1.0), green_share=site.get("green_share", 0.0),
                           pf16h=figures["pf16h"],
                           outside_home=None if not tenant_home else regions.get(row["site"]) != tenant_home))
    return out


def _capacity(p: Platform, uow: UnitOfWork) -> tuple[int, float, float]:
    fed, _, _ = load_domain_federation(p, uow)
    up, cap = schedulable_now(p, uow, fed)
    return len(up), cap.pflops_fp16, cap.pflops_fp32


def compliance(p: Platform, caller: Caller, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    require(caller, "operator")
    lo, hi = _range(p, since, until)
    with p.read() as uow:
        up, fp16, fp32 = _capacity(p, uow)
        work = totals(_work(p, uow, lo, hi))
    return {"since": lo, "until": hi, "at": p.now(), **compliance_report(up, fp16, fp32, work, TARGETS)}


# -- the history ----------------------------------------------------------------------------------
def sample(p: Platform, uow: UnitOfWork, now: float) -> dict[str, Any]:
    up, fp16, fp32 = _capacity(p, uow)
    work = totals(_work(p, uow, 0.0, now))
    sites = uow.federation.sites()
    regions = {r["name"]: r for r in uow.federation.regions()}
    tier_of = {s["name"]: s["tier"] for s in sites}
    size: dict[str, int] = {}
    for pool in uow.federation.pools():
        n = pool["per_node"] * pool["nodes"]
        size[tier_of[pool["site"]]] = size.get(tier_of[pool["site"]], 0) + n
    held: dict[str, int] = {}
    for (site, _), n in uow.jobs.held_by_pool().items():
        held[tier_of.get(site, "hub")] = held.get(tier_of.get(site, "hub"), 0) + n
    counts = uow.jobs.count_by_state()
    return {
        "infrastructures_up": up, "pflops_fp16": round(fp16, 6), "pflops_fp32": round(fp32, 6),
        "totals": asdict(work),
        "utilization_by_tier": {t: round(held.get(t, 0) / n, 6) if n else 0.0 for t, n in sorted(size.items())},
        "queue": {"pending": counts.get("pending", 0), "running": counts.get("running", 0)},
        "sites": {s["name"]: {"carbon_g_per_kwh": s["carbon_g_per_kwh"] if s["carbon_g_per_kwh"] is not None
                              else regions.get(s["region"], {}).get("carbon_g_per_kwh"),
                              "price_per_pf16h": float(s["price_per_pf16h"])} for s in sites},
    }


def record_history(p: Platform, now: float) -> bool:
    """Write a sample if the last one is ``history_s`` old (the leader's loop calls this every
    cycle); prune what is past the retention. True if a sample was written."""
    with p.uow() as uow:
        last = uow.history.last_at()
        if last is not None and now - last < p.settings.history_s:
            return False
        uow.history.add(now, sample(p, uow, now))
        uow.history.prune(now - p.settings.history_days * 86400)
    return True


def history(p: Platform, caller: Caller, since: float | None = None, until: float | None = None,
            limit: int = MAX_POINTS) -> dict[str, Any]:
    """The samples in the range as series: each point has its time, the compliance figures of the
    time since the point before (green share, hub PUE), PF16-hours per hour over that time, and
    the sample's own utilization, queue and site figures."""
    require(caller, "operator")
    lo, hi = _range(p, since, until)
    with p.read() as uow:
        samples = uow.history.between(lo, hi, limit)
    points = []
    prev: dict[str, Any] | None = None
    for s in samples:
        t = Totals(**s["totals"])
        point = {k: s[k] for k in ("at", "infrastructures_up", "pflops_fp16", "pflops_fp32",
                                   "utilization_by_tier", "queue", "sites")}
        point.update(_between(prev, s, t))
        points.append(point)
        prev = {"at": s["at"], "totals": t}
    return {"since": lo, "until": hi, "targets": asdict(TARGETS), "points": points}


def _between(prev: dict[str, Any] | None, s: dict[str, Any], t: Totals) -> dict[str, Any]:
    if prev is None:
        return {"green_share": None, "hub_pue": None, "pf16h_per_hour": None}
    a: Totals = prev["totals"]
    hours = (s["at"] - prev["at"]) / 3600
    energy, green = t.energy_kwh - a.energy_kwh, t.green_kwh - a.green_kwh
    hub_e, hub_it = t.hub_energy_kwh - a.hub_energy_kwh, t.hub_it_kwh - a.hub_it_kwh
    pf = sum(t.pf16h_by_tier.values()) - sum(a.pf16h_by_tier.values())
    return {"green_share": round(green / energy, 6) if energy > 1e-12 else None,
            "hub_pue": round(hub_e / hub_it, 6) if hub_it > 1e-12 else None,
            "pf16h_per_hour": round(pf / hours, 6) if hours > 0 else None}
