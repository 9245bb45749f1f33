"""The platform's billing path is safe: a process killed between pricing and posting leaves no
half-written invoice and a re-run bills every record once; billers running at once lose nothing
and bill nothing twice; the ledger sums to zero throughout."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from suanli.services.billing import bill_ended
from tests.api.helpers import World
from tests.market_platform.helpers import Clock, market_world, run_job

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ended(store_url: str) -> Iterator[tuple[World, Clock, str]]:
    """Three jobs ended on nx-hub, none billed yet."""
    w, clock = market_world(store_url)
    w.p.cache.market_step_at = float("inf")       # the cycles' own market step stays out of the way
    for hours in (1.0, 0.5, 2.0):
        run_job(w, clock, hours=hours)
    yield w, clock, store_url
    w.p.db.dispose()


def _state(w: World) -> tuple[int, int, Decimal]:
    with w.p.uow() as uow:
        ledger = uow.ledger
        lines = ledger.invoice_lines()
        total = sum(ledger.balances().values(), Decimal(0))
        txs = ledger.transactions()
    return len(lines), len(txs), total


def test_killed_between_pricing_and_posting_leaves_nothing_and_a_rerun_bills_once(
        ended: tuple[World, Clock, str]) -> None:
    w, clock, url = ended
    out = subprocess.run([sys.executable, "-m", "tests.market_platform.crash_worker", url, str(clock.t)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == -9, out.stderr
    assert "priced 4" in out.stdout                         # hourly records: 1 h, 0.5 h and 2 x 1 h
    assert _state(w) == (0, 0, Decimal(0))                  # nothing of the killed run is stored
    assert bill_ended(w.p, now=clock.t) == {"placements": 3, "lines": 4}
    assert bill_ended(w.p, now=clock.t) == {"placements": 0, "lines": 0}
    lines, txs, total = _state(w)
    assert (lines, txs, total) == (4, 1, Decimal(0))


def test_billers_at_once_bill_every_placement_once(ended: tuple[World, Clock, str]) -> None:
    """Four billers start together at a barrier; every one must succeed (no error is ignored) and,
    with no billing run afterwards, every placement is billed exactly once between them."""
    w, clock, _ = ended
    n = 4
    start = threading.Barrier(n)
    errors: list[BaseException] = []
    results: list[dict] = []

    def bill() -> None:
        try:
            start.wait(timeout=10)
            results.append(bill_ended(w.p, now=clock.t))
        except BaseException as exc:  # noqa: BLE001  (collected, then the test fails on it)
            errors.append(exc)

    threads = [threading.Thread(target=bill) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(r["placements"] for r in results) == [0, 0, 0, 3]   # one biller billed all three
    lines, _, total = _state(w)
    assert lines == 4 and total == 0                         # hourly records: 1 h, 0.5 h and 2 x 1 h
    with w.p.uow() as uow:
        metered = sum(Decimal(str(pl["pf16h"])) for pl in uow.jobs.placements(site="nx-hub"))
        billed = sum((x.pf16h for x in uow.ledger.invoice_lines()), Decimal(0))
    assert billed == metered                                 # nothing lost, nothing twice
