"""A job no pool of the federation could ever run is refused at submission with the reason and a
fix (HTTP 422), and explain puts a permanent "no" before one that may pass later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import World, make_world


@pytest.fixture(scope="module")
def world(module_store_url: str) -> Iterator[World]:
    w = make_world(module_store_url)
    yield w
    w.p.db.dispose()


def submit(world: World, **spec: object):
    return world.client.post("/v1/jobs", json={"command": ["sleep", "1"], **spec}, headers=world.h("tenant"))


def test_eight_in_shanghai_where_the_only_pool_holds_four_is_refused_with_both_fixes(world: World) -> None:
    # demo-local: nx-hub/a100 holds 8 (ningxia), sh-city/h100 4 (shanghai), sz-edge/l40s 2 (shenzhen)
    r = submit(world, gpus=8, allowed_regions=["shanghai"])
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == "gpus"
    msg = err["message"]
    assert "no pool of the federation can ever run it" in msg
    assert "capacity refuses 2 of 3 pools" in msg and "needs 8, the pool holds only 4" in msg
    assert "region refuses 1 of 3 pools" in msg and "region ningxia not in allowed ['shanghai']" in msg
    # either change alone is enough: 4 chips in shanghai, or allow ningxia where 8 fit
    assert "ask for at most 4 accelerators" in msg and "allow a region with a pool that could run it: ningxia" in msg


def test_a_chip_the_federation_lacks_is_refused_naming_the_chips_it_has(world: World) -> None:
    r = submit(world, allowed_models=["T4"])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "allowed_models"
    assert "model refuses 3 of 3 pools" in err["message"]
    assert "allow one of the chips the federation has: a100-sxm4-80gb, h100-sxm5-80gb, l40s-pcie-48gb" in err["message"]


def test_a_job_that_fits_somewhere_is_accepted(world: World) -> None:
    r = submit(world, gpus=4, allowed_regions=["shanghai"])
    assert r.status_code in (200, 201), r.text
    assert r.json()["state"] == "pending"


def test_explain_shows_the_permanent_no_before_capacity(world: World) -> None:
    # No agent runs here, so every site is down (a "no" that may pass later). For a shanghai-only
    # job of 4, the pools of the other regions must show the region, which lasts.
    job = submit(world, gpus=4, allowed_regions=["shanghai"]).json()
    rows = world.client.get(f"/v1/jobs/{job['id']}/explain", headers=world.h("tenant")).json()["pools"]
    verdicts = {r["site"]: (r["verdict"], r["reason"]) for r in rows}
    assert verdicts["nx-hub"] == ("region", "region ningxia not in allowed ['shanghai']")
    # sz-edge is both too small and elsewhere: both last; the profile's order (capacity first) decides
    assert verdicts["sz-edge"] == ("capacity", "needs 4, the pool holds only 2: it can never fit here")
    assert verdicts["sh-city"][0] == "site down"
