"""One price for a job everywhere (issue 15): after a mix of job classes and terms, ``usage``'s cost
of each job equals the sum of its invoice charges, to the cent, and both equal the price a tenant
reads in the price list (class x grade x term) times the metered PF16-hours.

The expected figures are derived here by hand from ``data/market/prices.yaml`` (the A100 pool of
nx-hub is grade ``mid``: train 28.00, infer 30.00, general 25.00 on demand; train 21.00 reserved)
and rounded half-even to the cent, without the billing code. On the old code usage priced at the
site's ``price_per_pf16h`` (8 at nx-hub), so every job here failed."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

from suanli.services.billing import bill_ended
from suanli.services.market import clear_round
from tests.api.helpers import World
from tests.market_platform.helpers import Clock, D, run_job

CENT = Decimal("0.01")
LIST = {("train", "on-demand"): D("28.00"), ("infer", "on-demand"): D("30.00"),
        ("batch", "on-demand"): D("25.00"), ("finetune", "on-demand"): D("28.00"),
        ("train", "reserved"): D("21.00")}



def _pf16h(w: World, job_id: str) -> Decimal:
    j = w.client.get(f"/v1/jobs/{job_id}", headers=w.h("operator")).json()
    return sum((D(round(pl["pf16h"], 6)) for pl in j["placements"]), Decimal(0))


def _charge(pf16h: Decimal, price: Decimal) -> Decimal:
    return (pf16h * price).quantize(CENT, ROUND_HALF_EVEN)


def test_usage_cost_equals_the_invoice_charges_for_a_mix_of_classes_and_terms(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    c = w.client
    expected: dict[str, Decimal] = {}
    for cls, hours in (("train", 1.0), ("infer", 0.5), ("batch", 0.75), ("finetune", 0.25)):
        ran = run_job(w, clock, job_class=cls, hours=hours)
        assert ran is not None
        expected[ran["job"]] = _charge(_pf16h(w, ran["job"]), LIST[(cls, "on-demand")])

    # spot: a bid clears against nx-hub's idle A100s; a preemptible job draws on the trade
    bid = c.post("/v1/market/bids", json={"grade": "mid", "region": "ningxia", "qty": "0.2", "limit": "10"},
                 headers=w.h("tenant"))
    assert bid.status_code == 201, bid.text
    assert clear_round(w.p)["trades"] == 1
    (trade,) = c.get("/v1/market/orders", headers=w.h("tenant")).json()["trades"]
    spot = run_job(w, clock, job_class="infer", hours=1.0, preemptible=True)
    assert spot is not None
    pf = _pf16h(w, spot["job"])          # 0.312 PF16-h: 0.2 on the trade, the rest on demand (infer)
    expected[spot["job"]] = _charge(D("0.2"), D(trade["price"])) + _charge(pf - D("0.2"), LIST[("infer",
                                                                                                  "on-demand")])

    # reserved: a reservation of nx-hub's A100s covers a train job in full
    r = c.post("/v1/market/reservations", json={"site": "nx-hub", "pool": "a100", "qty": "1",
                                                "start": clock.t, "end": clock.t + 4 * 3600}, headers=w.h("tenant"))
    assert r.status_code == 201, r.text
    res = run_job(w, clock, job_class="train", hours=1.0)
    assert res is not None
    expected[res["job"]] = _charge(_pf16h(w, res["job"]), LIST[("train", "reserved")])

    bill_ended(w.p)
    lines = c.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"]
    charged: dict[str, Decimal] = defaultdict(Decimal)
    for x in lines:
        if x["job"]:
            charged[x["job"]] += D(x["amount"])
    usage = {i["job"]: D(i["cost"]) for i in c.get("/v1/usage?by=job", headers=w.h("tenant")).json()["items"]}
    assert usage == dict(charged) == expected
    total = c.get("/v1/usage?by=tenant", headers=w.h("tenant")).json()["total"]
    assert D(total["cost"]) == sum(expected.values(), Decimal(0))


def test_an_unbilled_job_is_estimated_at_the_price_its_invoice_lines_then_have(mw: tuple[World, Clock]) -> None:
    """Before billing, usage estimates an ended job hour by hour at its on-demand price, each hour
    rounded as its invoice line will be: 2 x A100 for 2.5 h of infer work is 0.624, 0.624 and 0.312
    PF16-h at 30.00 = 18.72 + 18.72 + 9.36 = 46.80, and so are its three lines once billed."""
    w, clock = mw
    ran = run_job(w, clock, job_class="infer", hours=2.5, gpus=2)
    assert ran is not None
    before = w.client.get(f"/v1/usage?by=job&job_id={ran['job']}", headers=w.h("tenant")).json()["items"][0]
    assert D(before["cost"]) == D("46.80")
    bill_ended(w.p)
    lines = w.client.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"]
    assert [D(x["amount"]) for x in lines] == [D("18.72"), D("18.72"), D("9.36")]
    after = w.client.get(f"/v1/usage?by=job&job_id={ran['job']}", headers=w.h("tenant")).json()["items"][0]
    assert D(after["cost"]) == D("46.80")
