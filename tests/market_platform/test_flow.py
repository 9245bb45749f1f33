"""The market on the platform, on a real SQLite file and a real PostgreSQL: bid -> clearing round ->
trade -> a preemptible job runs on it -> meter -> invoice lines equal the priced records; reserve
-> usage drawn -> unused resold and credited; SLA credit when a site loses its agent; budgets;
the ledger sums to zero; billing twice bills nothing new."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from suanli.market.money import round_money
from suanli.services.billing import bill_ended
from suanli.services.market import clear_round
from tests.api.helpers import World
from tests.market_platform.helpers import Clock, D, market_world, run_job


@pytest.fixture
def mw(store_url: str) -> Iterator[tuple[World, Clock]]:
    w, clock = market_world(store_url)
    yield w, clock
    w.p.db.dispose()


def _placement_pf16h(w: World, job_id: str) -> Decimal:
    j = w.client.get(f"/v1/jobs/{job_id}", headers=w.h("operator")).json()
    return sum((D(pl["pf16h"]) for pl in j["placements"]), Decimal(0))


def _ledger_sums_to_zero(w: World) -> dict[str, Decimal]:
    b = w.client.get("/v1/ledger/balances", headers=w.h("operator")).json()
    assert D(b["sum"]) == 0
    assert sum((D(v) for v in b["balances"].values()), Decimal(0)) == 0
    return {k: D(v) for k, v in b["balances"].items()}


def test_bid_clears_a_spot_job_runs_on_it_and_its_invoice_matches(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    c = w.client
    prices = c.get("/v1/market/prices", headers=w.h("tenant")).json()
    by_key = {x["product"]: x["price"] for x in prices["products"]}
    assert by_key["train/mid/on-demand"] == "28.00" and prices["fee_rate"] == "0.10"
    nx = next(x for x in prices["pools"] if x["site"] == "nx-hub")
    assert (nx["grade"], nx["region"], nx["ask_price"]) == ("mid", "ningxia", "8.0000")

    bid = c.post("/v1/market/bids", json={"grade": "mid", "region": "ningxia", "qty": "1", "limit": "10"},
                 headers=w.h("tenant"))
    assert bid.status_code == 201, bid.text
    assert c.get("/v1/market/orders?status=open", headers=w.h("tenant")).json()["items"][0]["id"] == bid.json()["id"]
    rnd = clear_round(w.p)
    assert rnd["trades"] == 1
    orders = c.get("/v1/market/orders", headers=w.h("tenant")).json()
    (trade,) = orders["trades"]
    assert D(trade["qty"]) == 1 and D("8") <= D(trade["price"]) <= D("10")
    assert orders["items"][0]["status"] == "filled"
    assert trade["seller"] == "provider:west-dc"
    # the provider sees the ask it sold; another tenant sees nothing
    assert c.get("/v1/market/orders", headers=w.h("provider")).json()["trades"][0]["id"] == trade["id"]
    assert c.get("/v1/market/orders", headers=w.h("other_tenant")).json() == {"items": [], "trades": [],
                                                                            "reservations": []}

    ran = run_job(w, clock, preemptible=True, hours=1.0)
    assert w.client.get(f"/v1/jobs/{ran['job']}", headers=w.h("tenant")).json()["spec"]["preemptible"] is True
    assert bill_ended(w.p)["placements"] == 1
    assert bill_ended(w.p) == {"placements": 0, "lines": 0}          # billing twice bills nothing new
    inv = c.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]
    (line,) = inv["lines"]
    metered = _placement_pf16h(w, ran["job"])
    assert line["term"] == "spot" and line["contract"] == trade["id"] and D(line["pf16h"]) == metered
    assert D(line["amount"]) == round_money(metered * D(trade["price"]))
    assert D(inv["total"]) == sum((D(x["due"]) for x in inv["lines"]), Decimal(0)) == D(line["amount"])
    bal = _ledger_sums_to_zero(w)
    assert bal["tenant:demo"] == -D(line["amount"])
    assert bal["platform:fees"] == D(line["fee"]) == round_money(D(line["amount"]) * D("0.1"))
    pay = c.get("/v1/payouts", headers=w.h("provider")).json()["items"]
    net = str(D(line["amount"]) - D(line["fee"]))
    assert pay == [{"account": "provider:west-dc", "gross": line["amount"], "fees": line["fee"], "net": net,
                    "by_site": {"nx-hub": net}}]
    assert D(c.get("/v1/market/orders", headers=w.h("tenant")).json()["trades"][0]["used"]) == metered


def test_reservation_draws_usage_and_the_unused_part_is_resold_and_credited(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    c = w.client
    now = clock.t
    r = c.post("/v1/market/reservations", json={"site": "nx-hub", "pool": "a100", "qty": "1", "start": now - 1,
                                                "end": now + 4 * 3600}, headers=w.h("tenant"))
    assert r.status_code == 201, r.text
    res = r.json()
    assert res["price"] == "21.00" and res["grade"] == "mid" and D(res["commitment"]) == D("21")
    too_much = c.post("/v1/market/reservations", json={"site": "nx-hub", "pool": "a100", "qty": "100",
                                                       "start": now, "end": now + 3600}, headers=w.h("tenant"))
    assert too_much.status_code == 409 and too_much.json()["error"]["field"] == "qty"

    ran = run_job(w, clock, gpus=2, hours=1.0)                       # 0.624 PF16-h drawn on the reservation
    bill_ended(w.p)
    lines = c.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"]
    assert [(x["term"], x["contract"], x["pf16h"]) for x in lines] == [("reserved", res["id"], "0.624000")]
    assert D(lines[0]["amount"]) == round_money(D("0.624") * D("21"))
    assert D(_placement_pf16h(w, ran["job"])) == D("0.624")

    # resell 0.2 of what is left; another tenant's bid buys it (the resale ask is cheaper than the pool's)
    sale = c.post(f"/v1/market/reservations/{res['id']}/resell", json={"qty": "0.2", "min_price": "5"},
                  headers=w.h("tenant"))
    assert sale.status_code == 201, sale.text
    c.post("/v1/market/bids", json={"grade": "mid", "region": "ningxia", "qty": "0.2", "limit": "6"},
           headers=w.h("other_tenant"))
    assert clear_round(w.p)["trades"] == 1
    (trade,) = c.get("/v1/market/orders", headers=w.h("other_tenant")).json()["trades"]
    assert trade["seller"] == "tenant:demo" and trade["contract"] == res["id"] and D(trade["price"]) >= 5
    run_job(w, clock, tenant_role="other_tenant", preemptible=True, hours=0.5)    # 0.156 PF16-h on the trade
    # the window ends: the commitment not drawn (unused and offered) is charged
    clock.t = now + 4 * 3600 + 10
    bill_ended(w.p)
    inv = c.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]
    unused = [x for x in inv["lines"] if x["meter_id"].endswith(":unused")]
    assert [D(x["pf16h"]) for x in unused] == [D("1") - D("0.624")]
    assert D(inv["pf16h"]) == D("1")                                   # the whole commitment, drawn or not
    other = c.get("/v1/invoices", headers=w.h("other_tenant")).json()["items"][0]["lines"]
    assert [(x["term"], x["payee"], x["pf16h"]) for x in other] == [("spot", "tenant:demo", "0.156000")]
    bal = _ledger_sums_to_zero(w)
    resale_net = D(other[0]["amount"]) - D(other[0]["fee"])
    assert bal["tenant:demo"] == -D(inv["total"]) + resale_net         # credited for what it resold
    assert c.get("/v1/market/orders", headers=w.h("tenant")).json()["reservations"][0]["status"] == "settled"


def test_a_site_that_loses_its_agent_credits_the_tenant(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    ran = run_job(w, clock, hours=1.0, end="lost")
    j = w.client.get(f"/v1/jobs/{ran['job']}", headers=w.h("operator")).json()
    assert j["placements"][0]["state"] == "lost"
    bill_ended(w.p)
    # it ran 1 h, then its site went silent for lease_s + 1 s before the cycle ended it lost: one
    # hourly record and one for the tail, both billed after it ended lost, so both credited
    lines = w.client.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"]
    assert [x["meter_id"].split(":")[1] for x in lines] == ["h0", "h1"]
    metered = _placement_pf16h(w, ran["job"]).quantize(Decimal("0.000001"))      # the quantity quantum
    assert sum((D(x["pf16h"]) for x in lines), Decimal(0)) == metered
    for line in lines:
        assert line["term"] == "on-demand" and D(line["amount"]) > 0
        assert line["credit"] == line["amount"] and D(line["due"]) == 0
    bal = _ledger_sums_to_zero(w)
    assert bal.get("tenant:demo", Decimal(0)) == 0
    fees = sum((D(x["fee"]) for x in lines), Decimal(0))
    assert bal["provider:west-dc"] == -fees                            # refunds the charges, pays the fees
    (pay,) = w.client.get("/v1/payouts", headers=w.h("provider")).json()["items"]
    assert D(pay["net"]) == D(pay["by_site"]["nx-hub"]) == -fees


def test_a_spent_budget_stops_new_placements_with_the_reason_in_explain(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    run_job(w, clock, hours=1.0)                                       # 0.312 x 28.00 on-demand = 8.74
    bill_ended(w.p)
    charged = -_ledger_sums_to_zero(w)["tenant:demo"]
    assert charged == D("8.74")
    r = w.client.patch("/v1/tenants/demo", json={"budget": "8"}, headers=w.h("operator"))
    assert r.status_code == 200, r.text
    job = w.client.post("/v1/jobs", json={"command": ["true"], "allowed_models": ["A100"]},
                        headers=w.h("tenant")).json()
    w.cycle()
    j = w.client.get(f"/v1/jobs/{job['id']}", headers=w.h("tenant")).json()
    explain = w.client.get(f"/v1/jobs/{job['id']}/explain", headers=w.h("tenant")).json()
    assert j["state"] == "pending"
    nx = next(x for x in explain["pools"] if x["site"] == "nx-hub")
    assert nx["verdict"] == "budget" and "budget left -0.74 of tenant demo" in nx["reason"]
    assert nx["cost"] == pytest.approx(0.312 * 28)          # priced at the on-demand list price, not the site's


def test_a_reservation_holds_its_capacity_against_other_tenants(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    c = w.client
    # the whole nx-hub pool for the next hour: 8 x A100 x 1 h = 2.496 PF16-h
    r = c.post("/v1/market/reservations", json={"site": "nx-hub", "pool": "a100", "qty": "2.496", "start": clock.t,
                                                "end": clock.t + 3600}, headers=w.h("tenant"))
    assert r.status_code == 201, r.text
    theirs = c.post("/v1/jobs", json={"command": ["true"], "allowed_models": ["A100"]},
                    headers=w.h("other_tenant")).json()
    w.cycle()
    assert c.get(f"/v1/jobs/{theirs['id']}", headers=w.h("other_tenant")).json()["state"] == "pending"
    nx = next(x for x in c.get(f"/v1/jobs/{theirs['id']}/explain", headers=w.h("other_tenant")).json()["pools"]
              if x["site"] == "nx-hub")
    assert nx["verdict"] == "capacity"
    c.post(f"/v1/jobs/{theirs['id']}/cancel", headers=w.h("other_tenant"))
    ran = run_job(w, clock, gpus=8, hours=0.5)                          # the holder's own job gets the pool
    assert ran is not None
    bill_ended(w.p)
    lines = c.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"]
    assert [(x["term"], x["pf16h"]) for x in lines] == [("reserved", "1.248000")]


def test_on_demand_work_that_needs_the_capacity_preempts_a_spot_job(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    c = w.client
    spot = c.post("/v1/jobs", json={"command": ["true"], "gpus": 8, "allowed_models": ["A100"], "preemptible": True},
                  headers=w.h("tenant")).json()
    w.cycle()
    (lease,) = c.post("/v1/agent/lease", json={}, headers=w.h("agent")).json()["items"]
    c.post(f"/v1/agent/placements/{lease['placement_id']}/status", json={"state": "running"}, headers=w.h("agent"))
    # another spot job of the same priority waits; it never preempts spot work
    other_spot = c.post("/v1/jobs", json={"command": ["true"], "gpus": 8, "allowed_models": ["A100"],
                                          "preemptible": True, "deadline": clock.t + 5400},
                        headers=w.h("other_tenant")).json()
    w.cycle()
    assert c.get(f"/v1/jobs/{spot['id']}", headers=w.h("tenant")).json()["state"] == "running"
    c.post(f"/v1/jobs/{other_spot['id']}/cancel", headers=w.h("other_tenant"))
    # an on-demand job of the same priority that needs the pool (it would miss its deadline waiting)
    c.post("/v1/jobs", json={"command": ["true"], "gpus": 8, "allowed_models": ["A100"], "deadline": clock.t + 5400},
           headers=w.h("other_tenant"))
    w.cycle()
    assert c.get(f"/v1/jobs/{spot['id']}", headers=w.h("tenant")).json()["state"] == "preempted"
