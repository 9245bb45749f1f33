"""The compliance report and the history on a seeded store (SQLite and PostgreSQL). Every expected
figure is worked out here from the demo federation's facts (demo-local.yaml: nx-hub hub, PUE 1.2,
40% green, 8 A100; sh-city city, PUE 1.42, 10% green, 4 H100; sz-edge edge, PUE 1.42, 20% green,
2 L40S; tenant demo's home region is shanghai) and the accelerator catalog's TDP and FP16 rate:
energy = TDP x chips x hours / 1000 x PUE, PF16-h = FP16 TFLOPS x chips x hours / 1000."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from suanli.services.compliance import history, record_history
from suanli.services.platform import SYSTEM, Platform
from tests.api.helpers import World, make_world

NOW = 100_000.0


def _run(uow: Any, job: str, site: str, pool: str, acc: str, count: int, start: float, end: float | None) -> None:
    uow.jobs.add(id=job, tenant="demo", queue="default", state="running" if end is None else "succeeded",
                 job_class="train", gpus=count, priority=0, spec=json.dumps({"command": ["true"], "gpus": count}),
                 submit_time=start, updated_at=start)
    uow.jobs.add_placement(id=f"pl_{job}", job_id=job, attempt=1, site=site, pool_id=1, pool_name=pool,
                           accelerator=acc, count=count, state="running" if end is None else "succeeded",
                           created_at=start, started_at=start, ended_at=end)


@pytest.fixture
def world(store_url: str) -> World:
    w = make_world(store_url)
    w.p.clock = lambda: NOW
    with w.p.uow() as uow:
        for site in ("nx-hub", "sh-city"):
            uow.federation.update_site(site, health="up", last_heartbeat=NOW)
        uow.federation.observe_pool("nx-hub", "a100", observed_total=6, observed_free=6, observed_at=NOW)
        _run(uow, "job_1", "nx-hub", "a100", "A100", 2, 1000.0, 4600.0)     # 1 h, outside home (ningxia)
        _run(uow, "job_2", "sh-city", "h100", "H100", 1, 2000.0, 5600.0)    # 1 h, home (shanghai)
        _run(uow, "job_3", "sz-edge", "l40s", "L40S", 1, NOW - 1800, None)  # running 0.5 h, outside home
    return w


def _facts(p: Platform) -> dict[str, Any]:
    return {n: p.catalog.get(n) for n in ("A100", "H100", "L40S")}


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: (f["value"], f["target"], f["ok"]) for f in report["figures"]}


def test_the_report_is_the_policy_figures_worked_out_by_hand(world: World) -> None:
    a = _facts(world.p)
    e1 = a["A100"].tdp_w * 2 * 1.0 / 1000 * 1.2
    e2 = a["H100"].tdp_w * 1 * 1.0 / 1000 * 1.42
    e3 = a["L40S"].tdp_w * 1 * 0.5 / 1000 * 1.42
    r = world.client.get("/v1/reports/compliance", headers=world.h("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    f = _figures(body)
    assert f["infrastructures_up"] == (2, ">= 4", False)
    fp16 = (6 * a["A100"].fp16_tflops + 4 * a["H100"].fp16_tflops) / 1000   # nx-hub's engine sees 6 of 8
    assert f["schedulable_pflops_fp16"][0] == pytest.approx(fp16, abs=1e-6)
    assert f["schedulable_pflops_fp16"][1:] == (">= 1000", False)
    assert f["schedulable_pflops_fp32"][0] == pytest.approx(
        (6 * a["A100"].fp32_tflops + 4 * a["H100"].fp32_tflops) / 1000, abs=1e-6)
    green = (0.4 * e1 + 0.1 * e2 + 0.2 * e3) / (e1 + e2 + e3)
    assert f["green_share"][0] == pytest.approx(green, abs=1e-6) and f["green_share"][1:] == ("> 0.1", True)
    assert f["hub_pue"] == (pytest.approx(1.2), "<= 1.25", True)
    assert f["pue"][0] == pytest.approx((e1 + e2 + e3) / (e1 / 1.2 + e2 / 1.42 + e3 / 1.42), abs=1e-6)
    assert f["outside_home_share"][0] == pytest.approx(2 / 3, abs=1e-6)
    assert body["pf16h_by_tier"] == {"hub": pytest.approx(a["A100"].fp16_tflops * 2 / 1000, abs=1e-6),
                                     "city": pytest.approx(a["H100"].fp16_tflops / 1000, abs=1e-6),
                                     "edge": pytest.approx(a["L40S"].fp16_tflops * 0.5 / 1000, abs=1e-6)}
    assert (body["passed"], body["judged"]) == (2, 4)


def test_a_time_range_counts_the_part_of_each_run_inside_it(world: World) -> None:
    a = _facts(world.p)
    r = world.client.get("/v1/reports/compliance", params={"since": 3000, "until": 5000},
                         headers=world.h("operator")).json()
    # job_1 runs 3000..4600 (1600 s), job_2 3000..5000 (2000 s), job_3 not at all
    assert r["pf16h_by_tier"] == {"hub": pytest.approx(a["A100"].fp16_tflops * 2 * 1600 / 3600 / 1000, abs=1e-6),
                                  "city": pytest.approx(a["H100"].fp16_tflops * 2000 / 3600 / 1000, abs=1e-6),
                                  "edge": 0.0}
    e1 = a["A100"].tdp_w * 2 * 1600 / 3600 / 1000 * 1.2
    e2 = a["H100"].tdp_w * 2000 / 3600 / 1000 * 1.42
    assert _figures(r)["green_share"][0] == pytest.approx((0.4 * e1 + 0.1 * e2) / (e1 + e2), abs=1e-6)
    assert _figures(r)["outside_home_share"][0] == pytest.approx(1 / 2)


def test_bad_ranges_and_roles_are_refused(world: World) -> None:
    c, op = world.client, world.h("operator")
    r = c.get("/v1/reports/compliance", params={"since": 5000, "until": 3000}, headers=op)
    assert r.status_code == 422 and r.json()["error"]["field"] == "since" and "since <= until" in r.text
    for bad in ("soon", "nan", "-1", "1e12"):
        r = c.get("/v1/reports/compliance", params={"since": bad}, headers=op)
        assert r.status_code == 422, (bad, r.text)
    for role in ("tenant", "provider", "agent"):
        assert c.get("/v1/reports/compliance", headers=world.h(role)).status_code == 403
        assert c.get("/v1/reports/history", headers=world.h(role)).status_code == 403


def test_history_samples_give_the_figures_between_them(world: World) -> None:
    p = world.p
    a = _facts(p)
    at = {"t": 4600.0}
    p.clock = lambda: at["t"]
    assert record_history(p, 4600.0)
    assert not record_history(p, 4610.0)           # a minute has not passed
    at["t"] = 5600.0
    assert record_history(p, 5600.0)
    h = history(p, SYSTEM, since=0, until=6000)
    first, second = h["points"]
    assert first["at"] == 4600.0 and first["green_share"] is None
    # between 4600 and 5600 only job_2 ran (sh-city: 10% green, no hub work)
    assert second["green_share"] == pytest.approx(0.1) and second["hub_pue"] is None
    assert second["pf16h_per_hour"] == pytest.approx(a["H100"].fp16_tflops / 1000, abs=1e-6)
    assert second["sites"]["sh-city"] == {"carbon_g_per_kwh": 584.9, "price_per_pf16h": 14.0}
    assert second["queue"] == {"pending": 0, "running": 1}
    assert second["infrastructures_up"] == 2
    # the history keeps history_days: a sample a day later prunes both
    p.settings = dataclasses.replace(p.settings, history_days=0.5)
    at["t"] = 5600.0 + 86400
    assert record_history(p, 5600.0 + 86400)
    assert [pt["at"] for pt in history(p, SYSTEM, since=0, until=10**6)["points"]] == [5600.0 + 86400]


def test_the_loop_records_a_sample_and_the_range_thins_to_the_limit(world: World) -> None:
    world.cycle()
    with world.p.read() as uow:
        assert uow.history.last_at() == NOW
    for i in range(1, 10):
        record_history(world.p, NOW + 60 * i)
    world.p.clock = lambda: NOW + 1000
    pts = world.client.get("/v1/reports/history", params={"since": 0, "until": NOW + 1000, "limit": 4},
                           headers=world.h("operator")).json()["points"]
    assert [p["at"] for p in pts] == [NOW, NOW + 180, NOW + 360, NOW + 540]


def test_the_cli_prints_each_figure_beside_its_target(world: World, tmp_path: Path) -> None:
    env = {"SUANLI_URL": "http://127.0.0.1:9", "SUANLI_TOKEN": "x", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "suanli.cli.main", "report", "compliance", "--since", "yesterday"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 2 and "'yesterday' is not a time" in r.stderr and "Traceback" not in r.stderr
    from suanli.cli.commands.report import when

    assert when("2026-01-01") == 1767225600.0 and when("1767225600") == 1767225600.0
