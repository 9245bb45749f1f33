"""A process killed (SIGKILL) between pricing and posting leaves no half-written batch; a re-run
bills every record exactly once and the ledger sums to zero."""

import signal
import subprocess
import sys
from pathlib import Path

from suanli.cli.bench.sqlite_ledger import SqliteLedger
from suanli.market.billing import bill
from suanli.market.ledger import balances
from tests.market_platform.ledger_fixtures import BOOK, records

WORKER = Path(__file__).parent / "bill_batch_crash_worker.py"


def run(db, n, size, crash_at):
    return subprocess.run([sys.executable, str(WORKER), str(db), str(n), str(size), str(crash_at)],
                          capture_output=True, text=True, timeout=120)


def test_kill_between_pricing_and_posting_then_rerun(tmp_path):
    db = tmp_path / "ledger.db"
    killed = run(db, 1000, 100, crash_at=3)
    assert killed.returncode == -signal.SIGKILL and "done" not in killed.stdout
    store = SqliteLedger(db)
    # batches 0..2 committed whole, batch 3 priced but never posted, nothing after it
    assert store.counts()["lines"] == 300 and store.counts()["transactions"] == 3
    assert store.counts()["sum_cents"] == 0
    assert {x.meter_id for x in store.invoice_lines()} == {f"m{i}" for i in range(300)}
    store.close()

    rerun = run(db, 1000, 100, crash_at=-1)
    assert rerun.returncode == 0, rerun.stderr
    store = SqliteLedger(db)
    lines = store.invoice_lines()
    assert len(lines) == 1000 == len({x.meter_id for x in lines})
    assert store.counts()["sum_cents"] == 0
    assert store.balances() == balances([bill(records(1000), BOOK, batch_id="x", at=0.0).transaction])
