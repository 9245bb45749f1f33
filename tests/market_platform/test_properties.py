"""Properties of the platform's market path under random sequences of operations (hypothesis) over
job classes, terms (on demand, spot trades, reservations) and SLA failures: the ledger sums to
zero; every ended placement's PF16-hours are billed exactly once, split over its contracts; each
invoice's total is the sum of its lines; no trade or reservation is drawn beyond its quantity;
usage's cost of every job equals what its invoice lines charged (one price), and every on-demand
line is at the list price of its job's class (read by hand off data/market/prices.yaml: nx-hub's
A100 is grade ``mid``)."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.services.billing import bill_ended
from suanli.services.market import clear_round
from suanli.store.db import sqlite_url
from tests.market_platform.helpers import D, market_world, run_job

ON_DEMAND_MID = {"train": D("28.00"), "finetune": D("28.00"), "infer": D("30.00"), "batch": D("25.00")}

OPS = st.lists(st.one_of(
    st.tuples(st.just("bid"), st.sampled_from(["tenant", "other_tenant"]), st.integers(1, 40), st.integers(5, 40)),
    st.tuples(st.just("reserve"), st.sampled_from(["tenant", "other_tenant"]), st.integers(1, 30), st.just(0)),
    st.tuples(st.just("clear"), st.just(""), st.just(0), st.just(0)),
    st.tuples(st.just("job"), st.sampled_from(["tenant", "other_tenant"]), st.integers(1, 8),
              st.tuples(st.sampled_from(["succeeded", "failed", "lost", "spot"]),
                        st.sampled_from(["train", "finetune", "infer", "batch"]))),
    st.tuples(st.just("bill"), st.just(""), st.just(0), st.just(0)),
    st.tuples(st.just("later"), st.just(""), st.integers(1, 5), st.just(0)),
), min_size=3, max_size=12)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_market_sequences_keep_the_books(ops: list[tuple[str, str, int, object]]) -> None:
    w, clock = market_world(sqlite_url(tempfile.mkdtemp(prefix="mkt-prop-")))
    w.p.cache.market_step_at = float("inf")     # the test decides when to clear and bill
    try:
        c = w.client
        job_class: dict[str, str] = {}
        for op, who, n, x in ops:
            if op == "bid":
                c.post("/v1/market/bids", json={"grade": "mid", "region": "ningxia", "qty": str(D(n) / 10),
                                                "limit": str(x)}, headers=w.h(who))
            elif op == "reserve":
                c.post("/v1/market/reservations", json={"site": "nx-hub", "pool": "a100", "qty": str(D(n) / 10),
                                                        "start": clock.t, "end": clock.t + 3 * 3600},
                       headers=w.h(who))
            elif op == "clear":
                clear_round(w.p)
            elif op == "job":
                end, cls = x  # type: ignore[misc]
                ran = run_job(w, clock, tenant_role=who, gpus=n, hours=0.25, preemptible=(end == "spot"),
                              end="succeeded" if end == "spot" else str(end), must_place=False, job_class=cls)
                if ran is not None:
                    job_class[ran["job"]] = cls
                if ran is not None and end == "lost":     # requeued: cancel it, so the next job finds the pool free
                    c.post(f"/v1/jobs/{ran['job']}/cancel", headers=w.h("operator"))
            elif op == "bill":
                bill_ended(w.p)
            else:
                clock.t += n * 3600
                for role in ("agent", "other_agent"):
                    c.post("/v1/agent/heartbeat", json={"free": {}}, headers=w.h(role))
        clock.t += 10 * 3600                         # every window over: everything is billed
        bill_ended(w.p)
        assert bill_ended(w.p) == {"placements": 0, "lines": 0}
        with w.p.uow() as uow:
            ledger = uow.ledger
            assert sum(ledger.balances().values(), Decimal(0)) == 0
            for tx in ledger.transactions():
                assert sum((p.amount for p in tx.postings), Decimal(0)) == 0
            lines = ledger.invoice_lines()
            per_placement: dict[str, Decimal] = defaultdict(Decimal)
            for x in lines:
                if not x.meter_id.startswith("reservation:"):
                    per_placement[x.meter_id.split(":")[0]] += x.pf16h
            ran = {pl["id"]: D(round(pl["pf16h"], 6)) for pl in uow.jobs.placements(site="nx-hub")
                   if pl["started_at"] is not None and pl["ended_at"] is not None}
            assert set(per_placement) == set(ran)
            for pid, pf in ran.items():
                assert abs(per_placement[pid] - pf) <= Decimal("0.000001"), pid
            for t in uow.market.trades():
                assert D(t["used"]) <= D(t["qty"])
            for r in uow.market.reservations():
                assert D(r["used"]) + D(r["offered"]) <= D(r["qty"]) and r["status"] == "settled"
        for role in ("tenant", "other_tenant"):
            charged: dict[str, Decimal] = defaultdict(Decimal)
            for inv in c.get("/v1/invoices", headers=w.h(role)).json()["items"]:
                assert D(inv["total"]) == sum((D(x["due"]) for x in inv["lines"]), Decimal(0))
                for x in inv["lines"]:
                    if x["job"]:
                        charged[x["job"]] += D(x["amount"])
                    if x["term"] == "on-demand":
                        assert D(x["unit_price"]) == ON_DEMAND_MID[job_class[x["job"]]], x
            usage = {i["job"]: D(i["cost"]) for i in c.get("/v1/usage?by=job", headers=w.h(role)).json()["items"]}
            assert usage == dict(charged)
    finally:
        w.p.db.dispose()
