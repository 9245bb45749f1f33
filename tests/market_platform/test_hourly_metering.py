"""Running work is metered every period, and a SIGKILL of the server does not bill a period twice
or lose one (SQLite and PostgreSQL).

A real ``suanli serve`` with an 8 s metering period (``SUANLI_METER_S``: the "hour" of this test)
and a real agent run a job of 19 s: 3 periods ([0, 8), [8, 16), [16, end)). The server is SIGKILLed once
the first period is billed while the job still runs, then restarted; the job runs on under its agent.
At the end the job has exactly 3 records and 3 invoice lines, one per period, each billed once, and
their PF16-hours add up to what the placement metered."""

from __future__ import annotations

import signal
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import httpx
import pytest

from suanli.domain.errors import InvalidInput
from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, Settings, bootstrap
from tests.conftest import Procs, free_port, wait_for, wait_healthy

PERIOD = 8.0
RUN_S = 19          # 3 periods while the job's measured run (start and exit as reported) is in (16, 24] s


def _q(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


@pytest.mark.slow
def test_a_running_job_is_billed_each_period_once_across_a_sigkill(procs: Procs, tmp_path: Path,
                                                                 store_url: str) -> None:
    p = bootstrap(store_url)
    federation.seed_from_file(p, "demo-local")
    _, tenant = tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")
    _, agent = tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SUANLI_CYCLE_S": "0.1", "SUANLI_LEASE_S": "60", "SUANLI_MARKET_S": "0.2",
           "SUANLI_METER_S": str(PERIOD)}
    serve = ["serve", "--port", str(port), "--database-url", store_url]
    server = procs.start(serve, "serve", env)
    wait_healthy(url)
    procs.start(["agent", "--site", "nx-hub", "--url", url, "--token", agent, "--interval", "0.05",
                 "--work-dir", str(tmp_path / "nx-hub")], "agent")
    headers = {"Authorization": f"Bearer {tenant}"}
    r = httpx.post(url + "/v1/jobs", json={"command": ["sleep", str(RUN_S)], "gpus": 1}, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    job = r.json()["id"]

    def lines() -> list:
        with p.uow() as uow:
            return [x for x in uow.ledger.invoice_lines("demo") if x.job == job]

    def job_state() -> str:
        return str(httpx.get(f"{url}/v1/jobs/{job}", headers=headers, timeout=5).json()["state"])

    wait_for(lambda: lines(), timeout=30, interval=0.05, what="the first period's invoice line")
    assert job_state() == "running", "the first period must be billed while the job runs"
    assert [x.meter_id.split(":")[1] for x in lines()] == ["h0"]
    procs.kill(server, signal.SIGKILL)
    server = procs.start(serve, "serve", env)
    wait_healthy(url)

    def billed_to_end() -> bool:
        with p.uow() as uow:
            pls = uow.jobs.placements(job_id=job)
            return len(pls) == 1 and bool(uow.ledger.billed_placements([pls[0]["id"]]))

    wait_for(billed_to_end, timeout=60, what="the job to end and be billed to its end")
    assert job_state() == "succeeded"
    with p.uow() as uow:
        (pl,) = uow.jobs.placements(job_id=job)
        balances = uow.ledger.balances()
    got = lines()
    run = pl["ended_at"] - pl["started_at"]
    assert 2 * PERIOD < run <= 3 * PERIOD, (f"the job's measured run ({run:.2f} s) is not 3 periods",
                                            procs.log("agent")[-3000:])
    assert [x.meter_id for x in got] == [f"{pl['id']}:h{n}:on-demand" for n in range(3)]
    assert [x.start for x in got] == [pl["started_at"] + n * PERIOD for n in range(3)]
    # PF16-h per period: differences of the rounded cumulative A100 PF16-h at the bounds (0.312 per hour)
    bounds = [0.0, PERIOD, 2 * PERIOD, run]
    cum = [_q(312.0 * 1 * (s / 3600.0) / 1000.0) for s in bounds]
    assert [x.pf16h for x in got] == [b - a for a, b in zip(cum, cum[1:], strict=False)]
    assert sum((x.pf16h for x in got), Decimal(0)) == _q(pl["pf16h"])
    # billed once: the tenant paid exactly the lines' dues, and the ledger balances
    assert balances["tenant:demo"] == -sum((x.due for x in got), Decimal(0))
    assert sum(balances.values(), Decimal(0)) == 0
    time.sleep(1.0)                                     # more billing runs bill nothing more
    assert len(lines()) == 3
    p.db.dispose()


def test_the_metering_period_is_a_setting_and_a_bad_one_is_refused_by_name() -> None:
    assert Settings.from_env({}).meter_s == 3600.0
    assert Settings.from_env({"SUANLI_METER_S": "2.5"}).meter_s == 2.5
    for bad in ("0", "-5", "hourly", "inf", "nan"):
        with pytest.raises(InvalidInput) as err:
            Settings.from_env({"SUANLI_METER_S": bad})
        assert err.value.field == "SUANLI_METER_S" and "> 0" in str(err.value), bad
