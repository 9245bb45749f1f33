"""`bill_batch` over the bench's SQLite ledger store: round trips, idempotent re-runs, concurrent posting."""

import subprocess
import sys
import threading
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.cli.bench.sqlite_ledger import SqliteLedger
from suanli.market.billing import bill, invoice
from suanli.market.catalog import Term
from suanli.market.ledger import balances, transfer
from suanli.services.billing import bill_all, bill_batch
from tests.market_platform.ledger_fixtures import BOOK, records

WORKER = Path(__file__).parent / "bill_batch_crash_worker.py"


def test_round_trip_of_lines_transactions_and_balances(tmp_path):
    store = SqliteLedger(tmp_path / "l.db")
    recs = records(300)
    result = bill_batch(store, recs, BOOK, batch_id="b0", at=1.0)
    assert store.invoice_lines() == sorted(result.lines, key=lambda x: (x.start, x.meter_id))
    assert store.transactions() == [result.transaction]
    assert store.balances() == balances([result.transaction])
    inv = invoice(store.invoice_lines("lab", 0.0, 100.0), "lab", 0.0, 100.0)
    assert inv == invoice(result.lines, "lab", 0.0, 100.0)
    with store.writing():
        store.post(transfer("dep", 2.0, "deposit", "external:bank", "tenant:lab", D("100.00")))
    assert store.counts()["sum_cents"] == 0 and store.balances()["external:bank"] == D("-100.00")


def test_rerun_bills_nothing_twice(tmp_path):
    store = SqliteLedger(tmp_path / "l.db")
    assert bill_all(store, records(250), BOOK, run_id="a", at=0.0, batch_size=64) == 250
    assert bill_all(store, records(300), BOOK, run_id="b", at=0.0, batch_size=64) == 50
    assert store.counts()["lines"] == 300 and store.counts()["sum_cents"] == 0
    assert store.balances() == balances([bill(records(300), BOOK, batch_id="x", at=0.0).transaction])


def test_a_failed_batch_writes_nothing(tmp_path):
    store = SqliteLedger(tmp_path / "l.db")

    def boom(_):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        bill_batch(store, records(10), BOOK, batch_id="b0", at=0.0, after_pricing=boom)
    assert store.counts() == {"transactions": 0, "postings": 0, "lines": 0, "sum_cents": 0}
    with pytest.raises(RuntimeError, match="outside"):
        store.record_billing(bill(records(1), BOOK, batch_id="b", at=0.0))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 150), st.integers(1, 60)), min_size=2, max_size=4))
def test_concurrent_posting_loses_nothing_and_bills_once(tmp_path_factory, slices):
    db = tmp_path_factory.mktemp("c") / "l.db"
    SqliteLedger(db).close()
    errors = []

    def worker(k, start, n):
        try:
            store = SqliteLedger(db)
            bill_all(store, records(n, start), BOOK, run_id=f"w{k}", at=0.0, batch_size=7)
            store.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k, s, n)) for k, (s, n) in enumerate(slices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    wanted = {f"m{i}" for s, n in slices for i in range(s, s + n)}
    store = SqliteLedger(db)
    assert {x.meter_id for x in store.invoice_lines()} == wanted and store.counts()["lines"] == len(wanted)
    assert store.counts()["sum_cents"] == 0
    everything = [r for r in records(220) if r.id in wanted]
    tx = bill(everything, BOOK, batch_id="x", at=0.0).transaction
    assert store.balances() == (balances([tx]) if tx is not None else {})


def test_two_processes_posting_the_same_records(tmp_path):
    db = tmp_path / "l.db"
    SqliteLedger(db).close()
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(db), "2000", "50", "-1"]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = SqliteLedger(db)
    assert store.counts()["lines"] == 2000 and store.counts()["sum_cents"] == 0
    assert store.balances() == balances([bill(records(2000), BOOK, batch_id="x", at=0.0).transaction])


def test_names_added_by_a_rolled_back_batch_are_not_remembered(tmp_path):
    store = SqliteLedger(tmp_path / "l.db")
    bill_batch(store, records(3), BOOK, batch_id="b0", at=0.0)
    # a batch with a new tenant and one already-billed record: the optimistic insert rolls back
    # (taking the new name with it), then the batch is re-priced and stored without m0
    fresh = [replace(r, tenant="newcomer") for r in records(10, start=3, prefix="n") if r.term is Term.ON_DEMAND]
    result = bill_batch(store, [records(1)[0], *fresh], BOOK, batch_id="b1", at=0.0)
    assert [x.meter_id for x in result.lines] == [r.id for r in fresh]
    assert {x.tenant for x in store.invoice_lines("newcomer")} == {"newcomer"}
    assert len(store.invoice_lines("newcomer")) == len(fresh) > 0
    assert store.counts()["sum_cents"] == 0
