"""``/metrics``: the platform figures read from a seeded store (every value below is worked out by
hand from the rows the test writes), the request latency labelled by route template only, and a
real Prometheus server (Debian's ``prometheus``) scraping ``suanli serve`` and answering a query."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, Platform, bootstrap
from suanli.store.db import sqlite_url
from tests.api.helpers import make_world
from tests.conftest import Procs, free_port, needs, wait_for, wait_healthy

NOW = 10_000.0


def _job(uow: Any, job_id: str, state: str, submit: float) -> None:
    uow.jobs.add(id=job_id, tenant="demo", queue="default", state=state, job_class="train", gpus=1, priority=0,
                 spec=json.dumps({"command": ["true"], "gpus": 1}), submit_time=submit, updated_at=submit)


def _placement(uow: Any, pid: str, job_id: str, *, started: float | None, ended: float | None, count: int,
               state: str, **figures: Any) -> None:
    uow.jobs.add_placement(id=pid, job_id=job_id, attempt=1, site="nx-hub", pool_id=1, pool_name="a100",
                           accelerator="A100", count=count, state=state, created_at=started or NOW,
                           started_at=started, ended_at=ended, **figures)


def seed(p: Platform, *, running: bool = True) -> None:
    """Job a: two ended placements, first start 1000 for a submission at 990 (waited 10 s).
    Job b: running 2 A100s since NOW - 3600, submitted at 6000 (waited NOW - 3600 - 6000 = 400 s).
    Job c: pending. Audit: one preemption (c by a) and one migration (b by b)."""
    with p.uow() as uow:
        _job(uow, "job_a", "succeeded", 990.0)
        _placement(uow, "pl_a1", "job_a", started=1000.0, ended=1100.0, count=1, state="succeeded",
                   pf16h=1.5, energy_kwh=2.0, carbon_kg=0.5, cost=3.25)
        _placement(uow, "pl_a2", "job_a", started=2000.0, ended=2100.0, count=1, state="succeeded",
                   pf16h=0.5, energy_kwh=1.0, carbon_kg=0.25, cost=1.0)
        _job(uow, "job_c", "pending", 9990.0)
        if running:
            _job(uow, "job_b", "running", 6000.0)
            _placement(uow, "pl_b1", "job_b", started=NOW - 3600, ended=None, count=2, state="running")
        uow.audit.record(NOW, "scheduler", "operator", "job.preempted", "job_c", by="job_a", lost_pf16h=0.1)
        uow.audit.record(NOW, "scheduler", "operator", "job.preempted", "job_b", by="job_b", lost_pf16h=0.0)


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_metrics_are_the_platforms_figures_worked_out_by_hand(store_url: str) -> None:
    world = make_world(store_url)
    world.p.clock = lambda: NOW
    seed(world.p)
    r = world.client.get("/metrics", headers=world.h("operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = scrape(r.text)

    assert m[("suanli_jobs", (("state", "pending"),))] == 1
    assert m[("suanli_jobs", (("state", "running"),))] == 1
    assert m[("suanli_jobs", (("state", "succeeded"),))] == 1
    assert m[("suanli_placements_total", ())] == 3
    assert m[("suanli_preemptions_total", ())] == 1 and m[("suanli_migrations_total", ())] == 1
    pool = (("pool", "a100"), ("site", "nx-hub"))
    assert m[("suanli_pool_accelerators", pool)] == 8                  # per_node 8 x 1 node (demo-local.yaml)
    assert m[("suanli_pool_accelerators_held", pool)] == 2
    assert m[("suanli_pool_utilization", pool)] == pytest.approx(2 / 8)
    assert m[("suanli_pool_utilization", (("pool", "h100"), ("site", "sh-city")))] == 0
    # waits 10 s and 400 s
    bucket = {le: m[("suanli_queue_wait_seconds_bucket", (("le", le),))]
              for le in ("1.0", "5.0", "15.0", "60.0", "300.0", "900.0", "3600.0", "+Inf")}
    assert bucket == {"1.0": 0, "5.0": 0, "15.0": 1, "60.0": 1, "300.0": 1, "900.0": 2, "3600.0": 2, "+Inf": 2}
    assert m[("suanli_queue_wait_seconds_sum", ())] == 410
    assert m[("suanli_queue_wait_seconds_count", ())] == 2
    # ended placements as stored + the running one: 2 A100s for one hour at the catalog's FP16 rate
    a100 = world.p.catalog.get("A100").fp16_tflops
    assert m[("suanli_pf16_hours_total", ())] == pytest.approx(1.5 + 0.5 + a100 * 2 / 1000)
    # the figures agree with `suanli usage` (the one metering path), for running work too
    total = world.client.get("/v1/usage", params={"by": "site"}, headers=world.h("operator")).json()["total"]
    assert m[("suanli_pf16_hours_total", ())] == pytest.approx(total["pf16h"])
    assert m[("suanli_carbon_kg_total", ())] == pytest.approx(total["carbon_kg"])
    assert m[("suanli_energy_kwh_total", ())] == pytest.approx(total["energy_kwh"])
    assert m[("suanli_cost_total", ())] == pytest.approx(float(total["cost"]))
    assert m[("suanli_carbon_kg_total", ())] > 0.75            # the running hour adds carbon to the 0.75 stored


def test_request_latency_is_labelled_by_route_template_never_by_raw_path(sqlite_url: str) -> None:
    world = make_world(sqlite_url)
    h = world.h("operator")
    for i in range(3):
        assert world.client.get(f"/v1/jobs/job_nope{i}", headers=h).status_code == 404
    world.client.get("/v1/../../etc/passwd%00", headers=h)
    world.client.get("/nowhere/" + "x" * 200, headers=h)
    m = scrape(world.client.get("/metrics", headers=h).text)
    routes = {dict(k[1]).get("route") for k in m if k[0] == "suanli_http_request_duration_seconds_count"}
    assert m[("suanli_http_request_duration_seconds_count",
              (("method", "GET"), ("route", "/v1/jobs/{job_id}"), ("status", "404")))] == 3
    assert not any("nope" in r or "passwd" in r or "xxx" in r for r in routes if r), routes
    assert "unmatched" in routes


def test_a_real_prometheus_scrapes_serve_and_answers_a_query(tmp_path: Path, procs: Procs) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        needs("no prometheus binary", "apt-get install prometheus (.ci/services.sh does)")
    p = bootstrap(sqlite_url(tmp_path / "data"))
    federation.seed_from_file(p, "demo-local")
    seed(p, running=False)                 # no agents here: only work that has ended
    token = tmp_path / "operator.token"
    token.write_text(tokens.create_token(p, SYSTEM, role="operator")[1])
    p.db.dispose()
    port, prom_port = free_port(), free_port()
    procs.start(["serve", "--port", str(port), "--data-dir", str(tmp_path / "data")], "serve")
    wait_healthy(f"http://127.0.0.1:{port}")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""\
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: suanli
    authorization: {{credentials_file: {token}}}
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
""")
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        def query(q: str) -> list[dict[str, Any]]:
            try:
                r = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": q}, timeout=5)
            except httpx.HTTPError:
                return []
            return r.json()["data"]["result"] if r.status_code == 200 else []  # type: ignore[no-any-return]

        up = wait_for(lambda: query('up{job="suanli"} == 1'), timeout=60, what="prometheus to scrape serve")
        assert up and up[0]["metric"]["instance"] == f"127.0.0.1:{port}"
        assert float(query("suanli_placements_total")[0]["value"][1]) == 2
        assert float(query("suanli_preemptions_total")[0]["value"][1]) == 1
        assert float(query('suanli_jobs{state="pending"}')[0]["value"][1]) == 1
        assert float(query("suanli_pf16_hours_total")[0]["value"][1]) == pytest.approx(2.0)
        # the scrapes themselves show up as requests to the /metrics route
        seen = wait_for(lambda: query('sum(suanli_http_request_duration_seconds_count{route="/metrics"}) >= 2'),
                        timeout=30, what="the scrape requests in the latency histogram")
        assert float(seen[0]["value"][1]) >= 2
        # the leader's cycles are timed
        cycles = wait_for(lambda: query("suanli_scheduler_cycle_seconds_count > 0"), timeout=30,
                          what="a timed scheduling cycle")
        assert float(cycles[0]["value"][1]) > 0
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        log.close()
