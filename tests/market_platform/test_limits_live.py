"""Quotas and budgets where they are declared, on the platform (SQLite and PostgreSQL): a tenant's
PF16-hour budget spent by hourly records preempts its running preemptible work (the reason in the
job, the audit log and explain) while its other work runs on; a queue's quota and money budget hold
the queue's jobs, and explain names the queue and the numbers.

nx-hub is 8 x A100 (0.312 PF16-h per accelerator-hour, train on-demand list price 28 per PF16-h)."""

from __future__ import annotations

from typing import Any

from suanli.services.billing import bill_ended
from tests.api.helpers import World
from tests.market_platform.helpers import Clock, beat


def _submit(w: World, **spec: Any) -> str:
    body = {"command": ["true"], "gpus": 1, "allowed_models": ["A100"], "duration_s": 1200, **spec}
    r = w.client.post("/v1/jobs", json=body, headers=w.h("tenant"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _job(w: World, job: str) -> dict[str, Any]:
    return w.client.get(f"/v1/jobs/{job}", headers=w.h("operator")).json()  # type: ignore[no-any-return]


def _nx_hub(w: World, job: str) -> dict[str, Any]:
    pools = w.client.get(f"/v1/jobs/{job}/explain", headers=w.h("tenant")).json()["pools"]
    return next(x for x in pools if x["site"] == "nx-hub")


def test_a_spent_pf16h_budget_preempts_running_preemptible_work_only(mw: tuple[World, Clock]) -> None:
    w, clock = mw
    r = w.client.patch("/v1/tenants/demo", json={"budget_pf16h": 0.5, "budget_per": "month"}, headers=w.h("operator"))
    assert r.status_code == 200, r.text
    assert (r.json()["budget_pf16h"], r.json()["budget_per"]) == (0.5, "month")
    spot, steady = _submit(w, preemptible=True), _submit(w)   # 20 min predicted: 0.104 PF16-h each, fits 0.5
    w.cycle()
    lease = w.client.post("/v1/agent/lease", json={}, headers=w.h("agent")).json()["items"]
    pls = {x["job_id"]: x["placement_id"] for x in lease}
    assert set(pls) == {spot, steady}
    for n, pl in enumerate(pls.values()):
        r = w.client.post(f"/v1/agent/placements/{pl}/status", json={"state": "running", "slots": [n]},
                          headers=w.h("agent"))
        assert r.status_code == 200, r.text
    clock.t += 3600                                  # both ran an hour: 2 x 0.312 = 0.624 PF16-h > 0.5
    beat(w, held=list(pls.values()))
    beat(w, "other_agent")
    assert bill_ended(w.p) == {"placements": 2, "lines": 2}   # one hourly record each, while they run
    w.cycle()
    why = "budget spent: tenant demo has -0.1240 PF16-h left of its budget 0.5 PF16-h per month"
    assert (_job(w, spot)["state"], _job(w, spot)["reason"]) == ("preempted", why)
    assert _job(w, steady)["state"] == "running"     # not preemptible: runs to its end
    audit = w.client.get("/v1/audit", params={"limit": 1000}, headers=w.h("operator")).json()["items"]
    (entry,) = [a for a in audit if a["action"] == "job.preempted" and a["subject"] == spot]
    assert entry["detail"]["reason"] == why
    # the agent confirms the kill: the job waits, and explain says which budget and the numbers
    beat(w, held=list(pls.values()))
    r = w.client.post(f"/v1/agent/placements/{pls[spot]}/status", json={"state": "killed"}, headers=w.h("agent"))
    assert r.status_code == 200, r.text
    w.cycle()
    assert _job(w, spot)["state"] == "pending"
    nx = _nx_hub(w, spot)
    assert nx["verdict"] == "budget"
    assert nx["reason"] == ("predicted 0.1040 PF16-h > -0.1240 PF16-h left of tenant demo "
                            "(budget 0.5 PF16-h per month)")


def test_a_queue_quota_and_a_queue_budget_hold_that_queue_and_explain_names_it(mw: tuple[World, Clock]) -> None:
    w, _ = mw
    for q in ({"name": "capped", "quota_pf16": 0.5}, {"name": "thrift", "budget": "5"}):
        r = w.client.post("/v1/tenants/demo/queues", json=q, headers=w.h("operator"))
        assert r.status_code == 201, r.text
    first, second = _submit(w, queue="capped"), _submit(w, queue="capped")    # 0.312 PFLOPS each, quota 0.5
    dear = _submit(w, queue="thrift", duration_s=3600)           # 0.312 PF16-h x 28 = 8.74 > 5
    free = _submit(w)                                             # the default queue has no limit
    w.cycle()
    states = {j: _job(w, j)["state"] for j in (first, second, dear, free)}
    assert states == {first: "placed", second: "pending", dear: "pending", free: "placed"}
    quota = _nx_hub(w, second)
    assert (quota["verdict"], quota["reason"]) == ("quota", "queue demo/capped holds 0.312 PFLOPS, +0.312 here > "
                                                            "quota 0.5")
    budget = _nx_hub(w, dear)
    assert (budget["verdict"], budget["reason"]) == ("budget", "predicted cost 8.74 > budget left 5.00 of queue "
                                                               "demo/thrift (budget 5)")
