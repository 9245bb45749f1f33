"""List prices change through ``PUT /v1/market/prices`` (issue 15, section 4), on SQLite and
PostgreSQL: versioned and audited; operators only; bad input is a 422 naming the field and nothing
is stored; work that started before a change is billed at the price it started at, work started
after at the new one; the scheduler's price cap compares against the job's own class's price.

Expected prices are read off ``data/market/prices.yaml`` by hand (nx-hub's A100 is grade ``mid``:
train 28.00, infer 30.00 on demand)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from suanli.services.billing import bill_ended
from tests.api.helpers import World
from tests.market_platform.helpers import Clock, D, run_job


def _put(w: World, body: object, role: str = "operator") -> tuple[int, dict]:
    r = w.client.put("/v1/market/prices", json=body, headers=w.h(role))
    return r.status_code, r.json()


def _price(w: World, product: str) -> str:
    prices = w.client.get("/v1/market/prices", headers=w.h("tenant")).json()
    return {x["product"]: x["price"] for x in prices["products"]}[product]


def test_a_price_change_is_versioned_audited_and_only_for_operators(mw: tuple[World, Clock]) -> None:
    w, _ = mw
    assert _price(w, "train/mid/on-demand") == "28.00"
    for role in ("tenant", "provider", "agent"):
        assert _put(w, {"list_prices": {"train": {"mid": {"on-demand": "30.00"}}}}, role)[0] == 403
    status, d = _put(w, {"list_prices": {"train": {"mid": {"on-demand": "30.00"}}}})
    assert status == 200, d
    assert d["version"] == 1 and d["changed"] == {"train/mid/on-demand": ["28.00", "30.00"]}
    assert _price(w, "train/mid/on-demand") == "30.00" and _price(w, "infer/mid/on-demand") == "30.00"
    assert _price(w, "train/mid/reserved") == "21.00"                  # the others are kept
    assert w.client.get("/v1/market/prices", headers=w.h("tenant")).json()["version"] == 1
    audit = w.client.get("/v1/audit?action=market.prices", headers=w.h("operator")).json()["items"]
    assert [(a["subject"], a["detail"]["changed"]) for a in audit] == [("1", {"train/mid/on-demand": ["28.00",
                                                                                                     "30.00"]})]
    versions = w.client.get("/v1/market/prices/versions", headers=w.h("tenant")).json()["items"]
    assert [v["version"] for v in versions] == [0, 1]
    assert versions[0]["list_prices"]["train"]["mid"]["on-demand"] == "28.00"


@pytest.mark.parametrize(("body", "field"), [
    ({"list_prices": {"train": {"mid": {"on-demand": 30.5}}}}, "on-demand"),          # a float
    ({"list_prices": {"train": {"mid": {"on-demand": "30.123456"}}}}, "on-demand"),   # finer than 0.0001
    ({"list_prices": {"training": {"mid": {"on-demand": "30"}}}}, "training"),
    ({"list_prices": {"train": {"gold": {"on-demand": "30"}}}}, "gold"),
    ({"list_prices": {"train": {"mid": {"hourly": "30"}}}}, "hourly"),
    ({"list_prices": {"train": "30"}}, "list_prices.train"),
    ({"grades": [{"grade": "top", "min_fp16_tflops": 700}]}, "grades"),              # no catch-all rule
    ({"grades": [{"grade": "any", "min_fp16_tflops": 0}]}, "list_prices"),           # grade without prices
    ({}, "list_prices"),
])
def test_bad_prices_are_refused_with_the_field_and_nothing_is_stored(mw: tuple[World, Clock], body: object,
                                                                     field: str) -> None:
    w, _ = mw
    status, d = _put(w, body)
    assert status == 422, d
    assert field in (d["error"].get("field", "") + d["error"]["message"]), d
    assert w.client.get("/v1/market/prices/versions", headers=w.h("tenant")).json()["items"][-1]["version"] == 0


def test_new_grade_rules_with_their_prices_regrade_the_pools(mw: tuple[World, Clock]) -> None:
    w, _ = mw
    prices = {c: {"any": {"on-demand": "9.00", "reserved": "7.00"}} for c in ("train", "infer", "general")}
    status, d = _put(w, {"grades": [{"grade": "any"}], "list_prices": prices})
    assert status == 200, d
    pools = w.client.get("/v1/market/prices", headers=w.h("tenant")).json()["pools"]
    assert {p["grade"] for p in pools} == {"any"}


def _cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def test_running_work_keeps_the_price_it_started_at_until_its_next_hourly_record(mw: tuple[World, Clock]) -> None:
    """Job A starts at 28.00 and runs 2 h; the price goes to 40.00 half an hour in: A's first hour
    is billed at 28.00, its second (a record that starts after the change) at 40.00; job B, started
    after the change, at 40.00."""
    w, clock = mw
    c = w.client
    a = c.post("/v1/jobs", json={"command": ["true"], "allowed_models": ["A100"], "duration_s": 3600},
               headers=w.h("tenant")).json()
    w.cycle()
    (lease,) = c.post("/v1/agent/lease", json={}, headers=w.h("agent")).json()["items"]
    pl = lease["placement_id"]
    assert c.post(f"/v1/agent/placements/{pl}/status", json={"state": "running", "slots": [0]},
                  headers=w.h("agent")).status_code == 200
    clock.t += 1800
    assert _put(w, {"list_prices": {"train": {"mid": {"on-demand": "40.00"}}}})[0] == 200
    clock.t += 1800 + 3600
    c.post("/v1/agent/heartbeat", json={"free": {"a100": 7}, "held": [pl]}, headers=w.h("agent"))
    assert c.post(f"/v1/agent/placements/{pl}/status", json={"state": "succeeded", "exit_code": 0},
                  headers=w.h("agent")).status_code == 200
    b = run_job(w, clock, hours=1.0)
    assert b is not None
    bill_ended(w.p)
    lines = c.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"]
    of_a = [(x["unit_price"], D(x["amount"])) for x in lines if x["job"] == a["id"]]
    of_b = [(x["unit_price"], D(x["amount"])) for x in lines if x["job"] == b["job"]]
    assert of_a == [("28.0000", _cents(D("0.312") * 28)), ("40.0000", _cents(D("0.312") * 40))]
    assert of_b == [("40.0000", _cents(D("0.312") * 40))]
    usage = {i["job"]: D(i["cost"]) for i in c.get("/v1/usage?by=job", headers=w.h("tenant")).json()["items"]}
    assert usage == {a["id"]: _cents(D("0.312") * 28) + _cents(D("0.312") * 40), b["job"]: _cents(D("0.312") * 40)}


def test_the_price_cap_compares_against_the_jobs_own_class_price(mw: tuple[World, Clock]) -> None:
    """With a cap of 29: train work on nx-hub's A100s costs 28.00 and is placed; infer work costs
    30.00 there and is refused, with the price in explain. (The old scheduler priced every job at
    the train price, so it placed both.) After the train price goes to 31.00, train is refused too."""
    w, _ = mw
    c = w.client

    def submit(cls: str) -> str:
        body = {"command": ["true"], "allowed_models": ["A100"], "max_price": 29, "job_class": cls}
        return str(c.post("/v1/jobs", json=body, headers=w.h("tenant")).json()["id"])

    def state(jid: str) -> str:
        return str(c.get(f"/v1/jobs/{jid}", headers=w.h("tenant")).json()["state"])

    def nx(jid: str) -> dict:
        pools = c.get(f"/v1/jobs/{jid}/explain", headers=w.h("tenant")).json()["pools"]
        return next(x for x in pools if x["site"] == "nx-hub")

    train, infer = submit("train"), submit("infer")
    w.cycle()
    assert state(train) == "placed" and state(infer) == "pending"
    assert nx(infer)["verdict"] == "price" and "price 30.00/PF16-h > cap 29" in nx(infer)["reason"]
    assert _put(w, {"list_prices": {"train": {"mid": {"on-demand": "31.00"}}}})[0] == 200
    later = submit("train")
    w.cycle()
    assert state(later) == "pending" and "price 31.00/PF16-h > cap 29" in nx(later)["reason"]
