"""End to end with real processes: ``suanli up`` (API, scheduler loop with its market step, three
local sites with their agents) driven by ``suanli market prices|bid|reserve|orders``, ``suanli
submit`` and ``suanli invoices``."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Cli, Procs, free_port, wait_for, wait_healthy

pytestmark = pytest.mark.slow



@pytest.fixture
def up(procs: Procs, tmp_path: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SUANLI_LEASE_S": "3", "SUANLI_CYCLE_S": "0.2", "SUANLI_MARKET_S": "0.5"}
    procs.start(["up", "--port", str(port), "--data-dir", str(data)], "up", env)
    wait_healthy(url)
    cli = Cli(url, (data / "tenant.token").read_text().strip(), tmp_path)
    wait_for(lambda: all(s["health"] == "up" for s in cli.json("sites")["items"]), timeout=20, what="agents up")
    yield {"url": url, "data": data, "cli": cli}


def test_market_cli_against_a_running_platform(up: dict[str, Any]) -> None:
    cli: Cli = up["cli"]
    text = cli.run("market", "prices").stdout
    assert "train" in text and "nx-hub" in text and "mid" in text
    prices = cli.json("market", "prices")
    assert {x["product"]: x["price"] for x in prices["products"]}["train/mid/on-demand"] == "28.00"

    bid = cli.json("market", "bid", "--grade", "mid", "--region", "ningxia", "--qty", "1", "--limit", "12")
    assert bid["status"] == "open" and bid["qty"] == "1.000000"
    bad = cli.run("market", "bid", "--grade", "gold", "--region", "ningxia", "--qty", "1", "--limit", "12",
                  check=False)
    assert bad.returncode != 0 and "grade" in bad.stderr
    trades = wait_for(lambda: cli.json("market", "orders")["trades"], timeout=20, what="a clearing round")
    assert trades[0]["seller"] == "provider:west-dc" and Decimal(trades[0]["qty"]) == 1

    res = cli.json("market", "reserve", "--site", "sh-city", "--pool", "h100", "--qty", "0.5", "--hours", "2")
    assert res["grade"] == "top" and res["price"] == "15.00" and res["commitment"] == "7.50"
    orders = cli.json("market", "orders")
    assert [r["id"] for r in orders["reservations"]] == [res["id"]]
    assert "ORDER" in cli.run("market", "orders").stdout

    job = cli.json("submit", "--preemptible", "--region", "ningxia", "--", "python3", "-c", "print('spot')")
    wait_for(lambda: cli.json("job", "show", job["id"])["state"] == "succeeded", timeout=30, what="the job")
    # a tenant's invoice is there (empty) before anything is billed: wait for the job's line
    inv = wait_for(lambda: [i for i in cli.json("invoices")["items"] if i["lines"]], timeout=20,
                   what="the job's invoice line")
    (line,) = inv[0]["lines"]
    assert line["term"] == "spot" and line["contract"] == trades[0]["id"] and line["job"] == job["id"]
    assert "spot" in cli.run("invoices").stdout
    op = (up["data"] / "operator.token").read_text().strip()
    bal = httpx.get(up["url"] + "/v1/ledger/balances", headers={"Authorization": f"Bearer {op}"}).json()
    assert Decimal(bal["sum"]) == 0
    operator = Cli(up["url"], op, cli.cwd)
    assert operator.json("market", "balances") == bal       # a sub-second job may price to 0.00: no postings
    assert "always 0" in operator.run("market", "balances").stdout
    assert operator.json("payouts")["items"][0]["account"] == line["payee"] == "provider:west-dc"
    assert "nx-hub" in operator.run("payouts").stdout
    assert cli.run("market", "balances", check=False).returncode != 0          # tenants do not see the ledger
    # one price: usage's cost of the job is what its invoice charged
    assert Decimal(cli.json("usage")["total"]["cost"]) == Decimal(inv[0]["charges"]) == Decimal(line["amount"])

    # the operator changes a list price; bad input exits 2 with the field named; tenants may not
    out = operator.run("market", "set-price", "infer/top/on-demand=23.50").stdout
    assert "infer/top/on-demand" in out and "23.50" in out
    assert {x["product"]: x["price"] for x in cli.json("market", "prices")["products"]}["infer/top/on-demand"] \
        == "23.50"
    for bad, says in ((["infer/top=23"], "CLASS/GRADE/TERM=PRICE"), (["infer/top/on-demand=23.123456"], "price"),
                      (["infer/gold/on-demand=23"], "gold"), ([], "nothing to change")):
        r = operator.run("market", "set-price", *bad, check=False)
        assert r.returncode == 2 and says in r.stderr, (bad, r.stderr)
    assert cli.run("market", "set-price", "infer/top/on-demand=1", check=False).returncode == 2
