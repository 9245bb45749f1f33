"""Every market route against every role (allowed, refused, scoped), and bad input: 4xx with
code, message and field, and nothing written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from suanli.services.market import clear_round
from tests.api.helpers import World, only, role_matrix_failures
from tests.market_platform.helpers import market_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from suanli.store.db import sqlite_url

    w, clock = market_world(sqlite_url(tmp_path_factory.mktemp("market-roles")))
    r = w.client.post("/v1/market/reservations", json={"site": "nx-hub", "pool": "a100", "qty": "2",
                                                       "start": clock.t, "end": clock.t + 7200}, headers=w.h("tenant"))
    w.reservation = r.json()["id"]  # type: ignore[attr-defined]
    yield w
    w.p.db.dispose()


def _routes(w: World) -> list[tuple[str, str, object, dict[str, int]]]:
    t = w.p.now()
    res = w.reservation  # type: ignore[attr-defined]
    bid = {"grade": "mid", "region": "ningxia", "qty": "0.5", "limit": "9"}
    return [
        ("GET", "/v1/market/prices", None, only({"operator": 200, "provider": 200, "tenant": 200})),
        ("POST", "/v1/market/asks", {"site": "nx-hub", "pool": "a100", "price": "7.5"},
         only({"operator": 200, "provider": 200})),
        ("POST", "/v1/market/bids", lambda r: {**bid, **({"tenant": "demo"} if r == "operator" else {})},
         only({"operator": 201, "tenant": 201})),
        ("POST", "/v1/market/reservations",
         lambda r: {"site": "nx-hub", "pool": "a100", "qty": "0.1", "start": t, "end": t + 3600,
                    **({"tenant": "demo"} if r == "operator" else {})}, only({"operator": 201, "tenant": 201})),
        ("POST", f"/v1/market/reservations/{res}/resell", {"qty": "0.1", "min_price": "5"},
         only({"operator": 201, "tenant": 201})),
        ("GET", "/v1/market/orders", None, only({"operator": 200, "provider": 200, "tenant": 200})),
        ("GET", "/v1/invoices", None, only({"operator": 200, "tenant": 200})),
        ("GET", "/v1/payouts", None, only({"operator": 200, "provider": 200})),
        ("GET", "/v1/ledger/balances", None, only({"operator": 200})),
    ]


def test_every_market_route_against_every_role(world: World) -> None:
    failures = role_matrix_failures(world, _routes(world))
    assert not failures, "\n".join(failures)


def test_openapi_lists_the_market_routes(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for _, path, _, _ in _routes(world):
        assert path.replace(world.reservation, "{reservation_id}") in paths, path  # type: ignore[attr-defined]


def test_scoping(world: World) -> None:
    c = world.client
    c.post("/v1/market/bids", json={"grade": "mid", "region": "ningxia", "qty": "1", "limit": "20"},
           headers=world.h("tenant"))
    clear_round(world.p)
    theirs = c.get("/v1/market/orders", headers=world.h("other_tenant")).json()
    assert theirs == {"items": [], "trades": [], "reservations": []}
    assert c.get("/v1/market/orders?tenant=demo", headers=world.h("other_tenant")).status_code == 404
    assert c.get("/v1/invoices?tenant=demo", headers=world.h("other_tenant")).status_code == 404
    mine = c.get("/v1/market/orders", headers=world.h("tenant")).json()
    assert mine["items"] and {o["tenant"] for o in mine["items"]} == {"demo"}
    # a provider sees the asks of its own pools and what it sold, not another provider's
    east = c.get("/v1/market/orders", headers=world.h("other_provider")).json()
    assert all(o["provider"] == "east-dc" for o in east["items"]) and east["trades"] == []
    west = c.get("/v1/market/orders", headers=world.h("provider")).json()
    assert west["trades"] and all(t["seller"] == "provider:west-dc" for t in west["trades"])
    assert c.get("/v1/payouts?provider=west-dc", headers=world.h("other_provider")).status_code == 404
    assert c.post("/v1/market/asks", json={"site": "nx-hub", "pool": "a100", "price": "1"},
                  headers=world.h("other_provider")).status_code == 404
    res = world.reservation  # type: ignore[attr-defined]
    assert c.post(f"/v1/market/reservations/{res}/resell", json={"qty": "0.1", "min_price": "5"},
                  headers=world.h("other_tenant")).status_code == 404


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("/v1/market/bids", {"grade": "mid", "region": "ningxia", "qty": 1.5, "limit": "9"}, 422, "qty"),
    ("/v1/market/bids", {"grade": "mid", "region": "ningxia", "qty": "0", "limit": "9"}, 422, "qty"),
    ("/v1/market/bids", {"grade": "mid", "region": "ningxia", "qty": "1", "limit": "9.00001"}, 422, "limit"),
    ("/v1/market/bids", {"grade": "gold", "region": "ningxia", "qty": "1", "limit": "9"}, 422, "grade"),
    ("/v1/market/bids", {"grade": "mid", "region": "mars", "qty": "1", "limit": "9"}, 422, "region"),
    ("/v1/market/bids", {"grade": "mid", "region": "ningxia", "qty": "1", "limit": "NaN"}, 422, "limit"),
    ("/v1/market/bids", {"grade": "mid", "region": "ningxia", "qty": "1", "limit": "9", "x": 1}, 422, "x"),
    ("/v1/market/bids", {"grade": "mid", "region": "ningxia", "qty": "1", "limit": "9", "tenant": "other"},
     404, "tenant"),
    ("/v1/market/reservations", {"site": "nx-hub", "pool": "nope", "qty": "1", "start": 0, "end": 4e9}, 404, "pool"),
    ("/v1/market/reservations", {"site": "nx-hub", "pool": "a100", "qty": "1", "start": 10, "end": 5}, 422, "end"),
    ("/v1/market/reservations", {"site": "nx-hub", "pool": "a100", "qty": "1", "start": 0, "end": 5}, 422, "end"),
    ("/v1/market/reservations", {"site": "nx-hub", "pool": "a100", "qty": "1e6", "start": 1.8e9,
                                 "end": 1.8e9 + 3600}, 409, "qty"),
    ("/v1/market/reservations/r-nope/resell", {"qty": "1", "min_price": "1"}, 404, "reservation_id"),
])
def test_bad_input_is_refused_with_the_field_and_writes_nothing(world: World, path: str, body: dict[str, object],
                                                                status: int, field: str) -> None:
    before = world.client.get("/v1/market/orders?limit=1000", headers=world.h("operator")).json()
    r = world.client.post(path, json=body, headers=world.h("tenant"))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"].split(".")[-1] == field and err["message"]
    assert world.client.get("/v1/market/orders?limit=1000", headers=world.h("operator")).json() == before


def test_resale_beyond_the_unused_quantity_is_refused(world: World) -> None:
    res = world.reservation  # type: ignore[attr-defined]
    r = world.client.post(f"/v1/market/reservations/{res}/resell", json={"qty": "100", "min_price": "5"},
                          headers=world.h("tenant"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "qty"


def test_an_open_order_can_be_cancelled_once_by_its_tenant(world: World) -> None:
    c = world.client
    order = c.post("/v1/market/bids", json={"grade": "entry", "region": "shenzhen", "qty": "1", "limit": "1"},
                   headers=world.h("tenant")).json()
    assert c.post(f"/v1/market/orders/{order['id']}/cancel", headers=world.h("other_tenant")).status_code == 404
    assert c.post(f"/v1/market/orders/{order['id']}/cancel", headers=world.h("provider")).status_code == 404
    r = c.post(f"/v1/market/orders/{order['id']}/cancel", headers=world.h("tenant"))
    assert r.status_code == 200 and r.json()["status"] == "closed"
    again = c.post(f"/v1/market/orders/{order['id']}/cancel", headers=world.h("tenant"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
