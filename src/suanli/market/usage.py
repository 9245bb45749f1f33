"""From a placement's usage to its meter records: which metering periods are due, and which
contracts each period's PF16-hours are billed under.

**Periods** (``due_periods``). A placement is metered in periods of ``period_s`` seconds (an hour on
the platform) counted from its start: period ``n`` covers ``[start + n*period_s, start +
(n+1)*period_s)``, and the last one of an ended placement stops at its end. While it runs, every
complete period is due; when it ends, the rest is due, the partial last period included. ``done``
periods are already billed and are never offered again. The periods of a placement neither
overlap nor leave gaps, and their PF16-hours are differences of the *rounded* cumulative PF16-hours
at their bounds, so they add up exactly to the placement's rounded total.

**Contracts** (``placement_records``). A period's PF16-hours are drawn first on the tenant's spot
trades of its grade and region (preemptible jobs only, in trade order, up to what each trade has
left), then on the tenant's open reservations there (``reserved.draw``), and the rest is on-demand;
a period with nothing drawn still gets its (maybe zero) on-demand record. A placement ``lost``
because its site lost its agent is the site's fault: its records carry the SLA flag (credited back).
Record ids are ``<placement>:h<n>:<term>[:<contract>]``, so a period is billed once per contract.

Pure: the placement, its site and the trades are rows (mappings) read by the caller, and the
trades' use and the reservations' states are updated in the dicts the caller passes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from math import floor
from typing import Any

from suanli.domain.units import pf16_hours
from suanli.market.catalog import Term, product_class_of
from suanli.market.invoice import MeterRecord
from suanli.market.money import quantity_from_float
from suanli.market.reserved import ReservationState, draw


@dataclass(frozen=True, slots=True)
class Period:
    """One metering period of a placement: ``seconds`` from ``start``, ``pf16h`` delivered."""

    n: int
    start: float
    seconds: float
    pf16h: Decimal


def due_periods(start: float, until: float, *, ended: bool, period_s: float, done: int, fp16_tflops: float,
                count: int, total_pf16h: float | None = None) -> list[Period]:
    """The periods of a placement that started at ``start`` not billed yet (``done`` are) and due
    at ``until`` (its end if ``ended``, else now). ``total_pf16h`` is what the placement metered
    when it ended (the last bound's PF16-hours); otherwise PF16-hours are ``pf16_hours`` of the
    seconds since ``start``. See the module docstring."""
    if period_s <= 0:
        raise ValueError("period_s must be > 0")
    elapsed = max(0.0, until - start)
    complete = floor(elapsed / period_s)
    last = complete if ended and (elapsed > complete * period_s or complete == 0) else complete - 1
    if ended and done > 0 and elapsed <= done * period_s:
        last = done - 1      # ended on (or, by a clock skew, before) a bound already billed: nothing left

    def cum(seconds: float) -> Decimal:
        if ended and seconds >= elapsed and total_pf16h is not None:
            return quantity_from_float(float(total_pf16h))
        return quantity_from_float(float(pf16_hours(fp16_tflops, count, seconds)))

    out = []
    for n in range(done, last + 1):
        lo, hi = n * period_s, min((n + 1) * period_s, elapsed) if ended else (n + 1) * period_s
        out.append(Period(n, start + lo, hi - lo, cum(hi) - cum(lo)))
    return out


def placement_records(grade: str, row: Mapping[str, Any], site: Mapping[str, Any],
                      trades: Mapping[str, Mapping[str, Any]], used: dict[str, Decimal],
                      states: dict[str, ReservationState], now: float, period: Period) -> list[MeterRecord]:
    """The meter records of one period of a placement (see the module docstring). Draws on
    ``used`` (spot quantity used per trade id) and ``states`` (reservation states by id) in place."""
    tenant, region = row["tenant"], site.get("region", "")
    left = period.pf16h
    spec = json.loads(row["spec"] or "{}")
    base = {"job": row["job_id"], "tenant": tenant, "provider": site.get("provider", ""), "site": row["site"],
            "grade": grade, "region": region, "start": period.start, "seconds": period.seconds,
            "product_class": product_class_of(row["job_class"]), "sla_failed": row["state"] == "lost"}
    prefix = f"{row['id']}:h{period.n}"
    out: list[MeterRecord] = []
    if spec.get("preemptible"):
        for tid, t in trades.items():
            if left <= 0:
                break
            if t["buyer"] != tenant or t["grade"] != grade or t["region"] != region:
                continue
            take = min(left, Decimal(t["qty"]) - used[tid])
            if take > 0:
                used[tid] += take
                left -= take
                out.append(MeterRecord(id=f"{prefix}:spot:{tid}", pf16h=take, term=Term.SPOT, contract=tid, **base))
    for rid, s in list(states.items()):
        c = s.contract
        if left <= 0:
            break
        if c.tenant != tenant or c.grade != grade or c.region != region or c.end <= now:
            continue        # another tenant's, another book, or settled (its unused part is charged)
        d = draw(s, left, period.start)
        if d.covered > 0:
            states[rid] = d.state
            left = d.overflow
            out.append(MeterRecord(id=f"{prefix}:reserved:{rid}", pf16h=d.covered, term=Term.RESERVED,
                                   contract=rid, **base))
    if left > 0 or not out:
        out.append(MeterRecord(id=f"{prefix}:on-demand", pf16h=left, **base))
    return out
