"""From one ended placement's usage to its meter records: which contracts its PF16-hours are
billed under.

The placement's PF16-hours (metered when it ended) are drawn first on the tenant's spot trades of
its grade and region (preemptible jobs only, in trade order, up to what each trade has left), then
on the tenant's open reservations there (``reserved.draw``), and the rest is on-demand; a placement
with nothing drawn still gets its (maybe zero) on-demand record. A placement ``lost`` because its
site lost its agent is the site's fault: its records carry the SLA flag (credited back).

Pure: the placement, its site and the trades are rows (mappings) read by the caller, and the
trades' use and the reservations' states are updated in the dicts the caller passes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from suanli.market.catalog import Term, product_class_of
from suanli.market.invoice import MeterRecord
from suanli.market.money import quantity_from_float
from suanli.market.reserved import ReservationState, draw


def placement_records(grade: str, row: Mapping[str, Any], site: Mapping[str, Any],
                      trades: Mapping[str, Mapping[str, Any]], used: dict[str, Decimal],
                      states: dict[str, ReservationState], now: float) -> list[MeterRecord]:
    """The meter records of one ended placement (see the module docstring). Draws on ``used``
    (spot quantity used per trade id) and ``states`` (reservation states by id) in place."""
    tenant, region, start = row["tenant"], site.get("region", ""), float(row["started_at"])
    seconds = max(0.0, float(row["ended_at"]) - start)
    left = quantity_from_float(float(row["pf16h"] or 0.0))
    spec = json.loads(row["spec"] or "{}")
    base = {"job": row["job_id"], "tenant": tenant, "provider": site.get("provider", ""), "site": row["site"],
            "grade": grade, "region": region, "start": start, "seconds": seconds,
            "product_class": product_class_of(row["job_class"]), "sla_failed": row["state"] == "lost"}
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
                out.append(MeterRecord(id=f"{row['id']}:spot:{tid}", pf16h=take, term=Term.SPOT, contract=tid,
                                       **base))
    for rid, s in list(states.items()):
        c = s.contract
        if left <= 0:
            break
        if c.tenant != tenant or c.grade != grade or c.region != region or c.end <= now:
            continue        # another tenant's, another book, or settled (its unused part is charged)
        d = draw(s, left, start)
        if d.covered > 0:
            states[rid] = d.state
            left = d.overflow
            out.append(MeterRecord(id=f"{row['id']}:reserved:{rid}", pf16h=d.covered, term=Term.RESERVED,
                                   contract=rid, **base))
    if left > 0 or not out:
        out.append(MeterRecord(id=f"{row['id']}:on-demand", pf16h=left, **base))
    return out
